/**
 * File structure descriptors of ECMA-167 part 4 with their UDF 2.3 usage:
 * file set descriptor, ICB tag, file entry, extended file entry, file identifier
 * descriptor, allocation extent descriptor, indirect entry, space bitmap.
 */
import {
  Codec, Charspec, Regid, Timestamp, LongAd, LbAddr,
  charspec, regid, timestamp, longAd, lbAddr, bytes, putBytes, readU64, writeU64,
} from './primitives';
import { Tag, tag } from './tag';

/** ECMA-167 4/14.1 file set descriptor. */
export interface Fsd {
  descTag: Tag;
  recordingDateAndTime: Timestamp;
  interchangeLvl: number;
  maxInterchangeLvl: number;
  charSetList: number;
  maxCharSetList: number;
  fileSetNum: number;
  fileSetDescNum: number;
  logicalVolIdentCharSet: Charspec;
  logicalVolIdent: Uint8Array;
  fileSetCharSet: Charspec;
  fileSetIdent: Uint8Array;
  copyrightFileIdent: Uint8Array;
  abstractFileIdent: Uint8Array;
  rootDirectoryICB: LongAd;
  domainIdent: Regid;
  nextExt: LongAd;
  streamDirectoryICB: LongAd;
}
export const fsd: Codec<Fsd> = {
  size: 512,
  decode: (buf, off) => ({
    /*   0 */ descTag: tag.decode(buf, off),
    /*  16 */ recordingDateAndTime: timestamp.decode(buf, off + 16), // 4/14.1.2
    /*  28 */ interchangeLvl: buf.readUInt16LE(off + 28), // 4/14.1.3
    /*  30 */ maxInterchangeLvl: buf.readUInt16LE(off + 30), // 4/14.1.4
    /*  32 */ charSetList: buf.readUInt32LE(off + 32), // 4/14.1.5
    /*  36 */ maxCharSetList: buf.readUInt32LE(off + 36), // 4/14.1.6
    /*  40 */ fileSetNum: buf.readUInt32LE(off + 40), // 4/14.1.7
    /*  44 */ fileSetDescNum: buf.readUInt32LE(off + 44), // 4/14.1.8
    /*  48 */ logicalVolIdentCharSet: charspec.decode(buf, off + 48), // 4/14.1.9
    /* 112 */ logicalVolIdent: bytes(buf, off + 112, 128), // 4/14.1.10
    /* 240 */ fileSetCharSet: charspec.decode(buf, off + 240), // 4/14.1.11
    /* 304 */ fileSetIdent: bytes(buf, off + 304, 32), // 4/14.1.12
    /* 336 */ copyrightFileIdent: bytes(buf, off + 336, 32), // 4/14.1.13
    /* 368 */ abstractFileIdent: bytes(buf, off + 368, 32), // 4/14.1.14
    /* 400 */ rootDirectoryICB: longAd.decode(buf, off + 400), // 4/14.1.15
    /* 416 */ domainIdent: regid.decode(buf, off + 416), // 4/14.1.16
    /* 448 */ nextExt: longAd.decode(buf, off + 448), // 4/14.1.17
    /* 464 */ streamDirectoryICB: longAd.decode(buf, off + 464), // 4/14.1.18, UDF 2.3.2
    /* 480 */ // reserved 32 bytes, 4/14.1.19
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    timestamp.encode(v.recordingDateAndTime, buf, off + 16);
    buf.writeUInt16LE(v.interchangeLvl, off + 28);
    buf.writeUInt16LE(v.maxInterchangeLvl, off + 30);
    buf.writeUInt32LE(v.charSetList, off + 32);
    buf.writeUInt32LE(v.maxCharSetList, off + 36);
    buf.writeUInt32LE(v.fileSetNum, off + 40);
    buf.writeUInt32LE(v.fileSetDescNum, off + 44);
    charspec.encode(v.logicalVolIdentCharSet, buf, off + 48);
    putBytes(buf, off + 112, 128, v.logicalVolIdent);
    charspec.encode(v.fileSetCharSet, buf, off + 240);
    putBytes(buf, off + 304, 32, v.fileSetIdent);
    putBytes(buf, off + 336, 32, v.copyrightFileIdent);
    putBytes(buf, off + 368, 32, v.abstractFileIdent);
    longAd.encode(v.rootDirectoryICB, buf, off + 400);
    regid.encode(v.domainIdent, buf, off + 416);
    longAd.encode(v.nextExt, buf, off + 448);
    longAd.encode(v.streamDirectoryICB, buf, off + 464);
    buf.fill(0, off + 480, off + 512);
  },
};

/** ECMA-167 4/14.6 ICB tag (20 bytes). */
export interface IcbTag {
  priorRecordedNumDirectEntries: number;
  strategyType: number;
  strategyParameter: number;
  numEntries: number;
  fileType: number;
  parentICBLocation: LbAddr;
  flags: number;
}
export const icbTag: Codec<IcbTag> = {
  size: 20,
  decode: (buf, off) => ({
    /*  0 */ priorRecordedNumDirectEntries: buf.readUInt32LE(off), // 4/14.6.1
    /*  4 */ strategyType: buf.readUInt16LE(off + 4), // 4/14.6.2
    /*  6 */ strategyParameter: buf.readUInt16LE(off + 6), // 4/14.6.3
    /*  8 */ numEntries: buf.readUInt16LE(off + 8), // 4/14.6.4
    /* 10 */ // reserved byte, 4/14.6.5
    /* 11 */ fileType: buf.readUInt8(off + 11), // 4/14.6.6
    /* 12 */ parentICBLocation: lbAddr.decode(buf, off + 12), // 4/14.6.7
    /* 18 */ flags: buf.readUInt16LE(off + 18), // 4/14.6.8
  }),
  encode: (v, buf, off) => {
    buf.writeUInt32LE(v.priorRecordedNumDirectEntries, off);
    buf.writeUInt16LE(v.strategyType, off + 4);
    buf.writeUInt16LE(v.strategyParameter, off + 6);
    buf.writeUInt16LE(v.numEntries, off + 8);
    buf.writeUInt8(0, off + 10);
    buf.writeUInt8(v.fileType, off + 11);
    lbAddr.encode(v.parentICBLocation, buf, off + 12);
    buf.writeUInt16LE(v.flags, off + 18);
  },
};
/** 4/14.6.2 strategy types used by UDF (2.3.5.1). */
export const ICB_STRATEGY_4 = 4;
export const ICB_STRATEGY_4096 = 4096;
/** 4/14.6.6 file types, UDF 2.3.5.2 additions 248-252. */
export const FT_UNSPECIFIED = 0;
export const FT_USE = 1;
export const FT_PIE = 2;
export const FT_IE = 3;
export const FT_DIRECTORY = 4;
export const FT_REGULAR = 5;
export const FT_BLOCK = 6;
export const FT_CHAR = 7;
export const FT_EA = 8;
export const FT_FIFO = 9;
export const FT_SOCKET = 10;
export const FT_TE = 11;
export const FT_SYMLINK = 12;
export const FT_STREAMDIR = 13;
export const FT_VAT20 = 248;
export const FT_REALTIME = 249;
export const FT_METADATA = 250;
export const FT_METADATA_MIRROR = 251;
export const FT_METADATA_BITMAP = 252;
/** 4/14.6.8 flags bits 0-2: allocation descriptor form. */
export const ICB_FLAG_AD_MASK = 7;
export const ICB_FLAG_AD_SHORT = 0;
export const ICB_FLAG_AD_LONG = 1;
export const ICB_FLAG_AD_EXTENDED = 2;
export const ICB_FLAG_AD_IN_ICB = 3;
export const ICB_FLAG_SETUID = 0x40;
export const ICB_FLAG_SETGID = 0x80;
export const ICB_FLAG_STICKY = 0x100;

/** The fields FE and EFE share, as the rest of the UDF layer sees them. */
export interface FileEntryCommon {
  descTag: Tag;
  icbTag: IcbTag;
  uid: number;
  gid: number;
  permissions: number;
  fileLinkCount: number;
  recordFormat: number;
  recordDisplayAttr: number;
  recordLength: number;
  informationLength: number;
  logicalBlocksRecorded: number;
  accessTime: Timestamp;
  modificationTime: Timestamp;
  attrTime: Timestamp;
  checkpoint: number;
  extendedAttrICB: LongAd;
  impIdent: Regid;
  uniqueID: number;
  lengthExtendedAttr: number;
  lengthAllocDescs: number;
  extendedAttr: Uint8Array;
  allocDescs: Uint8Array;
}

/** ECMA-167 4/14.9 file entry. */
export interface Fe extends FileEntryCommon {
  kind: 'fe';
}
export const fe: Codec<Fe> = {
  size: 176,
  decode: (buf, off) => {
    const lengthExtendedAttr = buf.readUInt32LE(off + 168);
    const lengthAllocDescs = buf.readUInt32LE(off + 172);
    return {
      kind: 'fe',
      /*   0 */ descTag: tag.decode(buf, off),
      /*  16 */ icbTag: icbTag.decode(buf, off + 16), // 4/14.9.2
      /*  36 */ uid: buf.readUInt32LE(off + 36), // 4/14.9.3
      /*  40 */ gid: buf.readUInt32LE(off + 40), // 4/14.9.4
      /*  44 */ permissions: buf.readUInt32LE(off + 44), // 4/14.9.5
      /*  48 */ fileLinkCount: buf.readUInt16LE(off + 48), // 4/14.9.6
      /*  50 */ recordFormat: buf.readUInt8(off + 50), // 4/14.9.7
      /*  51 */ recordDisplayAttr: buf.readUInt8(off + 51), // 4/14.9.8
      /*  52 */ recordLength: buf.readUInt32LE(off + 52), // 4/14.9.9
      /*  56 */ informationLength: readU64(buf, off + 56), // 4/14.9.10
      /*  64 */ logicalBlocksRecorded: readU64(buf, off + 64), // 4/14.9.11
      /*  72 */ accessTime: timestamp.decode(buf, off + 72), // 4/14.9.12
      /*  84 */ modificationTime: timestamp.decode(buf, off + 84), // 4/14.9.13
      /*  96 */ attrTime: timestamp.decode(buf, off + 96), // 4/14.9.14
      /* 108 */ checkpoint: buf.readUInt32LE(off + 108), // 4/14.9.15
      /* 112 */ extendedAttrICB: longAd.decode(buf, off + 112), // 4/14.9.16
      /* 128 */ impIdent: regid.decode(buf, off + 128), // 4/14.9.17
      /* 160 */ uniqueID: readU64(buf, off + 160), // 4/14.9.18
      /* 168 */ lengthExtendedAttr, // 4/14.9.19
      /* 172 */ lengthAllocDescs, // 4/14.9.20
      /* 176 */ extendedAttr: bytes(buf, off + 176, lengthExtendedAttr), // 4/14.9.21
      /* 176+L_EA */ allocDescs: bytes(buf, off + 176 + lengthExtendedAttr, lengthAllocDescs), // 4/14.9.22
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    icbTag.encode(v.icbTag, buf, off + 16);
    buf.writeUInt32LE(v.uid, off + 36);
    buf.writeUInt32LE(v.gid, off + 40);
    buf.writeUInt32LE(v.permissions, off + 44);
    buf.writeUInt16LE(v.fileLinkCount, off + 48);
    buf.writeUInt8(v.recordFormat, off + 50);
    buf.writeUInt8(v.recordDisplayAttr, off + 51);
    buf.writeUInt32LE(v.recordLength, off + 52);
    writeU64(buf, off + 56, v.informationLength);
    writeU64(buf, off + 64, v.logicalBlocksRecorded);
    timestamp.encode(v.accessTime, buf, off + 72);
    timestamp.encode(v.modificationTime, buf, off + 84);
    timestamp.encode(v.attrTime, buf, off + 96);
    buf.writeUInt32LE(v.checkpoint, off + 108);
    longAd.encode(v.extendedAttrICB, buf, off + 112);
    regid.encode(v.impIdent, buf, off + 128);
    writeU64(buf, off + 160, v.uniqueID);
    buf.writeUInt32LE(v.lengthExtendedAttr, off + 168);
    buf.writeUInt32LE(v.lengthAllocDescs, off + 172);
    buf.set(v.extendedAttr, off + 176);
    buf.set(v.allocDescs, off + 176 + v.lengthExtendedAttr);
  },
};

/** ECMA-167 4/14.17 extended file entry. */
export interface Efe extends FileEntryCommon {
  kind: 'efe';
  objectSize: number;
  createTime: Timestamp;
  streamDirectoryICB: LongAd;
}
export const efe: Codec<Efe> = {
  size: 216,
  decode: (buf, off) => {
    const lengthExtendedAttr = buf.readUInt32LE(off + 208);
    const lengthAllocDescs = buf.readUInt32LE(off + 212);
    return {
      kind: 'efe',
      /*   0 */ descTag: tag.decode(buf, off),
      /*  16 */ icbTag: icbTag.decode(buf, off + 16), // 4/14.17.2
      /*  36 */ uid: buf.readUInt32LE(off + 36), // 4/14.17.3
      /*  40 */ gid: buf.readUInt32LE(off + 40), // 4/14.17.4
      /*  44 */ permissions: buf.readUInt32LE(off + 44), // 4/14.17.5
      /*  48 */ fileLinkCount: buf.readUInt16LE(off + 48), // 4/14.17.6
      /*  50 */ recordFormat: buf.readUInt8(off + 50), // 4/14.17.7
      /*  51 */ recordDisplayAttr: buf.readUInt8(off + 51), // 4/14.17.8
      /*  52 */ recordLength: buf.readUInt32LE(off + 52), // 4/14.17.9
      /*  56 */ informationLength: readU64(buf, off + 56), // 4/14.17.10
      /*  64 */ objectSize: readU64(buf, off + 64), // 4/14.17.11
      /*  72 */ logicalBlocksRecorded: readU64(buf, off + 72), // 4/14.17.12
      /*  80 */ accessTime: timestamp.decode(buf, off + 80), // 4/14.17.13
      /*  92 */ modificationTime: timestamp.decode(buf, off + 92), // 4/14.17.14
      /* 104 */ createTime: timestamp.decode(buf, off + 104), // 4/14.17.15
      /* 116 */ attrTime: timestamp.decode(buf, off + 116), // 4/14.17.16
      /* 128 */ checkpoint: buf.readUInt32LE(off + 128), // 4/14.17.17
      /* 132 */ // reserved u32, 4/14.17.18
      /* 136 */ extendedAttrICB: longAd.decode(buf, off + 136), // 4/14.17.19
      /* 152 */ streamDirectoryICB: longAd.decode(buf, off + 152), // 4/14.17.20
      /* 168 */ impIdent: regid.decode(buf, off + 168), // 4/14.17.21
      /* 200 */ uniqueID: readU64(buf, off + 200), // 4/14.17.22
      /* 208 */ lengthExtendedAttr, // 4/14.17.23
      /* 212 */ lengthAllocDescs, // 4/14.17.24
      /* 216 */ extendedAttr: bytes(buf, off + 216, lengthExtendedAttr), // 4/14.17.25
      /* 216+L_EA */ allocDescs: bytes(buf, off + 216 + lengthExtendedAttr, lengthAllocDescs), // 4/14.17.26
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    icbTag.encode(v.icbTag, buf, off + 16);
    buf.writeUInt32LE(v.uid, off + 36);
    buf.writeUInt32LE(v.gid, off + 40);
    buf.writeUInt32LE(v.permissions, off + 44);
    buf.writeUInt16LE(v.fileLinkCount, off + 48);
    buf.writeUInt8(v.recordFormat, off + 50);
    buf.writeUInt8(v.recordDisplayAttr, off + 51);
    buf.writeUInt32LE(v.recordLength, off + 52);
    writeU64(buf, off + 56, v.informationLength);
    writeU64(buf, off + 64, v.objectSize);
    writeU64(buf, off + 72, v.logicalBlocksRecorded);
    timestamp.encode(v.accessTime, buf, off + 80);
    timestamp.encode(v.modificationTime, buf, off + 92);
    timestamp.encode(v.createTime, buf, off + 104);
    timestamp.encode(v.attrTime, buf, off + 116);
    buf.writeUInt32LE(v.checkpoint, off + 128);
    buf.writeUInt32LE(0, off + 132);
    longAd.encode(v.extendedAttrICB, buf, off + 136);
    longAd.encode(v.streamDirectoryICB, buf, off + 152);
    regid.encode(v.impIdent, buf, off + 168);
    writeU64(buf, off + 200, v.uniqueID);
    buf.writeUInt32LE(v.lengthExtendedAttr, off + 208);
    buf.writeUInt32LE(v.lengthAllocDescs, off + 212);
    buf.set(v.extendedAttr, off + 216);
    buf.set(v.allocDescs, off + 216 + v.lengthExtendedAttr);
  },
};
/** 4/14.9.5 permission bits: other (0-4), group (5-9), owner (10-14). */
export const PERM_O_EXEC = 0x0001;
export const PERM_O_WRITE = 0x0002;
export const PERM_O_READ = 0x0004;
export const PERM_G_EXEC = 0x0020;
export const PERM_G_WRITE = 0x0040;
export const PERM_G_READ = 0x0080;
export const PERM_U_EXEC = 0x0400;
export const PERM_U_WRITE = 0x0800;
export const PERM_U_READ = 0x1000;

/** ECMA-167 4/14.4 file identifier descriptor; `size` is the fixed part, `sizeOf` the padded whole. */
export interface Fid {
  descTag: Tag;
  fileVersionNum: number;
  fileCharacteristics: number;
  lengthFileIdent: number;
  icb: LongAd;
  lengthOfImpUse: number;
  impUse: Uint8Array;
  fileIdent: Uint8Array;
}
export const fid = {
  size: 38,
  /** 4/14.4.9: the whole descriptor padded to a multiple of 4 bytes. */
  sizeOf(lengthOfImpUse: number, lengthFileIdent: number): number {
    return (38 + lengthOfImpUse + lengthFileIdent + 3) & ~3;
  },
  decode(buf: Buffer, off: number): Fid {
    const lengthFileIdent = buf.readUInt8(off + 19);
    const lengthOfImpUse = buf.readUInt16LE(off + 36);
    return {
      /*  0 */ descTag: tag.decode(buf, off),
      /* 16 */ fileVersionNum: buf.readUInt16LE(off + 16), // 4/14.4.2
      /* 18 */ fileCharacteristics: buf.readUInt8(off + 18), // 4/14.4.3
      /* 19 */ lengthFileIdent, // 4/14.4.4
      /* 20 */ icb: longAd.decode(buf, off + 20), // 4/14.4.5
      /* 36 */ lengthOfImpUse, // 4/14.4.6
      /* 38 */ impUse: bytes(buf, off + 38, lengthOfImpUse), // 4/14.4.7
      /* 38+L_IU */ fileIdent: bytes(buf, off + 38 + lengthOfImpUse, lengthFileIdent), // 4/14.4.8
    };
  },
  encode(v: Fid, buf: Buffer, off: number): void {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt16LE(v.fileVersionNum, off + 16);
    buf.writeUInt8(v.fileCharacteristics, off + 18);
    buf.writeUInt8(v.lengthFileIdent, off + 19);
    longAd.encode(v.icb, buf, off + 20);
    buf.writeUInt16LE(v.lengthOfImpUse, off + 36);
    buf.set(v.impUse, off + 38);
    buf.set(v.fileIdent, off + 38 + v.lengthOfImpUse);
    const end = off + fid.sizeOf(v.lengthOfImpUse, v.lengthFileIdent);
    buf.fill(0, off + 38 + v.lengthOfImpUse + v.lengthFileIdent, end);
  },
};
/** 4/14.4.3 file characteristics. */
export const FID_HIDDEN = 0x01;
export const FID_DIRECTORY = 0x02;
export const FID_DELETED = 0x04;
export const FID_PARENT = 0x08;
export const FID_METADATA = 0x10;

/** ECMA-167 4/14.5 allocation extent descriptor (followed by its ADs). */
export interface Aed {
  descTag: Tag;
  previousAllocExtLocation: number;
  lengthAllocDescs: number;
  allocDescs: Uint8Array;
}
export const aed: Codec<Aed> = {
  size: 24,
  decode: (buf, off) => {
    const lengthAllocDescs = buf.readUInt32LE(off + 20);
    return {
      /*  0 */ descTag: tag.decode(buf, off),
      /* 16 */ previousAllocExtLocation: buf.readUInt32LE(off + 16), // 4/14.5.2
      /* 20 */ lengthAllocDescs, // 4/14.5.3
      /* 24 */ allocDescs: bytes(buf, off + 24, Math.min(lengthAllocDescs, buf.length - off - 24)),
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.previousAllocExtLocation, off + 16);
    buf.writeUInt32LE(v.lengthAllocDescs, off + 20);
    buf.set(v.allocDescs, off + 24);
  },
};

/** ECMA-167 4/14.7 indirect entry. */
export interface Ie {
  descTag: Tag;
  icbTag: IcbTag;
  indirectICB: LongAd;
}
export const ie: Codec<Ie> = {
  size: 52,
  decode: (buf, off) => ({
    /*  0 */ descTag: tag.decode(buf, off),
    /* 16 */ icbTag: icbTag.decode(buf, off + 16), // 4/14.7.2
    /* 36 */ indirectICB: longAd.decode(buf, off + 36), // 4/14.7.3
  }),
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    icbTag.encode(v.icbTag, buf, off + 16);
    longAd.encode(v.indirectICB, buf, off + 36);
  },
};

/** ECMA-167 4/14.12 space bitmap descriptor (bit set = block free). */
export interface Sbd {
  descTag: Tag;
  numOfBits: number;
  numOfBytes: number;
  bitmap: Uint8Array;
}
export const sbd: Codec<Sbd> = {
  size: 24,
  decode: (buf, off) => {
    const numOfBytes = buf.readUInt32LE(off + 20);
    return {
      /*  0 */ descTag: tag.decode(buf, off),
      /* 16 */ numOfBits: buf.readUInt32LE(off + 16), // 4/14.12.2
      /* 20 */ numOfBytes, // 4/14.12.3
      /* 24 */ bitmap: bytes(buf, off + 24, Math.min(numOfBytes, buf.length - off - 24)), // 4/14.12.4
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    buf.writeUInt32LE(v.numOfBits, off + 16);
    buf.writeUInt32LE(v.numOfBytes, off + 20);
    buf.set(v.bitmap, off + 24);
  },
};

/** ECMA-167 4/14.11 unallocated space entry (UDF 2.3.7: the unallocated space table, short_ads only). */
export interface Use {
  descTag: Tag;
  icbTag: IcbTag;
  lengthAllocDescs: number;
  allocDescs: Uint8Array;
}
export const use: Codec<Use> = {
  size: 40,
  decode: (buf, off) => {
    const lengthAllocDescs = buf.readUInt32LE(off + 36);
    return {
      /*  0 */ descTag: tag.decode(buf, off),
      /* 16 */ icbTag: icbTag.decode(buf, off + 16), // 4/14.11.2
      /* 36 */ lengthAllocDescs, // 4/14.11.3
      /* 40 */ allocDescs: bytes(buf, off + 40, Math.min(lengthAllocDescs, buf.length - off - 40)), // 4/14.11.4
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    icbTag.encode(v.icbTag, buf, off + 16);
    buf.writeUInt32LE(v.lengthAllocDescs, off + 36);
    buf.set(v.allocDescs, off + 40);
  },
};
