/**
 * A directory held for writing: its bytes and every file identifier
 * descriptor in them (ECMA-167 4/14.4), deleted ones included, with positions.
 * Entries are added in a deleted slot of the same size or appended, removed by
 * marking them deleted (and the directory shortened when they were last), and
 * each FID's tag names the block its first byte lies in (4/14.4, 3/7.2.8), so
 * FIDs may straddle blocks. Names are CS0 (8-bit when every character fits).
 */
import { FsError } from '../../errors';
import { fid, Fid, FID_DELETED, FID_DIRECTORY, FID_HIDDEN, FID_PARENT } from '../codec/file';
import { TAG_FID, finaliseTag } from '../codec/tag';
import { LbAddr, LongAd, EXT_LENGTH_MASK } from '../codec/primitives';
import { blockOfByte, recordedEnd } from '../icb';
import { fidsIn } from '../dir';
import { encodeCs0, translateName } from '../cs0';
import { WriteCtx, WNode, readNode, prepareRange, storeRange, truncateNode, nodeFileData } from './node';
import { orderPartBlocks } from './blockio';

/** lengthFileIdent is a u8 (4/14.4.4). */
export const MAX_NAME_BYTES = 255;

export interface Slot {
  pos: number;
  size: number;
  fid: Fid;
  /** Name as the reader shows it ('' for the parent entry). */
  name: string;
}

export interface WDir {
  node: WNode;
  /** The directory's bytes: a view of the start of `store`, which has room to grow. */
  bytes: Buffer;
  store: Buffer;
  slots: Slot[];
  /** Live entries (not deleted, not the parent) by name; the first of equal names wins, as in the reader. */
  byName: Map<string, Slot>;
}

const isLive = (s: Slot) => !(s.fid.fileCharacteristics & (FID_DELETED | FID_PARENT));

/*
 * Beside each WDir (its shape stays as it is), computed on first use: how many slots are
 * deleted, so that adding a name scans for one to reuse only when there is one, and whether
 * two live slots share a shown name (only a directory written elsewhere has that), so that
 * removing a name looks for another only then. Each create and delete in a directory of
 * 100,000 entries used to scan all of them (issue 6).
 */
const deletedSlots = new WeakMap<WDir, number>();
const sharedNames = new WeakMap<WDir, boolean>();

function deletedCount(dir: WDir): number {
  let n = deletedSlots.get(dir);
  if (n === undefined) {
    n = 0;
    for (const s of dir.slots) if (s.fid.fileCharacteristics & FID_DELETED) n++;
    deletedSlots.set(dir, n);
  }
  return n;
}

function hasSharedNames(dir: WDir): boolean {
  let v = sharedNames.get(dir);
  if (v === undefined) {
    let live = 0;
    for (const s of dir.slots) if (isLive(s)) live++;
    v = live > dir.byName.size;
    sharedNames.set(dir, v);
  }
  return v;
}

export async function loadDir(ctx: WriteCtx, node: WNode): Promise<WDir> {
  const bs = ctx.space.disc.blockSize;
  const data = nodeFileData(node, bs);
  // The directory is rewritten from these bytes: all of them must be recorded, and on the medium.
  if (node.size > ctx.space.disc.byteSize || recordedEnd(data, node.size) < node.size) {
    throw new FsError('EIO', `directory ${node.ino}: ${node.size} bytes, not all recorded`);
  }
  const bytes = await readNode(ctx.space, node, 0, node.size);
  const dir: WDir = { node, bytes, store: bytes, slots: [], byName: new Map() };
  const what = `directory ${node.ino}`;
  let pos = 0;
  for (const { pos: at, size, fid: f } of fidsIn(bytes, (p) => blockOfByte(data, p, bs), what)) {
    const slot: Slot = { pos: at, size, fid: f, name: f.fileCharacteristics & FID_PARENT ? '' : translateName(f.fileIdent) };
    dir.slots.push(slot);
    if (isLive(slot) && !dir.byName.has(slot.name)) dir.byName.set(slot.name, slot);
    pos = at + size;
  }
  if (pos < bytes.length) {
    // Zero padding after the last FID is not part of the directory.
    dir.bytes = bytes.subarray(0, pos);
  }
  return dir;
}

