/**
 * Sense data: decoding the fixed (SPC-4 4.5.3, response codes 70h/71h) and
 * descriptor (SPC-4 4.5.2, 72h/73h) formats into key/ASC/ASCQ with names, the
 * ScsiError that carries them up as an FsError, and an encoder the emulated
 * drive uses to answer like a real one.
 *
 * ASC/ASCQ names follow SPC-4 Annex D and MMC-6 Annex F; the errno chosen for
 * each is what a filesystem caller should see (ENOMEDIUM for "no disc",
 * EROFS for write protection and media that cannot be written).
 */
import { FsError, type ErrnoName } from '../../errors';

/** Sense keys, SPC-4 table 48. */
export const SenseKey = {
  NO_SENSE: 0x0,
  RECOVERED_ERROR: 0x1,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  ABORTED_COMMAND: 0xb,
} as const;

const SENSE_KEY_NAMES = [
  'NO SENSE', 'RECOVERED ERROR', 'NOT READY', 'MEDIUM ERROR', 'HARDWARE ERROR', 'ILLEGAL REQUEST',
  'UNIT ATTENTION', 'DATA PROTECT', 'BLANK CHECK', 'VENDOR SPECIFIC', 'COPY ABORTED', 'ABORTED COMMAND',
  'RESERVED 0C', 'VOLUME OVERFLOW', 'MISCOMPARE', 'COMPLETED',
];

export function senseKeyName(key: number): string {
  return SENSE_KEY_NAMES[key & 0xf];
}

/** ASC/ASCQ pairs pktfs meets on optical drives; key is (asc << 8) | ascq. */
const ASC_NAMES = new Map<number, string>([
  [0x0000, 'NO ADDITIONAL SENSE INFORMATION'],
  [0x0400, 'LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE'],
  [0x0401, 'LOGICAL UNIT IS IN PROCESS OF BECOMING READY'],
  [0x0402, 'LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED'],
  [0x0404, 'LOGICAL UNIT NOT READY, FORMAT IN PROGRESS'],
  [0x0407, 'LOGICAL UNIT NOT READY, OPERATION IN PROGRESS'],
  [0x0408, 'LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS'],
  [0x0c00, 'WRITE ERROR'],
  [0x0c01, 'WRITE ERROR - RECOVERED WITH AUTO REALLOCATION'],
  [0x0c02, 'WRITE ERROR - AUTO REALLOCATION FAILED'],
  [0x0c03, 'WRITE ERROR - RECOMMEND REASSIGNMENT'],
  [0x0c07, 'WRITE ERROR - RECOVERY NEEDED'],
  [0x0c08, 'WRITE ERROR - RECOVERY FAILED'],
  [0x0c09, 'WRITE ERROR - LOSS OF STREAMING'],
  [0x1100, 'UNRECOVERED READ ERROR'],
  [0x1101, 'READ RETRIES EXHAUSTED'],
  [0x1105, 'L-EC UNCORRECTABLE ERROR'],
  [0x1106, 'CIRC UNRECOVERED ERROR'],
  [0x1a00, 'PARAMETER LIST LENGTH ERROR'],
  [0x2000, 'INVALID COMMAND OPERATION CODE'],
  [0x2100, 'LOGICAL BLOCK ADDRESS OUT OF RANGE'],
  [0x2102, 'INVALID ADDRESS FOR WRITE'],
  [0x2400, 'INVALID FIELD IN CDB'],
  [0x2600, 'INVALID FIELD IN PARAMETER LIST'],
  [0x2700, 'WRITE PROTECTED'],
  [0x2800, 'NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED'],
  [0x2900, 'POWER ON, RESET, OR BUS DEVICE RESET OCCURRED'],
  [0x2a01, 'MODE PARAMETERS CHANGED'],
  [0x2c00, 'COMMAND SEQUENCE ERROR'],
  [0x3000, 'INCOMPATIBLE MEDIUM INSTALLED'],
  [0x3001, 'CANNOT READ MEDIUM - UNKNOWN FORMAT'],
  [0x3002, 'CANNOT READ MEDIUM - INCOMPATIBLE FORMAT'],
  [0x3004, 'CANNOT WRITE MEDIUM - UNKNOWN FORMAT'],
  [0x3005, 'CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT'],
  [0x3006, 'CANNOT FORMAT MEDIUM - INCOMPATIBLE MEDIUM'],
  [0x3100, 'MEDIUM FORMAT CORRUPTED'],
  [0x3101, 'FORMAT COMMAND FAILED'],
  [0x3200, 'NO DEFECT SPARE LOCATION AVAILABLE'],
  [0x3a00, 'MEDIUM NOT PRESENT'],
  [0x3a01, 'MEDIUM NOT PRESENT - TRAY CLOSED'],
  [0x3a02, 'MEDIUM NOT PRESENT - TRAY OPEN'],
  [0x5302, 'MEDIUM REMOVAL PREVENTED'],
  [0x5d01, 'FAILURE PREDICTION THRESHOLD EXCEEDED - MEDIA'],
  [0x5d03, 'FAILURE PREDICTION THRESHOLD EXCEEDED - SPARE AREA EXHAUSTION'],
  [0x6400, 'ILLEGAL MODE FOR THIS TRACK'],
  [0x6401, 'INVALID PACKET SIZE'],
  [0x7200, 'SESSION FIXATION ERROR'],
  [0x7300, 'CD CONTROL ERROR'],
  [0x7302, 'POWER CALIBRATION AREA IS FULL'],
]);

