/**
 * A file entry held for writing: the decoded FE/EFE (ECMA-167 4/14.9, 4/14.17)
 * with its data either embedded in the ICB (4/14.6.8 flags 3) or as a list of
 * block runs (recorded, allocated-only, or holes: 4/14.14.1.1). Loading turns
 * the reader's view into that model; storing turns it back into allocation
 * descriptors (short or long), spilling into allocation extent descriptors
 * (4/14.5) when they outgrow the ICB, and writes the entry.
 */
import createDebug from 'debug';
import { FsError } from '../../errors';
import type { Space, FileEntry, FileData, Extent } from '../icb';
import { readFileEntry, fileData, readData, readDataInto } from '../icb';
import {
  LbAddr, shortAd, longAd,
  EXT_RECORDED_ALLOCATED, EXT_NOT_RECORDED_ALLOCATED, EXT_NOT_RECORDED_NOT_ALLOCATED, EXT_NEXT_EXTENT_OF_ADS,
} from '../codec/primitives';
import {
  fe, efe, aed, FT_DIRECTORY, ICB_FLAG_AD_MASK, ICB_FLAG_AD_SHORT, ICB_FLAG_AD_LONG, ICB_FLAG_AD_IN_ICB,
} from '../codec/file';
import { TAG_FE, TAG_EFE, TAG_AED, finaliseTag } from '../codec/tag';
import type { Allocator, Piece, BlockKind } from './alloc';
import type { WriteKind } from '../../drive/types';
import { readPartBlocks, writePartBlocks, orderPartBlocks } from './blockio';

const debug = createDebug('pktfs:udf:node');

/** What node operations need of the mounted volume. */
export interface WriteCtx {
  space: Space;
  /** Partition reference where new blocks are allocated, and its allocator. */
  ref: number;
  alloc: Allocator;
  /** Called before the first write of every operation: opens the LVID on the disc. */
  beforeWrite(): Promise<void>;
  /**
   * A block to encode an entry into before it is written (storeNode), kept from one store to
   * the next: the layers below copy what they are given before their write resolves, and a
   * volume's operations run one at a time (issue 6: a fresh zeroed buffer per entry stored).
   */
  scratch?: Buffer;
}

/**
 * Blocks kept back from file data and new entries, so that the entries,
 * allocation extents and directories describing what was written can still be
 * recorded when the volume fills up.
 */
export const RESERVED_BLOCKS = 8;

/** Blocks a growing directory keeps after its end while mounted (alloc.ts reservations). */
const DIR_RESERVE_MIN = 4;
const DIR_RESERVE_MAX = 256;

/** ENOSPC before anything changes when `count` blocks of file data would eat into the reserve. */
export function checkSpace(ctx: WriteCtx, count: number, what: string): void {
  if (count > 0 && count + RESERVED_BLOCKS > ctx.alloc.freeBlocks) {
    throw new FsError('ENOSPC', `${what}: ${count} blocks wanted, ${ctx.alloc.freeBlocks} free (${RESERVED_BLOCKS} kept for metadata)`);
  }
}

function isDirectory(node: WNode): boolean {
  return node.entry.icbTag.fileType === FT_DIRECTORY;
}

/** Where a node's blocks go (alloc.ts kinds) and how their writes are hinted (the packet layer). */
function blockKind(node: WNode): BlockKind {
  return isDirectory(node) ? 'dir' : 'data';
}
function writeKind(node: WNode): WriteKind {
  return isDirectory(node) ? 'directory' : 'data';
}

/** A run of `count` blocks of a file: recorded (0), allocated only (1) or a hole (2), 4/14.14.1.1. */
export interface Run {
  count: number;
  type: number;
  ref: number;
  block: number;
}

export type AdForm = typeof ICB_FLAG_AD_SHORT | typeof ICB_FLAG_AD_LONG;

