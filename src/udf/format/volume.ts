/**
 * Writing a fresh, empty UDF volume onto a BlockDevice (what mkudffs does),
 * laid out by layout.ts: the volume recognition sequence, three anchors, the
 * main and reserve volume descriptor sequences (PVD, LVD with a type 1 or a
 * sparable partition map, PD, USD, IUVD, TD, in mkudffs's order), the closed
 * integrity descriptor, two sparing tables on sparable media, and in the
 * partition the unallocated-space bitmap, the file set descriptor and the root
 * directory (a file entry below UDF 2.00, an extended file entry from 2.00, as
 * mkudffs writes them).
 *
 * Everything is assembled in memory first and then written in whole aligned
 * units of `writeUnitSectors` device sectors (the medium's packet on CD-RW and
 * DVD-RW, whose drives refuse anything else), zero-filled around the
 * descriptors. The system area before the partition and the area after it are
 * zeroed, as mkudffs erases them, and so are the anchor places a volume of
 * another block size would have used, so no stale volume is found later.
 *
 * Knows nothing of MMC: blanking and formatting the medium is src/drive/mmc/prepare.ts.
 */
import { randomBytes } from 'crypto';
import createDebug from 'debug';
import { FsError } from '../../errors';
import type { BlockDevice } from '../../drive/types';
import { encodeDstring } from '../cs0';
import { dateToTimestamp } from '../time';
import { OSTA_CS0, type Regid, type LongAd, type Timestamp } from '../codec/primitives';
import {
  avdp, pvd, lvd, pd, usd, iuvd, td, lvid, volStructDesc, encodePartitionHeader, sparablePartitionMapBytes,
  VSD_BEA01, VSD_NSR02, VSD_NSR03, VSD_TEA01, UDF_ID_SPARABLE,
  PD_ACCESS_OVERWRITABLE, PD_ACCESS_READ_ONLY, PD_ACCESS_REWRITABLE, PD_FLAG_ALLOCATED, LVID_INTEGRITY_CLOSE,
  type PartitionMap,
} from '../codec/volume';
import {
  fsd, fe, efe, fid, sbd, FT_DIRECTORY, ICB_FLAG_AD_IN_ICB, ICB_FLAG_SETUID, ICB_FLAG_SETGID, ICB_FLAG_STICKY, ICB_STRATEGY_4,
  FID_DIRECTORY, FID_PARENT,
  PERM_O_EXEC, PERM_O_READ, PERM_O_WRITE, PERM_G_EXEC, PERM_G_READ, PERM_G_WRITE, PERM_U_EXEC, PERM_U_READ, PERM_U_WRITE,
} from '../codec/file';
import { sparingTable, SPARING_ENTRY_FREE, UDF_ID_SPARING } from '../codec/partition';
import {
  finaliseTag, TAG_AVDP, TAG_PVD, TAG_LVD, TAG_PD, TAG_USD, TAG_IUVD, TAG_TD, TAG_LVID, TAG_FSD, TAG_FE, TAG_EFE,
  TAG_FID, TAG_SBD, TAG_SPARING_TABLE,
} from '../codec/tag';
import { PKTFS_IMP_IDENT } from '../write/ident';
import { planLayout, FORMAT_REVISIONS, type FormatMediaType, type VolumeLayout } from './layout';

const debug = createDebug('pktfs:udf:format');

/** 4/14.9.5: owner may change attributes (bit 13) and delete (bit 14), as mkudffs sets them on the root. */
const PERM_U_CHATTR = 0x2000;
const PERM_U_DELETE = 0x4000;
/** UDF 2.1.5.3 OS class UNIX, OS identifier Linux. */
const OS_CLASS_UNIX = 4;
const OS_ID_LINUX = 5;
/** UDF 3.2.1.1: unique IDs 1-15 are reserved; the root has 0, the first file gets 16. */
const FIRST_UNIQUE_ID = 16;
const BLOCK_SIZES = [512, 1024, 2048, 4096];

