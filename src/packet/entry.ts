/**
 * One cached packet: its bytes and, per sector, whether the bytes are present
 * (known to equal or supersede the disc) and dirty (newer than the disc).
 * This is NetBSD udf_strat_rmw's "eccline" with its present/dirty bitmaps; a
 * byte per sector keeps it simple (packets are at most a few hundred sectors).
 *
 * Invariant: dirty implies present. Nothing here does I/O or knows about the
 * cache that holds the entry.
 */
import { runsWhere, type SectorRun } from './range';

/** What a packet is doing, as reported in the statistics (cf. pktcdvd's packet states). */
export type PacketState = 'clean' | 'dirty' | 'gathering' | 'writing';

/** The I/O a packet has in flight: reading its missing sectors, or being written. */
export type PacketPhase = 'idle' | 'gathering' | 'writing';

export class PacketEntry {
  /**
   * The packet's bytes; only present sectors hold anything (the rest is
   * uninitialised memory, never served). Replaced by a copy when written to
   * while lent to a write-out (see lend()).
   */
  buf: Buffer;
  /** buf is lent to a device write: the next change copies it first. */
  private lent = false;
  /** Filled by read-ahead and not read by anyone yet. */
  ahead = false;
  readonly present: Uint8Array;
  readonly dirty: Uint8Array;
  presentCount = 0;
  dirtyCount = 0;
  phase: PacketPhase = 'idle';
  /** Logical clock of the last write into this packet; the oldest is written first under pressure. */
  lastTouched = 0;
  /** Tail of this packet's serialized write-outs (never rejects). */
  chain: Promise<void> = Promise.resolve();
  /** A write-out queued on `chain` but not started yet: later callers share it. */
  queued: Promise<void> | null = null;
  /** Metadata was written into it since it was last clean: it is likely to be written again soon. */
  meta = false;
  /** A directory's metadata was written into it since it was last clean (write kind 'directory'). */
  dir = false;
  /** Logical clock when the write-out in flight took its snapshot (ordering constraints). */
  snapClock = 0;

  constructor(
    readonly packet: number,
    /** First device sector of the packet. */
    readonly lba: number,
    /** Sectors of this packet that exist on the device (fewer for a partial last packet). */
    readonly sectors: number,
    readonly sectorSize: number,
    /** Memory to use (sectors * sectorSize bytes, contents irrelevant): a retired entry's, say. */
    buf?: Buffer,
  ) {
    // Unzeroed: a sector's bytes are only ever read once it is present.
    this.buf = buf?.length === sectors * sectorSize ? buf : Buffer.allocUnsafeSlow(sectors * sectorSize);
    this.present = new Uint8Array(sectors);
    this.dirty = new Uint8Array(sectors);
  }

  get state(): PacketState {
    if (this.phase !== 'idle') return this.phase;
    return this.dirtyCount > 0 ? 'dirty' : 'clean';
  }

  /** Every existing sector is dirty: the packet can be written without reading anything. */
  get fullyDirty(): boolean {
    return this.dirtyCount === this.sectors;
  }

  /** A user write: sectors [first, first+count) take `src` from `srcOff` and become dirty. */
  put(first: number, count: number, src: Buffer, srcOff: number): void {
    const ss = this.sectorSize;
    this.own();
    src.copy(this.buf, first * ss, srcOff, srcOff + count * ss);
    if (this.dirtyCount === 0 && this.presentCount === 0) {
      this.present.fill(1, first, first + count);
      this.dirty.fill(1, first, first + count);
      this.presentCount = this.dirtyCount = count;
      return;
    }
    for (let i = first; i < first + count; i++) {
      if (!this.present[i]) { this.present[i] = 1; this.presentCount++; }
      if (!this.dirty[i]) { this.dirty[i] = 1; this.dirtyCount++; }
    }
  }

