/**
 * The FUSE layer on its own: a MemVolume mounted in this process through PktfsMount,
 * exercised with ordinary file system calls and Debian tools.
 */
import { constants as fsc, promises as fsp } from 'fs';
import { randomBytes } from 'crypto';
import path from 'path';
import { PktfsMount } from '../../src/fuse/mount';
import { readMountinfo } from '../../src/fuse/mountinfo';
import { MemVolume, memInfo, type MemNode } from './memvolume';
import { removeDir, run, tempDir, waitFor } from './helpers';

const big = randomBytes(3 * 1024 * 1024 + 123);
const shared: MemNode = { kind: 'file', data: Buffer.from('linked twice\n') };
const tree: MemNode = {
  kind: 'dir',
  children: {
    'empty': { kind: 'file', data: Buffer.alloc(0) },
    'one': { kind: 'file', data: Buffer.from('x') },
    'big.bin': { kind: 'file', data: big },
    'with space é.txt': { kind: 'file', data: Buffer.from('hello\n') },
    'sub': { kind: 'dir', children: { deeper: { kind: 'dir', children: { 'leaf.txt': { kind: 'file', data: Buffer.from('leaf') } } } } },
    'link': { kind: 'symlink', target: 'sub/deeper/leaf.txt' },
    'hard1': shared,
    'hard2': shared,
    'damaged': { kind: 'broken', errno: 'EIO' },
    'unclean': { kind: 'broken', errno: 'EUCLEAN' },
    'buggy': { kind: 'bug' },
  },
};

let dir: string;
let mnt: string;
let mount: PktfsMount;

beforeAll(async () => {
  dir = tempDir('fuse');
  mnt = path.join(dir, 'mnt');
  await fsp.mkdir(mnt);
  const volume = new MemVolume(tree, memInfo({ numFiles: 9, numDirs: 3, totalBlocks: 10000, freeBlocks: 7000, blockSize: 2048 }));
  mount = await PktfsMount.mount(volume, mnt, { source: '/dev/fake,disc', readOnly: true, pollMs: 100 });
});

afterAll(async () => {
  if (mount) await mount.unmount().catch(() => undefined);
  await removeDir(dir);
});

