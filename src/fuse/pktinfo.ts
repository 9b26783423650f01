/**
 * The `.pktinfo` directory: status files generated from the live mount, and the
 * `flush` control file, answered in front of the path resolver so they never reach
 * the UDF volume. Formats: ./pktinfo-files.ts and docs/pktinfo.md.
 *
 * Every open takes a snapshot of the content, read through that handle. The files
 * are opened with direct I/O (our fuse-native patch, fuse.ts OPEN_DIRECT_IO): the
 * kernel caches no pages of them and reads up to where the snapshot ends, whatever
 * size it last heard of. Mounts caching attributes (the default, fuse.ts
 * ATTR_TIMEOUT) report size 0, as /proc does, because a stat may be answered from
 * the kernel's cache long after the content grew, and readers that trust st_size
 * (Node's readFileSync) would cut the content short.
 *
 * Without attribute caching (-o attr_timeout=0, or a binding without the patch,
 * whose reads the kernel stops at the size it last got from getattr), the sizes are
 * reported: getattr with a handle (fgetattr) reports that snapshot's size, and
 * getattr without one generates fresh content and reports its size. An open right
 * after such a getattr (the lookup that precedes a first open) takes that same
 * snapshot, because the kernel may not ask for the size again within the same clock
 * tick. Each snapshot gets a later mtime than the one before, so libfuse's
 * auto_cache drops the kernel's cached pages of older ones.
 */
import { constants as fsc } from 'fs';
import createDebug from 'debug';
import Fuse, { type FuseStat } from 'fuse-native';
import { FsError } from '../errors';
import type { PacketDeviceStats } from '../packet';
import { isWritable, type Volume } from '../udf/types';
import { answerTimes, type FuseCb as Cb, type OpsContext, serve } from './context';
import { OPEN_DIRECT_IO, type AttrCacheStats, type FastOpenStats } from './fuse';
import type { FastSetattrStats } from './fast-setattr';
import { PKTINFO_FILES, type MountFacts, type PktinfoFileSpec, type PktinfoSnapshot } from './pktinfo-files';

const debug = createDebug('pktfs:fuse:pktinfo');

export const PKTINFO_NAME = '.pktinfo';
export const PKTINFO_PATH = '/' + PKTINFO_NAME;

/** `hidden`: reachable by path, not listed in the root; `visible`: listed too; `off`: absent. */
export type PktinfoMode = 'hidden' | 'visible' | 'off';

/** What `.pktinfo` needs of the packet layer below the volume. */
export interface PacketLayer {
  stats(): PacketDeviceStats;
  /** Write every dirty packet and flush the device below. */
  flush(): Promise<void>;
}

export interface PktinfoSettings {
  mode: PktinfoMode;
  /** The PacketDevice the volume reads and writes through; files about it are absent without one. */
  packets?: PacketLayer;
  mount: Omit<MountFacts, 'mountedAt' | 'readOnly'>;
}

/** Inode numbers far above any ICB location a UDF partition can have (fuse-native passes 32 bits). */
const DIR_INO = 0xffffff00;
/** How long a snapshot made by getattr is kept for the open that follows it (> one clock tick at HZ=100). */
const REUSE_MS = 25;

interface Snapshot {
  content: Buffer;
  mtime: Date;
  /** Date.now() when generated. */
  at: number;
  /** Taken by an open already: a later open generates its own. */
  opened: boolean;
}

interface Handle {
  name: string;
  snapshot: Snapshot;
}

export class PktinfoDir {
  readonly mode: PktinfoMode;
  private readonly files: Map<string, PktinfoFileSpec & { ino: number }>;
  private readonly mountedAt = new Date();
  private readonly handles = new Map<number, Handle>();
  /** Per file: the newest snapshot, and the handles open on it in opening order. */
  private readonly current = new Map<string, Snapshot>();
  private readonly openOrder = new Map<string, number[]>();
  /** The binding's attribute cache counters, for stats.json (set once the mount exists). */
  attrCacheStats?: () => AttrCacheStats | undefined;
  /** The binding's fast open counters (set by the mount). */
  fastOpenStats?: () => FastOpenStats | undefined;
  /** The fast setattr's counters (set by a mount that has one). */
  fastSetattrStats?: () => FastSetattrStats | undefined;

