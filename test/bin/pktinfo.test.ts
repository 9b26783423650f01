/**
 * The packet layer and `.pktinfo` as a user meets them through the built CLI:
 * `pktfs -o packet=,cache=,flush=,pktinfo= SOURCE DIR` on a mkudffs image and on
 * the emulated CD-RW drive, read with ls, stat and cat, checked against udfinfo;
 * bad values refused with status 1 and one line.
 */
import fs from 'fs';
import path from 'path';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { haveTools, udfinfo } from '../helpers/tools';
import { buildSourceTree, pseudoRandom } from '../helpers/tree';
import { removeDir, run, tempDir } from '../fuse/helpers';
import { assertBuilt, oneLine, pktfs, servingPid, waitGone } from './cli-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient');
const maybe = TOOLS ? test : test.skip;
if (!TOOLS) test('skipped: mkudffs, udfinfo or udfclient missing', () => undefined);

const BIG = 400_000;
let dir: string;
let hd: BuiltImage;
let cdrw: BuiltImage;
let counter = 0;

function newMountpoint(): string {
  const m = path.join(dir, `mnt${++counter}`);
  fs.mkdirSync(m);
  return m;
}

/** Mount in the background; resolves with pktfs's stderr once it has returned 0. */
async function mount(source: string, mnt: string, opts?: string): Promise<string> {
  const r = await pktfs([...(opts ? ['-o', opts] : []), source, mnt]);
  if (r.code !== 0) throw new Error(`pktfs ${source} ${mnt} -o ${opts}: status ${r.code}: ${r.stderr}`);
  return r.stderr;
}

async function umount(mnt: string): Promise<void> {
  const pid = servingPid(mnt);
  const r = await run('umount', [mnt]);
  if (r.code !== 0) throw new Error(`umount ${mnt}: ${r.stderr}`);
  if (pid) await waitGone(pid);
}

