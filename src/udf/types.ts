/**
 * The UDF volume as the layers above see it. src/fuse/ and bin/ use only this
 * interface; everything else in src/udf/ is private to the UDF layer.
 */

export interface UdfMountOptions {
  /** Logical block size; detected (512, 1024, 2048, 4096) when absent. `-o bs=` */
  blockSize?: number;
  /** Session to mount, counted from 1 in the order they are on the disc; last when absent. `-o session=` */
  session?: number;
  /** Owner for files whose uid on the disc is -1 (and, with `forceUid`, for all files). `-o uid=` */
  uid?: number;
  gid?: number;
  /** Mask applied to every permission. `-o umask=` */
  umask?: number;
  /** Show entries marked hidden. */
  unhide?: boolean;
  /** Try this anchor location first (blocks). `-o anchor=` */
  anchor?: number;
  /** Override the last block of the medium. `-o lastblock=` */
  lastBlock?: number;
  /** Mount read-write when the volume and the medium allow it (else readOnlyReason says why). */
  readWrite?: boolean;
  /** Packet size in blocks for packet-aware allocation; the sparing map's, else 32 KiB, when absent. `-o packet=` */
  packetBlocks?: number;
  /** Read-write: settle the volume (LVID closed) after this many ms without changes; never when absent. `-o flush=` */
  idleSettleMs?: number;
  /** Read-write even when the volume was found open (not closed after its last use). `-o force` */
  allowOpen?: boolean;
}

export type PartitionKind = 'physical' | 'sparable' | 'virtual' | 'metadata';
export type IntegrityState = 'open' | 'closed' | 'none';

export interface PartitionInfo {
  /** Index in the LVD's partition maps (the partition reference number). */
  ref: number;
  kind: PartitionKind;
  /** Partition number from the partition descriptor. */
  number: number;
  /** First block and length in blocks of the underlying physical partition. */
  start: number;
  length: number;
  /** 'read-only' | 'write-once' | 'rewritable' | 'overwritable' | 'pseudo-overwritable' | 'unknown' */
  accessType: string;
  /** Sparable: packet length in blocks and number of sparing entries in use / total. */
  packetLength?: number;
  sparingUsed?: number;
  sparingTotal?: number;
}

/**
 * Defect management of a sparable partition (UDF 2.2.12), kept up to date
 * while mounted: how many spare packets are used and left, and the map.
 */
export interface SparingInfo {
  /** Partition reference number of the sparable partition. */
  partition: number;
  /** Packet length in blocks: what one sparing entry moves. */
  packetLength: number;
  /** Sparing table entries: all, in use (a remapped packet), free spares, spares found defective. */
  total: number;
  used: number;
  free: number;
  defective: number;
  /** Sequence number of the prevailing table; null when no copy was readable. */
  sequenceNum: number | null;
  /** Absolute blocks of the table's copies. */
  tableLocations: number[];
  /** Remapped packets, by original location: first block of the packet (partition-relative) and the absolute block of its spare. */
  map: { original: number; mapped: number }[];
  /** Packets remapped since the mount. */
  remappedThisMount: number;
  /** No spare was left when one was needed: the volume turned read-only. */
  exhausted: boolean;
}

export interface VolumeInfo {
  /** Logical volume identifier (what blkid calls LABEL). */
  label: string;
  /** Volume identifier, volume set identifier, application and publisher (PVD / IUVD), as UTF-8. */
  volumeId: string;
  volumeSetId: string;
  applicationId: string;
  publisherId: string;
  /** UUID as blkid derives it from the volume set identifier. */
  uuid: string;
  /** Revision as "2.01": the LVID's minimum UDF read revision, else the domain identifier's suffix. */
  revision: string;
  minUdfReadRev: number;
  minUdfWriteRev: number;
  maxUdfWriteRev: number;
  blockSize: number;
  /** Session actually mounted (1-based) and how many were found. */
  session: number;
  sessions: number;
  partitions: PartitionInfo[];
  integrity: IntegrityState;
  numFiles: number;
  numDirs: number;
  /** In logical blocks, as udfinfo reports them (usedblocks/freeblocks over the data partition). */
  totalBlocks: number;
  freeBlocks: number;
  /** Why this volume cannot be written, or undefined if it can. */
  readOnlyReason?: string;
  /** The sparable partition's defect management; absent on volumes without one. */
  sparing?: SparingInfo;
  /** Human-readable warnings found at mount (volume open, reserve sequence used, ...). */
  warnings: string[];
}

export interface Attr {
  /** Stable inode number derived from the ICB location. */
  ino: number;
  /** Full st_mode: type bits and permission bits. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** 512-byte blocks recorded. */
  blocks: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
}