  /**
   * Bytes read from the device for sectors [first, first+count): only sectors
   * not already present take them, so a write that landed while the read was
   * in flight is never overwritten by older disc contents.
   */
  install(first: number, count: number, src: Buffer, srcOff: number): number {
    const ss = this.sectorSize;
    if (this.presentCount === this.sectors) return 0;
    this.own();
    let installed = 0;
    // Runs of sectors not present, each taken with one copy.
    for (let i = first; i < first + count;) {
      if (this.present[i]) { i++; continue; }
      const start = i;
      while (i < first + count && !this.present[i]) i++;
      const from = srcOff + (start - first) * ss;
      src.copy(this.buf, start * ss, from, from + (i - start) * ss);
      this.present.fill(1, start, i);
      installed += i - start;
    }
    this.presentCount += installed;
    return installed;
  }

  /**
   * Copy sectors [first, first+count) that are present into `out` at `outOff`
   * (one copy per run of present sectors); returns the runs that are not
   * present, as sector indices within the packet.
   */
  copyOut(first: number, count: number, out: Buffer, outOff: number): SectorRun[] {
    const ss = this.sectorSize;
    if (this.presentCount === this.sectors) {
      this.buf.copy(out, outOff, first * ss, (first + count) * ss);
      return [];
    }
    const missing: SectorRun[] = [];
    for (let i = first; i < first + count;) {
      const start = i;
      const have = this.present[i] === 1;
      while (i < first + count && (this.present[i] === 1) === have) i++;
      if (have) this.buf.copy(out, outOff + (start - first) * ss, start * ss, i * ss);
      else missing.push({ start, count: i - start });
    }
    return missing;
  }

  /**
   * The bytes to hand to a device write, without copying them: until
   * giveBack(), a change to the packet first moves it to a copy of its own, so
   * the lent bytes stay as they were while the device takes them.
   */
  lend(): Buffer {
    this.lent = true;
    return this.buf;
  }

  /** The device is done with what lend() returned. */
  giveBack(lent: Buffer): void {
    if (lent === this.buf) this.lent = false;
  }

  /** buf is lent to a write in flight (so it must not be reused elsewhere). */
  get isLent(): boolean {
    return this.lent;
  }

  /** Before changing buf: stop sharing it with a write in flight. */
  private own(): void {
    if (!this.lent) return;
    const copy = Buffer.allocUnsafeSlow(this.buf.length);
    this.buf.copy(copy);
    this.buf = copy;
    this.lent = false;
  }

  /**
   * Every sector now holds what the device holds: buf was just read whole
   * from it, before anything else touched the entry (a fresh entry only).
   */
  filledWhole(): void {
    this.present.fill(1);
    this.presentCount = this.sectors;
  }

  /** Runs of sectors not present: what a read gather has to fetch. */
  missingRuns(): SectorRun[] {
    return runsWhere(this.sectors, (i) => this.present[i] === 0);
  }

  /** Clear the dirty map as a write-out begins; returns it so a failed write can restore it. */
  takeDirty(): Uint8Array {
    const was = this.dirty.slice();
    this.dirty.fill(0);
    this.dirtyCount = 0;
    return was;
  }

  /**
   * Take over everything `from` holds (bytes, present and dirty maps): the
   * packet moved to another place on the disc (a remapped defect). `from` is
   * left clean, so writing it out again does nothing.
   */
  adopt(from: PacketEntry): void {
    this.own();
    from.buf.copy(this.buf);
    this.present.set(from.present);
    this.dirty.set(from.dirty);
    this.presentCount = from.presentCount;
    this.dirtyCount = from.dirtyCount;
    this.lastTouched = from.lastTouched;
    from.takeDirty();
  }

  /** A write-out failed: the sectors it carried are dirty again (on top of any newer writes). */
  restoreDirty(was: Uint8Array): void {
    for (let i = 0; i < this.sectors; i++) {
      if (was[i] && !this.dirty[i]) { this.dirty[i] = 1; this.dirtyCount++; }
    }
  }
}
