/**
 * The one place an error becomes a negative errno (STYLE: "src/fuse/ maps errors to errno once").
 * An FsError carries its errno name; anything else is a bug or an unexpected failure and
 * becomes EIO with one log line, so the mount keeps serving.
 */
import Fuse from 'fuse-native';
import createDebug from 'debug';
import { FsError } from '../errors';

const debug = createDebug('pktfs:fuse:errno');

/** Negative errno for a name such as 'ENOENT'; EIO for a name fuse-native does not know. */
export function errnoOf(name: string): number {
  const n = (Fuse as unknown as Record<string, unknown>)[name];
  return typeof n === 'number' && n < 0 ? n : Fuse.EIO;
}

/**
 * Negative errno for an error thrown while serving `op` on `path`.
 * Expected failures (FsError) are logged with debug only; unexpected ones once to stderr.
 */
export function toErrno(e: unknown, op: string, path: string): number {
  if (e instanceof FsError) {
    debug('%s %s: %s %s', op, path, e.errno, e.message);
    return errnoOf(e.errno);
  }
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.stderr.write(`pktfs: ${op} ${path}: unexpected error, answered EIO: ${msg.split('\n').slice(0, 2).join(' ')}\n`);
  return Fuse.EIO;
}
