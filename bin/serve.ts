/**
 * The process that owns a mount: opens the source, reads the UDF volume, mounts it with
 * FUSE, says "ready" (or why not) and serves until the mount ends: `umount`/`fusermount -u`
 * from outside, or SIGTERM/SIGINT here, which unmount first. Runs in the foreground with
 * `-f`, else as the detached child bin/daemon.ts starts.
 */
import createDebug from 'debug';
import { FsError } from '../src/errors';
import { PktfsMount, checkMountpoint } from '../src/fuse/mount';
import type { MountOptions } from '../src/options';
import { isWritable } from '../src/udf/types';
import { closeStack, openStack, type Stack } from './stack';

const debug = createDebug('pktfs:bin:serve');

/** A failure to mount, with the one line the user sees. */
export class MountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountError';
  }
}

/** What the serving process tells whoever started it. */
export type ServeReport = { type: 'ready'; warnings: string[] } | { type: 'error'; message: string };

function prefixed(subject: string, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.startsWith(subject) ? msg : `${subject}: ${msg}`;
}

/** Open `source` (image, block device, optical drive, emu:) with the packet layer and the volume on it; every failure becomes a one-line MountError. */
async function openSource(source: string, opts: MountOptions): Promise<Stack> {
  let stage: 'device' | 'volume' = 'device';
  try {
    return await openStack(source, opts, (s) => (stage = s));
  } catch (e) {
    if (stage === 'device') throw new MountError(prefixed(source, e));
    if (!(e instanceof FsError)) debug('openVolume: %O', e);
    // The UDF layer answers ENODEV when it finds no UDF volume recognition or anchor at all.
    if (e instanceof FsError && e.errno === 'ENODEV') throw new MountError(`${source}: not a UDF volume (${e.message})`);
    throw new MountError(prefixed(source, e));
  }
}

/**
 * Mount and serve until the mount ends; `onReady` is called once the mount is live.
 * Resolves when serving is over (the caller exits 0), rejects with MountError if the mount failed.
 */
export async function serve(source: string, mountpoint: string, opts: MountOptions, onReady: (warnings: string[]) => void): Promise<void> {
  let stack: Stack | undefined;
  let mount: PktfsMount | undefined;
  let stopSignal: NodeJS.Signals | undefined;

  const unmount = (m: PktfsMount): void => {
    m.unmount().catch((e) => process.stderr.write(`pktfs: ${(e as Error).message}\n`));
  };
  // Listening from the start: a signal that comes while the mount is being set up
  // (it is visible in mountinfo before we know it is live) still unmounts cleanly.
  const stop = (signal: NodeJS.Signals): void => {
    debug('%s: unmounting %s', signal, mountpoint);
    stopSignal = signal;
    if (mount) unmount(mount);
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of signals) process.on(s, stop);

  try {
    await checkMountpoint(mountpoint, opts.nonempty).catch((e) => {
      throw new MountError(prefixed(mountpoint, e));
    });
    stack = await openSource(source, opts);
    mount = await PktfsMount.mount(stack.volume, mountpoint, {
      source,
      readOnly: opts.readOnly,
      owner: ownerOf(opts),
      allowOther: opts.allowOther,
      nonempty: opts.nonempty,
      vfsFlags: opts.vfsFlags,
      attrTimeout: opts.attrTimeout,
      entryTimeout: opts.entryTimeout,
      directRead: opts.directRead,
      writeBehind: opts.writeBehind,
      attrCache: opts.attrCache,
      fastOpen: opts.fastOpen,
      fastSetattr: opts.fastSetattr,
      pktinfo: {
        mode: opts.pktinfo,
        packets: stack.packets,
        mount: { source, readOnlyReason: readOnlyReason(opts, stack), ...stack.facts },
      },
    }).catch((e) => {
      throw new MountError(prefixed(mountpoint, e));
    });
  } catch (e) {
    for (const s of signals) process.off(s, stop);
    if (stack) await closeStack(stack).catch(() => undefined);
    throw e instanceof MountError ? e : new MountError(e instanceof Error ? e.message : String(e));
  }

  // From here on an unexpected failure must not take the mount down with the process.
  const keepServing = (what: string) => (e: unknown): void => {
    process.stderr.write(`pktfs: ${what} (still serving): ${e instanceof Error ? e.message : String(e)}\n`);
  };
  process.on('uncaughtException', keepServing('unexpected error'));
  process.on('unhandledRejection', keepServing('unhandled rejection'));

  if (stopSignal) unmount(mount);
  else onReady([...stack.notices, ...readOnlyNotice(opts, stack), ...stack.volume.info.warnings, ...mount.warnings]);
  const how = await mount.ended;
  debug('mount ended (%s); closing the volume', how);
  for (const s of signals) process.off(s, stop);
  await closeStack(stack);
}

/** Why the mount is read-only, for `.pktinfo/volume`: the options', the device's, or the volume's. */
function readOnlyReason(opts: MountOptions, stack: Stack): string | undefined {
  if (opts.readOnly) return 'mounted read-only (-o ro)';
  const dev = stack.device as { readOnlyReason?: string };
  if (stack.device.readOnly && dev.readOnlyReason) return dev.readOnlyReason;
  return stack.volume.info.readOnlyReason;
}

/** A read-write mount that could not be one says so, with the reason. */
function readOnlyNotice(opts: MountOptions, stack: Stack): string[] {
  if (opts.readOnly || isWritable(stack.volume)) return [];
  return [`mounted read-only: ${readOnlyReason(opts, stack) ?? 'the volume cannot be written'}`];
}

/** New files belong to -o uid=/gid= when given, else to the user who mounted. */
function ownerOf(opts: MountOptions): { uid: number; gid: number } {
  return { uid: opts.udf.uid ?? process.getuid?.() ?? 0, gid: opts.udf.gid ?? process.getgid?.() ?? 0 };
}