describe('reading through the mount', () => {
  test('lists the root and a nested directory', async () => {
    expect((await fsp.readdir(mnt)).sort()).toEqual(Object.keys((tree as { children: object }).children).sort());
    expect(await fsp.readdir(path.join(mnt, 'sub/deeper'))).toEqual(['leaf.txt']);
    const ls = await run('ls', ['-a', mnt]);
    expect(ls.stdout.split('\n').slice(0, 2)).toEqual(['.', '..']);
  });

  test('reads every byte of small, empty and multi-MiB files', async () => {
    expect(await fsp.readFile(path.join(mnt, 'empty'))).toEqual(Buffer.alloc(0));
    expect((await fsp.readFile(path.join(mnt, 'one'))).toString()).toBe('x');
    expect((await fsp.readFile(path.join(mnt, 'with space é.txt'))).toString()).toBe('hello\n');
    expect((await fsp.readFile(path.join(mnt, 'big.bin'))).equals(big)).toBe(true);
    const sum = await run('sha256sum', [path.join(mnt, 'big.bin')]);
    const want = require('crypto').createHash('sha256').update(big).digest('hex');
    expect(sum.stdout.split(' ')[0]).toBe(want);
  });

  test('reads at an offset inside the file', async () => {
    const fh = await fsp.open(path.join(mnt, 'big.bin'), 'r');
    const b = Buffer.alloc(5000);
    const { bytesRead } = await fh.read(b, 0, 5000, 1_000_003);
    await fh.close();
    expect(bytesRead).toBe(5000);
    expect(b.equals(big.subarray(1_000_003, 1_005_003))).toBe(true);
  });

  test('stat shows the volume attributes; hard links share an inode', async () => {
    const st = await fsp.stat(path.join(mnt, 'with space é.txt'));
    expect(st.size).toBe(6);
    expect(st.mode).toBe(fsc.S_IFREG | 0o644);
    expect([st.uid, st.gid]).toEqual([1234, 5678]);
    expect(st.mtime.toISOString()).toBe('2024-03-01T12:34:56.789Z');
    const [h1, h2] = await Promise.all([fsp.stat(path.join(mnt, 'hard1')), fsp.stat(path.join(mnt, 'hard2'))]);
    expect(h1.ino).toBe(h2.ino);
    expect(h1.nlink).toBe(2);
    expect((await fsp.stat(path.join(mnt, 'sub'))).isDirectory()).toBe(true);
  });

  test('symlinks read back and resolve', async () => {
    expect(await fsp.readlink(path.join(mnt, 'link'))).toBe('sub/deeper/leaf.txt');
    expect((await fsp.readFile(path.join(mnt, 'link'))).toString()).toBe('leaf');
  });

  test('missing names give ENOENT', async () => {
    await expect(fsp.stat(path.join(mnt, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fsp.stat(path.join(mnt, 'sub/nope/deeper'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('statfs reports the volume space and counts', async () => {
    const s = await fsp.statfs(mnt);
    expect(s.bsize).toBe(2048);
    expect(s.blocks).toBe(10000);
    expect(s.bfree).toBe(7000);
    expect(s.bavail).toBe(7000);
    expect(s.files).toBe(12);
    const r = await run('stat', ['-f', '-c', '%l %S', mnt]);
    expect(r.stdout.trim()).toBe('255 2048');
  });
});

describe('errors', () => {
  test('a damaged file fails with its own errno and the rest stays readable', async () => {
    await expect(fsp.stat(path.join(mnt, 'damaged'))).rejects.toMatchObject({ code: 'EIO' });
    await expect(fsp.stat(path.join(mnt, 'unclean'))).rejects.toMatchObject({ errno: -117 }) // EUCLEAN; Node has no name for it;
    expect((await fsp.readFile(path.join(mnt, 'one'))).toString()).toBe('x');
  });

  test('an unexpected exception becomes EIO and one line on stderr', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      lines.push(String(s));
      return true;
    });
    try {
      await expect(fsp.stat(path.join(mnt, 'buggy'))).rejects.toMatchObject({ code: 'EIO' });
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pktfs: getattr \/buggy: unexpected error, answered EIO: TypeError: inode \d+: simulated bug/);
    expect(lines[0].trimEnd()).not.toContain('\n');
  });

  test('every kind of write answers EROFS', async () => {
    const p = (n: string) => path.join(mnt, n);
    await expect(fsp.writeFile(p('new.txt'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.open(p('one'), 'r+')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.mkdir(p('newdir'))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.unlink(p('one'))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.rename(p('one'), p('two'))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.chmod(p('one'), 0o600)).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.truncate(p('one'), 0)).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.symlink('x', p('sl'))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.access(p('one'), fsc.W_OK)).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.access(p('one'), fsc.R_OK)).resolves.toBeUndefined();
  });
});

describe('mount options', () => {
  test('mountinfo shows a read-only fuse.pktfs mount with our source and options', async () => {
    const m = (await readMountinfo()).find((e) => e.mountPoint === mnt)!;
    expect(m.fsType).toBe('fuse.pktfs');
    expect(m.source).toBe('/dev/fake,disc');
    expect(m.mountOptions).toEqual(expect.arrayContaining(['ro', 'noatime']));
    expect(m.superOptions).toEqual(expect.arrayContaining(['ro', 'default_permissions', 'max_read=131072']));
    expect(m.superOptions).not.toContain('allow_other');
  });
});

describe('mountpoint checks and the end of a mount', () => {
  let vol: MemVolume;
  beforeAll(() => {
    vol = new MemVolume({ kind: 'dir', children: { f: { kind: 'file', data: Buffer.from('f') } } });
  });

  test('refuses a missing mountpoint, a file, a busy and a non-empty directory', async () => {
    const s = { source: 'x', readOnly: true };
    await expect(PktfsMount.mount(vol, path.join(dir, 'missing'), s)).rejects.toMatchObject({ errno: 'ENOENT', message: expect.stringContaining('mountpoint does not exist') });
    await fsp.writeFile(path.join(dir, 'file'), 'x');
    await expect(PktfsMount.mount(vol, path.join(dir, 'file'), s)).rejects.toMatchObject({ errno: 'ENOTDIR' });
    await expect(PktfsMount.mount(vol, mnt, s)).rejects.toMatchObject({ errno: 'EBUSY', message: expect.stringContaining('busy') });
    await fsp.mkdir(path.join(dir, 'full'));
    await fsp.writeFile(path.join(dir, 'full', 'x'), 'x');
    await expect(PktfsMount.mount(vol, path.join(dir, 'full'), s)).rejects.toMatchObject({ errno: 'ENOTEMPTY' });
  });

  test('-o nonempty mounts over a non-empty directory; unmount() ends it', async () => {
    const m = await PktfsMount.mount(vol, path.join(dir, 'full'), { source: 'x', readOnly: true, nonempty: true });
    expect(await fsp.readdir(path.join(dir, 'full'))).toEqual(['f']);
    await m.unmount();
    await expect(m.ended).resolves.toBe('unmount');
    expect(await fsp.readdir(path.join(dir, 'full'))).toEqual(['x']);
  });

  test('an unmount from outside is noticed', async () => {
    const at = path.join(dir, 'ext');
    await fsp.mkdir(at);
    const m = await PktfsMount.mount(vol, at, { source: 'x', readOnly: true, pollMs: 100 });
    expect((await run('fusermount', ['-u', at])).code).toBe(0);
    await expect(m.ended).resolves.toBe('external');
  });

  test('after a lazy unmount, files still open keep being served until closed', async () => {
    const at = path.join(dir, 'lazy');
    await fsp.mkdir(at);
    const m = await PktfsMount.mount(vol, at, { source: 'x', readOnly: true, pollMs: 100 });
    const fh = await fsp.open(path.join(at, 'f'), 'r');
    expect((await run('umount', ['-l', at])).code).toBe(0);
    let ended = false;
    void m.ended.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(ended).toBe(false);
    const b = Buffer.alloc(1);
    expect((await fh.read(b, 0, 1, 0)).bytesRead).toBe(1);
    await fh.close();
    await waitFor(() => ended, 5000, 'the end of the lazily unmounted mount');
  });

  test('unmount() of a busy mount detaches it lazily and still answers the open file', async () => {
    const at = path.join(dir, 'busy');
    await fsp.mkdir(at);
    const m = await PktfsMount.mount(vol, at, { source: 'x', readOnly: true });
    const fh = await fsp.open(path.join(at, 'f'), 'r');
    const t0 = Date.now();
    await m.unmount(300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect((await readMountinfo()).some((e) => e.mountPoint === at)).toBe(false);
    const b = Buffer.alloc(1);
    expect((await fh.read(b, 0, 1, 0)).bytesRead).toBe(1);
    await fh.close();
    await expect(m.ended).resolves.toBe('unmount');
  });
});

describe('kernel read-ahead', () => {
  const asRoot = process.getuid?.() === 0;
  (asRoot ? test : test.skip)('the mount reads 1 MiB ahead (several read requests in flight), as root', async () => {
    const entry = (await readMountinfo()).find((m) => m.mountPoint === mnt);
    expect(entry).toBeDefined();
    const kb = Number((await fsp.readFile(`/sys/class/bdi/${entry!.device}/read_ahead_kb`, 'utf8')).trim());
    expect(kb).toBeGreaterThanOrEqual(1024);
  });
});
