/**
 * Mounting a Volume with FUSE and knowing when the mount ends.
 *
 * fuse-native gives no callback when someone else unmounts (`umount DIR`, `fusermount -u`),
 * so we watch for it: every `pollMs` we look for our mount's ID in /proc/self/mountinfo and
 * at the /dev/fuse descriptor libfuse holds. The mount has ended when its ID is gone and
 * libfuse has closed the descriptor (its loop ends only once the kernel has let go of the
 * connection, so after a lazy unmount we keep serving files that are still open).
 */
import { promises as fsp } from 'fs';
import createDebug from 'debug';
import { FsError } from '../errors';
import { isWritable, type Volume } from '../udf/types';
import { OpsContext } from './context';
import { raiseKernelReadAhead } from './readahead';
import { attrOps } from './ops-attr';
import { dirOps } from './ops-dir';
import { fileOps } from './ops-file';
import { readOnlyOps } from './ops-readonly';
import { writeOps, type Owner } from './ops-write';
import { WriteBehind } from './write-behind';
import { FastSetattr, type FastSetattrStats } from './fast-setattr';
import { PktfsFuse, bindingFastFlush, fuseTimeouts, type AttrCacheStats, type FastOpenStats, type FuseMountSettings } from './fuse';
import { PktinfoDir, pktinfoOps, type PktinfoSettings } from './pktinfo';
import { mountAt, readMountinfo } from './mountinfo';

const debug = createDebug('pktfs:fuse:mount');

export type { FuseMountSettings } from './fuse';

/**
 * How often the mount looks for an external unmount: the delay between `umount` and the volume
 * being closed (on a drive, the last writes and the end of the session wait for it).
 */
export const DEFAULT_POLL_MS = 50;

export interface MountSettings extends FuseMountSettings {
  /** How often to look for an unmount done by someone else (ms). */
  pollMs?: number;
  /** The `.pktinfo` directory; hidden, without packet-layer files, when absent. */
  pktinfo?: PktinfoSettings;
  /** Owner of files created through the mount; the user who mounted when absent. */
  owner?: Owner;
  /**
   * Let the binding answer reads of files that sit unchanged in an image file itself (DirectReads
   * in context.ts; `-o direct_read=off` turns it off). On by default.
   */
  directRead?: boolean;
  /** Writes answered before they run (write-behind.ts; `-o write_behind=off`: after). On by default. */
  writeBehind?: boolean;
  /**
   * Let the binding answer read-only opens of files its attribute cache holds, and their
   * releases, itself (PktfsFuse.setFastOpen; `-o fast_open=off` turns it off). On by default.
   */
  fastOpen?: boolean;
  /**
   * Let the binding answer chmod, chown and utimens of paths its attribute cache holds itself,
   * pktfs running them after (fast-setattr.ts; `-o fast_setattr=off`: all answered by pktfs). On by default.
   */
  fastSetattr?: boolean;
}

/** How the mount ended: unmounted by us, or from outside (umount, fusermount -u). */
export type EndReason = 'unmount' | 'external';

