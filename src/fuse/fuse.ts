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
import Fuse, { type FuseOps, type FuseStat } from 'fuse-native';
import type { DirectReads, DirectReadStats } from './context';
import type { AnsweredSetattr } from './ops-write';

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
  /**
   * Seconds the kernel may keep attributes and names (`-o attr_timeout=`, `entry_timeout=`);
   * the defaults are ATTR_TIMEOUT/ENTRY_TIMEOUT below. Negative names are kept as long as names.
   */
  attrTimeout?: number;
  entryTimeout?: number;
  /**
   * The binding's attribute cache (`-o attr_cache=off` turns it off; on by default where the
   * binding has it): getattrs answered on libfuse's thread from what pktfs answered before.
   */
  attrCache?: boolean;
}

/**
 * How long the kernel keeps attributes and names by default. The kernel sees every change made
 * through the mount (libfuse's high-level API answers create/mkdir/link/setattr with fresh
 * attributes, and the kernel drops what unlink, rmdir and rename make stale); what pktfs changes
 * by itself are only the `.pktinfo` files, read with direct I/O (see pktinfo.ts). libfuse's
 * default and fuse2fs's is 1 s; without caching, every stat and every directory crossed on a
 * path walk (default_permissions checks each) is a request (issue 6).
 */
export const ATTR_TIMEOUT = { rw: 1, ro: 30 };
export const ENTRY_TIMEOUT = { rw: 1, ro: 30 };

/** fuse_file_info flags an open or create may answer with (our fuse-native patch). */
export const OPEN_DIRECT_IO = 1;
export const OPEN_KEEP_CACHE = 2;

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
  // (libfuse's auto_cache asks on every open).
  o.push('auto_cache');
  const t = fuseTimeouts(s);
  o.push(`attr_timeout=${t.attr}`, `entry_timeout=${t.entry}`, `negative_timeout=${t.entry}`);
  if (s.readOnly) o.push('ro');
  if (s.allowOther) o.push('allow_other');
  if (s.nonempty) o.push('nonempty');
  if (s.fuseDebug) o.push('debug');
  for (const f of s.vfsFlags ?? []) o.push(f);
  return o;
}

/** fuse-native's native binding, for the unmount half of `_close` that it keeps private. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const binding = require('node-gyp-build')(path.dirname(require.resolve('fuse-native/package.json')));

/**
 * True when the binding takes fuse_file_info flags from open and create (patches/
 * fuse-native+2.2.6.patch); a binding built without the patch can't set direct_io, and
 * then attributes are not cached, so `.pktinfo` sizes stay right (see pktinfo.ts).
 */
export const bindingOpenFlags: boolean =
  typeof binding.fuse_native_open_flags === 'function' && (binding.fuse_native_open_flags() & OPEN_DIRECT_IO) !== 0;
/**
 * True when setattr and create may hand the binding the attributes to answer libfuse's next
 * getattr of the same path with (libfuse's high-level API asks for them after every successful
 * one): one round trip to this thread less for each chmod, chown, utimens, truncate and create.
 */
export const bindingNextStat: boolean = bindingOpenFlags && (binding.fuse_native_open_flags() & 4) !== 0;
/** True when the binding has the read fast path (fuse_native_direct_*: our patch). */
export const bindingDirectRead: boolean = bindingOpenFlags && (binding.fuse_native_open_flags() & 16) !== 0;

/** True when the binding can answer flush itself (fuse_native_flush_fast: our patch). */
export const bindingFastFlush: boolean = bindingOpenFlags && (binding.fuse_native_open_flags() & 32) !== 0;

/** The binding's read fast path counters (for the whole process), or undefined without it. */
export function directReadStats(): DirectReadStats | undefined {
  if (!bindingDirectRead) return undefined;
  const [reads, bytes, fallbacks, maps] = binding.fuse_native_direct_stats() as number[];
  return { reads, bytes, fallbacks, maps };
}

