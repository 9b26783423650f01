/**
 * bin/stack.ts: every mount reads through the packet layer. The UDF reader asks
 * for blocks of 512 to 4096 bytes from a PacketDevice that presents the image's
 * 512-byte sectors; with packets of 1 to 32 frames and caches from a few packets
 * to the default, the whole tree reads back as udfclient wrote it. Also how the
 * packet size is chosen and what is refused.
 */
import fs from 'fs';
import path from 'path';
import { choosePacket, closeStack, openStack, packetLayer } from '../../bin/stack';
import { MemoryDevice } from '../../src/drive/memory';
import { FsError } from '../../src/errors';
import { parseMountOptions, splitOptions } from '../../src/options';
import { buildMatrixImage, type BuiltImage, type MatrixSpec } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, pool } from '../helpers/tools';
import { buildSourceTree, walkHost, walkVolume } from '../helpers/tree';

const TOOLS = haveTools('mkudffs', 'udfclient');
const maybe = TOOLS ? test : test.skip;
if (!TOOLS) test('skipped: mkudffs or udfclient missing', () => undefined);

const SPECS: MatrixSpec[] = [
  { media: 'hd', rev: '2.01', bs: 512 },
  { media: 'hd', rev: '2.00', bs: 4096 },
  { media: 'cdrw', rev: '2.01', bs: 1024 },
];
let dir: string;
let src: string;
const images: BuiltImage[] = [];

beforeAll(async () => {
  dir = makeTempDir('stack');
  if (!TOOLS) return;
  src = path.join(dir, 'src');
  fs.mkdirSync(src);
  buildSourceTree(src, 300_000);
  images.push(...(await pool(SPECS, 2, (s) => buildMatrixImage(s, dir, src))));
}, 120000);

afterAll(() => removeTempDir(dir));

const OPTION_SETS = ['', 'packet=1,cache=64K', 'packet=3,cache=64K,flush=0', 'packet=32,cache=128K'];

maybe.each(SPECS.map((s, i) => [`${s.media} ${s.rev} bs ${s.bs}`, i] as const))('%s: the tree reads back through packet layers of every shape', async (_name, i) => {
  const img = images[i];
  const want = walkHost(src, img.mapName);
  for (const words of OPTION_SETS) {
    const opts = parseMountOptions(splitOptions(words ? [words] : []));
    const stack = await openStack(img.path, opts);
    try {
      expect(stack.packets.sectorSize).toBe(512);
      expect(stack.volume.info.blockSize).toBe(img.blockSize);
      expect(await walkVolume(stack.volume, { chunk: 70_001 })).toEqual(want);
      const s = stack.packets.stats();
      expect(s.bytesReadFromDevice).toBeGreaterThan(0);
      expect(s.cachedBytes).toBeLessThanOrEqual(s.cacheBytes);
      expect(s.bytesDeviceWritten).toBe(0);
    } finally {
      await closeStack(stack);
    }
  }
});

describe('choosing the packet', () => {
  const image = new MemoryDevice({ sectorSize: 512, sectorCount: 4096 });
  const drive = Object.assign(new MemoryDevice({ sectorSize: 2048, sectorCount: 4096 }), {
    packetSize: 32, settings: { profileName: 'CD-RW' },
  });
  const opts = (w: string) => parseMountOptions(splitOptions(w ? [w] : []));

  test('an image: 16 sectors unless -o packet= says otherwise', () => {
    expect(choosePacket(image, opts(''))).toEqual({ sectors: 16, source: 'default', notices: [] });
    expect(choosePacket(image, opts('packet=5'))).toEqual({ sectors: 5, source: 'option', notices: [] });
  });

  test('a drive: the medium\'s packet; a different -o packet= is ignored with a notice, the same one silently', () => {
    expect(choosePacket(drive, opts(''))).toEqual({ sectors: 32, source: 'medium', notices: [] });
    expect(choosePacket(drive, opts('packet=32')).notices).toEqual([]);
    expect(choosePacket(drive, opts('packet=16'))).toEqual({
      sectors: 32, source: 'medium', notices: ['-o packet=16 ignored: the medium is written in packets of 32 sectors'],
    });
  });

  test('the PacketDevice gets the size, cache and idle delay asked for, and the device\'s sector size', () => {
    const { packets } = packetLayer(image, opts('packet=4,cache=1M,flush=50'));
    expect(packets).toMatchObject({ sectorSize: 512, sectorsPerPacket: 16, packetBytes: 8192, cacheBytes: 1 << 20, flushDelayMs: 50 });
    expect(packetLayer(drive, opts('')).packets).toMatchObject({ sectorSize: 2048, packetBytes: 65536, cacheBytes: 16 << 20 });
  });

  test('a cache too small for the medium\'s packets, or a packet not whole device sectors, is refused', () => {
    expect(() => packetLayer(drive, opts('cache=64K'))).toThrow(/cache=64K: holds fewer than two packets of 64K; give at least cache=128K/);
    const fourK = new MemoryDevice({ sectorSize: 4096, sectorCount: 1024 });
    expect(() => packetLayer(fourK, opts('packet=3'))).toThrow(FsError);
    expect(() => packetLayer(fourK, opts('packet=3'))).toThrow(/packet of 3 sectors \(6144 bytes\) is not a whole number of the device's 4096-byte sectors/);
    expect(packetLayer(fourK, opts('packet=2')).packets.sectorsPerPacket).toBe(1);
  });
});