const catJson = async (p: string): Promise<Record<string, any>> => {
  const r = await run('cat', [p]);
  if (r.code !== 0) throw new Error(`cat ${p}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  assertBuilt();
  dir = tempDir('cli-pktinfo');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  buildSourceTree(src, BIG);
  // The hd image also has a /.pktinfo of its own, which the status directory shadows.
  const withOwn = path.join(dir, 'src-own');
  fs.cpSync(src, withOwn, { recursive: true });
  fs.mkdirSync(path.join(withOwn, '.pktinfo'));
  fs.writeFileSync(path.join(withOwn, '.pktinfo', 'mine'), 'on the disc\n');
  [hd, cdrw] = await Promise.all([
    buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, withOwn),
    buildMatrixImage({ media: 'cdrw', rev: '2.01', bs: 2048 }, dir, src),
  ]);
}, 120000);

afterAll(async () => {
  if (dir) await removeDir(dir);
});

const SHADOWED = "pktfs: the volume's own /.pktinfo is hidden by pktfs's status directory (mount with -o pktinfo=off to reach it)\n";

maybe('-o ro: .pktinfo hidden but there; the defaults in stats.json; volume.json as udfinfo; flush is EROFS', async () => {
  const mnt = newMountpoint();
  expect(await mount(hd.path, mnt, 'ro')).toBe(SHADOWED);
  try {
    const ls = await run('ls', ['-a', mnt]);
    expect(ls.stdout.split('\n')).not.toContain('.pktinfo');
    const st = await run('stat', ['-c', '%F %a', path.join(mnt, '.pktinfo')]);
    expect(st.stdout).toBe('directory 555\n');
    expect((await run('cat', [path.join(mnt, '.pktinfo/version')])).stdout).toBe('1\n');

    const before = await catJson(path.join(mnt, '.pktinfo/stats.json'));
    expect(before).toMatchObject({
      version: 1, source: hd.path, packetSource: 'default', medium: null, readOnly: true,
      packetBytes: 32768, sectorSize: 512, cacheBytes: 16 << 20, flushDelayMs: 1000, kbWritten: 0,
    });
    expect(fs.readFileSync(path.join(mnt, 'big.bin')).equals(pseudoRandom('big', BIG))).toBe(true);
    const after = await catJson(path.join(mnt, '.pktinfo/stats.json'));
    // Read by the packet layer, or by the binding straight from the image (docs/cli.md, direct_read=).
    expect(after.kbRead - before.kbRead + (after.directRead.bytes - before.directRead.bytes) / 1024).toBeGreaterThanOrEqual(Math.floor(BIG / 1024) - 1);

    const u = udfinfo(hd.path);
    const v = await catJson(path.join(mnt, '.pktinfo/volume.json'));
    expect(v).toMatchObject({ freeBlocks: u.freeBlocks, usedBlocks: u.usedBlocks, numFiles: u.numFiles, numDirs: u.numDirs, integrity: 'closed' });
    expect(v.readOnlyReason).toMatch(/read-only/);

    const sh = await run('sh', ['-c', `echo 1 > '${mnt}/.pktinfo/flush'`]);
    expect(sh.code).not.toBe(0);
    expect(sh.stderr).toMatch(/Read-only file system/);
  } finally {
    await umount(mnt);
  }
});

maybe('-o packet=32,cache=1M,flush=250,pktinfo=visible: listed, and the packet layer runs with those settings', async () => {
  const mnt = newMountpoint();
  await mount(hd.path, mnt, 'packet=32,cache=1M,flush=250,pktinfo=visible');
  try {
    expect((await run('ls', ['-a', mnt])).stdout.split('\n')).toContain('.pktinfo');
    const s = await catJson(path.join(mnt, '.pktinfo/stats.json'));
    expect(s).toMatchObject({ packetSource: 'option', packetBytes: 65536, sectorsPerPacket: 128, cacheBytes: 1 << 20, flushDelayMs: 250 });
    // Reading 400 kB through a 1 MiB cache of 64 KiB packets: whole and right.
    expect(fs.readFileSync(path.join(mnt, 'big.bin')).equals(pseudoRandom('big', BIG))).toBe(true);
    const cache = (await run('cat', [path.join(mnt, '.pktinfo/cache')])).stdout;
    expect(cache).toContain('\tcache size:\t\t1024kB (16 packets)\n');
    expect(cache).toContain('\tidle flush:\t\t250ms\n');
  } finally {
    await umount(mnt);
  }
});

maybe('-o pktinfo=off: no status directory, no warning, and the disc\'s own /.pktinfo is there', async () => {
  const mnt = newMountpoint();
  expect(await mount(hd.path, mnt, 'pktinfo=off')).toBe('');
  try {
    expect((await run('ls', ['-a', path.join(mnt, '.pktinfo')])).stdout).toBe('.\n..\nmine\n');
    expect((await run('ls', ['-a', mnt])).stdout.split('\n')).toContain('.pktinfo');
  } finally {
    await umount(mnt);
  }
});

maybe('the emulated CD-RW: packet size from the medium (32); -o packet=16 is ignored with a notice', async () => {
  const img = path.join(dir, 'emu-cdrw.img');
  fs.copyFileSync(cdrw.path, img);
  const mnt = newMountpoint();
  const stderr = await mount(`emu:cdrw:${img}`, mnt, 'packet=16,flush=off');
  expect(stderr).toContain('pktfs: -o packet=16 ignored: the medium is written in packets of 32 sectors\n');
  try {
    const s = await catJson(path.join(mnt, '.pktinfo/stats.json'));
    expect(s).toMatchObject({ packetSource: 'medium', packetBytes: 65536, sectorSize: 2048, sectorsPerPacket: 32, flushDelayMs: null });
    expect(s.medium).toMatch(/CD-RW/);
    const v = await catJson(path.join(mnt, '.pktinfo/volume.json'));
    expect(v.partitions.map((p: { kind: string }) => p.kind)).toEqual(['sparable']);
    expect(v.freeBlocks).toBe(udfinfo(cdrw.path).freeBlocks);
    const info = (await run('cat', [path.join(mnt, '.pktinfo/info')])).stdout;
    expect(info).toMatch(/\tmedium:\t\t\t.*CD-RW/);
    expect(info).toContain('\tpacket size from:\tmedium\n');
    expect(fs.readFileSync(path.join(mnt, 'big.bin')).equals(pseudoRandom('big', BIG))).toBe(true);
  } finally {
    await umount(mnt);
  }
});

test.each([
  ['packet=0', 'pktfs: -o packet=0: must be a whole number from 1 to 128'],
  ['cache=1k', 'pktfs: -o cache=1k: must be a size from 64K to 16G, such as 16M or 512K'],
  ['flush=soon', 'pktfs: -o flush=soon: must be a whole number from 0 to 86400000'],
  ['pktinfo=yes', 'pktfs: -o pktinfo=yes: must be hidden, visible or off'],
  ['packet=128,cache=256K', 'pktfs: -o cache=256K: holds fewer than two packets of 256K; give at least cache=512K'],
])('-o %s is refused with status 1 and one line', async (opts, line) => {
  const mnt = newMountpoint();
  const r = await pktfs(['-o', opts, '/nonexistent.img', mnt]);
  expect(r.code).toBe(1);
  expect(oneLine(r)).toBe(line);
});

test('--help explains the packet and .pktinfo options', async () => {
  const r = await pktfs(['--help']);
  for (const o of ['packet=N', 'cache=SIZE', 'flush=MS', 'pktinfo=MODE']) expect(r.stdout).toMatch(new RegExp(`\\n  ${o} +\\S`));
  expect(r.stdout).toContain('.pktinfo');
});
