/**
 * Hand-made damage the fuzzer found (or would find), each fixed in src/udf and
 * kept here as a regression case. The read path allocated from on-disc lengths
 * without a bound: the sparing table's size in the LVD's partition map, a
 * directory's information length, the VAT's information length. The write
 * engine, on a read-write mount of a damaged volume: an embedded file claiming
 * petabytes, a directory longer than what is recorded, an LVID whose
 * implementation use runs past its block. The fuzz seeds that first showed them
 * are named (they hold for the fuzzer as committed with the fix).
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { buildFuzzTree, FUZZ_SPECS } from '../../bench/fuzz/images';
import { loadImage, runDamaged, LoadedImage, MAX_ALLOC_BYTES } from '../../bench/fuzz/case';
import { Overlay, OverlayDevice } from '../../bench/fuzz/overlay';
import { fixTag } from '../../bench/fuzz/mutate';
import { buildMatrixImage, specId } from '../helpers/images';
import { openVolume, isWritable } from '../../src/udf';
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

test('read-write: a file with 2^51 bytes embedded in its ICB answers EIO, it does not allocate them (fuzz seed 12 case 1642)', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const off = await entryOffset(i, 'one'); // one byte: embedded in the ICB
  expect(o.read(off + 34, 2).readUInt16LE(0) & 7).toBe(3);
  put64(o, off + 56, 2 ** 51);
  fixTag(o, off);
  const r = await runDamaged(i.name, o, ['one: information length 2^51'], -1, undefined, true);
  expect(r.failures).toEqual([]);
  expect(r.rw).toBe(true);
  expect(r.errnos.EIO).toBeGreaterThan(0);
  expect(r.entries).toBeGreaterThan(10);
});

test('read-write: a directory longer than its recorded extents answers EIO to the write engine', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const off = await entryOffset(i, 'many');
  put64(o, off + 56, 200e6);
  fixTag(o, off);
  const dev = new OverlayDevice(o, { maxReadBytes: MAX_ALLOC_BYTES, onHugeRead: () => undefined, writable: true });
  const vol = await openVolume(dev, { readWrite: true });
  if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
  const many = await vol.lookup(vol.rootIno, 'many');
  await expect(vol.readdir(many)).rejects.toMatchObject({ errno: 'EIO' });
  await expect(vol.create(many, 'x', 0o644, 0, 0)).rejects.toMatchObject({ errno: 'EIO' });
  await expect(vol.create(vol.rootIno, 'still', 0o644, 0, 0)).resolves.toBeGreaterThan(0);
  await vol.close();
});

test('read-write: an LVID whose implementation use runs past its block mounts read-only, saying why (fuzz seed 12 case 4279)', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const lvids = i.found.filter((f) => f.kind === 'lvid');
  expect(lvids.length).toBeGreaterThan(0);
  for (const l of lvids) {
    put32(o, l.off + 76, 65536); // 3/10.10.7 length of implementation use
    fixTag(o, l.off);
  }
  const r = await runDamaged(i.name, o, ['LVID L_IU 65536'], -1, undefined, true);
  expect(r.failures).toEqual([]);
  const vol = await openVolume(new OverlayDevice(o, { maxReadBytes: MAX_ALLOC_BYTES, onHugeRead: () => undefined, writable: true }), { readWrite: true });
  expect(vol.info.readOnlyReason).toMatch(/integrity descriptor claims \d+ bytes, more than its block/);
  await vol.close();
});

test('read-write: a space bitmap extent of 1 GiB is not read: the volume mounts read-only, saying why (fuzz seed 20261201 case 2284)', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const pds = i.found.filter((f) => f.kind === 'pd');
  for (const p of pds) {
    put32(o, p.off + 64, 0x3fffffff); // 4/14.3.2 unallocated space bitmap extent length, in the partition header (3/10.5.6)
    fixTag(o, p.off);
  }
  const r = await runDamaged(i.name, o, ['space bitmap extent 1 GiB'], -1, undefined, true);
  expect(r.failures).toEqual([]);
  const vol = await openVolume(new OverlayDevice(o, { maxReadBytes: MAX_ALLOC_BYTES, onHugeRead: () => undefined, writable: true }), { readWrite: true });
  expect(vol.info.readOnlyReason).toMatch(/the space bitmap takes \d+ blocks, a partition of \d+ blocks needs \d+/);
  await vol.close();
});

test('read-write: a partition longer than the medium mounts read-only, saying why; reading still works', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  for (const p of i.found.filter((f) => f.kind === 'pd')) {
    put32(o, p.off + 192, 0xfffffff0); // 3/10.5.9 partition length
    fixTag(o, p.off);
  }
  const r = await runDamaged(i.name, o, ['partition length 2^32 - 16'], -1, undefined, true);
  expect(r.failures).toEqual([]);
  expect(r.entries).toBeGreaterThan(10);
  const vol = await openVolume(new OverlayDevice(o, { maxReadBytes: MAX_ALLOC_BYTES, onHugeRead: () => undefined, writable: true }), { readWrite: true });
  expect(vol.info.readOnlyReason).toMatch(/runs past the end of the medium/);
  await vol.close();
});

test('a 16-bit name on the disc that is not UTF-16 (a lone surrogate) reads as a translated name that resolves', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const f = i.found.filter((x) => x.kind === 'fid').find((x) => o.read(x.off + 38 + o.read(x.off + 36, 2).readUInt16LE(0), 6).toString('latin1') === '\x08f2049')!;
  expect(f).toBeDefined();
  const name = f.off + 38 + o.read(f.off + 36, 2).readUInt16LE(0);
  o.write(name, Buffer.from([16, 0xd8])); // CS0 16-bit: U+D832 (a high surrogate alone), U+3034, one odd byte
  fixTag(o, f.off);
  for (const x of i.found) if ((x.kind === 'fe' || x.kind === 'efe') && x.off < f.off && f.off < x.off + x.len) fixTag(o, x.off);
  const r = await runDamaged(i.name, o, ['f2049 renamed to a lone surrogate']);
  expect(r.failures).toEqual([]);
  const vol = await openVolume(new OverlayDevice(o, { maxReadBytes: MAX_ALLOC_BYTES, onHugeRead: () => undefined }));
  const names = (await vol.readdir(vol.rootIno)).map((e) => e.name);
  const t = names.find((n) => n.startsWith('_\u3034#'));
  expect(t).toMatch(/^_\u3034#[0-9A-F]{4}$/);
  expect(Buffer.from(t!, 'utf8').toString('utf8')).toBe(t); // survives UTF-8, as FUSE passes it
  expect((await vol.read(await vol.lookup(vol.rootIno, t!), 0, 10000)).length).toBe(2049);
  await vol.close();
});

test('an entry whose ICB names a partition the volume does not have answers EIO, listed or not', async () => {
  const i = img['hd-2.01-b2048-short'];
  const o = new Overlay(i.base);
  const f = i.found.filter((x) => x.kind === 'fid').find((x) => o.read(x.off + 38 + o.read(x.off + 36, 2).readUInt16LE(0), 6).toString('latin1') === '\x08f2049')!;
  o.write(f.off + 28, Buffer.from([7, 0])); // 4/14.4.5 ICB long_ad: partition reference 7
  fixTag(o, f.off);
  for (const x of i.found) if ((x.kind === 'fe' || x.kind === 'efe') && x.off < f.off && f.off < x.off + x.len) fixTag(o, x.off);
  for (const rw of [false, true]) {
    const r = await runDamaged(i.name, o, ['f2049 in partition 7'], -1, undefined, rw);
    expect(r.failures).toEqual([]);
    expect(r.errnos.ENOENT).toBeUndefined();
    expect(r.samples?.EIO).toMatch(/f2049: inode \d+: its ICB is in partition 7, which the volume does not have/);
  }
});
