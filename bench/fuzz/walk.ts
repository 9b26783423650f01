/**
 * Walking a (damaged) volume the way a user would: readdir from the root down,
 * getattr of every entry, data read in FUSE-sized chunks, readlink. Every call
 * races a timeout. What counts as a failure: an exception that is not an
 * FsError, a call that does not settle in time, and answers that break the
 * Volume contract (names that are not POSIX names, reads longer than asked).
 */
import { isFsError } from '../../src/errors';
import type { Volume, WritableVolume } from '../../src/udf/types';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;

export interface WalkLimits {
  /** Per call. */
  opTimeoutMs: number;
  maxEntries: number;
  maxDepth: number;
  /** Bytes read from the start of each file (then the last chunk). */
  readBytes: number;
  chunk: number;
}

export const DEFAULT_LIMITS: WalkLimits = { opTimeoutMs: 20000, maxEntries: 300, maxDepth: 24, readBytes: 128 << 10, chunk: 64 << 10 };

export interface WalkResult {
  entries: number;
  /** How many calls answered each errno (a damaged part answers EIO). */
  errnos: Record<string, number>;
  /** The first message of each errno answered, to see what the errors say. */
  samples?: Record<string, string>;
  /** Contract breaks; empty when the case passed. */
  failures: string[];
}

export class Failure extends Error {}

/** `p` or a Failure once `ms` pass without it settling. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`hang: ${what} did not settle in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `name` can be a POSIX directory entry (what readdir may answer). */
export function badName(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'not a string';
  if (name === '' || name === '.' || name === '..') return `reserved name "${name}"`;
  if (name.includes('/') || name.includes('\0')) return `name with / or NUL: ${JSON.stringify(name)}`;
  if (Buffer.byteLength(name, 'utf8') > 255) return `name of ${Buffer.byteLength(name, 'utf8')} bytes`;
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) return 'name with a lone surrogate (not UTF-8)';
  return undefined;
}

/** Run one call: FsError is an answer (counted), anything else a Failure. */
function caller(res: WalkResult, limits: WalkLimits) {
  return async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await withTimeout(f(), limits.opTimeoutMs, what);
    } catch (e) {
      if (isFsError(e)) {
        res.errnos[e.errno] = (res.errnos[e.errno] ?? 0) + 1;
        res.samples ??= {};
        res.samples[e.errno] ??= `${what}: ${e.message}`;
        return undefined;
      }
      if (e instanceof Failure) throw e;
      throw new Failure(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    }
  };
}

export async function walkVolume(vol: Volume, limits: WalkLimits = DEFAULT_LIMITS): Promise<WalkResult> {
  const res: WalkResult = { entries: 0, errnos: {}, failures: [] };
  const call = caller(res, limits);
  const seen = new Set<number>();
  const visit = async (ino: number, path: string, depth: number): Promise<void> => {
    if (res.entries >= limits.maxEntries) return;
    res.entries++;
    const attr = await call(`getattr ${path}`, () => vol.getattr(ino));
    if (!attr) return;
    const type = attr.mode & S_IFMT;
    if (type === S_IFDIR) {
      if (seen.has(ino) || depth >= limits.maxDepth) return;
      seen.add(ino);
      const list = await call(`readdir ${path}`, () => vol.readdir(ino));
      if (!list) return;
      const names = new Set<string>();
      for (const e of list) {
        const bad = badName(e.name);
        if (bad) res.failures.push(`readdir ${path}: ${bad}`);
        if (names.has(e.name)) res.failures.push(`readdir ${path}: "${e.name}" twice`);
        names.add(e.name);
      }
      for (const e of list) {
        if (res.entries >= limits.maxEntries) break;
        const child = `${path}/${e.name}`;
        // lookup must agree with readdir (or answer an error for a damaged entry).
        const found = await call(`lookup ${child}`, () => vol.lookup(ino, e.name));
        if (found !== undefined && found !== e.ino) res.failures.push(`lookup ${child}: ${found}, readdir said ${e.ino}`);
        await visit(e.ino, child, depth + 1);
      }
    } else if (type === S_IFLNK) {
      const target = await call(`readlink ${path}`, () => vol.readlink(ino));
      if (target !== undefined && (typeof target !== 'string' || target.includes('\0'))) res.failures.push(`readlink ${path}: ${JSON.stringify(target)}`);
    } else if (type === S_IFREG) {
      const size = attr.size;
      if (!Number.isSafeInteger(size) || size < 0) {
        res.failures.push(`getattr ${path}: size ${size}`);
        return;
      }
      const offsets: number[] = [];
      for (let o = 0; o < Math.min(size, limits.readBytes); o += limits.chunk) offsets.push(o);
      if (size > limits.readBytes) offsets.push(Math.max(0, size - limits.chunk), size - 1);
      offsets.push(size); // at the end: nothing
      for (const o of offsets) {
        const b = await call(`read ${path} @${o}`, () => vol.read(ino, o, limits.chunk));
        if (b === undefined) break;
        const want = Math.max(0, Math.min(limits.chunk, size - o));
        if (!Buffer.isBuffer(b) || b.length !== want) res.failures.push(`read ${path} @${o}: ${Buffer.isBuffer(b) ? b.length : typeof b} bytes, want ${want}`);
      }
    }
  };
  await visit(vol.rootIno, '', 0);
  // Everything walked was listed by readdir: damaged or not, it is there (EIO), never ENOENT.
  if (res.errnos.ENOENT) res.failures.push(`a listed entry answered ENOENT: ${res.samples?.ENOENT}`);
  return res;
}