  /**
   * @param reportSizes false when the kernel caches attributes: files report size 0 (see the top of this file).
   */
  constructor(private readonly ctx: OpsContext, private readonly settings: PktinfoSettings, private readonly reportSizes = true) {
    this.mode = settings.mode;
    const specs = PKTINFO_FILES.filter((f) => !f.needsPacket || settings.packets);
    this.files = new Map(specs.map((f, i) => [f.name, { ...f, ino: DIR_INO + 1 + i }]));
  }

  get volume(): Volume {
    return this.ctx.volume;
  }

  /** True for `/.pktinfo` and paths under it (never in `off` mode). */
  owns(path: string): boolean {
    return this.mode !== 'off' && path.startsWith(PKTINFO_PATH) && (path.length === PKTINFO_PATH.length || path[PKTINFO_PATH.length] === '/');
  }

  /** A warning when the disc itself has a `/.pktinfo`, which the directory hides. */
  async shadowWarning(): Promise<string | undefined> {
    if (this.mode === 'off') return undefined;
    try {
      await this.volume.lookup(this.volume.rootIno, PKTINFO_NAME);
    } catch {
      return undefined;
    }
    const w = `the volume's own /${PKTINFO_NAME} is hidden by pktfs's status directory (mount with -o pktinfo=off to reach it)`;
    debug('%s', w);
    return w;
  }

  /** The root listing with the disc's own `.pktinfo` taken out and ours added when visible. */
  rootListing(names: string[]): string[] {
    if (this.mode === 'off') return names;
    const out = names.filter((n) => n !== PKTINFO_NAME);
    if (this.mode === 'visible') out.push(PKTINFO_NAME);
    return out;
  }

  // ---- attributes ---------------------------------------------------------------

  getattr(path: string, fh?: number): FuseStat {
    if (path === PKTINFO_PATH) return this.stat(DIR_INO, fsc.S_IFDIR | 0o555, 0, this.mountedAt, 2);
    const spec = this.spec(path);
    const mode = spec.control ? fsc.S_IFREG | 0o200 : fsc.S_IFREG | 0o444;
    if (!this.reportSizes) return this.stat(spec.ino, mode, 0, this.latestMtime(spec.name), 1);
    const snap = (fh !== undefined ? this.handles.get(fh)?.snapshot : undefined) ?? this.latestOpen(spec.name) ?? this.fresh(spec);
    return this.stat(spec.ino, mode, snap.content.length, snap.mtime, 1);
  }

  readdir(path: string): string[] {
    if (path !== PKTINFO_PATH) throw new FsError('ENOTDIR', `${path} is not a directory`);
    return ['.', '..', ...this.files.keys()];
  }

  // ---- files ----------------------------------------------------------------------

  open(path: string, flags: number): number {
    if (path === PKTINFO_PATH) throw new FsError('EISDIR', `${path} is a directory`);
    const spec = this.spec(path);
    const writing = (flags & 3) !== fsc.O_RDONLY;
    if (writing && !spec.control) throw new FsError('EACCES', `${path} is a status file: it can only be read`);
    if (writing && this.ctx.readOnly) throw new FsError('EROFS', `${path}: read-only mount, nothing to flush`);
    const last = this.current.get(spec.name);
    const snapshot = last && !last.opened && Date.now() - last.at <= REUSE_MS ? last : this.fresh(spec);
    snapshot.opened = true;
    const fh = this.ctx.addFile({ ino: spec.ino, path });
    this.handles.set(fh, { name: spec.name, snapshot });
    this.openOrder.set(spec.name, [...(this.openOrder.get(spec.name) ?? []), fh]);
    return fh;
  }

  read(fh: number, len: number, pos: number): Buffer {
    const h = this.handles.get(fh);
    if (!h) throw new FsError('EBADF', `no open ${PKTINFO_NAME} handle ${fh}`);
    return h.snapshot.content.subarray(Math.min(pos, h.snapshot.content.length), Math.min(pos + len, h.snapshot.content.length));
  }

  /** Writing anything to `flush` syncs the volume and flushes the packet layer and device before answering. */
  async write(fh: number, len: number): Promise<number> {
    const h = this.handles.get(fh);
    if (!h) throw new FsError('EBADF', `no open ${PKTINFO_NAME} handle ${fh}`);
    if (!this.files.get(h.name)?.control) throw new FsError('EACCES', `${PKTINFO_PATH}/${h.name} is a status file`);
    await this.flushAll();
    return len;
  }

