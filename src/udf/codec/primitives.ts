/**
 * Little-endian field access and the small ECMA-167 part 1/4 records embedded
 * in bigger descriptors: charspec, timestamp, entity identifier (regid),
 * extent_ad, lb_addr and the three allocation descriptor forms.
 * Buffers stay inside src/udf/codec/: every decode returns plain objects.
 */

/** A codec for one on-disc structure. `size` is the fixed part in bytes. */
export interface Codec<T> {
  readonly size: number;
  decode(buf: Buffer, off: number): T;
  encode(value: T, buf: Buffer, off: number): void;
}

const TWO_32 = 4294967296;

/**
 * Unsigned 64-bit read as a JS number; values above 2^53 are clamped (no real disc has them).
 * Two 32-bit halves, not a BigInt (issue 6: three u64 fields in every file entry decoded).
 */
export function readU64(buf: Buffer, off: number): number {
  if (!(off >= 0 && off + 8 <= buf.length && Number.isInteger(off))) {
    // Out of range: fail as a BigInt read does.
    const v = buf.readBigUInt64LE(off);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  const hi = buf.readUInt32LE(off + 4);
  // 2^53 - 1 is hi 0x1fffff with every low bit set: anything with a higher hi is above it.
  return hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * TWO_32 + buf.readUInt32LE(off);
}

/** Unsigned 64-bit write of a safe integer in two 32-bit halves; anything else fails as writeBigUInt64LE(BigInt(v)) does. */
export function writeU64(buf: Buffer, off: number, v: number): void {
  if (!(v >= 0 && Number.isSafeInteger(v) && off >= 0 && off + 8 <= buf.length && Number.isInteger(off))) {
    buf.writeBigUInt64LE(BigInt(v), off);
    return;
  }
  const lo = v % TWO_32;
  buf.writeUInt32LE(lo, off);
  buf.writeUInt32LE((v - lo) / TWO_32, off + 4);
}

/** A copy of `len` bytes: decoded values never alias the read buffer. */
export function bytes(buf: Buffer, off: number, len: number): Uint8Array {
  return Uint8Array.prototype.slice.call(buf, off, off + len);
}

/** `value` into `len` bytes at `off`: cut to `len`, the rest zeros. */
export function putBytes(buf: Buffer, off: number, len: number, value: Uint8Array): void {
  if (len <= 64 && len >= 0 && off >= 0 && off + len <= buf.length && Number.isInteger(off) && Number.isInteger(len)) {
    // Short fields (identifiers, implementation use) byte by byte: fill() and set() of a fresh
    // subarray cost more than the copy (issue 6: a handful in every entry encoded).
    const n = Math.min(len, value.length);
    for (let i = 0; i < n; i++) buf[off + i] = value[i];
    for (let i = n; i < len; i++) buf[off + i] = 0;
    return;
  }
  buf.fill(0, off, off + len);
  buf.set(value.subarray(0, len), off);
}

/** ECMA-167 1/7.2.1 charspec (64 bytes). */
export interface Charspec {
  charSetType: number;
  charSetInfo: Uint8Array;
}
export const charspec: Codec<Charspec> = {
  size: 64,
  decode: (buf, off) => ({
    /*  0 */ charSetType: buf.readUInt8(off), // 1/7.2.1.1
    /*  1 */ charSetInfo: bytes(buf, off + 1, 63), // 1/7.2.1.2
  }),
  encode: (v, buf, off) => {
    buf.writeUInt8(v.charSetType, off);
    putBytes(buf, off + 1, 63, v.charSetInfo);
  },
};
/** UDF 2.1.2: CS0 with "OSTA Compressed Unicode". */
export const OSTA_CS0: Charspec = {
  charSetType: 0,
  charSetInfo: Uint8Array.from(Buffer.concat([Buffer.from('OSTA Compressed Unicode'), Buffer.alloc(63 - 23)])),
};

/** ECMA-167 1/7.3 timestamp (12 bytes). */
export interface Timestamp {
  typeAndTimezone: number;
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  centiseconds: number;
  hundredsOfMicroseconds: number;
  microseconds: number;
}
export const timestamp: Codec<Timestamp> = {
  size: 12,
  decode: (buf, off) => ({
    /*  0 */ typeAndTimezone: buf.readUInt16LE(off), // 1/7.3.1: type in bits 12-15, offset in 0-11
    /*  2 */ year: buf.readInt16LE(off + 2), // 1/7.3.2
    /*  4 */ month: buf.readUInt8(off + 4), // 1/7.3.3
    /*  5 */ day: buf.readUInt8(off + 5), // 1/7.3.4
    /*  6 */ hour: buf.readUInt8(off + 6), // 1/7.3.5
    /*  7 */ minute: buf.readUInt8(off + 7), // 1/7.3.6
    /*  8 */ second: buf.readUInt8(off + 8), // 1/7.3.7
    /*  9 */ centiseconds: buf.readUInt8(off + 9), // 1/7.3.8
    /* 10 */ hundredsOfMicroseconds: buf.readUInt8(off + 10), // 1/7.3.9
    /* 11 */ microseconds: buf.readUInt8(off + 11), // 1/7.3.10
  }),
  encode: (v, buf, off) => {
    buf.writeUInt16LE(v.typeAndTimezone, off);
    buf.writeInt16LE(v.year, off + 2);
    buf.writeUInt8(v.month, off + 4);
    buf.writeUInt8(v.day, off + 5);
    buf.writeUInt8(v.hour, off + 6);
    buf.writeUInt8(v.minute, off + 7);
    buf.writeUInt8(v.second, off + 8);
    buf.writeUInt8(v.centiseconds, off + 9);
    buf.writeUInt8(v.hundredsOfMicroseconds, off + 10);
    buf.writeUInt8(v.microseconds, off + 11);
  },
};

/** ECMA-167 1/7.4 entity identifier, UDF 2.1.5 EntityID (32 bytes). */
export interface Regid {
  flags: number;
  identifier: Uint8Array;
  identifierSuffix: Uint8Array;
}
export const regid: Codec<Regid> = {
  size: 32,
  decode: (buf, off) => ({
    /*  0 */ flags: buf.readUInt8(off), // 1/7.4.1
    /*  1 */ identifier: bytes(buf, off + 1, 23), // 1/7.4.2
    /* 24 */ identifierSuffix: bytes(buf, off + 24, 8), // 1/7.4.3
  }),
  encode: (v, buf, off) => {
    buf.writeUInt8(v.flags, off);
    putBytes(buf, off + 1, 23, v.identifier);
    putBytes(buf, off + 24, 8, v.identifierSuffix);
  },
};
/** The identifier as text, without trailing NULs. */
export function regidText(r: Regid): string {
  const end = r.identifier.indexOf(0);
  return Buffer.from(r.identifier.subarray(0, end < 0 ? 23 : end)).toString('latin1');
}
/** UDF 2.1.5.3: the domain/UDF identifier suffix starts with the UDF revision as a u16. */
export function regidUdfRevision(r: Regid): number {
  return r.identifierSuffix[0] | (r.identifierSuffix[1] << 8);
}

/** ECMA-167 3/7.1 extent_ad (8 bytes): bytes, and an absolute sector. */
export interface ExtentAd {
  extLength: number;
  extLocation: number;
}
export const extentAd: Codec<ExtentAd> = {
  size: 8,
  decode: (buf, off) => ({
    /* 0 */ extLength: buf.readUInt32LE(off), // 3/7.1.1
    /* 4 */ extLocation: buf.readUInt32LE(off + 4), // 3/7.1.2
  }),
  encode: (v, buf, off) => {
    buf.writeUInt32LE(v.extLength, off);
    buf.writeUInt32LE(v.extLocation, off + 4);
  },
};

/** ECMA-167 4/7.1 lb_addr (6 bytes): a block inside a partition. */
export interface LbAddr {
  logicalBlockNum: number;
  partitionReferenceNum: number;
}
export const lbAddr: Codec<LbAddr> = {
  size: 6,
  decode: (buf, off) => ({
    /* 0 */ logicalBlockNum: buf.readUInt32LE(off), // 4/7.1.1
    /* 4 */ partitionReferenceNum: buf.readUInt16LE(off + 4), // 4/7.1.2
  }),
  encode: (v, buf, off) => {
    buf.writeUInt32LE(v.logicalBlockNum, off);
    buf.writeUInt16LE(v.partitionReferenceNum, off + 4);
  },
};

/**
 * Extent length field of the allocation descriptors (ECMA-167 4/14.14.1.1):
 * the top two bits are the extent type.
 */
export const EXT_RECORDED_ALLOCATED = 0;
export const EXT_NOT_RECORDED_ALLOCATED = 1;
export const EXT_NOT_RECORDED_NOT_ALLOCATED = 2;
export const EXT_NEXT_EXTENT_OF_ADS = 3;
export const EXT_LENGTH_MASK = 0x3fffffff;

/** ECMA-167 4/14.14.1 short_ad (8 bytes). */
export interface ShortAd {
  extLength: number;
  extPosition: number;
}
export const shortAd: Codec<ShortAd> = {
  size: 8,
  decode: (buf, off) => ({
    /* 0 */ extLength: buf.readUInt32LE(off), // 4/14.14.1.1
    /* 4 */ extPosition: buf.readUInt32LE(off + 4), // 4/14.14.1.2
  }),
  encode: (v, buf, off) => {
    buf.writeUInt32LE(v.extLength, off);
    buf.writeUInt32LE(v.extPosition, off + 4);
  },
};

/** ECMA-167 4/14.14.2 long_ad (16 bytes). */
export interface LongAd {
  extLength: number;
  extLocation: LbAddr;
  implUse: Uint8Array;
}
export const longAd: Codec<LongAd> = {
  size: 16,
  decode: (buf, off) => ({
    /*  0 */ extLength: buf.readUInt32LE(off), // 4/14.14.2.1
    /*  4 */ extLocation: lbAddr.decode(buf, off + 4), // 4/14.14.2.2
    /* 10 */ implUse: bytes(buf, off + 10, 6), // 4/14.14.2.3, UDF 2.3.10.1
  }),
  encode: (v, buf, off) => {
    buf.writeUInt32LE(v.extLength, off);
    lbAddr.encode(v.extLocation, buf, off + 4);
    putBytes(buf, off + 10, 6, v.implUse);
  },
};

/** ECMA-167 4/14.14.3 ext_ad (20 bytes). */
export interface ExtAd {
  extLength: number;
  recordedLength: number;
  informationLength: number;
  extLocation: LbAddr;
  implUse: Uint8Array;
}
export const extAd: Codec<ExtAd> = {
  size: 20,
  decode: (buf, off) => ({
    /*  0 */ extLength: buf.readUInt32LE(off), // 4/14.14.3.1
    /*  4 */ recordedLength: buf.readUInt32LE(off + 4), // 4/14.14.3.2
    /*  8 */ informationLength: buf.readUInt32LE(off + 8), // 4/14.14.3.3
    /* 12 */ extLocation: lbAddr.decode(buf, off + 12), // 4/14.14.3.4
    /* 18 */ implUse: bytes(buf, off + 18, 2), // 4/14.14.3.5
  }),
  encode: (v, buf, off) => {
    buf.writeUInt32LE(v.extLength, off);
    buf.writeUInt32LE(v.recordedLength, off + 4);
    buf.writeUInt32LE(v.informationLength, off + 8);
    lbAddr.encode(v.extLocation, buf, off + 12);
    putBytes(buf, off + 18, 2, v.implUse);
  },
};