/** NAME_MAX of Linux, in UTF-8 bytes. */
const NAME_MAX = 255;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The CS0 file identifier of a name a user gives: EINVAL for what cannot be one
 * directory entry ('/', NUL, "", ".", "..", text that is not Unicode, which no
 * UTF-8 can spell), ENAMETOOLONG past NAME_MAX bytes of UTF-8 or 255 of CS0.
 */
export function nameToIdent(name: string): Uint8Array {
  // A create checks the name (volume.ts freshName), then adds it (addEntry): encoded once.
  if (name === lastName && lastIdent) return lastIdent;
  const ident = checkedIdent(name);
  lastName = name;
  lastIdent = ident;
  return ident;
}
let lastName = '';
let lastIdent: Uint8Array | undefined;

function checkedIdent(name: string): Uint8Array {
  if (name === '' || name === '.' || name === '..') throw new FsError('EINVAL', `"${name}" cannot be the name of an entry`);
  if (name.includes('/') || name.includes('\0')) throw new FsError('EINVAL', `${JSON.stringify(name)}: a name cannot hold '/' or NUL`);
  if (LONE_SURROGATE.test(name)) throw new FsError('EINVAL', `${JSON.stringify(name)} is not valid Unicode`);
  const utf8 = Buffer.byteLength(name, 'utf8');
  if (utf8 > NAME_MAX) throw new FsError('ENAMETOOLONG', `"${name}" takes ${utf8} bytes of UTF-8, at most ${NAME_MAX}`);
  const ident = encodeCs0(name);
  if (ident.length > MAX_NAME_BYTES) throw new FsError('ENAMETOOLONG', `"${name}" takes ${ident.length} bytes of CS0, at most ${MAX_NAME_BYTES}`);
  return ident;
}

/** Re-tag the FID at `slot` for where it now lies. */
function tagSlot(dir: WDir, slot: Slot, bs: number): void {
  const location = blockOfByte(nodeFileData(dir.node, bs), slot.pos, bs);
  if (location === undefined) throw new FsError('EIO', `directory ${dir.node.ino}: no block for byte ${slot.pos}`);
  const t = slot.fid.descTag;
  finaliseTag(dir.bytes, slot.pos, { tagIdent: TAG_FID, descVersion: t.descVersion, tagSerialNum: t.tagSerialNum, tagLocation: location, crcLength: slot.size - 16 });
}

/**
 * Write bytes [pos, pos+len) of the directory, growing it; when its data left the ICB every FID
 * is re-tagged. When they hold a new FID, the entry it `names` reaches the medium no later than
 * they do (a packet layer may write packets in any order between flushes; test/crash/README.md):
 * told to the device once their blocks are known, before they are written.
 */
async function store(ctx: WriteCtx, dir: WDir, pos: number, len: number, names?: LongAd): Promise<void> {
  const bs = ctx.space.disc.blockSize;
  const moved = await prepareRange(ctx, dir.node, pos, pos + len);
  if (names) {
    const data = nodeFileData(dir.node, bs);
    const ref = data.kind === 'inline' ? data.loc.partitionReferenceNum : ctx.ref;
    const e = names.extLocation;
    for (const b of new Set([blockOfByte(data, pos, bs), blockOfByte(data, pos + len - 1, bs)])) {
      if (b !== undefined) orderPartBlocks(ctx.space, e.partitionReferenceNum, e.logicalBlockNum, 1, ref, b, 1);
    }
  }
  if (moved) {
    for (const s of dir.slots) tagSlot(dir, s, bs);
    await storeRange(ctx, dir.node, 0, dir.bytes);
    return;
  }
  // Slots are in byte order (appended at the end, reused in place, cut from the end): bisect.
  let lo = 0;
  for (let hi = dir.slots.length; lo < hi;) {
    const mid = (lo + hi) >> 1;
    if (dir.slots[mid].pos < pos) lo = mid + 1; else hi = mid;
  }
  for (let i = lo; i < dir.slots.length && dir.slots[i].pos < pos + len; i++) tagSlot(dir, dir.slots[i], bs);
  await storeRange(ctx, dir.node, pos, dir.bytes.subarray(pos, pos + len));
}