export interface WNode {
  ino: number;
  /** Where the (direct) entry is recorded. */
  loc: LbAddr;
  entry: FileEntry;
  /** Data embedded in the ICB, or null when the data is in runs. */
  inline: Buffer | null;
  runs: Run[];
  size: number;
  /** Blocks holding this file's allocation extent descriptors. */
  aeds: LbAddr[];
  /** AD form used when the data is in runs. */
  adForm: AdForm;
  /** Partition blocks allocated to this file and not written yet (read as zeros). */
  fresh: Set<number>;
  dirty: boolean;
  /**
   * The block last written in part (storeEdge) as written: the next write into it (an append
   * of tar's 10 KiB records, a FID added to a directory) merges into this copy instead of
   * reading the block back (issue 6: a read per write, which also looked like a sequential read
   * to the packet layer's read-ahead). Dropped by anything else that writes or frees the block.
   */
  tail?: { block: number; buf: Buffer };
}

/** UDF 2.3.10 / ECMA 4/14.14.1.1: an extent is at most 2^30 - blocksize bytes. */
export function maxRunBlocks(bs: number): number {
  return Math.floor((0x40000000 - bs) / bs);
}

/** Linux's UDF_MAX_FILESIZE. */
export const MAX_FILE_SIZE = 2 ** 42;

function entryFixedSize(e: FileEntry): number {
  return e.kind === 'fe' ? fe.size : efe.size;
}

/** Bytes of data (or ADs) the ICB can hold. */
export function icbCapacity(e: FileEntry, bs: number): number {
  return bs - entryFixedSize(e) - e.lengthExtendedAttr;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** The model of the entry at `loc` (ino `ino`). */
export async function loadNode(space: Space, ino: number, loc: LbAddr, defaultForm: AdForm): Promise<WNode> {
  const what = `inode ${ino}`;
  const located = await readFileEntry(space, loc, what);
  const entry = located.entry;
  const data = await fileData(space, located, what);
  const bs = space.disc.blockSize;
  const size = entry.informationLength;
  const flags = entry.icbTag.flags & ICB_FLAG_AD_MASK;
  const node: WNode = {
    ino, loc: located.loc, entry, inline: null, runs: [], size, aeds: [],
    adForm: flags === ICB_FLAG_AD_SHORT || flags === ICB_FLAG_AD_LONG ? flags : defaultForm,
    fresh: new Set(), dirty: false, tail: undefined,
  };
  if (data.kind === 'inline') {
    // 4/14.6.8: embedded data is the ICB's allocation descriptors area; a size beyond that is damage.
    if (size > icbCapacity(entry, bs)) throw new FsError('EIO', `${what}: ${size} bytes embedded in a ${bs}-byte ICB`);
    node.inline = Buffer.from(data.bytes.subarray(0, size));
    if (node.inline.length < size) node.inline = Buffer.concat([node.inline, Buffer.alloc(size - node.inline.length)]);
    return node;
  }
  node.aeds = data.aeds ?? [];
  const need = ceilDiv(size, bs);
  let have = 0;
  for (const x of data.extents) {
    if (have >= need) break;
    if (x.length % bs !== 0 && x.fileOffset + x.length < size) {
      throw new FsError('EIO', `${what}: extent at byte ${x.fileOffset} is not a whole number of blocks`);
    }
    const count = Math.min(ceilDiv(x.length, bs), need - have);
    node.runs.push({ count, type: x.type, ref: x.ref, block: x.type === EXT_NOT_RECORDED_NOT_ALLOCATED ? 0 : x.block });
    have += count;
  }
  // Extents that end before the information length: the rest is a hole.
  if (have < need) node.runs.push({ count: need - have, type: EXT_NOT_RECORDED_NOT_ALLOCATED, ref: loc.partitionReferenceNum, block: 0 });
  return node;
}

/** The node's data as the reader's functions take it. */
export function nodeFileData(node: WNode, bs: number): FileData {
  if (node.inline) return { kind: 'inline', bytes: node.inline, loc: node.loc };
  const extents: Extent[] = [];
  let off = 0;
  for (const r of node.runs) {
    extents.push({ fileOffset: off, length: r.count * bs, type: r.type, ref: r.ref, block: r.block });
    off += r.count * bs;
  }
  return { kind: 'extents', extents };
}

export function readNode(space: Space, node: WNode, offset: number, length: number): Promise<Buffer> {
  return readData(space, nodeFileData(node, space.disc.blockSize), node.size, offset, length);
}

/** readNode into `into` (readDataInto): the count of bytes read. */
export function readNodeInto(space: Space, node: WNode, offset: number, length: number, into: Buffer): Promise<number> {
  return readDataInto(space, nodeFileData(node, space.disc.blockSize), node.size, offset, length, into);
}

/** Recorded data blocks, for logicalBlocksRecorded (4/14.9.11). */
export function recordedBlocks(node: WNode): number {
  if (node.inline) return 0;
  return node.runs.reduce((n, r) => n + (r.type === EXT_RECORDED_ALLOCATED ? r.count : 0), 0) + node.aeds.length;
}

/* ---------------------------------------------------------------- runs */

/** Index of the run starting at block index `at`, splitting one if needed (`at` within the runs). */
function splitAt(runs: Run[], at: number): number {
  let pos = 0;
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i];
    if (pos === at) return i;
    if (at < pos + r.count) {
      const k = at - pos;
      const tail: Run = { ...r, count: r.count - k, block: r.type === EXT_NOT_RECORDED_NOT_ALLOCATED ? 0 : r.block + k };
      runs.splice(i + 1, 0, tail);
      r.count = k;
      return i + 1;
    }
    pos += r.count;
  }
  return runs.length;
}

