/**
 * Finding the on-disc structures of a UDF image without the reader: every
 * descriptor tag (ECMA-167 3/7.2) with a right checksum at a 512-byte boundary
 * (AVDP, VDS descriptors, LVID, FSD, FE/EFE, IE, AED, space bitmap/table),
 * sparing tables (UDF 2.2.12, tag identifier 0 with "*UDF Sparing Table"),
 * FIDs (4/14.4) at any 4-byte boundary, and the VAT (UDF 2.2.11) when its file
 * entry holds it. The fuzzer mutates what this finds.
 */

export const KIND_NAMES: Record<number, string> = {
  0: 'sparing', 1: 'pvd', 2: 'avdp', 3: 'vdp', 4: 'iuvd', 5: 'pd', 6: 'lvd', 7: 'usd', 8: 'td', 9: 'lvid',
  256: 'fsd', 257: 'fid', 258: 'aed', 259: 'ie', 260: 'te', 261: 'fe', 262: 'eahd', 263: 'use', 264: 'sbd',
  265: 'pie', 266: 'efe',
};

export interface Found {
  /** Tag identifier (0 for a sparing table); 'vat' structures carry the FE's identifier. */
  ident: number;
  kind: string;
  /** Byte offset in the image of the tag (for 'vat': of the VAT data inside its FE). */
  off: number;
  /** Bytes covered by the tag and its CRC (for 'vat': the embedded VAT's length). */
  len: number;
}

const SPARING_ID = '*UDF Sparing Table';
const ZERO = Buffer.alloc(512);

function zeroSector(img: Buffer, off: number): boolean {
  return img.compare(ZERO, 0, 512, off, off + 512) === 0;
}

function tagChecksumOk(img: Buffer, off: number): boolean {
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += img[off + i];
  return (sum & 0xff) === img[off + 4];
}

function plausibleTag(img: Buffer, off: number): boolean {
  if (off + 48 > img.length) return false;
  const v = img.readUInt16LE(off + 2);
  if (v !== 2 && v !== 3) return false;
  return tagChecksumOk(img, off);
}

/** The partition maps of the LVD at `off` (3/10.6.13, UDF 2.2.8-2.2.10), as structures of their own. */
function partitionMaps(img: Buffer, off: number): Found[] {
  const out: Found[] = [];
  const n = img.readUInt32LE(off + 268);
  let p = off + 440;
  const end = Math.min(img.length, p + img.readUInt32LE(off + 264), off + 4096);
  for (let i = 0; i < n && i < 8 && p + 2 <= end; i++) {
    const type = img[p];
    const len = img[p + 1];
    if (len < 2 || p + len > end) break;
    const id = type === 2 ? img.toString('latin1', p + 5, p + 28).replace(/\0.*$/, '') : '';
    const kind = type === 1 ? 'pmap1' : id === '*UDF Sparable Partition' ? 'pmap-sparable' : id === '*UDF Virtual Partition' ? 'pmap-virtual' : id === '*UDF Metadata Partition' ? 'pmap-metadata' : 'pmap';
    out.push({ ident: 6, kind, off: p, len });
    p += len;
  }
  return out;
}

const CHUNK = 4 << 20;
const OVERLAP = 8192;

/** Everything the fuzzer can aim at in an image of `length` bytes read through `read`, in image order. */
export function scanImage(read: (off: number, len: number) => Buffer, length: number): Found[] {
  const out: Found[] = [];
  for (let at = 0; at < length; at += CHUNK) {
    const chunk = read(at, CHUNK + OVERLAP);
    for (const f of scanChunk(chunk, Math.min(CHUNK, chunk.length))) out.push({ ...f, off: f.off + at });
  }
  return out.sort((a, b) => a.off - b.off);
}

/** The structures starting in the first `limit` bytes of `img` (the rest is overlap for those that run on). */
function scanChunk(img: Buffer, limit: number): Found[] {
  const out: Found[] = [];
  for (let off = 0; off + 512 <= limit; off += 512) {
    // Unrecorded sectors are the bulk of a sparse image: skip them quickly.
    if (zeroSector(img, off)) continue;
    if (plausibleTag(img, off)) {
      const ident = img.readUInt16LE(off);
      const kind = ident === 0 ? (img.toString('latin1', off + 17, off + 17 + SPARING_ID.length) === SPARING_ID ? 'sparing' : '') : KIND_NAMES[ident];
      if (kind && kind !== 'fid') {
        out.push({ ident, kind, off, len: 16 + img.readUInt16LE(off + 10) });
        if (ident === 6) out.push(...partitionMaps(img, off));
        if ((ident === 261 || ident === 266) && img[off + 27] === 248) {
          // UDF 2.2.11 VAT file with its data in the ICB (flags bits 0-2 = 3).
          const fixed = ident === 261 ? 176 : 216;
          const lEa = img.readUInt32LE(off + fixed - 8);
          const lAd = img.readUInt32LE(off + fixed - 4);
          if ((img.readUInt16LE(off + 34) & 7) === 3 && fixed + lEa + lAd <= 4096) out.push({ ident, kind: 'vat', off: off + fixed + lEa, len: lAd });
        }
      }
    }
  }
  // FIDs: 4-byte aligned anywhere in a sector that holds something.
  for (let sec = 0; sec + 512 <= limit; sec += 512) {
    if (zeroSector(img, sec)) continue;
    for (let off = sec; off < sec + 512; off += 4) {
      if (img[off] !== 1 || img[off + 1] !== 1) continue; // 257 little-endian
      if (!plausibleTag(img, off)) continue;
      const lFi = img[off + 19];
      const lIu = img.readUInt16LE(off + 36);
      out.push({ ident: 257, kind: 'fid', off, len: 38 + lIu + lFi });
    }
  }
  return out;
}