/** Name of an ASC/ASCQ pair; unknown pairs read "ASC 0xNN ASCQ 0xNN". */
export function ascName(asc: number, ascq: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0').toUpperCase();
  return ASC_NAMES.get((asc << 8) | ascq) ?? `ASC ${hex(asc)}h ASCQ ${hex(ascq)}h`;
}

export interface Sense {
  key: number;
  asc: number;
  ascq: number;
  /** INFORMATION field (usually the failing LBA) when VALID is set. */
  information?: number;
  /** NOT READY progress indication, 0..65535 of 65536 (SPC-4 4.5.2.4.4), when SKSV is set. */
  progress?: number;
  /** True for deferred errors (response codes 71h/73h): an earlier command failed. */
  deferred: boolean;
}

/** Decode sense data in either format; returns undefined for empty or unrecognised data. */
export function decodeSense(buf: Buffer): Sense | undefined {
  if (buf.length < 2) return undefined;
  const code = buf[0] & 0x7f;
  if (code === 0x70 || code === 0x71) {
    // SPC-4 4.5.3 fixed format
    if (buf.length < 3) return undefined;
    const s: Sense = {
      key: buf[2] & 0x0f,
      asc: buf.length > 12 ? buf[12] : 0,
      ascq: buf.length > 13 ? buf[13] : 0,
      deferred: code === 0x71,
    };
    if (buf[0] & 0x80 && buf.length >= 7) s.information = buf.readUInt32BE(3);
    if (buf.length >= 18 && buf[15] & 0x80 && s.key === SenseKey.NOT_READY) s.progress = buf.readUInt16BE(16);
    return s;
  }
  if (code === 0x72 || code === 0x73) {
    // SPC-4 4.5.2 descriptor format
    if (buf.length < 4) return undefined;
    const s: Sense = { key: buf[1] & 0x0f, asc: buf[2], ascq: buf[3], deferred: code === 0x73 };
    const end = Math.min(buf.length, 8 + (buf.length > 7 ? buf[7] : 0));
    for (let p = 8; p + 2 <= end; p += 2 + buf[p + 1]) {
      const type = buf[p];
      if (type === 0x00 && p + 12 <= end && buf[p + 2] & 0x80) {
        // information descriptor, SPC-4 4.5.2.2: 8-byte INFORMATION
        s.information = Number(buf.readBigUInt64BE(p + 4));
      } else if (type === 0x02 && p + 8 <= end && buf[p + 4] & 0x80 && s.key === SenseKey.NOT_READY) {
        // sense key specific descriptor, SPC-4 4.5.2.3
        s.progress = buf.readUInt16BE(p + 5);
      }
    }
    return s;
  }
  return undefined;
}

