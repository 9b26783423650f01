/**
 * A read-write mount's life (issue 3 sections 2 to 4): every way it can end (umount,
 * fusermount -u, SIGTERM, SIGINT, a foreground SIGINT) leaves every byte written before
 * it on the disc with the integrity descriptor closed; `.pktinfo/flush` settles the
 * volume while mounted; reading changes nothing on the disc (noatime); a volume that
 * can't be written is mounted read-only with the reason on stderr; a volume left open
 * mounts read-only unless `-o force`.
 */
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, walkHost } from '../helpers/tree';
import { makeImage } from '../udf/write-helpers';
import { removeDir, run, tempDir, waitFor } from '../fuse/helpers';
import { PKTFS, assertBuilt, cleanEnv, isMounted, oneLine, pktfs, servingPid, waitGone } from './cli-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs or udfinfo missing', () => undefined);

const md5 = (f: string): string => createHash('md5').update(fs.readFileSync(f)).digest('hex');

describeIf('a read-write mount from start to end', () => {
  let tmp: string;
  let n = 0;
  beforeAll(() => {
    assertBuilt();
    tmp = tempDir('rw-life');
  });
  afterAll(async () => {
    if (tmp) await removeDir(tmp);
  });

  const fresh = (): { img: string; mnt: string } => {
    n++;
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 16384 }, tmp, `life${n}`);
    const mnt = path.join(tmp, `mnt${n}`);
    fs.mkdirSync(mnt);
    return { img, mnt };
  };
  const data = pseudoRandom('life', 3 * 1024 * 1024 + 5);
  const write = (mnt: string): void => {
    fs.mkdirSync(path.join(mnt, 'dir'));
    fs.writeFileSync(path.join(mnt, 'dir', 'data.bin'), data);
    fs.writeFileSync(path.join(mnt, 'small'), 'small\n');
  };
  const expectOnDisc = async (img: string): Promise<void> => {
    const u = udfinfo(img);
    expect(u.fields.integrity).toBe('closed');
    expect([u.numFiles, u.numDirs]).toEqual([2, 2]);
    const mnt = path.join(tmp, `check${n}`);
    fs.mkdirSync(mnt);
    expect((await pktfs(['-o', 'ro', img, mnt])).code).toBe(0);
    const pid = servingPid(mnt)!;
    try {
      expect(fs.readFileSync(path.join(mnt, 'dir', 'data.bin')).equals(data)).toBe(true);
      expect(fs.readFileSync(path.join(mnt, 'small'), 'utf8')).toBe('small\n');
    } finally {
      await run('umount', [mnt]);
      await waitGone(pid);
    }
  };

  const ENDS: [string, (mnt: string) => Promise<unknown>][] = [
    ['umount', (mnt) => run('umount', [mnt])],
    ['fusermount -u', (mnt) => run('fusermount', ['-u', mnt])],
    ['SIGTERM', async (mnt) => process.kill(servingPid(mnt)!, 'SIGTERM')],
    ['SIGINT', async (mnt) => process.kill(servingPid(mnt)!, 'SIGINT')],
  ];
  test.each(ENDS)('ended by %s: every byte on the disc, the volume closed', async (_how, end) => {
    const { img, mnt } = fresh();
    expect((await pktfs(['-o', 'flush=off', img, mnt])).code).toBe(0);
    const pid = servingPid(mnt)!;
    write(mnt);
    await end(mnt);
    await waitGone(pid, 30000);
    expect(isMounted(mnt)).toBe(false);
    await expectOnDisc(img);
  }, 120000);

  test('-f, ended by SIGINT, exits 0 with everything on the disc', async () => {
    const { img, mnt } = fresh();
    const child = spawn(process.execPath, [PKTFS, '-f', '-o', 'flush=off', img, mnt], { env: cleanEnv(), stdio: 'ignore' });
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(() => isMounted(mnt), 10000, 'the mount');
    write(mnt);
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    await expectOnDisc(img);
  }, 120000);

  test('.pktinfo/flush settles the volume while it stays mounted; the next change opens it again', async () => {
    const { img, mnt } = fresh();
    expect((await pktfs(['-o', 'flush=off', img, mnt])).code).toBe(0);
    const pid = servingPid(mnt)!;
    try {
      write(mnt);
      expect(udfinfo(img).fields.integrity).toBe('opened');
      fs.writeFileSync(path.join(mnt, '.pktinfo', 'flush'), '1\n');
      const u = udfinfo(img);
      expect(u.fields.integrity).toBe('closed');
      expect([u.numFiles, u.numDirs]).toEqual([2, 2]);
      fs.writeFileSync(path.join(mnt, 'third'), '3');
      expect(udfinfo(img).fields.integrity).toBe('opened');
      fs.unlinkSync(path.join(mnt, 'third'));
    } finally {
      await run('umount', [mnt]);
      await waitGone(pid);
    }
    await expectOnDisc(img);
  }, 120000);

  test('after flush= milliseconds without changes the volume is settled and closed on its own', async () => {
    const { img, mnt } = fresh();
    expect((await pktfs(['-o', 'flush=200', img, mnt])).code).toBe(0);
    const pid = servingPid(mnt)!;
    try {
      write(mnt);
      await waitFor(() => udfinfo(img).fields.integrity === 'closed', 20000, 'the idle settle');
      expect(udfinfo(img).numFiles).toBe(2);
    } finally {
      await run('umount', [mnt]);
      await waitGone(pid);
    }
  }, 120000);

  test('a name that is not valid UTF-8 is refused with EINVAL, and nothing is written', async () => {
    const { img, mnt } = fresh();
    expect((await pktfs(['-o', 'flush=off', img, mnt])).code).toBe(0);
    const pid = servingPid(mnt)!;
    const before = md5(img);
    try {
      const bad = Buffer.concat([Buffer.from(`${mnt}/`), Buffer.from([0x66, 0xff, 0xfe, 0x66])]);
      expect(() => fs.writeFileSync(bad, 'x')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => fs.mkdirSync(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(fs.readdirSync(mnt)).toEqual([]);
    } finally {
      await run('umount', [mnt]);
      await waitGone(pid);
    }
    expect(md5(img)).toBe(before);
  }, 120000);

  test('reading changes nothing on the disc (noatime)', async () => {
    const { img, mnt } = fresh();
    expect((await pktfs([img, mnt])).code).toBe(0);
    let pid = servingPid(mnt)!;
    write(mnt);
    await run('umount', [mnt]);
    await waitGone(pid);
    const before = md5(img);
    expect((await pktfs([img, mnt])).code).toBe(0);
    pid = servingPid(mnt)!;
    expect(walkHost(mnt).length).toBe(3);
    expect(fs.readFileSync(path.join(mnt, 'dir', 'data.bin')).equals(data)).toBe(true);
    const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(` ${mnt} `))!;
    expect(mi).toMatch(/\brw\b.*\bnoatime\b|\bnoatime\b.*\brw\b/);
    await run('umount', [mnt]);
    await waitGone(pid);
    expect(md5(img)).toBe(before);
  }, 120000);

  test('a volume pktfs can\'t write is mounted read-only, saying why', async () => {
    const img = path.join(tmp, 'vat.img');
    await run('mkudffs', ['--media-type=cdr', '--udfrev=2.01', img, '4096']);
    const mnt = path.join(tmp, 'mnt-vat');
    fs.mkdirSync(mnt);
    const r = await pktfs([img, mnt]);
    expect(r.code).toBe(0);
    const pid = servingPid(mnt)!;
    try {
      expect(oneLine(r)).toMatch(/^pktfs: mounted read-only: virtual \(VAT\) partition/);
      expect(() => fs.writeFileSync(path.join(mnt, 'x'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    } finally {
      await run('umount', [mnt]);
      await waitGone(pid);
    }
  }, 120000);

  test('a volume left open mounts read-only, telling to run fsck; -o force writes to it', async () => {
    const { img, mnt } = fresh();
    const child = spawn(process.execPath, [PKTFS, '-f', '-o', 'flush=off', img, mnt], { env: cleanEnv(), stdio: 'ignore' });
    await waitFor(() => isMounted(mnt), 10000, 'the mount');
    write(mnt);
    child.kill('SIGKILL'); // a crash: the volume stays marked open
    await new Promise((r) => child.on('exit', r));
    await run('fusermount', ['-uz', mnt]);
    expect(udfinfo(img).fields.integrity).toBe('opened');

    let r = await pktfs([img, mnt]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/pktfs: mounted read-only: the volume was not closed properly .*pktfs fsck.*-o force/);
    let pid = servingPid(mnt)!;
    expect(() => fs.writeFileSync(path.join(mnt, 'x'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    await run('umount', [mnt]);
    await waitGone(pid);

    r = await pktfs(['-o', 'force', img, mnt]);
    expect(r.code).toBe(0);
    pid = servingPid(mnt)!;
    fs.writeFileSync(path.join(mnt, 'x'), 'x');
    await run('umount', [mnt]);
    await waitGone(pid);
    expect(udfinfo(img).fields.integrity).toBe('opened'); // still: only fsck closes what a crash left
  }, 120000);
});
