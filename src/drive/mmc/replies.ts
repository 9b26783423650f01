/**
 * Codecs for the small fixed-layout data of INQUIRY, READ CAPACITY, GET EVENT
 * STATUS NOTIFICATION (media class) and the SET STREAMING performance
 * descriptor. Each has decode (what MmcDrive reads) and encode (what the
 * emulated drive answers).
 */

// ---- INQUIRY standard data, SPC-4 6.4.2 -------------------------------------------------

export interface InquiryData {
  /** byte 0 bits 0..4: 05h = MMC device */
  deviceType: number;
  /** byte 1 bit 7 RMB */
  removable: boolean;
  /** bytes 8..15 T10 vendor identification */
  vendor: string;
  /** bytes 16..31 product identification */
  product: string;
  /** bytes 32..35 product revision level */
  revision: string;
}

export const INQUIRY_LENGTH = 36;

export function decodeInquiry(b: Buffer): InquiryData {
  const text = (s: number, e: number) => b.subarray(s, Math.min(e, b.length)).toString('latin1').replace(/[\0 ]+$/, '');
  return {
    deviceType: b[0] & 0x1f,
    removable: (b[1] & 0x80) !== 0,
    vendor: text(8, 16),
    product: text(16, 32),
    revision: text(32, 36),
  };
}

export function encodeInquiry(d: InquiryData): Buffer {
  const b = Buffer.alloc(INQUIRY_LENGTH, 0x20);
  b.fill(0, 0, 8);
  b[0] = d.deviceType & 0x1f;
  b[1] = d.removable ? 0x80 : 0;
  b[2] = 0x05; // version: SPC-3
  b[3] = 0x02; // response data format 2
  b[4] = INQUIRY_LENGTH - 5; // additional length
  b.write(d.vendor.slice(0, 8), 8, 'latin1');
  b.write(d.product.slice(0, 16), 16, 'latin1');
  b.write(d.revision.slice(0, 4), 32, 'latin1');
  return b;
}

// ---- READ CAPACITY data, MMC-6 6.23.3 ----------------------------------------------------

export interface Capacity {
  /** bytes 0..3: last logical block address */
  lastLba: number;
  /** bytes 4..7: block length in bytes */
  blockLength: number;
}

export function decodeCapacity(b: Buffer): Capacity {
  return { lastLba: b.readUInt32BE(0), blockLength: b.readUInt32BE(4) };
}

export function encodeCapacity(c: Capacity): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(c.lastLba >>> 0, 0);
  b.writeUInt32BE(c.blockLength, 4);
  return b;
}

// ---- GET EVENT STATUS NOTIFICATION, media class, MMC-6 6.7.2.5 -------------------------

/** Notification class request bit for media events (class 4). */
export const EVENT_CLASS_MEDIA = 1 << 4;

export const MediaEvent = {
  NO_CHANGE: 0,
  EJECT_REQUEST: 1,
  NEW_MEDIA: 2,
  MEDIA_REMOVAL: 3,
  MEDIA_CHANGED: 4,
} as const;

export interface MediaEventStatus {
  /** header byte 2 bit 7 NEA: no event of a requested class is available */
  noEventAvailable: boolean;
  /** descriptor byte 0 bits 0..3 */
  eventCode: number;
  /** descriptor byte 1 bit 1 Media Present */
  mediaPresent: boolean;
  /** descriptor byte 1 bit 0 Door or Tray Open */
  trayOpen: boolean;
}

export function decodeMediaEventStatus(b: Buffer): MediaEventStatus {
  const nea = (b[2] & 0x80) !== 0;
  if (nea || (b[2] & 7) !== 4 || b.length < 8) {
    return { noEventAvailable: true, eventCode: 0, mediaPresent: false, trayOpen: false };
  }
  return { noEventAvailable: false, eventCode: b[4] & 0x0f, mediaPresent: (b[5] & 2) !== 0, trayOpen: (b[5] & 1) !== 0 };
}

export function encodeMediaEventStatus(e: MediaEventStatus, supportedClasses: number): Buffer {
  if (e.noEventAvailable) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(2, 0); // event data length
    b[2] = 0x80;
    b[3] = supportedClasses;
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeUInt16BE(6, 0);
  b[2] = 4; // notification class: media
  b[3] = supportedClasses;
  b[4] = e.eventCode & 0x0f;
  b[5] = (e.mediaPresent ? 2 : 0) | (e.trayOpen ? 1 : 0);
  return b;
}

// ---- SET STREAMING performance descriptor, MMC-6 6.40.2.1 ------------------------------

export interface StreamingPerformance {
  /** byte 0 bit 2 RDD: restore drive defaults */
  restoreDefaults: boolean;
  /** bytes 4..7 / 8..11 */
  startLba: number;
  endLba: number;
  /** bytes 12..15 read size (kB) per bytes 16..19 read time (ms) */
  readKB: number;
  readMs: number;
  /** bytes 20..23 write size (kB) per bytes 24..27 write time (ms) */
  writeKB: number;
  writeMs: number;
}

export const STREAMING_DESCRIPTOR_LENGTH = 28;

export function encodeStreaming(p: StreamingPerformance): Buffer {
  const b = Buffer.alloc(STREAMING_DESCRIPTOR_LENGTH);
  b[0] = p.restoreDefaults ? 0x04 : 0;
  b.writeUInt32BE(p.startLba >>> 0, 4);
  b.writeUInt32BE(p.endLba >>> 0, 8);
  b.writeUInt32BE(p.readKB >>> 0, 12);
  b.writeUInt32BE(p.readMs >>> 0, 16);
  b.writeUInt32BE(p.writeKB >>> 0, 20);
  b.writeUInt32BE(p.writeMs >>> 0, 24);
  return b;
}

export function decodeStreaming(b: Buffer): StreamingPerformance {
  return {
    restoreDefaults: (b[0] & 0x04) !== 0,
    startLba: b.readUInt32BE(4),
    endLba: b.readUInt32BE(8),
    readKB: b.readUInt32BE(12),
    readMs: b.readUInt32BE(16),
    writeKB: b.readUInt32BE(20),
    writeMs: b.readUInt32BE(24),
  };
}