export interface FormatOptions {
  media: FormatMediaType;
  /** BCD UDF revision: 0x0102, 0x0150, 0x0200 or 0x0201 (default). */
  udfRev?: number;
  /** Logical block size (default 2048); a multiple of the device's sector size. */
  blockSize?: number;
  /** Logical volume, volume and file set identifier (default "LinuxUDF", as mkudffs). */
  label?: string;
  /** 16 hex digits starting the volume set identifier (UDF 2.2.2.5); random when absent. */
  uuid?: string;
  /** Owner, group and permission bits of the root directory (default 0, 0, 0755; -1 = not recorded). */
  uid?: number;
  gid?: number;
  mode?: number;
  /** Blocks of the volume (default: the whole device). */
  blocks?: number;
  /** Writes are whole aligned runs of this many device sectors (default: 64 KiB worth). */
  writeUnitSectors?: number;
  /** Recording time (default now). */
  now?: Date;
  /** Called as the volume is written: bytes done and in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface FormatResult {
  layout: VolumeLayout;
  udfRev: number;
  label: string;
  uuid: string;
  /** Blocks of the partition in use (space bitmap, file set descriptor, root) and free. */
  usedBlocks: number;
  freeBlocks: number;
  /** Device writes issued and bytes written. */
  writes: number;
  bytesWritten: number;
}

function udfRegid(ident: string, suffix: number[]): Regid {
  return {
    flags: 0,
    identifier: Uint8Array.from(Buffer.from(ident, 'latin1')),
    identifierSuffix: Uint8Array.from([...suffix, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8)),
  };
}

/** UDF 2.1.5.3: domain identifier suffix (revision, domain flags) and UDF identifier suffix (revision, OS). */
const domainIdent = (rev: number): Regid => udfRegid('*OSTA UDF Compliant', [rev & 0xff, rev >> 8, 0]);
const udfIdent = (id: string, rev: number): Regid => udfRegid(id, [rev & 0xff, rev >> 8, OS_CLASS_UNIX, OS_ID_LINUX]);
const APP_IDENT: Regid = udfRegid('*pktfs format', [OS_CLASS_UNIX, OS_ID_LINUX]);

/** Octal mode bits to ECMA-167 4/14.9.5 permissions. */
export function modeToPermissions(mode: number): number {
  const bit = (m: number, p: number): number => (mode & m ? p : 0);
  return bit(0o400, PERM_U_READ) | bit(0o200, PERM_U_WRITE) | bit(0o100, PERM_U_EXEC)
    | bit(0o040, PERM_G_READ) | bit(0o020, PERM_G_WRITE) | bit(0o010, PERM_G_EXEC)
    | bit(0o004, PERM_O_READ) | bit(0o002, PERM_O_WRITE) | bit(0o001, PERM_O_EXEC)
    | PERM_U_CHATTR | PERM_U_DELETE;
}

/** Set-uid, set-gid and sticky bits live in the ICB tag's flags (4/14.6.8). */
function modeToIcbFlags(mode: number): number {
  return (mode & 0o4000 ? ICB_FLAG_SETUID : 0) | (mode & 0o2000 ? ICB_FLAG_SETGID : 0) | (mode & 0o1000 ? ICB_FLAG_STICKY : 0);
}

/** The volume's blocks held in memory until they are written. */
class Image {
  readonly blocks = new Map<number, Buffer>();
  constructor(readonly bs: number) {}

  /** A zeroed buffer of `count` blocks that will be written at absolute block `at`. */
  put(at: number, count: number): Buffer {
    const buf = Buffer.alloc(count * this.bs);
    for (let i = 0; i < count; i++) this.blocks.set(at + i, buf.subarray(i * this.bs, (i + 1) * this.bs));
    return buf;
  }
}

interface Descriptors {
  rev: number;
  version: number;
  label: string;
  uuid: string;
  now: Timestamp;
  layout: VolumeLayout;
}

function tagged(buf: Buffer, ident: number, location: number, crcLength: number, d: Descriptors): void {
  finaliseTag(buf, 0, { tagIdent: ident, descVersion: d.version, tagSerialNum: 1, tagLocation: location, crcLength });
}

