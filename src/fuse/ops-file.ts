/**
 * File operations: open, read, release. A handle remembers the inode, so reads don't
 * resolve the path again (and keep working on a file that is open while renamed, later).
 */
import { constants as fsc } from 'fs';
import createDebug from 'debug';
import Fuse from 'fuse-native';
import { FsError } from '../errors';
import { type FuseCb, type OpsContext, serve } from './context';
import { toErrno } from './errno';
import { opensForWrite } from './ops-write';

const debug = createDebug('pktfs:fuse:file');

/**
 * Hand the binding where handle `fh`'s file lies in the image, so that its reads are answered
 * without this thread (DirectReads). Best effort: whatever fails, reads come here as before.
 */
async function mapForBinding(ctx: OpsContext, fh: number, ino: number, path: string): Promise<void> {
  const direct = ctx.direct;
  if (!direct || !ctx.volume.directMap) return;
  const gen = direct.gen();
  try {
    const map = await ctx.volume.directMap(ino);
    if (map && !direct.set(fh, gen, map)) debug('%s: map of handle %d refused (changed meanwhile)', path, fh);
  } catch (e) {
    debug('%s: no map for the binding: %s', path, (e as Error).message);
  }
}

/** Whether a handle opened with `flags` on a file with these attributes may have its reads answered by the binding. */
function mappable(ctx: OpsContext, flags: number, attr: { mode: number; size: number }): boolean {
  return !!ctx.direct && !opensForWrite(flags) && (attr.mode & fsc.S_IFMT) === fsc.S_IFREG && attr.size > 0;
}

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
        return cb(0, ctx.addFile({ ino: known!, path, mappable: mappable(ctx, flags, now) }));
      }
      serve(cb, 'open', path, async () => {
        const ino = await ctx.resolver.resolve(path);
        if (opensForWrite(flags) && ctx.readOnly) return [Fuse.EROFS];
        const attr = await ctx.volume.getattr(ino);
        if ((attr.mode & fsc.S_IFMT) === fsc.S_IFDIR) throw new FsError('EISDIR', `${path} is a directory`);
        return [0, ctx.addFile({ ino, path, mappable: mappable(ctx, flags, attr) })];
      });
    },

    read(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCb): void {
      serve(cb, 'read', path, async () => {
        const file = ctx.file(fh, path);
        if (!file) throw new FsError('EBADF', `read of ${path}: no open handle ${fh}`);
        // At the first read, not at open: an open that reads nothing (or one read, all of a
        // small file) costs nothing more; the reads after this one are the binding's.
        if (file.mappable) {
          file.mappable = false;
          await mapForBinding(ctx, fh, file.ino, path);
        }
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