/**
 * True when the binding keeps an attribute cache (path -> stat, answered on libfuse's thread
 * without a round trip to this one; patches/fuse-native+2.2.6.patch, attr_cache_*), and takes
 * the new entry's and its directory's attributes with the answers of create, mknod, mkdir,
 * symlink, link, unlink, rmdir and rename. The binding drops what a request may change before
 * handing it over, so what pktfs changes through requests stays right; see docs/cli.md.
 */
export const bindingAttrCache: boolean = bindingNextStat && (binding.fuse_native_open_flags() & 8) !== 0;

/**
 * True when the binding can answer open and release itself (fuse_native_open_fast*: our patch):
 * a read-only open of a regular file its attribute cache holds gets a handle of the binding's
 * own (FAST_FH_BASE and up) without a round trip here; the first request with such a handle
 * that reaches pktfs takes it over (OpsContext.file), and only then does its release come here.
 */
export const bindingFastOpen: boolean = bindingAttrCache && (binding.fuse_native_open_flags() & 64) !== 0;

/**
 * True when the binding can answer chmod, chown and utimens itself (fuse_native_setattr_fast*:
 * our patch): of a path its attribute cache holds, with the new attributes put in the cached
 * ones, handing each request to pktfs afterwards, in order, before any request that came after
 * it (PktfsFuse.setFastSetattr, fast-setattr.ts).
 */
export const bindingFastSetattr: boolean = bindingAttrCache && (binding.fuse_native_open_flags() & 128) !== 0;

/** The ops fuse_native_setattr_fast hands over, by opcode. */
const ANSWERED_OPS = new Map<number, AnsweredSetattr['op']>([
  [binding.op_chmod as number, 'chmod'], [binding.op_chown as number, 'chown'], [binding.op_utimens as number, 'utimens'],
]);

/** The binding's fast open counters (`.pktinfo/stats.json` fastOpen, docs/pktinfo.md). */
export interface FastOpenStats {
  /** Opens and releases the binding answered itself since the mount. */
  opens: number;
  releases: number;
  /** Handles pktfs took over (a read or fstat reached it); their releases came to pktfs. */
  taken: number;
  /** Handles of the binding's open now. */
  open: number;
}

/** Entries of the binding's attribute cache (a fixed table: ~200 bytes an entry and its path). */
export const ATTR_CACHE_ENTRIES = 32768;

/** The binding's attribute cache counters (`.pktinfo/stats.json` attrCache, docs/pktinfo.md). */
export interface AttrCacheStats {
  /** Entries the table holds at most; 0 when the cache is off. */
  capacity: number;
  entries: number;
  /** getattrs answered from the cache, and those that went on to pktfs. */
  hits: number;
  misses: number;
  /** Attributes stored; answers not stored because a change came in between (`refused`). */
  stores: number;
  refused: number;
  /** Entries dropped by changes; times everything was dropped (rename, entry stores); evictions. */
  drops: number;
  clears: number;
  evictions: number;
  /**
   * Lookups of names not there answered by the binding (ENOENT), in directories made through
   * the mount whose every name it knows; how many such directories it tracks. Absent from a
   * binding without them (capability 256).
   */
  negatives?: number;
  completeDirs?: number;
}

/** Parent directory of an absolute path ('/a/b' -> '/a', '/a' -> '/'). */
function parentPath(p: string): string {
  const cut = p.lastIndexOf('/');
  return cut <= 0 ? '/' : p.slice(0, cut);
}
if (!bindingOpenFlags) debug('fuse-native was built without open flags (run scripts/patch-native.sh): attributes are not cached');

/** The attribute and entry timeouts, in seconds, a mount with these settings gets. */
export function fuseTimeouts(s: FuseMountSettings): { attr: number; entry: number } {
  const mode = s.readOnly ? 'ro' : 'rw';
  const attr = bindingOpenFlags ? s.attrTimeout ?? ATTR_TIMEOUT[mode] : 0;
  return { attr, entry: s.entryTimeout ?? ENTRY_TIMEOUT[mode] };
}

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

