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
  readonly buf: Buffer;
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
  /** Logical clock when the write-out in flight took its snapshot (ordering constraints). */
  snapClock = 0;

  constructor(
    readonly packet: number,
    /** First device sector of the packet. */
    readonly lba: number,
    /** Sectors of this packet that exist on the device (fewer for a partial last packet). */
    readonly sectors: number,
    readonly sectorSize: number,
  ) {
    this.buf = Buffer.alloc(sectors * sectorSize);
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
    src.copy(this.buf, first * ss, srcOff, srcOff + count * ss);
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
    let installed = 0;
    for (let i = first; i < first + count; i++) {
      if (this.present[i]) continue;
      const from = srcOff + (i - first) * ss;
      src.copy(this.buf, i * ss, from, from + ss);
      this.present[i] = 1;
      this.presentCount++;
      installed++;
    }
    return installed;
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
