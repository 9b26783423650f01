/**
 * The FUSE layer's pure parts: the option list handed to libfuse, mountinfo parsing,
 * errno mapping and the path resolver's cache.
 */
import Fuse from 'fuse-native';
import { fuseOptionList } from '../../src/fuse/fuse';
import { parseMountinfo } from '../../src/fuse/mountinfo';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { KERNEL_READ_AHEAD_KB, bdiReadAheadPath, raiseKernelReadAhead } from '../../src/fuse/readahead';
import { errnoOf, toErrno } from '../../src/fuse/errno';
import { PathResolver } from '../../src/fuse/resolver';
import { toFuseStatfs } from '../../src/fuse/ops-attr';
import { FsError } from '../../src/errors';
import { MemVolume, memInfo } from './memvolume';
import { LRUCache } from 'lru-cache';

describe('fuseOptionList', () => {
  test('read-only: big_writes, large max_read/max_write, fsname, subtype, ro, noatime, default_permissions', () => {
    const o = fuseOptionList({ source: '/dev/sr0', readOnly: true });
    expect(o).toEqual(expect.arrayContaining(['fsname=/dev/sr0', 'subtype=pktfs', 'ro', 'noatime', 'default_permissions', 'big_writes', 'max_write=131072', 'max_read=131072', 'use_ino']));
    expect(o).not.toContain('allow_other');
  });

  test('commas in the source are escaped for libfuse; asked-for options are added', () => {
    const o = fuseOptionList({ source: '/tmp/a,b\\c.img', readOnly: false, allowOther: true, nonempty: true, vfsFlags: ['nosuid'] });
    expect(o[0]).toBe('fsname=/tmp/a\\,b\\\\c.img');
    expect(o).toEqual(expect.arrayContaining(['allow_other', 'nonempty', 'nosuid']));
    expect(o).not.toContain('ro');
  });
});

test('parseMountinfo unescapes paths and splits the optional fields off', () => {
  const text =
    '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n' +
    '99 36 0:52 / /tmp/m ro,nosuid,noatime - fuse.pktfs /tmp/a\\040b.img ro,user_id=0,group_id=0,default_permissions\n';
  expect(parseMountinfo(text)).toEqual([
    { id: 36, device: '98:0', mountPoint: '/mnt/with space', mountOptions: ['rw', 'noatime'], fsType: 'ext3', source: '/dev/root', superOptions: ['rw', 'errors=continue'] },
    { id: 99, device: '0:52', mountPoint: '/tmp/m', mountOptions: ['ro', 'nosuid', 'noatime'], fsType: 'fuse.pktfs', source: '/tmp/a b.img', superOptions: ['ro', 'user_id=0', 'group_id=0', 'default_permissions'] },
  ]);
});

describe('errno mapping', () => {
  test('an FsError keeps its errno', () => {
    expect(toErrno(new FsError('ENOENT', 'x'), 'getattr', '/x')).toBe(-2);
    expect(toErrno(new FsError('EUCLEAN', 'x'), 'read', '/x')).toBe(-117);
    expect(errnoOf('EROFS')).toBe(Fuse.EROFS);
  });

  test('anything else is EIO', () => {
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(toErrno(new RangeError('boom'), 'read', '/x')).toBe(-5);
      expect(toErrno('a string', 'read', '/x')).toBe(-5);
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
    expect(errnoOf('ENOTANERRNO')).toBe(-5);
  });
});

test('statfs comes from the volume info', () => {
  expect(toFuseStatfs(memInfo({ blockSize: 512, totalBlocks: 100, freeBlocks: 40, numFiles: 7, numDirs: 3 }))).toMatchObject({
    bsize: 512, frsize: 512, blocks: 100, bfree: 40, bavail: 40, files: 10, namemax: 255,
  });
});