/** fuse-native's setDoubleInt: a number as two uint32 (low, high), negatives as 64-bit two's complement. */
function setDoubleInt(arr: Uint32Array, idx: number, num: number): void {
  arr[idx] = num % 4294967296;
  arr[idx + 1] = (num - arr[idx]) / 4294967296;
}

/** fuse-native's toDateMS: a time as milliseconds; absent is now. */
function timeMs(t: Date | number | undefined): number {
  if (typeof t === 'number') return t;
  if (!t) return Date.now();
  return t.getTime();
}

/** The stat arrays toStatArray hands out, in turn (see there). */
const STAT_BYTES = 18 * 4;
const STAT_SLOTS = 4096;
const STAT_SLAB = new ArrayBuffer(STAT_BYTES * STAT_SLOTS);
let statSlot = 0;

/**
 * The stat array the binding reads a getattr answer from (populate_stat in fuse-native.c):
 * what fuse-native's getStatArray (index.js) builds, field for field, without its `&&` chain on
 * every field, for a stat whose times are Dates or (cheaper: Volume.attrNow) milliseconds.
 */
export function toStatArray(st: Partial<FuseStat> & { dev?: number; rdev?: number } | undefined): Uint32Array {
  // A view into STAT_SLAB rather than a new Uint32Array: 72 bytes is past what V8 keeps on its
  // heap, and each new one got a backing store of its own (about 1 µs, and external memory for
  // the GC to track). The binding copies the array during the signal call; a slot is used again
  // only after STAT_SLOTS further answers, far more than can be waiting for their signal.
  statSlot = (statSlot + 1) % STAT_SLOTS;
  const ints = new Uint32Array(STAT_SLAB, statSlot * STAT_BYTES, 18);
  if (!st) {
    ints.fill(0);
    ints[6] = 1;
    const now = Date.now();
    setDoubleInt(ints, 12, now);
    setDoubleInt(ints, 14, now);
    setDoubleInt(ints, 16, now);
    return ints;
  }
  ints[0] = st.mode || 0;
  ints[1] = st.uid || 0;
  ints[2] = st.gid || 0;
  setDoubleInt(ints, 3, st.size || 0);
  // st_dev: the high 32 bits of the inode number (partition 1 and up: udf/attr.ts inoOf), which
  // the binding's fast open reads back from its attribute cache; libfuse and the kernel never
  // look at st_dev (stat(2) shows the mount's device), and st_ino takes the low 32 bits.
  ints[5] = st.dev || Math.floor((st.ino || 0) / 4294967296);
  ints[6] = st.nlink || 1;
  ints[7] = st.ino || 0;
  ints[8] = st.rdev || 0;
  ints[9] = st.blksize || 0;
  setDoubleInt(ints, 10, st.blocks || 0);
  setDoubleInt(ints, 12, timeMs(st.atime));
  setDoubleInt(ints, 14, timeMs(st.mtime));
  setDoubleInt(ints, 16, timeMs(st.ctime));
  return ints;
}

/**
 * fuse-native's getattr answer (_op_getattr): calls `this.ops.getattr` and packs the stat as the
 * binding wants it, with toStatArray. A failure is signalled alone: fuse-native's signal adds
 * its default stat array, which the binding reads and libfuse ignores.
 */
function packStat(this: { ops: FuseOps }, signal: (...args: any[]) => void, path: string): void {
  const getattr = this.ops.getattr;
  if (!getattr) return Fuse.prototype._op_getattr.call(this as unknown as Fuse, signal, path);
  getattr(path, (err: number, stat?: FuseStat) => (err ? signal(err) : signal(0, toStatArray(stat))));
}

/** A stat array for an error answer: the binding reads one, libfuse ignores it. */
const ERROR_STAT = Uint32Array.from(toStatArray({ nlink: 1, atime: 0, mtime: 0, ctime: 0 }));

