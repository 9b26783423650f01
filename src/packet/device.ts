/**
 * PacketDevice: a BlockDevice over another BlockDevice that only ever writes
 * whole, aligned packets to it, so the UDF layer can sit on top unchanged.
 *
 * Design (after NetBSD's udf_strat_rmw, not pktcdvd's bio queue):
 * - Every cached packet is a PacketEntry with present/dirty maps per sector.
 * - Clean, idle packets live in an lru-cache and may be dropped at any time
 *   (no dispose hook is used). Packets that are dirty or have I/O in flight live
 *   in the `active` Map and are never evicted; their total size is held under
 *   `dirtyBytes` by writing the oldest back before taking a new one (the
 *   writer waits: back-pressure instead of an async eviction callback).
 *   `cacheBytes` bounds both together: clean packets are dropped to make room.
 * - Reads are served from any cached packet (dirty ones included, which
 *   pktcdvd never did); the missing sectors are read in coalesced runs.
 * - A packet is written out when every sector of it is dirty (streaming
 *   copies: each packet once, in order), on flush(), after `flushDelayMs` with
 *   no writes, or under pressure. Not merely when all its sectors are present:
 *   a cached packet would then be rewritten on every small metadata update.
 *   Nor when full if metadata was written into it (write kind 'metadata' or 'directory': file
 *   entries, directories, which the layer above rewrites while they are dirty):
 *   it waits for the flush, the idle timer (twice its delay: the filesystem
 *   settles first) or pressure (issue 6: each packet at most once per flush
 *   interval). Nor when full while it holds the partly filled last block of a
 *   file being appended to (write kind 'partial', as tar's unaligned writes
 *   leave): the next append writes that block again. Under pressure the least
 *   recently written packet goes first, but packets holding a directory (write kind
 *   'directory') after all others: a tree copy changes them again (issue 6: tar x's
 *   symlinks, made at its end). Writing out first reads only the missing
 *   sectors (read gather), then writes a snapshot of the whole packet. Writes
 *   arriving meanwhile land in the packet and dirty it again; nothing is lost.
 * - Write-outs of one packet are serialized through its `chain`.
 * - The device write step: packets whose write-outs reach the device in the
 *   same tick go as runs of consecutive packets, one device write each (at most
 *   `maxRunBytes`, never reordered), so a drive gets few large WRITEs; on a
 *   device with writev (image files) from the packets' own buffers. A run
 *   that fails is written again packet by packet, and each packet gets its own
 *   outcome (its remap, its error), as if it had been written alone; an error
 *   not attributable to a sector of the run stays with the run's first packet.
 * - A partial last packet (capacity not a multiple of the packet size) is
 *   written as the sectors that exist, from its aligned start: the padding past
 *   the end of the device is never read or written.
 * - A failed write-out leaves the packet dirty, keeps the error, and reports
 *   it to the writer that was waiting for room, and from the next flush().
 *   A write spanning several packets that fails while waiting for room may
 *   have been taken in part (like a short write to a block device).
 * - Defect management (remap.ts): a write-out failing with a medium error
 *   (03/0C/xx) is offered to the installed WriteRemapper, which names a spare
 *   packet; the cached copy moves there (dirty, under the spare's number) and is
 *   written there, and the layer above addresses the packet there from then on.
 *   A spare that fails too is offered again. With no spare, the remapper may
 *   abandon the packet (its new sectors are a copy it keeps elsewhere); else
 *   the error stands. Other errors, and WRITE ERRORs that belong to another
 *   write (deferred), are never remapped.
 * - Ordering (order()): "sectors A reach the medium no later than sectors B".
 *   A packet holding B is written after the packet holding A: flush, idle
 *   write-back and pressure write the packets a packet waits for first, and a
 *   full packet that waits for another is not written by itself. Where that
 *   cannot be (a cycle: two packets each waiting for the other, or a write-out
 *   already running), the waiting sectors are written as the medium holds them
 *   (read back first) and stay dirty: the packet goes out again once what it
 *   waits for is on the medium; at a flush, packets waiting for those sectors wait
 *   for that second write (they are not cut too). Within one packet nothing is
 *   ordered: a packet is written whole.
 * - This object must be the only writer of the device below it.
 */
import createDebug from 'debug';
import { LRUCache } from 'lru-cache';
import { FsError, isFsError } from '../errors';
import type { BlockDevice, DirectRange, ReadKind, SectorRange, WriteKind } from '../drive/types';
import { PacketEntry, type PacketState } from './entry';
import { writeFailureKind, type WriteRemapper } from './remap';
import { isScsiError } from '../drive/scsi/sense';
import {
  DEFAULT_PACKET_BYTES, explodeRange, firstSectorOf, packetCount, runsWhere, sectorsInPacket, sectorsPerPacket, type PacketSpan, type SectorRun,
} from './range';
import {
  mostWritten, packetRewrites, wearHistogram, zeroCounters,
  type PacketCounters, type PacketWear, type WearBucket,
} from './stats';

const debug = createDebug('pktfs:packet:device');

export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_FLUSH_DELAY_MS = 1000;
export const DEFAULT_MAX_RUN_BYTES = 256 * 1024;
export const DEFAULT_READ_AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * Packet buffers of entries dropped from the cache, kept for new entries (outside cacheBytes):
 * at least this many, and as many as the read-ahead window holds (a window's worth of new
 * entries is made at once; fresh 32 KiB buffers cost page faults and GC, issue 6).
 */
const SPARE_BUFFERS = 32;
/** How far from a stream's front a read may land and still continue it: twice the kernel's read-ahead (fuse/readahead.ts), whose requests arrive in any order. */
const REORDER_BYTES = 2 * 1024 * 1024;
/**
 * Shortest prefetch() read, in packets: 1, just what was asked for. Longer runs, to take the
 * next directory's entries along, read 1.7x (4 packets) and 2.4x (8) the bytes during a cold
 * `find` of a copied tree and made it no faster (issue 6).
 */
export const PREFETCH_RUN_PACKETS = 1;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PacketDeviceOptions {
  /** Packet size in bytes (a whole number of device sectors); default 32 KiB. */
  packetBytes?: number;
  /** Memory for cached packets, clean and dirty together; default 16 MiB, at least two packets. */
  cacheBytes?: number;
  /** Most memory held by dirty or in-flight packets; default half of cacheBytes, at least one packet. */
  dirtyBytes?: number;
  /** Write dirty packets back after this long without writes; default 1000 ms; Infinity (or over 2^31-1): never. */
  flushDelayMs?: number;
  /**
   * Most bytes to read ahead of a sequential reader; default 4 MiB, at most a
   * quarter of cacheBytes, at least one packet; 0 turns read-ahead off.
   */
  readAheadBytes?: number;
  /**
   * Longest device write of consecutive packets written together, in bytes (whole packets, at
   * least one); default the device's maxTransferBytes, else DEFAULT_MAX_RUN_BYTES.
   */
  maxRunBytes?: number;
  /**
   * A run of packets written out because they became full of data, shorter than maxRunBytes,
   * waits up to this long for the packets after it (a stream whose requests arrive one by one,
   * as FUSE sends them) to go with them as one device write; anything else written out, a
   * flush, the idle write-back, pressure or the wait ending sends it. Default 0: never held
   * (through FUSE onto an image, 2 ms with 1 MiB runs used less CPU but measured no faster,
   * rather slower, on a loaded 2-core machine: issue 6).
   */
  holdRunMs?: number;
}

/** A packet's snapshot waiting for the device write step. */
interface Submission {
  entry: PacketEntry;
  image: Buffer;
  resolve: () => void;
  reject: (e: unknown) => void;
  /** Written out because it became full of data: it may wait for the packets after it (holdRunMs). */
  full: boolean;
}

/** Why write-outs were started: when full, on flush(), by the idle timer, under pressure, before a packet that waits for it. */
export interface WriteOutReasons {
  full: number;
  flush: number;
  idle: number;
  pressure: number;
  ordered: number;
}
type Reason = keyof WriteOutReasons;

/**
 * One ordering constraint: sectors [first, first+count) of a packet wait for sectors
 * [beforeFirst, beforeFirst+beforeCount) of packet `before` to be written after `seq`.
 */
interface Wait {
  before: number;
  beforeFirst: number;
  beforeCount: number;
  seq: number;
  first: number;
  count: number;
}

