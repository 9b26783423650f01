/**
 * Block allocation in one partition over an in-memory free map (bit set =
 * free, as in the space bitmap of ECMA-167 4/14.12). Packet-aware: a small
 * allocation first fills packets that are already partly used, a large one
 * takes whole free packets; packets freed during this mount are used last
 * (their blocks were just written: reusing them first wears the medium).
 * A growing directory keeps the blocks after its end reserved for itself while
 * mounted (in memory only), so the file entries created in it don't split it
 * into many extents: other readers (7-Zip) don't follow allocation extent
 * descriptors. Reservations give way when nothing else is free.
 * File data, files' entries and directories (entries and blocks) go to packets
 * of their own (kinds, in memory only): a packet of data is written once as it
 * fills, and one of metadata collects its updates while it is dirty (issue 6);
 * directories change again after their files' entries are done (names added,
 * times set after their contents), and the packet layer keeps their packets
 * for the flush under pressure (write kind 'directory'). A packet of another
 * kind is used only when nothing else is free.
 * How the map is loaded and stored (bitmap or table) is spacemap.ts's business.
 */
import createDebug from 'debug';
import { FsError } from '../../errors';

const debug = createDebug('pktfs:udf:alloc');

/** What an allocation is for: entries (and allocation extents), file data, or directories (their entries and blocks). */
export type BlockKind = 'meta' | 'data' | 'dir';
const KIND_CODE: Record<BlockKind, number> = { meta: 1, data: 2, dir: 3 };

/**
 * Up to this many partly used packets, a small allocation picks the nearest of them from the
 * index of partly used packets instead of looking at every packet from its goal on (issue 6:
 * a tree copy's entries, allocated near their directory's, looked at every packet written since
 * that directory was made: ~40 µs per created file, a tenth of the write engine's time). Beyond
 * it (a volume used in scattered places), looking from the goal on is as quick. Exported for tests.
 */
export const PARTLY_INDEX = { max: 256 };

/** pickStart's passes, in order (passAccepts). */
const PASS_PARTLY = 0;
const PASS_EMPTY = 1;
const PASS_SOME_FRESH = 2;
const PASS_ANY = 3;

/** A run of `count` partition blocks from `block`. */
export interface Piece {
  block: number;
  count: number;
}

/** Set bits of every byte value. */
const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >> 1];
  return t;
})();

export class Allocator {
  private freeCount = 0;
  /** Used blocks per packet, so that a packet's state is known without counting bits. */
  private readonly usage: Uint32Array;
  /** Packets in which blocks were freed during this mount. */
  private readonly justFreed = new Set<number>();
  /**
   * Blocks freed since the last commitFreed(): free (and counted so), but not
   * handed out again until the entries that let go of them are on the medium.
   * Reused sooner, a crash could leave an old entry (a directory that shrank)
   * covering another file's new data.
   */
  private readonly heldBack = new Set<number>();
  /** Where the last allocation ended: the next one without a goal looks there first. */
  private cursor = 0;
  /** Free blocks kept for an owner (a growing directory's inode): block → owner. */
  private readonly reserved = new Map<number, number>();
  /** During an allocation: whose reservations it may use, and whether others' are respected. */
  private owner: number | undefined;
  private strict = false;
  /** Per packet, what was allocated in it this mount (0: nothing yet); during an allocation, the kind it keeps to. */
  private readonly kinds: Uint8Array;
  private kind = 0;
  /** During an allocation: the kind the packets it takes are marked with. */
  private mark = 0;
  /** Where the last data allocation ended: a file's first data block is looked for there, not beside its entry. */
  private dataCursor = 0;
  /** True when the map differs from what is on the disc. */
  dirty = false;
  /** Packets some but not all of whose blocks are in use (see PARTLY_INDEX). */
  private readonly partly = new Set<number>();
  /** Packets looked at while choosing where allocations start (for tests: the index keeps it low). */
  packetsExamined = 0;