  release(fh: number): void {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    this.ctx.removeFile(fh);
    const order = (this.openOrder.get(h.name) ?? []).filter((x) => x !== fh);
    if (order.length) this.openOrder.set(h.name, order);
    else this.openOrder.delete(h.name);
  }

  /** Only the control file may be truncated (what `echo 1 > flush` does first); it changes nothing. */
  truncate(path: string): void {
    if (this.spec(path).control) return;
    throw new FsError('EACCES', `${path} is a status file: it can only be read`);
  }

  async flushAll(): Promise<void> {
    const started = Date.now();
    const volume = this.volume;
    if (isWritable(volume) && !this.ctx.readOnly) await volume.settle();
    await this.settings.packets?.flush();
    debug('flush: done in %d ms', Date.now() - started);
  }

  // ---- helpers ----------------------------------------------------------------

  private spec(path: string): PktinfoFileSpec & { ino: number } {
    const name = path.slice(PKTINFO_PATH.length + 1);
    const spec = this.files.get(name);
    if (!spec) throw new FsError('ENOENT', `${path}: no such status file`);
    return spec;
  }

  /** Generate the content of `spec` now, and make it the file's newest snapshot. */
  private fresh(spec: PktinfoFileSpec): Snapshot {
    const snapshot: PktinfoSnapshot = {
      time: new Date(),
      mount: { ...this.settings.mount, readOnly: this.ctx.readOnly, mountedAt: this.mountedAt },
      volume: this.volume.info,
      packet: this.settings.packets?.stats(),
      direct: this.ctx.direct?.stats(),
      fastFlushes: this.ctx.fastFlushes?.(),
      attrCache: this.attrCacheStats?.(),
      answers: answerTimes(),
      writeBehind: this.ctx.writeBehind?.stats(),
      fastOpen: this.fastOpenStats?.(),
      fastSetattr: this.fastSetattrStats?.(),
    };
    // Strictly later than the file's previous snapshot (mtime has millisecond resolution through fuse-native).
    const mtime = Math.max(snapshot.time.getTime(), (this.current.get(spec.name)?.mtime.getTime() ?? 0) + 1);
    const s: Snapshot = { content: Buffer.from(spec.render(snapshot), 'utf8'), mtime: new Date(mtime), at: Date.now(), opened: false };
    this.current.set(spec.name, s);
    return s;
  }

  /** The newest snapshot's mtime (now, if none yet): a stat need not generate content when it reports no size. */
  private latestMtime(name: string): Date {
    const last = this.current.get(name)?.mtime.getTime() ?? 0;
    return new Date(Math.max(last, Date.now()));
  }

  private latestOpen(name: string): Snapshot | undefined {
    const order = this.openOrder.get(name);
    return order?.length ? this.handles.get(order[order.length - 1])?.snapshot : undefined;
  }

  private stat(ino: number, mode: number, size: number, mtime: Date, nlink: number): FuseStat {
    return {
      mode,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      size,
      nlink,
      ino,
      blocks: Math.ceil(size / 512),
      blksize: 4096,
      atime: mtime,
      mtime,
      ctime: mtime,
    };
  }
}

type Op = (...args: any[]) => void;

/** Operations that change the tree: refused inside `.pktinfo`, with the indexes of their path arguments. */
const STRUCTURAL: Record<string, number[]> = {
  create: [0], mkdir: [0], mknod: [0], unlink: [0], rmdir: [0], rename: [0, 1], link: [0, 1], symlink: [1],
  chmod: [0], chown: [0], setxattr: [0], removexattr: [0],
};

/**
 * `ops` with `.pktinfo` answered in front of them. Everything outside the
 * directory goes to `ops` unchanged, except the root listing.
 */