/** Attr with its times as milliseconds since the epoch (what a FUSE getattr answer packs: no Date objects). */
export interface AttrMs {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface DirEntry {
  /** Name as UTF-8, already made showable by the OSTA rules. */
  name: string;
  ino: number;
}

/**
 * A file's data as a file descriptor holds it (Volume.directMap): `runs` are triples of file
 * offset, length and byte offset in `fd` (-1: bytes that read as zeros), in file order, covering
 * the file from 0 to `size`.
 */
export interface DirectMap {
  fd: number;
  size: number;
  runs: Float64Array;
}

export interface Volume {
  readonly info: VolumeInfo;
  /** Inode number of the root directory. */
  readonly rootIno: number;
  /** Throws FsError ENOENT when absent, ENOTDIR when dirIno is not a directory, EIO when damaged. */
  lookup(dirIno: number, name: string): Promise<number>;
  /**
   * lookup, answering undefined for a name that is not there instead of throwing ENOENT: the
   * kernel's lookup before every create misses, and an exception per miss cost ~25 µs (issue 6).
   * Other failures throw as lookup's do.
   */
  find?(dirIno: number, name: string): Promise<number | undefined>;
  getattr(ino: number): Promise<Attr>;
  /**
   * Optional: getattr answered at once, when that needs no wait (the node is cached and no
   * operation is queued or running); undefined otherwise, and then getattr answers. The same
   * attributes, times as milliseconds (issue 6: a getattr of a cached node cost promise ticks).
   */
  attrNow?(ino: number): AttrMs | undefined;
  /** Entries without "." and "..". */
  readdir(dirIno: number): Promise<DirEntry[]>;
  /** Up to `length` bytes from `offset`; fewer at the end of the file. */
  read(ino: number, offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: read() into `into` (at least `length` bytes), returning the count read.
   * Bytes of `into` past the count may be overwritten (up to the end of the last block).
   * Nothing is written into `into` once the promise has settled.
   */
  readInto?(ino: number, offset: number, length: number, into: Buffer): Promise<number>;
  /**
   * Optional: where the data of regular file `ino` lies in one file descriptor right now, for a
   * reader on another thread (the FUSE binding's read fast path, issue 6); undefined when it can't
   * be read that way (data in the entry itself, a cache holding newer data, not an image file).
   * It holds until the next change to the volume.
   */
  directMap?(ino: number): Promise<DirectMap | undefined>;
  readlink(ino: number): Promise<string>;
  close(): Promise<void>;
}

/** Attributes a caller may change; absent fields stay as they are. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: Date;
  mtime?: Date;
  /**
   * The change's time (attribute time, st_ctime) instead of now: what the FUSE binding already
   * showed for a setattr it answered itself (src/fuse/fast-setattr.ts).
   */
  ctime?: Date;
}

/**
 * A volume mounted read-write (`openVolume(dev, { ...opts, readWrite: true })` on a volume pktfs can write).
 * All names are UTF-8 as the FUSE layer gives them; errors are FsError with the errno the operation
 * should answer (ENOENT, EEXIST, ENOTEMPTY, ENOSPC, ENAMETOOLONG, EFBIG, EROFS, EIO, ...).
 */
export interface WritableVolume extends Volume {
  create(dirIno: number, name: string, mode: number, uid: number, gid: number): Promise<number>;
  mkdir(dirIno: number, name: string, mode: number, uid: number, gid: number): Promise<number>;
  mknod(dirIno: number, name: string, mode: number, rdev: number, uid: number, gid: number): Promise<number>;
  symlink(dirIno: number, name: string, target: string, uid: number, gid: number): Promise<number>;
  link(ino: number, dirIno: number, name: string): Promise<void>;
  unlink(dirIno: number, name: string): Promise<void>;
  rmdir(dirIno: number, name: string): Promise<void>;
  /** Replaces an existing target as rename(2) does (file over file, empty dir over dir). */
  rename(fromDirIno: number, fromName: string, toDirIno: number, toName: string): Promise<void>;
  /** Writes all of `data` at `offset` (growing the file) and returns data.length. */
  write(ino: number, offset: number, data: Buffer): Promise<number>;
  /** Grows with a sparse (unrecorded) extent or shrinks, freeing space. */
  truncate(ino: number, size: number): Promise<void>;
  setattr(ino: number, attr: SetAttr): Promise<void>;
  /** The file's data and metadata reach the device (and the device's flush) before this resolves. */
  fsync(ino: number): Promise<void>;
  /** Everything reaches the device; the LVID stays open. */
  sync(): Promise<void>;
  /**
   * Everything reaches the device and the LVID is closed with its counts, so the
   * disc is consistent as it stands (`.pktinfo/flush`, and after `idleSettleMs`
   * without changes); the next change marks it open again.
   */
  settle(): Promise<void>;
  /** A write that failed in the background and is not reported yet (close(2) answers it), looked at without writing. */
  writeError(): Error | undefined;
  /**
   * Optional: call `cb`, on this thread, as soon as writeError() may have become set (a write
   * failed in the background). False, and `cb` never called, when the volume can't tell.
   */
  watchWriteErrors?(cb: () => void): boolean;
  /**
   * Optional: `e` is the failure of a write no caller waits for any more (src/fuse/write-behind.ts
   * answered it before it ran): writeError() reports it from now on, fsync and close throw it
   * once, and the watchers of watchWriteErrors hear of it.
   */
  deferWriteError?(e: unknown): void;
  /**
   * Called when what getattr answers for `ino` changed without an operation on it (storing an
   * entry can change its count of allocation extent blocks); set by src/fuse, whose attribute
   * cache must then forget it.
   */
  onAttrChange?: (ino: number) => void;
  /** Optional: the mask `-o umask=` takes away from every permission getattr shows. */
  readonly umask?: number;
}

export function isWritable(v: Volume): v is WritableVolume {
  return typeof (v as Partial<WritableVolume>).write === 'function' && !v.info.readOnlyReason;
}
