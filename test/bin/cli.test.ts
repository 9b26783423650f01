/**
 * pktfs as a user runs it: the built dist/bin/pktfs.js on a mkudffs image filled by
 * udfclient, mounted in the background or the foreground, checked with ordinary file
 * system calls, udfinfo, and the exit statuses and one-line messages of docs/cli.md.
 */
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import path from 'path';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { udfinfo } from '../helpers/tools';
import { buildSourceTree, walkHost } from '../helpers/tree';
import { readMountinfo } from '../../src/fuse/mountinfo';
import { removeDir, run, tempDir, waitFor } from '../fuse/helpers';
import { PKTFS, VERSION, alive, assertBuilt, cleanEnv, isMounted, oneLine, pktfs, servingPid, waitGone } from './cli-helpers';

let dir: string;
let image: BuiltImage;
let counter = 0;

/** A fresh empty mountpoint. */
function newMountpoint(): string {
  const m = path.join(dir, `mnt${++counter}`);
  fs.mkdirSync(m);
  return m;
}

async function umount(mnt: string): Promise<void> {
  const r = await run('umount', [mnt]);
  if (r.code !== 0) throw new Error(`umount ${mnt}: ${r.stderr}`);
}

beforeAll(async () => {
  assertBuilt();
  dir = tempDir('cli');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  buildSourceTree(src);
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, src);
}, 120000);

afterAll(async () => {
  if (dir) await removeDir(dir);
});

