/**
 * READ FORMAT CAPACITIES data (MMC-6 6.24.3) and the FORMAT UNIT parameter
 * list (MMC-6 6.5.3): which formats a medium allows, and asking for one.
 */

/** Format types (descriptor byte 4 bits 2..7), MMC-6 table 72. */
export const FormatType = {
  FULL: 0x00, // DVD-RAM, BD-RE block length
  SPARE_EXPANSION: 0x01,
  CD_DVD_RW_FULL: 0x10, // fixed packets (CD-RW) / restricted overwrite (DVD-RW)
  CD_DVD_RW_GROW_SESSION: 0x11,
  DVD_RW_QUICK_GROW: 0x13,
  DVD_RW_QUICK: 0x15,
  MRW_FULL: 0x24,
  DVD_PLUS_RW_FULL: 0x26,
  BD_RE_FULL_SPARE: 0x30,
  BD_RE_FULL_NO_SPARE: 0x31,
} as const;

/** Current/Maximum capacity descriptor type (byte 4 bits 0..1). */
export const CapacityType = { UNFORMATTED: 1, FORMATTED: 2, NO_MEDIUM: 3 } as const;

export interface FormatDescriptor {
  /** bytes 0..3: number of blocks */
  blocks: number;
  /** byte 4 bits 2..7 (FormatType) */
  formatType: number;
  /** bytes 5..7: type dependent parameter (packet size, block length, ...) */
  param: number;
}

export interface FormatCapacities {
  current: { blocks: number; type: number; blockLength: number };
  formattable: FormatDescriptor[];
}

export function decodeFormatCapacities(b: Buffer): FormatCapacities {
  const listLength = b[3];
  const end = Math.min(b.length, 4 + listLength);
  const cur = { blocks: b.readUInt32BE(4), type: b[8] & 3, blockLength: b.readUIntBE(9, 3) };
  const formattable: FormatDescriptor[] = [];
  for (let p = 12; p + 8 <= end; p += 8) {
    formattable.push({ blocks: b.readUInt32BE(p), formatType: b[p + 4] >> 2, param: b.readUIntBE(p + 5, 3) });
  }
  return { current: cur, formattable };
}

export function encodeFormatCapacities(f: FormatCapacities): Buffer {
  const b = Buffer.alloc(12 + 8 * f.formattable.length);
  b[3] = b.length - 4; // capacity list length
  b.writeUInt32BE(f.current.blocks >>> 0, 4);
  b[8] = f.current.type & 3;
  b.writeUIntBE(f.current.blockLength, 9, 3);
  f.formattable.forEach((d, i) => {
    const p = 12 + 8 * i;
    b.writeUInt32BE(d.blocks >>> 0, p);
    b[p + 4] = d.formatType << 2;
    b.writeUIntBE(d.param & 0xffffff, p + 5, 3);
  });
  return b;
}

export interface FormatRequest {
  /** header byte 1 bit 1 */
  immed: boolean;
  /** header byte 1 bit 5 DCRT: skip certification */
  disableCertification: boolean;
  descriptor: FormatDescriptor;
}

export const FORMAT_PARAMETER_LENGTH = 12;

/** Format list header (4 bytes, MMC-6 table 70) + one format descriptor (8 bytes). */
export function encodeFormatRequest(r: FormatRequest): Buffer {
  const b = Buffer.alloc(FORMAT_PARAMETER_LENGTH);
  b[1] = 0x80 /* FOV: the flags below are valid */ | (r.disableCertification ? 0x20 : 0) | (r.immed ? 0x02 : 0);
  b.writeUInt16BE(8, 2); // format descriptor length
  b.writeUInt32BE(r.descriptor.blocks >>> 0, 4);
  b[8] = r.descriptor.formatType << 2;
  b.writeUIntBE(r.descriptor.param & 0xffffff, 9, 3);
  return b;
}

export function decodeFormatRequest(b: Buffer): FormatRequest {
  if (b.length < FORMAT_PARAMETER_LENGTH || b.readUInt16BE(2) !== 8) {
    throw new Error('format parameter list is not a header plus one 8-byte descriptor');
  }
  return {
    immed: (b[1] & 0x02) !== 0,
    disableCertification: (b[1] & 0x20) !== 0,
    descriptor: { blocks: b.readUInt32BE(4), formatType: b[8] >> 2, param: b.readUIntBE(9, 3) },
  };
}
