/**
 * File entries and their data: reading an ICB (ECMA-167 4/14.6) through
 * indirect entries and strategy 4096 (4/A.5), decoding FE/EFE, collecting
 * allocation descriptors across allocation extent chains (4/12, 4/14.5), and
 * reading a byte range of the file (unrecorded extents read as zeros).
 */
import createDebug from 'debug';
import { FsError } from '../errors';
import type { Disc } from './disc';
import type { DirectMap } from './types';
import { Partition, mapBlocks } from './partition';
import {
  LbAddr, shortAd, longAd, extAd,
  EXT_LENGTH_MASK, EXT_NEXT_EXTENT_OF_ADS, EXT_RECORDED_ALLOCATED,
} from './codec/primitives';
import { TAG_FE, TAG_EFE, TAG_IE, TAG_AED, verifyTag } from './codec/tag';
import {
  Fe, Efe, fe, efe, ie, aed,
  ICB_STRATEGY_4096, ICB_FLAG_AD_MASK, ICB_FLAG_AD_SHORT, ICB_FLAG_AD_LONG, ICB_FLAG_AD_EXTENDED, ICB_FLAG_AD_IN_ICB,
} from './codec/file';

const debug = createDebug('pktfs:udf:icb');

/** Bounds that catch loops in indirect-entry and allocation-extent chains. */
const MAX_ICB_HOPS = 1024;
const MAX_AEDS = 65536;

/** What the ICB layer needs of the volume: the medium and its partitions by reference number. */
export interface Space {
  disc: Disc;
  partitions: Partition[];
}

export function partitionOf(space: Space, ref: number): Partition {
  const p = space.partitions[ref];
  if (!p) throw new FsError('EIO', `partition reference ${ref} does not exist`);
  return p;
}

/**
 * Most file entries hinted to the device (BlockDevice.prefetch) when a directory is first
 * listed: 2 MiB of 2048-byte blocks. The packet layer holds the packets they lie in.
 */
export const PREFETCH_ENTRIES = { limit: 1024 };

/**
 * Tell the device that the file entries at `locs` will be read soon (a directory is being
 * listed; its entries usually lie close together), so that a device with a cache reads them
 * in a few requests instead of one per entry, while the listing goes back to the caller.
 * Best effort, not waited for: a location that does not map, or a read that fails, is left
 * for the entry's own read to report. Only the first `max` are hinted.
 */
export function prefetchEntries(space: Space, locs: LbAddr[], max: number): void {
  const dev = space.disc.dev;
  if (!dev.prefetch || locs.length === 0) return;
  const bs = space.disc.blockSize;
  const ss = dev.sectorSize;
  const ranges = [];
  for (const loc of locs.slice(0, max)) {
    const p = space.partitions[loc.partitionReferenceNum];
    if (!p) continue;
    let abs: number;
    try {
      abs = mapBlocks(p, loc.logicalBlockNum, 1).abs;
    } catch {
      continue;
    }
    const lba = Math.floor((abs * bs) / ss);
    ranges.push({ lba, count: Math.ceil(((abs + 1) * bs) / ss) - lba });
  }
  dev.prefetch(ranges).catch((e: unknown) => debug('prefetch: %s', (e as Error).message));
}

/** One block of partition `ref`, through the metadata cache. */
export async function readPartBlock(space: Space, ref: number, block: number): Promise<Buffer> {
  const run = mapBlocks(partitionOf(space, ref), block, 1);
  return space.disc.readBlock(run.abs);
}

export type FileEntry = Fe | Efe;

/** Where a file entry was found after following indirect entries. */
export interface LocatedEntry {
  entry: FileEntry;
  loc: LbAddr;
}

function decodeEntry(buf: Buffer, ident: number, what: string, blockSize: number): FileEntry {
  const e = ident === TAG_FE ? fe.decode(buf, 0) : efe.decode(buf, 0);
  const fixed = ident === TAG_FE ? fe.size : efe.size;
  if (fixed + e.lengthExtendedAttr + e.lengthAllocDescs > blockSize) {
    throw new FsError('EIO', `${what}: extended attributes (${e.lengthExtendedAttr}) and allocation descriptors (${e.lengthAllocDescs}) overflow the block`);
  }
  return e;
}