/** UDF 2.3.4.3: the ICB long_ad's implementation use holds the low 32 bits of the file's unique ID. */
export function icbLongAd(loc: LbAddr, bs: number, uniqueId: number): LongAd {
  const implUse = new Uint8Array(6);
  // Bytes 2-5, little-endian (without a Buffer over it just to write them: one per create, issue 6).
  const id = uniqueId % 0x100000000;
  implUse[2] = id & 0xff;
  implUse[3] = (id >>> 8) & 0xff;
  implUse[4] = (id >>> 16) & 0xff;
  implUse[5] = id >>> 24;
  return { extLength: bs, extLocation: loc, implUse };
}

function makeFid(tagFrom: Fid['descTag'], characteristics: number, icb: LongAd, ident: Uint8Array): Fid {
  return {
    descTag: tagFrom, fileVersionNum: 1, fileCharacteristics: characteristics, lengthFileIdent: ident.length,
    icb, lengthOfImpUse: 0, impUse: new Uint8Array(0), fileIdent: ident,
  };
}

/** The initial contents of a new directory: just the parent FID (4/14.4.3, UDF 2.3.4.2). */
export function parentFidBytes(descTag: Fid['descTag'], parentIcb: LongAd): Buffer {
  const f = makeFid(descTag, FID_PARENT | FID_DIRECTORY, parentIcb, new Uint8Array(0));
  const buf = Buffer.alloc(fid.sizeOf(0, 0));
  fid.encode(f, buf, 0);
  return buf;
}

/** Room for `size` more bytes at the end (the store doubles, so appends stay linear); returns where. */
function appendSpace(dir: WDir, size: number): number {
  const pos = dir.bytes.length;
  if (pos + size > dir.store.length) {
    const store = Buffer.alloc(Math.max(2 * dir.store.length, pos + size, 4096));
    dir.bytes.copy(store);
    dir.store = store;
  }
  dir.store.fill(0, pos, pos + size);
  dir.bytes = dir.store.subarray(0, pos + size);
  return pos;
}

/** Add an entry (the name must not be there yet). */
export async function addEntry(ctx: WriteCtx, dir: WDir, name: string, icb: LongAd, isDir: boolean, hidden = false): Promise<void> {
  const ident = nameToIdent(name);
  const size = fid.sizeOf(0, ident.length);
  const tagFrom = dir.slots[0]?.fid.descTag ?? dir.node.entry.descTag;
  const f = makeFid(tagFrom, (isDir ? FID_DIRECTORY : 0) | (hidden ? FID_HIDDEN : 0), icb, ident);
  const deleted = deletedCount(dir);
  let slot = deleted > 0 ? dir.slots.find((s) => (s.fid.fileCharacteristics & FID_DELETED) && s.size === size) : undefined;
  const reused = slot && { fid: slot.fid, name: slot.name };
  if (slot) {
    slot.fid = f;
    slot.name = name;
    deletedSlots.set(dir, deleted - 1);
  } else {
    slot = { pos: appendSpace(dir, size), size, fid: f, name };
    dir.slots.push(slot);
  }
  fid.encode(f, dir.bytes, slot.pos);
  dir.byName.set(name, slot);
  try {
    await store(ctx, dir, slot.pos, size, icb);
  } catch (e) {
    // The directory could not grow (ENOSPC) or be written: no trace of the entry may stay behind.
    dir.byName.delete(name);
    if (reused) {
      slot.fid = reused.fid;
      slot.name = reused.name;
      fid.encode(reused.fid, dir.bytes, slot.pos);
      deletedSlots.set(dir, deletedCount(dir) + 1);
    } else {
      dir.slots.pop();
      dir.bytes = dir.bytes.subarray(0, slot.pos);
    }
    throw e;
  }
}

