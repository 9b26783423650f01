/**
 * Block allocation in one partition over an in-memory free map (bit set =
 * free, as in the space bitmap of ECMA-167 4/14.12). Packet-aware: a small
 * allocation first fills packets that are already partly used, a large one
 * takes whole free packets; packets freed during this mount are used last
 * (their blocks were just written: reusing them first wears the medium).
 * How the map is loaded and stored (bitmap or table) is spacemap.ts's business.
 */
import createDebug from 'debug';
import { FsError } from '../../errors';

const debug = createDebug('pktfs:udf:alloc');

/** A run of `count` partition blocks from `block`. */
export interface Piece {
  block: number;
  count: number;
}

export class Allocator {
  private freeCount = 0;
  /** Packets in which blocks were freed during this mount. */
  private readonly justFreed = new Set<number>();
  /** Where the last allocation ended: the next small one looks there first. */
  private cursor = 0;
  /** True when the map differs from what is on the disc. */
  dirty = false;

  /**
   * @param free bit i set = block i free; `numBits` blocks are managed.
   * @param packetBlocks packet size in blocks (1 disables packet preferences).
   */
  constructor(readonly free: Uint8Array, readonly numBits: number, readonly packetBlocks: number) {
    for (let i = 0; i < numBits; i++) if (this.isFree(i)) this.freeCount++;
  }

  get freeBlocks(): number {
    return this.freeCount;
  }

  isFree(b: number): boolean {
    return b >= 0 && b < this.numBits && (this.free[b >> 3] & (1 << (b & 7))) !== 0;
  }

  private setUsed(b: number, n: number): void {
    for (let i = b; i < b + n; i++) this.free[i >> 3] &= ~(1 << (i & 7));
    this.freeCount -= n;
    this.dirty = true;
  }

  /** Free run length from `b`, at most `max`. */
  private runFrom(b: number, max: number): number {
    let n = 0;
    while (n < max && this.isFree(b + n)) n++;
    return n;
  }

  private packetUsage(pk: number): number {
    const pb = this.packetBlocks;
    let used = 0;
    for (let b = pk * pb; b < Math.min(this.numBits, (pk + 1) * pb); b++) if (!this.isFree(b)) used++;
    return used;
  }

  /** First free block from `from` (wrapping) satisfying `ok`, or -1. */
  private scan(from: number, ok: (b: number) => boolean): number {
    const n = this.numBits;
    for (let i = 0; i < n; i++) {
      const b = (from + i) % n;
      // Skip whole bytes with nothing free.
      if ((b & 7) === 0 && this.free[b >> 3] === 0 && b + 8 <= n) {
        i += 7;
        continue;
      }
      if (this.isFree(b) && ok(b)) return b;
    }
    return -1;
  }

  /** Where an allocation of `want` blocks near `goal` should start. */
  private pickStart(want: number, goal: number | undefined): number {
    const pb = this.packetBlocks;
    const fresh = (b: number) => !this.justFreed.has(Math.floor(b / pb));
    if (goal !== undefined && this.isFree(goal) && fresh(goal)) return goal;
    const from = goal ?? this.cursor;
    if (pb > 1 && want < pb) {
      // Fill a packet that is already partly used.
      const b = this.scan(from, (x) => fresh(x) && this.packetUsage(Math.floor(x / pb)) > 0);
      if (b >= 0) return b;
    }
    if (pb > 1) {
      // Open a whole free packet.
      const b = this.scan(from - (from % pb), (x) => x % pb === 0 && fresh(x) && this.runFrom(x, pb) === Math.min(pb, this.numBits - x));
      if (b >= 0) return b;
    }
    const b = this.scan(from, fresh);
    return b >= 0 ? b : this.scan(from, () => true);
  }

  /**
   * Allocate `count` blocks, contiguous where possible, starting at `goal` when
   * it is free. All or nothing: ENOSPC leaves the map as it was.
   */
  allocate(count: number, goal?: number): Piece[] {
    if (count > this.freeCount) throw new FsError('ENOSPC', `${count} blocks wanted, ${this.freeCount} free`);
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
    }
    if (left > 0) {
      for (const p of pieces) this.release(p.block, p.count, false);
      throw new FsError('ENOSPC', `${count} blocks wanted, no more free`);
    }
    debug('allocated %d blocks in %d pieces from %d', count, pieces.length, pieces[0]?.block);
    return pieces;
  }

  /** Mark blocks free again; `wear` records their packets as just freed. */
  release(block: number, count: number, wear = true): void {
    for (let b = block; b < block + count; b++) {
      if (b < 0 || b >= this.numBits) throw new FsError('EIO', `freeing block ${b} outside the space map (${this.numBits})`);
      if (this.isFree(b)) throw new FsError('EIO', `block ${b} freed twice`);
      this.free[b >> 3] |= 1 << (b & 7);
      if (wear) this.justFreed.add(Math.floor(b / this.packetBlocks));
    }
    this.freeCount += count;
    this.dirty = true;
  }
}
