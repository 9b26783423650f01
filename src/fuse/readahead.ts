/**
 * The kernel's read-ahead for a FUSE mount. Its page cache reads a FUSE file at
 * most `read_ahead_kb` ahead of the reader, 128 KiB by default: one max_read
 * request at a time, each waiting for the round trip through libfuse and
 * fuse-native. A larger window keeps several read requests in flight, which
 * fuse_loop_mt hands to pktfs together. The setting lives in the mount's
 * backing device info, /sys/class/bdi/MAJOR:MINOR/read_ahead_kb (writable by
 * root only): set once the mount is live, best effort.
 */
import { promises as fsp } from 'fs';
import createDebug from 'debug';

const debug = createDebug('pktfs:fuse:readahead');

/** Read-ahead asked of the kernel for a pktfs mount (KiB): 8 requests of 128 KiB. */
export const KERNEL_READ_AHEAD_KB = 1024;

/** Where the read-ahead of the filesystem on device `majorMinor` ("0:52") is set. */
export function bdiReadAheadPath(majorMinor: string): string {
  return `/sys/class/bdi/${majorMinor}/read_ahead_kb`;
}

/**
 * Raise the kernel's read-ahead of the mount on `majorMinor` to `kb` (never
 * lower it). Returns the value in effect afterwards, or undefined when it
 * cannot be read (no sysfs); a refusal (not root) leaves it as it was.
 */
export async function raiseKernelReadAhead(majorMinor: string, kb = KERNEL_READ_AHEAD_KB, file = bdiReadAheadPath(majorMinor)): Promise<number | undefined> {
  let now: number;
  try {
    now = Number((await fsp.readFile(file, 'utf8')).trim());
  } catch (e) {
    debug('%s: %s', file, (e as Error).message);
    return undefined;
  }
  if (!(now < kb)) return now;
  try {
    await fsp.writeFile(file, `${kb}\n`);
    debug('%s: %d -> %d KiB', file, now, kb);
    return kb;
  } catch (e) {
    debug('%s: left at %d KiB: %s', file, now, (e as Error).message);
    return now;
  }
}
