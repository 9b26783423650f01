/**
 * Defect management on a sparable partition (UDF 2.2.12): when the packet
 * layer reports that a packet of the partition cannot be written (a medium
 * error), the packet goes to a free packet of the sparing area, the sparing
 * table's entry for it is filled in, and from then on the partition's
 * translation (partition.ts, mapSparable) sends every read and write of the
 * packet there. Every copy of the table is rewritten: entries sorted by
 * original location, sequence number one higher, tag finalised.
 *
 * A spare that fails itself is replaced: its entry points at a new spare and
 * the failed one is kept as a defective entry (original location 0xFFFFFFF0),
 * so the table keeps its length. When no free entry is left, the volume turns
 * read-only (the callback says why); nothing written before is touched.
 *
 * This is the WriteRemapper of src/packet/remap.ts; it knows packets only as
 * device sectors, and turns them into blocks here.
 */
import createDebug from 'debug';
import type { Disc } from '../disc';
import type { SparablePartition, SparingTableInfo } from '../partition';
import type { SparingInfo } from '../types';
import type { FsError } from '../../errors';
import type { WriteRemapper, Remappable } from '../../packet/remap';
import { sparingTable, SparingEntry, SPARING_ENTRY_FREE, SPARING_ENTRY_DEFECTIVE } from '../codec/partition';
import { TAG_SPARING_TABLE, finaliseTag } from '../codec/tag';

const debug = createDebug('pktfs:udf:sparing');

/** What `.pktinfo` and `VolumeInfo.sparing` show of a sparable partition. */
export function sparingInfo(p: SparablePartition, remappedThisMount = 0, exhausted = false): SparingInfo {
  const used = p.entries.filter((e) => e.origLocation < SPARING_ENTRY_DEFECTIVE);
  const defective = p.entries.filter((e) => e.origLocation === SPARING_ENTRY_DEFECTIVE).length;
  const free = p.entries.filter((e) => e.origLocation === SPARING_ENTRY_FREE).length;
  return {
    partition: p.ref,
    packetLength: p.packetLength,
    total: p.entries.length,
    used: used.length,
    free,
    defective,
    sequenceNum: p.table?.sequenceNum ?? null,
    tableLocations: p.table ? [...p.table.locations] : [],
    map: used.map((e) => ({ original: e.origLocation, mapped: e.mappedLocation })).sort((a, b) => a.original - b.original),
    remappedThisMount,
    exhausted,
  };
}

/** UDF 2.2.12: entries sorted by original location (free and defective ones, the largest values, last). */
function sortEntries(entries: SparingEntry[]): void {
  entries.sort((a, b) => a.origLocation - b.origLocation || a.mappedLocation - b.mappedLocation);
}

export class SparingManager implements WriteRemapper {
  private changed = false;
  private writing: Promise<void> = Promise.resolve();
  private remappedThisMount = 0;
  private exhaustedReason: string | undefined;
  private dev: Remappable | undefined;
  /** Copies of the table whose packet cannot be written: no longer kept up to date. */
  private readonly deadCopies = new Set<number>();
  /** Told once, when the last spare is gone: the volume must refuse writes from then on. */
  onExhausted: (reason: string) => void = () => undefined;

  constructor(
    private readonly disc: Disc,
    private readonly part: SparablePartition,
    private readonly table: SparingTableInfo,
    /** Kept up to date as packets are remapped (VolumeInfo.sparing). */
    private readonly report: (info: SparingInfo) => void,
  ) {
    this.report(sparingInfo(part));
  }

  /** Take failed packet writes of `dev` from now on (until uninstall()). */
  install(dev: Remappable): void {
    this.dev = dev;
    dev.setRemapper(this);
  }

  uninstall(): void {
    this.dev?.setRemapper(null);
    this.dev = undefined;
  }

  get exhausted(): string | undefined {
    return this.exhaustedReason;
  }

  private get sectorsPerBlock(): number {
    return this.disc.blockSize / this.disc.dev.sectorSize;
  }

  /** The partition packet whose data lives at absolute block `block` (its own place or its spare), if any. */
  private originalOf(block: number): number | undefined {
    const spare = this.part.entries.find((e) => e.origLocation < SPARING_ENTRY_DEFECTIVE && e.mappedLocation === block);
    if (spare) return spare.origLocation;
    const rel = block - this.part.start;
    if (rel < 0 || rel >= this.part.length || rel % this.part.packetLength !== 0 || this.part.remap.has(rel)) return undefined;
    return rel;
  }

  /** The block of device sector `lba` when the sectors are exactly one packet of the partition. */
  private packetBlock(lba: number, sectors: number): number | undefined {
    const spb = this.sectorsPerBlock;
    if (!Number.isInteger(spb) || lba % spb !== 0 || sectors !== this.part.packetLength * spb) return undefined;
    return lba / spb;
  }

  spareFor(lba: number, sectors: number, err: FsError): number | undefined {
    if (this.exhaustedReason) return undefined;
    const block = this.packetBlock(lba, sectors);
    const orig = block === undefined ? undefined : this.originalOf(block);
    if (block === undefined || orig === undefined) {
      debug('sectors %d+%d are not a packet of sparable partition %d: not remapped (%s)', lba, sectors, this.part.ref, err.message);
      return undefined;
    }
    const free = this.part.entries.find((e) => e.origLocation === SPARING_ENTRY_FREE && e.mappedLocation !== block);
    if (!free) {
      this.exhaust();
      return undefined;
    }
    return free.mappedLocation * this.sectorsPerBlock;
  }