/** Merge neighbours that continue each other, keeping each under the extent limit. */
function mergeRuns(runs: Run[], bs: number): void {
  const max = maxRunBlocks(bs);
  for (let i = 0; i + 1 < runs.length;) {
    const a = runs[i];
    const b = runs[i + 1];
    const joins = a.type === b.type && a.ref === b.ref
      && (a.type === EXT_NOT_RECORDED_NOT_ALLOCATED || a.block + a.count === b.block)
      && a.count + b.count <= max;
    if (joins) {
      a.count += b.count;
      runs.splice(i + 1, 1);
    } else i++;
  }
}

function totalBlocks(runs: Run[]): number {
  return runs.reduce((n, r) => n + r.count, 0);
}

/** The physical block before block index `idx`, as a goal for allocating it. */
function goalFor(loc: LbAddr, runs: Run[], idx: number): number {
  let pos = 0;
  let last = loc.logicalBlockNum;
  for (const r of runs) {
    if (pos >= idx) break;
    if (r.type !== EXT_NOT_RECORDED_NOT_ALLOCATED) last = r.block + Math.min(r.count, idx - pos) - 1;
    pos += r.count;
  }
  return last + 1;
}

/* ---------------------------------------------------------------- data */

function checkSize(node: WNode, end: number): void {
  if (end > MAX_FILE_SIZE) throw new FsError('EFBIG', `inode ${node.ino}: size ${end} beyond ${MAX_FILE_SIZE}`);
}

/** Bytes between the end of the data and the end of its last block read as zeros (they may hold old data). */
async function zeroTail(ctx: WriteCtx, node: WNode): Promise<void> {
  const bs = ctx.space.disc.blockSize;
  const used = node.size % bs;
  if (node.inline || used === 0 || node.runs.length === 0) return;
  const last = node.runs[node.runs.length - 1];
  if (last.type !== EXT_RECORDED_ALLOCATED) return;
  const block = last.block + last.count - 1;
  if (node.fresh.has(block)) return;
  node.tail = undefined;
  const buf = await readPartBlocks(ctx.space, last.ref, block, 1);
  if (buf.subarray(used).every((b) => b === 0)) return;
  buf.fill(0, used);
  await writePartBlocks(ctx.space, last.ref, block, buf, writeKind(node));
}

/** Move embedded data out of the ICB into allocated blocks. */
async function unembed(ctx: WriteCtx, node: WNode): Promise<void> {
  const data = node.inline!;
  const bs = ctx.space.disc.blockSize;
  // Allocate before letting go of the embedded copy: ENOSPC must leave the node as it was.
  const n = ceilDiv(data.length, bs);
  const goal = node.loc.logicalBlockNum + 1;
  const pieces = data.length === 0 ? [] : isDirectory(node) ? allocateDirBlocks(ctx, node, n, goal, n) : ctx.alloc.allocate(n, goal, undefined, blockKind(node));
  node.inline = null;
  node.runs = [];
  node.tail = undefined;
  if (data.length > 0) {
    const count = ceilDiv(data.length, bs);
    const padded = Buffer.alloc(count * bs);
    data.copy(padded);
    let done = 0;
    for (const p of pieces) {
      await writePartBlocks(ctx.space, ctx.ref, p.block, padded.subarray(done * bs, (done + p.count) * bs), writeKind(node));
      node.runs.push({ count: p.count, type: EXT_RECORDED_ALLOCATED, ref: ctx.ref, block: p.block });
      done += p.count;
    }
    // Its last block, written in part, is where the next write (a directory's FID) goes on.
    const last = pieces[pieces.length - 1];
    if (data.length % bs !== 0) node.tail = { block: last.block + last.count - 1, buf: Buffer.from(padded.subarray((count - 1) * bs)) };
  }
  node.dirty = true;
  if (debug.enabled) debug('inode %d: data moved out of the ICB', node.ino);
}

