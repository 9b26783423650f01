/**
 * Attribute operations: getattr, access, readlink, statfs.
 */
import { constants as fsc } from 'fs';
import Fuse, { type FuseStat, type FuseStatfs } from 'fuse-native';
import { FsError } from '../errors';
import type { Attr, AttrMs, VolumeInfo } from '../udf/types';
import { type FuseCb, type OpsContext, serve } from './context';
import { errnoOf } from './errno';

/**
 * st_blksize is what cp, cat and friends use as their buffer size; advertising the
 * FUSE max_read (128 KiB) instead of the UDF block size makes them ask in large reads.
 */
export const PREFERRED_IO_SIZE = 131072;

/** Longest file name in bytes: UDF's limit on a file identifier (ECMA-167 4/14.4.5, UDF 2.01 2.3.4.5). */
export const NAME_MAX = 255;

export function toFuseStat(a: Attr): FuseStat {
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    nlink: a.nlink,
    ino: a.ino,
    blocks: a.blocks,
    blksize: PREFERRED_IO_SIZE,
    atime: a.atime,
    mtime: a.mtime,
    ctime: a.ctime,
  };
}

/** toFuseStat of attributes with their times in milliseconds (fuse-native packs numbers as they are). */
export function toFuseStatMs(a: AttrMs): FuseStat {
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    nlink: a.nlink,
    ino: a.ino,
    blocks: a.blocks,
    blksize: PREFERRED_IO_SIZE,
    atime: a.atimeMs,
    mtime: a.mtimeMs,
    ctime: a.ctimeMs,
  };
}

/** statfs as udfinfo counts it: blocks of the data partition, files and directories from the LVID. */
export function toFuseStatfs(info: VolumeInfo): FuseStatfs {
  return {
    bsize: info.blockSize,
    frsize: info.blockSize,
    blocks: info.totalBlocks,
    bfree: info.freeBlocks,
    bavail: info.freeBlocks,
    files: info.numFiles + info.numDirs,
    ffree: 0,
    favail: 0,
    fsid: 0,
    flag: 0,
    namemax: NAME_MAX,
  };
}

export function attrOps(ctx: OpsContext) {
  /**
   * The attributes of `ino` when the volume has them at hand with nothing queued before
   * (Volume.attrNow): answered in this tick, without serve()'s promises (issue 6: a getattr
   * of a cached node cost four promise ticks; a tree copy asks ~19,000 times, counting the
   * ones a create or setattr answers with).
   */
  const now = (ino: number | undefined): FuseStat | undefined => {
    if (ino === undefined) return undefined;
    const a = ctx.volume.attrNow?.(ino);
    return a ? toFuseStatMs(a) : undefined;
  };
  return {
    getattr(path: string, cb: FuseCb): void {
      const st = now(ctx.resolver.cached(path));
      if (st) return cb(0, st);
      serve(cb, 'getattr', path, async () => {
        // The kernel's lookup of a name about to be created comes here and misses: no exception for that.
        const ino = await ctx.resolver.find(path);
        if (ino === undefined) return [errnoOf('ENOENT')];
        return [0, toFuseStat(await ctx.volume.getattr(ino))];
      });
    },

    /** With a handle: the file it was opened on, even if renamed since. */
    fgetattr(path: string, fh: number, cb: FuseCb): void {
      const st = now(ctx.file(fh)?.ino ?? ctx.resolver.cached(path));
      if (st) return cb(0, st);
      serve(cb, 'fgetattr', path, async () => {
        const ino = ctx.file(fh)?.ino ?? await ctx.resolver.resolve(path);
        return [0, toFuseStat(await ctx.volume.getattr(ino))];
      });
    },

    access(path: string, mode: number, cb: FuseCb): void {
      serve(cb, 'access', path, async () => {
        await ctx.resolver.resolve(path);
        if (ctx.readOnly && (mode & fsc.W_OK) !== 0) return [Fuse.EROFS];
        return [0];
      });
    },

    readlink(path: string, cb: FuseCb): void {
      serve(cb, 'readlink', path, async () => {
        const ino = await ctx.resolver.resolve(path);
        const attr = await ctx.volume.getattr(ino);
        if ((attr.mode & fsc.S_IFMT) !== fsc.S_IFLNK) throw new FsError('EINVAL', `${path} is not a symbolic link`);
        return [0, await ctx.volume.readlink(ino)];
      });
    },

    statfs(path: string, cb: FuseCb): void {
      serve(cb, 'statfs', path, async () => [0, toFuseStatfs(ctx.volume.info)]);
    },
  };
}