/**
 * The ops answered through leanHandler, and what fuse-native's signal adds to an answer that is
 * an error code alone (OpcodesAndDefaults in node_modules/fuse-native/index.js; none: nothing).
 * init, error and statfs stay with fuse-native's own handlers, as does any op not named here.
 */
const LEAN_OPS: [string, unknown[] | undefined][] = [
  ['access', [0]], ['fgetattr', [ERROR_STAT]], ['getattr', [ERROR_STAT]], ['flush', undefined], ['fsync', undefined],
  ['fsyncdir', undefined], ['readdir', [[], []]], ['truncate', undefined], ['ftruncate', undefined], ['utimens', undefined],
  ['readlink', ['']], ['chown', undefined], ['chmod', undefined], ['mknod', undefined], ['open', [0]], ['opendir', [0]],
  ['read', [0]], ['write', [0]], ['release', undefined], ['releasedir', undefined], ['create', [0]], ['unlink', undefined],
  ['rename', undefined], ['link', undefined], ['symlink', undefined], ['mkdir', undefined], ['rmdir', undefined],
];

/** Whether PktfsFuse answers through leanHandler (else through fuse-native's own dispatch); for tests and measurements. */
export const LEAN_DISPATCH = { on: process.env.PKTFS_FUSE_DISPATCH !== 'fuse-native' };

type NativeSignal = (nativeHandler: Buffer, err: number, ...args: unknown[]) => void;

/**
 * fuse-native's per-op dispatch (makeHandler in index.js) without what pktfs does not use, and
 * answering at once: the binding's signal is called when the op answers, not one
 * process.nextTick later (issue 6: every request paid a tick, and its answer waited for every
 * microtask queued meanwhile: the rest of the volume's queue, write-outs, before the libfuse
 * thread could go on). No per-request timer (PktfsFuse runs with `timeout: false`: serve() in
 * context.ts keeps the deadline), no copy of the arguments. The answer's arguments are those
 * fuse-native's signal would pass: trailing undefineds dropped, and an error code alone given
 * the op's defaults. The binding copies what it needs during the call (populate_stat, strings,
 * buffers), and libfuse's buffers are not touched by an op after it answered.
 */
export function leanHandler(self: Fuse, name: string, op: number, defaults: unknown[] | undefined, nativeSignal: NativeSignal) {
  const funcName = `_op_${name}`;
  return function handle(nativeHandler: Buffer, _opCode: number, ...args: unknown[]): void {
    const signal = defaults
      ? (err: number, ...out: unknown[]): void => {
          let n = out.length;
          while (n > 0 && out[n - 1] === undefined) n--;
          if (n === 0) nativeSignal(nativeHandler, err, ...defaults);
          else if (n === out.length) nativeSignal(nativeHandler, err, ...out);
          else nativeSignal(nativeHandler, err, ...out.slice(0, n));
        }
      : (err: number, ...out: unknown[]): void => nativeSignal(nativeHandler, err, ...out);
    const fn = (self as unknown as Record<string, ((...a: unknown[]) => void) | undefined>)[funcName];
    if (!fn || !self._implemented.has(op)) return signal(-1, ...(defaults ?? []));
    fn.call(self, signal, ...args);
  };
}

export class PktfsFuse extends Fuse {
  /** Set by the owner before close(): the mount is already gone, only release the native side. */
  alreadyUnmounted = false;

  /** Whether the binding's fast open was ever on for this mount (its counters are shown then). */
  private fastOpenUsed = false;

  /** Whether the binding's fast setattr was set up for this mount. */
  private fastSetattrUsed = false;

  /**
   * Runs a chmod, chown or utimens the binding answered itself (setFastSetattr), called by the
   * binding in the order it answered them, before it hands over any request that came after.
   */
  answeredSetattr?: (req: AnsweredSetattr) => void;

  /** Read by the binding at mount: size of its attribute cache, 0 for none. */
  readonly attrCacheEntries: number;

