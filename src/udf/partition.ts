/**
 * Partitions as the logical volume addresses them (ECMA-167 3/10.7, UDF 2.2.8-2.2.10):
 * a discriminated union with one translation function per variant, chosen
 * once at mount. A translation turns a run of blocks of the partition into a
 * run of absolute blocks on the medium.
 */
import { FsError } from '../errors';
import type { SparingEntry, Vat } from './codec/partition';
import type { Regid } from './codec/primitives';
import { VAT_ENTRY_UNUSED, SPARING_ENTRY_DEFECTIVE } from './codec/partition';

interface PartitionBase {
  /** Partition reference number: index in the LVD's partition maps. */
  ref: number;
  /** Partition number of the partition descriptor. */
  number: number;
  /** First absolute block and length in blocks of the physical partition beneath. */
  start: number;
  length: number;
  accessType: number;
}

export interface PhysicalPartition extends PartitionBase {
  kind: 'physical';
}
export interface SparablePartition extends PartitionBase {
  kind: 'sparable';
  packetLength: number;
  /** Remapped packets: first block of the packet (partition-relative) → absolute block it now lives at. */
  remap: Map<number, number>;
  entries: SparingEntry[];
  /** Where the sparing table is kept and the prevailing copy's header; absent when no copy was usable. */
  table?: SparingTableInfo;
}
/** UDF 2.2.9 / 2.2.12: the sparing table's copies and what a rewrite of them keeps. */
export interface SparingTableInfo {
  /** Absolute blocks of every copy, as the partition map lists them. */
  locations: number[];
  /** Bytes of each copy (the map's sizeSparingTable). */
  size: number;
  /** The copies that were readable at mount. */
  usable: number[];
  sequenceNum: number;
  descVersion: number;
  tagSerialNum: number;
  sparingIdent: Regid;
}
export interface VirtualPartition extends PartitionBase {
  kind: 'virtual';
  /** The type 1 partition the VAT points into. */
  underlying: Partition;
  vat: Vat;
  /** Absolute block of the VAT's file entry. */
  vatBlock: number;
}
export interface MetadataExtent {
  /** First block of the extent within the metadata file, its length, and where it starts in `underlying`. */
  fileBlock: number;
  count: number;
  block: number;
  recorded: boolean;
}
export interface MetadataPartition extends PartitionBase {
  kind: 'metadata';
  underlying: Partition;
  extents: MetadataExtent[];
  /** True when the mirror file had to be used. */
  fromMirror: boolean;
}
export type Partition = PhysicalPartition | SparablePartition | VirtualPartition | MetadataPartition;

/** A run of `count` consecutive absolute blocks starting at `abs`. */
export interface Run {
  abs: number;
  count: number;
}

function outside(p: Partition, block: number): FsError {
  return new FsError('EIO', `block ${block} outside ${p.kind} partition ${p.ref} (length ${p.length})`);
}

function mapPhysical(p: PhysicalPartition, block: number, count: number): Run {
  if (block < 0 || block >= p.length) throw outside(p, block);
  return { abs: p.start + block, count: Math.min(count, p.length - block) };
}

/** UDF 2.2.12: every access to a sparable partition goes through the sparing table, packet by packet. */
function mapSparable(p: SparablePartition, block: number, count: number): Run {
  if (block < 0 || block >= p.length) throw outside(p, block);
  count = Math.min(count, p.length - block);
  const pl = p.packetLength;
  const packet = block - (block % pl);
  const mapped = p.remap.get(packet);
  if (mapped !== undefined) return { abs: mapped + (block - packet), count: Math.min(count, packet + pl - block) };
  if (p.remap.size === 0) return { abs: p.start + block, count };
  let n = packet + pl - block;
  while (n < count && !p.remap.has(block + n)) n += pl;
  return { abs: p.start + block, count: Math.min(count, n) };
}

/** UDF 2.2.11: a virtual block is an index into the VAT, which names a block of the type 1 partition. */
function mapVirtual(p: VirtualPartition, block: number, count: number): Run {
  const e = p.vat.entries;
  if (block < 0 || block >= e.length || e[block] === VAT_ENTRY_UNUSED) {
    throw new FsError('EIO', `virtual block ${block} has no VAT entry (${e.length} entries)`);
  }
  let n = 1;
  while (n < count && block + n < e.length && e[block + n] === e[block] + n) n++;
  return mapBlocks(p.underlying, e[block], n);
}

/** UDF 2.2.10: metadata partition blocks are blocks of the metadata file. */
function mapMetadata(p: MetadataPartition, block: number, count: number): Run {
  let lo = 0;
  let hi = p.extents.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = p.extents[mid];
    if (block < x.fileBlock) hi = mid - 1;
    else if (block >= x.fileBlock + x.count) lo = mid + 1;
    else {
      if (!x.recorded) throw new FsError('EIO', `metadata block ${block} lies in an unrecorded extent of the metadata file`);
      const into = block - x.fileBlock;
      return mapBlocks(p.underlying, x.block + into, Math.min(count, x.count - into));
    }
  }
  throw new FsError('EIO', `metadata block ${block} beyond the metadata file`);
}

/** Translate up to `count` blocks of partition `p` from `block`; the run may be shorter. */
export function mapBlocks(p: Partition, block: number, count: number): Run {
  switch (p.kind) {
    case 'physical': return mapPhysical(p, block, count);
    case 'sparable': return mapSparable(p, block, count);
    case 'virtual': return mapVirtual(p, block, count);
    case 'metadata': return mapMetadata(p, block, count);
  }
}

/** The remap table of a sparing table's entries (defective and free entries skipped). */
export function sparingRemap(entries: SparingEntry[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const e of entries) if (e.origLocation < SPARING_ENTRY_DEFECTIVE) m.set(e.origLocation, e.mappedLocation);
  return m;
}

/** 3/10.5.7 access type as text for PartitionInfo. */
export function accessTypeName(t: number): string {
  return ['unspecified', 'read-only', 'write-once', 'rewritable', 'overwritable', 'pseudo-overwritable'][t] ?? 'unknown';
}