/** Blocks a write of [offset, end) would allocate: holes and new blocks in the range, or the data leaving the ICB. */
function blocksToAllocate(node: WNode, offset: number, end: number, bs: number): number {
  if (end <= offset && !node.inline) return 0;
  const b0 = Math.floor(offset / bs);
  const b1 = ceilDiv(end, bs);
  if (node.inline) {
    const old = ceilDiv(node.inline.length, bs);
    return old + Math.max(0, b1 - Math.max(b0, old));
  }
  let n = 0;
  let pos = 0;
  for (const r of node.runs) {
    const s = Math.max(b0, pos);
    const e = Math.min(b1, pos + r.count);
    if (s < e && r.type === EXT_NOT_RECORDED_NOT_ALLOCATED) n += e - s;
    pos += r.count;
  }
  return n + Math.max(0, b1 - Math.max(b0, pos));
}

/**
 * Blocks for a growing directory (or one whose FIDs leave its ICB), with room
 * after them kept for its next growth (as much again as it has, within limits,
 * and at least the rest of the packet it ends in; alloc.ts reservations), so
 * that it stays in few extents. A new extent goes into the packet of the
 * directory's own entry when it has room, else it starts an empty packet where
 * one is free. No other entry then comes after the directory's blocks in their
 * packet: the packet layer writes an entry before the FID naming it and a
 * directory's blocks before its entry, and a directory's block in the packet
 * where the entries of its subdirectory's files then went made two packets
 * waiting for each other, one of them written twice at a flush (tar x, issue 6);
 * so did its entry and a subdirectory's in one packet, its blocks in another.
 */
function allocateDirBlocks(ctx: WriteCtx, node: WNode, count: number, goal: number, dirBlocks: number): Piece[] {
  const room = Math.min(DIR_RESERVE_MAX, Math.max(DIR_RESERVE_MIN, dirBlocks));
  const keep = (end: number): void => ctx.alloc.reserve(end, Math.max(room, ctx.alloc.packetEnd(end - 1) - end), node.ino);
  if (ctx.alloc.runLength(goal, count, node.ino) >= count) {
    // It continues where it ends (into the room it kept, or free space): keep room after that too.
    const got = ctx.alloc.allocate(count, goal, node.ino, 'dir');
    const last = got[got.length - 1];
    keep(last.block + last.count);
    return got;
  }
  // A new extent: in the packet of the directory's own entry if it has room (nothing then waits
  // between the two), else where there is room to grow after it; else wherever blocks are free.
  const at = node.loc.logicalBlockNum;
  for (let b = Math.max(0, ctx.alloc.packetEnd(at) - ctx.alloc.packetBlocks); ctx.alloc.packetBlocks > 1 && b + count <= ctx.alloc.packetEnd(at); b++) {
    if (ctx.alloc.runLength(b, count, node.ino) < count) continue;
    const got = ctx.alloc.allocate(count, b, node.ino, 'dir');
    keep(got[got.length - 1].block + got[got.length - 1].count);
    return got;
  }
  const run = (ctx.alloc.packetBlocks > 1 ? ctx.alloc.allocateRun(count + room, goal, node.ino, 'dir', true) : undefined)
    ?? ctx.alloc.allocateRun(count + room, goal, node.ino, 'dir');
  if (!run) return ctx.alloc.allocate(count, goal, node.ino, 'dir');
  ctx.alloc.release(run.block + count, room, false);
  keep(run.block + count);
  return [{ block: run.block, count }];
}