/** What stats() returns: plain data, ready for JSON. */
export interface PacketDeviceStats extends PacketCounters {
  device: string;
  sectorSize: number;
  packetBytes: number;
  sectorsPerPacket: number;
  packetCount: number;
  cacheBytes: number;
  dirtyLimitBytes: number;
  /** Idle delay before write-back; null when idle write-back is off. */
  flushDelayMs: number | null;
  /** Most bytes read ahead of a sequential reader; 0 when read-ahead is off. */
  readAheadLimitBytes: number;
  /** Same values as the byte counters, in kB as pktcdvd printed them. */
  kbWritten: number;
  kbRead: number;
  kbReadGather: number;
  kbDeviceWritten: number;
  /** Packets dirty and waiting to be written (pktcdvd's queue). */
  queueSize: number;
  /** Cached packets by state. */
  states: Record<PacketState, number>;
  cachedPackets: number;
  cachedBytes: number;
  /** Bytes of packets dirty or with I/O in flight. */
  activeBytes: number;
  /** Device bytes written per user byte written (0 before any write). */
  writeAmplification: number;
  /** Distinct packets written, and writes beyond each one's first. */
  packetsWrittenDistinct: number;
  packetRewrites: number;
  /**
   * Of those, the writes of a packet sooner than flushDelayMs after its previous write (issue 6:
   * each packet at most once per flush interval); with flush=off, every rewrite.
   */
  rewritesWithinFlushDelay: number;
  /** Highest write count of any packet. */
  maxPacketWrites: number;
  mostWritten: PacketWear[];
  wearHistogram: WearBucket[];
  /** The last write-out error not yet reported by flush(), if any. */
  pendingError: string | null;
  /** Write-outs that failed with a medium error (03/0C/xx or 03/32/xx) since the device was opened. */
  mediumWriteErrors: number;
  /** Packets moved to a spare by the installed remapper since the device was opened (device sectors). */
  remaps: PacketRemap[];
  /** The drive reported its own defect spares used up (03/32/xx, DVD-RAM / BD-RE). */
  driveSparesExhausted: boolean;
  /** The last write-out error, kept after flush() reported it. */
  lastWriteError: string | null;
  /** Write-outs started, by what started them. */
  writeOutReasons: WriteOutReasons;
  /** Ordering constraints (order()) not yet met; write-outs that kept waiting sectors as on the medium. */
  orderWaits: number;
  orderRollbacks: number;
}

/** One packet moved by defect management: first sector where it failed, first sector where it went. */
export interface PacketRemap {
  from: number;
  to: number;
}

/** What fetch() read: the packets' spans, their bytes, new entries read whole (or null), and the epochs before. */
interface Fetched {
  spans: PacketSpan[];
  bufs: Buffer[];
  fresh: (PacketEntry | null)[];
  epochs: Map<number, number>;
}

export class PacketDevice implements BlockDevice {
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly readOnly: boolean;
  readonly description: string;
  readonly packetBytes: number;
  readonly sectorsPerPacket: number;
  readonly cacheBytes: number;
  readonly dirtyLimit: number;
  readonly flushDelayMs: number;
  /** Longest run of consecutive packets in one device write. */
  readonly maxRunBytes: number;
  /** How long a short run of full data packets waits for the next ones (0: never). */
  readonly holdRunMs: number;

  private readonly clean: LRUCache<number, PacketEntry>;
  private readonly active = new Map<number, PacketEntry>();
  private activeBytes = 0;
  /** Write-outs started per packet: a read that raced one must not fill the cache. */
  private readonly epochs = new Map<number, number>();
  /** Successful writes per packet (media wear). */
  private readonly wear = new Map<number, number>();
  /** When each packet was last written (performance.now() ms), and the rewrites sooner than flushDelayMs after it. */
  /** The sectors [from, to) of `entry` holding the partly filled last block of the file being appended to (write kind 'partial'). */
  private openTail: { entry: PacketEntry; from: number; to: number } | null = null;
  private readonly lastWritten = new Map<number, number>();
  private rewritesSoon = 0;
  private counters: PacketCounters = zeroCounters();
  private pendingError_: FsError | null = null;
  private readonly errorWatchers: (() => void)[] = [];
  private lastWriteError: FsError | null = null;
  private remapper: WriteRemapper | null = null;
  private readonly remaps: PacketRemap[] = [];
  /** Remapped packets: old packet number → new one. */
  private readonly forward = new Map<number, number>();
  private mediumWriteErrors = 0;
  private driveSparesExhausted = false;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Whether the idle timer armed is the one for metadata packets too. */
  private idleTimerMeta = false;
  /** Snapshots waiting for the device write step, in the order they came. */
  private submitted: Submission[] = [];
  /** A short run of full data packets waiting for the packets after it (holdRunMs), and its timer. */
  private held: Submission[] = [];
  private holdTimer: NodeJS.Timeout | null = null;
  /** Flushes, write-backs and writers waiting for room in progress: while any waits, nothing is held. */
  private waiting = 0;
  private clock = 0;
  /** Most bytes read ahead of a sequential reader (in flight and not read yet together); 0: none. */
  readonly readAheadLimit: number;
  /** The sector after the last read, the sectors read in sequence up to it, and the stream's generation. */
  private raNext = -1;
  private raStreak = 0;
  private raGen = 0;
  /** Read-ahead window (packets) and the packet before which read-ahead has been issued. */
  private raWindow = 0;
  private raIssuedTo = 0;
  /** Read-ahead reads in flight, by packet; how many packets they cover. */
  private readonly raInflight = new Map<number, Promise<void>>();
  private raInflightPackets = 0;
  /** Cached packets filled by read-ahead that no reader has read yet. */
  private readonly raAhead = new Set<PacketEntry>();
  /** Memory of retired entries, for new ones. */
  private readonly spareBufs: Buffer[] = [];
  private readonly spareLimit: number;
  private reasons: WriteOutReasons = zeroReasons();
  private rollbacks = 0;
  /** Ordering: per packet, the constraints on its sectors; per packet, the packets waiting for it. */
  private readonly waits = new Map<number, Wait[]>();
  private readonly waitedBy = new Map<number, Set<number>>();
  /** Per packet, the clock of the snapshot its last successful write-out wrote. */
  private readonly writtenAt = new Map<number, number>();
  /** Per packet, the sectors its last successful write-out kept as on the medium (none: absent). */
  private readonly heldAt = new Map<number, Uint8Array>();
  /** Packets whose last write-out kept sectors as on the medium (they wait for another packet). */
  private readonly rolledBack = new Set<PacketEntry>();
  private closed = false;

  constructor(readonly device: BlockDevice, opts: PacketDeviceOptions = {}) {
    this.sectorSize = device.sectorSize;
    this.sectorCount = device.sectorCount;
    this.readOnly = device.readOnly;
    this.packetBytes = opts.packetBytes ?? DEFAULT_PACKET_BYTES;
    this.sectorsPerPacket = sectorsPerPacket(this.packetBytes, this.sectorSize);
    this.description = `${device.description}, ${this.packetBytes / 1024} KiB packets`;
    this.cacheBytes = Math.max(opts.cacheBytes ?? DEFAULT_CACHE_BYTES, 2 * this.packetBytes);
    this.dirtyLimit = Math.min(
      Math.max(opts.dirtyBytes ?? Math.floor(this.cacheBytes / 2), this.packetBytes), this.cacheBytes);
    this.flushDelayMs = opts.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
    const run = opts.maxRunBytes ?? device.maxTransferBytes ?? DEFAULT_MAX_RUN_BYTES;
    this.maxRunBytes = Math.max(1, Math.floor(run / this.packetBytes)) * this.packetBytes;
    const hold = opts.holdRunMs ?? 0;
    this.holdRunMs = hold > 0 && hold <= MAX_TIMER_MS ? hold : 0;
    const ra = opts.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES;
    this.readAheadLimit = ra <= 0 ? 0 : Math.max(this.packetBytes, Math.min(ra, Math.floor(this.cacheBytes / 4)));
    this.spareLimit = Math.max(SPARE_BUFFERS, Math.ceil(this.readAheadLimit / this.packetBytes));
    this.clean = new LRUCache<number, PacketEntry>({
      maxSize: this.cacheBytes,
      sizeCalculation: (e) => e.buf.length,
    });
  }

  // ---- BlockDevice ------------------------------------------------------------

  async read(lba: number, count: number, kind?: ReadKind): Promise<Buffer> {
    this.checkOpen();
    if (!this.inRange(lba, count)) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    // Every byte is filled: from a cached packet or from a device read.
    const out = Buffer.allocUnsafe(count * this.sectorSize);
    await this.readTo(lba, count, out, kind);
    return out;
  }

