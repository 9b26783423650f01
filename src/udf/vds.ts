/**
 * Reading the volume descriptor sequence (ECMA-167 3/8.4): main and reserve
 * sequences, volume descriptor pointers, prevailing descriptors by
 * volDescSeqNum (3/8.4.3), and the logical volume integrity sequence (3/10.10).
 */
import createDebug from 'debug';
import { FsError } from '../errors';
import type { Disc } from './disc';
import type { ExtentAd } from './codec/primitives';
import {
  Avdp, Pvd, Lvd, Pd, Iuvd, Usd, Lvid,
  pvd, lvd, pd, iuvd, usd, vdp, lvid,
} from './codec/volume';
import {
  TAG_PVD, TAG_VDP, TAG_IUVD, TAG_PD, TAG_LVD, TAG_USD, TAG_TD, TAG_LVID, verifyTag,
} from './codec/tag';
import { regidText } from './codec/primitives';

const debug = createDebug('pktfs:udf:vds');

/** Bounds against descriptor chains that never end. */
const MAX_VDS_BLOCKS = 4096;
const MAX_VDP_HOPS = 64;
const MAX_LVID_HOPS = 1000;

export interface VolumeDescriptors {
  pvd?: Pvd;
  lvd?: Lvd;
  iuvd?: Iuvd;
  usd?: Usd;
  /** Prevailing partition descriptor per partitionNumber. */
  pds: Map<number, Pd>;
}

interface SequenceResult {
  descs: VolumeDescriptors;
  damaged: number[];
}

function keepNewer<T extends { volDescSeqNum: number }>(old: T | undefined, v: T): T {
  return old === undefined || v.volDescSeqNum >= old.volDescSeqNum ? v : old;
}

function merge(into: VolumeDescriptors, from: VolumeDescriptors): void {
  if (from.pvd) into.pvd = keepNewer(into.pvd, from.pvd);
  if (from.lvd) into.lvd = keepNewer(into.lvd, from.lvd);
  if (from.iuvd) into.iuvd = keepNewer(into.iuvd, from.iuvd);
  if (from.usd) into.usd = keepNewer(into.usd, from.usd);
  for (const [n, p] of from.pds) into.pds.set(n, keepNewer(into.pds.get(n), p));
}

/** Read one sequence starting with `ext`, following VDPs; damaged blocks are listed, not fatal. */
async function readSequence(disc: Disc, ext: ExtentAd): Promise<SequenceResult> {
  const descs: VolumeDescriptors = { pds: new Map() };
  const damaged: number[] = [];
  let start = ext.extLocation;
  let count = Math.floor(ext.extLength / disc.blockSize);
  let hops = 0;
  let total = 0;
  outer: while (count > 0) {
    for (let i = 0; i < count; i++) {
      if (++total > MAX_VDS_BLOCKS) break outer;
      const block = start + i;
      if (block >= disc.blockCount) break outer;
      const buf = await disc.readBlock(block);
      let ident: number;
      try {
        ident = verifyTag(buf, 0, { what: 'volume descriptor', location: block }).tagIdent;
      } catch (e) {
        // An unrecorded (all zero) block ends the sequence like a TD would.
        if (buf.subarray(0, 16).every((x) => x === 0)) break outer;
        debug('%s', (e as Error).message);
        damaged.push(block);
        continue;
      }
      switch (ident) {
        case TAG_PVD: descs.pvd = keepNewer(descs.pvd, pvd.decode(buf, 0)); break;
        case TAG_LVD: descs.lvd = keepNewer(descs.lvd, lvd.decode(buf, 0)); break;
        case TAG_IUVD: {
          const d = iuvd.decode(buf, 0);
          // UDF 2.2.7: only the "*UDF LV Info" IUVD carries LVInformation.
          if (regidText(d.impIdent) === '*UDF LV Info') descs.iuvd = keepNewer(descs.iuvd, d);
          break;
        }
        case TAG_USD: descs.usd = keepNewer(descs.usd, usd.decode(buf, 0)); break;
        case TAG_PD: {
          const p = pd.decode(buf, 0);
          descs.pds.set(p.partitionNumber, keepNewer(descs.pds.get(p.partitionNumber), p));
          break;
        }
        case TAG_VDP: {
          if (++hops > MAX_VDP_HOPS) break outer;
          const next = vdp.decode(buf, 0).nextVolDescSeqExt;
          start = next.extLocation;
          count = Math.floor(next.extLength / disc.blockSize);
          continue outer;
        }
        case TAG_TD: break outer;
        default: break;
      }
    }
    break;
  }
  return { descs, damaged };
}

/**
 * The prevailing descriptors of the volume. When the main sequence has a
 * damaged descriptor or lacks one we need, the reserve sequence is read as well
 * and fills the gaps; `warnings` says so.
 */
export async function readVolumeDescriptors(disc: Disc, anchor: Avdp, warnings: string[]): Promise<VolumeDescriptors> {
  const main = await readSequence(disc, anchor.mainVolDescSeqExt);
  const complete = (d: VolumeDescriptors) => d.pvd && d.lvd && d.pds.size > 0;
  if (main.damaged.length === 0 && complete(main.descs)) return main.descs;
  const reserve = await readSequence(disc, anchor.reserveVolDescSeqExt);
  const result: VolumeDescriptors = { pds: new Map() };
  merge(result, reserve.descs);
  merge(result, main.descs);
  const why = main.damaged.length ? `damaged descriptor at block ${main.damaged.join(', ')}` : 'incomplete';
  warnings.push(`main volume descriptor sequence ${why}; used the reserve sequence at block ${anchor.reserveVolDescSeqExt.extLocation}`);
  if (!complete(result)) throw new FsError('EIO', `no usable volume descriptor sequence (${why}; reserve damaged at ${reserve.damaged.join(', ') || 'none'})`);
  return result;
}

/**
 * The first LVID of the integrity sequence (what blkid reads) and the
 * prevailing one: the last valid one of the integrity sequence, following
 * nextIntegrityExt (3/10.10.4) a bounded number of times. Undefined when there is none.
 */
export async function readLvid(disc: Disc, ext: ExtentAd): Promise<{ first?: Lvid; prevailing?: Lvid; prevailingBlock?: number }> {
  let current: Lvid | undefined;
  let currentBlock: number | undefined;
  let first: Lvid | undefined;
  let start = ext.extLocation;
  let count = Math.floor(ext.extLength / disc.blockSize);
  let hops = 0;
  let total = 0;
  outer: while (count > 0) {
    for (let i = 0; i < count; i++) {
      const block = start + i;
      if (++total > MAX_VDS_BLOCKS || block >= disc.blockCount) break outer;
      const buf = await disc.readBlock(block);
      let ident: number;
      try {
        ident = verifyTag(buf, 0, { what: 'LVID', location: block, idents: [TAG_LVID, TAG_TD] }).tagIdent;
      } catch {
        break outer;
      }
      if (ident === TAG_TD) break outer;
      current = lvid.decode(buf, 0);
      currentBlock = block;
      first ??= current;
      const next = current.nextIntegrityExt;
      if (next.extLength > 0) {
        if (++hops > MAX_LVID_HOPS) break outer;
        start = next.extLocation;
        count = Math.floor(next.extLength / disc.blockSize);
        continue outer;
      }
    }
    break;
  }
  return { first, prevailing: current, prevailingBlock: currentBlock };
}