/**
 * Make room for bytes [offset, end): the ICB when it still fits, else blocks
 * for every block of the range not yet allocated (holes become fresh blocks).
 * Returns true when embedded data moved out of the ICB.
 */
export async function prepareRange(ctx: WriteCtx, node: WNode, offset: number, end: number): Promise<boolean> {
  checkSize(node, end);
  const bs = ctx.space.disc.blockSize;
  if (node.inline && end <= icbCapacity(node.entry, bs)) return false;
  if (!isDirectory(node)) checkSpace(ctx, blocksToAllocate(node, offset, end, bs), `inode ${node.ino}`);
  let moved = false;
  if (node.inline) {
    await unembed(ctx, node);
    moved = true;
  }
  if (end <= offset) return moved;
  if (offset > node.size) await zeroTail(ctx, node);
  const needBlocks = ceilDiv(end, bs);
  const have = totalBlocks(node.runs);
  // Worked on a copy: an allocation that fails (ENOSPC) must leave the runs as they were.
  const runs = node.runs.map((r) => ({ ...r }));
  if (needBlocks > have) runs.push({ count: needBlocks - have, type: EXT_NOT_RECORDED_NOT_ALLOCATED, ref: ctx.ref, block: 0 });
  const b0 = Math.floor(offset / bs);
  const i = splitAt(runs, b0);
  const iEnd = splitAt(runs, needBlocks);
  let idx = b0;
  const out: Run[] = [];
  const fresh: number[] = [];
  const taken: Run[] = [];
  try {
    for (let k = i; k < iEnd; k++) {
      const r = runs[k];
      if (r.type === EXT_RECORDED_ALLOCATED) {
        out.push(r);
      } else if (r.type === EXT_NOT_RECORDED_ALLOCATED) {
        // Allocated but unrecorded: the blocks are ours; they read as zeros until written.
        for (let b = r.block; b < r.block + r.count; b++) fresh.push(b);
        out.push({ ...r, type: EXT_RECORDED_ALLOCATED });
      } else {
        const goal = goalFor(node.loc, runs, idx);
        const pieces = isDirectory(node) ? allocateDirBlocks(ctx, node, r.count, goal, needBlocks) : ctx.alloc.allocate(r.count, goal, undefined, 'data');
        for (const p of pieces) {
          for (let b = p.block; b < p.block + p.count; b++) fresh.push(b);
          const run = { count: p.count, type: EXT_RECORDED_ALLOCATED, ref: ctx.ref, block: p.block };
          out.push(run);
          taken.push(run);
        }
      }
      idx += r.count;
    }
  } catch (e) {
    for (const t of taken) ctx.alloc.release(t.block, t.count, false);
    throw e;
  }
  runs.splice(i, iEnd - i, ...out);
  node.runs = runs;
  for (const b of fresh) node.fresh.add(b);
  mergeRuns(node.runs, bs);
  node.dirty = true;
  return moved;
}

/** Write `data` at `offset` into space already prepared by prepareRange; grows the size. */
export async function storeRange(ctx: WriteCtx, node: WNode, offset: number, data: Buffer): Promise<void> {
  const end = offset + data.length;
  const bs = ctx.space.disc.blockSize;
  if (node.inline) {
    if (end > node.inline.length) {
      // Grown in one buffer (not a concat with a zeroed one): what was there, zeros up to `offset`.
      const grown = Buffer.allocUnsafe(end);
      node.inline.copy(grown, 0);
      if (offset > node.inline.length) grown.fill(0, node.inline.length, offset);
      node.inline = grown;
    }
    data.copy(node.inline, offset);
  } else if (data.length > 0) {
    // Walk the runs over the touched blocks; each run is contiguous on the partition.
    const b0 = Math.floor(offset / bs);
    const b1 = ceilDiv(end, bs);
    let pos = 0;
    for (const r of node.runs) {
      const s = Math.max(b0, pos);
      const e = Math.min(b1, pos + r.count);
      if (s < e) {
        if (r.type !== EXT_RECORDED_ALLOCATED) throw new FsError('EIO', `inode ${node.ino}: writing to unprepared block ${s}`);
        const first = r.block + (s - pos);
        const fileStart = s * bs;
        const from = Math.max(offset, fileStart);
        const to = Math.min(end, e * bs);
        // Partial blocks at the edges keep what they hold (fresh blocks hold zeros); whole
        // blocks in between go down as the caller's bytes, uncopied (the layers below copy).
        let lo = s;
        let hi = e;
        // A block left partly filled at the file's new end is written again by the next append.
        const tailKind = (blockEnd: number): WriteKind => (end < blockEnd && end >= node.size && !isDirectory(node) ? 'partial' : writeKind(node));
        if (offset > fileStart) {
          await storeEdge(ctx, node, r.ref, first, from - fileStart, data.subarray(from - offset, Math.min(to, fileStart + bs) - offset), tailKind(fileStart + bs));
          lo++;
        }
        if (hi > lo && end < e * bs) {
          const tailStart = (e - 1) * bs;
          await storeEdge(ctx, node, r.ref, first + (e - 1 - s), 0, data.subarray(tailStart - offset, to - offset), tailKind(e * bs));
          hi--;
        }
        if (hi > lo) {
          const t = node.tail?.block;
          if (t !== undefined && t >= first + (lo - s) && t < first + (hi - s)) node.tail = undefined;
          await writePartBlocks(ctx.space, r.ref, first + (lo - s), data.subarray(lo * bs - offset, hi * bs - offset), writeKind(node));
        }
        for (let b = first; b < first + (e - s); b++) node.fresh.delete(b);
      }
      pos += r.count;
      if (pos >= b1) break;
    }
  }
  if (end > node.size) node.size = end;
  node.dirty = true;
}

