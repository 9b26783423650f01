/**
 * The descriptor tag (ECMA-167 3/7.2) and the two functions every tagged
 * descriptor goes through: `verifyTag` before a descriptor is used, and
 * `finaliseTag` before one is written. Nothing else computes checksums or CRCs.
 */
import { FsError } from '../../errors';
import type { Codec } from './primitives';

/** ECMA-167 3/7.2 (16 bytes). */
export interface Tag {
  tagIdent: number;
  descVersion: number;
  tagChecksum: number;
  tagSerialNum: number;
  descCRC: number;
  descCRCLength: number;
  tagLocation: number;
}
export const tag: Codec<Tag> = {
  size: 16,
  decode: (buf, off) => ({
    /*  0 */ tagIdent: buf.readUInt16LE(off), // 3/7.2.1
    /*  2 */ descVersion: buf.readUInt16LE(off + 2), // 3/7.2.2
    /*  4 */ tagChecksum: buf.readUInt8(off + 4), // 3/7.2.3
    /*  5 */ // reserved byte, 3/7.2.4
    /*  6 */ tagSerialNum: buf.readUInt16LE(off + 6), // 3/7.2.5
    /*  8 */ descCRC: buf.readUInt16LE(off + 8), // 3/7.2.6
    /* 10 */ descCRCLength: buf.readUInt16LE(off + 10), // 3/7.2.7
    /* 12 */ tagLocation: buf.readUInt32LE(off + 12), // 3/7.2.8
  }),
  encode: (v, buf, off) => {
    buf.writeUInt16LE(v.tagIdent, off);
    buf.writeUInt16LE(v.descVersion, off + 2);
    buf.writeUInt8(v.tagChecksum, off + 4);
    buf.writeUInt8(0, off + 5);
    buf.writeUInt16LE(v.tagSerialNum, off + 6);
    buf.writeUInt16LE(v.descCRC, off + 8);
    buf.writeUInt16LE(v.descCRCLength, off + 10);
    buf.writeUInt32LE(v.tagLocation, off + 12);
  },
};

/** Tag identifiers, ECMA-167 3/7.2.1 and 4/7.2.1 (UDF 2.2.12: the sparing table uses 0). */
export const TAG_SPARING_TABLE = 0;
export const TAG_PVD = 1;
export const TAG_AVDP = 2;
export const TAG_VDP = 3;
export const TAG_IUVD = 4;
export const TAG_PD = 5;
export const TAG_LVD = 6;
export const TAG_USD = 7;
export const TAG_TD = 8;
export const TAG_LVID = 9;
export const TAG_FSD = 256;
export const TAG_FID = 257;
export const TAG_AED = 258;
export const TAG_IE = 259;
export const TAG_TE = 260;
export const TAG_FE = 261;
export const TAG_EAHD = 262;
export const TAG_USE = 263;
export const TAG_SBD = 264;
export const TAG_PIE = 265;
export const TAG_EFE = 266;

/** 3/7.2.2: 2 for NSR02 volumes, 3 for NSR03. */
export const DESC_VERSIONS = [2, 3];

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/**
 * Slicing by 8 (issue 6: an entry with its data embedded is up to a block long, and every store
 * of it computes the CRC over all of it): CRC_SLICES[k][b] is the CRC of byte b followed by k
 * zero bytes, so eight bytes are taken with eight lookups and no shifts between them.
 */
const CRC_SLICES = (() => {
  const out = [CRC_TABLE];
  for (let k = 1; k < 8; k++) {
    const prev = out[k - 1];
    const t = new Uint16Array(256);
    for (let i = 0; i < 256; i++) t[i] = ((prev[i] << 8) & 0xffff) ^ CRC_TABLE[prev[i] >> 8];
    out.push(t);
  }
  return out;
})();

/** CRC-ITU-T (x^16 + x^12 + x^5 + 1, initial 0), ECMA-167 1/7.2.6 / 3/7.2.6. Exported for tests only. */
export function crcItuT(buf: Uint8Array, start: number, end: number): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_SLICES;
  let crc = 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    crc = t7[(crc >> 8) ^ buf[i]] ^ t6[(crc & 0xff) ^ buf[i + 1]] ^ t5[buf[i + 2]] ^ t4[buf[i + 3]]
      ^ t3[buf[i + 4]] ^ t2[buf[i + 5]] ^ t1[buf[i + 6]] ^ t0[buf[i + 7]];
  }
  for (; i < end; i++) crc = ((crc << 8) & 0xffff) ^ t0[((crc >> 8) ^ buf[i]) & 0xff];
  return crc;
}

/** 3/7.2.3: sum modulo 256 of the tag bytes 0-3 and 5-15. */
function tagChecksum(buf: Buffer, off: number): number {
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += buf[off + i];
  return sum & 0xff;
}

export interface TagExpectation {
  /** What is being read and from where, for the error message ("FE of ino 42"). */
  what: string;
  /** The tagLocation the descriptor must carry (3/7.2.8). */
  location: number;
  /** Allowed tag identifiers; any when absent. */
  idents?: readonly number[];
}

/**
 * Check the tag at `off`: identifier, checksum, version, location and the CRC
 * over descCRCLength bytes after the tag (which must lie inside `buf`).
 * Throws FsError('EIO') naming what and where; returns the decoded tag.
 */
export function verifyTag(buf: Buffer, off: number, exp: TagExpectation): Tag {
  if (off + 16 > buf.length) throw new FsError('EIO', `${exp.what}: descriptor cut short at ${exp.location}`);
  const t = tag.decode(buf, off);
  if (tagChecksum(buf, off) !== t.tagChecksum) {
    throw new FsError('EIO', `${exp.what}: bad tag checksum at block ${exp.location} (ident ${t.tagIdent})`);
  }
  if (exp.idents && !exp.idents.includes(t.tagIdent)) {
    throw new FsError('EIO', `${exp.what}: tag ident ${t.tagIdent} at block ${exp.location}, wanted ${exp.idents.join('/')}`);
  }
  if (!DESC_VERSIONS.includes(t.descVersion)) {
    throw new FsError('EIO', `${exp.what}: descriptor version ${t.descVersion} at block ${exp.location}`);
  }
  if (t.tagLocation !== exp.location) {
    throw new FsError('EIO', `${exp.what}: tag location ${t.tagLocation} found at block ${exp.location}`);
  }
  const end = off + 16 + t.descCRCLength;
  if (end > buf.length) {
    throw new FsError('EIO', `${exp.what}: CRC length ${t.descCRCLength} runs past the data at block ${exp.location}`);
  }
  if (crcItuT(buf, off + 16, end) !== t.descCRC) {
    throw new FsError('EIO', `${exp.what}: bad descriptor CRC at block ${exp.location}`);
  }
  return t;
}

/**
 * Fill in the tag at `off` for writing: identifier, version, serial, location,
 * CRC over `crcLength` bytes after the tag, then the checksum.
 */
export function finaliseTag(
  buf: Buffer,
  off: number,
  v: { tagIdent: number; descVersion: number; tagSerialNum: number; tagLocation: number; crcLength: number },
): void {
  const t: Tag = {
    tagIdent: v.tagIdent,
    descVersion: v.descVersion,
    tagChecksum: 0,
    tagSerialNum: v.tagSerialNum,
    descCRC: crcItuT(buf, off + 16, off + 16 + v.crcLength),
    descCRCLength: v.crcLength,
    tagLocation: v.tagLocation,
  };
  tag.encode(t, buf, off);
  buf.writeUInt8(tagChecksum(buf, off), off + 4);
}
