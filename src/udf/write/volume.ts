/**
 * A UDF volume mounted read-write: the WritableVolume interface over the
 * write engine (node.ts for file entries and data, directory.ts for FIDs,
 * alloc.ts/spacemap.ts for space, lvid.ts for integrity). Every operation
 * runs alone (one queue; file reads only alongside each other), so no operation
 * sees another half done. File entries
 * are written when they change shape and at fsync/sync; data and directory
 * contents go to the device straight away, before the entries pointing at them.
 */
import createDebug from 'debug';
import { FsError, isFsError } from '../../errors';
import type { WritableVolume, VolumeInfo, Attr, AttrMs, DirEntry, DirectMap, SetAttr } from '../types';
import { type Space, prefetchEntries, PREFETCH_ENTRIES, directMapOf } from '../icb';
import { entryToAttr, entryToAttrMs, inoOf, locOf, OwnerOptions, S_IFMT, S_IFDIR, S_IFLNK, S_IFREG, S_IFIFO, S_IFSOCK, typeBits } from '../attr';
import { decodePathComponents, pathComponentsToPosix } from '../symlink';
import { dateToTimestamp, msToTimestamp } from '../time';
import type { LbAddr, LongAd } from '../codec/primitives';
import {
  FT_DIRECTORY, FT_REGULAR, FT_SYMLINK, FT_FIFO, FT_SOCKET, ICB_FLAG_AD_IN_ICB, ICB_FLAG_SETUID, ICB_FLAG_SETGID, ICB_FLAG_STICKY,
  ICB_STRATEGY_4, FID_HIDDEN, FID_DIRECTORY, Fe, Efe,
} from '../codec/file';
import type { Tag } from '../codec/tag';
import { TAG_FE, TAG_EFE } from '../codec/tag';
import { WriteCtx, WNode, AdForm, checkSpace, loadNode, nodeFileData, readNode, readNodeInto, writeNode, truncateNode, storeNode, freeNode, recordedBlocks, MAX_FILE_SIZE } from './node';
import { WDir, loadDir, addEntry, removeEntry, setParent, parentOf, liveEntries, newDir, icbLongAd, nameToIdent } from './directory';
import { encodePathComponents } from './symlink';
import { SpaceMap, storeSpaceMap } from './spacemap';
import { LvidWriter } from './lvid';
import { PKTFS_IMP_IDENT } from './ident';
import type { SparingManager } from './sparing';

/** Device flushes in a row while the sparing tables keep changing (each pass may remap the tables' own writes' neighbours). */
const MAX_FLUSH_PASSES = 8;

const debug = createDebug('pktfs:udf:write');

/** Linux's UDF_MAX_LINKS. */
const MAX_LINKS = 0xffff;
const MAX_DEPTH = 4096;
const MAX_SYMLINK_BYTES = 64 << 10;
/** What a new entry holds before anything is written into it: nothing can be written into zero bytes, so one serves every entry. */
const EMPTY_BUFFER = Buffer.alloc(0);
const EMPTY_BYTES = new Uint8Array(0);
/**
 * The parent ICB (4/14.6.7) and extended attribute and stream ICBs (4/14.9.16, 4/14.17.20) a new
 * entry does not have: nothing changes them in place (an entry gets new ones), so every new
 * entry shares these (as format and fsck do; issue 6: fewer objects kept per cached node).
 */
const NO_PARENT_ICB: LbAddr = { logicalBlockNum: 0, partitionReferenceNum: 0 };
const NO_ICB: LongAd = { extLength: 0, extLocation: { logicalBlockNum: 0, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) };
/** 4/14.9.5: owner may change attributes and delete (bits 13, 14), as Linux sets them. */
const PERM_U_CHATTR = 0x2000;
const PERM_U_DELETE = 0x4000;

/** What a new file entry copies from the volume: FE or EFE, tag version and serial, AD form. */
export interface EntryDefaults {
  kind: 'fe' | 'efe';
  descTag: Tag;
  adForm: AdForm;
}

export interface WritableMount {
  space: Space;
  info: VolumeInfo;
  rootIno: number;
  owner: OwnerOptions;
  unhide: boolean;
  map: SpaceMap;
  lvid: LvidWriter;
  defaults: EntryDefaults;
  numFiles: number;
  numDirs: number;
  /** Settle (entries, space map, LVID closed) after this long without changes; never when absent or Infinity. */
  idleSettleMs?: number;
  /** Defect management of a sparable partition, when the device beneath has a packet layer. */
  sparing?: SparingManager;
}

/** 1/7.3.4: a timestamp's year is 1 to 9999 (and a 16-bit field): the first and last moments it holds. */
const FIRST_RECORDABLE_MS = -62135596800000; // 0001-01-01T00:00:00Z
const LAST_RECORDABLE_MS = 253402300799999; // 9999-12-31T23:59:59.999Z

/**
 * A time a timestamp can hold: one outside years 1-9999 (touch -d @1e15, year 33658) is recorded
 * as the nearest one it can hold, as Linux's udf clamps. Recorded as given, its year overflowed the
 * 16-bit field when the entry was stored, and that store (an fsync, the unmount) failed.
 */