/** One block of a file written in part: `bytes` at `at` within it, the rest as it was (zeros when fresh). */
async function storeEdge(ctx: WriteCtx, node: WNode, ref: number, block: number, at: number, bytes: Buffer, kind: WriteKind): Promise<void> {
  const bs = ctx.space.disc.blockSize;
  const kept = node.tail?.block === block ? node.tail.buf : undefined;
  // The copy is dropped first: a failed write below leaves the block as the medium has it.
  node.tail = undefined;
  // (A fresh block's zeros from the pool: a Buffer.alloc of its own costs three times as much.)
  const buf = kept ?? (node.fresh.has(block) ? Buffer.allocUnsafe(bs).fill(0) : await readPartBlocks(ctx.space, ref, block, 1));
  bytes.copy(buf, at);
  // (The packet layer copies what it is given: `buf` stays ours.)
  await writePartBlocks(ctx.space, ref, block, buf, kind);
  node.tail = { block, buf };
}

/** Write `data` at `offset`, allocating as needed. */
export async function writeNode(ctx: WriteCtx, node: WNode, offset: number, data: Buffer): Promise<void> {
  await prepareRange(ctx, node, offset, offset + data.length);
  await storeRange(ctx, node, offset, data);
}

/** Release the data blocks of runs (not holes) back to the allocator. */
function releaseRuns(ctx: WriteCtx, node: WNode, runs: Run[]): void {
  node.tail = undefined;
  for (const r of runs) {
    if (r.type === EXT_NOT_RECORDED_NOT_ALLOCATED) continue;
    if (r.ref !== ctx.ref) throw new FsError('EIO', `inode ${node.ino}: extent in partition ${r.ref}`);
    ctx.alloc.release(r.block, r.count);
    for (let b = r.block; b < r.block + r.count; b++) node.fresh.delete(b);
  }
}

/** Set the size: shrinking frees whole blocks past the end, growing adds a hole (4/14.14.1.1 type 2). */
export async function truncateNode(ctx: WriteCtx, node: WNode, size: number): Promise<void> {
  checkSize(node, size);
  node.tail = undefined;
  const bs = ctx.space.disc.blockSize;
  if (size === node.size) return;
  if (node.inline) {
    if (size <= icbCapacity(node.entry, bs)) {
      node.inline = size < node.inline.length ? node.inline.subarray(0, size) : Buffer.concat([node.inline, Buffer.alloc(size - node.inline.length)]);
      node.size = size;
      node.dirty = true;
      return;
    }
    checkSpace(ctx, ceilDiv(node.inline.length, bs), `inode ${node.ino}`);
    await unembed(ctx, node);
  }
  if (size > node.size) {
    await zeroTail(ctx, node);
    const need = ceilDiv(size, bs);
    const have = totalBlocks(node.runs);
    if (need > have) node.runs.push({ count: need - have, type: EXT_NOT_RECORDED_NOT_ALLOCATED, ref: ctx.ref, block: 0 });
    mergeRuns(node.runs, bs);
  } else {
    const keep = ceilDiv(size, bs);
    const i = splitAt(node.runs, keep);
    releaseRuns(ctx, node, node.runs.splice(i));
  }
  node.size = size;
  node.dirty = true;
}