/**
 * On a volume mounted read-write: what a user does to a damaged volume before
 * noticing, in the root and to the first entries there (create, write, grow,
 * shrink, mkdir, rename, unlink, rmdir, setattr, sync). Errors are answers; the
 * write engine must not crash or hang on what it found on the disc.
 */
export async function exerciseWrites(vol: WritableVolume, limits: WalkLimits = DEFAULT_LIMITS): Promise<WalkResult> {
  const res: WalkResult = { entries: 0, errnos: {}, failures: [] };
  const call = caller(res, limits);
  const r = vol.rootIno;
  const f = await call('create fuzz-new', () => vol.create(r, 'fuzz-new', 0o644, 0, 0));
  if (f !== undefined) {
    await call('write fuzz-new', () => vol.write(f, 0, Buffer.alloc(10000, 0x61)));
    await call('write fuzz-new @1M', () => vol.write(f, 1 << 20, Buffer.from('tail')));
    await call('truncate fuzz-new', () => vol.truncate(f, 100));
  }
  const d = await call('mkdir fuzz-dir', () => vol.mkdir(r, 'fuzz-dir', 0o755, 0, 0));
  if (d !== undefined) {
    await call('create fuzz-dir/x', () => vol.create(d, 'x', 0o644, 0, 0));
    await call('rename fuzz-new', () => vol.rename(r, 'fuzz-new', d, 'moved'));
    await call('unlink fuzz-dir/x', () => vol.unlink(d, 'x'));
  }
  const list = (await call('readdir /', () => vol.readdir(r))) ?? [];
  for (const e of list.slice(0, 4)) {
    if (e.name.startsWith('fuzz-')) continue;
    res.entries++;
    const a = await call(`getattr ${e.name}`, () => vol.getattr(e.ino));
    if (!a) continue;
    if ((a.mode & 0o170000) === 0o100000) {
      await call(`write ${e.name}`, () => vol.write(e.ino, Math.min(a.size, 4096), Buffer.from('appended')));
      await call(`truncate ${e.name}`, () => vol.truncate(e.ino, Math.floor(a.size / 2)));
      await call(`setattr ${e.name}`, () => vol.setattr(e.ino, { mode: 0o600, mtime: new Date(0) }));
      await call(`rename ${e.name}`, () => vol.rename(r, e.name, r, `${e.name}.renamed`));
    } else if ((a.mode & 0o170000) === 0o040000) {
      await call(`create in ${e.name}`, () => vol.create(e.ino, 'fuzz-in', 0o644, 0, 0));
      await call(`rmdir ${e.name}`, () => vol.rmdir(r, e.name));
    } else {
      await call(`unlink ${e.name}`, () => vol.unlink(r, e.name));
    }
  }
  await call('sync', () => vol.sync());
  return res;
}
