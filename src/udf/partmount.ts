/**
 * Building the partitions of a logical volume at mount: type 1 maps, sparable
 * maps with their sparing tables, virtual maps with the VAT found at the last
 * recorded block, and metadata maps with the metadata (or mirror) file.
 */
import createDebug from 'debug';
import { FsError } from '../errors';
import type { Lvd, Pd } from './codec/volume';
import { sparingTable, vat150, vat200, Vat, UDF_ID_SPARING, UDF_ID_VAT15 } from './codec/partition';
import { TAG_SPARING_TABLE, verifyTag } from './codec/tag';
import { regidText, EXT_RECORDED_ALLOCATED } from './codec/primitives';
import { FT_VAT20, FT_UNSPECIFIED } from './codec/file';
import { Partition, PhysicalPartition, MetadataExtent, SparingTableInfo, sparingRemap } from './partition';
import { Space, readFileEntry, fileData, readData } from './icb';

const debug = createDebug('pktfs:udf:partmount');

/** How far back from the last block the VAT is searched for (Linux looks 3 back; writers pad more). */
const VAT_SEARCH_BLOCKS = 64;
const MAX_VAT_BYTES = 64 << 20;

export interface PartitionContext {
  space: Space;
  lvd: Lvd;
  pds: Map<number, Pd>;
  /** Last block of the session, where a VAT is looked for. */
  lastBlock: number;
  warnings: string[];
}

function pdFor(ctx: PartitionContext, number: number, ref: number): Pd {
  const p = ctx.pds.get(number);
  if (!p) throw new FsError('EIO', `partition map ${ref} names partition ${number}, which has no partition descriptor`);
  return p;
}

/** The type 1 partition with partition number `number` (what virtual and metadata maps sit on). */
function underlyingOf(parts: Partition[], number: number, ref: number): Partition {
  const u = parts.find((p) => p && (p.kind === 'physical' || p.kind === 'sparable') && p.number === number);
  if (!u) throw new FsError('EIO', `partition map ${ref} has no type 1 or sparable partition ${number} beneath it`);
  return u;
}

/** Fill `ctx.space.partitions` from the LVD's maps. Order matters: physical first, then the ones built on them. */
export async function buildPartitions(ctx: PartitionContext): Promise<void> {
  const parts = ctx.space.partitions;
  const maps = ctx.lvd.partitionMaps;
  // Pass 1: maps addressing a partition descriptor directly.
  for (let ref = 0; ref < maps.length; ref++) {
    const m = maps[ref];
    if (m.partitionMapType === 1 && !('kind' in m)) {
      const d = pdFor(ctx, m.partitionNum, ref);
      parts[ref] = physical(ref, d);
    } else if ('kind' in m && m.kind === 'sparable') {
      const d = pdFor(ctx, m.partitionNum, ref);
      const base = physical(ref, d);
      const { entries, total, table } = await readSparingTable(ctx, m.locSparingTable, m.sizeSparingTable);
      parts[ref] = { ...base, kind: 'sparable', packetLength: m.packetLength || 32, remap: sparingRemap(entries), entries, table };
      debug('sparable partition %d: packet %d, %d of %d entries used', ref, m.packetLength, sparingRemap(entries).size, total);
    }
  }
  // Pass 2: maps built on top of a type 1 partition.
  for (let ref = 0; ref < maps.length; ref++) {
    const m = maps[ref];
    if (!('kind' in m)) continue;
    if (m.kind === 'virtual') {
      const u = underlyingOf(parts, m.partitionNum, ref);
      const { vat, vatBlock } = await findVat(ctx, u);
      parts[ref] = { ref, number: m.partitionNum, start: u.start, length: vat.entries.length, accessType: u.accessType, kind: 'virtual', underlying: u, vat, vatBlock };
    } else if (m.kind === 'metadata') {
      const u = underlyingOf(parts, m.partitionNum, ref);
      parts[ref] = await metadataPartition(ctx, ref, u, m.metadataFileLoc, m.metadataMirrorFileLoc);
    } else if (m.kind === 'unknown') {
      ctx.warnings.push(`partition map ${ref} of unknown type ${m.partitionMapType} ignored`);
    }
  }
}

function physical(ref: number, d: Pd): PhysicalPartition {
  return {
    kind: 'physical', ref, number: d.partitionNumber,
    start: d.partitionStartingLocation, length: d.partitionLength, accessType: d.accessType,
  };
}