  remapped(from: number, to: number, err: FsError): void {
    const spb = this.sectorsPerBlock;
    const block = from / spb;
    const spare = to / spb;
    const orig = this.originalOf(block)!;
    const free = this.part.entries.find((e) => e.origLocation === SPARING_ENTRY_FREE && e.mappedLocation === spare)!;
    const inUse = this.part.entries.find((e) => e.origLocation === orig);
    if (inUse) {
      // The spare failed: its entry moves to the new spare, the old one is kept as defective.
      inUse.mappedLocation = spare;
      free.origLocation = SPARING_ENTRY_DEFECTIVE;
      free.mappedLocation = block;
    } else {
      free.origLocation = orig;
    }
    sortEntries(this.part.entries);
    this.part.remap.set(orig, spare);
    this.table.sequenceNum = (this.table.sequenceNum + 1) >>> 0;
    this.remappedThisMount++;
    this.changed = true;
    debug('partition %d packet %d (block %d) remapped to spare at block %d: %s', this.part.ref, orig, block, spare, err.message);
    this.update();
    // Written into the packet cache soon; writeIfChanged() makes sure of it at the next flush.
    this.writing = this.writing.then(() => this.writeIfChangedNow()).then(() => undefined, (e) => {
      debug('sparing table write failed, retried at the next flush: %s', (e as Error).message);
    });
  }

  /**
   * A packet that got no spare failed: when all it carried that is new are
   * blocks of a sparing table copy, give that copy up (the others carry the
   * same table, with a higher sequence number than the stale one left there).
   * UDF 2.2.12 readers take the highest sequence number; Linux and udfclient
   * take the first copy that reads, so for them the stale copy wins: said in
   * the warning. (Dropping the copy from the LVD's partition map would fix
   * that; pktfs does not rewrite the volume descriptor sequence yet.)
   */
  abandon(lba: number, sectors: number, dirty: readonly number[], err: FsError): boolean {
    const spb = this.sectorsPerBlock;
    if (!Number.isInteger(spb) || dirty.length === 0) return false;
    const blocks = this.tableBlocks();
    const copyOf = (sector: number): number | undefined => {
      const b = Math.floor(sector / spb);
      return this.table.locations.find((loc) => b >= loc && b < loc + blocks);
    };
    const copies = new Set<number>();
    for (const s of dirty) {
      const c = copyOf(s);
      if (c === undefined) return false;
      copies.add(c);
    }
    for (const c of copies) this.deadCopies.add(c);
    const live = this.table.locations.filter((l) => !this.deadCopies.has(l));
    const warning = `sparing table copy at block ${[...copies].join(', ')} cannot be written (${err.message}): `
      + (live.length
        ? `the table is kept in the copy at ${live.join(', ')} only; readers that use the first readable copy (Linux, udfclient) miss the remaps recorded since`
        : 'no copy is left');
    debug('%s (sectors %d+%d)', warning, lba, sectors);
    this.warn(warning);
    if (!live.length) this.exhaust('no copy of the sparing table can be written');
    return true;
  }

  /** Blocks one copy of the table takes (the map's size, or more when the entries need it). */
  private tableBlocks(): number {
    const size = sparingTable.size + 8 * this.part.entries.length;
    return Math.max(1, Math.ceil(Math.max(size, this.table.size) / this.disc.blockSize));
  }

  /** Said once per event, into VolumeInfo.warnings (set by the mount). */
  warn: (message: string) => void = () => undefined;

  private exhaust(why?: string): void {
    const i = sparingInfo(this.part);
    this.exhaustedReason = `sparable partition ${this.part.ref}: ${why ?? `no spare packet left in the sparing table `
      + `(${i.used} remapped, ${i.defective} defective, of ${i.total})`}: the volume is now read-only; what was written before stays`;
    debug('%s', this.exhaustedReason);
    this.update();
    this.onExhausted(this.exhaustedReason);
  }

  private update(): void {
    this.report(sparingInfo(this.part, this.remappedThisMount, !!this.exhaustedReason));
  }

  /** Write the tables if they changed since last written; true when they were. */
  async writeIfChanged(): Promise<boolean> {
    await this.writing;
    return this.writeIfChangedNow();
  }

  private async writeIfChangedNow(): Promise<boolean> {
    if (!this.changed) return false;
    this.changed = false;
    try {
      await this.writeTables();
    } catch (e) {
      this.changed = true;
      throw e;
    }
    return true;
  }

  /** Every copy of the table, the same bytes but for the tag location (UDF 2.2.12). */
  private async writeTables(): Promise<void> {
    const bs = this.disc.blockSize;
    const t = this.table;
    const entries = this.part.entries;
    const size = sparingTable.size + 8 * entries.length;
    const blocks = this.tableBlocks();
    for (const loc of t.locations) {
      if (this.deadCopies.has(loc)) continue;
      const buf = Buffer.alloc(blocks * bs);
      sparingTable.encode({
        descTag: { tagIdent: TAG_SPARING_TABLE, descVersion: t.descVersion, tagChecksum: 0, tagSerialNum: t.tagSerialNum, descCRC: 0, descCRCLength: 0, tagLocation: loc },
        sparingIdent: t.sparingIdent,
        reallocationTableLen: entries.length,
        sequenceNum: t.sequenceNum,
        mapEntries: entries,
      }, buf, 0);
      finaliseTag(buf, 0, { tagIdent: TAG_SPARING_TABLE, descVersion: t.descVersion, tagSerialNum: t.tagSerialNum, tagLocation: loc, crcLength: size - 16 });
      await this.disc.writeBlocks(loc, buf);
    }
    debug('sparing table (sequence %d, %d entries) written at %s', t.sequenceNum, entries.length, t.locations.join(', '));
  }
}
