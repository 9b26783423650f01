/**
 * Damaged images: a bad descriptor makes that file or directory fail with
 * EIO/ELOOP while the rest stays readable; main VDS damage falls back to the
 * reserve sequence; the sparing table is used on reads; the metadata mirror
 * file stands in for a damaged metadata file.
 */
import { join } from 'path';
import { execFileSync } from 'child_process';
import {
  tempDir, removeDir, makeHostTree, fillWithUdfclient, mkudffs, mount, resolve, readAt, writeAt,
  partitionByte, copyImage, fixture, HostTree,
} from './volume-util';
import { fe, efe, fid, FID_DIRECTORY, ICB_FLAG_AD_MASK, ICB_FLAG_AD_SHORT, ICB_FLAG_AD_LONG } from '../../src/udf/codec/file';
import { sparingTable } from '../../src/udf/codec/partition';
import { pvd } from '../../src/udf/codec/volume';
import { TAG_AED, TAG_FE, TAG_FID, finaliseTag, tag as tagCodec } from '../../src/udf/codec/tag';
import { shortAd, longAd, EXT_NEXT_EXTENT_OF_ADS } from '../../src/udf/codec/primitives';
import { locOf } from '../../src/udf/attr';

let dir: string;
let tree: HostTree;
let base: string;
const BS = 2048;

beforeAll(() => {
  dir = tempDir();
  tree = makeHostTree(dir);
  base = join(dir, 'base.img');
  mkudffs(base, ['--media-type=hd', `--blocksize=${BS}`], 30000);
  fillWithUdfclient(base, BS, tree);
});
afterAll(() => removeDir(dir));

/** Absolute byte offset of the file entry of `path`. */
async function feOffset(img: string, path: string): Promise<number> {
  const { vol, dev } = await mount(img);
  const loc = locOf(await resolve(vol, path));
  const off = partitionByte(vol, loc.partitionReferenceNum, loc.logicalBlockNum);
  await dev.close();
  return off;
}

/** The FE or EFE at the start of `b`, and where its allocation descriptors start. */
function entryAt(b: Buffer) {
  const isFe = b.readUInt16LE(0) === TAG_FE;
  const entry = isFe ? fe.decode(b, 0) : efe.decode(b, 0);
  return { entry, adOffset: (isFe ? fe.size : efe.size) + entry.lengthExtendedAttr };
}

/** Re-finalise the tag of the descriptor at `off` after editing it (same CRC length, location, serial). */
function refinalise(buf: Buffer, off: number): void {
  const t = tagCodec.decode(buf, off);
  finaliseTag(buf, off, { tagIdent: t.tagIdent, descVersion: t.descVersion, tagSerialNum: t.tagSerialNum, tagLocation: t.tagLocation, crcLength: t.descCRCLength });
}

test('a file entry with a bad CRC gives EIO for that file only', async () => {
  const img = copyImage(base, join(dir, 'badcrc.img'));
  const off = await feOffset(img, 'one');
  const b = readAt(img, off, BS);
  b[100] ^= 0xff; // inside the CRC-covered body
  writeAt(img, off, b);
  const { vol, dev } = await mount(img);
  const ino = await resolve(vol, 'one');
  await expect(vol.getattr(ino)).rejects.toMatchObject({ errno: 'EIO' });
  await expect(vol.read(ino, 0, 1)).rejects.toMatchObject({ errno: 'EIO' });
  await expect(vol.getattr(ino)).rejects.toThrow(/CRC/);
  const f = await resolve(vol, 'f2047');
  expect((await vol.read(f, 0, 4096)).equals(tree.files.get('f2047')!)).toBe(true);
  expect((await vol.readdir(vol.rootIno)).map((e) => e.name)).toContain('one');
  await dev.close();
});