/** UDF 2.2.12: the newest valid copy among the recorded sparing tables. */
async function readSparingTable(ctx: PartitionContext, locs: number[], size: number): Promise<{ entries: ReturnType<typeof sparingTable.decode>['mapEntries']; total: number; table?: SparingTableInfo }> {
  const disc = ctx.space.disc;
  const blocks = Math.max(1, Math.ceil(size / disc.blockSize));
  let best: ReturnType<typeof sparingTable.decode> | undefined;
  const usable: number[] = [];
  for (const loc of locs) {
    try {
      const buf = await disc.readBlocks(loc, blocks);
      verifyTag(buf, 0, { what: 'sparing table', location: loc, idents: [TAG_SPARING_TABLE] });
      const t = sparingTable.decode(buf, 0);
      if (regidText(t.sparingIdent) !== UDF_ID_SPARING) throw new FsError('EIO', `sparing table at ${loc}: identifier ${regidText(t.sparingIdent)}`);
      if (!best || t.sequenceNum > best.sequenceNum) best = t;
      usable.push(loc);
    } catch (e) {
      ctx.warnings.push(`sparing table copy at block ${loc} unusable: ${(e as Error).message}`);
    }
  }
  if (!best) {
    ctx.warnings.push('no usable sparing table: reading the sparable partition unmapped');
    return { entries: [], total: 0 };
  }
  const table: SparingTableInfo = {
    locations: [...locs], size, usable,
    sequenceNum: best.sequenceNum, descVersion: best.descTag.descVersion, tagSerialNum: best.descTag.tagSerialNum,
    sparingIdent: best.sparingIdent,
  };
  return { entries: best.mapEntries, total: best.reallocationTableLen, table };
}

/** Decode the VAT file at absolute block `abs` of type 1 partition `u`, or throw. */
async function readVatAt(ctx: PartitionContext, u: Partition, abs: number): Promise<Vat> {
  const loc = { partitionReferenceNum: u.ref, logicalBlockNum: abs - u.start };
  const located = await readFileEntry(ctx.space, loc, `VAT candidate at block ${abs}`);
  const e = located.entry;
  const ft = e.icbTag.fileType;
  if (ft !== FT_VAT20 && ft !== FT_UNSPECIFIED) throw new FsError('EIO', `file type ${ft} at block ${abs} is not a VAT`);
  if (e.informationLength > MAX_VAT_BYTES) throw new FsError('EIO', `VAT at block ${abs} is ${e.informationLength} bytes`);
  const data = await fileData(ctx.space, located, 'VAT');
  const bytes = await readData(ctx.space, data, e.informationLength, 0, e.informationLength);
  if (ft === FT_VAT20) {
    if (bytes.length < vat200.size) throw new FsError('EIO', `VAT at block ${abs} too short`);
    return vat200.decode(bytes, 0, bytes.length);
  }
  if (bytes.length < vat150.size) throw new FsError('EIO', `VAT at block ${abs} too short`);
  const v = vat150.decode(bytes, 0, bytes.length);
  if (!v.vatIdent || regidText(v.vatIdent) !== UDF_ID_VAT15) throw new FsError('EIO', `no "${UDF_ID_VAT15}" at the end of the file at block ${abs}`);
  return v;
}

/** UDF 2.2.11 / 6.10: the VAT's ICB is the last recorded block; search back a little from the end. */
async function findVat(ctx: PartitionContext, u: Partition): Promise<{ vat: Vat; vatBlock: number }> {
  const tried = new Set<number>();
  const lasts = [ctx.lastBlock, ctx.space.disc.blockCount - 1];
  for (const last of lasts) {
    for (let b = last; b >= Math.max(u.start, last - VAT_SEARCH_BLOCKS); b--) {
      if (tried.has(b)) continue;
      tried.add(b);
      try {
        const vat = await readVatAt(ctx, u, b);
        debug('VAT (%s style) at block %d: %d entries', vat.style, b, vat.entries.length);
        return { vat, vatBlock: b };
      } catch {
        // not the VAT; keep looking
      }
    }
  }
  throw new FsError('EIO', `no VAT found within ${VAT_SEARCH_BLOCKS} blocks of block ${ctx.lastBlock}`);
}

/** UDF 2.2.10: the metadata partition is the metadata file; its mirror is used when the main copy is damaged. */
async function metadataPartition(ctx: PartitionContext, ref: number, u: Partition, fileLoc: number, mirrorLoc: number): Promise<Partition> {
  const tryFile = async (block: number, what: string): Promise<MetadataExtent[]> => {
    const located = await readFileEntry(ctx.space, { partitionReferenceNum: u.ref, logicalBlockNum: block }, what);
    const data = await fileData(ctx.space, located, what);
    if (data.kind !== 'extents') throw new FsError('EIO', `${what}: data embedded in the ICB`);
    const bs = ctx.space.disc.blockSize;
    return data.extents.map((x) => {
      if (x.ref !== u.ref && x.ref !== located.loc.partitionReferenceNum) throw new FsError('EIO', `${what}: extent in partition ${x.ref}`);
      return { fileBlock: x.fileOffset / bs, count: Math.ceil(x.length / bs), block: x.block, recorded: x.type === EXT_RECORDED_ALLOCATED };
    });
  };
  let extents: MetadataExtent[];
  let fromMirror = false;
  try {
    extents = await tryFile(fileLoc, 'metadata file');
  } catch (e) {
    ctx.warnings.push(`metadata file damaged (${(e as Error).message}); using the metadata mirror file`);
    extents = await tryFile(mirrorLoc, 'metadata mirror file');
    fromMirror = true;
  }
  const length = extents.reduce((n, x) => Math.max(n, x.fileBlock + x.count), 0);
  return { ref, kind: 'metadata', number: u.number, start: u.start, length, accessType: u.accessType, underlying: u, extents, fromMirror };
}
