/**
 * Volume.directMap (issue 6: the FUSE binding's read fast path reads files from the image
 * itself): where every byte of a file lies in the image file. Judged by reading the image at
 * those offsets and comparing with what udfclient (another writer) and pktfs's write engine
 * (fragmented and sparse files) put there; files whose data can't be read that way (in the
 * entry, dirty in the packet cache) get none.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import type { BlockDevice } from '../../src/drive/types';
import { PacketDevice } from '../../src/packet/device';
import { openVolume } from '../../src/udf/volume';
import { DIRECT_MAP_MAX_RUNS, directMapOf, type Space } from '../../src/udf/icb';
import { EXT_RECORDED_ALLOCATED } from '../../src/udf/codec/primitives';
import type { DirectMap, Volume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { makeImage, putReadFixtures } from './write-helpers';

const TOOLS = haveTools('mkudffs', 'udfclient');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('direct-map: mkudffs/udfclient missing, skipped');

const BS = 2048;
const files: Record<string, Buffer> = {};

/** The file as the map says it lies in the image. */
function readByMap(img: string, map: DirectMap): Buffer {
  const out = Buffer.alloc(map.size);
  const fd = fs.openSync(img, 'r');
  try {
    let pos = 0;
    for (let i = 0; i < map.runs.length; i += 3) {
      const [at, len, from] = [map.runs[i], map.runs[i + 1], map.runs[i + 2]];
      expect(at).toBe(pos);
      if (from >= 0) expect(fs.readSync(fd, out, at, len, from)).toBe(len);
      pos += len;
    }
    expect(pos).toBe(map.size);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

describeIf('Volume.directMap', () => {
  let dir: string;
  let img: string;

  beforeAll(async () => {
    dir = makeTempDir('direct-map');
    img = makeImage({ media: 'hd', rev: '2.01', bs: BS }, dir);
    Object.assign(files, await putReadFixtures(img, dir));
  });
  afterAll(() => removeTempDir(dir));

  for (const readWrite of [false, true]) {
    test(`maps of files udfclient and pktfs wrote read as the files (${readWrite ? 'rw' : 'ro'}, over the packet layer)`, async () => {
      const image = await ImageDevice.open(img, { readOnly: !readWrite });
      const dev: BlockDevice = new PacketDevice(image, { packetBytes: 32768, flushDelayMs: Infinity });
      const vol: Volume = await openVolume(dev, { readWrite });
      try {
        for (const [name, data] of Object.entries(files)) {
          const map = await vol.directMap!(await vol.lookup(vol.rootIno, name));
          if (name === 'small.txt') {
            expect(map).toBeUndefined(); // 100 bytes: in the file entry itself
            continue;
          }
          expect(map).toBeDefined();
          expect(map!.size).toBe(data.length);
          expect(readByMap(img, map!).equals(data)).toBe(true);
          if (name === 'sparse.bin') expect(map!.runs[2]).toBe(-1);
          if (name === 'frag.bin') expect(map!.runs.length / 3).toBeGreaterThan(1);
        }
        expect(await vol.directMap!(vol.rootIno)).toBeUndefined();
      } finally {
        await vol.close();
        await dev.close();
      }
    });
  }

  test('no map for a file whose data waits in the packet cache; one once it is written out', async () => {
    const image = await ImageDevice.open(img, {});
    const dev = new PacketDevice(image, { packetBytes: 32768, flushDelayMs: Infinity });
    const vol = await openVolume(dev, { readWrite: true });
    try {
      const w = vol as Volume & { write(ino: number, off: number, data: Buffer): Promise<void>; create(d: number, n: string, m: number, u: number, g: number): Promise<number> };
      const ino = await w.create(vol.rootIno, 'late.bin', 0o644, 0, 0);
      const data = pseudoRandom('late', 200_000);
      await w.write(ino, 0, data);
      expect(await vol.directMap!(ino)).toBeUndefined();
      // A file written earlier, whose packets are clean, keeps its map meanwhile.
      expect(await vol.directMap!(await vol.lookup(vol.rootIno, 'big.bin'))).toBeDefined();
      await dev.flush();
      const map = await vol.directMap!(ino);
      expect(map).toBeDefined();
      expect(readByMap(img, map!).equals(data)).toBe(true);
    } finally {
      await vol.close();
      await dev.close();
    }
  });

  test('a file in more than DIRECT_MAP_MAX_RUNS pieces gets none (its reads stay with the packet layer)', async () => {
    const image = await ImageDevice.open(img, { readOnly: true });
    const vol = await openVolume(image, {});
    try {
      const space = (vol as unknown as { space: Space }).space;
      const extents = (n: number) => Array.from({ length: n }, (_, i) => ({ fileOffset: i * BS, length: BS, type: EXT_RECORDED_ALLOCATED, ref: 0, block: 2 * i + 300 }));
      const few = directMapOf(space, { kind: 'extents', extents: extents(100) }, 100 * BS);
      expect(few?.runs.length).toBe(300);
      expect(directMapOf(space, { kind: 'extents', extents: extents(DIRECT_MAP_MAX_RUNS + 1) }, (DIRECT_MAP_MAX_RUNS + 1) * BS)).toBeUndefined();
    } finally {
      await vol.close();
      await image.close();
    }
  });
});
