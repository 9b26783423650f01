/**
 * fsck of the structures outside the file tree: the anchors (ECMA-167 3/8.4.2),
 * the main and reserve volume descriptor sequences compared descriptor by
 * descriptor (3/8.4.3: the reserve is a copy of the main), and the copies of
 * each sparing table (UDF 2.2.12). A damaged copy is repaired by writing a
 * good one in its place, with its own tag location; nothing else changes.
 */
import type { Disc } from '../disc';
import type { Recognized } from '../recognize';
import type { Lvd } from '../codec/volume';
import type { ExtentAd } from '../codec/primitives';
import { regidText } from '../codec/primitives';
import { sparingTable, UDF_ID_SPARING } from '../codec/partition';
import { tag as tagCodec, verifyTag, finaliseTag, TAG_AVDP, TAG_TD, TAG_SPARING_TABLE } from '../codec/tag';
import { Problem, problem, STAGE_DESCRIPTORS } from './problem';

/** A copy of descriptor `src` (whole blocks) re-tagged for block `location`. */
export function retag(src: Buffer, location: number): Buffer {
  const buf = Buffer.from(src);
  const t = tagCodec.decode(buf, 0);
  finaliseTag(buf, 0, { tagIdent: t.tagIdent, descVersion: t.descVersion, tagSerialNum: t.tagSerialNum, tagLocation: location, crcLength: t.descCRCLength });
  return buf;
}

function isZero(b: Buffer): boolean {
  return b.every((x) => x === 0);
}

