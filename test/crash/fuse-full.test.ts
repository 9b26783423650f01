/**
 * Filling the disc through a real FUSE mount (issue 5, section 4): cp-like
 * writes until ENOSPC, which comes when statfs says the disc is full (within
 * the metadata reserve) and not before; no half-made directory entries; the
 * files written before intact; after unmount udfinfo is clean and agrees with
 * statfs; deleting everything gives the space back (statfs and udfinfo again).
 */
import * as fs from 'fs';
import * as path from 'path';
import { RESERVED_BLOCKS } from '../../src/udf/write/node';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { assertBuilt } from '../bin/cli-helpers';
import { forceUnmountUnder } from '../fuse/helpers';
import { makeImage } from '../udf/write-helpers';
import { serve, unserve } from './fuse-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'umount', 'fusermount') && fs.existsSync('/dev/fuse');
const describeIf = TOOLS ? describe : describe.skip;

describeIf('a full disc through the FUSE mount', () => {
  let tmp: string;
  beforeAll(() => {
    assertBuilt();
    tmp = makeTempDir('fusefull');
  });
  afterAll(async () => {
    await forceUnmountUnder(tmp);
    removeTempDir(tmp);
  });

  test('ENOSPC when full, earlier files intact, statfs and udfinfo agree, deleting frees the space', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 2048 }, tmp, 'full');
    const initialFree = udfinfo(img).freeBlocks;
    const mnt = path.join(tmp, 'mnt');
    let s = await serve(img, mnt);
    const written = new Map<string, Buffer>();
    let failure: NodeJS.ErrnoException | undefined;
    let freeAtFailure = -1;
    try {
      const st0 = await fs.promises.statfs(mnt);
      expect(st0.bfree).toBe(initialFree);
      await fs.promises.mkdir(path.join(mnt, 'sub'));
      for (let i = 0; !failure; i++) {
        const rel = `${i % 2 ? 'sub/' : ''}file${i}`;
        const data = pseudoRandom(rel, 37 * 2048 + 100);
        let fh: fs.promises.FileHandle;
        try {
          fh = await fs.promises.open(path.join(mnt, rel), 'w');
        } catch (e) {
          // No room for the entry: the name must not be there at all.
          failure = e as NodeJS.ErrnoException;
          freeAtFailure = (await fs.promises.statfs(mnt)).bfree;
          await expect(fs.promises.stat(path.join(mnt, rel))).rejects.toMatchObject({ code: 'ENOENT' });
          break;
        }
        let done = 0;
        try {
          // 16 KiB at a time, as cp does with a small buffer.
          for (; done < data.length; done += 16384) {
            const n = Math.min(16384, data.length - done);
            await fh.write(data, done, n, done);
          }
        } catch (e) {
          failure = e as NodeJS.ErrnoException;
          freeAtFailure = (await fs.promises.statfs(mnt)).bfree;
        } finally {
          await fh.close();
        }
        written.set(rel, data.subarray(0, failure ? Math.min(done, (await fs.promises.stat(path.join(mnt, rel))).size) : data.length));
      }
      expect(failure!.code).toBe('ENOSPC');
      // Full means down to the reserve kept for metadata, plus less than one 16 KiB write.
      expect(freeAtFailure).toBeLessThanOrEqual(RESERVED_BLOCKS + 8);
      // A new name does not fit either, and leaves nothing behind.
      await expect(fs.promises.writeFile(path.join(mnt, 'sub', 'one-more'), pseudoRandom('x', 100000))).rejects.toMatchObject({ code: 'ENOSPC' });
      await fs.promises.rm(path.join(mnt, 'sub', 'one-more'), { force: true });
      const listed = [...(await fs.promises.readdir(mnt)).filter((n) => n !== 'sub').sort(), ...(await fs.promises.readdir(path.join(mnt, 'sub'))).map((n) => `sub/${n}`).sort()];
      expect(listed.sort()).toEqual([...written.keys()].sort());
      for (const [rel, data] of written) {
        const got = await fs.promises.readFile(path.join(mnt, rel));
        expect(got.equals(data)).toBe(true);
      }
      freeAtFailure = (await fs.promises.statfs(mnt)).bfree;
    } finally {
      expect(await unserve(s)).toBe(0);
    }
    const full = udfinfo(img);
    expect(full.errors).toEqual([]);
    expect(full.freeBlocks).toBe(freeAtFailure);
    expect(full.numFiles).toBe(written.size);
    await withImage(img, {}, async (vol) => {
      const tree = await walkVolume(vol);
      expect(tree.filter((e) => e.type === 'file').map((e) => [e.path, e.size]).sort()).toEqual([...written].map(([p, d]) => [p, d.length]).sort());
    });

    s = await serve(img, mnt);
    try {
      for (const rel of written.keys()) await fs.promises.unlink(path.join(mnt, rel));
      await fs.promises.rmdir(path.join(mnt, 'sub'));
      expect((await fs.promises.statfs(mnt)).bfree).toBe(initialFree);
    } finally {
      expect(await unserve(s)).toBe(0);
    }
    const empty = udfinfo(img);
    expect(empty.errors).toEqual([]);
    expect(empty.freeBlocks).toBe(initialFree);
    expect([empty.numFiles, empty.numDirs]).toEqual([0, 1]);
  });
});