  constructor(mnt: string, ops: FuseOps, private readonly settings: FuseMountSettings) {
    // No timer per request: serve() (context.ts) answers ETIMEDOUT after OP_TIMEOUT itself.
    super(mnt, ops, { timeout: false });
    this.attrCacheEntries = bindingAttrCache && settings.attrCache !== false ? ATTR_CACHE_ENTRIES : 0;
  }

  /** The binding's attribute cache counters; undefined before the mount or without the cache in the binding. */
  attrCacheStats(): AttrCacheStats | undefined {
    if (!bindingAttrCache || !this._thread) return undefined;
    const [capacity, entries, hits, misses, stores, refused, drops, clears, evictions, negatives, completeDirs] = binding.fuse_native_attr_cache_stats(this._thread) as number[];
    const stats: AttrCacheStats = { capacity, entries, hits, misses, stores, refused, drops, clears, evictions };
    return negatives === undefined ? stats : { ...stats, negatives, completeDirs };
  }

  /** Forget every cached attribute (pktfs changed some without a request naming the path). */
  clearAttrCache(): void {
    if (bindingAttrCache && this._thread) binding.fuse_native_attr_cache_clear(this._thread);
  }

  /** fuse-native's handlers, with leanHandler for the ops in LEAN_OPS (called by Fuse's constructor). */
  override _makeHandlerArray(): Array<((...args: any[]) => void) | undefined> {
    const handlers = super._makeHandlerArray();
    if (!LEAN_DISPATCH.on) return handlers;
    for (const [name, defaults] of LEAN_OPS) {
      const op = binding[`op_${name}`] as number | undefined;
      const nativeSignal = binding[`fuse_native_signal_${name}`] as NativeSignal | undefined;
      if (op === undefined || !nativeSignal) continue;
      handlers[op] = leanHandler(this, name, op, defaults, nativeSignal);
    }
    return handlers;
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
    packStat.call(withHandle, signal, path);
  }

  /** fuse-native's getattr, packing the answer with toStatArray (see packStat). */
  override _op_getattr(signal: (...args: any[]) => void, path: string): void {
    packStat.call(this, signal, path);
  }

  /** Our open and create ops may answer with fuse_file_info flags after the handle (OPEN_DIRECT_IO, ...). */
  override _op_open(signal: (...args: any[]) => void, path: string, flags: number): void {
    this.ops.open(path, flags, (err: number, fd?: number, fiFlags?: number) => signal(err, fd, fiFlags));
  }

  override _op_create(signal: (...args: any[]) => void, path: string, mode: number): void {
    this.ops.create(path, mode, (err: number, fd?: number, fiFlags?: number) => {
      if (err !== 0 || !bindingNextStat) return signal(err, fd, fiFlags);
      this.statArray(path, fd, (arr) => {
        if (!this.attrCacheEntries) return signal(err, fd, fiFlags ?? 0, arr);
        this.statArray(parentPath(path), undefined, (parent) => signal(err, fd, fiFlags ?? 0, arr, parent));
      });
    });
  }

  // Entries made and removed: the new entry's attributes (libfuse asks for them next) and its
  // directory's (the kernel asks for those next: the change dropped them) go with the answer.
  override _op_mknod(signal: (...args: any[]) => void, path: string, mode: number, dev: number): void {
    this.ops.mknod(path, mode, dev, this.withEntryStats(signal, path));
  }

  override _op_mkdir(signal: (...args: any[]) => void, path: string, mode: number): void {
    this.ops.mkdir(path, mode, this.withEntryStats(signal, path));
  }

  override _op_symlink(signal: (...args: any[]) => void, target: string, path: string): void {
    this.ops.symlink(target, path, this.withEntryStats(signal, path));
  }

  override _op_link(signal: (...args: any[]) => void, from: string, to: string): void {
    this.ops.link(from, to, this.withEntryStats(signal, to));
  }

  override _op_unlink(signal: (...args: any[]) => void, path: string): void {
    this.ops.unlink(path, this.withParentStats(signal, [parentPath(path)]));
  }

  override _op_rmdir(signal: (...args: any[]) => void, path: string): void {
    this.ops.rmdir(path, this.withParentStats(signal, [parentPath(path)]));
  }