  /**
   * @param free bit i set = block i free; `numBits` blocks are managed.
   * @param packetBlocks packet size in blocks (1 disables packet preferences).
   * @param phase blocks of the medium's packet before block 0 (the partition's start modulo
   *   the packet size): packet k holds blocks [k*packetBlocks - phase, (k+1)*packetBlocks - phase).
   *   The packets are the medium's (the packet layer's): mkudffs starts an hd image's partition
   *   at block 257, and packets counted from block 0 of the partition each lay across two of the
   *   medium's, so kinds kept apart here were not apart on the medium (issue 6).
   */
  constructor(readonly free: Uint8Array, readonly numBits: number, readonly packetBlocks: number, phase = 0) {
    this.phase = packetBlocks > 1 ? ((phase % packetBlocks) + packetBlocks) % packetBlocks : 0;
    this.usage = new Uint32Array(Math.ceil((numBits + this.phase) / packetBlocks));
    this.kinds = new Uint8Array(this.usage.length);
    // A byte at a time (a 100 GB volume has 49 million blocks: bit by bit took 0.4-2 s of its
    // mount), split where a packet boundary falls inside it; the bits past the last whole byte one by one.
    const whole = packetBlocks >= 8 ? numBits >> 3 : 0;
    for (let byte = 0; byte < whole; byte++) {
      const v = free[byte];
      this.freeCount += POPCOUNT[v];
      const at = byte * 8 + this.phase;
      const pk = (at / packetBlocks) | 0;
      const t = (pk + 1) * packetBlocks - at; // bits of this byte in packet pk
      if (t >= 8) {
        this.usage[pk] += 8 - POPCOUNT[v];
      } else {
        this.usage[pk] += t - POPCOUNT[v & ((1 << t) - 1)];
        this.usage[pk + 1] += 8 - t - POPCOUNT[v >> t];
      }
    }
    for (let i = whole * 8; i < numBits; i++) {
      if (this.isFree(i)) this.freeCount++;
      else this.usage[this.packetOf(i)]++;
    }
    for (let pk = 0; pk < this.usage.length; pk++) this.notePartly(pk);
  }

  /** Blocks of the medium's packet before block 0 (see the constructor). */
  readonly phase: number;

  /** The packet holding block `b`. */
  packetOf(b: number): number {
    return Math.floor((b + this.phase) / this.packetBlocks);
  }

  /** The first block of packet `pk` (the first packet may be cut short by the phase). */
  private packetStart(pk: number): number {
    return Math.max(0, pk * this.packetBlocks - this.phase);
  }

  /** The block after the end of the packet holding block `b` (at most numBits). */
  packetEnd(b: number): number {
    return Math.min(this.numBits, (this.packetOf(b) + 1) * this.packetBlocks - this.phase);
  }

  /** Keep `partly` in step with packet `pk`'s usage. */
  private notePartly(pk: number): void {
    const u = this.usage[pk];
    if (u > 0 && u < this.packetSize(pk)) this.partly.add(pk);
    else this.partly.delete(pk);
  }

  get freeBlocks(): number {
    return this.freeCount;
  }

  isFree(b: number): boolean {
    return b >= 0 && b < this.numBits && (this.free[b >> 3] & (1 << (b & 7))) !== 0;
  }

  /** Free blocks waiting for commitFreed() before they can be allocated. */
  get heldBackBlocks(): number {
    return this.heldBack.size;
  }

  /** The entries that freed the held-back blocks are on the medium: they may be allocated again. */
  commitFreed(): void {
    this.heldBack.clear();
  }

  /** Free, not held back, and, while reservations are respected, not kept for another owner. */
  private usable(b: number): boolean {
    if (!this.isFree(b)) return false;
    if (this.heldBack.size > 0 && this.heldBack.has(b)) return false;
    if (this.kind !== 0 && !this.kindFits(this.packetOf(b))) return false;
    if (!this.strict) return true;
    const o = this.reserved.get(b);
    return o === undefined || o === this.owner;
  }

  /** Keep up to `count` free blocks from `block` for `owner` (stops at the first one in use or kept). */
  reserve(block: number, count: number, owner: number): void {
    for (let b = block; b < block + count && this.isFree(b); b++) {
      const o = this.reserved.get(b);
      if (o !== undefined && o !== owner) break;
      this.reserved.set(b, owner);
    }
  }

  /** How many blocks from `b` (at most `max`) `owner` could take in one run. */
  runLength(b: number, max: number, owner?: number): number {
    this.owner = owner;
    this.strict = true;
    try {
      return this.runFrom(b, max);
    } finally {
      this.strict = false;
      this.owner = undefined;
    }
  }

