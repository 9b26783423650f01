/**
 * PktfsFuse: fuse-native's Fuse with the mount options pktfs needs and an unmount that
 * is not lazy by default. fuse-native builds its `-o` string in the private
 * `_fuseOptions()` and knows neither big_writes nor max_write, so we override it
 * (see node_modules/fuse-native/index.js); it unmounts with `fusermount -uz`, which
 * would detach a busy mount and drop later writes, so `_close` is overridden too.
 */
import { execFile } from 'child_process';
import path from 'path';
import createDebug from 'debug';
import Fuse, { type FuseOps } from 'fuse-native';

const debug = createDebug('pktfs:fuse:fuse');

/** Largest read and write FUSE requests we ask the kernel for (libfuse 2 caps both at 128 KiB). */
export const MAX_IO = 131072;

export interface FuseMountSettings {
  /** Shown as the mount's source (fsname=), e.g. the image path or /dev/sr0. */
  source: string;
  readOnly: boolean;
  allowOther?: boolean;
  /** Allow mounting over a non-empty directory (libfuse 2 refuses otherwise). */
  nonempty?: boolean;
  /** VFS flags passed through to mount(2): nosuid, nodev, noexec, suid, dev, exec. */
  vfsFlags?: string[];
  /** libfuse's own request trace on stderr. */
  fuseDebug?: boolean;
}

/** libfuse's option parser (fuse_opt.c) takes a backslash to escape a comma or backslash. */
function escapeOpt(v: string): string {
  return v.replace(/[\\,]/g, (c) => '\\' + c);
}

/** The `-o` list handed to fuse_mount()/fuse_new() for these settings. */
export function fuseOptionList(s: FuseMountSettings): string[] {
  const o = [
    `fsname=${escapeOpt(s.source)}`,
    'subtype=pktfs',
    'default_permissions',
    // pktfs never updates access times (issue 3: "the mount reports noatime").
    'noatime',
    // Our inode numbers (from ICB locations) as st_ino, so hard links show as such.
    'use_ino',
    'big_writes',
    `max_write=${MAX_IO}`,
    `max_read=${MAX_IO}`,
  ];
  // Pages stay cached across opens while a file's mtime and size stay the same
  // (libfuse's auto_cache asks on every open). Attributes are never cached: the
  // .pktinfo files change size between reads, and the kernel reads a file only up
  // to the size it last heard of (fuse-native offers no direct_io).
  o.push('auto_cache', 'attr_timeout=0');
  if (s.readOnly) {
    // Names don't change under a read-only mount: let the kernel keep lookups.
    o.push('ro', 'entry_timeout=30', 'negative_timeout=5');
  }
  if (s.allowOther) o.push('allow_other');
  if (s.nonempty) o.push('nonempty');
  if (s.fuseDebug) o.push('debug');
  for (const f of s.vfsFlags ?? []) o.push(f);
  return o;
}

/** fuse-native's native binding, for the unmount half of `_close` that it keeps private. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const binding = require('node-gyp-build')(path.dirname(require.resolve('fuse-native/package.json')));

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr: String(stderr).trim() }));
      else resolve();
    });
  });
}

/** fusermount from libfuse 2, else fusermount3: either unmounts any FUSE mount for root or its owner. */
export async function fusermount(args: string[], mnt: string): Promise<void> {
  try {
    await run('fusermount', [...args, mnt]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await run('fusermount3', [...args, mnt]);
  }
}

export class PktfsFuse extends Fuse {
  /** Set by the owner before close(): the mount is already gone, only release the native side. */
  alreadyUnmounted = false;

  constructor(mnt: string, ops: FuseOps, private readonly settings: FuseMountSettings) {
    // A slow optical drive may take many seconds to spin up: allow far more than the default 15 s.
    super(mnt, ops, { timeout: 120_000 });
  }

  override _fuseOptions(): string {
    return '-o' + fuseOptionList(this.settings).join(',');
  }

  /**
   * fuse-native's fgetattr calls the getattr op without the file handle; give it to
   * our fgetattr op, so an open `.pktinfo` file reports the size of its own snapshot.
   */
  override _op_fgetattr(signal: (...args: any[]) => void, path: string, fd: number): void {
    const fgetattr = this.ops.fgetattr;
    if (!fgetattr) return super._op_fgetattr(signal, path, fd);
    // _op_getattr only calls `this.ops.getattr` and packs the stat as the binding wants it.
    const withHandle = { ops: { getattr: (p: string, cb: (...a: any[]) => void) => fgetattr(p, fd, cb) } };
    Fuse.prototype._op_getattr.call(withHandle as unknown as Fuse, signal, path);
  }

  override _close(cb: (err: Error | null) => void): void {
    const release = (): void => {
      try {
        if (this._thread) binding.fuse_native_unmount(this.mnt, this._thread);
        cb(null);
      } catch (e) {
        cb(e as Error);
      }
    };
    if (this.alreadyUnmounted) return release();
    fusermount(['-u'], this.mnt).then(release, (e: Error & { stderr?: string }) => {
      debug('fusermount -u %s: %s; detaching lazily', this.mnt, e.stderr || e.message);
      fusermount(['-uz'], this.mnt).then(release, (e2: Error & { stderr?: string }) => {
        cb(new Error(`cannot unmount ${this.mnt}: ${e2.stderr || e2.message}`));
      });
    });
  }
}
