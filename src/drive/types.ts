/**
 * What every drive offers the layers above: a run of equally sized sectors,
 * read and written asynchronously. Image files, block devices, MMC drives over
 * SG_IO and the emulated drive all implement it.
 */
/**
 * What a write holds, as a hint to a write-back cache. 'partial': file data whose last sectors
 * end a file being appended to inside a block (the next append rewrites them). 'directory':
 * metadata of a directory (its entry, its FIDs), which a tree copy changes again later (names
 * added, times set after the contents, tar's symlinks made at the end).
 */
export type WriteKind = 'data' | 'metadata' | 'partial' | 'directory';

/** What a read is for, as a hint to a cache: 'metadata' is a file entry or the like (src/packet reads its whole packet, and keeps it out of its sequential read-ahead). */
export type ReadKind = 'metadata';

/** Where sectors lie in a file descriptor (BlockDevice.directRange). */
export interface DirectRange {
  fd: number;
  offset: number;
}

/** `count` sectors from `lba`. */
export interface SectorRange {
  lba: number;
  count: number;
}

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
  read(lba: number, count: number, kind?: ReadKind): Promise<Buffer>;
  /**
   * Optional: read consecutive sectors from `lba` straight into `targets`, one
   * after another (each a whole number of sectors), as one request; what read()
   * does, without a buffer of its own to copy from. Same errors as read().
   */
  readInto?(lba: number, targets: Buffer[]): Promise<void>;
  /**
   * Write whole sectors starting at `lba`; `data.length` is a multiple of sectorSize. `kind` is a
   * hint for a write-back cache (src/packet): metadata is likely to be written again soon.
   */
  write(lba: number, data: Buffer, kind?: WriteKind): Promise<void>;
  /**
   * Optional: write `sources` (each a whole number of sectors) one after another from `lba`,
   * as one request (pwritev): what write() of their concatenation does, without the copy.
   * Same errors as write(); like write(), done with the buffers when it resolves.
   */
  writev?(lba: number, sources: Buffer[], kind?: WriteKind): Promise<void>;
  /**
   * Optional, for a device that may reorder writes (src/packet): what is now in sectors `first`
   * reaches the medium no later than what is now, or later, in sectors `then` (a file entry
   * before the name that points at it). A device writing in the order it is given needs none.
   */
  order?(first: SectorRange, then: SectorRange): void;
  /**
   * Optional hint, for a device with a cache (src/packet): these sectors will be read soon (the
   * file entries of a directory being listed); read what is not cached in as few requests as
   * it can. Resolves when done; never rejects (a later read of them gets any error).
   */
  prefetch?(ranges: SectorRange[]): Promise<void>;
  /**
   * Make everything written so far durable (fsync / SYNCHRONIZE CACHE). A write-back cache
   * (src/packet) may take `scope` 'data': only what was not written as metadata, a barrier
   * before the entries pointing at it (others flush everything, which is as good).
   */
  flush(scope?: 'data'): Promise<void>;
  /**
   * Optional: where sectors [lba, lba+count) can be read as they are now, straight from a file
   * descriptor by another thread (the FUSE binding's read fast path, issue 6): the descriptor and
   * the byte offset of `lba` in it. Undefined where that would not read what read() does (a cache
   * holding newer data, a remapped packet, a device that is not a plain file). The answer holds
   * until the next write to those sectors.
   */
  directRange?(lba: number, count: number): DirectRange | undefined;
  /** A write that failed in the background and that flush() will report, if any (looked at, not cleared). */
  pendingError?(): Error | undefined;
  /** Optional: call `cb`, on this thread, each time a write fails in the background (pendingError() then reports it). */
  watchErrors?(cb: () => void): void;
  close(): Promise<void>;
}