/** The volume descriptor sequence at `ext.start` (MVDS or RVDS): the same descriptors, their own locations. */
function writeVds(img: Image, d: Descriptors, at: number, parts: { maps: PartitionMap[]; mapTableLength: number; fsdLoc: LongAd; partitionHeader: Uint8Array }): void {
  const { layout: l, rev, now } = d;
  const zeroTag = { tagIdent: 0, descVersion: 0, tagChecksum: 0, tagSerialNum: 0, descCRC: 0, descCRCLength: 0, tagLocation: 0 };
  let b = img.put(at, 1);
  pvd.encode({
    descTag: zeroTag, volDescSeqNum: 1, primaryVolDescNum: 0,
    volIdent: encodeDstring(d.label, 32), volSeqNum: 1, maxVolSeqNum: 1,
    interchangeLvl: 3, maxInterchangeLvl: 3, charSetList: 1, maxCharSetList: 1, // UDF 2.2.2: CS0 only
    volSetIdent: encodeDstring(d.uuid + d.label, 128), descCharSet: OSTA_CS0, explanatoryCharSet: OSTA_CS0,
    volAbstract: { extLength: 0, extLocation: 0 }, volCopyright: { extLength: 0, extLocation: 0 },
    appIdent: APP_IDENT, recordingDateAndTime: now, impIdent: PKTFS_IMP_IDENT, impUse: new Uint8Array(64),
    predecessorVolDescSeqLocation: 0, flags: 1, // 3/10.1.21 bit 0: the volume set identification is common
  }, b, 0);
  tagged(b, TAG_PVD, at, pvd.size - 16, d);

  const lvdSize = lvd.size + parts.mapTableLength;
  b = img.put(at + 1, Math.ceil(lvdSize / img.bs));
  lvd.encode({
    descTag: zeroTag, volDescSeqNum: 2, descCharSet: OSTA_CS0, logicalVolIdent: encodeDstring(d.label, 128),
    logicalBlockSize: img.bs, domainIdent: domainIdent(rev), logicalVolContentsUse: parts.fsdLoc,
    mapTableLength: parts.mapTableLength, numPartitionMaps: parts.maps.length, impIdent: PKTFS_IMP_IDENT,
    impUse: new Uint8Array(128), integritySeqExt: { extLength: l.lvid.blocks * img.bs, extLocation: l.lvid.start },
    partitionMaps: parts.maps,
  }, b, 0);
  tagged(b, TAG_LVD, at + 1, lvdSize - 16, d);
  const next = at + 1 + Math.ceil(lvdSize / img.bs);

  b = img.put(next, 1);
  const access = l.access === 'read-only' ? PD_ACCESS_READ_ONLY : l.access === 'rewritable' ? PD_ACCESS_REWRITABLE : PD_ACCESS_OVERWRITABLE;
  pd.encode({
    descTag: zeroTag, volDescSeqNum: 3, partitionFlags: PD_FLAG_ALLOCATED, partitionNumber: 0,
    partitionContents: udfRegid(rev >= 0x0200 ? '+NSR03' : '+NSR02', []), partitionContentsUse: parts.partitionHeader,
    accessType: access, partitionStartingLocation: l.partition.start, partitionLength: l.partition.blocks,
    impIdent: PKTFS_IMP_IDENT, impUse: new Uint8Array(128),
  }, b, 0);
  tagged(b, TAG_PD, next, pd.size - 16, d);

  b = img.put(next + 1, 1);
  usd.encode({ descTag: zeroTag, volDescSeqNum: 4, allocDescs: [] }, b, 0);
  tagged(b, TAG_USD, next + 1, usd.size - 16, d);

  b = img.put(next + 2, 1);
  iuvd.encode({
    descTag: zeroTag, volDescSeqNum: 5, impIdent: udfIdent('*UDF LV Info', rev), lviCharset: OSTA_CS0,
    logicalVolIdent: encodeDstring(d.label, 128), lvInfo1: new Uint8Array(36), lvInfo2: new Uint8Array(36),
    lvInfo3: new Uint8Array(36), lviImpIdent: PKTFS_IMP_IDENT, lviImpUse: new Uint8Array(128),
  }, b, 0);
  tagged(b, TAG_IUVD, next + 2, iuvd.size - 16, d);

  b = img.put(next + 3, 1);
  td.encode({ descTag: zeroTag }, b, 0);
  tagged(b, TAG_TD, next + 3, td.size - 16, d);
}

