/**
 * Operations that change the volume, on a read-write mount: create, write,
 * truncate, mkdir, unlink, rmdir, rename, link, symlink, mknod, chmod, chown,
 * utimens, fsync. fuse-native is path based and passes no caller context, so
 * new files belong to the `-o uid=`/`gid=` owner, else to the user who mounted
 * (as with other FUSE filesystems without a context; `cp -a` as root chowns them
 * afterwards). Names the resolver cached are forgotten before a change lands.
 */
import { constants as fsc } from 'fs';
import { FsError } from '../errors';
import type { SetAttr, WritableVolume } from '../udf/types';
import { type FuseCb, type OpsContext, serve } from './context';
import { toErrno } from './errno';

/** What fuse-native puts where a name's bytes are not UTF-8. */
const REPLACEMENT = '\ufffd';

/** chown(2)'s "leave unchanged" (uid_t)-1 as fuse-native hands it over. */
const UNCHANGED_ID = 0xffffffff;

/** Parent path and last component of an absolute path ('/a/b' → ['/a', 'b']). */
export function splitPath(path: string): [string, string] {
  const cut = path.lastIndexOf('/');
  if (cut < 0 || path === '/') throw new FsError('EINVAL', `${path}: not a path to an entry`);
  return [path.slice(0, cut) || '/', path.slice(cut + 1)];
}

/**
 * fuse-native gives utimens times as milliseconds since the epoch (or a Date in some versions);
 * the patched binding gives 2^64-1 for a time to leave as it is (UTIME_OMIT: futimens of one
 * time, as tar x, touch -m and touch -a do), which comes back undefined.
 */
function toDate(t: unknown): Date | undefined {
  if (t instanceof Date) return t;
  if (typeof t === 'number' && Number.isFinite(t) && t < 2 ** 63) return new Date(t);
  return undefined;
}

/** A chmod, chown or utimens the FUSE binding answered itself (fast-setattr.ts), as it hands it over. */
export interface AnsweredSetattr {
  op: 'chmod' | 'chown' | 'utimens';
  path: string;
  /** The inode the binding's attribute cache has for the path. */
  ino: number;
  /** chmod: the mode; chown: uid and gid (0xffffffff: unchanged); utimens: atime and mtime in ms, or undefined to leave. */
  x: number | undefined;
  y: number | undefined;
  /** The ctime the binding showed, in ms. */
  ctimeMs: number;
}

/** What the chmod, chown and utimens ops below (and those the binding answered) ask the volume's setattr for. */
export function setattrOf(op: 'chmod' | 'chown' | 'utimens', x: unknown, y: unknown): SetAttr {
  if (op === 'chmod') return { mode: (x as number) & 0o7777 };
  if (op === 'chown') {
    return {
      uid: (x as number) >>> 0 === UNCHANGED_ID ? undefined : (x as number),
      gid: (y as number) >>> 0 === UNCHANGED_ID ? undefined : (y as number),
    };
  }
  return { atime: toDate(x), mtime: toDate(y) };
}

export interface Owner {
  uid: number;
  gid: number;
}

