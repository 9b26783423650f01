/**
 * Volume structure: the volume recognition sequence descriptor (ECMA-167 2/9.1)
 * and the volume descriptors of ECMA-167 part 3 with their UDF 2.2 usage:
 * AVDP, VDP, PVD, IUVD, PD, LVD (with partition maps), USD, TD and LVID.
 */
import {
  Codec, Charspec, Regid, Timestamp, ExtentAd, LongAd,
  charspec, regid, timestamp, extentAd, longAd, bytes, putBytes, readU64, writeU64,
} from './primitives';
import { Tag, tag } from './tag';

/** ECMA-167 2/9.1 volume structure descriptor (the VRS entries at byte 32768). */
export interface VolStructDesc {
  structureType: number;
  standardIdent: string;
  structureVersion: number;
}
export const volStructDesc: Codec<VolStructDesc> = {
  size: 7,
  decode: (buf, off) => ({
    /* 0 */ structureType: buf.readUInt8(off), // 2/9.1.1
    /* 1 */ standardIdent: buf.toString('latin1', off + 1, off + 6), // 2/9.1.2
    /* 6 */ structureVersion: buf.readUInt8(off + 6), // 2/9.1.3
  }),
  encode: (v, buf, off) => {
    buf.writeUInt8(v.structureType, off);
    buf.write(v.standardIdent, off + 1, 5, 'latin1');
    buf.writeUInt8(v.structureVersion, off + 6);
  },
};
export const VSD_BEA01 = 'BEA01';
export const VSD_TEA01 = 'TEA01';
export const VSD_NSR02 = 'NSR02';
export const VSD_NSR03 = 'NSR03';
/** Other identifiers that may appear in a recognition sequence (ISO 9660, boot, CD-WO). */
export const VSD_OTHERS = ['CD001', 'BOOT2', 'CDW02'];

