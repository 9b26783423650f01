/**
 * Just enough of the on-disc format to damage images on purpose: the descriptor
 * tag (ECMA-167 3/7.2) with its checksum and CRC-ITU-T, file entries (4/14.9,
 * 4/14.17), the partition descriptor (3/10.5) and allocation extent descriptors
 * (4/14.5). Written independently of src/udf so the tests do not trust the reader.
 */

export const TAG_PD = 5; // ECMA-167 3/10.5
export const TAG_AED = 258; // ECMA-167 4/14.5
export const TAG_FE = 261; // ECMA-167 4/14.9
export const TAG_EFE = 266; // ECMA-167 4/14.17

/** CRC-ITU-T (x^16 + x^12 + x^5 + 1, initial 0), as ECMA-167 3/7.2.6 asks. */
export function crcItuT(buf: Buffer, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= buf[i] << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Sum of the tag's bytes 0-3 and 5-15, modulo 256 (3/7.2.3). */
export function tagChecksum(buf: Buffer, off: number): number {
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += buf[off + i];
  return sum & 0xff;
}

export interface Tag {
  /* 0 */ tagIdent: number; // 3/7.2.1
  /* 2 */ descVersion: number; // 3/7.2.2
  /* 4 */ tagChecksum: number; // 3/7.2.3
  /* 6 */ tagSerialNumber: number; // 3/7.2.5
  /* 8 */ descCRC: number; // 3/7.2.6
  /* 10 */ descCRCLength: number; // 3/7.2.7
  /* 12 */ tagLocation: number; // 3/7.2.8
}

export function readTag(buf: Buffer, off: number): Tag {
  return {
    tagIdent: buf.readUInt16LE(off),
    descVersion: buf.readUInt16LE(off + 2),
    tagChecksum: buf[off + 4],
    tagSerialNumber: buf.readUInt16LE(off + 6),
    descCRC: buf.readUInt16LE(off + 8),
    descCRCLength: buf.readUInt16LE(off + 10),
    tagLocation: buf.readUInt32LE(off + 12),
  };
}

/** A tag whose checksum is right and whose CRC covers bytes that are all in `buf`. */
export function isValidTag(buf: Buffer, off: number): boolean {
  if (off + 16 > buf.length) return false;
  const t = readTag(buf, off);
  if (t.tagIdent === 0 || t.tagChecksum !== tagChecksum(buf, off)) return false;
  if (off + 16 + t.descCRCLength > buf.length) return false;
  return crcItuT(buf, off + 16, off + 16 + t.descCRCLength) === t.descCRC;
}

/** Recompute a tag's CRC over `crcLength` bytes after the tag (default: as recorded), then its checksum. */
export function fixTag(buf: Buffer, off: number, crcLength?: number): void {
  if (crcLength !== undefined) buf.writeUInt16LE(crcLength, off + 10);
  const len = buf.readUInt16LE(off + 10);
  buf.writeUInt16LE(crcItuT(buf, off + 16, off + 16 + len), off + 8);
  buf[off + 4] = tagChecksum(buf, off);
}

/** The fields of a (extended) file entry the damage tests need, with their offsets. */
export interface FileEntryLayout {
  extended: boolean;
  informationLength: number;
  /** ICB tag flags bits 0-2 (4/14.6.8): 0 short, 1 long, 2 extended, 3 data in the ICB. */
  adType: number;
  lengthOfEA: number;
  lengthOfAD: number;
  /** Offsets of L_AD and of the first allocation descriptor. */
  lengthOfADOffset: number;
  adOffset: number;
}

export function fileEntryLayout(buf: Buffer, off: number): FileEntryLayout {
  const extended = buf.readUInt16LE(off) === TAG_EFE;
  const flags = buf.readUInt16LE(off + 16 + 18); // ICB tag at 16, flags at 18 (4/14.6)
  const eaOff = extended ? 208 : 168; // L_EA: 4/14.17.23, 4/14.9.19
  const lengthOfEA = buf.readUInt32LE(off + eaOff);
  return {
    extended,
    informationLength: Number(buf.readBigUInt64LE(off + 56)), // 4/14.9.10, 4/14.17.10
    adType: flags & 7,
    lengthOfEA,
    lengthOfAD: buf.readUInt32LE(off + eaOff + 4),
    lengthOfADOffset: off + eaOff + 4,
    adOffset: off + eaOff + 8 + lengthOfEA,
  };
}

/** Every block of `img` (a Buffer of the whole image) that starts with a valid tag of `ident`. */
export function findTags(img: Buffer, blockSize: number, ident: number): number[] {
  const hits: number[] = [];
  for (let b = 0; (b + 1) * blockSize <= img.length; b++) {
    if (img.readUInt16LE(b * blockSize) === ident && isValidTag(img, b * blockSize)) hits.push(b);
  }
  return hits;
}

/** Partition starting location and length in blocks, from the first partition descriptor (3/10.5.8-9). */
export function partitionExtent(img: Buffer, blockSize: number): { start: number; length: number } {
  const [pd] = findTags(img, blockSize, TAG_PD);
  if (pd === undefined) throw new Error('no partition descriptor');
  const off = pd * blockSize;
  return { start: img.readUInt32LE(off + 188), length: img.readUInt32LE(off + 192) };
}