/**
 * The file entry the ICB at `loc` stands for: follows indirect entries, and
 * with strategy 4096 the indirect entry recorded after a direct entry, to the
 * newest entry (4/A.5). Loops give EIO (the file is damaged).
 */
export async function readFileEntry(space: Space, loc: LbAddr, what: string): Promise<LocatedEntry> {
  const seen = new Set<string>();
  let cur = loc;
  for (let hop = 0; hop < MAX_ICB_HOPS; hop++) {
    const key = `${cur.partitionReferenceNum}:${cur.logicalBlockNum}`;
    if (seen.has(key)) throw new FsError('EIO', `${what}: indirect entries loop at block ${key}`);
    seen.add(key);
    const buf = await readPartBlock(space, cur.partitionReferenceNum, cur.logicalBlockNum);
    const t = verifyTag(buf, 0, { what, location: cur.logicalBlockNum, idents: [TAG_FE, TAG_EFE, TAG_IE] });
    if (t.tagIdent === TAG_IE) {
      const next = ie.decode(buf, 0).indirectICB;
      if ((next.extLength & EXT_LENGTH_MASK) === 0) throw new FsError('EIO', `${what}: empty indirect entry at block ${key}`);
      cur = next.extLocation;
      continue;
    }
    const entry = decodeEntry(buf, t.tagIdent, what, space.disc.blockSize);
    if (entry.icbTag.strategyType === ICB_STRATEGY_4096) {
      const next = await newerIcb(space, cur);
      if (next) {
        cur = next;
        continue;
      }
    }
    return { entry, loc: cur };
  }
  throw new FsError('EIO', `${what}: more than ${MAX_ICB_HOPS} indirect entries`);
}

/** Strategy 4096: an indirect entry in the block after the direct entry points to a newer ICB. */
async function newerIcb(space: Space, at: LbAddr): Promise<LbAddr | undefined> {
  try {
    const buf = await readPartBlock(space, at.partitionReferenceNum, at.logicalBlockNum + 1);
    verifyTag(buf, 0, { what: 'strategy 4096 indirect entry', location: at.logicalBlockNum + 1, idents: [TAG_IE] });
    const next = ie.decode(buf, 0).indirectICB;
    return (next.extLength & EXT_LENGTH_MASK) > 0 ? next.extLocation : undefined;
  } catch {
    return undefined; // nothing recorded after the entry: it is the newest
  }
}

/** One extent of a file, in file order. Type is 4/14.14.1.1 (0 recorded, 1 allocated, 2 neither). */
export interface Extent {
  fileOffset: number;
  length: number;
  type: number;
  ref: number;
  block: number;
}

/** A file's data: embedded in the ICB or described by extents. */
export type FileData =
  | { kind: 'inline'; bytes: Uint8Array; loc: LbAddr }
  | { kind: 'extents'; extents: Extent[]; /** Blocks holding allocation extent descriptors, in chain order. */ aeds?: LbAddr[] };

interface RawAd {
  len: number;
  type: number;
  ref: number;
  block: number;
}