/** Check what a caller may get wrong; the layout checks the rest. */
function checkOptions(dev: BlockDevice, o: FormatOptions, bs: number, rev: number): void {
  if (dev.readOnly) throw new FsError('EROFS', `${dev.description} is read-only`);
  if (!BLOCK_SIZES.includes(bs)) throw new FsError('EINVAL', `block size ${bs}: use 512, 1024, 2048 or 4096`);
  if (bs % dev.sectorSize !== 0) {
    throw new FsError('EINVAL', `block size ${bs} is smaller than the ${dev.sectorSize}-byte sectors of ${dev.description}`);
  }
  if (!FORMAT_REVISIONS.includes(rev)) throw new FsError('EINVAL', `UDF revision ${rev.toString(16)}: pktfs formats 1.02, 1.50, 2.00 and 2.01`);
  if ((o.media === 'cdrw' || o.media === 'dvdrw') && rev < 0x0150) {
    throw new FsError('EINVAL', `a ${o.media} volume needs UDF 1.50 or later (sparable partitions came with 1.50)`);
  }
  if (o.uuid !== undefined && !/^[0-9a-fA-F]{16}$/.test(o.uuid)) throw new FsError('EINVAL', `uuid "${o.uuid}": 16 hexadecimal digits`);
  for (const [k, v] of [['uid', o.uid], ['gid', o.gid]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= -1 && v <= 0xfffffffe)) throw new FsError('EINVAL', `${k} ${v}: a number from 0 to 4294967294, or -1`);
  }
  if (o.mode !== undefined && !(Number.isInteger(o.mode) && o.mode >= 0 && o.mode <= 0o7777)) throw new FsError('EINVAL', `mode ${o.mode}: octal 0 to 7777`);
}

