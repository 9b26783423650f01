/**
 * READ TRACK INFORMATION data (MMC-6 6.27.3, table 384): where packets are,
 * how big they are, and where the next write may go.
 */

export interface TrackInformation {
  /** bytes 2 and 32: track number (lsb, msb) */
  trackNumber: number;
  /** bytes 3 and 33: session number */
  sessionNumber: number;
  /** byte 5 bit 5 */
  damage: boolean;
  /** byte 5 bit 4 */
  copy: boolean;
  /** byte 5 bits 0..3: track mode (CD Q sub-channel control nibble; 4 data uninterrupted, 5 data incremental) */
  trackMode: number;
  /** byte 6 bit 7 RT: reserved track */
  reservedTrack: boolean;
  /** byte 6 bit 6 */
  blank: boolean;
  /** byte 6 bit 5 Packet/Inc */
  packet: boolean;
  /** byte 6 bit 4 FP: fixed packets */
  fixedPacket: boolean;
  /** byte 6 bits 0..3: data mode (1 Mode 1, 2 Mode 2, Fh unknown) */
  dataMode: number;
  /** byte 7 bit 1 LRA_V */
  lraValid: boolean;
  /** byte 7 bit 0 NWA_V */
  nwaValid: boolean;
  /** bytes 8..11 */
  trackStart: number;
  /** bytes 12..15 */
  nextWritable: number;
  /** bytes 16..19 */
  freeBlocks: number;
  /** bytes 20..23: fixed packet size (CD) or blocking factor (DVD-RW restricted overwrite: 16) */
  fixedPacketSize: number;
  /** bytes 24..27 */
  trackSize: number;
  /** bytes 28..31 */
  lastRecorded: number;
}

/** MMC-6 track information is 48 bytes (data length field 46). */
export const TRACK_INFORMATION_LENGTH = 48;

export function decodeTrackInformation(b: Buffer): TrackInformation {
  const at = (i: number) => (i < b.length ? b[i] : 0);
  const u32 = (i: number) => (i + 4 <= b.length ? b.readUInt32BE(i) : 0);
  return {
    trackNumber: at(2) | (at(32) << 8),
    sessionNumber: at(3) | (at(33) << 8),
    damage: (at(5) & 0x20) !== 0,
    copy: (at(5) & 0x10) !== 0,
    trackMode: at(5) & 0x0f,
    reservedTrack: (at(6) & 0x80) !== 0,
    blank: (at(6) & 0x40) !== 0,
    packet: (at(6) & 0x20) !== 0,
    fixedPacket: (at(6) & 0x10) !== 0,
    dataMode: at(6) & 0x0f,
    lraValid: (at(7) & 2) !== 0,
    nwaValid: (at(7) & 1) !== 0,
    trackStart: u32(8),
    nextWritable: u32(12),
    freeBlocks: u32(16),
    fixedPacketSize: u32(20),
    trackSize: u32(24),
    lastRecorded: u32(28),
  };
}

export function encodeTrackInformation(t: TrackInformation): Buffer {
  const b = Buffer.alloc(TRACK_INFORMATION_LENGTH);
  b.writeUInt16BE(TRACK_INFORMATION_LENGTH - 2, 0);
  b[2] = t.trackNumber & 0xff;
  b[3] = t.sessionNumber & 0xff;
  b[5] = (t.damage ? 0x20 : 0) | (t.copy ? 0x10 : 0) | (t.trackMode & 0x0f);
  b[6] = (t.reservedTrack ? 0x80 : 0) | (t.blank ? 0x40 : 0) | (t.packet ? 0x20 : 0) | (t.fixedPacket ? 0x10 : 0) | (t.dataMode & 0x0f);
  b[7] = (t.lraValid ? 2 : 0) | (t.nwaValid ? 1 : 0);
  b.writeUInt32BE(t.trackStart >>> 0, 8);
  b.writeUInt32BE(t.nextWritable >>> 0, 12);
  b.writeUInt32BE(t.freeBlocks >>> 0, 16);
  b.writeUInt32BE(t.fixedPacketSize >>> 0, 20);
  b.writeUInt32BE(t.trackSize >>> 0, 24);
  b.writeUInt32BE(t.lastRecorded >>> 0, 28);
  b[32] = t.trackNumber >> 8;
  b[33] = t.sessionNumber >> 8;
  return b;
}