  /**
   * `count` contiguous blocks: the first free run long enough at or after
   * `goal` (wrapping), not touching what others keep; undefined when there is none.
   * `aligned`: only a run that starts a packet.
   */
  allocateRun(count: number, goal: number, owner?: number, kind?: BlockKind, aligned = false): Piece | undefined {
    this.owner = owner;
    this.strict = true;
    this.kind = kind && this.packetBlocks > 1 ? KIND_CODE[kind] : 0;
    this.mark = this.kind;
    try {
      const start = Math.min(Math.max(0, goal), this.numBits - 1);
      for (let i = 0; i < this.numBits;) {
        const b = (start + i) % this.numBits;
        if (b + count > this.numBits) {
          i += this.numBits - b;
          continue;
        }
        if (aligned && this.packetStart(this.packetOf(b)) !== b) {
          i += this.packetEnd(b) - b;
          continue;
        }
        const n = this.runFrom(b, count);
        if (n >= count) {
          this.setUsed(b, count);
          this.cursor = (b + count) % this.numBits;
          return { block: b, count };
        }
        i += n + 1;
      }
      return undefined;
    } finally {
      this.strict = false;
      this.owner = undefined;
      this.kind = 0;
      this.mark = 0;
    }
  }

  /** A packet holding nothing allocated this mount, or only what the current allocation is for. */
  private kindFits(pk: number): boolean {
    return this.kinds[pk] === 0 || this.kinds[pk] === this.kind || this.usage[pk] === 0;
  }

  /** Forget what `owner` kept (it was deleted, or the mount ends). */
  unreserve(owner: number): void {
    for (const [b, o] of this.reserved) if (o === owner) this.reserved.delete(b);
  }

  private setUsed(b: number, n: number): void {
    for (let i = b; i < b + n; i++) {
      this.reserved.delete(i);
      this.free[i >> 3] &= ~(1 << (i & 7));
      const pk = this.packetOf(i);
      if (this.mark !== 0 && (this.kinds[pk] === 0 || this.usage[pk] === 0)) this.kinds[pk] = this.mark;
      this.usage[pk]++;
      if (i === b + n - 1 || this.packetOf(i + 1) !== pk) this.notePartly(pk);
    }
    this.freeCount -= n;
    this.dirty = true;
  }

  /** Free run length from `b`, at most `max`. */
  private runFrom(b: number, max: number): number {
    let n = 0;
    while (n < max && this.usable(b + n)) n++;
    return n;
  }

  private packetSize(pk: number): number {
    return Math.min(this.numBits, (pk + 1) * this.packetBlocks - this.phase) - this.packetStart(pk);
  }

  /** First free block of packet `pk` at or after `from` (wrapping inside the packet). */
  private firstFreeIn(pk: number, from: number): number {
    const start = this.packetStart(pk);
    const size = this.packetSize(pk);
    const skip = from >= start && from < start + size ? from - start : 0;
    for (let i = 0; i < size; i++) {
      const b = start + ((skip + i) % size);
      if (this.usable(b)) return b;
    }
    return -1;
  }

  /** The first packet from the one holding `from` (wrapping) that `ok` accepts, or -1. */
  private findPacket(from: number, ok: (pk: number) => boolean): number {
    const n = this.usage.length;
    const first = this.packetOf(from) % n;
    for (let i = 0; i < n; i++) {
      const pk = (first + i) % n;
      this.packetsExamined++;
      if (ok(pk)) return pk;
    }
    return -1;
  }

  /** What findPacket(from, pk => partly(pk) && ok(pk)) finds, looking only at the partly used packets. */
  private nearestPartly(from: number, ok: (pk: number) => boolean): number {
    const n = this.usage.length;
    const first = this.packetOf(from) % n;
    let best = -1;
    let bestDistance = n;
    for (const pk of this.partly) {
      const d = (pk - first + n) % n;
      if (d >= bestDistance) continue;
      this.packetsExamined++;
      if (ok(pk)) {
        best = pk;
        bestDistance = d;
      }
    }
    return best;
  }

  /** Where an allocation of `want` blocks near `goal` should start, or -1 when nothing is free. */
  private pickStart(want: number, goal: number | undefined): number {
    const pb = this.packetBlocks;
    if (goal !== undefined && this.usable(goal) && !this.justFreed.has(this.packetOf(goal))) return goal;
    // File data not continuing where it left off goes on where data went last.
    const start = this.mark === KIND_CODE.data ? this.dataCursor : goal ?? this.cursor;
    const from = Math.min(this.numBits - 1, Math.max(0, start));
    const smallFirst = pb > 1 && want < pb;
    // The passes (see passAccepts), each closure made only when the one before found nothing
    // (issue 6: nine closures and two arrays per allocation, where the first pass mostly finds one).
    for (let pass = smallFirst ? PASS_PARTLY : pb > 1 ? PASS_EMPTY : PASS_SOME_FRESH; pass <= PASS_ANY; pass++) {
      const pk = pass === PASS_PARTLY && this.partly.size <= PARTLY_INDEX.max
        ? this.nearestPartly(from, (p) => !this.justFreed.has(p) && this.usableIn(p, from))
        : this.findPacket(from, (p) => this.passAccepts(pass, p) && this.usableIn(p, from));
      if (pk >= 0) return this.firstFreeIn(pk, from);
    }
    return -1;
  }