export function writeOps(ctx: OpsContext, vol: WritableVolume, owner: Owner) {
  /** The parent directory and last name of `path`; `naming`: the name is to be recorded. */
  const parentOf = async (path: string, naming = true): Promise<[number, string]> => {
    const [dir, name] = splitPath(path);
    // fuse-native hands names over as JS strings, invalid UTF-8 already replaced by U+FFFD:
    // such a name would be recorded as something else than asked, so it is refused.
    if (naming && name.includes(REPLACEMENT)) throw new FsError('EINVAL', `${path}: the name is not valid UTF-8 (or holds U+FFFD)`);
    return [await ctx.resolver.resolve(dir), name];
  };
  const inoOf = (path: string, fh?: number): Promise<number> => {
    const file = fh !== undefined ? ctx.file(fh) : undefined;
    return file ? Promise.resolve(file.ino) : ctx.resolver.resolve(path);
  };
  const change = serve;

  /**
   * Make entry `path` with `make` (given its directory and name), and let the resolver know it:
   * the attributes handed back with the answer (fuse.ts withEntryStats) are then found in the
   * same tick, not by a lookup through the volume's queue (issue 6: one per directory copied).
   */
  const makeEntry = async (path: string, make: (dirIno: number, name: string) => Promise<number>): Promise<void> => {
    const [dirIno, name] = await parentOf(path);
    ctx.resolver.forget(path);
    const since = ctx.resolver.mark();
    const ino = await make(dirIno, name);
    ctx.resolver.learn(splitPath(path)[0], [{ name, ino }], since);
  };

  /** Throw (once) the failure of a write of handle `fh` that was answered before it ran. */
  const reportBehind = (fh: number): void => {
    const e = ctx.writeBehind?.take(fh);
    if (e !== undefined) throw e;
  };

  /** flush once the handle's writes have run: answered in this tick, there is nothing to wait for (issue 6: one flush per file copied). */
  const flushNow = (path: string, fh: number, cb: FuseCb): void => {
    let e: Error | undefined;
    try {
      reportBehind(fh);
      e = vol.writeError();
    } catch (thrown) {
      return cb(toErrno(thrown, 'flush', path));
    }
    if (!e) {
      // Nothing to report: the binding may answer the next ones itself until a write fails
      // (or while writes answered before they ran are queued: write-behind.ts turns it on after them).
      if (!ctx.writeBehind?.busy) ctx.fastFlush?.(true);
      ctx.fastSetattr?.resume();
      return cb(0);
    }
    cb(toErrno(e instanceof FsError ? e : new FsError('EIO', e.message), 'flush', path));
  };

  return {
    create(path: string, mode: number, cb: FuseCb): void {
      change(cb, 'create', path, async () => {
        const [dirIno, name] = await parentOf(path);
        ctx.resolver.forget(path);
        const ino = await vol.create(dirIno, name, mode & 0o7777, owner.uid, owner.gid);
        return [0, ctx.addFile({ ino, path })];
      });
    },

    write(path: string, fh: number, buf: Buffer, len: number, pos: number, cb: FuseCb): void {
      // Answered now and run after the operations before it (write-behind.ts), when that is safe.
      if (ctx.writeBehind?.write(fh, pos, len === buf.length ? buf : buf.subarray(0, len))) return cb(len);
      change(cb, 'write', path, async () => {
        const file = ctx.file(fh);
        if (!file) throw new FsError('EBADF', `write of ${path}: no open handle ${fh}`);
        return [await vol.write(file.ino, pos, len === buf.length ? buf : buf.subarray(0, len))];
      });
    },

    truncate(path: string, size: number, cb: FuseCb): void {
      change(cb, 'truncate', path, async () => {
        await vol.truncate(await inoOf(path), size);
        return [0];
      });
    },

    ftruncate(path: string, fh: number, size: number, cb: FuseCb): void {
      change(cb, 'ftruncate', path, async () => {
        await vol.truncate(await inoOf(path, fh), size);
        return [0];
      });
    },

    mkdir(path: string, mode: number, cb: FuseCb): void {
      change(cb, 'mkdir', path, async () => {
        await makeEntry(path, (dirIno, name) => vol.mkdir(dirIno, name, mode & 0o7777, owner.uid, owner.gid));
        return [0];
      });
    },

    mknod(path: string, mode: number, dev: number, cb: FuseCb): void {
      change(cb, 'mknod', path, async () => {
        await makeEntry(path, (dirIno, name) => vol.mknod(dirIno, name, mode, dev, owner.uid, owner.gid));
        return [0];
      });
    },

    symlink(target: string, path: string, cb: FuseCb): void {
      change(cb, 'symlink', path, async () => {
        await makeEntry(path, (dirIno, name) => vol.symlink(dirIno, name, target, owner.uid, owner.gid));
        return [0];
      });
    },

    link(from: string, to: string, cb: FuseCb): void {
      change(cb, 'link', to, async () => {
        const ino = await ctx.resolver.resolve(from);
        const [dirIno, name] = await parentOf(to);
        ctx.resolver.forget(to);
        await vol.link(ino, dirIno, name);
        return [0];
      });
    },

    unlink(path: string, cb: FuseCb): void {
      change(cb, 'unlink', path, async () => {
        const [dirIno, name] = await parentOf(path, false);
        ctx.resolver.forget(path);
        await vol.unlink(dirIno, name);
        return [0];
      });
    },

    rmdir(path: string, cb: FuseCb): void {
      change(cb, 'rmdir', path, async () => {
        const [dirIno, name] = await parentOf(path, false);
        ctx.resolver.forget(path);
        await vol.rmdir(dirIno, name);
        return [0];
      });
    },

    rename(from: string, to: string, cb: FuseCb): void {
      change(cb, 'rename', from, async () => {
        const [fromDir, fromName] = await parentOf(from, false);
        const [toDir, toName] = await parentOf(to);
        ctx.resolver.forget(from);
        ctx.resolver.forget(to);
        await vol.rename(fromDir, fromName, toDir, toName);
        return [0];
      });
    },

    chmod(path: string, mode: number, cb: FuseCb): void {
      change(cb, 'chmod', path, async () => {
        await vol.setattr(await inoOf(path), setattrOf('chmod', mode, undefined));
        return [0];
      });
    },

    chown(path: string, uid: number, gid: number, cb: FuseCb): void {
      change(cb, 'chown', path, async () => {
        await vol.setattr(await inoOf(path), setattrOf('chown', uid, gid));
        return [0];
      });
    },

    utimens(path: string, atime: unknown, mtime: unknown, cb: FuseCb): void {
      change(cb, 'utimens', path, async () => {
        await vol.setattr(await inoOf(path), setattrOf('utimens', atime, mtime));
        return [0];
      });
    },

    fsync(path: string, datasync: number, fh: number, cb: FuseCb): void {
      change(cb, 'fsync', path, async () => {
        await vol.fsync(await inoOf(path, fh));
        reportBehind(fh);
        return [0];
      });
    },

    fsyncdir(path: string, datasync: number, fh: number, cb: FuseCb): void {
      change(cb, 'fsyncdir', path, async () => {
        await vol.fsync(await ctx.resolver.resolve(path));
        return [0];
      });
    },

    /**
     * close(2) of a descriptor: nothing is written (that would wear the disc at every
     * close), but a write that failed in the background is reported here, as at fsync.
     */
    flush(path: string, fh: number, cb: FuseCb): void {
      // The handle's writes answered before they ran: their failure is this close(2)'s to report.
      const behind = ctx.file(fh)?.behind;
      // And the chmods, chowns and utimens the binding answered itself (fast-setattr.ts), the same way.
      const answered = ctx.fastSetattr?.settled();
      const wait = behind && answered ? Promise.all([behind, answered]) : behind ?? answered;
      if (wait) return void wait.then(() => flushNow(path, fh, cb));
      flushNow(path, fh, cb);
    },
  };
}

/** Whether an open(2) asks to change the file. */
export function opensForWrite(flags: number): boolean {
  return (flags & 3) !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0;
}