test('an allocation extent chain that loops gives EIO for that file only', async () => {
  const img = copyImage(base, join(dir, 'aedloop.img'));
  const off = await feOffset(img, 'sub/deeper/rand');
  const b = readAt(img, off, BS);
  const { entry, adOffset } = entryAt(b);
  const adType = entry.icbTag.flags & ICB_FLAG_AD_MASK;
  expect([ICB_FLAG_AD_SHORT, ICB_FLAG_AD_LONG]).toContain(adType);
  const { vol, dev } = await mount(img);
  const part = vol.info.partitions[0];
  await dev.close();
  const aedBlock = part.length - 10; // unused space near the end of the partition
  // The file's first AD now points to an AED whose only AD points back to that AED.
  const extLength = ((EXT_NEXT_EXTENT_OF_ADS << 30) | BS) >>> 0;
  const adSize = adType === ICB_FLAG_AD_SHORT ? shortAd.size : longAd.size;
  const putAd = (buf: Buffer, at: number) => (adType === ICB_FLAG_AD_SHORT
    ? shortAd.encode({ extLength, extPosition: aedBlock }, buf, at)
    : longAd.encode({ extLength, extLocation: { logicalBlockNum: aedBlock, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) }, buf, at));
  putAd(b, adOffset);
  refinalise(b, 0);
  writeAt(img, off, b);
  const a = Buffer.alloc(BS);
  a.writeUInt32LE(0, 16);
  a.writeUInt32LE(adSize, 20);
  putAd(a, 24);
  finaliseTag(a, 0, { tagIdent: TAG_AED, descVersion: 2, tagSerialNum: 0, tagLocation: aedBlock, crcLength: 8 + adSize });
  writeAt(img, (part.start + aedBlock) * BS, a);

  const m = await mount(img);
  const ino = await resolve(m.vol, 'sub/deeper/rand');
  await expect(m.vol.read(ino, 0, 10)).rejects.toMatchObject({ errno: 'EIO' });
  await expect(m.vol.read(ino, 0, 10)).rejects.toThrow(/loops/);
  const ok = await resolve(m.vol, 'sub/deeper/f2049');
  expect((await m.vol.read(ok, 0, 9999)).equals(tree.files.get('sub/deeper/f2049')!)).toBe(true);
  await m.dev.close();
});

test('a directory entry pointing back to an ancestor gives ELOOP', async () => {
  const img = copyImage(base, join(dir, 'dirloop.img'));
  const { vol, dev } = await mount(img);
  const subLoc = locOf(await resolve(vol, 'sub'));
  await dev.close();
  const off = await feOffset(img, 'sub/deeper');
  const b = readAt(img, off, BS);
  // Find the FID of f2049 in the directory (embedded in the ICB by udfclient, or in its first block).
  let pos = -1;
  for (let p = 0; p + 38 < BS; p += 4) {
    if (b.readUInt16LE(p) !== TAG_FID) continue;
    const f = fid.decode(b, p);
    if (Buffer.from(f.fileIdent).toString('latin1') === '\u0008f2049') pos = p;
  }
  expect(pos).toBeGreaterThan(0);
  const f = fid.decode(b, pos);
  f.icb.extLocation = subLoc;
  f.fileCharacteristics |= FID_DIRECTORY;
  fid.encode(f, b, pos);
  refinalise(b, pos);
  if (b.readUInt16LE(0) !== TAG_FID) refinalise(b, 0); // the FID sits inside the file entry
  writeAt(img, off, b);

  const m = await mount(img);
  const deeper = await resolve(m.vol, 'sub/deeper');
  await expect(m.vol.lookup(deeper, 'f2049')).rejects.toMatchObject({ errno: 'ELOOP' });
  expect((await m.vol.read(await m.vol.lookup(deeper, 'rand'), 0, 10)).length).toBe(10);
  await m.dev.close();
});

test('a damaged descriptor in the main VDS is taken from the reserve VDS, with a warning', async () => {
  const img = copyImage(base, join(dir, 'vds.img'));
  const u = execFileSync('udfinfo', [img]).toString();
  const mvds = Number(/start=(\d+), blocks=\d+, type=MVDS/.exec(u)![1]);
  let pvdBlock = -1;
  for (let blk = mvds; blk < mvds + 16; blk++) if (readAt(img, blk * BS, 2).readUInt16LE(0) === 1) pvdBlock = blk;
  expect(pvdBlock).toBeGreaterThanOrEqual(mvds);
  const b = readAt(img, pvdBlock * BS, BS);
  expect(pvd.decode(b, 0).descTag.tagIdent).toBe(1);
  b[30] ^= 0x55;
  writeAt(img, pvdBlock * BS, b);
  const { vol, dev } = await mount(img);
  expect(vol.info.warnings.join('\n')).toMatch(/reserve/);
  expect(vol.info.volumeId).toBe('LinuxUDF');
  expect((await vol.readdir(vol.rootIno)).length).toBe(5);
  await dev.close();
});