export function pktinfoOps(dir: PktinfoDir, ops: Record<string, Op>): Record<string, Op> {
  if (dir.mode === 'off') return ops;
  const out: Record<string, Op> = { ...ops };
  const own = (path: unknown): boolean => typeof path === 'string' && dir.owns(path);
  const pass = (name: string, args: unknown[]): void => {
    const op = ops[name];
    if (op) op(...args);
    else (args[args.length - 1] as Cb)(Fuse.ENOSYS);
  };

  // The ops every request of a tree copy passes through call `ops` directly: no argument array
  // per request (issue 6).
  const { getattr, fgetattr, write, release, utimens } = ops;
  out.getattr = (path: string, cb: Cb) =>
    own(path) ? serve(cb, 'getattr', path, async () => [0, dir.getattr(path)]) : getattr ? getattr(path, cb) : cb(Fuse.ENOSYS);
  // fuse-native hands fgetattr our handle only through PktfsFuse (see fuse.ts).
  out.fgetattr = (path: string, fh: number, cb: Cb) =>
    own(path) ? serve(cb, 'fgetattr', path, async () => [0, dir.getattr(path, fh)])
      : fgetattr ? fgetattr(path, fh, cb) : pass('getattr', [path, cb]);
  out.access = (path: string, mode: number, cb: Cb) =>
    own(path) ? serve(cb, 'access', path, async () => {
      dir.getattr(path);
      return [0];
    }) : pass('access', [path, mode, cb]);
  out.readlink = (path: string, cb: Cb) =>
    own(path) ? serve(cb, 'readlink', path, async () => { throw new FsError('EINVAL', `${path} is not a symbolic link`); })
      : pass('readlink', [path, cb]);
  // Only over ops that open directories themselves (without, libfuse answers opendir: ops-dir.ts).
  if (ops.opendir) {
    out.opendir = (path: string, flags: number, cb: Cb) =>
      own(path) ? serve(cb, 'opendir', path, async () => {
        dir.readdir(path);
        return [0, 0];
      }) : pass('opendir', [path, flags, cb]);
  }
  out.readdir = (path: string, cb: Cb) => {
    if (own(path)) return serve(cb, 'readdir', path, async () => [0, dir.readdir(path)]);
    if (path !== '/') return pass('readdir', [path, cb]);
    pass('readdir', [path, (code: number, names?: string[]) => (code === 0 && names ? cb(0, dir.rootListing(names)) : cb(code))]);
  };
  if (ops.releasedir) out.releasedir = (path: string, fh: number, cb: Cb) => (own(path) ? cb(0) : pass('releasedir', [path, fh, cb]));
  out.open = (path: string, flags: number, cb: Cb) =>
    own(path) ? serve(cb, 'open', path, async () => [0, dir.open(path, flags), OPEN_DIRECT_IO]) : pass('open', [path, flags, cb]);
  out.read = (path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
    own(path) ? serve(cb, 'read', path, async () => [dir.read(fh, len, pos).copy(buf)]) : pass('read', [path, fh, buf, len, pos, cb]);
  out.write = (path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
    own(path) ? serve(cb, 'write', path, async () => [await dir.write(fh, len)])
      : write ? write(path, fh, buf, len, pos, cb) : cb(Fuse.ENOSYS);
  out.release = (path: string, fh: number, cb: Cb) => {
    if (!own(path)) return release ? release(path, fh, cb) : cb(Fuse.ENOSYS);
    dir.release(fh);
    cb(0);
  };
  const truncate = (op: string, path: string, cb: Cb): void => serve(cb, op, path, async () => {
    dir.truncate(path);
    return [0];
  });
  out.truncate = (path: string, size: number, cb: Cb) => (own(path) ? truncate('truncate', path, cb) : pass('truncate', [path, size, cb]));
  out.ftruncate = (path: string, fh: number, size: number, cb: Cb) =>
    own(path) ? truncate('ftruncate', path, cb) : pass('ftruncate', [path, fh, size, cb]);
  out.utimens = (path: string, atime: unknown, mtime: unknown, cb: Cb) =>
    own(path) ? truncate('utimens', path, cb) : utimens ? utimens(path, atime, mtime, cb) : cb(Fuse.ENOSYS);
  for (const [name, at] of Object.entries(STRUCTURAL)) {
    const op = ops[name];
    out[name] = (...args: unknown[]) => {
      for (const i of at) if (own(args[i])) return (args[args.length - 1] as Cb)(Fuse.EPERM);
      if (op) op(...args); else (args[args.length - 1] as Cb)(Fuse.ENOSYS);
    };
  }
  return out;
}
