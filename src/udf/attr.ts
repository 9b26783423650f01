/**
 * File attributes from a file entry: ECMA-167 4/14.6.6 file types and
 * 4/14.9.5 permissions to a POSIX st_mode, uid/gid -1 to the mount's owner
 * (UDF 3.3.3.1/2), timestamps, and the inode number derived from the ICB location.
 */
import type { Attr, AttrMs } from './types';
import type { LbAddr } from './codec/primitives';
import type { FileEntry } from './icb';
import {
  FT_DIRECTORY, FT_SYMLINK, FT_BLOCK, FT_CHAR, FT_FIFO, FT_SOCKET, FT_STREAMDIR,
  ICB_FLAG_SETUID, ICB_FLAG_SETGID, ICB_FLAG_STICKY,
} from './codec/file';
import { timestampToMs } from './time';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFBLK = 0o060000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

/** UDF 3.3.3.1: 0xFFFFFFFF ("-1") on the disc means "no owner recorded". */
const NO_ID = 0xffffffff;
const TWO_32 = 0x100000000;

/** Stable inode number of the ICB at `loc` (partition ref and block); never 0. */
export function inoOf(loc: LbAddr): number {
  return loc.partitionReferenceNum * TWO_32 + loc.logicalBlockNum + 1;
}

export function locOf(ino: number): LbAddr {
  const v = ino - 1;
  return { partitionReferenceNum: Math.floor(v / TWO_32), logicalBlockNum: v % TWO_32 };
}

export function typeBits(fileType: number): number {
  switch (fileType) {
    case FT_DIRECTORY: case FT_STREAMDIR: return S_IFDIR;
    case FT_SYMLINK: return S_IFLNK;
    case FT_BLOCK: return S_IFBLK;
    case FT_CHAR: return S_IFCHR;
    case FT_FIFO: return S_IFIFO;
    case FT_SOCKET: return S_IFSOCK;
    default: return S_IFREG;
  }
}

/** 4/14.9.5: other in bits 0-2, group in 5-7, owner in 10-12 (read/write/execute each). */
export function permissionsToMode(permissions: number, icbFlags: number): number {
  let mode = (permissions & 7) | (((permissions >> 5) & 7) << 3) | (((permissions >> 10) & 7) << 6);
  if (icbFlags & ICB_FLAG_SETUID) mode |= 0o4000;
  if (icbFlags & ICB_FLAG_SETGID) mode |= 0o2000;
  if (icbFlags & ICB_FLAG_STICKY) mode |= 0o1000;
  return mode;
}

export interface OwnerOptions {
  uid: number;
  gid: number;
  umask: number;
}

export function entryToAttr(ino: number, e: FileEntry, blockSize: number, o: OwnerOptions): Attr {
  const { atimeMs, mtimeMs, ctimeMs, ...rest } = entryToAttrMs(ino, e, blockSize, o);
  return { ...rest, atime: new Date(atimeMs), mtime: new Date(mtimeMs), ctime: new Date(ctimeMs) };
}

/** The attributes of an entry, times as milliseconds (AttrMs): no Date objects, for the getattr answer. */
export function entryToAttrMs(ino: number, e: FileEntry, blockSize: number, o: OwnerOptions): AttrMs {
  const mode = typeBits(e.icbTag.fileType) | (permissionsToMode(e.permissions, e.icbTag.flags) & ~o.umask & 0o7777);
  return {
    ino,
    mode,
    nlink: Math.max(1, e.fileLinkCount),
    uid: e.uid === NO_ID ? o.uid : e.uid,
    gid: e.gid === NO_ID ? o.gid : e.gid,
    size: e.informationLength,
    blocks: Math.ceil((e.logicalBlocksRecorded * blockSize) / 512),
    atimeMs: timestampToMs(e.accessTime),
    mtimeMs: timestampToMs(e.modificationTime),
    ctimeMs: timestampToMs(e.attrTime),
  };
}