/** Lay out and build every block of the new volume, in memory. */
function buildVolume(o: FormatOptions, bs: number, rev: number, blocks: number): { img: Image; result: Omit<FormatResult, 'writes' | 'bytesWritten'> } {
  const layout = planLayout({ media: o.media, blocks, blockSize: bs, udfRev: rev });
  const label = o.label ?? 'LinuxUDF';
  const uuid = (o.uuid ?? randomBytes(8).toString('hex')).toLowerCase();
  const now = dateToTimestamp(o.now ?? new Date());
  const d: Descriptors = { rev, version: rev >= 0x0200 ? 3 : 2, label, uuid, now, layout };
  const img = new Image(bs);

  // Volume recognition sequence, ECMA-167 2/9.1 and 3/9.1.
  for (const [i, ident] of [VSD_BEA01, rev >= 0x0200 ? VSD_NSR03 : VSD_NSR02, VSD_TEA01].entries()) {
    const b = img.put(layout.vrs[i], 1);
    volStructDesc.encode({ structureType: 0, standardIdent: ident, structureVersion: 1 }, b, 0);
  }

  // The partition's contents, in partition blocks: space bitmap, FSD, root.
  const p = layout.partition;
  const bitmapBytes = Math.ceil(p.blocks / 8);
  const bitmapBlocks = Math.ceil((sbd.size + bitmapBytes) / bs);
  const fsdBlock = bitmapBlocks;
  const rootBlock = fsdBlock + 1;
  const usedBlocks = rootBlock + 1;
  const freeBlocks = p.blocks - usedBlocks;

  const bitmap = new Uint8Array(bitmapBytes).fill(0xff); // 4/14.12.4: a set bit is a free block
  if (p.blocks % 8) bitmap[bitmapBytes - 1] = 0xff >> (8 - (p.blocks % 8));
  for (let i = 0; i < usedBlocks; i++) bitmap[i >> 3] &= ~(1 << (i & 7));
  let b = img.put(p.start, bitmapBlocks);
  const zeroTag = { tagIdent: 0, descVersion: 0, tagChecksum: 0, tagSerialNum: 0, descCRC: 0, descCRCLength: 0, tagLocation: 0 };
  sbd.encode({ descTag: zeroTag, numOfBits: p.blocks, numOfBytes: bitmapBytes, bitmap }, b, 0);
  // The CRC covers only the header, as mkudffs does: a bitmap of a big disc is longer than a u16 CRC length.
  tagged(b, TAG_SBD, 0, sbd.size - 16, d);

  const rootIcb: LongAd = { extLength: bs, extLocation: { logicalBlockNum: rootBlock, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) };
  b = img.put(p.start + fsdBlock, 1);
  const noAd: LongAd = { extLength: 0, extLocation: { logicalBlockNum: 0, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) };
  fsd.encode({
    descTag: zeroTag, recordingDateAndTime: now, interchangeLvl: 3, maxInterchangeLvl: 3, charSetList: 1, maxCharSetList: 1,
    fileSetNum: 0, fileSetDescNum: 0, logicalVolIdentCharSet: OSTA_CS0, logicalVolIdent: encodeDstring(label, 128),
    fileSetCharSet: OSTA_CS0, fileSetIdent: encodeDstring(label, 32), copyrightFileIdent: new Uint8Array(32),
    abstractFileIdent: new Uint8Array(32), rootDirectoryICB: rootIcb, domainIdent: domainIdent(rev), nextExt: noAd,
    streamDirectoryICB: noAd,
  }, b, 0);
  tagged(b, TAG_FSD, fsdBlock, fsd.size - 16, d);

  // Root directory: its one FID (the parent, itself: 4/8.6, UDF 2.3.4) embedded in the ICB (4/14.6.8).
  const fidSize = fid.sizeOf(0, 0);
  const fidBuf = Buffer.alloc(fidSize);
  fid.encode({
    descTag: zeroTag, fileVersionNum: 1, fileCharacteristics: FID_DIRECTORY | FID_PARENT, lengthFileIdent: 0,
    icb: rootIcb, lengthOfImpUse: 0, impUse: new Uint8Array(0), fileIdent: new Uint8Array(0),
  }, fidBuf, 0);
  finaliseTag(fidBuf, 0, { tagIdent: TAG_FID, descVersion: d.version, tagSerialNum: 1, tagLocation: rootBlock, crcLength: fidSize - 16 });
  const common = {
    descTag: zeroTag,
    icbTag: {
      priorRecordedNumDirectEntries: 0, strategyType: ICB_STRATEGY_4, strategyParameter: 0, numEntries: 1,
      fileType: FT_DIRECTORY, parentICBLocation: { logicalBlockNum: 0, partitionReferenceNum: 0 }, flags: ICB_FLAG_AD_IN_ICB | modeToIcbFlags(o.mode ?? 0o755),
    },
    uid: (o.uid ?? 0) >>> 0, gid: (o.gid ?? 0) >>> 0, permissions: modeToPermissions(o.mode ?? 0o755),
    fileLinkCount: 1, recordFormat: 0, recordDisplayAttr: 0, recordLength: 0,
    informationLength: fidSize, logicalBlocksRecorded: 0, accessTime: now, modificationTime: now, attrTime: now,
    checkpoint: 1, extendedAttrICB: noAd, impIdent: PKTFS_IMP_IDENT, uniqueID: 0,
    lengthExtendedAttr: 0, lengthAllocDescs: fidSize, extendedAttr: new Uint8Array(0), allocDescs: Uint8Array.from(fidBuf),
  };
  b = img.put(p.start + rootBlock, 1);
  if (rev >= 0x0200) {
    efe.encode({ kind: 'efe', ...common, objectSize: fidSize, createTime: now, streamDirectoryICB: noAd }, b, 0);
    tagged(b, TAG_EFE, rootBlock, efe.size + fidSize - 16, d);
  } else {
    fe.encode({ kind: 'fe', ...common }, b, 0);
    tagged(b, TAG_FE, rootBlock, fe.size + fidSize - 16, d);
  }

  // Sparing tables (UDF 2.2.12): every entry free, mapped to its packet of the sparing space.
  const maps: PartitionMap[] = [];
  const sp = layout.sparing;
  if (sp) {
    const tableBytes = sparingTable.size + 8 * sp.entries;
    const mapEntries = Array.from({ length: sp.entries }, (_, i) => ({ origLocation: SPARING_ENTRY_FREE, mappedLocation: sp.space.start + i * sp.packetLength }));
    for (const at of sp.tables) {
      b = img.put(at, Math.ceil(tableBytes / bs));
      sparingTable.encode({ descTag: zeroTag, sparingIdent: udfIdent(UDF_ID_SPARING, rev), reallocationTableLen: sp.entries, sequenceNum: 0, mapEntries }, b, 0);
      tagged(b, TAG_SPARING_TABLE, at, tableBytes - 16, d);
    }
    const raw = sparablePartitionMapBytes({
      partIdent: udfIdent(UDF_ID_SPARABLE, rev), volSeqNum: 1, partitionNum: 0, packetLength: sp.packetLength,
      sizeSparingTable: tableBytes, locSparingTable: sp.tables,
    });
    maps.push({
      partitionMapType: 2, kind: 'sparable', partIdent: udfIdent(UDF_ID_SPARABLE, rev), volSeqNum: 1, partitionNum: 0,
      packetLength: sp.packetLength, numSparingTables: sp.tables.length, sizeSparingTable: tableBytes, locSparingTable: sp.tables, raw,
    });
  } else {
    maps.push({ partitionMapType: 1, volSeqNum: 1, partitionNum: 0 });
  }
  const mapTableLength = sp ? 64 : 6;
  const partitionHeader = encodePartitionHeader({
    unallocSpaceTable: { extLength: 0, extPosition: 0 },
    unallocSpaceBitmap: { extLength: bitmapBlocks * bs, extPosition: 0 },
    partitionIntegrityTable: { extLength: 0, extPosition: 0 },
    freedSpaceTable: { extLength: 0, extPosition: 0 },
    freedSpaceBitmap: { extLength: 0, extPosition: 0 },
  });
  const fsdLoc: LongAd = { extLength: bs, extLocation: { logicalBlockNum: fsdBlock, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) };
  writeVds(img, d, layout.mvds.start, { maps, mapTableLength, fsdLoc, partitionHeader });
  writeVds(img, d, layout.rvds.start, { maps, mapTableLength, fsdLoc, partitionHeader });

  // The closed integrity descriptor (3/10.10, UDF 2.2.6), the rest of its extent left zero (unrecorded).
  const lvidSize = lvid.size + 8 + 46;
  b = img.put(layout.lvid.start, Math.ceil(lvidSize / bs));
  lvid.encode({
    descTag: zeroTag, recordingDateAndTime: now, integrityType: LVID_INTEGRITY_CLOSE, nextIntegrityExt: { extLength: 0, extLocation: 0 },
    uniqueID: FIRST_UNIQUE_ID, numOfPartitions: 1, lengthOfImpUse: 46, freeSpaceTable: [freeBlocks], sizeTable: [p.blocks],
    impUse: { impIdent: PKTFS_IMP_IDENT, numFiles: 0, numDirs: 1, minUDFReadRev: rev, minUDFWriteRev: rev, maxUDFWriteRev: rev, impUse: new Uint8Array(0) },
    rawImpUse: new Uint8Array(46),
  }, b, 0);
  tagged(b, TAG_LVID, layout.lvid.start, lvidSize - 16, d);

  // Anchors (3/10.2) last: they point at both sequences.
  for (const at of layout.anchors) {
    b = img.put(at, 1);
    avdp.encode({
      descTag: zeroTag,
      mainVolDescSeqExt: { extLength: layout.mvds.blocks * bs, extLocation: layout.mvds.start },
      reserveVolDescSeqExt: { extLength: layout.rvds.blocks * bs, extLocation: layout.rvds.start },
    }, b, 0);
    tagged(b, TAG_AVDP, at, avdp.size - 16, d);
  }
  return { img, result: { layout, udfRev: rev, label, uuid, usedBlocks, freeBlocks } };
}