/** ECMA-167 3/10.2 anchor volume descriptor pointer. */
export interface Avdp {
  descTag: Tag;
  mainVolDescSeqExt: ExtentAd;
  reserveVolDescSeqExt: ExtentAd;
}
export const avdp: Codec<Avdp> = {
  size: 512,
  decode: (buf, off) => ({
    /*  0 */ descTag: tag.decode(buf, off), // 3/10.2.1
    /* 16 */ mainVolDescSeqExt: extentAd.decode(buf, off + 16), // 3/10.2.2
    /* 24 */ reserveVolDescSeqExt: extentAd.decode(buf, off + 24), // 3/10.2.3
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    extentAd.encode(v.mainVolDescSeqExt, buf, off + 16);
    extentAd.encode(v.reserveVolDescSeqExt, buf, off + 24);
    buf.fill(0, off + 32, off + 512);
  },
};

/** ECMA-167 3/10.3 volume descriptor pointer. */
export interface Vdp {
  descTag: Tag;
  volDescSeqNum: number;
  nextVolDescSeqExt: ExtentAd;
}
export const vdp: Codec<Vdp> = {
  size: 512,
  decode: (buf, off) => ({
    /*  0 */ descTag: tag.decode(buf, off),
    /* 16 */ volDescSeqNum: buf.readUInt32LE(off + 16), // 3/10.3.2
    /* 20 */ nextVolDescSeqExt: extentAd.decode(buf, off + 20), // 3/10.3.3
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.volDescSeqNum, off + 16);
    extentAd.encode(v.nextVolDescSeqExt, buf, off + 20);
    buf.fill(0, off + 28, off + 512);
  },
};

/** ECMA-167 3/10.1 primary volume descriptor. */
export interface Pvd {
  descTag: Tag;
  volDescSeqNum: number;
  primaryVolDescNum: number;
  volIdent: Uint8Array;
  volSeqNum: number;
  maxVolSeqNum: number;
  interchangeLvl: number;
  maxInterchangeLvl: number;
  charSetList: number;
  maxCharSetList: number;
  volSetIdent: Uint8Array;
  descCharSet: Charspec;
  explanatoryCharSet: Charspec;
  volAbstract: ExtentAd;
  volCopyright: ExtentAd;
  appIdent: Regid;
  recordingDateAndTime: Timestamp;
  impIdent: Regid;
  impUse: Uint8Array;
  predecessorVolDescSeqLocation: number;
  flags: number;
}
export const pvd: Codec<Pvd> = {
  size: 512,
  decode: (buf, off) => ({
    /*   0 */ descTag: tag.decode(buf, off),
    /*  16 */ volDescSeqNum: buf.readUInt32LE(off + 16), // 3/10.1.2
    /*  20 */ primaryVolDescNum: buf.readUInt32LE(off + 20), // 3/10.1.3
    /*  24 */ volIdent: bytes(buf, off + 24, 32), // 3/10.1.4 dstring
    /*  56 */ volSeqNum: buf.readUInt16LE(off + 56), // 3/10.1.5
    /*  58 */ maxVolSeqNum: buf.readUInt16LE(off + 58), // 3/10.1.6
    /*  60 */ interchangeLvl: buf.readUInt16LE(off + 60), // 3/10.1.7
    /*  62 */ maxInterchangeLvl: buf.readUInt16LE(off + 62), // 3/10.1.8
    /*  64 */ charSetList: buf.readUInt32LE(off + 64), // 3/10.1.9
    /*  68 */ maxCharSetList: buf.readUInt32LE(off + 68), // 3/10.1.10
    /*  72 */ volSetIdent: bytes(buf, off + 72, 128), // 3/10.1.11 dstring
    /* 200 */ descCharSet: charspec.decode(buf, off + 200), // 3/10.1.12
    /* 264 */ explanatoryCharSet: charspec.decode(buf, off + 264), // 3/10.1.13
    /* 328 */ volAbstract: extentAd.decode(buf, off + 328), // 3/10.1.14
    /* 336 */ volCopyright: extentAd.decode(buf, off + 336), // 3/10.1.15
    /* 344 */ appIdent: regid.decode(buf, off + 344), // 3/10.1.16
    /* 376 */ recordingDateAndTime: timestamp.decode(buf, off + 376), // 3/10.1.17
    /* 388 */ impIdent: regid.decode(buf, off + 388), // 3/10.1.18
    /* 420 */ impUse: bytes(buf, off + 420, 64), // 3/10.1.19
    /* 484 */ predecessorVolDescSeqLocation: buf.readUInt32LE(off + 484), // 3/10.1.20
    /* 488 */ flags: buf.readUInt16LE(off + 488), // 3/10.1.21
    /* 490 */ // reserved 22 bytes, 3/10.1.22
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.volDescSeqNum, off + 16);
    buf.writeUInt32LE(v.primaryVolDescNum, off + 20);
    putBytes(buf, off + 24, 32, v.volIdent);
    buf.writeUInt16LE(v.volSeqNum, off + 56);
    buf.writeUInt16LE(v.maxVolSeqNum, off + 58);
    buf.writeUInt16LE(v.interchangeLvl, off + 60);
    buf.writeUInt16LE(v.maxInterchangeLvl, off + 62);
    buf.writeUInt32LE(v.charSetList, off + 64);
    buf.writeUInt32LE(v.maxCharSetList, off + 68);
    putBytes(buf, off + 72, 128, v.volSetIdent);
    charspec.encode(v.descCharSet, buf, off + 200);
    charspec.encode(v.explanatoryCharSet, buf, off + 264);
    extentAd.encode(v.volAbstract, buf, off + 328);
    extentAd.encode(v.volCopyright, buf, off + 336);
    regid.encode(v.appIdent, buf, off + 344);
    timestamp.encode(v.recordingDateAndTime, buf, off + 376);
    regid.encode(v.impIdent, buf, off + 388);
    putBytes(buf, off + 420, 64, v.impUse);
    buf.writeUInt32LE(v.predecessorVolDescSeqLocation, off + 484);
    buf.writeUInt16LE(v.flags, off + 488);
    buf.fill(0, off + 490, off + 512);
  },
};

/** ECMA-167 3/10.4 implementation use volume descriptor with UDF 2.2.7.2 LVInformation. */
export interface Iuvd {
  descTag: Tag;
  volDescSeqNum: number;
  impIdent: Regid;
  lviCharset: Charspec;
  logicalVolIdent: Uint8Array;
  lvInfo1: Uint8Array;
  lvInfo2: Uint8Array;
  lvInfo3: Uint8Array;
  lviImpIdent: Regid;
  lviImpUse: Uint8Array;
}
export const iuvd: Codec<Iuvd> = {
  size: 512,
  decode: (buf, off) => ({
    /*   0 */ descTag: tag.decode(buf, off),
    /*  16 */ volDescSeqNum: buf.readUInt32LE(off + 16), // 3/10.4.2
    /*  20 */ impIdent: regid.decode(buf, off + 20), // 3/10.4.3, UDF 2.2.7.1 "*UDF LV Info"
    /*  52 */ lviCharset: charspec.decode(buf, off + 52), // UDF 2.2.7.2.1
    /* 116 */ logicalVolIdent: bytes(buf, off + 116, 128), // UDF 2.2.7.2.2
    /* 244 */ lvInfo1: bytes(buf, off + 244, 36), // UDF 2.2.7.2.3 (owner)
    /* 280 */ lvInfo2: bytes(buf, off + 280, 36), // UDF 2.2.7.2.3 (organisation)
    /* 316 */ lvInfo3: bytes(buf, off + 316, 36), // UDF 2.2.7.2.3 (contact)
    /* 352 */ lviImpIdent: regid.decode(buf, off + 352), // UDF 2.2.7.2.4
    /* 384 */ lviImpUse: bytes(buf, off + 384, 128), // UDF 2.2.7.2.5
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.volDescSeqNum, off + 16);
    regid.encode(v.impIdent, buf, off + 20);
    charspec.encode(v.lviCharset, buf, off + 52);
    putBytes(buf, off + 116, 128, v.logicalVolIdent);
    putBytes(buf, off + 244, 36, v.lvInfo1);
    putBytes(buf, off + 280, 36, v.lvInfo2);
    putBytes(buf, off + 316, 36, v.lvInfo3);
    regid.encode(v.lviImpIdent, buf, off + 352);
    putBytes(buf, off + 384, 128, v.lviImpUse);
  },
};

/** ECMA-167 4/14.3 partition header descriptor, held in the PD's partitionContentsUse. */
export interface PartitionHeaderDesc {
  unallocSpaceTable: { extLength: number; extPosition: number };
  unallocSpaceBitmap: { extLength: number; extPosition: number };
  partitionIntegrityTable: { extLength: number; extPosition: number };
  freedSpaceTable: { extLength: number; extPosition: number };
  freedSpaceBitmap: { extLength: number; extPosition: number };
}

/** ECMA-167 3/10.5 partition descriptor. */
export interface Pd {
  descTag: Tag;
  volDescSeqNum: number;
  partitionFlags: number;
  partitionNumber: number;
  partitionContents: Regid;
  partitionContentsUse: Uint8Array;
  accessType: number;
  partitionStartingLocation: number;
  partitionLength: number;
  impIdent: Regid;
  impUse: Uint8Array;
}
export const pd: Codec<Pd> = {
  size: 512,
  decode: (buf, off) => ({
    /*   0 */ descTag: tag.decode(buf, off),
    /*  16 */ volDescSeqNum: buf.readUInt32LE(off + 16), // 3/10.5.2
    /*  20 */ partitionFlags: buf.readUInt16LE(off + 20), // 3/10.5.3
    /*  22 */ partitionNumber: buf.readUInt16LE(off + 22), // 3/10.5.4
    /*  24 */ partitionContents: regid.decode(buf, off + 24), // 3/10.5.5 "+NSR02"/"+NSR03"
    /*  56 */ partitionContentsUse: bytes(buf, off + 56, 128), // 3/10.5.6, 4/14.3
    /* 184 */ accessType: buf.readUInt32LE(off + 184), // 3/10.5.7
    /* 188 */ partitionStartingLocation: buf.readUInt32LE(off + 188), // 3/10.5.8
    /* 192 */ partitionLength: buf.readUInt32LE(off + 192), // 3/10.5.9
    /* 196 */ impIdent: regid.decode(buf, off + 196), // 3/10.5.10
    /* 228 */ impUse: bytes(buf, off + 228, 128), // 3/10.5.11
    /* 356 */ // reserved 156 bytes, 3/10.5.12
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.volDescSeqNum, off + 16);
    buf.writeUInt16LE(v.partitionFlags, off + 20);
    buf.writeUInt16LE(v.partitionNumber, off + 22);
    regid.encode(v.partitionContents, buf, off + 24);
    putBytes(buf, off + 56, 128, v.partitionContentsUse);
    buf.writeUInt32LE(v.accessType, off + 184);
    buf.writeUInt32LE(v.partitionStartingLocation, off + 188);
    buf.writeUInt32LE(v.partitionLength, off + 192);
    regid.encode(v.impIdent, buf, off + 196);
    putBytes(buf, off + 228, 128, v.impUse);
    buf.fill(0, off + 356, off + 512);
  },
};
/** 3/10.5.7 access types. */
export const PD_ACCESS_UNSPECIFIED = 0;
export const PD_ACCESS_READ_ONLY = 1;
export const PD_ACCESS_WRITE_ONCE = 2;
export const PD_ACCESS_REWRITABLE = 3;
export const PD_ACCESS_OVERWRITABLE = 4;
/** UDF 2.60 2.2.14.2: pseudo-overwritable. */
export const PD_ACCESS_PSEUDO_OVERWRITABLE = 5;
/** 3/10.5.3 bit 0: volume space allocated. */
export const PD_FLAG_ALLOCATED = 1;

/** Partition header descriptor inside partitionContentsUse (4/14.3). */
export function decodePartitionHeader(use: Uint8Array): PartitionHeaderDesc {
  const b = Buffer.from(use.buffer, use.byteOffset, use.byteLength);
  const sad = (o: number) => ({ extLength: b.readUInt32LE(o), extPosition: b.readUInt32LE(o + 4) });
  return {
    /*  0 */ unallocSpaceTable: sad(0), // 4/14.3.1
    /*  8 */ unallocSpaceBitmap: sad(8), // 4/14.3.2
    /* 16 */ partitionIntegrityTable: sad(16), // 4/14.3.3
    /* 24 */ freedSpaceTable: sad(24), // 4/14.3.4
    /* 32 */ freedSpaceBitmap: sad(32), // 4/14.3.5
  };
}

/** The partition header descriptor as the 128 bytes of partitionContentsUse (4/14.3); for the formatter. */
export function encodePartitionHeader(h: PartitionHeaderDesc): Uint8Array {
  const b = Buffer.alloc(128);
  const sad = (o: number, v: { extLength: number; extPosition: number }) => {
    b.writeUInt32LE(v.extLength, o);
    b.writeUInt32LE(v.extPosition, o + 4);
  };
  /*  0 */ sad(0, h.unallocSpaceTable); // 4/14.3.1
  /*  8 */ sad(8, h.unallocSpaceBitmap); // 4/14.3.2
  /* 16 */ sad(16, h.partitionIntegrityTable); // 4/14.3.3
  /* 24 */ sad(24, h.freedSpaceTable); // 4/14.3.4
  /* 32 */ sad(32, h.freedSpaceBitmap); // 4/14.3.5
  return Uint8Array.from(b);
}

/** Partition maps, ECMA-167 3/10.7 and UDF 2.2.8-2.2.10. */
export type PartitionMap =
  | { partitionMapType: 1; volSeqNum: number; partitionNum: number }
  | { partitionMapType: 2; kind: 'virtual'; partIdent: Regid; volSeqNum: number; partitionNum: number; raw: Uint8Array }
  | {
      partitionMapType: 2; kind: 'sparable'; partIdent: Regid; volSeqNum: number; partitionNum: number;
      packetLength: number; numSparingTables: number; sizeSparingTable: number; locSparingTable: number[]; raw: Uint8Array;
    }
  | {
      partitionMapType: 2; kind: 'metadata'; partIdent: Regid; volSeqNum: number; partitionNum: number;
      metadataFileLoc: number; metadataMirrorFileLoc: number; metadataBitmapFileLoc: number;
      allocUnitSize: number; alignUnitSize: number; flags: number; raw: Uint8Array;
    }
  | { partitionMapType: number; kind: 'unknown'; raw: Uint8Array };

export const UDF_ID_VIRTUAL = '*UDF Virtual Partition';
export const UDF_ID_SPARABLE = '*UDF Sparable Partition';
export const UDF_ID_METADATA = '*UDF Metadata Partition';
/** UDF 2.2.10 flags bit 0: the metadata mirror file duplicates the metadata file's data. */
export const METADATA_FLAG_DUPLICATE = 1;

function identText(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('latin1');
}

/** Decode one partition map at `off`; its length is in byte 1. Encoding writes `raw` back (maps are not rewritten). */
export const partitionMap = {
  decode(buf: Buffer, off: number): PartitionMap {
    /* 0 */ const partitionMapType = buf.readUInt8(off); // 3/10.7.1.1
    /* 1 */ const partitionMapLength = buf.readUInt8(off + 1); // 3/10.7.1.2
    const raw = bytes(buf, off, partitionMapLength);
    if (partitionMapType === 1 && partitionMapLength === 6) {
      return {
        partitionMapType: 1,
        /* 2 */ volSeqNum: buf.readUInt16LE(off + 2), // 3/10.7.2.3
        /* 4 */ partitionNum: buf.readUInt16LE(off + 4), // 3/10.7.2.4
      };
    }
    if (partitionMapType === 2 && partitionMapLength === 64) {
      /* 4 */ const partIdent = regid.decode(buf, off + 4); // 3/10.7.3.3
      /* 36 */ const volSeqNum = buf.readUInt16LE(off + 36); // UDF 2.2.8-2.2.10
      /* 38 */ const partitionNum = buf.readUInt16LE(off + 38);
      const id = identText(partIdent.identifier);
      if (id === UDF_ID_VIRTUAL) return { partitionMapType: 2, kind: 'virtual', partIdent, volSeqNum, partitionNum, raw };
      if (id === UDF_ID_SPARABLE) {
        const numSparingTables = buf.readUInt8(off + 42);
        const locSparingTable: number[] = [];
        for (let i = 0; i < Math.min(numSparingTables, 4); i++) locSparingTable.push(buf.readUInt32LE(off + 48 + 4 * i));
        return {
          partitionMapType: 2, kind: 'sparable', partIdent, volSeqNum, partitionNum,
          /* 40 */ packetLength: buf.readUInt16LE(off + 40), // UDF 2.2.9
          /* 42 */ numSparingTables,
          /* 44 */ sizeSparingTable: buf.readUInt32LE(off + 44),
          /* 48 */ locSparingTable, // up to 4 u32
          raw,
        };
      }
      if (id === UDF_ID_METADATA) {
        return {
          partitionMapType: 2, kind: 'metadata', partIdent, volSeqNum, partitionNum,
          /* 40 */ metadataFileLoc: buf.readUInt32LE(off + 40), // UDF 2.2.10
          /* 44 */ metadataMirrorFileLoc: buf.readUInt32LE(off + 44),
          /* 48 */ metadataBitmapFileLoc: buf.readUInt32LE(off + 48),
          /* 52 */ allocUnitSize: buf.readUInt32LE(off + 52),
          /* 56 */ alignUnitSize: buf.readUInt16LE(off + 56),
          /* 58 */ flags: buf.readUInt8(off + 58),
          raw,
        };
      }
    }
    return { partitionMapType, kind: 'unknown', raw };
  },
  encode(v: PartitionMap, buf: Buffer, off: number): void {
    if (v.partitionMapType === 1 && !('kind' in v)) {
      buf.writeUInt8(1, off);
      buf.writeUInt8(6, off + 1);
      buf.writeUInt16LE(v.volSeqNum, off + 2);
      buf.writeUInt16LE(v.partitionNum, off + 4);
      return;
    }
    const r = (v as { raw: Uint8Array }).raw;
    buf.set(r, off);
  },
  lengthOf(v: PartitionMap): number {
    return 'raw' in v ? v.raw.length : 6;
  },
};

/** The 64 bytes of a type 2 sparable partition map (UDF 2.2.9), as `raw` for partitionMap.encode; for the formatter. */
export function sparablePartitionMapBytes(v: {
  partIdent: Regid; volSeqNum: number; partitionNum: number; packetLength: number; sizeSparingTable: number; locSparingTable: number[];
}): Uint8Array {
  const b = Buffer.alloc(64);
  /*  0 */ b.writeUInt8(2, 0); // 3/10.7.3.1 partition map type
  /*  1 */ b.writeUInt8(64, 1); // 3/10.7.3.2 length
  /*  4 */ regid.encode(v.partIdent, b, 4); // "*UDF Sparable Partition"
  /* 36 */ b.writeUInt16LE(v.volSeqNum, 36);
  /* 38 */ b.writeUInt16LE(v.partitionNum, 38);
  /* 40 */ b.writeUInt16LE(v.packetLength, 40);
  /* 42 */ b.writeUInt8(v.locSparingTable.length, 42); // number of sparing tables
  /* 44 */ b.writeUInt32LE(v.sizeSparingTable, 44);
  /* 48 */ v.locSparingTable.forEach((l, i) => b.writeUInt32LE(l, 48 + 4 * i));
  return Uint8Array.from(b);
}

/** ECMA-167 3/10.6 logical volume descriptor. */
export interface Lvd {
  descTag: Tag;
  volDescSeqNum: number;
  descCharSet: Charspec;
  logicalVolIdent: Uint8Array;
  logicalBlockSize: number;
  domainIdent: Regid;
  /** UDF 2.2.4.4: long_ad of the file set descriptor. */
  logicalVolContentsUse: LongAd;
  mapTableLength: number;
  numPartitionMaps: number;
  impIdent: Regid;
  impUse: Uint8Array;
  integritySeqExt: ExtentAd;
  partitionMaps: PartitionMap[];
}
export const lvd: Codec<Lvd> = {
  size: 440,
  decode: (buf, off) => {
    const mapTableLength = buf.readUInt32LE(off + 264);
    const numPartitionMaps = buf.readUInt32LE(off + 268);
    const partitionMaps: PartitionMap[] = [];
    let p = off + 440;
    const end = Math.min(buf.length, p + mapTableLength);
    for (let i = 0; i < numPartitionMaps && p + 2 <= end; i++) {
      const len = buf.readUInt8(p + 1);
      if (len < 2 || p + len > end) break;
      partitionMaps.push(partitionMap.decode(buf, p));
      p += len;
    }
    return {
      /*   0 */ descTag: tag.decode(buf, off),
      /*  16 */ volDescSeqNum: buf.readUInt32LE(off + 16), // 3/10.6.2
      /*  20 */ descCharSet: charspec.decode(buf, off + 20), // 3/10.6.3
      /*  84 */ logicalVolIdent: bytes(buf, off + 84, 128), // 3/10.6.4 dstring
      /* 212 */ logicalBlockSize: buf.readUInt32LE(off + 212), // 3/10.6.5
      /* 216 */ domainIdent: regid.decode(buf, off + 216), // 3/10.6.6, UDF 2.2.4.3
      /* 248 */ logicalVolContentsUse: longAd.decode(buf, off + 248), // 3/10.6.7, UDF 2.2.4.4
      /* 264 */ mapTableLength, // 3/10.6.8
      /* 268 */ numPartitionMaps, // 3/10.6.9
      /* 272 */ impIdent: regid.decode(buf, off + 272), // 3/10.6.10
      /* 304 */ impUse: bytes(buf, off + 304, 128), // 3/10.6.11
      /* 432 */ integritySeqExt: extentAd.decode(buf, off + 432), // 3/10.6.12
      /* 440 */ partitionMaps, // 3/10.6.13
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.volDescSeqNum, off + 16);
    charspec.encode(v.descCharSet, buf, off + 20);
    putBytes(buf, off + 84, 128, v.logicalVolIdent);
    buf.writeUInt32LE(v.logicalBlockSize, off + 212);
    regid.encode(v.domainIdent, buf, off + 216);
    longAd.encode(v.logicalVolContentsUse, buf, off + 248);
    buf.writeUInt32LE(v.mapTableLength, off + 264);
    buf.writeUInt32LE(v.numPartitionMaps, off + 268);
    regid.encode(v.impIdent, buf, off + 272);
    putBytes(buf, off + 304, 128, v.impUse);
    extentAd.encode(v.integritySeqExt, buf, off + 432);
    let p = off + 440;
    for (const m of v.partitionMaps) {
      partitionMap.encode(m, buf, p);
      p += partitionMap.lengthOf(m);
    }
  },
};

/** ECMA-167 3/10.8 unallocated space descriptor. */
export interface Usd {
  descTag: Tag;
  volDescSeqNum: number;
  allocDescs: ExtentAd[];
}
export const usd: Codec<Usd> = {
  size: 24,
  decode: (buf, off) => {
    /* 20 */ const n = buf.readUInt32LE(off + 20); // 3/10.8.3 numAllocDescs
    const allocDescs: ExtentAd[] = [];
    for (let i = 0; i < n && off + 24 + 8 * (i + 1) <= buf.length; i++) allocDescs.push(extentAd.decode(buf, off + 24 + 8 * i));
    return {
      /*  0 */ descTag: tag.decode(buf, off),
      /* 16 */ volDescSeqNum: buf.readUInt32LE(off + 16), // 3/10.8.2
      /* 24 */ allocDescs, // 3/10.8.4
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.volDescSeqNum, off + 16);
    buf.writeUInt32LE(v.allocDescs.length, off + 20);
    v.allocDescs.forEach((a, i) => extentAd.encode(a, buf, off + 24 + 8 * i));
  },
};

/** ECMA-167 3/10.9 terminating descriptor (also 4/14.2). */
export interface Td {
  descTag: Tag;
}
export const td: Codec<Td> = {
  size: 512,
  decode: (buf, off) => ({ /* 0 */ descTag: tag.decode(buf, off) }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.fill(0, off + 16, off + 512);
  },
};

/** UDF 2.2.6.4 implementation use area of the LVID. */
export interface LvidImpUse {
  impIdent: Regid;
  numFiles: number;
  numDirs: number;
  minUDFReadRev: number;
  minUDFWriteRev: number;
  maxUDFWriteRev: number;
  impUse: Uint8Array;
}

/** ECMA-167 3/10.10 logical volume integrity descriptor. */
export interface Lvid {
  descTag: Tag;
  recordingDateAndTime: Timestamp;
  integrityType: number;
  nextIntegrityExt: ExtentAd;
  /** 4/14.15 logical volume header descriptor: uniqueID then 24 reserved bytes. */
  uniqueID: number;
  numOfPartitions: number;
  lengthOfImpUse: number;
  freeSpaceTable: number[];
  sizeTable: number[];
  /** Present when lengthOfImpUse is at least 46 bytes. */
  impUse?: LvidImpUse;
  rawImpUse: Uint8Array;
}
export const lvid: Codec<Lvid> = {
  size: 80,
  decode: (buf, off) => {
    /* 72 */ const numOfPartitions = buf.readUInt32LE(off + 72); // 3/10.10.6
    /* 76 */ const lengthOfImpUse = buf.readUInt32LE(off + 76); // 3/10.10.7
    const n = Math.min(numOfPartitions, Math.floor((buf.length - off - 80) / 8));
    const freeSpaceTable: number[] = [];
    const sizeTable: number[] = [];
    for (let i = 0; i < n; i++) freeSpaceTable.push(buf.readUInt32LE(off + 80 + 4 * i)); // 3/10.10.8
    for (let i = 0; i < n; i++) sizeTable.push(buf.readUInt32LE(off + 80 + 4 * n + 4 * i)); // 3/10.10.9
    const iu = off + 80 + 8 * n; // 3/10.10.10
    const iuLen = Math.max(0, Math.min(lengthOfImpUse, buf.length - iu));
    let impUse: LvidImpUse | undefined;
    if (iuLen >= 46) {
      impUse = {
        /*  0 */ impIdent: regid.decode(buf, iu), // UDF 2.2.6.4
        /* 32 */ numFiles: buf.readUInt32LE(iu + 32),
        /* 36 */ numDirs: buf.readUInt32LE(iu + 36),
        /* 40 */ minUDFReadRev: buf.readUInt16LE(iu + 40),
        /* 42 */ minUDFWriteRev: buf.readUInt16LE(iu + 42),
        /* 44 */ maxUDFWriteRev: buf.readUInt16LE(iu + 44),
        /* 46 */ impUse: bytes(buf, iu + 46, iuLen - 46),
      };
    }
    return {
      /*  0 */ descTag: tag.decode(buf, off),
      /* 16 */ recordingDateAndTime: timestamp.decode(buf, off + 16), // 3/10.10.2
      /* 28 */ integrityType: buf.readUInt32LE(off + 28), // 3/10.10.3
      /* 32 */ nextIntegrityExt: extentAd.decode(buf, off + 32), // 3/10.10.4
      /* 40 */ uniqueID: readU64(buf, off + 40), // 3/10.10.5 logicalVolContentsUse, 4/14.15
      numOfPartitions,
      lengthOfImpUse,
      freeSpaceTable,
      sizeTable,
      impUse,
      rawImpUse: bytes(buf, iu, iuLen),
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    timestamp.encode(v.recordingDateAndTime, buf, off + 16);
    buf.writeUInt32LE(v.integrityType, off + 28);
    extentAd.encode(v.nextIntegrityExt, buf, off + 32);
    buf.fill(0, off + 40, off + 72);
    writeU64(buf, off + 40, v.uniqueID);
    buf.writeUInt32LE(v.numOfPartitions, off + 72);
    buf.writeUInt32LE(v.lengthOfImpUse, off + 76);
    const n = v.numOfPartitions;
    v.freeSpaceTable.forEach((x, i) => buf.writeUInt32LE(x, off + 80 + 4 * i));
    v.sizeTable.forEach((x, i) => buf.writeUInt32LE(x, off + 80 + 4 * n + 4 * i));
    const iu = off + 80 + 8 * n;
    buf.set(v.rawImpUse, iu);
    if (v.impUse) {
      regid.encode(v.impUse.impIdent, buf, iu);
      buf.writeUInt32LE(v.impUse.numFiles, iu + 32);
      buf.writeUInt32LE(v.impUse.numDirs, iu + 36);
      buf.writeUInt16LE(v.impUse.minUDFReadRev, iu + 40);
      buf.writeUInt16LE(v.impUse.minUDFWriteRev, iu + 42);
      buf.writeUInt16LE(v.impUse.maxUDFWriteRev, iu + 44);
      buf.set(v.impUse.impUse, iu + 46);
    }
  },
};
/** 3/10.10.3 integrity types. */
export const LVID_INTEGRITY_OPEN = 0;
export const LVID_INTEGRITY_CLOSE = 1;
