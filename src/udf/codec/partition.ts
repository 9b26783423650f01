/**
 * Partition-level tables of UDF: the sparing table (UDF 2.2.12) and the
 * virtual allocation table in its UDF 1.50 (2.2.10 of 1.50) and UDF 2.00+
 * (2.2.11) forms.
 */
import { Codec, Regid, regid, bytes, putBytes } from './primitives';
import { Tag, tag } from './tag';

/** UDF 2.2.12 sparing map entry. */
export interface SparingEntry {
  origLocation: number;
  mappedLocation: number;
}
/** 2.2.12: origLocation values for free and defective entries. */
export const SPARING_ENTRY_FREE = 0xffffffff;
export const SPARING_ENTRY_DEFECTIVE = 0xfffffff0;
export const UDF_ID_SPARING = '*UDF Sparing Table';

/** UDF 2.2.12 sparing table. */
export interface SparingTable {
  descTag: Tag;
  sparingIdent: Regid;
  reallocationTableLen: number;
  sequenceNum: number;
  mapEntries: SparingEntry[];
}
export const sparingTable: Codec<SparingTable> = {
  size: 56,
  decode: (buf, off) => {
    const reallocationTableLen = buf.readUInt16LE(off + 48);
    const mapEntries: SparingEntry[] = [];
    for (let i = 0; i < reallocationTableLen && off + 56 + 8 * i + 8 <= buf.length; i++) {
      mapEntries.push({
        /* 0 */ origLocation: buf.readUInt32LE(off + 56 + 8 * i),
        /* 4 */ mappedLocation: buf.readUInt32LE(off + 60 + 8 * i),
      });
    }
    return {
      /*  0 */ descTag: tag.decode(buf, off), // tagIdent 0
      /* 16 */ sparingIdent: regid.decode(buf, off + 16), // "*UDF Sparing Table"
      /* 48 */ reallocationTableLen, // number of map entries
      /* 50 */ // reserved u16
      /* 52 */ sequenceNum: buf.readUInt32LE(off + 52),
      /* 56 */ mapEntries,
    };
  },
  encode: (v, buf, off) => {
    tag.encode(v.descTag, buf, off);
    regid.encode(v.sparingIdent, buf, off + 16);
    buf.writeUInt16LE(v.reallocationTableLen, off + 48);
    buf.writeUInt16LE(0, off + 50);
    buf.writeUInt32LE(v.sequenceNum, off + 52);
    v.mapEntries.forEach((e, i) => {
      buf.writeUInt32LE(e.origLocation, off + 56 + 8 * i);
      buf.writeUInt32LE(e.mappedLocation, off + 60 + 8 * i);
    });
  },
};

export const UDF_ID_VAT15 = '*UDF Virtual Alloc Tbl';
/** Entry value of a virtual block that maps to nothing. */
export const VAT_ENTRY_UNUSED = 0xffffffff;

/** The contents of a VAT file, either style, decoded from the file's bytes. */
export interface Vat {
  style: '1.50' | '2.00';
  /** 2.00 header fields (2.2.11); absent for the 1.50 style. */
  lengthHeader: number;
  lengthImpUse: number;
  logicalVolIdent?: Uint8Array;
  previousVATICBLocation: number;
  numFiles?: number;
  numDirs?: number;
  minUDFReadRev?: number;
  minUDFWriteRev?: number;
  maxUDFWriteRev?: number;
  impUse: Uint8Array;
  /** 1.50 trailing identifier (UDF 1.50 2.2.10). */
  vatIdent?: Regid;
  entries: Uint32Array;
}

/** UDF 2.00+ VAT (2.2.11): header at the start of the file, then the entries. */
export const vat200 = {
  size: 152,
  decode(buf: Buffer, off: number, length: number): Vat {
    const lengthHeader = buf.readUInt16LE(off);
    const lengthImpUse = buf.readUInt16LE(off + 2);
    const n = Math.max(0, Math.floor((length - lengthHeader) / 4));
    const entries = new Uint32Array(n);
    for (let i = 0; i < n; i++) entries[i] = buf.readUInt32LE(off + lengthHeader + 4 * i);
    return {
      style: '2.00',
      /*   0 */ lengthHeader, // 2.2.11.1
      /*   2 */ lengthImpUse,
      /*   4 */ logicalVolIdent: bytes(buf, off + 4, 128),
      /* 132 */ previousVATICBLocation: buf.readUInt32LE(off + 132),
      /* 136 */ numFiles: buf.readUInt32LE(off + 136),
      /* 140 */ numDirs: buf.readUInt32LE(off + 140),
      /* 144 */ minUDFReadRev: buf.readUInt16LE(off + 144),
      /* 146 */ minUDFWriteRev: buf.readUInt16LE(off + 146),
      /* 148 */ maxUDFWriteRev: buf.readUInt16LE(off + 148),
      /* 150 */ // reserved u16
      /* 152 */ impUse: bytes(buf, off + 152, lengthImpUse),
      entries,
    };
  },
  encode(v: Vat, buf: Buffer, off: number): void {
    buf.writeUInt16LE(v.lengthHeader, off);
    buf.writeUInt16LE(v.lengthImpUse, off + 2);
    putBytes(buf, off + 4, 128, v.logicalVolIdent ?? new Uint8Array());
    buf.writeUInt32LE(v.previousVATICBLocation, off + 132);
    buf.writeUInt32LE(v.numFiles ?? 0, off + 136);
    buf.writeUInt32LE(v.numDirs ?? 0, off + 140);
    buf.writeUInt16LE(v.minUDFReadRev ?? 0, off + 144);
    buf.writeUInt16LE(v.minUDFWriteRev ?? 0, off + 146);
    buf.writeUInt16LE(v.maxUDFWriteRev ?? 0, off + 148);
    buf.writeUInt16LE(0, off + 150);
    buf.set(v.impUse, off + 152);
    v.entries.forEach((e, i) => buf.writeUInt32LE(e, off + v.lengthHeader + 4 * i));
  },
};

/** UDF 1.50 VAT (1.50 2.2.10): entries, then a regid and the previous VAT ICB location. */
export const vat150 = {
  size: 36,
  decode(buf: Buffer, off: number, length: number): Vat {
    const n = Math.max(0, Math.floor((length - 36) / 4));
    const entries = new Uint32Array(n);
    for (let i = 0; i < n; i++) entries[i] = buf.readUInt32LE(off + 4 * i);
    const tail = off + length - 36;
    return {
      style: '1.50',
      lengthHeader: 0,
      lengthImpUse: 0,
      impUse: new Uint8Array(),
      entries,
      /* L-36 */ vatIdent: regid.decode(buf, tail), // "*UDF Virtual Alloc Tbl"
      /* L-4 */ previousVATICBLocation: buf.readUInt32LE(tail + 32),
    };
  },
  encode(v: Vat, buf: Buffer, off: number): void {
    v.entries.forEach((e, i) => buf.writeUInt32LE(e, off + 4 * i));
    const tail = off + 4 * v.entries.length;
    if (v.vatIdent) regid.encode(v.vatIdent, buf, tail);
    buf.writeUInt32LE(v.previousVATICBLocation, tail + 32);
  },
};