function parseAds(bytes: Uint8Array, adType: number, defaultRef: number, what: string): RawAd[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawAd[] = [];
  const step = adType === ICB_FLAG_AD_SHORT ? shortAd.size : adType === ICB_FLAG_AD_LONG ? longAd.size : extAd.size;
  for (let o = 0; o + step <= buf.length; o += step) {
    let extLength: number;
    let ref = defaultRef;
    let block: number;
    if (adType === ICB_FLAG_AD_SHORT) {
      const a = shortAd.decode(buf, o);
      extLength = a.extLength;
      block = a.extPosition;
    } else if (adType === ICB_FLAG_AD_LONG) {
      const a = longAd.decode(buf, o);
      extLength = a.extLength;
      ref = a.extLocation.partitionReferenceNum;
      block = a.extLocation.logicalBlockNum;
    } else if (adType === ICB_FLAG_AD_EXTENDED) {
      const a = extAd.decode(buf, o);
      extLength = a.extLength;
      ref = a.extLocation.partitionReferenceNum;
      block = a.extLocation.logicalBlockNum;
    } else {
      throw new FsError('EIO', `${what}: unknown allocation descriptor type ${adType}`);
    }
    const len = extLength & EXT_LENGTH_MASK;
    if (len === 0) break; // 4/12: a zero length ends the descriptors
    out.push({ len, type: extLength >>> 30, ref, block });
    if (extLength >>> 30 === EXT_NEXT_EXTENT_OF_ADS) break;
  }
  return out;
}

/**
 * The data of a file entry at `loc`: its embedded bytes, or its extents with
 * allocation extent descriptors followed (bounded; a chain that revisits a block is EIO).
 */
export async function fileData(space: Space, located: LocatedEntry, what: string): Promise<FileData> {
  const { entry, loc } = located;
  const adType = entry.icbTag.flags & ICB_FLAG_AD_MASK;
  if (adType === ICB_FLAG_AD_IN_ICB) return { kind: 'inline', bytes: entry.allocDescs, loc };
  const extents: Extent[] = [];
  const seen = new Set<string>();
  const aeds: LbAddr[] = [];
  let ads = parseAds(entry.allocDescs, adType, loc.partitionReferenceNum, what);
  let fileOffset = 0;
  for (let chain = 0; ; chain++) {
    let next: RawAd | undefined;
    for (const a of ads) {
      if (a.type === EXT_NEXT_EXTENT_OF_ADS) {
        next = a;
        break;
      }
      extents.push({ fileOffset, length: a.len, type: a.type, ref: a.ref, block: a.block });
      fileOffset += a.len;
    }
    if (!next) break;
    if (chain >= MAX_AEDS) throw new FsError('EIO', `${what}: more than ${MAX_AEDS} allocation extents`);
    const key = `${next.ref}:${next.block}`;
    if (seen.has(key)) throw new FsError('EIO', `${what}: allocation extent chain loops at block ${key}`);
    seen.add(key);
    aeds.push({ partitionReferenceNum: next.ref, logicalBlockNum: next.block });
    const buf = await readPartBlock(space, next.ref, next.block);
    verifyTag(buf, 0, { what: `${what} allocation extent`, location: next.block, idents: [TAG_AED] });
    const d = aed.decode(buf, 0);
    if (24 + d.lengthAllocDescs > buf.length) {
      throw new FsError('EIO', `${what}: allocation extent at block ${key} claims ${d.lengthAllocDescs} bytes`);
    }
    ads = parseAds(d.allocDescs, adType, loc.partitionReferenceNum, what);
  }
  debug('%s: %d extents', what, extents.length);
  return { kind: 'extents', extents, aeds };
}

/**
 * Volume.directMap for data `data` of a file of `size` bytes: each extent's blocks placed in the
 * device's file descriptor (Disc.directRange), unrecorded ones as zeros, neighbours merged.
 * Undefined for data in the entry itself, a block the device can't place, more than one
 * descriptor, extents that end before `size`, or more than DIRECT_MAP_MAX_RUNS pieces (a file
 * scattered block by block, as a VAT may place it: its reads stay with the packet layer).
 */
export const DIRECT_MAP_MAX_RUNS = 16384;