test('the sparing table is used for every read of a sparable partition', async () => {
  const img = join(dir, 'spar.img');
  mkudffs(img, ['--media-type=cdrw'], 30000);
  fillWithUdfclient(img, BS, tree);
  const { vol, dev } = await mount(img);
  const part = vol.info.partitions[0];
  expect(part.kind).toBe('sparable');
  const loc = locOf(await resolve(vol, 'sub/deeper/rand'));
  await dev.close();
  const { entry } = entryAt(readAt(img, (part.start + loc.logicalBlockNum) * BS, BS));
  const ads = Buffer.from(entry.allocDescs);
  const first = (entry.icbTag.flags & ICB_FLAG_AD_MASK) === ICB_FLAG_AD_SHORT
    ? shortAd.decode(ads, 0).extPosition : longAd.decode(ads, 0).extLocation.logicalBlockNum;
  const pl = part.packetLength!;
  const packet = first - (first % pl) + pl; // a packet wholly inside the file's data
  // Move that packet to the first spare packet and record it in both sparing tables.
  const u = execFileSync('udfinfo', [img]).toString();
  const tables = [...u.matchAll(/start=(\d+), blocks=(\d+), type=STABLE/g)].map((x) => [Number(x[1]), Number(x[2])]);
  expect(tables.length).toBeGreaterThan(0);
  let mapped = -1;
  for (const [t, n] of tables) {
    const b = readAt(img, t * BS, n * BS);
    const st = sparingTable.decode(b, 0);
    mapped = st.mapEntries[0].mappedLocation;
    st.mapEntries[0].origLocation = packet;
    sparingTable.encode(st, b, 0);
    refinalise(b, 0);
    writeAt(img, t * BS, b);
  }
  const data = readAt(img, (part.start + packet) * BS, pl * BS);
  writeAt(img, mapped * BS, data);
  writeAt(img, (part.start + packet) * BS, Buffer.alloc(pl * BS, 0xee));

  const m = await mount(img);
  expect(m.vol.info.partitions[0].sparingUsed).toBe(1);
  const content = tree.files.get('sub/deeper/rand')!;
  const ino = await resolve(m.vol, 'sub/deeper/rand');
  expect((await m.vol.read(ino, 0, content.length)).equals(content)).toBe(true);
  await m.dev.close();
});

test('a damaged metadata file falls back to the metadata mirror file', async () => {
  const img = fixture('udf-hdd-macosx-2.60-4096', dir);
  if (!img) {
    console.log('skipped: ../shared/fixtures/udf not present');
    return;
  }
  const { vol, dev } = await mount(img);
  const names = (await vol.readdir(vol.rootIno)).map((e) => e.name);
  const meta = vol.info.partitions.find((p) => p.kind === 'metadata')!;
  expect(meta).toBeDefined();
  await dev.close();
  // The metadata file's FE: the physical block the LVD's metadata map names (UDF 2.2.10).
  const bs = vol.info.blockSize;
  let feBlock = -1;
  for (let blk = meta.start; blk < meta.start + 64; blk++) {
    const b = readAt(img, blk * bs, 32);
    if (b.readUInt16LE(0) === 266 && b[16 + 11] === 250) feBlock = blk; // EFE with file type 250
  }
  expect(feBlock).toBeGreaterThan(0);
  const b = readAt(img, feBlock * bs, bs);
  b[200] ^= 0xff;
  writeAt(img, feBlock * bs, b);
  const m = await mount(img);
  expect(m.vol.info.warnings.join('\n')).toMatch(/mirror/);
  expect((await m.vol.readdir(m.vol.rootIno)).map((e) => e.name)).toEqual(names);
  await m.dev.close();
});
