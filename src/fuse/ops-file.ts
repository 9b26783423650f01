/**
 * File operations: open, read, release. A handle remembers the inode, so reads don't
 * resolve the path again (and keep working on a file that is open while renamed, later).
 */
import { constants as fsc } from 'fs';
import Fuse from 'fuse-native';
import { FsError } from '../errors';
import { type FuseCb, type OpsContext, serve } from './context';
import { toErrno } from './errno';
import { opensForWrite } from './ops-write';


export function fileOps(ctx: OpsContext) {
  return {
    open(path: string, flags: number, cb: FuseCb): void {
      // A cached path of a cached node with nothing queued (Volume.attrNow): answered in this
      // tick, the same checks in the same order as below (issue 6: open+close rates).
      const known = ctx.resolver.cached(path);
      const now = known !== undefined ? ctx.volume.attrNow?.(known) : undefined;
      if (now) {
        if (opensForWrite(flags) && ctx.readOnly) return cb(Fuse.EROFS);
        if ((now.mode & fsc.S_IFMT) === fsc.S_IFDIR) return cb(toErrno(new FsError('EISDIR', `${path} is a directory`), 'open', path));
        return cb(0, ctx.addFile({ ino: known!, path }));
      }
      serve(cb, 'open', path, async () => {
        const ino = await ctx.resolver.resolve(path);
        if (opensForWrite(flags) && ctx.readOnly) return [Fuse.EROFS];
        const attr = await ctx.volume.getattr(ino);
        if ((attr.mode & fsc.S_IFMT) === fsc.S_IFDIR) throw new FsError('EISDIR', `${path} is a directory`);
        return [0, ctx.addFile({ ino, path })];
      });
    },

    read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCb): void {
      serve(cb, 'read', path, async () => {
        const file = ctx.file(fh);
        if (!file) throw new FsError('EBADF', `read of ${path}: no open handle ${fh}`);
        const vol = ctx.volume;
        // Straight into the kernel's buffer where the volume can (no buffer of our own, one copy less).
        if (vol.readInto && buf.length >= len) return [await vol.readInto(file.ino, pos, len, buf)];
        const data = await vol.read(file.ino, pos, len);
        const n = Math.min(data.length, len);
        data.copy(buf, 0, 0, n);
        return [n];
      });
    },

    release(path: string, fh: number, cb: FuseCb): void {
      ctx.removeFile(fh);
      cb(0);
    },
  };
}
