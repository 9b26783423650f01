/**
 * What every drive offers the layers above: a run of equally sized sectors,
 * read and written asynchronously. Image files, block devices, MMC drives over
 * SG_IO and the emulated drive all implement it.
 */
export interface BlockDevice {
  /** Bytes per sector as the device reports it (2048 for optical media, 512 for most disks). */
  readonly sectorSize: number;
  /** Number of sectors. */
  readonly sectorCount: number;
  /** True when writes will be refused. */
  readonly readOnly: boolean;
  /** A short human description (path, profile). */
  readonly description: string;
  /** Largest write the device takes as one command, in bytes, when it has such a limit (MMC drives). */
  readonly maxTransferBytes?: number;
  /** Read `count` sectors starting at `lba`. Throws FsError('EIO') past the end or on a device error. */
  read(lba: number, count: number): Promise<Buffer>;
  /**
   * Optional: read consecutive sectors from `lba` straight into `targets`, one
   * after another (each a whole number of sectors), as one request; what read()
   * does, without a buffer of its own to copy from. Same errors as read().
   */
  readInto?(lba: number, targets: Buffer[]): Promise<void>;
  /** Write whole sectors starting at `lba`; `data.length` is a multiple of sectorSize. */
  write(lba: number, data: Buffer): Promise<void>;
  /** Make everything written so far durable (fsync / SYNCHRONIZE CACHE). */
  flush(): Promise<void>;
  /** A write that failed in the background and that flush() will report, if any (looked at, not cleared). */
  pendingError?(): Error | undefined;
  close(): Promise<void>;
}
