/**
 * MODE SENSE(10) / MODE SELECT(10) data: the mode parameter header (SPC-4
 * 7.5.5, table 270) and the two pages pktfs uses: Write Parameters (05h,
 * MMC-6 7.5) and Caching (08h, MMC-6 7.6 / SBC-3).
 */

export const MODE_HEADER_LENGTH = 8;
export const Page = { WRITE_PARAMETERS: 0x05, CACHING: 0x08 } as const;

/** Page 05h write types (byte 2 bits 0..3). */
export const WriteType = { PACKET: 0, TAO: 1, SAO: 2, RAW: 3 } as const;
/** Page 05h data block types (byte 4 bits 0..3): the 2048-byte user-data ones. */
export const DataBlockType = { MODE1: 8, MODE2_FORM1: 10 } as const;

/**
 * The page in a MODE SENSE(10) reply: skip the 8-byte header and any block
 * descriptors (header bytes 6..7), then take page length + 2 bytes.
 */
export function modeSensePage(b: Buffer): { pageCode: number; page: Buffer } {
  if (b.length < MODE_HEADER_LENGTH + 2) throw new Error(`mode data of ${b.length} bytes is too short`);
  const start = MODE_HEADER_LENGTH + b.readUInt16BE(6);
  const pageCode = b[start] & 0x3f;
  const len = b[start + 1] + 2;
  return { pageCode, page: b.subarray(start, Math.min(b.length, start + len)) };
}

/**
 * Parameter data for MODE SELECT(10): a header whose mode data length is zero
 * (SPC-4: reserved for MODE SELECT, and pktcdvd zeroes it) and no block descriptors.
 */
export function modeSelectData(page: Buffer): Buffer {
  const h = Buffer.alloc(MODE_HEADER_LENGTH);
  const p = Buffer.from(page);
  p[0] &= 0x3f; // PS bit is reserved in MODE SELECT
  return Buffer.concat([h, p]);
}

/** Wrap a page in a MODE SENSE(10) reply. */
export function modeSenseData(page: Buffer): Buffer {
  const h = Buffer.alloc(MODE_HEADER_LENGTH);
  h.writeUInt16BE(MODE_HEADER_LENGTH - 2 + page.length, 0);
  return Buffer.concat([h, page]);
}

// ---- Write Parameters page 05h, MMC-6 table 652 ------------------------------------------

export const WRITE_PARAMETERS_PAGE_LENGTH = 0x32 + 2;

export interface WriteParameters {
  /** byte 2 bit 6 */
  bufe: boolean;
  /** byte 2 bit 5: link size valid */
  lsValid: boolean;
  /** byte 2 bit 4 */
  testWrite: boolean;
  /** byte 2 bits 0..3 (WriteType) */
  writeType: number;
  /** byte 3 bits 6..7 */
  multiSession: number;
  /** byte 3 bit 5 */
  fixedPacket: boolean;
  /** byte 3 bit 4 */
  copy: boolean;
  /** byte 3 bits 0..3 */
  trackMode: number;
  /** byte 4 bits 0..3 (DataBlockType) */
  dataBlockType: number;
  /** byte 5 */
  linkSize: number;
  /** byte 8: 00h CD-DA/CD-ROM, 20h CD-ROM XA */
  sessionFormat: number;
  /** bytes 10..13, in blocks */
  packetSize: number;
  /** bytes 48..51: Mode 2 sub-header */
  subHeader: number;
}

export function decodeWriteParameters(p: Buffer): WriteParameters {
  if ((p[0] & 0x3f) !== Page.WRITE_PARAMETERS || p.length < 14) {
    throw new Error(`not a write parameters page (code ${p[0] & 0x3f}, ${p.length} bytes)`);
  }
  return {
    bufe: (p[2] & 0x40) !== 0,
    lsValid: (p[2] & 0x20) !== 0,
    testWrite: (p[2] & 0x10) !== 0,
    writeType: p[2] & 0x0f,
    multiSession: p[3] >> 6,
    fixedPacket: (p[3] & 0x20) !== 0,
    copy: (p[3] & 0x10) !== 0,
    trackMode: p[3] & 0x0f,
    dataBlockType: p[4] & 0x0f,
    linkSize: p[5],
    sessionFormat: p[8],
    packetSize: p.readUInt32BE(10),
    subHeader: p.length >= 52 ? p.readUInt32BE(48) : 0,
  };
}

export function encodeWriteParameters(w: WriteParameters): Buffer {
  const p = Buffer.alloc(WRITE_PARAMETERS_PAGE_LENGTH);
  p[0] = Page.WRITE_PARAMETERS;
  p[1] = WRITE_PARAMETERS_PAGE_LENGTH - 2;
  p[2] = (w.bufe ? 0x40 : 0) | (w.lsValid ? 0x20 : 0) | (w.testWrite ? 0x10 : 0) | (w.writeType & 0x0f);
  p[3] = ((w.multiSession & 3) << 6) | (w.fixedPacket ? 0x20 : 0) | (w.copy ? 0x10 : 0) | (w.trackMode & 0x0f);
  p[4] = w.dataBlockType & 0x0f;
  p[5] = w.linkSize;
  p[8] = w.sessionFormat;
  p.writeUInt32BE(w.packetSize >>> 0, 10);
  p.writeUInt32BE(w.subHeader >>> 0, 48);
  return p;
}

// ---- Caching page 08h ------------------------------------------------------------------

export const CACHING_PAGE_LENGTH = 0x0a + 2;

export interface Caching {
  /** byte 2 bit 2: write cache enable */
  writeCache: boolean;
  /** byte 2 bit 0: read cache disable */
  readCacheDisable: boolean;
}

export function decodeCaching(p: Buffer): Caching {
  if ((p[0] & 0x3f) !== Page.CACHING || p.length < 3) throw new Error('not a caching page');
  return { writeCache: (p[2] & 4) !== 0, readCacheDisable: (p[2] & 1) !== 0 };
}

export function encodeCaching(c: Caching): Buffer {
  const p = Buffer.alloc(CACHING_PAGE_LENGTH);
  p[0] = Page.CACHING;
  p[1] = CACHING_PAGE_LENGTH - 2;
  p[2] = (c.writeCache ? 4 : 0) | (c.readCacheDisable ? 1 : 0);
  return p;
}