/** Check the mountpoint the way mount(8) users expect to hear about it; returns its canonical path. */
export async function checkMountpoint(mountpoint: string, nonempty: boolean): Promise<string> {
  let real: string;
  try {
    real = await fsp.realpath(mountpoint);
    const st = await fsp.stat(real);
    if (!st.isDirectory()) throw new FsError('ENOTDIR', `${mountpoint}: mountpoint is not a directory`);
  } catch (e) {
    if (e instanceof FsError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FsError('ENOENT', `${mountpoint}: mountpoint does not exist`);
    if (code === 'ENOTDIR') throw new FsError('ENOTDIR', `${mountpoint}: mountpoint is not a directory`);
    if (code === 'ENOTCONN') {
      throw new FsError('EBUSY', `${mountpoint}: a dead FUSE mount is still there (run: fusermount -u ${mountpoint})`);
    }
    throw new FsError('EIO', `${mountpoint}: ${(e as Error).message}`);
  }
  const existing = await mountAt(real);
  if (existing) throw new FsError('EBUSY', `${mountpoint}: mountpoint is busy (already mounted: ${existing.fsType} ${existing.source})`);
  if (!nonempty && (await fsp.readdir(real)).length > 0) {
    throw new FsError('ENOTEMPTY', `${mountpoint}: mountpoint is not empty (-o nonempty mounts over it)`);
  }
  return real;
}

/** Descriptors of this process open on /dev/fuse. */
async function fuseFds(): Promise<Set<number>> {
  const out = new Set<number>();
  for (const name of await fsp.readdir('/proc/self/fd')) {
    try {
      if ((await fsp.readlink(`/proc/self/fd/${name}`)) === '/dev/fuse') out.add(Number(name));
    } catch {
      // closed while we looked
    }
  }
  return out;
}

async function isFuseFd(fd: number): Promise<boolean> {
  try {
    return (await fsp.readlink(`/proc/self/fd/${fd}`)) === '/dev/fuse';
  } catch {
    return false;
  }
}

export class PktfsMount {
  /** Resolves once the mount is gone, with how it ended. */
  readonly ended: Promise<EndReason>;
  private resolveEnded!: (r: EndReason) => void;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private unmounting: Promise<void> | undefined;
  /** Said about the mount once it is live (e.g. a `.pktinfo` on the disc that ours hides). */
  readonly warnings: string[] = [];

  private constructor(
    private readonly fuse: PktfsFuse,
    readonly mountpoint: string,
    readonly mountId: number | undefined,
    private readonly fuseFd: number | undefined,
    private readonly pollMs: number,
  ) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.schedulePoll();
  }

  /** Mount `volume` on `mountpoint`; resolves once the kernel has initialised the connection. */
  static async mount(volume: Volume, mountpoint: string, settings: MountSettings): Promise<PktfsMount> {
    const real = await checkMountpoint(mountpoint, !!settings.nonempty);
    // Read-only when asked, or when the volume could not be mounted for writing (its info says why).
    const readOnly = settings.readOnly || !isWritable(volume);
    const ctx = new OpsContext(volume, readOnly);
    const cachesAttrs = fuseTimeouts({ ...settings, readOnly }).attr > 0;
    const pktinfo = new PktinfoDir(ctx, settings.pktinfo ?? { mode: 'hidden', mount: { source: settings.source } }, !cachesAttrs);
    const shadowed = await pktinfo.shadowWarning();
    const owner = settings.owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const changing = !readOnly && isWritable(volume) ? writeOps(ctx, volume, owner) : readOnlyOps();
    const ops = pktinfoOps(pktinfo, { ...changing, ...attrOps(ctx), ...dirOps(ctx), ...fileOps(ctx) });
    const fuse = new PktfsFuse(real, ops, { ...settings, readOnly });
    if (settings.directRead !== false) ctx.direct = fuse.directReads();
    // close(2) reports a write that failed in the background (the flush op); while there is none,
    // the binding answers flush itself, and the volume turns that off the moment one fails.
    const fastFlush = bindingFastFlush && !readOnly && isWritable(volume) && !!volume.watchWriteErrors?.(() => fuse.setFastFlush(false));
    if (fastFlush) {
      ctx.fastFlush = (on) => fuse.setFastFlush(on);
      ctx.fastFlushes = () => fuse.fastFlushes();
    }
    if (settings.writeBehind !== false && !readOnly && isWritable(volume) && volume.deferWriteError) {
      ctx.writeBehind = new WriteBehind(ctx, volume as typeof volume & Required<Pick<typeof volume, 'deferWriteError'>>);
    }
    // chmod, chown and utimens answered by the binding run here after (fast-setattr.ts).
    // Only where a write error is heard of the moment it happens: the binding must stop answering then.
    let fastSetattr: FastSetattr | undefined;
    if (settings.fastSetattr !== false && !readOnly && isWritable(volume) && volume.deferWriteError && typeof volume.umask === 'number') {
      const umask = volume.umask;
      const fs = new FastSetattr(volume as typeof volume & Required<Pick<typeof volume, 'deferWriteError'>>, (on) => fuse.setFastSetattr(on, umask));
      if (volume.watchWriteErrors?.(() => fs.stop())) fastSetattr = fs;
    }
    if (fastSetattr) {
      const fs = fastSetattr;
      fuse.answeredSetattr = (req) => fs.run(req);
      ctx.fastSetattr = fs;
      pktinfo.fastSetattrStats = () => {
        const counts = fuse.fastSetattrCounts();
        return counts && fs.stats(...counts);
      };
    }
    pktinfo.attrCacheStats = () => fuse.attrCacheStats();
    // Handles the binding gives out itself are taken over at their first request that comes here.
    ctx.takeFastOpen = (fh) => fuse.takeFastOpen(fh);
    pktinfo.fastOpenStats = () => fuse.fastOpenStats();
    // The write engine changes a file's block count when it stores its entry: forget what is cached.
    if (!readOnly && isWritable(volume)) volume.onAttrChange = () => fuse.clearAttrCache();
    const before = await fuseFds();
    await new Promise<void>((resolve, reject) => {
      fuse.mount((err) => (err ? reject(new FsError('EIO', `${mountpoint}: FUSE mount failed: ${err.message}`)) : resolve()));
    });
    const fresh = [...(await fuseFds())].filter((fd) => !before.has(fd));
    const entry = (await readMountinfo()).filter((m) => m.mountPoint === real && m.fsType === 'fuse.pktfs').pop();
    debug('mounted %s on %s: mount id %s, fuse fd %s', settings.source, real, entry?.id, fresh[0]);
    // Several read requests in flight instead of one (readahead.ts); best effort.
    if (entry) await raiseKernelReadAhead(entry.device);
    if (fastFlush && isWritable(volume) && !volume.writeError()) fuse.setFastFlush(true);
    if (settings.fastOpen !== false) fuse.setFastOpen(true);
    if (fastSetattr && isWritable(volume)) {
      if (!fuse.setFastSetattr(!volume.writeError(), volume.umask ?? 0)) fastSetattr.stop();
    }
    const mount = new PktfsMount(fuse, real, entry?.id, fresh.length === 1 ? fresh[0] : undefined, settings.pollMs ?? DEFAULT_POLL_MS);
    if (shadowed) mount.warnings.push(shadowed);
    mount.fastSetattrCounters = pktinfo.fastSetattrStats;
    return mount;
  }

  /** The binding's attribute cache counters (as `.pktinfo/stats.json` shows them). */
  attrCacheStats(): AttrCacheStats | undefined {
    return this.fuse.attrCacheStats();
  }

  /** The fast setattr's counters (as `.pktinfo/stats.json` shows them). */
  fastSetattrStats(): FastSetattrStats | undefined {
    return this.fastSetattrCounters?.();
  }

  /** Set by mount() when the mount has a fast setattr. */
  private fastSetattrCounters?: () => FastSetattrStats | undefined;

  /** The binding's fast open counters (as `.pktinfo/stats.json` shows them). */
  fastOpenStats(): FastOpenStats | undefined {
    return this.fuse.fastOpenStats();
  }

  private schedulePoll(): void {
    this.timer = setTimeout(() => {
      this.poll().then(
        (gone) => (gone ? this.finish('external') : this.schedulePoll()),
        (e) => {
          debug('poll failed: %s', (e as Error).message);
          this.schedulePoll();
        },
      );
    }, this.pollMs);
  }

  private async poll(): Promise<boolean> {
    if (this.done || this.unmounting) return false;
    const all = await readMountinfo();
    const listed = this.mountId !== undefined
      ? all.some((m) => m.id === this.mountId)
      : all.some((m) => m.mountPoint === this.mountpoint && m.fsType === 'fuse.pktfs');
    if (listed) return false;
    if (this.fuseFd !== undefined && (await isFuseFd(this.fuseFd))) return false;
    return !this.unmounting;
  }

  private finish(reason: EndReason): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    // No request comes any more; the owner closes the image next.
    this.fuse.dropDirectReads();
    // What the binding answered itself is queued on the volume before the owner closes it.
    this.fuse.stopFastSetattr();
    if (reason === 'external') {
      this.fuse.alreadyUnmounted = true;
      this.fuse.close(() => this.resolveEnded(reason));
    } else {
      this.resolveEnded(reason);
    }
    debug('%s: mount ended (%s)', this.mountpoint, reason);
  }

  /**
   * Unmount: a plain unmount when no file is busy, else a lazy one. Then give libfuse's
   * loop up to `graceMs` to end (at once after a plain unmount; after a lazy one, when the
   * last open file is closed) so that requests still in flight are answered.
   */
  unmount(graceMs = 2000): Promise<void> {
    if (this.done) return Promise.resolve();
    if (!this.unmounting) {
      clearTimeout(this.timer);
      this.unmounting = new Promise<void>((resolve, reject) => {
        this.fuse.close((err) => (err ? reject(err) : resolve()));
      }).then(
        async () => {
          const fd = this.fuseFd;
          const until = Date.now() + graceMs;
          while (fd !== undefined && Date.now() < until && (await isFuseFd(fd))) await new Promise((r) => setTimeout(r, 50));
          this.finish('unmount');
        },
        (e) => {
          this.unmounting = undefined;
          this.schedulePoll();
          throw e;
        },
      );
    }
    return this.unmounting;
  }
}
