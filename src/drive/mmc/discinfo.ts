/**
 * READ DISC INFORMATION standard data (MMC-6 6.22.3.1, table 327), the fields
 * pktcdvd and pktfs look at.
 */

export const DiscStatus = { EMPTY: 0, INCOMPLETE: 1, COMPLETE: 2, OTHER: 3 } as const;
export const SessionState = { EMPTY: 0, INCOMPLETE: 1, RESERVED: 2, COMPLETE: 3 } as const;

export interface DiscInformation {
  /** byte 2 bit 4 */
  erasable: boolean;
  /** byte 2 bits 2..3: state of the last session (SessionState) */
  lastSessionState: number;
  /** byte 2 bits 0..1 (DiscStatus) */
  discStatus: number;
  /** byte 3 */
  firstTrack: number;
  /** bytes 4 and 9: number of sessions (lsb, msb) */
  sessions: number;
  /** bytes 5 and 10: first track in last session */
  firstTrackInLastSession: number;
  /** bytes 6 and 11: last track in last session */
  lastTrackInLastSession: number;
  /** byte 7 bit 5 URU: unrestricted use */
  unrestrictedUse: boolean;
  /** byte 7 bit 2 Dbit: MRW dirty / DVD+RW formatting incomplete */
  dbit: boolean;
  /** byte 7 bits 0..1: background format status (0 none, 1 started not running, 2 in progress, 3 complete) */
  bgFormatStatus: number;
  /** byte 8: CD disc type (00h CD-DA/CD-ROM, 20h CD-ROM XA, FFh undefined) */
  discType: number;
  /** bytes 16..19: last session lead-in start (MSF on CD, LBA on DVD/BD) */
  lastSessionLeadIn: number;
  /** bytes 20..23: last possible lead-out start */
  lastPossibleLeadOut: number;
}

/** Bytes of standard disc information: disc information length (0..1) is 32 = this minus 2. */
export const DISC_INFORMATION_LENGTH = 34;

export function decodeDiscInformation(b: Buffer): DiscInformation {
  const at = (i: number) => (i < b.length ? b[i] : 0);
  const u32 = (i: number) => (i + 4 <= b.length ? b.readUInt32BE(i) : 0);
  return {
    erasable: (at(2) & 0x10) !== 0,
    lastSessionState: (at(2) >> 2) & 3,
    discStatus: at(2) & 3,
    firstTrack: at(3),
    sessions: at(4) | (at(9) << 8),
    firstTrackInLastSession: at(5) | (at(10) << 8),
    lastTrackInLastSession: at(6) | (at(11) << 8),
    unrestrictedUse: (at(7) & 0x20) !== 0,
    dbit: (at(7) & 0x04) !== 0,
    bgFormatStatus: at(7) & 3,
    discType: at(8),
    lastSessionLeadIn: u32(16),
    lastPossibleLeadOut: u32(20),
  };
}

export function encodeDiscInformation(d: DiscInformation): Buffer {
  const b = Buffer.alloc(DISC_INFORMATION_LENGTH);
  b.writeUInt16BE(DISC_INFORMATION_LENGTH - 2, 0);
  b[2] = (d.erasable ? 0x10 : 0) | ((d.lastSessionState & 3) << 2) | (d.discStatus & 3); // data type 000b
  b[3] = d.firstTrack;
  b[4] = d.sessions & 0xff;
  b[5] = d.firstTrackInLastSession & 0xff;
  b[6] = d.lastTrackInLastSession & 0xff;
  b[7] = (d.unrestrictedUse ? 0x20 : 0) | (d.dbit ? 0x04 : 0) | (d.bgFormatStatus & 3);
  b[8] = d.discType;
  b[9] = d.sessions >> 8;
  b[10] = d.firstTrackInLastSession >> 8;
  b[11] = d.lastTrackInLastSession >> 8;
  b.writeUInt32BE(d.lastSessionLeadIn >>> 0, 16);
  b.writeUInt32BE(d.lastPossibleLeadOut >>> 0, 20);
  return b;
}
