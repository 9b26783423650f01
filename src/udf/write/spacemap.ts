/**
 * The partition's record of unallocated space (ECMA-167 4/10.1, partition
 * header 4/14.3): a space bitmap descriptor (4/14.12) or an unallocated space
 * entry (4/14.11, UDF 2.3.7). One variant per kind, chosen at mount; both are
 * turned into the same in-memory free map (alloc.ts) and written back on sync.
 */
import createDebug from 'debug';
import { FsError } from '../../errors';
import type { Space } from '../icb';
import type { Partition } from '../partition';
import { decodePartitionHeader, Pd } from '../codec/volume';
import { sbd, Sbd, use, Use, ICB_FLAG_AD_MASK, ICB_FLAG_AD_SHORT } from '../codec/file';
import { shortAd, EXT_LENGTH_MASK, EXT_NEXT_EXTENT_OF_ADS, EXT_NOT_RECORDED_ALLOCATED } from '../codec/primitives';
import { TAG_SBD, TAG_USE, verifyTag, finaliseTag } from '../codec/tag';
import { Allocator } from './alloc';
import { readPartBlocks, writePartBlocks } from './blockio';

const debug = createDebug('pktfs:udf:spacemap');

export type SpaceMap =
  | { kind: 'bitmap'; ref: number; at: number; blocks: number; sbd: Sbd; alloc: Allocator }
  | { kind: 'table'; ref: number; at: number; use: Use; extType: number; alloc: Allocator };

/** Why the partition's space cannot be managed, or the map. */
export async function loadSpaceMap(space: Space, part: Partition, pd: Pd, packetBlocks: number, phase = 0): Promise<SpaceMap | string> {
  const h = decodePartitionHeader(pd.partitionContentsUse);
  const bs = space.disc.blockSize;
  if (h.freedSpaceTable.extLength > 0 || h.freedSpaceBitmap.extLength > 0) {
    return 'the partition records freed space (blocks that must be erased before reuse), which pktfs does not write';
  }
  const hasBitmap = h.unallocSpaceBitmap.extLength > 0;
  const hasTable = h.unallocSpaceTable.extLength > 0;
  if (hasBitmap && hasTable) return 'the partition has both an unallocated space table and bitmap';
  if (hasBitmap) {
    const at = h.unallocSpaceBitmap.extPosition;
    const blocks = Math.ceil(h.unallocSpaceBitmap.extLength / bs);
    // 4/14.12: a 24-byte header and one bit per block of the partition.
    const needed = Math.ceil((24 + Math.ceil(part.length / 8)) / bs);
    if (blocks > needed) return `the space bitmap takes ${blocks} blocks, a partition of ${part.length} blocks needs ${needed}`;
    const buf = await readPartBlocks(space, part.ref, at, blocks);
    verifyTag(buf, 0, { what: 'space bitmap', location: at, idents: [TAG_SBD] });
    const d = sbd.decode(buf, 0);
    const numBits = Math.min(d.numOfBits, part.length, d.bitmap.length * 8);
    debug('partition %d: space bitmap at %d, %d bits', part.ref, at, numBits);
    return { kind: 'bitmap', ref: part.ref, at, blocks, sbd: d, alloc: new Allocator(Uint8Array.from(d.bitmap), numBits, packetBlocks, phase) };
  }
  if (hasTable) {
    const at = h.unallocSpaceTable.extPosition;
    const buf = await readPartBlocks(space, part.ref, at, 1);
    verifyTag(buf, 0, { what: 'unallocated space table', location: at, idents: [TAG_USE] });
    const u = use.decode(buf, 0);
    if ((u.icbTag.flags & ICB_FLAG_AD_MASK) !== ICB_FLAG_AD_SHORT) return 'the unallocated space table does not use short allocation descriptors';
    const free = new Uint8Array(Math.ceil(part.length / 8));
    const ads = Buffer.from(u.allocDescs);
    let extType = EXT_NOT_RECORDED_ALLOCATED;
    for (let o = 0; o + 8 <= ads.length; o += 8) {
      const a = shortAd.decode(ads, o);
      const len = a.extLength & EXT_LENGTH_MASK;
      if (len === 0) break;
      if (a.extLength >>> 30 === EXT_NEXT_EXTENT_OF_ADS) return 'the unallocated space table continues in allocation extents, which pktfs does not write yet';
      if (o === 0) extType = a.extLength >>> 30;
      for (let b = a.extPosition; b < a.extPosition + Math.floor(len / bs) && b < part.length; b++) free[b >> 3] |= 1 << (b & 7);
    }
    debug('partition %d: unallocated space table at %d', part.ref, at);
    return { kind: 'table', ref: part.ref, at, use: u, extType, alloc: new Allocator(free, part.length, packetBlocks, phase) };
  }
  return 'the partition has no unallocated space bitmap or table';
}

/** Write the map back if it changed. */
export async function storeSpaceMap(space: Space, m: SpaceMap): Promise<void> {
  if (!m.alloc.dirty) return;
  const bs = space.disc.blockSize;
  if (m.kind === 'bitmap') {
    const buf = Buffer.alloc(m.blocks * bs);
    const d: Sbd = { ...m.sbd, bitmap: m.alloc.free };
    sbd.encode(d, buf, 0);
    // Keep the CRC length the formatter chose (UDF allows covering just the header).
    const crcLength = Math.min(m.sbd.descTag.descCRCLength, 8 + m.sbd.numOfBytes);
    finaliseTag(buf, 0, { tagIdent: TAG_SBD, descVersion: m.sbd.descTag.descVersion, tagSerialNum: m.sbd.descTag.tagSerialNum, tagLocation: m.at, crcLength });
    await writePartBlocks(space, m.ref, m.at, buf, 'metadata');
  } else {
    const maxAds = Math.floor((bs - use.size) / 8);
    const extents: { block: number; count: number }[] = [];
    const a = m.alloc;
    const maxBlocks = Math.floor(EXT_LENGTH_MASK / bs);
    for (let b = 0; b < a.numBits;) {
      if (!a.isFree(b)) { b++; continue; }
      let n = 0;
      while (b + n < a.numBits && a.isFree(b + n) && n < maxBlocks) n++;
      extents.push({ block: b, count: n });
      b += n;
    }
    if (extents.length > maxAds) {
      // Only what fits in the entry is recorded; the rest stays allocated (lost, never double-used).
      debug('space table: %d free extents, %d recorded', extents.length, maxAds);
      extents.sort((x, y) => y.count - x.count).splice(maxAds);
      extents.sort((x, y) => x.block - y.block);
    }
    const ads = Buffer.alloc(extents.length * 8);
    extents.forEach((x, i) => shortAd.encode({ extLength: (m.extType << 30) | (x.count * bs), extPosition: x.block }, ads, i * 8));
    const buf = Buffer.alloc(bs);
    const u: Use = { ...m.use, lengthAllocDescs: ads.length, allocDescs: ads };
    use.encode(u, buf, 0);
    finaliseTag(buf, 0, { tagIdent: TAG_USE, descVersion: m.use.descTag.descVersion, tagSerialNum: m.use.descTag.tagSerialNum, tagLocation: m.at, crcLength: use.size - 16 + ads.length });
    await writePartBlocks(space, m.ref, m.at, buf, 'metadata');
  }
  m.alloc.dirty = false;
}

/** The error for a partition whose map failed to load, for readOnlyReason. */
export function spaceMapError(e: unknown): string {
  return e instanceof FsError ? `the space map is damaged (${e.message})` : String(e);
}