  /**
   * read() into the caller's buffers (BlockDevice.readInto): cached sectors are copied
   * straight into them, with no buffer of the read's own (a FUSE read lands in the
   * kernel's buffer, issue 6). Nothing is written into `targets` once this has settled,
   * failed or not: a caller may hand them back as soon as it returns.
   */
  async readInto(lba: number, targets: Buffer[]): Promise<void> {
    this.checkOpen();
    const ss = this.sectorSize;
    const len = targets.reduce((n, t) => n + t.length, 0);
    const count = len / ss;
    if (!Number.isSafeInteger(count) || targets.some((t) => t.length % ss !== 0) || !this.inRange(lba, count)) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount}) or not in whole sectors`);
    }
    if (targets.length === 1) return this.readTo(lba, count, targets[0]);
    let at = lba;
    for (const t of targets) {
      await this.readTo(at, t.length / ss, t);
      at += t.length / ss;
    }
  }

  /** Sectors [lba, lba+count) into `out` (count * sectorSize bytes), in range. */
  private async readTo(lba: number, count: number, out: Buffer, kind?: ReadKind): Promise<void> {
    const ss = this.sectorSize;
    // Metadata reads (single blocks: entries) neither feed nor end a sequential stream.
    const streaming = kind === 'metadata' ? false : this.notePattern(lba, count);
    let missing = this.copyCached(lba, out, [{ start: 0, count }]);
    if (missing.length > 0 && this.raInflight.size > 0) {
      // Read-ahead already on its way for some of it: wait for that rather than read twice.
      const waits = this.inflightFor(lba, missing);
      if (waits.length > 0) {
        await Promise.all(waits);
        missing = this.copyCached(lba, out, missing);
      }
    }
    this.counters.bytesRead += count * ss;
    this.counters.bytesReadFromCache += count * ss - missing.reduce((s, r) => s + r.count * ss, 0);
    if (kind === 'metadata' && missing.length > 0) missing = await this.readWhole(lba, out, missing);
    if (streaming) this.readAhead(this.raNext);
    if (missing.length === 0) return;
    // allSettled: no fetch may copy into `out` after a failure was reported (it may be the caller's).
    const results = await Promise.allSettled(missing.map(async (run) => {
      const got = await this.fetch(lba + run.start, run.count);
      this.counters.bytesReadFromDevice += run.count * ss;
      let at = run.start * ss;
      for (const b of got.bufs) {
        b.copy(out, at);
        at += b.length;
      }
      this.keep(got, false);
    }));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  async write(lba: number, data: Buffer, kind?: WriteKind): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new FsError('EROFS', `${this.description} is read-only`);
    const ss = this.sectorSize;
    if (data.length % ss !== 0) throw new FsError('EINVAL', `write of ${data.length} bytes is not whole sectors`);
    const count = data.length / ss;
    if (!this.inRange(lba, count)) {
      throw new FsError('ENOSPC', `write of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    let srcOff = 0;
    for (const span of explodeRange(lba * ss, data.length, this.packetBytes)) {
      let entry = this.active.get(this.forwarded(span.packet));
      // Wait for room under the dirty limit; another writer may take the packet meanwhile.
      while (!entry && this.activeBytes + this.packetBytes > this.dirtyLimit && await this.makeRoom()) {
        entry = this.active.get(this.forwarded(span.packet));
      }
      // From here to put() nothing awaits: no one sees the packet active but not yet dirty.
      entry ??= this.activate(this.forwarded(span.packet));
      entry.put(span.skip / ss, span.length / ss, data, srcOff);
      entry.lastTouched = ++this.clock;
      if (kind === 'metadata') entry.meta = true;
      else if (kind === 'directory') entry.meta = entry.dir = true;
      this.noteOpenTail(entry, span.skip / ss, span.length / ss, kind === 'partial' && srcOff + span.length === data.length);
      srcOff += span.length;
      this.counters.bytesWritten += span.length;
      if (this.goesOutWhenFull(entry)) this.writeBackInBackground(entry, 'full');
    }
    this.armIdleTimer();
  }

  /**
   * What is now in sectors `first` reaches the medium no later than what is now, or
   * later, in sectors `then` (see the header). Nothing to do when `first` is on the medium.
   */
  order(first: SectorRange, then: SectorRange): void {
    this.checkOpen();
    if (!this.inRange(first.lba, first.count) || !this.inRange(then.lba, then.count)) {
      throw new FsError('EINVAL', `order of sectors ${first.lba}+${first.count} before ${then.lba}+${then.count}: past the end`);
    }
    const spp = this.sectorsPerPacket;
    for (let p = Math.floor(first.lba / spp); p * spp < first.lba + first.count; p++) {
      const before = this.forwarded(p);
      const e = this.active.get(before);
      if (!e) continue; // nothing of it dirty or in flight: on the medium
      const lo = Math.max(first.lba, p * spp) - p * spp;
      const hi = Math.min(first.lba + first.count, (p + 1) * spp) - p * spp;
      let dirty = false;
      for (let i = lo; i < hi && !dirty; i++) dirty = e.dirty[i] === 1;
      // Dirty: any later snapshot carries them. Clean but being written: that write carries them.
      const seq = dirty ? ++this.clock : e.phase === 'writing' ? e.snapClock : 0;
      if (seq === 0) continue;
      for (let q = Math.floor(then.lba / spp); q * spp < then.lba + then.count; q++) {
        const after = this.forwarded(q);
        if (after === before) continue; // one packet is written whole
        const a = Math.max(then.lba, q * spp) - q * spp;
        const b = Math.min(then.lba + then.count, (q + 1) * spp) - q * spp;
        let list = this.waits.get(after);
        if (!list) this.waits.set(after, (list = []));
        list.push({ before, beforeFirst: lo, beforeCount: hi - lo, seq, first: a, count: b - a });
        let by = this.waitedBy.get(before);
        if (!by) this.waitedBy.set(before, (by = new Set()));
        by.add(after);
      }
    }
  }

  /** The write-out error the next flush() will report, if any. */
  pendingError(): FsError | undefined {
    return this.pendingError_ ?? undefined;
  }

  /** BlockDevice.watchErrors: `cb` runs as soon as a write-out fails (pendingError() is set by then). */
  watchErrors(cb: () => void): void {
    this.errorWatchers.push(cb);
  }

  /**
   * Write every dirty packet (ascending, each after what it waits for), flush the device,
   * and report any write-out error since the last flush. With `scope` 'data', only the
   * packets no metadata was written into: a barrier before the entries pointing at the
   * data are written; the metadata packets then go out once, at the next whole flush.
   */
  async flush(scope?: 'data'): Promise<void> {
    this.checkOpen();
    if (!scope) this.cancelIdleTimer();
    let failure: unknown = null;
    const list = this.activeAscending().filter((e) => !scope || !e.meta);
    await this.writeAll(list, 'flush', (e) => { failure ??= e; });
    try {
      await this.device.flush();
    } catch (e) {
      failure ??= asFsError(e, `flush of ${this.device.description}`);
    }
    failure ??= this.pendingError_;
    this.pendingError_ = null;
    if (failure) throw failure;
  }

  /** Flush, then close the device. If the flush fails the device stays open, so a caller may retry. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.cancelIdleTimer();
    this.closed = true;
    // Read-ahead still in flight must not reach a closed device's handle.
    await Promise.allSettled(new Set(this.raInflight.values()));
    this.clean.clear();
    this.spareBufs.length = 0;
    await this.device.close();
  }

  /**
   * BlockDevice.directRange: the device's own answer when it holds what the cache does for the
   * whole range: no packet of it dirty or on its way out (active), none moved by a remap, and
   * no write-out failed since the device was opened (a failed packet's data may be neither here
   * nor there). Else undefined. A range handed out stays right until the next write to it: only
   * a write-out can move a packet (a remap), and only a dirty packet is written out.
   */
  directRange(lba: number, count: number): DirectRange | undefined {
    if (this.closed || !this.device.directRange || count <= 0 || !this.inRange(lba, count)) return undefined;
    if (this.forward.size > 0 || this.mediumWriteErrors > 0 || this.lastWriteError || this.pendingError_) return undefined;
    const spp = this.sectorsPerPacket;
    const first = Math.floor(lba / spp);
    const last = Math.floor((lba + count - 1) / spp);
    if (this.active.size < last - first + 1) {
      for (const p of this.active.keys()) if (p >= first && p <= last) return undefined;
    } else {
      for (let p = first; p <= last; p++) if (this.active.has(p)) return undefined;
    }
    return this.device.directRange(lba, count);
  }

  /** Install (or remove, with null) the hook that places packets whose write-out hits a defect. */
  setRemapper(remapper: WriteRemapper | null): void {
    this.remapper = remapper;
  }

  // ---- statistics -------------------------------------------------------------

  stats(): PacketDeviceStats {
    const c = { ...this.counters };
    const states: Record<PacketState, number> = { clean: 0, dirty: 0, gathering: 0, writing: 0 };
    states.clean = this.clean.size;
    for (const e of this.active.values()) states[e.state]++;
    let maxPacketWrites = 0;
    for (const w of this.wear.values()) maxPacketWrites = Math.max(maxPacketWrites, w);
    const kb = (b: number): number => Math.floor(b / 1024);
    return {
      device: this.device.description,
      sectorSize: this.sectorSize,
      packetBytes: this.packetBytes,
      sectorsPerPacket: this.sectorsPerPacket,
      packetCount: packetCount(this.sectorCount, this.sectorsPerPacket),
      cacheBytes: this.cacheBytes,
      dirtyLimitBytes: this.dirtyLimit,
      flushDelayMs: this.flushDelayMs <= MAX_TIMER_MS ? this.flushDelayMs : null,
      readAheadLimitBytes: this.readAheadLimit,
      ...c,
      kbWritten: kb(c.bytesWritten),
      kbRead: kb(c.bytesRead),
      kbReadGather: kb(c.bytesReadGather),
      kbDeviceWritten: kb(c.bytesDeviceWritten),
      queueSize: states.dirty,
      states,
      cachedPackets: this.clean.size + this.active.size,
      cachedBytes: this.clean.calculatedSize + this.activeBytes,
      activeBytes: this.activeBytes,
      writeAmplification: c.bytesWritten ? c.bytesDeviceWritten / c.bytesWritten : 0,
      packetsWrittenDistinct: this.wear.size,
      packetRewrites: packetRewrites(this.wear),
      rewritesWithinFlushDelay: this.rewritesSoon,
      maxPacketWrites,
      mostWritten: mostWritten(this.wear, 10),
      wearHistogram: wearHistogram(this.wear),
      pendingError: this.pendingError_ ? this.pendingError_.message : null,
      mediumWriteErrors: this.mediumWriteErrors,
      remaps: this.remaps.map((r) => ({ ...r })),
      driveSparesExhausted: this.driveSparesExhausted,
      lastWriteError: this.lastWriteError ? this.lastWriteError.message : null,
      writeOutReasons: { ...this.reasons },
      orderWaits: [...this.waits.values()].reduce((n, l) => n + l.length, 0),
      orderRollbacks: this.rollbacks,
    };
  }

  /** Count a write of `packet` (started by `reason`) that came sooner than flushDelayMs after its previous one. */
  private noteWearTime(packet: number, reason: Reason): void {
    const t = performance.now();
    const last = this.lastWritten.get(packet);
    if (last !== undefined && !(t - last >= this.flushDelayMs)) {
      this.rewritesSoon++;
      debug('packet %d rewritten (%s) %d ms after its last write', packet, reason, Math.round(t - last));
    }
    this.lastWritten.set(packet, t);
  }

  /** Successful writes per packet number since the device was opened. */
  wearMap(): ReadonlyMap<number, number> {
    return this.wear;
  }

  /** Zero the traffic counters (like pktcdvd's stat/reset); wear is a property of the medium and stays. */
  resetStats(): void {
    this.counters = zeroCounters();
    this.reasons = zeroReasons();
    this.rollbacks = 0;
  }

  // ---- cache bookkeeping ------------------------------------------------------

  /**
   * Where a packet lives after remaps: a write addressed to a packet that
   * moved (one that raced the remap above) lands in its new place.
   */
  private forwarded(packet: number): number {
    for (let i = 0; i < 64; i++) {
      const to = this.forward.get(packet);
      if (to === undefined) return packet;
      packet = to;
    }
    return packet;
  }

  private lookup(packet: number): PacketEntry | undefined {
    return this.active.get(packet) ?? this.clean.get(packet);
  }

  private newEntry(packet: number): PacketEntry {
    const sectors = sectorsInPacket(packet, this.sectorsPerPacket, this.sectorCount);
    const reuse = sectors === this.sectorsPerPacket ? this.spareBufs.pop() : undefined;
    return new PacketEntry(packet, firstSectorOf(packet, this.sectorsPerPacket), sectors, this.sectorSize, reuse);
  }

  /**
   * A clean entry left the cache and nothing refers to it any more: keep its
   * memory for the next new entry (allocating packet buffers is what costs on
   * a stream, more than copying into them).
   */
  private retire(e: PacketEntry): void {
    if (e.isLent || e.buf.length !== this.packetBytes || this.spareBufs.length >= this.spareLimit) return;
    this.spareBufs.push(e.buf);
  }

  /** Take `packet` out of the clean cache (or make it) into the active set, for a write. */
  private activate(packet: number): PacketEntry {
    const entry = this.clean.get(packet) ?? this.newEntry(packet);
    this.clean.delete(packet);
    this.active.set(packet, entry);
    this.activeBytes += entry.buf.length;
    this.trimClean(0);
    return entry;
  }

  /** Drop least recently used clean packets until `extra` more bytes fit in cacheBytes. */
  private trimClean(extra: number): void {
    while (this.clean.size > 0 && this.clean.calculatedSize + this.activeBytes + extra > this.cacheBytes) {
      const e = this.clean.pop();
      if (!e) break;
      if (e.ahead) {
        e.ahead = false;
        this.raAhead.delete(e);
        this.counters.bytesReadAheadDropped += e.buf.length;
      }
      this.retire(e);
    }
  }

  /** Back to the clean LRU once nothing is dirty or pending; a packet fully dirtied again goes straight back out. */
  private settle(entry: PacketEntry, wrote: boolean): void {
    if (entry.phase !== 'idle' || entry.queued || this.active.get(entry.packet) !== entry) return;
    if (entry.dirtyCount === 0) {
      this.active.delete(entry.packet);
      this.activeBytes -= entry.buf.length;
      entry.meta = false;
      entry.dir = false;
      if (this.openTail?.entry === entry) this.openTail = null;
      // Clean: whatever waits for it is met (satisfied() asks only about active packets).
      this.writtenAt.delete(entry.packet);
      this.heldAt.delete(entry.packet);
      this.trimClean(entry.buf.length);
      this.clean.set(entry.packet, entry);
    } else if (wrote && this.goesOutWhenFull(entry)) {
      this.writeBackInBackground(entry, 'full');
    }
  }

  /**
   * Free room under the dirty limit: wait for a packet in flight, else write back the
   * least recently written idle packet, holding no directory if there is one (what it
   * waits for first). False when there is nothing to wait for.
   */
  private async makeRoom(): Promise<boolean> {
    // A held run is on its way to the device: send it rather than wait for its timer.
    this.waiting++;
    try {
      this.releaseHeld();
      return await this.makeRoomNow();
    } finally {
      this.waiting--;
    }
  }

  private async makeRoomNow(): Promise<boolean> {
    let oldest: PacketEntry | null = null;
    let oldestDir: PacketEntry | null = null;
    let busy: PacketEntry | null = null;
    for (const e of this.active.values()) {
      if (e.phase === 'idle' && !e.queued && e.dirtyCount > 0) {
        // Packets holding directories go last: a tree copy changes them again (issue 6: tar x's
        // symlinks, made at its end, dirtied packets written under pressure a moment before).
        if (e.dir) {
          if (!oldestDir || e.lastTouched < oldestDir.lastTouched) oldestDir = e;
        } else if (!oldest || e.lastTouched < oldest.lastTouched) {
          oldest = e;
        }
      } else if (e.phase !== 'idle' || e.queued) {
        // The first one on its way is what is waited for below, whatever else is dirty: no need
        // to look further (issue 6: a stream at the dirty limit scanned every active packet per packet).
        busy = e;
        break;
      }
    }
    oldest ??= oldestDir;
    // Packets already on their way to the device free room soon: wait for one rather than
    // write out another, partly dirty one (a read gather, a rewrite when it is dirtied again,
    // and on a drive a place at the end of the queue behind the writes in flight).
    if (busy) {
      await busy.chain;
      return true;
    }
    if (oldest) {
      // What it waits for goes first (following the chain; a cycle ends it).
      const chain = [oldest];
      let next = this.prerequisites(oldest)[0];
      for (; next && !chain.includes(next); next = this.prerequisites(next)[0]) {
        if (next.phase !== 'idle' || next.queued) {
          await next.chain;
          return true;
        }
        chain.push(next);
      }
      // In a cycle, one that has something to write that waits for nothing; if none has, the last, whole.
      let pick = chain[chain.length - 1];
      let force = false;
      if (next) {
        const free = [...chain].reverse().find((e) => !this.allHeld(e));
        if (free) pick = free; else force = true;
      }
      debug('pressure: writing back packet %d', pick.packet);
      await this.writeBack(pick, pick !== oldest ? 'ordered' : 'pressure', force);
      return true;
    }
    return false;
  }

  private activeAscending(): PacketEntry[] {
    return [...this.active.values()].sort((a, b) => a.packet - b.packet);
  }

  /** A full packet is written at once unless metadata is in it or it waits for another packet. */
  private goesOutWhenFull(entry: PacketEntry): boolean {
    return entry.fullyDirty && entry.phase === 'idle' && !entry.meta && this.openTail?.entry !== entry && this.prerequisites(entry).length === 0;
  }

  /**
   * Sectors [at, at+count) of `entry` were written: a write over the open tail closes it; the
   * last span of a 'partial' write (the block a file's next append fills, written alone) becomes
   * the open tail. There is one: a new one lets the packet of the last go out if it is full.
   */
  private noteOpenTail(entry: PacketEntry, at: number, count: number, tail: boolean): void {
    const open = this.openTail;
    if (open && (tail || (open.entry === entry && at < open.to && at + count > open.from))) {
      this.openTail = null;
      if (open.entry !== entry && this.goesOutWhenFull(open.entry)) this.writeBackInBackground(open.entry, 'full');
    }
    if (tail) this.openTail = { entry, from: at, to: at + count };
  }

  // ---- ordering -------------------------------------------------------------------

  private satisfied(w: Wait): boolean {
    if (!this.active.has(w.before)) return true;
    if ((this.writtenAt.get(w.before) ?? 0) < w.seq) return false;
    // A write-out that kept those very sectors as on the medium did not write them.
    const held = this.heldAt.get(w.before);
    for (let i = w.beforeFirst; held && i < w.beforeFirst + w.beforeCount; i++) if (held[i]) return false;
    return true;
  }

  /** The constraints on `packet` not met yet (the met ones are dropped). */
  private waitsOf(packet: number): Wait[] {
    const list = this.waits.get(packet);
    if (!list) return [];
    const left = list.filter((w) => !this.satisfied(w));
    if (left.length === 0) this.waits.delete(packet);
    else if (left.length !== list.length) this.waits.set(packet, left);
    return left;
  }

  /** The cached packets whose write-out `entry`'s dirty sectors wait for. */
  private prerequisites(entry: PacketEntry): PacketEntry[] {
    const out: PacketEntry[] = [];
    for (const w of this.waitsOf(entry.packet)) {
      let dirty = false;
      for (let i = w.first; i < w.first + w.count && !dirty; i++) dirty = entry.dirty[i] === 1;
      const e = dirty ? this.active.get(w.before) : undefined;
      if (e && !out.includes(e)) out.push(e);
    }
    return out;
  }

  /** Every dirty sector of `entry` waits for another packet: a write-out now would write nothing new. */
  private allHeld(entry: PacketEntry): boolean {
    const held = this.heldSectors(entry);
    return !!held && held.reduce((n, x) => n + x, 0) === entry.dirtyCount;
  }

  /** Dirty sectors of `entry` that wait for a packet not yet written (1 = held back). */
  private heldSectors(entry: PacketEntry): Uint8Array | null {
    let held: Uint8Array | null = null;
    for (const w of this.waitsOf(entry.packet)) {
      for (let i = w.first; i < w.first + w.count; i++) {
        if (entry.dirty[i]) (held ??= new Uint8Array(entry.sectors))[i] = 1;
      }
    }
    return held;
  }

  /** `list` with every packet's prerequisites before it (depth first; a cycle is cut where it closes). */
  private inOrder(list: PacketEntry[]): PacketEntry[] {
    if (this.waits.size === 0) return list;
    const out: PacketEntry[] = [];
    const state = new Map<PacketEntry, 'open' | 'done'>();
    const visit = (e: PacketEntry): void => {
      if (state.has(e)) return;
      state.set(e, 'open');
      for (const p of this.prerequisites(e)) visit(p);
      state.set(e, 'done');
      out.push(e);
    };
    for (const e of list) visit(e);
    return out;
  }

  /**
   * Write `list` one after another, each after what it waits for; then once more the ones
   * that had to keep sectors as on the medium (what they waited for is written by then).
   * A packet that waits for sectors another one of `list` kept as on the medium (a cycle cut
   * there) waits for that packet's second write instead of keeping its own sectors too: else
   * one cycle's cut ran up the chain of packets waiting on it, each written twice (issue 6:
   * the directories from a tar x's last file up to the root, 6 rewrites at one flush).
   */
  private async writeAll(list: PacketEntry[], reason: Reason, onError: (e: unknown) => void): Promise<void> {
    // What this waits for may be a full packet on its way: nothing is held meanwhile.
    this.waiting++;
    this.releaseHeld();
    try {
      for (let pass = 0; pass < 4 && list.length; pass++) {
        const members = new Set(list);
        const later = new Set<PacketEntry>();
        for (const entry of this.inOrder(list)) {
          if (pass < 3 && this.waitsForSecondWrite(entry, members, later)) {
            later.add(entry);
            continue;
          }
          try {
            await this.writeBack(entry, reason, pass === 3);
          } catch (e) {
            onError(e);
          }
        }
        list = [...list.filter((e) => this.rolledBack.has(e)), ...later].filter((e) => e.dirtyCount > 0 && this.active.get(e.packet) === e);
      }
    } finally {
      this.waiting--;
    }
  }

  /**
   * Whether `entry` waits for a packet put off to the next pass (`later`), or for one of
   * `members` whose last write-out kept sectors as on the medium (it goes out again in this
   * writeAll) and that does not itself wait on `entry`.
   */
  private waitsForSecondWrite(entry: PacketEntry, members: Set<PacketEntry>, later: Set<PacketEntry>): boolean {
    if (this.rolledBack.size === 0) return false;
    for (const p of this.prerequisites(entry)) {
      if (later.has(p)) return true;
      if (!this.rolledBack.has(p) || !members.has(p)) continue;
      // In a cycle with `entry` (p waits on it, through others): writing it is what lets p go.
      const seen = new Set<PacketEntry>([p]);
      const stack = [p];
      let cycle = false;
      while (stack.length && !cycle) {
        for (const q of this.prerequisites(stack.pop()!)) {
          if (q === entry) cycle = true;
          else if (!seen.has(q)) { seen.add(q); stack.push(q); }
        }
      }
      if (!cycle) return true;
    }
    return false;
  }

  /** A write-out of `packet` succeeded with the snapshot taken at `snap`: constraints waiting for it may be met. */
  private written(packet: number, snap: number): void {
    this.writtenAt.set(packet, snap);
    const by = this.waitedBy.get(packet);
    if (!by) return;
    this.waitedBy.delete(packet);
    for (const after of by) {
      const left = this.waitsOf(after);
      if (left.some((w) => w.before === packet)) {
        let again = this.waitedBy.get(packet);
        if (!again) this.waitedBy.set(packet, (again = new Set()));
        again.add(after);
      }
      // A full packet that only waited for this one may go now.
      const e = this.active.get(after);
      if (e && this.goesOutWhenFull(e)) this.writeBackInBackground(e, 'full');
    }
  }

  /** Constraints follow a packet moved to a spare. */
  private moveWaits(from: number, to: number): void {
    const list = this.waits.get(from);
    if (list) {
      this.waits.delete(from);
      this.waits.set(to, [...(this.waits.get(to) ?? []), ...list]);
    }
    for (const l of this.waits.values()) for (const w of l) if (w.before === from) w.before = to;
    const by = this.waitedBy.get(from);
    if (by) {
      this.waitedBy.delete(from);
      const t = this.waitedBy.get(to) ?? new Set<number>();
      for (const x of by) t.add(x);
      this.waitedBy.set(to, t);
    }
    for (const s of this.waitedBy.values()) if (s.delete(from)) s.add(to);
  }

  // ---- write-out ----------------------------------------------------------------

  /**
   * Resolves once everything dirty in `entry` at the time of the call is on the
   * device (or rejects with the write-out's error). Write-outs of one packet run
   * one after another; callers arriving while one is queued share it.
   */
  private writeBack(entry: PacketEntry, reason: Reason, force = false): Promise<void> {
    if (entry.queued) return entry.queued;
    const run = entry.chain.then(() => {
      entry.queued = null;
      return this.writeOut(entry, reason, force);
    });
    entry.queued = run;
    entry.chain = run.catch(() => undefined);
    return run;
  }

  /** The error is kept in pendingError by writeOut; flush() reports it. */
  private writeBackInBackground(entry: PacketEntry, reason: Reason): void {
    this.writeBack(entry, reason).catch(() => undefined);
  }

  private async writeOut(entry: PacketEntry, reason: Reason, force: boolean): Promise<void> {
    let wrote = false;
    let moved: PacketEntry | null = null;
    try {
      // A packet that moved to a spare left its old entry clean and detached.
      if (entry.dirtyCount === 0 || this.active.get(entry.packet) !== entry) return;
      // Nothing it could write yet: it waits (flush comes back to it once the others are written).
      if (!force && this.allHeld(entry)) {
        this.rolledBack.add(entry);
        return;
      }
      this.counters.packetsStarted++;
      this.reasons[reason]++;
      if (entry.presentCount < entry.sectors) {
        entry.phase = 'gathering';
        await Promise.all(entry.missingRuns().map(async (run) => {
          const data = await this.device.read(entry.lba + run.start, run.count);
          this.counters.bytesReadGather += data.length;
          entry.install(run.start, run.count, data, 0);
        }));
      }
      // Sectors waiting for a packet not yet written go out as the medium holds them.
      const ss = this.sectorSize;
      const onMedium = new Map<number, Buffer>();
      for (let held = this.heldSectors(entry); held;) {
        const need = runsWhere(entry.sectors, (i) => held![i] === 1 && !onMedium.has(i));
        if (need.length === 0) break;
        entry.phase = 'gathering';
        for (const run of need) {
          const data = await this.device.read(entry.lba + run.start, run.count);
          this.counters.bytesReadGather += data.length;
          for (let i = 0; i < run.count; i++) onMedium.set(run.start + i, data.subarray(i * ss, (i + 1) * ss));
        }
        held = this.heldSectors(entry);
      }
      entry.phase = 'writing';
      let held = onMedium.size ? this.heldSectors(entry) : null;
      if (held && held.reduce((n, x) => n + x, 0) === entry.dirtyCount) {
        // Every dirty sector waits: only when forced (packets that wait on nothing but each
        // other, the last pass of a flush) is it written, whole; else it is left for later.
        if (!force) {
          this.rolledBack.add(entry);
          return;
        }
        debug('packet %d: every dirty sector waits for another packet; written whole', entry.packet);
        held = null;
      }
      this.rolledBack.delete(entry);
      // The entry's own bytes, not a copy (a write arriving meanwhile moves the entry to a copy,
      // entry.ts), unless sectors are kept as on the medium: those are patched into a copy.
      const image = held ? Buffer.from(entry.buf) : entry.lend();
      const carried = entry.takeDirty();
      if (held) {
        this.rollbacks++;
        this.rolledBack.add(entry);
        for (let i = 0; i < entry.sectors; i++) {
          if (!held[i]) continue;
          onMedium.get(i)!.copy(image, i * ss);
          carried[i] = 0;
          entry.dirty[i] = 1;
          entry.dirtyCount++;
        }
        debug('packet %d: %d sectors kept as on the medium until what they wait for is written', entry.packet, entry.dirtyCount);
      }
      entry.snapClock = this.clock;
      this.epochs.set(entry.packet, (this.epochs.get(entry.packet) ?? 0) + 1);
      try {
        await this.writeStep(entry, image, reason === 'full').finally(() => entry.giveBack(image));
      } catch (e) {
        entry.restoreDirty(carried);
        moved = this.relocate(entry, e);
        if (!moved && this.abandon(entry, e)) return;
        if (!moved) throw e;
        this.counters.packetsFailed++;
      }
      if (!moved) {
        wrote = true;
        this.counters.packetsEnded++;
        this.counters.bytesDeviceWritten += image.length;
        this.wear.set(entry.packet, (this.wear.get(entry.packet) ?? 0) + 1);
        this.noteWearTime(entry.packet, reason);
        if (held) this.heldAt.set(entry.packet, held); else this.heldAt.delete(entry.packet);
        this.written(entry.packet, entry.snapClock);
      }
    } catch (e) {
      this.counters.packetsFailed++;
      const err = this.writeError(entry, e);
      debug('%s', err.message);
      this.pendingError_ = err;
      this.lastWriteError = err;
      for (const cb of this.errorWatchers) cb();
      throw err;
    } finally {
      entry.phase = 'idle';
      this.settle(entry, wrote);
    }
    // Outside the old entry's phase: the moved copy has a chain of its own.
    if (moved) await this.writeBack(moved, reason);
  }

  // ---- the device write step ------------------------------------------------------

  /**
   * Write one packet's snapshot to the device; resolves or rejects with this
   * packet's own outcome. Snapshots that arrive in the same tick are written
   * together where they are consecutive packets (see writeRun).
   */
  private writeStep(entry: PacketEntry, image: Buffer, full: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.submitted.push({ entry, image, resolve, reject, full });
      if (this.submitted.length === 1) queueMicrotask(() => this.dispatch(false));
    });
  }

  /** Send the held run (and whatever waits for the next dispatch) now. */
  private releaseHeld(): void {
    if (this.held.length > 0) this.dispatch(true);
  }

  /**
   * Cut what was submitted (after the held run, which came first) into runs of consecutive
   * whole packets, in their order, and start them all; unless `release`, the last run may
   * be held for the packets after it (holdRunMs).
   */
  private dispatch(release: boolean): void {
    const subs = this.held.length > 0 ? this.held.concat(this.submitted) : this.submitted;
    this.held = [];
    this.submitted = [];
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    const spp = this.sectorsPerPacket;
    for (let i = 0; i < subs.length;) {
      const run = [subs[i]];
      let bytes = subs[i].image.length;
      for (let j = i + 1; j < subs.length; j++) {
        const prev = run[run.length - 1].entry;
        const next = subs[j];
        if (prev.sectors !== spp || next.entry.lba !== prev.lba + spp || bytes + next.image.length > this.maxRunBytes) break;
        run.push(next);
        bytes += next.image.length;
      }
      i += run.length;
      if (!release && i === subs.length && this.mayHold(run, bytes)) {
        this.held = run;
        this.holdTimer = setTimeout(() => { this.holdTimer = null; this.releaseHeld(); }, this.holdRunMs);
        this.holdTimer.unref();
        continue;
      }
      // A device that throws instead of rejecting still settles every packet of the run.
      this.writeRun(run).catch((e: unknown) => { for (const sub of run) sub.reject(e); });
    }
  }

  /** A run the next packets of a stream could still extend: full data packets, shorter than maxRunBytes, ending on a whole packet. */
  private mayHold(run: Submission[], bytes: number): boolean {
    return this.holdRunMs > 0 && this.waiting === 0 && !this.closed && bytes < this.maxRunBytes
      && run[run.length - 1].entry.sectors === this.sectorsPerPacket && run.every((s) => s.full);
  }

  private async writeRun(run: Submission[]): Promise<void> {
    if (run.length === 1) {
      const [s] = run;
      this.counters.deviceWrites++;
      await this.device.write(s.entry.lba, s.image).then(s.resolve, s.reject);
      return;
    }
    const lba = run[0].entry.lba;
    const sectors = run.reduce((n, s) => n + s.entry.sectors, 0);
    this.counters.deviceWrites++;
    try {
      const images = run.map((s) => s.image);
      // One pwritev where the device takes one: no copy of the run into a buffer of its own.
      await (this.device.writev ? this.device.writev(lba, images) : this.device.write(lba, Buffer.concat(images)));
    } catch (e) {
      // Which packets reached the disc is not known: each is written again alone, for its own outcome.
      this.counters.runsRetried++;
      const kind = writeFailureKind(e, lba, sectors);
      let rest = run;
      if (kind !== 'medium' && kind !== 'drive-spares-exhausted') {
        debug('run of %d packets at sector %d failed (%s): the first keeps the error, the others go alone', run.length, lba, (e as Error).message);
        run[0].reject(e);
        rest = run.slice(1);
      } else {
        debug('run of %d packets at sector %d failed with a medium error: writing them one by one', run.length, lba);
      }
      for (const s of rest) {
        this.counters.deviceWrites++;
        await this.device.write(s.entry.lba, s.image).then(s.resolve, s.reject);
      }
      return;
    }
    for (const s of run) s.resolve();
  }

  /** The error a failed write-out reports: the device's, with the packet, and what a medium error means. */
  private writeError(entry: PacketEntry, e: unknown): FsError {
    const where = `write-out of packet ${entry.packet} (sectors ${entry.lba}+${entry.sectors})`;
    const kind = writeFailureKind(e, entry.lba, entry.sectors);
    if (kind === 'drive-spares-exhausted') {
      this.mediumWriteErrors++;
      this.driveSparesExhausted = true;
      return asFsError(e, `${where}: the drive's defect management has no spare sectors left, the disc is worn out`);
    }
    if (kind === 'medium') {
      this.mediumWriteErrors++;
      const why = this.remapper ? 'no spare packet could take it' : 'nothing remaps defects on this volume';
      return asFsError(e, `${where}: bad spot on the disc, ${why}`);
    }
    if (kind === 'medium-earlier') {
      this.mediumWriteErrors++;
      const at = isScsiError(e) && e.information !== undefined ? ` at sector ${e.information}` : '';
      return asFsError(e, `${where}: the drive reports that an earlier write failed${at} (a deferred error): not remapped`);
    }
    return asFsError(e, where);
  }

  /**
   * A medium error with no spare: when the remapper can do without the dirty
   * sectors, forget the packet (it differs from the disc, so it cannot stay
   * cached) and count the failure without reporting it.
   */
  private abandon(entry: PacketEntry, e: unknown): boolean {
    if (!this.remapper?.abandon || writeFailureKind(e, entry.lba, entry.sectors) !== 'medium') return false;
    const err = asFsError(e, `write-out of packet ${entry.packet} (sectors ${entry.lba}+${entry.sectors}): bad spot on the disc, given up`);
    const dirty: number[] = [];
    for (let i = 0; i < entry.sectors; i++) if (entry.dirty[i]) dirty.push(entry.lba + i);
    if (!this.remapper.abandon(entry.lba, entry.sectors, dirty, err)) return false;
    this.counters.packetsFailed++;
    this.mediumWriteErrors++;
    this.lastWriteError = err;
    entry.takeDirty();
    this.rolledBack.delete(entry);
    this.active.delete(entry.packet);
    this.activeBytes -= entry.buf.length;
    this.epochs.set(entry.packet, (this.epochs.get(entry.packet) ?? 0) + 1);
    debug('packet %d abandoned after a medium error: %s', entry.packet, err.message);
    return true;
  }

  /**
   * A write-out of `entry` failed with `e`: when it is a medium error and the
   * remapper names a usable spare, move the cached copy there (in this tick,
   * before anything else can touch either packet) and return it.
   */
  private relocate(entry: PacketEntry, e: unknown): PacketEntry | null {
    if (!this.remapper || writeFailureKind(e, entry.lba, entry.sectors) !== 'medium') return null;
    const err = asFsError(e, `write-out of packet ${entry.packet} (sectors ${entry.lba}+${entry.sectors})`);
    const to = this.remapper.spareFor(entry.lba, entry.sectors, err);
    if (to === undefined) return null;
    const target = to / this.sectorsPerPacket;
    if (!Number.isSafeInteger(target) || to === entry.lba || !this.inRange(to, entry.sectors)
      || sectorsInPacket(target, this.sectorsPerPacket, this.sectorCount) !== entry.sectors || this.active.has(target)) {
      debug('spare at sector %d for packet %d is not a free whole packet: not remapped', to, entry.packet);
      return null;
    }
    this.clean.delete(target);
    const moved = this.newEntry(target);
    moved.adopt(entry);
    this.active.delete(entry.packet);
    this.active.set(target, moved);
    // Reads in flight saw either place before the move: they must not fill the cache.
    for (const p of [entry.packet, target]) this.epochs.set(p, (this.epochs.get(p) ?? 0) + 1);
    this.mediumWriteErrors++;
    this.remaps.push({ from: entry.lba, to });
    this.forward.set(entry.packet, target);
    this.moveWaits(entry.packet, target);
    if (this.rolledBack.delete(entry)) this.rolledBack.add(moved);
    debug('packet %d (sector %d) failed (%s): remapped to sector %d', entry.packet, entry.lba, err.message, to);
    this.remapper.remapped(entry.lba, to, err);
    return moved;
  }

  // ---- read helpers -------------------------------------------------------------

  private epochsOf(lba: number, count: number): Map<number, number> {
    const m = new Map<number, number>();
    const first = Math.floor(lba / this.sectorsPerPacket);
    const last = Math.floor((lba + count - 1) / this.sectorsPerPacket);
    for (let p = first; p <= last; p++) m.set(p, this.epochs.get(p) ?? 0);
    return m;
  }

  /**
   * Copy what the cache holds of sectors `lba + run` (for each of `runs`,
   * relative to `lba`) into `out`; returns the runs still missing, coalesced,
   * relative to `lba`. Read-ahead packets read here count as used.
   */
  private copyCached(lba: number, out: Buffer, runs: SectorRun[]): SectorRun[] {
    const ss = this.sectorSize;
    const spp = this.sectorsPerPacket;
    const missing: SectorRun[] = [];
    const miss = (start: number, n: number): void => {
      const last = missing[missing.length - 1];
      if (last && last.start + last.count === start) last.count += n;
      else missing.push({ start, count: n });
    };
    for (const run of runs) {
      let at = run.start;
      const end = run.start + run.count;
      while (at < end) {
        const sector = lba + at;
        const packet = Math.floor(sector / spp);
        const first = sector - packet * spp;
        const n = Math.min(spp - first, end - at);
        const entry = this.lookup(packet);
        if (!entry) {
          miss(at, n);
        } else {
          if (entry.ahead) this.consumeAhead(entry);
          for (const m of entry.copyOut(first, n, out, at * ss)) miss(at + m.start - first, m.count);
        }
        at += n;
      }
    }
    return missing;
  }

  /** Read-ahead reads in flight over any of the `missing` runs (relative to `lba`). */
  private inflightFor(lba: number, missing: SectorRun[]): Promise<void>[] {
    const waits = new Set<Promise<void>>();
    for (const run of missing) {
      const first = Math.floor((lba + run.start) / this.sectorsPerPacket);
      const last = Math.floor((lba + run.start + run.count - 1) / this.sectorsPerPacket);
      for (let p = first; p <= last; p++) {
        const w = this.raInflight.get(p);
        if (w) waits.add(w);
      }
    }
    return [...waits];
  }

  /**
   * Follow the read pattern: true when this read continues a sequential stream
   * long enough to read ahead of. A read elsewhere ends the stream: read-ahead
   * not used yet is dropped (in flight: not kept when it lands).
   */
  private notePattern(lba: number, count: number): boolean {
    if (this.readAheadLimit === 0 || count === 0) return false;
    // The kernel sends the requests of its own read-ahead at once and they may reach us out of
    // order: a read near the stream's front (within REORDER_BYTES either side) continues it.
    const slack = Math.floor(Math.min(REORDER_BYTES, this.readAheadLimit) / this.sectorSize);
    const continues = this.raStreak > 0 && lba >= this.raNext - slack && lba <= this.raNext + slack;
    // A read that does not go past the front (a late request, a re-read) keeps the stream but starts nothing.
    const advances = lba + count > this.raNext;
    if (continues) {
      this.raStreak += count;
      this.raNext = Math.max(this.raNext, lba + count);
    } else {
      if (this.raAhead.size > 0 || this.raInflight.size > 0) this.dropAhead();
      this.raStreak = count;
      this.raWindow = 0;
      this.raIssuedTo = 0;
      this.raNext = lba + count;
    }
    return continues && advances && this.raStreak * this.sectorSize >= 2 * this.packetBytes;
  }

  /**
   * The reader of a stream has reached sector `from`: keep whole packets read
   * ahead of it, up to a window that doubles from four packets to
   * readAheadLimit. New read-ahead starts when less than half a window is left
   * ahead of the reader; packets already cached or in flight are skipped.
   */
  private readAhead(from: number): void {
    const spp = this.sectorsPerPacket;
    const limitPackets = Math.max(1, Math.floor(this.readAheadLimit / this.packetBytes));
    const nextPacket = Math.ceil(from / spp);
    const issuedTo = Math.max(this.raIssuedTo, nextPacket);
    const window = this.raWindow || Math.min(4, limitPackets);
    if (this.raIssuedTo > nextPacket && issuedTo - nextPacket >= Math.ceil(window / 2)) return;
    const lastPacket = packetCount(this.sectorCount, spp);
    this.raWindow = Math.min(limitPackets, this.raWindow ? this.raWindow * 2 : window);
    // Memory: what is in flight or unread counts against the window.
    const room = this.raWindow - this.raInflightPackets - this.raAhead.size;
    const end = Math.min(lastPacket, nextPacket + this.raWindow, issuedTo + Math.max(0, room));
    let p = issuedTo;
    while (p < end) {
      if (!this.wantsReadAhead(p)) { p++; continue; }
      const start = p;
      while (p < end && this.wantsReadAhead(p)) p++;
      this.startReadAhead(start, p - start);
    }
    this.raIssuedTo = Math.max(this.raIssuedTo, end);
  }

  /** Neither in flight nor wholly cached. */
  private wantsReadAhead(packet: number): boolean {
    if (this.raInflight.has(packet)) return false;
    const e = this.active.get(packet) ?? this.clean.peek(packet);
    return !e || e.presentCount < e.sectors;
  }

  /** One device read of `n` packets from `packet`, into the clean cache unless the stream ended meanwhile. */
  private startReadAhead(packet: number, n: number): void {
    const spp = this.sectorsPerPacket;
    const lba = firstSectorOf(packet, spp);
    const count = Math.min(n * spp, this.sectorCount - lba);
    const gen = this.raGen;
    this.counters.readAheads++;
    this.raInflightPackets += n;
    const done = this.fetch(lba, count).then((got) => {
      this.counters.bytesReadAhead += count * this.sectorSize;
      if (gen !== this.raGen || this.closed) {
        this.counters.bytesReadAheadDropped += count * this.sectorSize;
        return;
      }
      this.keep(got, true);
    }, (e: unknown) => {
      // The reader that wants these sectors reads them itself and gets the error.
      debug('read-ahead of sectors %d+%d failed: %s', lba, count, (e as Error).message);
    }).finally(() => {
      this.raInflightPackets -= n;
      for (let p = packet; p < packet + n; p++) if (this.raInflight.get(p) === done) this.raInflight.delete(p);
    });
    for (let p = packet; p < packet + n; p++) this.raInflight.set(p, done);
  }

  /**
   * A metadata read's missing sectors: their packets are read whole (a drive reads its whole
   * ECC block anyway) and kept, so the entries next to this one are read with it. Returns what
   * is still missing (a write-out raced the read and its bytes were not kept).
   */
  private async readWhole(lba: number, out: Buffer, missing: SectorRun[]): Promise<SectorRun[]> {
    const spp = this.sectorsPerPacket;
    const first = Math.floor((lba + missing[0].start) / spp);
    const last = Math.floor((lba + missing[missing.length - 1].start + missing[missing.length - 1].count - 1) / spp);
    const from = firstSectorOf(first, spp);
    const n = Math.min((last - first + 1) * spp, this.sectorCount - from);
    this.keep(await this.fetch(from, n), false);
    this.counters.bytesReadFromDevice += n * this.sectorSize;
    return this.copyCached(lba, out, missing);
  }

  /**
   * BlockDevice.prefetch: the packets holding `ranges` not wholly cached nor on their way
   * (at most a quarter of the cache) are read into the clean cache, one device read per run
   * of consecutive packets (PREFETCH_RUN_PACKETS at least, up to a packet held already);
   * reads of them meanwhile wait for these rather than read again. The sequential
   * read-ahead's stream is left as it was. The file entries of a directory lie close
   * together: `find` and `rm -rf` read them one block at a time, one device read each
   * (issue 6).
   */
  async prefetch(ranges: SectorRange[]): Promise<void> {
    if (this.closed) return;
    const spp = this.sectorsPerPacket;
    const want = new Set<number>();
    for (const r of ranges) {
      if (r.count <= 0 || !this.inRange(r.lba, r.count)) continue;
      for (let p = Math.floor(r.lba / spp); p <= Math.floor((r.lba + r.count - 1) / spp); p++) {
        if (this.wantsReadAhead(p)) want.add(p);
      }
    }
    const packets = [...want].sort((a, b) => a - b);
    const last = packetCount(this.sectorCount, spp);
    let budget = Math.max(1, Math.floor(this.cacheBytes / 4 / this.packetBytes));
    const reads: Promise<void>[] = [];
    for (let i = 0; i < packets.length && budget > 0;) {
      // A run reaches at least PREFETCH_RUN_PACKETS, over the wanted packets within or next to
      // it, up to one held already.
      const start = packets[i];
      let end = start + PREFETCH_RUN_PACKETS;
      while (i < packets.length && packets[i] <= end) end = Math.max(end, packets[i++] + 1);
      let stop = start + 1;
      while (stop < Math.min(end, last, start + budget) && this.wantsReadAhead(stop)) stop++;
      reads.push(this.startPrefetch(start, stop - start));
      budget -= stop - start;
      while (i > 0 && packets[i - 1] >= stop) i--;
    }
    await Promise.all(reads);
  }

  private startPrefetch(packet: number, n: number): Promise<void> {
    const lba = firstSectorOf(packet, this.sectorsPerPacket);
    const count = Math.min(n * this.sectorsPerPacket, this.sectorCount - lba);
    this.counters.prefetches++;
    const done = this.fetch(lba, count).then((got) => {
      this.counters.bytesPrefetched += count * this.sectorSize;
      if (!this.closed) this.keep(got, false);
    }, (e: unknown) => {
      debug('prefetch of sectors %d+%d failed: %s', lba, count, (e as Error).message);
    }).finally(() => {
      for (let p = packet; p < packet + n; p++) if (this.raInflight.get(p) === done) this.raInflight.delete(p);
    });
    for (let p = packet; p < packet + n; p++) this.raInflight.set(p, done);
    return done;
  }

  /** A reader used a packet read ahead. */
  private consumeAhead(entry: PacketEntry): void {
    entry.ahead = false;
    this.raAhead.delete(entry);
    this.counters.bytesReadAheadUsed += entry.presentCount * this.sectorSize;
  }

  /** The stream ended: forget read-ahead nobody read, and what is still in flight. */
  private dropAhead(): void {
    this.raGen++;
    for (const e of this.raAhead) {
      e.ahead = false;
      if (this.clean.peek(e.packet) === e) {
        this.clean.delete(e.packet);
        this.counters.bytesReadAheadDropped += e.buf.length;
        this.retire(e);
      }
    }
    this.raAhead.clear();
  }

  /**
   * Read sectors [lba, lba+count) from the device, packet by packet: a whole
   * packet with nothing cached is read straight into a new entry (detached
   * until keep()) when the device can read into buffers; everything else
   * into buffers of the read's own. The write-out epochs are taken first.
   */
  private async fetch(lba: number, count: number): Promise<Fetched> {
    const ss = this.sectorSize;
    const epochs = this.epochsOf(lba, count);
    const spans = explodeRange(lba * ss, count * ss, this.packetBytes);
    const fresh: (PacketEntry | null)[] = [];
    let bufs: Buffer[];
    if (this.device.readInto) {
      bufs = spans.map((span) => {
        const whole = span.skip === 0 && span.length === sectorsInPacket(span.packet, this.sectorsPerPacket, this.sectorCount) * ss;
        const entry = whole && !this.lookup(span.packet) ? this.newEntry(span.packet) : null;
        fresh.push(entry);
        return entry ? entry.buf : Buffer.allocUnsafe(span.length);
      });
      await this.device.readInto(lba, bufs);
    } else {
      const data = await this.device.read(lba, count);
      let off = 0;
      bufs = spans.map((span) => {
        fresh.push(null);
        off += span.length;
        return data.subarray(off - span.length, off);
      });
    }
    return { spans, bufs, fresh, epochs };
  }

  /**
   * Keep what fetch() read, into sectors not yet present. A packet written out
   * since the read began is skipped: the read may have seen the disc before
   * that write, and a fresh entry would take the old bytes. `ahead`: read-ahead,
   * so new entries are marked as not read yet.
   */
  private keep(got: Fetched, ahead: boolean): void {
    const ss = this.sectorSize;
    got.spans.forEach((span, i) => {
      if ((this.epochs.get(span.packet) ?? 0) !== got.epochs.get(span.packet)) return;
      let entry = this.lookup(span.packet);
      if (!entry) {
        const fresh = got.fresh[i];
        entry = fresh ?? this.newEntry(span.packet);
        if (fresh) fresh.filledWhole();
        this.trimClean(entry.buf.length);
        this.clean.set(span.packet, entry);
        if (ahead) {
          entry.ahead = true;
          this.raAhead.add(entry);
        }
        if (fresh) return;
      }
      entry.install(span.skip / ss, span.length / ss, got.bufs[i], 0);
    });
  }

  // ---- misc ---------------------------------------------------------------------

  private inRange(lba: number, count: number): boolean {
    return Number.isSafeInteger(lba) && Number.isSafeInteger(count) && lba >= 0 && count >= 0
      && lba + count <= this.sectorCount;
  }

  private checkOpen(): void {
    if (this.closed) throw new FsError('EBADF', `${this.description} is closed`);
  }

  /**
   * After `flushDelayMs` without writes the packets without metadata are written; the
   * ones with metadata after as long again, if nothing was written meanwhile: the
   * filesystem above settles after the same delay (volume.ts), writing its entries into
   * them first, and they are written once instead of twice.
   */
  private armIdleTimer(metadataToo = false): void {
    // setTimeout fires at once for delays beyond 2^31-1 ms; treat those as "never".
    if (!(this.flushDelayMs <= MAX_TIMER_MS)) return;
    // The countdown starts again: the same timer, re-armed (not a new one for every write).
    if (this.idleTimer && this.idleTimerMeta === metadataToo) {
      this.idleTimer.refresh();
      return;
    }
    this.cancelIdleTimer();
    this.idleTimerMeta = metadataToo;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      void this.writeBackAll(metadataToo).then(() => {
        if (!metadataToo && !this.idleTimer && !this.closed && [...this.active.values()].some((e) => e.meta && e.dirtyCount > 0)) this.armIdleTimer(true);
      });
    }, Math.max(0, this.flushDelayMs));
    this.idleTimer.unref();
  }

  /** Idle write-back: the dirty packets (with metadata or not), one after another in ascending order; errors stay pending for flush(). */
  private async writeBackAll(metadataToo: boolean): Promise<void> {
    debug('idle: writing back %d packets', this.active.size);
    await this.writeAll(this.activeAscending().filter((e) => e.dirtyCount > 0 && (metadataToo || !e.meta)), 'idle', () => undefined);
  }

  private cancelIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}


function zeroReasons(): WriteOutReasons {
  return { full: 0, flush: 0, idle: 0, pressure: 0, ordered: 0 };
}

/** The device's error with the packet layer's context; its errno kept, EIO for anything that isn't an FsError. */
function asFsError(e: unknown, context: string): FsError {
  const message = e instanceof Error ? e.message : String(e);
  return new FsError(isFsError(e) ? e.errno : 'EIO', `${context}: ${message}`);
}