/** Release everything the file holds: data, allocation extents and the ICB itself. */
export function freeNode(ctx: WriteCtx, node: WNode): void {
  ctx.alloc.unreserve(node.ino);
  if (!node.inline) releaseRuns(ctx, node, node.runs);
  for (const a of node.aeds) ctx.alloc.release(a.logicalBlockNum, 1);
  ctx.alloc.release(node.loc.logicalBlockNum, 1);
  node.runs = [];
  node.aeds = [];
}

/* ---------------------------------------------------------------- storing */

/**
 * The allocation descriptors for the runs, lengths in bytes, the last one cut to the size: one
 * buffer of `count` descriptors of `adSize` bytes each, back to back.
 */
function encodeAds(node: WNode, bs: number): { all: Buffer; count: number; adSize: number } {
  const max = maxRunBlocks(bs);
  const adSize = node.adForm === ICB_FLAG_AD_SHORT ? shortAd.size : longAd.size;
  let count = 0;
  for (const r of node.runs) count += Math.ceil(r.count / max);
  const all = Buffer.alloc(count * adSize);
  let off = 0;
  let at = 0;
  for (const r of node.runs) {
    for (let done = 0; done < r.count;) {
      const n = Math.min(max, r.count - done);
      const len = Math.min(n * bs, node.size - off);
      const block = r.type === EXT_NOT_RECORDED_NOT_ALLOCATED ? 0 : r.block + done;
      encodeAdInto(all, at, node.adForm, (r.type << 30) | len, block, r.type === EXT_NOT_RECORDED_NOT_ALLOCATED ? 0 : r.ref);
      at += adSize;
      off += n * bs;
      done += n;
    }
  }
  return { all, count, adSize };
}

const NO_IMPL_USE = new Uint8Array(6);

function encodeAdInto(b: Buffer, at: number, form: AdForm, extLength: number, block: number, ref: number): void {
  if (form === ICB_FLAG_AD_SHORT) shortAd.encode({ extLength: extLength >>> 0, extPosition: block }, b, at);
  else longAd.encode({ extLength: extLength >>> 0, extLocation: { logicalBlockNum: block, partitionReferenceNum: ref }, implUse: NO_IMPL_USE }, b, at);
}

function encodeAd(form: AdForm, extLength: number, block: number, ref: number): Buffer {
  const b = Buffer.alloc(form === ICB_FLAG_AD_SHORT ? shortAd.size : longAd.size);
  encodeAdInto(b, 0, form, extLength, block, ref);
  return b;
}

/** ctx.scratch, zeroed (a typed array's own fill: Buffer's adds argument checks). */
function scratchBlock(ctx: WriteCtx, bs: number): Buffer {
  let b = ctx.scratch;
  if (b?.length === bs) Uint8Array.prototype.fill.call(b, 0);
  else b = ctx.scratch = Buffer.alloc(bs);
  return b;
}

/**
 * Write the node's entry (and its allocation extent descriptors first, so
 * nothing on the disc points at a block not yet written).
 */
