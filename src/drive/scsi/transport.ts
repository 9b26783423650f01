/**
 * The SCSI transport: one command descriptor block in, a status, sense data and
 * the data phase out. Two implementations: SgIoTransport (the SG_IO ioctl on a
 * real /dev/srN or /dev/sgN) and EmulatedDrive (src/drive/emu/).
 *
 * A transport reports what the target said; it does not interpret sense data
 * (that is src/drive/scsi/sense.ts) and does not retry (that is MmcDrive).
 * It throws only when the command could not be delivered at all.
 */

/** Data phase direction, seen from the host. */
export type DataDirection = 'none' | 'in' | 'out';

/** SAM-5 status codes the MMC layer looks at. */
export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  BUSY: 0x08,
} as const;

export interface ScsiResult {
  /** SCSI status byte (SAM-5 5.3): 0 GOOD, 2 CHECK CONDITION, 8 BUSY. */
  status: number;
  /** Sense data returned with CHECK CONDITION (empty otherwise). */
  sense: Buffer;
  /** For direction 'in': the bytes actually transferred (length = requested - residual). */
  data: Buffer;
  /** Bytes requested but not transferred. */
  residual: number;
}

export interface ScsiTransport {
  /** A short human name for messages ("/dev/sr0", "emu cdrw /tmp/x.img"). */
  readonly name: string;
  /** The largest data transfer one command may carry, in bytes, when known (the host's limit). */
  readonly maxTransferBytes?: number;
  /**
   * Send one command. `data` is the buffer to send ('out'), the number of bytes
   * to receive or a buffer to receive into ('in'), or 0 ('none').
   */
  execute(cdb: Buffer, dir: DataDirection, data: Buffer | number, timeoutMs: number): Promise<ScsiResult>;
  close(): Promise<void>;
}
