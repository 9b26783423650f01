/**
 * Command descriptor blocks for the MMC commands pktfs sends. One builder per
 * command; byte positions follow MMC-6 chapter 6 (and SPC-4 for INQUIRY,
 * REQUEST SENSE, TEST UNIT READY, MODE SENSE/SELECT(10)).
 */
import { Op } from './opcodes';

function cdb(len: number, op: number): Buffer {
  const b = Buffer.alloc(len);
  b[0] = op;
  return b;
}

/** SPC-4 6.37 */
export function testUnitReady(): Buffer {
  return cdb(6, Op.TEST_UNIT_READY);
}

/** SPC-4 6.29: byte 1 bit 0 DESC asks for descriptor-format sense. */
export function requestSense(alloc: number, descriptor = false): Buffer {
  const b = cdb(6, Op.REQUEST_SENSE);
  b[1] = descriptor ? 1 : 0;
  b[4] = alloc;
  return b;
}

/** SPC-4 6.4: allocation length at bytes 3..4. */
export function inquiry(alloc: number): Buffer {
  const b = cdb(6, Op.INQUIRY);
  b.writeUInt16BE(alloc, 3);
  return b;
}

/** MMC-6 6.6: RT (0 all, 1 current, 2 one), starting feature, allocation length. */
export function getConfiguration(rt: 0 | 1 | 2, startFeature: number, alloc: number): Buffer {
  const b = cdb(10, Op.GET_CONFIGURATION);
  b[1] = rt;
  b.writeUInt16BE(startFeature, 2);
  b.writeUInt16BE(alloc, 7);
  return b;
}

/** MMC-6 6.23 */
export function readCapacity(): Buffer {
  return cdb(10, Op.READ_CAPACITY);
}

/** MMC-6 6.22: data type 000b (standard disc information). */
export function readDiscInformation(alloc: number): Buffer {
  const b = cdb(10, Op.READ_DISC_INFORMATION);
  b.writeUInt16BE(alloc, 7);
  return b;
}

/** MMC-6 6.27: address type 0 LBA, 1 track number, 2 session number. */
export function readTrackInformation(addressType: 0 | 1 | 2, number: number, alloc: number): Buffer {
  const b = cdb(10, Op.READ_TRACK_INFORMATION);
  b[1] = addressType;
  b.writeUInt32BE(number >>> 0, 2);
  b.writeUInt16BE(alloc, 7);
  return b;
}

/** SPC-4 6.12: DBD set (no block descriptors), PC in bits 6..7 of byte 2. */
export function modeSense10(page: number, pc: 0 | 1 | 2 | 3, alloc: number): Buffer {
  const b = cdb(10, Op.MODE_SENSE_10);
  b[1] = 0x08;
  b[2] = (pc << 6) | (page & 0x3f);
  b.writeUInt16BE(alloc, 7);
  return b;
}

/** SPC-4 6.10: PF set, as pktcdvd and cdrwtool send it. */
export function modeSelect10(paramLength: number): Buffer {
  const b = cdb(10, Op.MODE_SELECT_10);
  b[1] = 0x10;
  b.writeUInt16BE(paramLength, 7);
  return b;
}

/** MMC-6 6.15 / 6.44: READ(10) and WRITE(10), 16-bit transfer length in blocks. */
export function read10(lba: number, count: number): Buffer {
  const b = cdb(10, Op.READ_10);
  b.writeUInt32BE(lba >>> 0, 2);
  b.writeUInt16BE(count, 7);
  return b;
}
export function write10(lba: number, count: number): Buffer {
  const b = cdb(10, Op.WRITE_10);
  b.writeUInt32BE(lba >>> 0, 2);
  b.writeUInt16BE(count, 7);
  return b;
}