  /**
   * The passes of pickStart: a small allocation fills a packet already in use; a large one
   * opens empty packets; then any with a free block, not freed since the last flush; then any.
   */
  private passAccepts(pass: number, pk: number): boolean {
    const fresh = !this.justFreed.has(pk);
    switch (pass) {
      case PASS_PARTLY: return fresh && this.usage[pk] > 0 && this.usage[pk] < this.packetSize(pk);
      case PASS_EMPTY: return fresh && this.usage[pk] === 0;
      case PASS_SOME_FRESH: return fresh && this.usage[pk] < this.packetSize(pk);
      default: return this.usage[pk] < this.packetSize(pk);
    }
  }

  /**
   * A packet whose free blocks are all kept for others has nothing usable: look further.
   * Likewise one whose free blocks are all held back (freed, not yet recorded).
   * And one of the other kind, while the allocation keeps to its own.
   */
  private usableIn(pk: number, from: number): boolean {
    return (this.kind === 0 || this.kindFits(pk))
      && (((!this.strict || this.reserved.size === 0) && this.heldBack.size === 0) || this.firstFreeIn(pk, from) >= 0);
  }

  /**
   * Allocate `count` blocks, contiguous where possible, starting at `goal` when
   * it is free; blocks kept for others are used only when nothing else is free.
   * All or nothing: ENOSPC leaves the map as it was.
   */
  allocate(count: number, goal?: number, owner?: number, kind?: BlockKind): Piece[] {
    if (count > this.freeCount - this.heldBack.size) {
      throw new FsError('ENOSPC', `${count} blocks wanted, ${this.freeCount} free (${this.heldBack.size} of them freed and not yet recorded)`);
    }
    this.owner = owner;
    const code = kind && this.packetBlocks > 1 ? KIND_CODE[kind] : 0;
    try {
      this.mark = code;
      // Packets of its own kind first, then (nearly full) any.
      for (const k of code ? [code, 0] : [0]) {
        this.kind = k;
        if (this.reserved.size > 0) {
          this.strict = true;
          try {
            return this.take(count, goal);
          } catch (e) {
            if (!(e instanceof FsError) || e.errno !== 'ENOSPC') throw e;
          }
        }
        this.strict = false;
        try {
          return this.take(count, goal);
        } catch (e) {
          if (!(e instanceof FsError) || e.errno !== 'ENOSPC' || k === 0) throw e;
        }
      }
      throw new FsError('ENOSPC', `${count} blocks wanted, no more free`);
    } finally {
      this.strict = false;
      this.owner = undefined;
      this.kind = 0;
      this.mark = 0;
    }
  }

  private take(count: number, goal: number | undefined): Piece[] {
    const pieces: Piece[] = [];
    let left = count;
    let g = goal;
    while (left > 0) {
      const start = this.pickStart(left, g);
      if (start < 0) break;
      const n = this.runFrom(start, left);
      this.setUsed(start, n);
      pieces.push({ block: start, count: n });
      left -= n;
      g = start + n;
      this.cursor = g % this.numBits;
      if (this.mark === KIND_CODE.data) this.dataCursor = this.cursor;
    }
    if (left > 0) {
      for (const p of pieces) this.release(p.block, p.count, false);
      throw new FsError('ENOSPC', `${count} blocks wanted, no more free`);
    }
    // (Asked first: a disabled debug() still costs its call, on every allocation.)
    if (debug.enabled) debug('allocated %d blocks in %d pieces from %d', count, pieces.length, pieces[0]?.block);
    return pieces;
  }

  /** Mark blocks free again; `wear` records their packets as just freed. */
  release(block: number, count: number, wear = true): void {
    for (let b = block; b < block + count; b++) {
      if (b < 0 || b >= this.numBits) throw new FsError('EIO', `freeing block ${b} outside the space map (${this.numBits})`);
      if (this.isFree(b)) throw new FsError('EIO', `block ${b} freed twice`);
      this.free[b >> 3] |= 1 << (b & 7);
      this.usage[this.packetOf(b)]--;
      this.notePartly(this.packetOf(b));
      if (wear) {
        this.justFreed.add(this.packetOf(b));
        this.heldBack.add(b);
      }
    }
    this.freeCount += count;
    this.dirty = true;
  }
}
