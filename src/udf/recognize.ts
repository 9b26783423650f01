/**
 * Finding a UDF volume on the medium: sessions (multi-session images), the
 * volume recognition sequence (ECMA-167 2/8.3, 3/9.1), the block size, and the
 * anchor volume descriptor pointer (3/8.4.2) at the places Linux looks for it.
 */
import createDebug from 'debug';
import type { BlockDevice } from '../drive/types';
import { FsError } from '../errors';
import { Disc } from './disc';
import { Avdp, avdp, volStructDesc, VSD_BEA01, VSD_NSR02, VSD_NSR03, VSD_OTHERS, VSD_TEA01 } from './codec/volume';
import { TAG_AVDP, verifyTag } from './codec/tag';

const debug = createDebug('pktfs:udf:recognize');

/** Byte offset of the volume recognition area inside a session (2/8.3.1). */
const VRS_OFFSET = 32768;
const SECTOR_2048 = 2048;
/** Images up to this size are scanned for further sessions. */
const SESSION_SCAN_LIMIT = 1 << 30;
const SCAN_CHUNK = 4 << 20;
export const BLOCK_SIZES = [512, 1024, 2048, 4096];

/** Where a session starts, in 2048-byte sectors from the start of the medium. */
export interface Session {
  startSector: number;
}

/** Whether a VRS with an NSR descriptor starts at `byteOffset`, descriptors `unit` bytes apart. */
async function hasNsr(disc: Disc, byteOffset: number, unit: number): Promise<boolean> {
  for (let i = 0; i < 64; i++) {
    const b = await disc.readBytes(byteOffset + i * unit, 7);
    const d = volStructDesc.decode(b, 0);
    if (d.standardIdent === VSD_NSR02 || d.standardIdent === VSD_NSR03) return true;
    // 2/8.3.1: the sequence ends at the first sector that is not a descriptor; UDF
    // 2.60 2.1.7 lets NSR lie outside BEA01..TEA01, so TEA01 does not stop the scan.
    if (d.standardIdent !== VSD_BEA01 && d.standardIdent !== VSD_TEA01 && !VSD_OTHERS.includes(d.standardIdent)) return false;
  }
  return false;
}

/** The AVDP at absolute block `block` if one with that tagLocation is there. */
async function tryAnchor(disc: Disc, block: number): Promise<Avdp | undefined> {
  if (block < 0 || block >= disc.blockCount) return undefined;
  const b = await disc.readBlocks(block, 1);
  try {
    verifyTag(b, 0, { what: 'anchor', location: block, idents: [TAG_AVDP] });
  } catch {
    return undefined;
  }
  const a = avdp.decode(b, 0);
  return a.mainVolDescSeqExt.extLength > 0 || a.reserveVolDescSeqExt.extLength > 0 ? a : undefined;
}

/**
 * Sessions on the medium: every 2048-byte sector S with a VRS at S+16 and an
 * AVDP at S+256 whose tagLocation is S+256. Only media up to 1 GiB are
 * scanned; a medium without a match has one session at 0.
 */
export async function findSessions(dev: BlockDevice): Promise<Session[]> {
  const size = dev.sectorCount * dev.sectorSize;
  const disc = new Disc(dev, SECTOR_2048);
  if (size > SESSION_SCAN_LIMIT || size % SECTOR_2048 !== 0) return [{ startSector: 0 }];
  const sessions: Session[] = [];
  const sectors = size / SECTOR_2048;
  for (let chunkStart = 0; chunkStart < sectors; chunkStart += SCAN_CHUNK / SECTOR_2048) {
    const n = Math.min(SCAN_CHUNK / SECTOR_2048, sectors - chunkStart);
    const buf = await disc.readBlocks(chunkStart, n);
    for (let i = 0; i < n; i++) {
      const o = i * SECTOR_2048;
      if (buf[o + 1] !== 0x42 && buf[o + 1] !== 0x43) continue; // 'B'EA01 / 'C'D001
      const id = buf.toString('latin1', o + 1, o + 6);
      if (id !== VSD_BEA01 && id !== 'CD001') continue;
      const s = chunkStart + i - VRS_OFFSET / SECTOR_2048;
      if (s < 0 || sessions.some((x) => x.startSector === s)) continue;
      if (!(await hasNsr(disc, s * SECTOR_2048 + VRS_OFFSET, SECTOR_2048))) continue;
      if (await tryAnchor(disc, s + 256)) sessions.push({ startSector: s });
    }
  }
  debug('sessions at %o', sessions.map((s) => s.startSector));
  return sessions.length ? sessions : [{ startSector: 0 }];
}

export interface Recognized {
  blockSize: number;
  /** Absolute block where the anchor was found. */
  anchorBlock: number;
  anchor: Avdp;
  /** Session start and last block of the session, in blocks. */
  sessionBlock: number;
  lastBlock: number;
  vrsFound: boolean;
}

/** Anchor candidates in the order Linux's udf_scan_anchors tries them. */
function anchorCandidates(sessionBlock: number, last: number, first?: number): number[] {
  const c: number[] = [];
  if (first !== undefined) c.push(first);
  c.push(sessionBlock + 256);
  for (const l of [last, last - 1, last + 1, last - 2, last - 150, last - 152]) c.push(l, l - 256);
  c.push(sessionBlock + 512);
  return c;
}

/**
 * Find the block size and anchor of the session starting at `session`
 * (2048-byte sectors), ending at `endByte`. Throws ENODEV when no UDF volume is there.
 */
export async function recognize(
  dev: BlockDevice,
  session: Session,
  endByte: number,
  opts: { blockSize?: number; anchor?: number; lastBlock?: number },
): Promise<Recognized> {
  const sizes = opts.blockSize ? [opts.blockSize] : BLOCK_SIZES;
  const sessionByte = session.startSector * SECTOR_2048;
  for (const requireVrs of [true, false]) {
    for (const bs of sizes) {
      if (sessionByte % bs !== 0) continue;
      const disc = new Disc(dev, bs);
      const vrsFound = await hasNsr(disc, sessionByte + VRS_OFFSET, Math.max(SECTOR_2048, bs));
      if (requireVrs && !vrsFound) continue;
      const sessionBlock = sessionByte / bs;
      const lastBlock = opts.lastBlock ?? Math.floor(endByte / bs) - 1;
      for (const block of anchorCandidates(sessionBlock, lastBlock, opts.anchor)) {
        if (block < sessionBlock) continue;
        const a = await tryAnchor(disc, block);
        if (a) {
          debug('anchor at %d with block size %d (vrs %s)', block, bs, vrsFound);
          return { blockSize: bs, anchorBlock: block, anchor: a, sessionBlock, lastBlock, vrsFound };
        }
      }
    }
  }
  throw new FsError('ENODEV', `no UDF anchor found in session at sector ${session.startSector} of ${dev.description}`);
}