/** MMC-6 6.16 / 6.45: READ(12) and WRITE(12), 32-bit transfer length. */
export function read12(lba: number, count: number): Buffer {
  const b = cdb(12, Op.READ_12);
  b.writeUInt32BE(lba >>> 0, 2);
  b.writeUInt32BE(count >>> 0, 6);
  return b;
}
export function write12(lba: number, count: number): Buffer {
  const b = cdb(12, Op.WRITE_12);
  b.writeUInt32BE(lba >>> 0, 2);
  b.writeUInt32BE(count >>> 0, 6);
  return b;
}

/** MMC-6 6.41: IMMED is byte 1 bit 1; pktcdvd leaves it off. */
export function synchronizeCache(immed = false): Buffer {
  const b = cdb(10, Op.SYNCHRONIZE_CACHE);
  b[1] = immed ? 0x02 : 0;
  return b;
}

/** MMC-6 6.24 */
export function readFormatCapacities(alloc: number): Buffer {
  const b = cdb(10, Op.READ_FORMAT_CAPACITIES);
  b.writeUInt16BE(alloc, 7);
  return b;
}

/** MMC-6 6.5: FmtData (0x10) with format code 001b; the parameter list follows. */
export function formatUnit(): Buffer {
  const b = cdb(6, Op.FORMAT_UNIT);
  b[1] = 0x11;
  return b;
}

/** MMC-6 6.2: blanking type in bits 0..2 of byte 1 (0 full, 1 minimal), IMMED bit 4. */
export function blank(type: number, immed = false): Buffer {
  const b = cdb(12, Op.BLANK);
  b[1] = (immed ? 0x10 : 0) | (type & 7);
  return b;
}

/** MMC-6 6.39: read and write speed in kB/s, 0xFFFF = as fast as possible. */
export function setCdSpeed(readKBs: number, writeKBs: number): Buffer {
  const b = cdb(12, Op.SET_CD_SPEED);
  b.writeUInt16BE(Math.min(readKBs, 0xffff), 2);
  b.writeUInt16BE(Math.min(writeKBs, 0xffff), 4);
  return b;
}

/** MMC-6 6.40: type 0 (performance descriptor) at byte 8, parameter list length at 9..10. */
export function setStreaming(paramLength: number): Buffer {
  const b = cdb(12, Op.SET_STREAMING);
  b.writeUInt16BE(paramLength, 9);
  return b;
}

/** SPC-4 6.13 / MMC-6 6.12: byte 4 bit 0 Prevent. */
export function preventAllowMediumRemoval(prevent: boolean): Buffer {
  const b = cdb(6, Op.PREVENT_ALLOW_MEDIUM_REMOVAL);
  b[4] = prevent ? 1 : 0;
  return b;
}

/** MMC-6 6.7: polled (byte 1 bit 0), notification class request mask at byte 4. */
export function getEventStatusNotification(classes: number, alloc: number): Buffer {
  const b = cdb(10, Op.GET_EVENT_STATUS_NOTIFICATION);
  b[1] = 1;
  b[4] = classes;
  b.writeUInt16BE(alloc, 7);
  return b;
}

/** MMC-6 6.3: close function in byte 2 bits 0..2 (1 track, 2 session/finalise), track number 4..5. */
export function closeTrackSession(fn: number, track: number, immed = false): Buffer {
  const b = cdb(10, Op.CLOSE_TRACK_SESSION);
  b[1] = immed ? 1 : 0;
  b[2] = fn & 7;
  b.writeUInt16BE(track, 4);
  return b;
}

/** MMC-6 6.38: LoEj (bit 1) with Start (bit 0) clear ejects, with Start set loads. */
export function startStopUnit(loadEject: boolean, start: boolean): Buffer {
  const b = cdb(6, Op.START_STOP_UNIT);
  b[4] = (loadEject ? 2 : 0) | (start ? 1 : 0);
  return b;
}

/** Transfer length and LBA of a READ/WRITE(10|12) CDB (used by the emulated drive and logs). */
export function rwAddress(c: Buffer): { lba: number; count: number } {
  const lba = c.readUInt32BE(2);
  const count = c[0] === Op.READ_12 || c[0] === Op.WRITE_12 ? c.readUInt32BE(6) : c.readUInt16BE(7);
  return { lba, count };
}