  override _op_rename(signal: (...args: any[]) => void, from: string, to: string): void {
    this.ops.rename(from, to, this.withParentStats(signal, [parentPath(from), parentPath(to)]));
  }

  // setattr: libfuse asks for the attributes right after; they go with the answer (bindingNextStat).
  override _op_chmod(signal: (...args: any[]) => void, path: string, ...args: any[]): void {
    super._op_chmod(this.withStat(signal, path), path, ...args);
  }

  override _op_chown(signal: (...args: any[]) => void, path: string, ...args: any[]): void {
    super._op_chown(this.withStat(signal, path), path, ...args);
  }

  override _op_utimens(signal: (...args: any[]) => void, path: string, ...args: any[]): void {
    super._op_utimens(this.withStat(signal, path), path, ...args);
  }

  override _op_truncate(signal: (...args: any[]) => void, path: string, ...args: any[]): void {
    super._op_truncate(this.withStat(signal, path), path, ...args);
  }

  override _op_ftruncate(signal: (...args: any[]) => void, path: string, fd: number, ...args: any[]): void {
    super._op_ftruncate(this.withStat(signal, path, fd), path, fd, ...args);
  }

  /** `signal`, answering a success with the attributes of `path` (of handle `fh`) as well. */
  private withStat(signal: (...args: any[]) => void, path: string, fh?: number): (err: number) => void {
    if (!bindingNextStat) return signal;
    return (err: number) => (err !== 0 ? signal(err) : this.statArray(path, fh, (arr) => signal(0, arr)));
  }

  /** `signal`, answering a success with the attributes of the new entry `path` and of its directory. */
  private withEntryStats(signal: (...args: any[]) => void, path: string): (err: number) => void {
    if (!bindingAttrCache) return (err: number) => signal(err);
    return (err: number) => {
      if (err !== 0) return signal(err);
      this.statArray(path, undefined, (arr) => {
        if (!this.attrCacheEntries) return signal(0, arr);
        this.statArray(parentPath(path), undefined, (parent) => signal(0, arr, parent));
      });
    };
  }

  /** `signal`, answering a success with the attributes of these directories (with the cache on). */
  private withParentStats(signal: (...args: any[]) => void, dirs: string[]): (err: number) => void {
    if (!bindingAttrCache || !this.attrCacheEntries) return (err: number) => signal(err);
    return (err: number) => {
      if (err !== 0) return signal(err);
      const out: (Uint32Array | undefined)[] = [];
      const next = (): void => {
        if (out.length === dirs.length) return signal(0, ...out);
        this.statArray(dirs[out.length], undefined, (arr) => {
          out.push(arr);
          next();
        });
      };
      next();
    };
  }

  /** The stat array fuse-native's getattr would answer for `path` (through handle `fh`), or undefined on an error. */
  private statArray(path: string, fh: number | undefined, cb: (arr?: Uint32Array) => void): void {
    const ops = this.ops;
    const getattr = fh !== undefined && ops.fgetattr
      ? (p: string, c: (...a: any[]) => void) => ops.fgetattr(p, fh, c)
      : ops.getattr;
    if (!getattr) return cb(undefined);
    // _op_getattr only calls `this.ops.getattr` and packs the stat as the binding wants it.
    const shim = { ops: { getattr } };
    packStat.call(shim, (err: number, arr?: Uint32Array) => cb(err === 0 ? arr : undefined), path);
  }

  /** The read fast path of this mount (DirectReads), when the binding has one. */
  directReads(): DirectReads | undefined {
    if (!bindingDirectRead) return undefined;
    return {
      gen: () => binding.fuse_native_direct_gen() as number,
      set: (fh, gen, map) => !!this._thread && binding.fuse_native_direct_set(this._thread, fh, gen, map.fd, map.size, map.runs) === true,
      stats: () => directReadStats() as DirectReadStats,
    };
  }