function recordable(d: Date): Date {
  const t = d.getTime();
  return t < FIRST_RECORDABLE_MS ? new Date(FIRST_RECORDABLE_MS) : t > LAST_RECORDABLE_MS ? new Date(LAST_RECORDABLE_MS) : d;
}

function modeToPermissions(mode: number): number {
  return (mode & 7) | (((mode >> 3) & 7) << 5) | (((mode >> 6) & 7) << 10) | PERM_U_CHATTR | PERM_U_DELETE;
}

function modeToIcbFlags(mode: number): number {
  return (mode & 0o4000 ? ICB_FLAG_SETUID : 0) | (mode & 0o2000 ? ICB_FLAG_SETGID : 0) | (mode & 0o1000 ? ICB_FLAG_STICKY : 0);
}

/**
 * How many file entries and directories stay decoded in memory between operations. Clean ones
 * beyond this are dropped (and read again when needed): without a bound, every node ever
 * visited stayed in memory, about 10 kB per file (issue 6: a volume of 1,000,000 files).
 * Dirty nodes, nodes with unwritten blocks and the directories' own nodes always stay.
 */
export const NODE_CACHE = { limit: 4096 };

/**
 * Dirty entries not touched by the last this many changes are written to the packet layer
 * before the next operation: a tree copy touches a file, then never again, and its entry's
 * packet, written under pressure before the next flush, then holds the entry as it will stay
 * (else the flush stored the entry again and the packet was written twice, issue 6).
 */
export const DIRTY_NODES = { limit: 8 };

export class WritableUdfVolume implements WritableVolume {
  onAttrChange?: (ino: number) => void;
  readonly info: VolumeInfo;
  /** The mount's `-o umask=` (WritableVolume.umask). */
  get umask(): number {
    return this.m.owner.umask;
  }
  readonly rootIno: number;
  private readonly nodes = new Map<number, WNode>();
  private readonly dirs = new Map<number, WDir>();
  private readonly ctx: WriteCtx;
  private queue: Promise<unknown> = Promise.resolve();
  /** The queue as the last operation other than a file read left it: what a file read waits for. */
  private changes: Promise<unknown> = Promise.resolve();
  /** Operations queued or running (run(), runRead()). */
  private pending = 0;
  private closed = false;
  private numFiles: number;
  private numDirs: number;
  /** The running operation changed something (so the idle countdown restarts). */
  private opChanged = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Idle timers started so far (for tests: one per quiet period, not one per change). */
  idleTimers = 0;
  /** A failure of the idle settle, which no caller waited for: the next fsync, sync or close reports it. */
  private deferred: unknown;
  private readonly errorWatchers: (() => void)[] = [];
  /** Set when the volume turned read-only while mounted (spares used up). */
  private readOnlyNow: string | undefined;
  /** Cached nodes (plus directories) at which the next trim runs; doubles past what could not be dropped. */
  private trimAt = NODE_CACHE.limit;
  /** Nodes touched by changes, least recently first (DIRTY_NODES). */
  private readonly touched = new Map<number, WNode>();
  /** Directories whose entries were prefetched since they were loaded. */
  private readonly prefetched = new WeakSet<WDir>();

  constructor(private readonly m: WritableMount) {
    this.info = m.info;
    this.rootIno = m.rootIno;
    this.numFiles = m.numFiles;
    this.numDirs = m.numDirs;
    this.ctx = {
      space: m.space, ref: m.map.ref, alloc: m.map.alloc,
      beforeWrite: async () => {
        if (this.closed) throw new FsError('EIO', 'volume closed');
        if (this.readOnlyNow) throw new FsError('EROFS', this.readOnlyNow);
        this.opChanged = true;
        if (!m.lvid.isOpenOnDisc) {
          await m.lvid.markOpen();
          this.info.integrity = 'open';
        }
      },
    };
    if (m.sparing) {
      m.sparing.onExhausted = (reason) => {
        this.readOnlyNow = reason;
        this.info.readOnlyReason = reason;
        this.info.warnings.push(reason);
        debug('read-only from now on: %s', reason);
      };
    }
  }

  private get bs(): number {
    return this.m.space.disc.blockSize;
  }