/** The error verifyTag gives for the block, or undefined when its tag is good. */
function tagError(buf: Buffer, location: number, what: string, idents?: number[]): string | undefined {
  try {
    verifyTag(buf, 0, { what, location, idents });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The bytes a descriptor's CRC covers, with its identifier: two copies agree when these do. */
function body(buf: Buffer): Buffer {
  const t = tagCodec.decode(buf, 0);
  return Buffer.concat([buf.subarray(0, 2), buf.subarray(16, 16 + t.descCRCLength)]);
}

function restore(disc: Disc, from: Buffer, block: number, blocks = 1): Problem['repair'] {
  return {
    stage: STAGE_DESCRIPTORS, safe: false, describe: `write a good copy to block ${block}`,
    run: async () => {
      const out = Buffer.alloc(blocks * disc.blockSize);
      from.copy(out, 0, 0, Math.min(from.length, out.length));
      await disc.writeBlocks(block, retag(out, block));
    },
  };
}

/** 3/8.4.2.1: anchors at 256, N-256 and N; the ones recorded must be valid and agree. */
export async function checkAnchors(disc: Disc, rec: Recognized): Promise<Problem[]> {
  const out: Problem[] = [];
  const good = await disc.readBlock(rec.anchorBlock);
  const places = [rec.sessionBlock + 256, rec.lastBlock - 256, rec.lastBlock].filter((b, i, a) => b > rec.sessionBlock && b < disc.blockCount && a.indexOf(b) === i);
  for (const block of places) {
    if (block === rec.anchorBlock) continue;
    const buf = await disc.readBlock(block);
    // Only a block that starts like an anchor is one: writers may leave N-256 or N unused.
    if (buf.readUInt16LE(0) !== TAG_AVDP) continue;
    const err = tagError(buf, block, 'anchor', [TAG_AVDP]);
    if (err) {
      out.push(problem('anchor', err, restore(disc, good, block)));
    } else if (!body(buf).equals(body(good))) {
      out.push(problem('anchor', `anchor at block ${block} differs from the one at block ${rec.anchorBlock}`, restore(disc, good, block)));
    }
  }
  return out;
}

async function readSeq(disc: Disc, ext: ExtentAd): Promise<{ block: number; buf: Buffer }[]> {
  const n = Math.min(Math.floor(ext.extLength / disc.blockSize), 4096);
  const out: { block: number; buf: Buffer }[] = [];
  for (let i = 0; i < n && ext.extLocation + i < disc.blockCount; i++) {
    out.push({ block: ext.extLocation + i, buf: await disc.readBlock(ext.extLocation + i) });
  }
  return out;
}

/** Volume descriptor sequence number (3/10.1.2 and alike: the u32 after the tag), 0 for a TD. */
function seqNum(buf: Buffer): number {
  return buf.readUInt16LE(0) === TAG_TD ? 0 : buf.readUInt32LE(16);
}

/**
 * The main and reserve sequences side by side, up to the terminating
 * descriptor of each: a damaged descriptor with a good copy in the other
 * sequence is restored from it; two good copies that differ are made equal
 * (the newer volume descriptor sequence number wins, the main one on a tie).
 */
export async function checkVds(disc: Disc, rec: Recognized): Promise<Problem[]> {
  const out: Problem[] = [];
  const main = await readSeq(disc, rec.anchor.mainVolDescSeqExt);
  const reserve = await readSeq(disc, rec.anchor.reserveVolDescSeqExt);
  let mainEnded = false;
  let reserveEnded = false;
  for (let i = 0; i < Math.max(main.length, reserve.length) && !(mainEnded && reserveEnded); i++) {
    const m = mainEnded ? undefined : main[i];
    const r = reserveEnded ? undefined : reserve[i];
    const mErr = m && !isZero(m.buf.subarray(0, 16)) ? tagError(m.buf, m.block, 'main volume descriptor') : undefined;
    const rErr = r && !isZero(r.buf.subarray(0, 16)) ? tagError(r.buf, r.block, 'reserve volume descriptor') : undefined;
    const mOk = !!m && !mErr && !isZero(m.buf.subarray(0, 16));
    const rOk = !!r && !rErr && !isZero(r.buf.subarray(0, 16));
    if (m && mErr) {
      out.push(problem('vds-damaged', rOk ? `${mErr}; the reserve copy at block ${r!.block} is good` : `${mErr}; no good reserve copy`, rOk ? restore(disc, r!.buf, m.block) : undefined));
    }
    if (r && rErr) {
      out.push(problem('vds-damaged', mOk ? `${rErr}; the main copy at block ${m!.block} is good` : `${rErr}; no good main copy`, mOk ? restore(disc, m!.buf, r.block) : undefined));
    }
    if (mOk && rOk && !body(m!.buf).equals(body(r!.buf))) {
      const useReserve = seqNum(r!.buf) > seqNum(m!.buf);
      const [from, to] = useReserve ? [r!, m!] : [m!, r!];
      out.push(problem('vds-differs', `volume descriptor at block ${m!.block} (main) and block ${r!.block} (reserve) differ`, restore(disc, from.buf, to.block)));
    }
    // A sequence ends at its terminating descriptor or at an unrecorded block (as vds.ts reads it).
    const ends = (x: { buf: Buffer } | undefined, ok: boolean, err: string | undefined) => !x || (ok && x.buf.readUInt16LE(0) === TAG_TD) || (!ok && !err);
    const mEnds = ends(m, mOk, mErr);
    const rEnds = ends(r, rOk, rErr);
    // A damaged TD in one sequence: the other one says where it ends.
    if (mErr && rEnds && rOk) mainEnded = true;
    if (rErr && mEnds && mOk) reserveEnded = true;
    if (mEnds) mainEnded = true;
    if (rEnds) reserveEnded = true;
  }
  return out;
}

/** UDF 2.2.12: every copy of the sparing table valid and equal to the newest valid one. */
export async function checkSparing(disc: Disc, lvd: Lvd): Promise<Problem[]> {
  const out: Problem[] = [];
  for (const m of lvd.partitionMaps) {
    if (!('kind' in m) || m.kind !== 'sparable') continue;
    const blocks = Math.max(1, Math.ceil(m.sizeSparingTable / disc.blockSize));
    const copies: { loc: number; buf: Buffer; err?: string; seq: number }[] = [];
    for (const loc of m.locSparingTable) {
      if (loc >= disc.blockCount) continue;
      const buf = await disc.readBlocks(loc, blocks);
      let err = tagError(buf, loc, 'sparing table', [TAG_SPARING_TABLE]);
      let seq = -1;
      if (!err) {
        const t = sparingTable.decode(buf, 0);
        if (regidText(t.sparingIdent) !== UDF_ID_SPARING) err = `sparing table at block ${loc}: identifier "${regidText(t.sparingIdent)}"`;
        else seq = t.sequenceNum;
      }
      copies.push({ loc, buf, err, seq });
    }
    const best = copies.filter((c) => !c.err).sort((a, b) => b.seq - a.seq)[0];
    for (const c of copies) {
      if (c === best) continue;
      const fix = best ? restore(disc, best.buf, c.loc, blocks) : undefined;
      if (c.err) out.push(problem('sparing', best ? `${c.err}; the copy at block ${best.loc} is good` : `${c.err}; no good copy`, fix));
      else if (!body(c.buf).equals(body(best!.buf))) {
        out.push(problem('sparing', `sparing table at block ${c.loc} (sequence ${c.seq}) differs from the one at block ${best!.loc} (sequence ${best!.seq})`, fix));
      }
    }
  }
  return out;
}
