/**
 * Hand-made damage the fuzzer found (or would find) that made the read path
 * allocate from an on-disc length without a bound, each fixed in src/udf and
 * kept here as a regression case: the sparing table's size in the LVD's
 * partition map, a directory's information length, the VAT's information length.
 * Plus the fuzz seeds that first showed them.
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { buildFuzzTree, FUZZ_SPECS } from '../../bench/fuzz/images';
import { loadImage, runDamaged, LoadedImage, MAX_ALLOC_BYTES } from '../../bench/fuzz/case';
import { Overlay, OverlayDevice } from '../../bench/fuzz/overlay';
import { fixTag } from '../../bench/fuzz/mutate';
import { buildMatrixImage, specId } from '../helpers/images';
import { openVolume } from '../../src/udf';
import { locOf } from '../../src/udf/attr';

let dir: string;
const img: Record<string, LoadedImage> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pktfs-fuzzdmg-'));
  const src = path.join(dir, 'tree');
  buildFuzzTree(src);
  const want = ['hd-2.01-b2048-short', 'cdrw-2.01-b2048-short', 'cdr-2.01-b2048'];
  for (const s of FUZZ_SPECS.filter((x) => want.includes(specId(x)))) {
    const b = await buildMatrixImage(s, dir, src);
    img[specId(s)] = loadImage({ name: specId(s), path: b.path });
  }
}, 120000);
afterAll(() => {
  for (const i of Object.values(img)) i.base.close();
  rmSync(dir, { recursive: true, force: true });
});

function put32(o: Overlay, off: number, v: number): void {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  o.write(off, b);
}

function put64(o: Overlay, off: number, v: number): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  o.write(off, b);
}

/** Byte offset in the image of the file entry of `name` in the root (found with the reader on the pristine image). */
async function entryOffset(i: LoadedImage, name: string | null): Promise<number> {
  const vol = await openVolume(new OverlayDevice(new Overlay(i.base), { maxReadBytes: 1 << 30, onHugeRead: () => undefined }));
  const ino = name === null ? vol.rootIno : await vol.lookup(vol.rootIno, name);
  const part = vol.info.partitions[locOf(ino).partitionReferenceNum];
  return (part.start + locOf(ino).logicalBlockNum) * vol.info.blockSize;
}

test('a sparing table size of 1.7 GB in the partition map reads one table, not 1.7 GB (fuzz seed 9 case 8828)', async () => {
  const i = img['cdrw-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const maps = i.found.filter((f) => f.kind === 'pmap-sparable');
  expect(maps.length).toBeGreaterThan(0);
  for (const m of maps) put32(o, m.off + 44, 1748951521); // UDF 2.2.9: size of each sparing table
  for (const lvd of i.found.filter((f) => f.kind === 'lvd')) fixTag(o, lvd.off);
  const r = await runDamaged(i.name, o, ['sparing table size 1748951521']);
  expect(r.failures).toEqual([]);
  expect(r.mount).toBe('mounted');
  expect(r.entries).toBeGreaterThan(10);
  expect(r.errnos).toEqual({});
});

test('a directory claiming 200 MB, of which one block is recorded, lists its entries from that block', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const off = await entryOffset(i, 'many');
  expect(200e6).toBeGreaterThan(MAX_ALLOC_BYTES);
  put64(o, off + 56, 200e6); // 4/14.17.10 information length (EFE)
  fixTag(o, off);
  const r = await runDamaged(i.name, o, ['many/ information length 200 MB']);
  expect(r.failures).toEqual([]);
  expect(r.entries).toBeGreaterThan(15); // the 12 entries of many/ among them
  expect(r.errnos).toEqual({});
});

test('a directory whose recorded extent is longer than the medium answers EIO, the rest of the tree reads', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const off = await entryOffset(i, 'many');
  const claimed = 150 << 20; // under the 256 MiB bound of directories, over the 128 MiB medium
  expect(i.base.length).toBeLessThan(claimed);
  put64(o, off + 56, claimed);
  const lEa = o.read(off + 208, 4).readUInt32LE(0);
  put32(o, off + 216 + lEa, claimed); // first short_ad: recorded
  fixTag(o, off);
  const r = await runDamaged(i.name, o, ['many/ extent of 150 MiB']);
  expect(r.failures).toEqual([]);
  expect(r.errnos).toEqual({ EIO: 1 }); // readdir of many/
  expect(r.entries).toBeGreaterThan(5);
});

test('a VAT claiming 60 MB is not read into memory: the mount says EIO', async () => {
  const i = img['cdr-2.01-b2048'];
  const o = new Overlay(i.base);
  const vats = i.found.filter((f) => f.kind === 'vat');
  expect(vats.length).toBe(1);
  // The VAT's data sits in its (extended) file entry; the entry's tag is the structure before it.
  const fe = i.found.filter((f) => (f.kind === 'fe' || f.kind === 'efe') && f.off < vats[0].off).pop()!;
  put64(o, fe.off + 56, 60e6);
  fixTag(o, fe.off);
  const r = await runDamaged(i.name, o, ['VAT information length 60 MB']);
  expect(r.failures).toEqual([]);
  expect(r.mount).toBe('EIO');
});