/** Byte ranges [start, end) to zero: outside the partition, and other block sizes' anchor places. */
function eraseRanges(layout: VolumeLayout, byteSize: number): [number, number][] {
  const bs = layout.blockSize;
  const p = layout.partition;
  const out: [number, number][] = [[0, p.start * bs], [(p.start + p.blocks) * bs, layout.blocks * bs]];
  for (const other of BLOCK_SIZES) {
    if (other === bs) continue;
    const n = Math.floor(byteSize / other);
    for (const a of [256, n - 257, n - 1]) if (a > 0) out.push([a * other, (a + 1) * other]);
  }
  return out;
}

/**
 * Format `dev` with a fresh, empty UDF volume. Throws FsError (EINVAL for bad
 * options, ENOSPC for a medium too small, EROFS, EIO from the device); nothing
 * is written before the options and the layout are known to be good.
 */
export async function formatVolume(dev: BlockDevice, o: FormatOptions): Promise<FormatResult> {
  const bs = o.blockSize ?? 2048;
  const rev = o.udfRev ?? 0x0201;
  checkOptions(dev, o, bs, rev);
  const byteSize = dev.sectorCount * dev.sectorSize;
  const blocks = o.blocks ?? Math.floor(byteSize / bs);
  if (blocks * bs > byteSize) throw new FsError('ENOSPC', `${blocks} blocks of ${bs} bytes do not fit on ${dev.description} (${byteSize} bytes)`);
  const { img, result } = buildVolume(o, bs, rev, blocks);

  // Whole aligned units to write: every one touched by a block of the volume or an erased range.
  const ss = dev.sectorSize;
  let unitSectors = o.writeUnitSectors ?? Math.max(1, Math.floor(65536 / ss));
  while ((unitSectors * ss) % bs) unitSectors *= 2; // a block never straddles two units
  const unitBytes = unitSectors * ss;
  const units = new Set<number>();
  for (const blk of img.blocks.keys()) {
    for (let u = Math.floor((blk * bs) / unitBytes); u * unitBytes < (blk + 1) * bs; u++) units.add(u);
  }
  for (const [s, e] of eraseRanges(result.layout, byteSize)) {
    for (let u = Math.floor(s / unitBytes); u * unitBytes < e; u++) units.add(u);
  }
  const sorted = [...units].filter((u) => u * unitSectors < dev.sectorCount).sort((a, b) => a - b);
  const maxRun = Math.max(1, Math.floor((1 << 20) / unitBytes));
  const runs: [number, number][] = [];
  for (const u of sorted) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === u && last[1] < maxRun) last[1]++;
    else runs.push([u, 1]);
  }
  const total = runs.reduce((n, [u, c]) => n + Math.min(c * unitSectors, dev.sectorCount - u * unitSectors) * ss, 0);
  let done = 0;
  let writes = 0;
  o.onProgress?.(0, total);
  for (const [u, c] of runs) {
    const firstSector = u * unitSectors;
    const sectors = Math.min(c * unitSectors, dev.sectorCount - firstSector);
    const buf = Buffer.alloc(sectors * ss);
    const startByte = firstSector * ss;
    const firstBlock = Math.floor(startByte / bs);
    const lastBlock = Math.ceil((startByte + buf.length) / bs);
    for (let blk = firstBlock; blk < lastBlock; blk++) {
      const data = img.blocks.get(blk);
      if (data) data.copy(buf, blk * bs - startByte);
    }
    await dev.write(firstSector, buf);
    writes++;
    done += buf.length;
    o.onProgress?.(done, total);
  }
  await dev.flush();
  debug('formatted %s: %s, UDF %s, %d-byte blocks, partition %d+%d, %d writes, %d bytes',
    dev.description, o.media, rev.toString(16), bs, result.layout.partition.start, result.layout.partition.blocks, writes, done);
  return { ...result, writes, bytesWritten: done };
}