describe('PathResolver', () => {
  const vol = new MemVolume({
    kind: 'dir',
    children: { a: { kind: 'dir', children: { b: { kind: 'dir', children: { c: { kind: 'file', data: Buffer.from('c') } } } } } },
  });

  test('walks the path once, then answers from its cache', async () => {
    const r = new PathResolver(vol);
    expect(await r.resolve('/')).toBe(vol.rootIno);
    const before = vol.lookups;
    const c = await r.resolve('/a/b/c');
    expect(vol.lookups - before).toBe(3);
    expect(await r.resolve('/a/b/c')).toBe(c);
    expect(await r.resolve('/a/b')).toBeGreaterThan(0);
    expect(vol.lookups - before).toBe(3);
  });

  test('failures are not cached; forget drops a subtree', async () => {
    const r = new PathResolver(vol);
    await expect(r.resolve('/a/x')).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(r.resolve('/a/b/c/d')).rejects.toMatchObject({ errno: 'ENOTDIR' });
    await r.resolve('/a/b/c');
    const before = vol.lookups;
    r.forget('/a/b');
    await r.resolve('/a/b/c');
    expect(vol.lookups - before).toBe(2);
  });

  test('forget of a leaf drops only it; of a directory, whatever is cached under it', async () => {
    const r = new PathResolver(vol);
    await r.resolve('/a/b/c');
    let before = vol.lookups;
    r.forget('/a/b/c');
    await r.resolve('/a/b/c');
    expect(vol.lookups - before).toBe(1);
    r.forget('/a/b/c/none');
    before = vol.lookups;
    await r.resolve('/a/b/c');
    expect(vol.lookups - before).toBe(0);
    r.forget('/a');
    before = vol.lookups;
    await r.resolve('/a/b/c');
    expect(vol.lookups - before).toBe(3);
  });

  test('forget still reaches paths whose parents the LRU dropped', async () => {
    const r = new PathResolver(vol, 2);
    await r.resolve('/a/b/c'); // caches /a, /a/b, /a/b/c; the LRU keeps the last two
    for (let i = 0; i < 10; i++) await r.resolve('/a/b/c'); // (hits)
    r.forget('/a');
    const before = vol.lookups;
    await r.resolve('/a/b/c');
    expect(vol.lookups - before).toBe(3);
  });

  test('forget of a directory visits only what is cached under it, not the whole cache (rm -rf, issue 6)', async () => {
    const many: Record<string, { kind: 'file'; data: Buffer }> = {};
    for (let i = 0; i < 500; i++) many[`f${i}`] = { kind: 'file', data: Buffer.from('x') };
    const big = new MemVolume({
      kind: 'dir',
      children: { d: { kind: 'dir', children: many }, e: { kind: 'dir', children: { s: { kind: 'dir', children: { t: { kind: 'file', data: Buffer.from('t') } } } } } },
    });
    const r = new PathResolver(big);
    for (let i = 0; i < 500; i++) await r.resolve(`/d/f${i}`);
    await r.resolve('/e/s/t');
    const keys = jest.spyOn(LRUCache.prototype, 'keys');
    const del = jest.spyOn(LRUCache.prototype, 'delete');
    try {
      r.forget('/e/s/t');
      r.forget('/e/s');
      r.forget('/e');
      // One delete per path forgotten, never a walk of the 500 others.
      expect(keys).not.toHaveBeenCalled();
      expect(del.mock.calls.map((c) => c[0])).toEqual(['/e/s/t', '/e/s', '/e']);
      del.mockClear();
      await r.resolve('/e/s/t');
      r.forget('/e');
      expect(keys).not.toHaveBeenCalled();
      expect(del.mock.calls.map((c) => c[0]).sort()).toEqual(['/e', '/e/s', '/e/s/t']);
    } finally {
      keys.mockRestore();
      del.mockRestore();
    }
    // The rest is still cached; what was forgotten is looked up again.
    let before = big.lookups;
    await r.resolve('/d/f7');
    expect(big.lookups - before).toBe(0);
    before = big.lookups;
    await r.resolve('/e/s/t');
    expect(big.lookups - before).toBe(3);
    r.forget('/d');
    before = big.lookups;
    await r.resolve('/d/f7');
    expect(big.lookups - before).toBe(2);
  });

  test('the index of cached paths stays bounded while the LRU drops entries', async () => {
    const many: Record<string, { kind: 'dir'; children: Record<string, { kind: 'file'; data: Buffer }> }> = {};
    for (let i = 0; i < 200; i++) many[`d${i}`] = { kind: 'dir', children: { f: { kind: 'file', data: Buffer.from('x') } } };
    const big = new MemVolume({ kind: 'dir', children: many });
    const r = new PathResolver(big, 16);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 200; i++) await r.resolve(`/d${i}/f`);
    expect((r as unknown as { links: number }).links).toBeLessThanOrEqual(4 * 16 + 2);
    // Paths the LRU dropped the parents of are still forgotten with their directory.
    await r.resolve('/d5/f');
    r.forget('/d5');
    const before = big.lookups;
    await r.resolve('/d5/f');
    expect(big.lookups - before).toBe(2);
  });
});

describe('kernel read-ahead of the mount', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pktfs-ra-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('is raised to 1 MiB, never lowered, and a missing file is no error', async () => {
    const file = path.join(dir, 'read_ahead_kb');
    writeFileSync(file, '128\n');
    expect(await raiseKernelReadAhead('0:52', KERNEL_READ_AHEAD_KB, file)).toBe(1024);
    expect(readFileSync(file, 'utf8').trim()).toBe('1024');
    writeFileSync(file, '4096\n');
    expect(await raiseKernelReadAhead('0:52', KERNEL_READ_AHEAD_KB, file)).toBe(4096);
    expect(readFileSync(file, 'utf8').trim()).toBe('4096');
    expect(await raiseKernelReadAhead('0:52', KERNEL_READ_AHEAD_KB, path.join(dir, 'none'))).toBeUndefined();
    expect(bdiReadAheadPath('0:52')).toBe('/sys/class/bdi/0:52/read_ahead_kb');
  });
});