export function directMapOf(space: Space, data: FileData, size: number): DirectMap | undefined {
  if (data.kind !== 'extents' || !(size > 0)) return undefined;
  const bs = space.disc.blockSize;
  const runs: number[] = [];
  let fd = -1;
  /** One more piece, merged with the last when it continues it; false past DIRECT_MAP_MAX_RUNS. */
  const push = (at: number, len: number, from: number): boolean => {
    const n = runs.length;
    if (n > 0 && runs[n - 3] + runs[n - 2] === at && (from < 0 ? runs[n - 1] < 0 : runs[n - 1] >= 0 && runs[n - 1] + runs[n - 2] === from)) runs[n - 2] += len;
    else runs.push(at, len, from);
    return runs.length <= 3 * DIRECT_MAP_MAX_RUNS;
  };
  let pos = 0;
  for (const x of data.extents) {
    if (pos >= size) break;
    if (x.fileOffset !== pos) return undefined;
    const len = Math.min(x.length, size - pos);
    if (x.type !== EXT_RECORDED_ALLOCATED) {
      if (!push(pos, len, -1)) return undefined;
    } else {
      let p: Partition;
      try {
        p = partitionOf(space, x.ref);
      } catch {
        return undefined;
      }
      const blocks = Math.ceil(len / bs);
      for (let b = 0; b < blocks;) {
        let run: { abs: number; count: number };
        try {
          run = mapBlocks(p, x.block + b, blocks - b);
        } catch {
          return undefined;
        }
        const r = run.count > 0 ? space.disc.directRange(run.abs, run.count) : undefined;
        if (!r || (fd >= 0 && r.fd !== fd)) return undefined;
        fd = r.fd;
        if (!push(pos + b * bs, Math.min(run.count * bs, len - b * bs), r.offset)) return undefined;
        b += run.count;
      }
    }
    pos += x.length;
  }
  if (pos < size || fd < 0) return undefined;
  return { fd, size, runs: Float64Array.from(runs) };
}