  /**
   * Let the binding answer flush (close(2)) with success itself, without a round trip here (on),
   * or send every flush here (off). Only while no write error waits to be reported: see mount.ts.
   */
  setFastFlush(on: boolean): void {
    if (bindingFastFlush && this._thread) binding.fuse_native_flush_fast(this._thread, on);
  }

  /**
   * Let the binding answer read-only opens of the regular files its attribute cache holds, and
   * their releases, itself (on); false when it can't (no binding support, no attribute cache).
   */
  setFastOpen(on: boolean): boolean {
    if (!bindingFastOpen || !this._thread || !this.attrCacheEntries) return false;
    const now = binding.fuse_native_open_fast(this._thread, on) === true;
    if (now) this.fastOpenUsed = true;
    return now;
  }

  /**
   * Let the binding answer chmod, chown and utimens of the paths its attribute cache holds itself
   * (on; answeredSetattr runs them after), the mode shown less `umask`; or send them all here
   * (off). False when it is not on (no binding support, no attribute cache, off).
   */
  setFastSetattr(on: boolean, umask: number): boolean {
    if (!bindingFastSetattr || !this._thread || !this.attrCacheEntries) return false;
    this.fastSetattrUsed = true;
    return binding.fuse_native_setattr_fast(this._thread, on, umask, this.drainSetattr) === true;
  }

  /** What the binding hands over (fast_setattr_drain in fuse-native.c); nothing may be thrown back into it. */
  private readonly drainSetattr = (op?: number, path?: string, ino?: number, x?: number, y?: number, ctimeMs?: number): void => {
    // Called with nothing: no request came to hand them over before (fast_setattr_wake).
    if (op === undefined) return void (this._thread && binding.fuse_native_setattr_fast_drain(this._thread));
    const name = ANSWERED_OPS.get(op);
    if (!name || !this.answeredSetattr) return void debug('answered setattr op %d of %s with no one to run it', op, path);
    const times = name === 'utimens';
    try {
      this.answeredSetattr({ op: name, path: path!, ino: ino!, x: times && x! < 0 ? undefined : x, y: times && y! < 0 ? undefined : y, ctimeMs: ctimeMs! });
    } catch (e) {
      debug('answered %s of %s: %s', name, path, (e as Error).message);
    }
  };

  /** The mount has ended: the binding answers no more setattrs itself, and those it answered run now. */
  stopFastSetattr(): void {
    if (this.fastSetattrUsed && this._thread) binding.fuse_native_setattr_fast_stop(this._thread);
  }

  /** The binding's fast setattr counters: [answered, still queued in the binding]; undefined unless set up. */
  fastSetattrCounts(): [number, number] | undefined {
    if (!this.fastSetattrUsed || !this._thread) return undefined;
    const [, answered, queued] = binding.fuse_native_setattr_fast_stats(this._thread) as number[];
    return [answered, queued];
  }

  /** Take over handle `fh` of the binding's fast open: the file's inode and its size at open, or undefined. */
  takeFastOpen(fh: number): { ino: number; size: number } | undefined {
    if (!bindingFastOpen || !this._thread) return undefined;
    const r = binding.fuse_native_open_fast_take(this._thread, fh) as [number, number] | undefined;
    return r ? { ino: r[0], size: r[1] } : undefined;
  }

  /** The binding's fast open counters; undefined unless it was turned on for this mount. */
  fastOpenStats(): FastOpenStats | undefined {
    if (!this.fastOpenUsed || !this._thread) return undefined;
    const [, opens, releases, taken, open] = binding.fuse_native_open_fast_stats(this._thread) as number[];
    return { opens, releases, taken, open };
  }

  /** Flushes the binding answered itself since the mount. */
  fastFlushes(): number {
    return bindingFastFlush && this._thread ? (binding.fuse_native_flush_fast_count(this._thread) as number) : 0;
  }

  /** Forget every map (the image is about to be closed: its descriptor must not be read again). */
  dropDirectReads(): void {
    if (bindingDirectRead) binding.fuse_native_direct_drop();
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