/** Mark an entry deleted (its ICB zeroed, UDF 2.3.4.? strict form), shortening the directory when it was last. */
export async function removeEntry(ctx: WriteCtx, dir: WDir, name: string): Promise<void> {
  const slot = dir.byName.get(name);
  if (!slot) throw new FsError('ENOENT', `${name} not in directory ${dir.node.ino}`);
  const shared = hasSharedNames(dir);
  const deleted = deletedCount(dir);
  dir.byName.delete(name);
  slot.fid = { ...slot.fid, fileCharacteristics: slot.fid.fileCharacteristics | FID_DELETED, icb: { extLength: 0, extLocation: { logicalBlockNum: 0, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) } };
  fid.encode(slot.fid, dir.bytes, slot.pos);
  deletedSlots.set(dir, deleted + 1);
  // Another live entry of the same shown name takes over.
  const other = shared ? dir.slots.find((s) => s !== slot && isLive(s) && s.name === name) : undefined;
  if (other) dir.byName.set(name, other);
  let keep = dir.slots.length;
  while (keep > 1 && dir.slots[keep - 1].fid.fileCharacteristics & FID_DELETED) keep--;
  if (keep < dir.slots.length) {
    const newSize = dir.slots[keep].pos;
    dir.slots.splice(keep);
    deletedSlots.delete(dir); // counted again when next needed
    dir.bytes = dir.bytes.subarray(0, newSize);
    await truncateNode(ctx, dir.node, newSize);
    return;
  }
  await store(ctx, dir, slot.pos, slot.size);
}

/** Point the parent FID at a new parent (a directory moved elsewhere). */
export async function setParent(ctx: WriteCtx, dir: WDir, parentIcb: LongAd): Promise<void> {
  const slot = dir.slots.find((s) => s.fid.fileCharacteristics & FID_PARENT);
  if (!slot) throw new FsError('EIO', `directory ${dir.node.ino} has no parent entry`);
  slot.fid = { ...slot.fid, icb: parentIcb };
  fid.encode(slot.fid, dir.bytes, slot.pos);
  await store(ctx, dir, slot.pos, slot.size, parentIcb);
}

/** Where the parent entry points, if there is one. */
export function parentOf(dir: WDir): LbAddr | undefined {
  const slot = dir.slots.find((s) => s.fid.fileCharacteristics & FID_PARENT);
  return slot && (slot.fid.icb.extLength & EXT_LENGTH_MASK) > 0 ? slot.fid.icb.extLocation : slot?.fid.icb.extLocation;
}

/** Live entries with their ICBs, for readdir. */
export function liveEntries(dir: WDir, unhide: boolean): Slot[] {
  return dir.slots.filter((s) => isLive(s) && (unhide || !(s.fid.fileCharacteristics & FID_HIDDEN)) && (s.fid.icb.extLength & EXT_LENGTH_MASK) > 0);
}

/** The model of a new directory whose node holds (inline) just the parent FID; tags it. */
export function newDir(ctx: WriteCtx, node: WNode, descTag: Fid['descTag'], parentIcb: LongAd): WDir {
  const bytes = parentFidBytes(descTag, parentIcb);
  node.inline = Buffer.from(bytes);
  node.size = bytes.length;
  const dir: WDir = { node, bytes: node.inline, store: node.inline, slots: [{ pos: 0, size: bytes.length, fid: fid.decode(bytes, 0), name: '' }], byName: new Map() };
  tagSlot(dir, dir.slots[0], ctx.space.disc.blockSize);
  return dir;
}
