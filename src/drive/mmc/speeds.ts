/**
 * Write speeds a drive offers for the loaded disc, for `pktfs info`: GET
 * PERFORMANCE type 03h (MMC-6 6.8, the current way) and, for older drives,
 * the write speed fields of mode page 2Ah (MMC-3 6.3.11, CD/DVD Capabilities
 * and Mechanical Status; obsolete since MMC-5 but still answered by most
 * burners, and what pktcdvd reads). Either may be missing: the emulated drive
 * answers neither, and the caller then says "unknown".
 */
import { isFsError } from '../../errors';
import { ScsiError, SenseKey } from '../scsi/sense';
import type { MmcDrive } from './drive';

/** GET PERFORMANCE operation code (MMC-6 table 8). */
export const GET_PERFORMANCE = 0xac;
/** GET PERFORMANCE Type field: Write Speed descriptors (MMC-6 6.8.2.2). */
export const PERFORMANCE_TYPE_WRITE_SPEED = 0x03;
/** MODE SENSE page code of the capabilities page. */
export const PAGE_CAPABILITIES = 0x2a;

const PERFORMANCE_HEADER_LENGTH = 8;
const WRITE_SPEED_DESCRIPTOR_LENGTH = 16;
const MAX_DESCRIPTORS = 64;

export interface WriteSpeeds {
  /** Speeds in kB/s (1000 bytes/s, as MMC counts), fastest first, without repeats. */
  supportedKBs: number[];
  /** The speed the drive would write at now, when it says (page 2Ah bytes 28..29). */
  currentKBs?: number;
  /** Where the list came from. */
  source: 'get-performance' | 'mode-page-2a';
}

/**
 * GET PERFORMANCE CDB (MMC-6 6.8.2, 12 bytes):
 *   0 opcode ACh, 1 bits 0..4 Data Type (Type 00h only), 2..5 Starting LBA,
 *   8..9 Maximum Number of Descriptors, 10 Type, 11 Control.
 */
export function getPerformanceCdb(type: number, maxDescriptors: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = GET_PERFORMANCE;
  b.writeUInt16BE(maxDescriptors, 8);
  b[10] = type;
  return b;
}

/**
 * Write Speed descriptors after the 8-byte performance header (MMC-6 6.8.2.2):
 * header 0..3 Performance Data Length (bytes after this field);
 * descriptor 0 bits WRC/RDD/Exact/MRW, 4..7 End LBA, 8..11 Read Speed (kB/s),
 * 12..15 Write Speed (kB/s).
 */
export function decodeWriteSpeedDescriptors(b: Buffer): number[] {
  if (b.length < PERFORMANCE_HEADER_LENGTH) return [];
  const end = Math.min(b.length, 4 + b.readUInt32BE(0));
  const speeds: number[] = [];
  for (let p = PERFORMANCE_HEADER_LENGTH; p + WRITE_SPEED_DESCRIPTOR_LENGTH <= end; p += WRITE_SPEED_DESCRIPTOR_LENGTH) {
    const kBs = b.readUInt32BE(p + 12);
    if (kBs > 0) speeds.push(kBs);
  }
  return sortSpeeds(speeds);
}

/**
 * Page 2Ah (MMC-3 table 361): 18..19 maximum write speed (obsolete), 20..21
 * current write speed (obsolete), 28..29 Current Write Speed Selected, 30..31
 * number of Logical Unit Write Speed Performance Descriptors, 32.. descriptors
 * of 4 bytes (byte 1 bits 0..1 rotation control, 2..3 write speed in kB/s).
 */
export function decodeCapabilitiesPage(page: Buffer): { supportedKBs: number[]; currentKBs?: number } {
  const u16 = (i: number): number => (i + 2 <= page.length ? page.readUInt16BE(i) : 0);
  const speeds: number[] = [];
  const n = u16(30);
  for (let i = 0, p = 32; i < n && p + 4 <= page.length; i++, p += 4) {
    if (u16(p + 2) > 0) speeds.push(u16(p + 2));
  }
  if (speeds.length === 0 && u16(18) > 0) speeds.push(u16(18));
  const current = u16(28) || u16(20);
  return { supportedKBs: sortSpeeds(speeds), currentKBs: current || undefined };
}

function sortSpeeds(s: number[]): number[] {
  return [...new Set(s)].sort((a, b) => b - a);
}

/**
 * A drive that does not know the command or page answers ILLEGAL REQUEST, and
 * some answer MODE SENSE with another page: neither is an error here.
 */
async function unlessUnsupported<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ScsiError ? e.key === SenseKey.ILLEGAL_REQUEST : isFsError(e, 'EIO')) return undefined;
    throw e;
  }
}

/** The disc's write speeds as the drive reports them, or undefined when it reports none. */
export async function readWriteSpeeds(drive: MmcDrive): Promise<WriteSpeeds | undefined> {
  const alloc = PERFORMANCE_HEADER_LENGTH + MAX_DESCRIPTORS * WRITE_SPEED_DESCRIPTOR_LENGTH;
  const perf = await unlessUnsupported(drive.run(getPerformanceCdb(PERFORMANCE_TYPE_WRITE_SPEED, MAX_DESCRIPTORS), 'in', alloc));
  const fromPerf = perf ? decodeWriteSpeedDescriptors(perf) : [];
  const page = await unlessUnsupported(drive.modeSense(PAGE_CAPABILITIES));
  const caps = page ? decodeCapabilitiesPage(page) : undefined;
  if (fromPerf.length > 0) return { supportedKBs: fromPerf, currentKBs: caps?.currentKBs, source: 'get-performance' };
  if (caps && caps.supportedKBs.length > 0) return { ...caps, source: 'mode-page-2a' };
  return undefined;
}