/** Index of the extent holding byte `pos`, or the first one after it. */
function findExtent(extents: Extent[], pos: number): number {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (extents[mid].fileOffset + extents[mid].length <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bytes [offset, offset+length) of a file of `size` bytes; fewer at the end of the file. */
export async function readData(space: Space, data: FileData, size: number, offset: number, length: number): Promise<Buffer> {
  const end = Math.min(size, offset + length);
  if (end <= offset) return Buffer.alloc(0);
  if (data.kind === 'inline') {
    const out = Buffer.alloc(end - offset);
    const src = data.bytes;
    if (offset < src.length) out.set(src.subarray(offset, Math.min(end, src.length)), 0);
    return out;
  }
  const direct = await readWithinRun(space, data.extents, offset, end);
  if (direct) return direct;
  const out = Buffer.alloc(end - offset);
  await copyExtents(space, data.extents, offset, end, out);
  return out;
}

/**
 * readData into `into` (at least `length` bytes); returns how many bytes of the file it
 * holds (fewer at the end of the file). A range within one run of blocks, starting at a
 * block boundary, is read by the device straight into `into` (no buffer of our own, no
 * copy here: the FUSE read's case, issue 6); `into` then holds the last block's bytes
 * past the range (past the end of the file: that block's slack) up to the block's end.
 */
export async function readDataInto(space: Space, data: FileData, size: number, offset: number, length: number, into: Buffer): Promise<number> {
  if (into.length < length) throw new FsError('EINVAL', `read of ${length} bytes into a buffer of ${into.length}`);
  const end = Math.min(size, offset + length);
  if (end <= offset) return 0;
  const n = end - offset;
  if (data.kind === 'inline') {
    const src = data.bytes;
    const have = offset < src.length ? Math.min(end, src.length) - offset : 0;
    if (have > 0) into.set(src.subarray(offset, offset + have), 0);
    into.fill(0, have, n);
    return n;
  }
  if (await readWithinRunInto(space, data.extents, offset, end, into)) return n;
  into.fill(0, 0, n); // 4/14.14.1.1: what is not recorded reads as zeros
  await copyExtents(space, data.extents, offset, end, into);
  return n;
}

/** The recorded bytes of [offset, end) into `out` (from its start); unrecorded bytes are left as they are. */
async function copyExtents(space: Space, extents: Extent[], offset: number, end: number, out: Buffer): Promise<void> {
  const bs = space.disc.blockSize;
  for (let i = findExtent(extents, offset); i < extents.length; i++) {
    const x = extents[i];
    if (x.fileOffset >= end) break;
    if (x.type !== EXT_RECORDED_ALLOCATED) continue; // 4/14.14.1.1: not recorded reads as zeros
    const s = Math.max(offset, x.fileOffset) - x.fileOffset;
    const e = Math.min(end, x.fileOffset + x.length) - x.fileOffset;
    let blk = Math.floor(s / bs);
    const lastBlk = Math.ceil(e / bs);
    const p = partitionOf(space, x.ref);
    while (blk < lastBlk) {
      const run = mapBlocks(p, x.block + blk, lastBlk - blk);
      const buf = await space.disc.readBlocks(run.abs, run.count);
      const runStart = blk * bs; // extent-relative byte of the run's first block
      const from = Math.max(s, runStart);
      const to = Math.min(e, runStart + run.count * bs);
      buf.copy(out, x.fileOffset + from - offset, from - runStart, to - runStart);
      blk += run.count;
    }
  }
}

/** Where [offset, end) lies within one recorded extent and one run of blocks: the run and the byte of its first block where the range starts. */
function withinRun(space: Space, extents: Extent[], offset: number, end: number): { abs: number; count: number; from: number } | undefined {
  const x = extents[findExtent(extents, offset)];
  if (!x || x.type !== EXT_RECORDED_ALLOCATED || x.fileOffset > offset || x.fileOffset + x.length < end) return undefined;
  const bs = space.disc.blockSize;
  const s = offset - x.fileOffset;
  const blk = Math.floor(s / bs);
  const lastBlk = Math.ceil((end - x.fileOffset) / bs);
  const run = mapBlocks(partitionOf(space, x.ref), x.block + blk, lastBlk - blk);
  if (run.count !== lastBlk - blk) return undefined;
  return { abs: run.abs, count: run.count, from: s - blk * bs };
}

/**
 * The common case of a large file's read: bytes [offset, end) lie in one
 * recorded extent and map to one run of blocks, so the device's buffer is the
 * answer (cut to the range) with no copy. Undefined otherwise.
 */
async function readWithinRun(space: Space, extents: Extent[], offset: number, end: number): Promise<Buffer | undefined> {
  const run = withinRun(space, extents, offset, end);
  if (!run) return undefined;
  const buf = await space.disc.readBlocks(run.abs, run.count);
  return buf.subarray(run.from, run.from + end - offset);
}

/** readWithinRun into `into`, when the range starts at a block boundary and its blocks fit in `into`; false otherwise. */
async function readWithinRunInto(space: Space, extents: Extent[], offset: number, end: number, into: Buffer): Promise<boolean> {
  const run = withinRun(space, extents, offset, end);
  if (!run || run.from !== 0 || run.count * space.disc.blockSize > into.length) return false;
  await space.disc.readBlocksInto(run.abs, run.count, into);
  return true;
}

/**
 * How many of a file's `size` bytes can hold anything but zeros: up to the end
 * of its last recorded extent, or of its embedded bytes. Reading a directory or
 * a VAT stops there, so a damaged length does not make a huge buffer of zeros.
 */
export function recordedEnd(data: FileData, size: number): number {
  if (data.kind === 'inline') return Math.min(size, data.bytes.length);
  let end = 0;
  for (const x of data.extents) if (x.type === EXT_RECORDED_ALLOCATED) end = x.fileOffset + x.length;
  return Math.min(size, end);
}

/** The partition block holding byte `pos` of a file (for checking where a FID's tag says it is). */
export function blockOfByte(data: FileData, pos: number, blockSize: number): number | undefined {
  if (data.kind === 'inline') return data.loc.logicalBlockNum;
  const i = findExtent(data.extents, pos);
  const x = data.extents[i];
  if (!x || x.fileOffset > pos) return undefined;
  return x.block + Math.floor((pos - x.fileOffset) / blockSize);
}