describe('help and version', () => {
  test('--help lists every option with its meaning and the exit statuses', async () => {
    const r = await pktfs(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: pktfs \[options\] <source> <mountpoint>/);
    for (const o of ['-f, --foreground', 'ro ', 'rw ', 'uid=N', 'gid=N', 'umask=N', 'allow_other', 'bs=N', 'session=N', 'debug', 'noatime']) {
      expect(r.stdout).toContain(o);
    }
    expect(r.stdout).toMatch(/32 +mount failure/);
    expect(r.stdout).not.toContain('serve-child');
  });

  test('--version prints the package version', async () => {
    const r = await pktfs(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });
});

describe('usage errors exit 1 with one line', () => {
  test.each([
    [['-o', 'foo'], /^pktfs: unknown mount option "foo"/],
    [['-o', 'relatime'], /^pktfs: -o relatime is not supported: pktfs never records access times/],
    [['-o', 'atime'], /^pktfs: -o atime is not supported/],
    [['-o', 'bs=3000'], /^pktfs: -o bs=3000: must be 512, 1024, 2048 or 4096/],
    [['-o', 'uid=me'], /^pktfs: -o uid=me: must be a whole number/],
    [['-o', 'umask=99'], /^pktfs: -o umask=99: must be an octal number/],
    [['-o', 'ro=1'], /^pktfs: -o ro takes no value/],
  ])('%j', async (args, message) => {
    const m = newMountpoint();
    const r = await pktfs([...args, image.path, m]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(message);
    expect(isMounted(m)).toBe(false);
  });

  test('a missing argument', async () => {
    const r = await pktfs([image.path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("missing required argument 'mountpoint'");
  });
});

describe('mount failures exit 32 with a one-line reason', () => {
  test('no such source', async () => {
    const r = await pktfs([path.join(dir, 'nope.img'), newMountpoint()]);
    expect(r.code).toBe(32);
    expect(oneLine(r)).toBe(`pktfs: ${path.join(dir, 'nope.img')}: no such file or device`);
  });

  test('a source that is not UDF', async () => {
    const zero = path.join(dir, 'zero.img');
    fs.writeFileSync(zero, Buffer.alloc(2 << 20));
    const r = await pktfs([zero, newMountpoint()]);
    expect(r.code).toBe(32);
    expect(oneLine(r)).toMatch(new RegExp(`^pktfs: ${zero}: .*not a UDF volume`));
  });

  test('a session the disc does not have (session= reaches the UDF layer)', async () => {
    const r = await pktfs(['-o', 'session=5', image.path, newMountpoint()]);
    expect(r.code).toBe(32);
    expect(oneLine(r)).toMatch(new RegExp(`^pktfs: ${image.path}: session 5 requested, 1 found`));
  });

  test('mountpoint missing, a file, not empty', async () => {
    const missing = path.join(dir, 'missing');
    let r = await pktfs([image.path, missing]);
    expect(r.code).toBe(32);
    expect(oneLine(r)).toBe(`pktfs: ${missing}: mountpoint does not exist`);

    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    r = await pktfs([image.path, file]);
    expect(r.code).toBe(32);
    expect(oneLine(r)).toBe(`pktfs: ${file}: mountpoint is not a directory`);

    const full = newMountpoint();
    fs.writeFileSync(path.join(full, 'x'), 'x');
    r = await pktfs([image.path, full]);
    expect(r.code).toBe(32);
    expect(oneLine(r)).toMatch(/mountpoint is not empty/);
  });

  test('mountpoint busy', async () => {
    const m = newMountpoint();
    expect((await pktfs([image.path, m])).code).toBe(0);
    try {
      const r = await pktfs([image.path, m]);
      expect(r.code).toBe(32);
      expect(oneLine(r)).toMatch(new RegExp(`^pktfs: ${m}: mountpoint is busy \\(already mounted: fuse.pktfs ${image.path}\\)`));
    } finally {
      await umount(m);
    }
  });
});

describe('a background mount (-o ro)', () => {
  let mnt: string;
  let pid: number;

  beforeAll(async () => {
    mnt = newMountpoint();
    const r = await pktfs(['-o', 'ro', image.path, mnt]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    pid = servingPid(mnt)!;
  });

  afterAll(async () => {
    if (isMounted(mnt)) await umount(mnt);
  });

  test('is live when pktfs returns, in a detached process', () => {
    expect(isMounted(mnt)).toBe(true);
    expect(pid).toBeGreaterThan(0);
    // Its own session: a terminal hang-up or the shell's job control won't reach it.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    expect(Number(stat[3])).toBe(pid); // session id (field 6 of stat(5))
  });

  test('shows every directory, file and byte of the tree udfclient wrote', () => {
    expect(walkHost(mnt)).toEqual(walkHost(image.source!, image.mapName));
  });

  test('carries its type, source and options in mountinfo', async () => {
    const m = (await readMountinfo()).find((e) => e.mountPoint === mnt)!;
    expect(m).toMatchObject({ fsType: 'fuse.pktfs', source: image.path });
    expect(m.mountOptions).toEqual(expect.arrayContaining(['ro', 'noatime']));
    expect(m.superOptions).toEqual(expect.arrayContaining(['default_permissions', 'max_read=131072']));
  });

  test('refuses writes with EROFS', async () => {
    expect(() => fs.writeFileSync(path.join(mnt, 'new.txt'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    expect(() => fs.appendFileSync(path.join(mnt, 'one'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
    const r = await run('touch', [path.join(mnt, 'one')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Read-only file system');
  });

  test('statfs agrees with udfinfo', () => {
    const info = udfinfo(image.path);
    const s = fs.statfsSync(mnt);
    expect(s.bsize).toBe(2048);
    expect(s.blocks).toBe(info.usedBlocks + info.freeBlocks);
    expect(s.bfree).toBe(info.freeBlocks);
    expect(s.bavail).toBe(info.freeBlocks);
    expect(s.files).toBe(info.numFiles + info.numDirs);
  });

  test('ends, exiting, when unmounted with umount', async () => {
    await umount(mnt);
    await waitGone(pid);
  });
});

describe('options reach the mount', () => {
  test('uid, gid and umask apply; rw mounts read-write without a word', async () => {
    const m = newMountpoint();
    const r = await pktfs(['-o', 'rw,uid=4321,gid=765', '-o', 'umask=027', image.path, m]);
    try {
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const root = fs.statSync(m);
      // mkudffs records the root directory without an owner (-1): it gets the mount's.
      expect([root.uid, root.gid]).toEqual([4321, 765]);
      expect(fs.statSync(path.join(m, 'one')).mode & 0o777 & 0o027).toBe(0);
      expect((await readMountinfo()).find((e) => e.mountPoint === m)!.mountOptions).toContain('rw');
    } finally {
      await umount(m);
    }
  });

  test('allow_other shows in the mount options', async () => {
    const m = newMountpoint();
    expect((await pktfs(['-o', 'allow_other,noatime,nosuid', image.path, m])).code).toBe(0);
    try {
      const e = (await readMountinfo()).find((x) => x.mountPoint === m)!;
      expect(e.superOptions).toContain('allow_other');
      expect(e.mountOptions).toContain('nosuid');
    } finally {
      await umount(m);
    }
  });
});

describe('signals and the foreground', () => {
  function startForeground(args: string[], env = cleanEnv()): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [PKTFS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, stderr: () => err, exit };
  }

  test('SIGTERM to the background process unmounts and ends it', async () => {
    const m = newMountpoint();
    expect((await pktfs([image.path, m])).code).toBe(0);
    const pid = servingPid(m)!;
    process.kill(pid, 'SIGTERM');
    await waitGone(pid);
    expect(isMounted(m)).toBe(false);
  });

  test('-f serves until umount, then exits 0', async () => {
    const m = newMountpoint();
    const fg = startForeground(['-f', image.path, m]);
    await waitFor(() => isMounted(m), 10000, 'the foreground mount');
    expect(fs.readFileSync(path.join(m, 'one'), 'utf8')).toBe('x');
    await umount(m);
    expect(await fg.exit).toBe(0);
    expect(fg.stderr()).toBe('');
  });

  test('-f: SIGINT unmounts and exits 0', async () => {
    const m = newMountpoint();
    const fg = startForeground(['-f', image.path, m]);
    await waitFor(() => isMounted(m), 10000, 'the foreground mount');
    fg.child.kill('SIGINT');
    expect(await fg.exit).toBe(0);
    expect(isMounted(m)).toBe(false);
  });

  test('-o debug stays in the foreground and logs', async () => {
    const m = newMountpoint();
    const fg = startForeground(['-o', 'debug', image.path, m]);
    await waitFor(() => isMounted(m), 10000, 'the debug mount');
    expect(alive(fg.child.pid!)).toBe(true);
    await umount(m);
    expect(await fg.exit).toBe(0);
    expect(fg.stderr()).toMatch(/pktfs:fuse:mount mounted /);
  });
});