  /**
   * Run `fn` after every operation queued before it; at once when none is pending (issue 6:
   * every FUSE request came here, and a hop through an idle queue was a few promise ticks each).
   */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    const idle = this.pending === 0;
    this.pending++;
    const p = idle ? this.runNow(fn) : this.queue.then(() => this.runNow(fn));
    const done = (): void => { this.pending--; };
    this.queue = p.then(done, done);
    this.changes = this.queue;
    return p;
  }

  private async runNow<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (this.closed) throw new FsError('EIO', 'volume closed');
      try {
        // Between operations no node is held by anyone, so nodes can be written and dropped here.
        // (Inline, not a closure of its own: a promise and a frame less per request, issue 6.)
        if (this.touched.size > DIRTY_NODES.limit) await this.storeOldTouched();
        if (this.nodes.size + this.dirs.size > this.trimAt) await this.trim();
        return await fn();
      } catch (e) {
        // Space freed since the last flush is held back until the entries that freed it are on
        // the medium (alloc.ts): record them, then try once more. Operations fail with ENOSPC
        // before changing anything, so running one again is safe.
        if (!isFsError(e, 'ENOSPC') || this.m.map.alloc.heldBackBlocks === 0 || !this.m.lvid.isOpenOnDisc) throw e;
        debug('ENOSPC with %d blocks held back: flushing and trying again', this.m.map.alloc.heldBackBlocks);
        await this.flushAll();
        return await fn();
      }
    } finally {
      this.info.freeBlocks = this.m.map.alloc.freeBlocks;
      this.info.numFiles = this.numFiles;
      this.info.numDirs = this.numDirs;
      // Only changes restart the countdown: reads in between must not keep the volume open.
      if (this.opChanged) this.armIdle();
      this.opChanged = false;
    }
  }

  /**
   * Run a file read after every other operation queued before it, but alongside other file
   * reads: the kernel sends several reads of a file at once (its read-ahead), and one waiting
   * for the device need not hold up the next (issue 6). Operations queued after it wait for it
   * as for any other, so no read overlaps a change, and a read sees every change that returned.
   */
  private runRead<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const p = this.changes.then(() => {
      if (this.closed) throw new FsError('EIO', 'volume closed');
      return fn();
    });
    const done = (): void => { this.pending--; };
    this.queue = Promise.all([this.queue, p.then(done, done)]);
    return p;
  }

  /** The node of `ino`, read when not cached. (Hot paths look in `nodes` first: a hit costs no promise.) */
  private async node(ino: number): Promise<WNode> {
    const hit = this.nodes.get(ino);
    if (hit) return hit;
    if (!Number.isSafeInteger(ino) || ino < 1) throw new FsError('ENOENT', `inode ${ino} does not exist`);
    const loc = locOf(ino);
    // Inode numbers come from directory entries: one naming a partition that is not there is damaged.
    if (!this.m.space.partitions[loc.partitionReferenceNum]) throw new FsError('EIO', `inode ${ino}: its ICB is in partition ${loc.partitionReferenceNum}, which the volume does not have`);
    const n = await loadNode(this.m.space, ino, loc, this.m.defaults.adForm);
    this.nodes.set(ino, n);
    return n;
  }

  /** Write a node's entry (and AEDs). */
  private async store(n: WNode): Promise<void> {
    const blocks = this.onAttrChange ? recordedBlocks(n) : 0;
    await storeNode(this.ctx, n);
    this.touched.delete(n.ino);
    // Storing may give the entry allocation extent blocks or take them back: its block count
    // changes with no operation on it (WritableVolume.onAttrChange).
    if (this.onAttrChange && recordedBlocks(n) !== blocks) this.onAttrChange(n.ino);
  }

  /** Store the entries not touched by the last DIRTY_NODES.limit changes (those still cached and dirty). */
  private async storeOldTouched(): Promise<void> {
    for (const [ino, n] of this.touched) {
      if (this.touched.size <= DIRTY_NODES.limit) break;
      this.touched.delete(ino);
      if (n.dirty && this.nodes.get(ino) === n) await this.store(n);
    }
  }

  /** Cached nodes and directories, for tests of the cache bound. */
  get cachedNodes(): number {
    return this.nodes.size + this.dirs.size;
  }

  /**
   * Drop the oldest clean nodes and directories until the cache is back at its limit. A
   * directory goes with its node (a directory's node must be the one its WDir holds); its
   * bytes are on the packet layer already (directory.ts stores every change at once).
   * When dirty nodes alone are over the limit (a long copy without an idle moment), the
   * oldest are written to the packet layer first, as the next flush would have done.
   */
  private async trim(): Promise<void> {
    const limit = NODE_CACHE.limit;
    const clean = (n: WNode): boolean => !n.dirty && n.fresh.size === 0 && n.ino !== this.rootIno;
    let over = this.nodes.size + this.dirs.size - limit;
    for (const n of this.nodes.values()) {
      if (over <= 0) break;
      if (!n.dirty) { over--; continue; }
      await this.store(n);
      over--;
    }
    for (const [ino, d] of this.dirs) {
      if (this.nodes.size + this.dirs.size <= limit) break;
      if (clean(d.node) && this.nodes.get(ino) === d.node) {
        this.dirs.delete(ino);
        this.nodes.delete(ino);
      }
    }
    for (const [ino, n] of this.nodes) {
      if (this.nodes.size + this.dirs.size <= limit) break;
      if (clean(n) && !this.dirs.has(ino)) this.nodes.delete(ino);
    }
    // What is left is dirty: wait for twice as many before scanning again (amortised O(1) per op).
    this.trimAt = Math.max(limit, 2 * (this.nodes.size + this.dirs.size));
    debug('trimmed the node cache to %d nodes, %d directories', this.nodes.size, this.dirs.size);
  }

  private isDirNode(n: WNode): boolean {
    return typeBits(n.entry.icbTag.fileType) === S_IFDIR;
  }

  private async dir(ino: number): Promise<WDir> {
    const hit = this.dirs.get(ino);
    if (hit) return hit;
    const n = await this.node(ino);
    if (!this.isDirNode(n)) throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
    const d = await loadDir(this.ctx, n);
    this.dirs.set(ino, d);
    return d;
  }

  private attrOf(n: WNode): Attr {
    n.entry.informationLength = n.size;
    n.entry.logicalBlocksRecorded = recordedBlocks(n);
    return entryToAttr(n.ino, n.entry, this.bs, this.m.owner);
  }

  private touch(n: WNode, data: boolean): void {
    const now = msToTimestamp(Date.now());
    if (data) n.entry.modificationTime = now;
    n.entry.attrTime = now;
    n.dirty = true;
    this.touched.delete(n.ino);
    this.touched.set(n.ino, n);
  }

  /* ------------------------------------------------------------ reading */

  private entryIno(d: WDir, name: string): number {
    const ino = this.entryInoIfAny(d, name);
    if (ino === undefined) throw new FsError('ENOENT', `${name} not in directory ${d.node.ino}`);
    return ino;
  }

  private entryInoIfAny(d: WDir, name: string): number | undefined {
    const s = d.byName.get(name);
    if (!s || ((s.fid.fileCharacteristics & FID_HIDDEN) && !this.m.unhide)) return undefined;
    return inoOf(s.fid.icb.extLocation);
  }

  lookup(dirIno: number, name: string): Promise<number> {
    return this.run(async () => this.entryIno((this.dirs.get(dirIno) ?? await this.dir(dirIno)), name));
  }

  find(dirIno: number, name: string): Promise<number | undefined> {
    return this.run(async () => this.entryInoIfAny((this.dirs.get(dirIno) ?? await this.dir(dirIno)), name));
  }

  getattr(ino: number): Promise<Attr> {
    return this.run(async () => this.attrOf((this.nodes.get(ino) ?? await this.node(ino))));
  }

  /** getattr without a wait, when none is needed: a cached node and no operation queued or running. */
  attrNow(ino: number): AttrMs | undefined {
    if (this.pending !== 0 || this.closed) return undefined;
    const n = this.nodes.get(ino);
    if (!n) return undefined;
    n.entry.informationLength = n.size;
    n.entry.logicalBlocksRecorded = recordedBlocks(n);
    return entryToAttrMs(n.ino, n.entry, this.bs, this.m.owner);
  }

  readdir(dirIno: number): Promise<DirEntry[]> {
    return this.run(async () => {
      const d = await this.dir(dirIno);
      const out = liveEntries(d, this.m.unhide).filter((s) => d.byName.get(s.name) === s).map((s) => ({ name: s.name, ino: inoOf(s.fid.icb.extLocation) }));
      if (!this.prefetched.has(d)) {
        // A listing is followed by a stat of every entry (find, ls -l, rm -rf): their entries,
        // one block each and usually close together, are read in a few device reads.
        this.prefetched.add(d);
        const locs = out.filter((e) => !this.nodes.has(e.ino)).map((e) => locOf(e.ino));
        prefetchEntries(this.m.space, locs, PREFETCH_ENTRIES.limit);
      }
      return out;
    });
  }

  read(ino: number, offset: number, length: number): Promise<Buffer> {
    return this.runRead(async () => {
      const n = await this.node(ino);
      if (this.isDirNode(n)) throw new FsError('EISDIR', `inode ${ino} is a directory`);
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) throw new FsError('EINVAL', `read of ${length} bytes at ${offset}`);
      return readNode(this.m.space, n, offset, length);
    });
  }

  readInto(ino: number, offset: number, length: number, into: Buffer): Promise<number> {
    return this.runRead(async () => {
      const n = await this.node(ino);
      if (this.isDirNode(n)) throw new FsError('EISDIR', `inode ${ino} is a directory`);
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) throw new FsError('EINVAL', `read of ${length} bytes at ${offset}`);
      return readNodeInto(this.m.space, n, offset, length, into);
    });
  }

  /** After the changes queued before it, as a read: data already handed to the device is where it will be read from. */
  directMap(ino: number): Promise<DirectMap | undefined> {
    return this.runRead(async () => {
      const n = await this.node(ino);
      if (typeBits(n.entry.icbTag.fileType) !== S_IFREG) return undefined;
      return directMapOf(this.m.space, nodeFileData(n, this.m.space.disc.blockSize), n.size);
    });
  }

  readlink(ino: number): Promise<string> {
    return this.run(async () => {
      const n = await this.node(ino);
      if (typeBits(n.entry.icbTag.fileType) !== S_IFLNK) throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
      if (n.size > MAX_SYMLINK_BYTES) throw new FsError('EIO', `symlink ${ino} is ${n.size} bytes`);
      return pathComponentsToPosix(decodePathComponents(await readNode(this.m.space, n, 0, n.size)));
    });
  }

  /* ------------------------------------------------------------ creating */

  /** A new file entry in its own block near `near`, written at once (before any FID names it). */
  private newNode(fileType: number, mode: number, uid: number, gid: number, near: LbAddr): WNode {
    checkSpace(this.ctx, 1, 'new file entry');
    // (Directories' entries in packets of their own: alloc.ts kinds.)
    const [piece] = this.ctx.alloc.allocate(1, near.logicalBlockNum + 1, undefined, fileType === FT_DIRECTORY ? 'dir' : 'meta');
    const loc: LbAddr = { logicalBlockNum: piece.block, partitionReferenceNum: this.ctx.ref };
    const now = msToTimestamp(Date.now());
    const d = this.m.defaults;
    // (Written out rather than spread into an FE and an EFE: a spread of this many fields cost
    // ~7 µs a create, issue 6. Each kind's fields in the order its codec decodes them, so a new
    // entry has the same hidden class as one read from the disc, and code that handles entries
    // is not optimised again for every kind of object it meets.)
    const descTag = { ...d.descTag, tagIdent: d.kind === 'fe' ? TAG_FE : TAG_EFE, tagLocation: piece.block };
    const icbTag = {
      priorRecordedNumDirectEntries: 0, strategyType: ICB_STRATEGY_4, strategyParameter: 0, numEntries: 1,
      fileType, parentICBLocation: NO_PARENT_ICB, flags: ICB_FLAG_AD_IN_ICB | modeToIcbFlags(mode),
    };
    const entry: Fe | Efe = d.kind === 'fe'
      ? {
        kind: 'fe', descTag, icbTag, uid: uid >>> 0, gid: gid >>> 0, permissions: modeToPermissions(mode),
        fileLinkCount: 1, recordFormat: 0, recordDisplayAttr: 0, recordLength: 0,
        informationLength: 0, logicalBlocksRecorded: 0, accessTime: now, modificationTime: now, attrTime: now, checkpoint: 1,
        extendedAttrICB: NO_ICB, impIdent: PKTFS_IMP_IDENT, uniqueID: this.m.lvid.nextUniqueId(),
        lengthExtendedAttr: 0, lengthAllocDescs: 0, extendedAttr: EMPTY_BYTES, allocDescs: EMPTY_BYTES,
      }
      : {
        kind: 'efe', descTag, icbTag, uid: uid >>> 0, gid: gid >>> 0, permissions: modeToPermissions(mode),
        fileLinkCount: 1, recordFormat: 0, recordDisplayAttr: 0, recordLength: 0,
        informationLength: 0, objectSize: 0, logicalBlocksRecorded: 0, accessTime: now, modificationTime: now, createTime: now,
        attrTime: now, checkpoint: 1, extendedAttrICB: NO_ICB, streamDirectoryICB: NO_ICB, impIdent: PKTFS_IMP_IDENT,
        uniqueID: this.m.lvid.nextUniqueId(), lengthExtendedAttr: 0, lengthAllocDescs: 0, extendedAttr: EMPTY_BYTES, allocDescs: EMPTY_BYTES,
      };
    const node: WNode = {
      ino: inoOf(loc), loc, entry, inline: EMPTY_BUFFER, runs: [], size: 0, aeds: [],
      adForm: d.adForm, fresh: new Set(), dirty: true, tail: undefined,
    };
    this.nodes.set(node.ino, node);
    return node;
  }

  /** Checks shared by everything that adds a name. */
  private async freshName(dirIno: number, name: string): Promise<WDir> {
    const d = (this.dirs.get(dirIno) ?? await this.dir(dirIno));
    nameToIdent(name);
    if (d.byName.has(name)) throw new FsError('EEXIST', `${name} already in directory ${dirIno}`);
    await this.ctx.beforeWrite();
    return d;
  }

  private async addNonDir(dirIno: number, name: string, fileType: number, mode: number, uid: number, gid: number, data?: Buffer): Promise<number> {
    const d = await this.freshName(dirIno, name);
    const n = this.newNode(fileType, mode, uid, gid, d.node.loc);
    try {
      if (data) await writeNode(this.ctx, n, 0, data);
      // The entry reaches the packet layer before the FID that names it: a crash must never leave
      // a name pointing at a block that holds no entry (fsck could only drop the name). Writing
      // it only at the next flush saved packet rewrites (issue 6) but broke that (test/crash).
      await this.store(n);
      await addEntry(this.ctx, d, name, icbLongAd(n.loc, this.bs, n.entry.uniqueID), false);
    } catch (e) {
      freeNode(this.ctx, n);
      this.nodes.delete(n.ino);
      throw e;
    }
    this.numFiles++;
    this.touch(d.node, true);
    return n.ino;
  }

  create(dirIno: number, name: string, mode: number, uid: number, gid: number): Promise<number> {
    return this.run(() => this.addNonDir(dirIno, name, FT_REGULAR, mode, uid, gid));
  }

  mknod(dirIno: number, name: string, mode: number, _rdev: number, uid: number, gid: number): Promise<number> {
    return this.run(() => {
      const fmt = mode & S_IFMT;
      if (fmt === S_IFREG || fmt === 0) return this.addNonDir(dirIno, name, FT_REGULAR, mode, uid, gid);
      if (fmt === S_IFIFO) return this.addNonDir(dirIno, name, FT_FIFO, mode, uid, gid);
      if (fmt === S_IFSOCK) return this.addNonDir(dirIno, name, FT_SOCKET, mode, uid, gid);
      throw new FsError('EPERM', `device nodes (mode 0${mode.toString(8)}) are not written`);
    });
  }

  symlink(dirIno: number, name: string, target: string, uid: number, gid: number): Promise<number> {
    return this.run(() => this.addNonDir(dirIno, name, FT_SYMLINK, 0o777, uid, gid, encodePathComponents(target)));
  }

  mkdir(dirIno: number, name: string, mode: number, uid: number, gid: number): Promise<number> {
    return this.run(async () => {
      const parent = await this.freshName(dirIno, name);
      if (parent.node.entry.fileLinkCount >= MAX_LINKS) throw new FsError('EMLINK', `directory ${dirIno} has ${MAX_LINKS} links`);
      const n = this.newNode(FT_DIRECTORY, mode, uid, gid, parent.node.loc);
      const d = newDir(this.ctx, n, this.m.defaults.descTag, icbLongAd(parent.node.loc, this.bs, parent.node.entry.uniqueID));
      try {
        await this.store(n);
        await addEntry(this.ctx, parent, name, icbLongAd(n.loc, this.bs, n.entry.uniqueID), true);
      } catch (e) {
        freeNode(this.ctx, n);
        this.nodes.delete(n.ino);
        throw e;
      }
      this.dirs.set(n.ino, d);
      parent.node.entry.fileLinkCount++;
      this.touch(parent.node, true);
      this.numDirs++;
      return n.ino;
    });
  }

  link(ino: number, dirIno: number, name: string): Promise<void> {
    return this.run(async () => {
      const n = await this.node(ino);
      if (this.isDirNode(n)) throw new FsError('EPERM', `inode ${ino} is a directory`);
      if (n.entry.fileLinkCount >= MAX_LINKS) throw new FsError('EMLINK', `inode ${ino} has ${MAX_LINKS} links`);
      const d = await this.freshName(dirIno, name);
      n.entry.fileLinkCount++;
      this.touch(n, false);
      await this.store(n);
      await addEntry(this.ctx, d, name, icbLongAd(n.loc, this.bs, n.entry.uniqueID), false);
      this.touch(d.node, true);
    });
  }

  /* ------------------------------------------------------------ removing */

  /** Drop one link of a non-directory; the last one frees it. */
  private async dropLink(n: WNode): Promise<void> {
    n.entry.fileLinkCount = Math.max(0, n.entry.fileLinkCount - 1);
    if (n.entry.fileLinkCount === 0) {
      freeNode(this.ctx, n);
      this.nodes.delete(n.ino);
      this.numFiles = Math.max(0, this.numFiles - 1);
    } else {
      this.touch(n, false);
    }
  }

  private async removeDirNode(parent: WDir, target: WDir): Promise<void> {
    freeNode(this.ctx, target.node);
    this.nodes.delete(target.node.ino);
    this.dirs.delete(target.node.ino);
    parent.node.entry.fileLinkCount = Math.max(1, parent.node.entry.fileLinkCount - 1);
    this.numDirs = Math.max(0, this.numDirs - 1);
  }

  unlink(dirIno: number, name: string): Promise<void> {
    return this.run(async () => {
      const d = await this.dir(dirIno);
      const ino = this.entryIno(d, name);
      const n = await this.node(ino);
      if (this.isDirNode(n)) throw new FsError('EISDIR', `${name} is a directory`);
      await this.ctx.beforeWrite();
      await removeEntry(this.ctx, d, name);
      await this.dropLink(n);
      this.touch(d.node, true);
    });
  }

  rmdir(dirIno: number, name: string): Promise<void> {
    return this.run(async () => {
      const d = await this.dir(dirIno);
      const ino = this.entryIno(d, name);
      const t = await this.dir(ino);
      if (liveEntries(t, true).length > 0) throw new FsError('ENOTEMPTY', `directory ${name} is not empty`);
      await this.ctx.beforeWrite();
      await removeEntry(this.ctx, d, name);
      await this.removeDirNode(d, t);
      this.touch(d.node, true);
    });
  }

  /** Whether directory `ino` is `dirIno` or one of its ancestors (following parent FIDs). */
  private async isAncestor(ino: number, dirIno: number): Promise<boolean> {
    let cur = dirIno;
    for (let i = 0; i < MAX_DEPTH; i++) {
      if (cur === ino) return true;
      if (cur === this.rootIno) return false;
      const p = parentOf(await this.dir(cur));
      if (!p) return false;
      const next = inoOf(p);
      if (next === cur) return false;
      cur = next;
    }
    throw new FsError('ELOOP', `directory ${dirIno}: more than ${MAX_DEPTH} ancestors`);
  }

  rename(fromDirIno: number, fromName: string, toDirIno: number, toName: string): Promise<void> {
    return this.run(async () => {
      const from = await this.dir(fromDirIno);
      const to = await this.dir(toDirIno);
      const ino = this.entryIno(from, fromName);
      const n = await this.node(ino);
      const isDir = this.isDirNode(n);
      nameToIdent(toName);
      if (fromDirIno === toDirIno && fromName === toName) return;
      if (isDir && await this.isAncestor(ino, toDirIno)) throw new FsError('EINVAL', `cannot move directory ${fromName} into itself`);
      const existing = to.byName.get(toName);
      let replaced: { node: WNode; dir?: WDir } | undefined;
      if (existing) {
        const tIno = inoOf(existing.fid.icb.extLocation);
        if (tIno === ino) return; // two links to one file: rename(2) does nothing
        const tNode = await this.node(tIno);
        if (this.isDirNode(tNode)) {
          if (!isDir) throw new FsError('EISDIR', `${toName} is a directory`);
          const td = await this.dir(tIno);
          if (liveEntries(td, true).length > 0) throw new FsError('ENOTEMPTY', `directory ${toName} is not empty`);
          replaced = { node: tNode, dir: td };
        } else {
          if (isDir) throw new FsError('ENOTDIR', `${toName} is not a directory`);
          replaced = { node: tNode };
        }
      }
      if (isDir && !replaced && fromDirIno !== toDirIno && to.node.entry.fileLinkCount >= MAX_LINKS) {
        throw new FsError('EMLINK', `directory ${toDirIno} has ${MAX_LINKS} links`);
      }
      await this.ctx.beforeWrite();
      const hidden = (from.byName.get(fromName)!.fid.fileCharacteristics & FID_HIDDEN) !== 0;
      if (replaced) {
        // Its slot is reused by the new entry (same name, same size), so that addEntry needs no room.
        const old = existing!;
        await removeEntry(this.ctx, to, toName);
        try {
          await addEntry(this.ctx, to, toName, icbLongAd(n.loc, this.bs, n.entry.uniqueID), isDir, hidden);
        } catch (e) {
          // rename(2) is all or nothing: the replaced entry comes back.
          await addEntry(this.ctx, to, toName, old.fid.icb, (old.fid.fileCharacteristics & FID_DIRECTORY) !== 0, (old.fid.fileCharacteristics & FID_HIDDEN) !== 0);
          throw e;
        }
        if (replaced.dir) await this.removeDirNode(to, replaced.dir);
        else await this.dropLink(replaced.node);
      } else {
        // The new name first: a crash in between leaves two names, never none.
        await addEntry(this.ctx, to, toName, icbLongAd(n.loc, this.bs, n.entry.uniqueID), isDir, hidden);
      }
      await removeEntry(this.ctx, from, fromName);
      if (isDir && fromDirIno !== toDirIno) {
        await setParent(this.ctx, await this.dir(ino), icbLongAd(to.node.loc, this.bs, to.node.entry.uniqueID));
        from.node.entry.fileLinkCount = Math.max(1, from.node.entry.fileLinkCount - 1);
        to.node.entry.fileLinkCount++;
      }
      this.touch(n, false);
      this.touch(from.node, true);
      this.touch(to.node, true);
    });
  }

  /* ------------------------------------------------------------ data and attributes */

  private async regular(ino: number): Promise<WNode> {
    const n = (this.nodes.get(ino) ?? await this.node(ino));
    if (this.isDirNode(n)) throw new FsError('EISDIR', `inode ${ino} is a directory`);
    return n;
  }

  write(ino: number, offset: number, data: Buffer): Promise<number> {
    return this.run(async () => {
      const n = await this.regular(ino);
      if (!Number.isInteger(offset) || offset < 0) throw new FsError('EINVAL', `write at ${offset}`);
      // Refused before anything (the LVID's open mark included) reaches the disc.
      if (offset + data.length > MAX_FILE_SIZE) throw new FsError('EFBIG', `write of ${data.length} bytes at ${offset}: beyond ${MAX_FILE_SIZE}`);
      if (data.length === 0) return 0;
      await this.ctx.beforeWrite();
      const embedded = n.inline?.length;
      await writeNode(this.ctx, n, offset, data);
      this.touch(n, true);
      // An entry whose data just left the ICB must not keep describing it as embedded. One that
      // embedded nothing (a new file's first write: issue 6, a third of a tree copy's entry
      // writes) describes an empty file, as on the medium before the write: it is written later.
      if (embedded !== undefined && embedded > 0 && !n.inline) await this.store(n);
      return data.length;
    });
  }

  truncate(ino: number, size: number): Promise<void> {
    return this.run(async () => {
      const n = await this.regular(ino);
      if (!Number.isInteger(size) || size < 0) throw new FsError('EINVAL', `truncate to ${size}`);
      if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `truncate to ${size}: beyond ${MAX_FILE_SIZE}`);
      if (size === n.size) return;
      await this.ctx.beforeWrite();
      await truncateNode(this.ctx, n, size);
      this.touch(n, true);
      // Freed blocks may be reused at once: the entry must stop pointing at them first.
      await this.store(n);
    });
  }

  setattr(ino: number, attr: SetAttr): Promise<void> {
    return this.run(async () => {
      const n = (this.nodes.get(ino) ?? await this.node(ino));
      await this.ctx.beforeWrite();
      const e = n.entry;
      if (attr.mode !== undefined) {
        e.permissions = modeToPermissions(attr.mode) | (e.permissions & ~0x7fff);
        e.icbTag.flags = (e.icbTag.flags & ~(ICB_FLAG_SETUID | ICB_FLAG_SETGID | ICB_FLAG_STICKY)) | modeToIcbFlags(attr.mode);
      }
      if (attr.uid !== undefined) e.uid = attr.uid >>> 0;
      if (attr.gid !== undefined) e.gid = attr.gid >>> 0;
      if (attr.atime !== undefined) e.accessTime = dateToTimestamp(recordable(attr.atime));
      if (attr.mtime !== undefined) e.modificationTime = dateToTimestamp(recordable(attr.mtime));
      this.touch(n, false);
      if (attr.ctime !== undefined) e.attrTime = dateToTimestamp(attr.ctime);
    });
  }

  /**
   * The file's entry, and the entries of every changed directory (a new name
   * often lives in its directory's ICB: a file fsync'ed must be found again by
   * its path), after a flush that puts the data they point at on the medium
   * first; then the flush that makes them durable.
   */
  fsync(ino: number): Promise<void> {
    return this.run(async () => {
      const n = this.nodes.get(ino);
      const dirs = [...this.dirs.values()].map((d) => d.node).filter((d) => d.dirty && d !== n);
      if (n?.dirty || dirs.length) {
        // Not beforeWrite: an entry written before the volume turned read-only must still reach the disc.
        await this.m.lvid.markOpen();
        await this.flushDevice('data');
        if (n?.dirty) await this.store(n);
        for (const d of dirs) await this.store(d);
      }
      if (this.m.lvid.isOpenOnDisc) await this.flushDevice();
      this.reportDeferred();
    });
  }

  /**
   * A write that failed where no caller waited (the idle settle, a packet written
   * back in the background), for close(2) to report without writing anything;
   * fsync and unmount report it too.
   */
  writeError(): Error | undefined {
    if (this.deferred) return this.deferred instanceof Error ? this.deferred : new FsError('EIO', String(this.deferred));
    return this.m.space.disc.dev.pendingError?.();
  }

  watchWriteErrors(cb: () => void): boolean {
    const dev = this.m.space.disc.dev;
    if (!dev.watchErrors) return false;
    dev.watchErrors(cb);
    this.errorWatchers.push(cb);
    return true;
  }

  deferWriteError(e: unknown): void {
    this.deferred ??= e;
    for (const cb of this.errorWatchers) cb();
  }

  /** Throw (once) what the idle settle failed with since the last fsync, sync or close. */
  private reportDeferred(): void {
    const e = this.deferred;
    this.deferred = undefined;
    if (e) throw e;
  }

  /** Data (flushed), then entries, then the space map, then the device flush; freed blocks may then be reused. */
  private async flushAll(): Promise<void> {
    if (!this.m.lvid.isOpenOnDisc) return;
    // A barrier: the entries written next must not reach the medium before the data they point at.
    // Directories, entries and allocation extents wait in the packet layer for the flush below,
    // ordered there (node.ts storeNode, directory.ts addEntry): written now, their packets were
    // written again right after (issue 6).
    await this.flushDevice('data');
    for (const n of this.nodes.values()) if (n.dirty) await this.store(n);
    // Everything is clean now: the next operation may trim the cache back to its limit.
    this.trimAt = NODE_CACHE.limit;
    await storeSpaceMap(this.m.space, this.m.map);
    await this.flushDevice();
    // Nothing on the medium points at the blocks freed so far any more.
    this.m.map.alloc.commitFreed();
  }

  /**
   * Flush the device; when packets were remapped meanwhile, write the sparing
   * tables and flush again, until they stand still. A remap during the flush
   * leaves the tables newer than what the flush wrote.
   */
  private async flushDevice(scope?: 'data'): Promise<void> {
    const dev = this.m.space.disc.dev;
    let failure: unknown = null;
    for (let pass = 0; pass < MAX_FLUSH_PASSES; pass++) {
      try {
        // (The sparing tables are not written as metadata: a data-only flush writes them too.)
        await dev.flush(scope);
      } catch (e) {
        // Keep going: the tables must record the remaps that did succeed.
        failure ??= e;
      }
      if (!this.m.sparing || !(await this.m.sparing.writeIfChanged())) break;
    }
    if (failure) throw failure;
  }

  private counts() {
    return { numFiles: this.numFiles, numDirs: this.numDirs, free: new Map([[this.m.map.ref, this.m.map.alloc.freeBlocks]]) };
  }

  sync(): Promise<void> {
    return this.run(async () => {
      await this.flushAll();
      if (this.m.lvid.isOpenOnDisc) await this.m.lvid.close(this.counts(), true);
      this.reportDeferred();
    });
  }

  /**
   * Restart the idle countdown after a change. One timer per quiet period, not one per change
   * (issue 6: a tree copy re-armed it ~40,000 times): a change only moves the deadline, and a
   * timer that fires before it waits again for what is left.
   */
  private armIdle(): void {
    const ms = this.m.idleSettleMs;
    if (ms === undefined || !(ms < 2 ** 31)) return;
    // The countdown starts again: the same timer, re-armed (not a new one for every write).
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.settle().catch((e) => {
        debug('idle settle failed: %s', (e as Error).message);
        this.deferWriteError(e);
      });
    }, ms);
    this.idleTimer.unref();
    this.idleTimers++;
  }

  /** Entries, space map, then the LVID closed with its counts: a consistent, closed volume on the disc. */
  private async settleNow(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.m.lvid.isOpenOnDisc) return;
    await this.flushAll();
    await this.m.lvid.close(this.counts());
    this.info.integrity = this.m.lvid.isOpenOnDisc ? 'open' : 'closed';
  }

  settle(): Promise<void> {
    return this.run(() => this.settleNow());
  }

  close(): Promise<void> {
    return this.run(async () => {
      await this.settleNow();
      this.info.numFiles = this.numFiles;
      this.info.numDirs = this.numDirs;
      this.info.freeBlocks = this.m.map.alloc.freeBlocks;
      this.closed = true;
      this.m.sparing?.uninstall();
      this.nodes.clear();
      this.touched.clear();
      this.dirs.clear();
      debug('closed: %d files, %d dirs, %d blocks free', this.numFiles, this.numDirs, this.m.map.alloc.freeBlocks);
      this.reportDeferred();
    });
  }
}