export async function storeNode(ctx: WriteCtx, node: WNode): Promise<void> {
  const space = ctx.space;
  const bs = space.disc.blockSize;
  const e = node.entry;
  const cap = icbCapacity(e, bs);
  let icbAds: Buffer;
  let adFlag: number;
  if (node.inline) {
    icbAds = node.inline;
    adFlag = ICB_FLAG_AD_IN_ICB;
    if (node.aeds.length) {
      for (const a of node.aeds) ctx.alloc.release(a.logicalBlockNum, 1);
      node.aeds = [];
    }
  } else {
    adFlag = node.adForm;
    const { all, count, adSize } = encodeAds(node, bs);
    if (count * adSize <= cap) {
      icbAds = all;
      if (node.aeds.length) {
        for (const a of node.aeds) ctx.alloc.release(a.logicalBlockNum, 1);
        node.aeds = [];
      }
    } else {
      // ICB: as many as fit but one, then a pointer; each AED likewise (4/12.1).
      const ads: Buffer[] = [];
      for (let i = 0; i < count; i++) ads.push(all.subarray(i * adSize, (i + 1) * adSize));
      const inIcb = Math.floor(cap / adSize) - 1;
      const perAed = Math.floor((bs - aed.size) / adSize);
      const chunks: Buffer[][] = [ads.slice(0, inIcb)];
      let rest = ads.slice(inIcb);
      while (rest.length > 0) {
        const n = rest.length <= perAed ? rest.length : perAed - 1;
        chunks.push(rest.slice(0, n));
        rest = rest.slice(n);
      }
      const needAeds = chunks.length - 1;
      while (node.aeds.length > needAeds) ctx.alloc.release(node.aeds.pop()!.logicalBlockNum, 1);
      if (node.aeds.length < needAeds) {
        const pieces = ctx.alloc.allocate(needAeds - node.aeds.length, node.loc.logicalBlockNum + 1, undefined, 'meta');
        for (const p of pieces) for (let b = p.block; b < p.block + p.count; b++) node.aeds.push({ logicalBlockNum: b, partitionReferenceNum: ctx.ref });
      }
      const pointer = (a: LbAddr) => encodeAd(node.adForm, ((EXT_NEXT_EXTENT_OF_ADS << 30) | bs) >>> 0, a.logicalBlockNum, a.partitionReferenceNum);
      for (let k = node.aeds.length - 1; k >= 0; k--) {
        const body = Buffer.concat([...chunks[k + 1], ...(k + 1 < node.aeds.length ? [pointer(node.aeds[k + 1])] : [])]);
        const buf = Buffer.alloc(bs);
        aed.encode({ descTag: e.descTag, previousAllocExtLocation: 0, lengthAllocDescs: body.length, allocDescs: body }, buf, 0);
        finaliseTag(buf, 0, { tagIdent: TAG_AED, descVersion: e.descTag.descVersion, tagSerialNum: e.descTag.tagSerialNum, tagLocation: node.aeds[k].logicalBlockNum, crcLength: aed.size - 16 + body.length });
        await writePartBlocks(space, node.aeds[k].partitionReferenceNum, node.aeds[k].logicalBlockNum, buf, 'metadata');
      }
      icbAds = Buffer.concat([...chunks[0], pointer(node.aeds[0])]);
    }
  }
  e.icbTag.flags = (e.icbTag.flags & ~ICB_FLAG_AD_MASK) | adFlag;
  e.informationLength = node.size;
  if (e.kind === 'efe') e.objectSize = node.size;
  e.logicalBlocksRecorded = recordedBlocks(node);
  e.allocDescs = icbAds;
  e.lengthAllocDescs = icbAds.length;
  const buf = scratchBlock(ctx, bs);
  const fixed = entryFixedSize(e);
  if (e.kind === 'fe') fe.encode(e, buf, 0); else efe.encode(e, buf, 0);
  // A packet layer writes the entry after its allocation extents and a directory's blocks
  // (metadata, written at the same flush: volume.ts flushAll).
  const at = node.loc;
  for (const a of node.aeds) orderPartBlocks(space, a.partitionReferenceNum, a.logicalBlockNum, 1, at.partitionReferenceNum, at.logicalBlockNum, 1);
  if (isDirectory(node) && !node.inline) {
    for (const r of node.runs) {
      if (r.type === EXT_RECORDED_ALLOCATED) orderPartBlocks(space, r.ref, r.block, r.count, at.partitionReferenceNum, at.logicalBlockNum, 1);
    }
  }
  finaliseTag(buf, 0, {
    tagIdent: e.kind === 'fe' ? TAG_FE : TAG_EFE, descVersion: e.descTag.descVersion, tagSerialNum: e.descTag.tagSerialNum,
    tagLocation: node.loc.logicalBlockNum, crcLength: fixed + e.lengthExtendedAttr + e.lengthAllocDescs - 16,
  });
  await writePartBlocks(space, node.loc.partitionReferenceNum, node.loc.logicalBlockNum, buf, isDirectory(node) ? 'directory' : 'metadata');
  node.dirty = false;
}
