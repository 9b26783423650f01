/**
 * Opening and closing a directory cost no request to pktfs (issue 6): libfuse answers
 * opendir and releasedir itself when the filesystem has none, so a listing is one readdir
 * request, not three hops to the JavaScript thread (find and rm -rf list every directory,
 * rm -rf twice). Counted in calls on the volume, not time.
 */
import { promises as fsp } from 'fs';
import path from 'path';
import { PktfsMount } from '../../src/fuse/mount';
import { dirOps } from '../../src/fuse/ops-dir';
import { OpsContext } from '../../src/fuse/context';
import type { Attr, DirEntry } from '../../src/udf/types';
import { MemVolume, memInfo } from './memvolume';
import { removeDir, tempDir } from './helpers';

class CountingVolume extends MemVolume {
  getattrs = 0;
  readdirs = 0;
  override async getattr(ino: number): Promise<Attr> {
    this.getattrs++;
    return super.getattr(ino);
  }
  override async readdir(ino: number): Promise<DirEntry[]> {
    this.readdirs++;
    return super.readdir(ino);
  }
}

test('the directory ops are readdir only', () => {
  const ops = dirOps(new OpsContext(new MemVolume({ kind: 'dir', children: {} }), true));
  expect(Object.keys(ops)).toEqual(['readdir']);
});

describe('listing through a mount', () => {
  let dir: string;
  let mnt: string;
  let mount: PktfsMount | undefined;
  const volume = new CountingVolume(
    { kind: 'dir', children: { a: { kind: 'dir', children: { x: { kind: 'file', data: Buffer.from('x') }, y: { kind: 'dir', children: {} } } } } },
    memInfo({ numFiles: 1, numDirs: 3, totalBlocks: 100, freeBlocks: 50, blockSize: 2048 }),
  );
  beforeAll(async () => {
    dir = tempDir('dirops');
    mnt = path.join(dir, 'mnt');
    await fsp.mkdir(mnt);
    // Read-only: the kernel keeps attributes for 30 s, so no getattr comes between the listings.
    mount = await PktfsMount.mount(volume, mnt, { source: 'mem', readOnly: true, pollMs: 100 });
  });
  afterAll(async () => {
    if (mount) await mount.unmount().catch(() => undefined);
    await removeDir(dir);
  });

  test('a listing asks the volume for the entries and nothing else', async () => {
    await fsp.stat(path.join(mnt, 'a'));
    const g = volume.getattrs;
    const r = volume.readdirs;
    for (let i = 0; i < 5; i++) expect((await fsp.readdir(path.join(mnt, 'a'))).sort()).toEqual(['x', 'y']);
    expect(volume.readdirs - r).toBe(5);
    expect(volume.getattrs - g).toBe(0);
    // Still refused where it must be: a file is not a directory, a missing name is missing.
    await expect(fsp.readdir(path.join(mnt, 'a', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(fsp.readdir(path.join(mnt, 'a', 'none'))).rejects.toMatchObject({ code: 'ENOENT' });
    // .pktinfo still lists.
    expect(await fsp.readdir(path.join(mnt, '.pktinfo'))).toContain('version');
  });
});