/** Encode sense data the way a drive would (fixed format unless `descriptor`). */
export function encodeSense(
  key: number, asc: number, ascq: number,
  opts: { information?: number; progress?: number; descriptor?: boolean } = {},
): Buffer {
  if (opts.descriptor) {
    const descs: Buffer[] = [];
    if (opts.information !== undefined) {
      const d = Buffer.alloc(12);
      d[0] = 0x00; d[1] = 0x0a; d[2] = 0x80;
      d.writeBigUInt64BE(BigInt(opts.information), 4);
      descs.push(d);
    }
    if (opts.progress !== undefined) {
      const d = Buffer.alloc(8);
      d[0] = 0x02; d[1] = 0x06; d[4] = 0x80;
      d.writeUInt16BE(opts.progress, 5);
      descs.push(d);
    }
    const head = Buffer.alloc(8);
    head[0] = 0x72; head[1] = key; head[2] = asc; head[3] = ascq;
    const body = Buffer.concat(descs);
    head[7] = body.length;
    return Buffer.concat([head, body]);
  }
  const b = Buffer.alloc(18);
  b[0] = 0x70 | (opts.information !== undefined ? 0x80 : 0);
  b[2] = key;
  if (opts.information !== undefined) b.writeUInt32BE(opts.information >>> 0, 3);
  b[7] = 10; // additional sense length: bytes 8..17
  b[12] = asc;
  b[13] = ascq;
  if (opts.progress !== undefined) {
    b[15] = 0x80;
    b.writeUInt16BE(opts.progress, 16);
  }
  return b;
}

/** The errno a caller should see for a sense condition. */
export function senseErrno(key: number, asc: number, ascq: number): ErrnoName {
  if (asc === 0x3a) return 'ENOMEDIUM'; // medium not present, whatever the key
  if (key === SenseKey.UNIT_ATTENTION && asc === 0x28) return 'ENOMEDIUM'; // the disc may not be ours any more
  if (key === SenseKey.DATA_PROTECT) return 'EROFS';
  if (key === SenseKey.ILLEGAL_REQUEST) {
    if (asc === 0x30 && (ascq === 0x04 || ascq === 0x05)) return 'EROFS'; // medium cannot be written
    if (asc === 0x27) return 'EROFS';
    return 'EINVAL';
  }
  void ascq;
  return 'EIO';
}

/** A command that ended in CHECK CONDITION, with its decoded sense. */
export class ScsiError extends FsError {
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
  /** "MEDIUM ERROR: WRITE ERROR" */
  readonly senseName: string;
  readonly opcode: number;
  readonly information?: number;
  /** A deferred error (71h/73h): it belongs to an earlier command, not to this one. */
  readonly deferred: boolean;

  constructor(opcode: number, commandName: string, sense: Sense, where: string) {
    const name = `${senseKeyName(sense.key)}: ${ascName(sense.asc, sense.ascq)}`;
    const code = [sense.key, sense.asc, sense.ascq].map((n) => n.toString(16).padStart(2, '0')).join('/');
    super(senseErrno(sense.key, sense.asc, sense.ascq), `${where}: ${commandName} failed: ${name} (${code})`);
    this.name = 'ScsiError';
    this.key = sense.key;
    this.asc = sense.asc;
    this.ascq = sense.ascq;
    this.senseName = name;
    this.opcode = opcode;
    this.information = sense.information;
    this.deferred = sense.deferred;
  }

  /** True when this is sense key `key` with `asc` (and `ascq` when given). */
  is(key: number, asc?: number, ascq?: number): boolean {
    return this.key === key && (asc === undefined || this.asc === asc) && (ascq === undefined || this.ascq === ascq);
  }
}

export function isScsiError(e: unknown): e is ScsiError {
  return e instanceof ScsiError;
}
