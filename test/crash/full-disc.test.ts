/**
 * Filling the disc (issue 5, section 4) at the volume level: ENOSPC comes
 * when the free space is down to the metadata reserve and not before, a
 * failed create, mkdir or rename leaves no partial directory entry, what was
 * written before is intact, udfinfo agrees with the counts after unmount, and
 * deleting everything gives all the space back.
 */
import * as fs from 'fs';
import { isFsError } from '../../src/errors';
import { RESERVED_BLOCKS } from '../../src/udf/write/node';
import type { WritableVolume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, readAll, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { makeImage, openRw, writable } from '../udf/write-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!isFsError(e)) throw e;
    return e.errno;
  }
}

const names = async (vol: WritableVolume, dir: number) => (await vol.readdir(dir)).map((e) => e.name).sort();

describeIf('a full disc', () => {
  let tmp: string;
  beforeAll(() => (tmp = makeTempDir('fulldisc')));
  afterAll(() => removeTempDir(tmp));

  test('ENOSPC at the reserve, earlier files intact, counts agree, deleting frees it all', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 1024 }, tmp, 'fill');
    const initialFree = udfinfo(img).freeBlocks;
    const m = await openRw(img);
    const vol = writable(m);
    const files = new Map<string, Buffer>();
    let stop = '';
    // Files of 20 blocks written in 1-block chunks, until something says no.
    for (let i = 0; !stop; i++) {
      const name = `f${i}`;
      const r = await errnoOf(vol.create(vol.rootIno, name, 0o644, 0, 0));
      if (r !== 'ok') {
        stop = `create ${r}`;
        break;
      }
      const ino = await vol.lookup(vol.rootIno, name);
      const data = pseudoRandom(name, 20 * 2048);
      let written = 0;
      for (; written < data.length; written += 2048) {
        const free = vol.info.freeBlocks;
        const w = await errnoOf(vol.write(ino, written, data.subarray(written, written + 2048)));
        if (w !== 'ok') {
          stop = `write ${w}`;
          // Refused only when one more block would eat into the reserve.
          expect(free).toBeLessThanOrEqual(RESERVED_BLOCKS + 1);
          break;
        }
      }
      files.set(name, data.subarray(0, written));
    }
    expect(stop).toMatch(/ENOSPC$/);
    expect(vol.info.freeBlocks).toBeLessThanOrEqual(RESERVED_BLOCKS + 1);
    // Nothing further fits, whatever asks: a new name, a directory, an append.
    expect(await errnoOf(vol.create(vol.rootIno, 'one-more', 0o644, 0, 0))).toBe('ENOSPC');
    expect(await errnoOf(vol.mkdir(vol.rootIno, 'dir-more', 0o755, 0, 0))).toBe('ENOSPC');
    expect(await names(vol, vol.rootIno)).toEqual([...files.keys()].sort());
    for (const [name, data] of files) expect((await readAll(vol, await vol.lookup(vol.rootIno, name), data.length)).equals(data)).toBe(true);
    const left = vol.info.freeBlocks;
    await m.close();

    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info.freeBlocks).toBe(left);
    expect(info.numFiles).toBe(files.size);
    // What udfinfo says is used is what the files hold, and the tree reads back.
    await withImage(img, {}, async (ro) => {
      const tree = await walkVolume(ro);
      expect(tree.map((e) => [e.path, e.size])).toEqual([...files].map(([n, d]) => [n, d.length]).sort());
    });

    const m2 = await openRw(img);
    const vol2 = writable(m2);
    for (const name of files.keys()) await vol2.unlink(vol2.rootIno, name);
    expect(vol2.info.freeBlocks).toBe(initialFree);
    await m2.close();
    expect(udfinfo(img).freeBlocks).toBe(initialFree);
    expect(udfinfo(img).numFiles).toBe(0);
  });

  test('renames into a growing directory on a full disc: never a name lost or doubled', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 600 }, tmp, 'rename');
    const m = await openRw(img);
    const vol = writable(m);
    const a = await vol.mkdir(vol.rootIno, 'a', 0o755, 0, 0);
    const b = await vol.mkdir(vol.rootIno, 'b', 0o755, 0, 0);
    const inA = new Set<string>();
    // Empty files (one block each, for the entry) until the disc is full.
    for (let i = 0; ; i++) {
      // Long names: the directories grow by a block every dozen entries or so.
      const name = `${'n'.repeat(150)}${i}`;
      if ((await errnoOf(vol.create(a, name, 0o644, 0, 0))) !== 'ok') break;
      inA.add(name);
    }
    const inB = new Set<string>();
    let refused = 0;
    for (const name of [...inA]) {
      const r = await errnoOf(vol.rename(a, name, b, `${name}x`));
      if (r === 'ok') {
        inA.delete(name);
        inB.add(`${name}x`);
      } else {
        expect(r).toBe('ENOSPC');
        refused++;
      }
      expect(await names(vol, a)).toEqual([...inA].sort());
      expect(await names(vol, b)).toEqual([...inB].sort());
    }
    await vol.sync();
    await m.close();
    expect(udfinfo(img).errors).toEqual([]);
    expect(udfinfo(img).numFiles).toBe(inA.size + inB.size);
    await withImage(img, {}, async (ro) => {
      const tree = (await walkVolume(ro)).map((e) => e.path);
      expect(tree).toEqual(['a', ...[...inA].map((n) => `a/${n}`).sort(), 'b', ...[...inB].map((n) => `b/${n}`).sort()]);
    });
    console.log(`full-disc renames: ${inB.size} moved, ${refused} refused with ENOSPC`);
    fs.rmSync(img);
  });
});
