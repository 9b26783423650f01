/**
 * The empty filesystem: fuse-native with nothing behind it, mounted with pktfs's own FUSE
 * options (src/fuse/fuse.ts), to measure the binding's ceiling. `node dist/bench/nullfs.js MNT`
 * serves until `fusermount -u MNT`.
 *
 *   /zero        a file of NULLFS_BYTES (default 1 GiB) zeros
 *   /sink        accepts writes and drops them (any other new name is a sink too; mkdir is
 *                remembered, so trees of empty files can be created and deleted)
 *   /d/f0..fN    NULLFS_FILES (default 1000) empty files, for stat/open/readdir rates
 * Symbolic links are remembered too, so that `cp -a` and `tar x` of a real tree run through it:
 * the binding's ceiling for the small-file rows.
 */
import { PktfsFuse } from '../src/fuse/fuse';
import { mountAt } from '../src/fuse/mountinfo';

type Cb = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
const ENOENT = -2;
const ENOTDIR = -20;

const mnt = process.argv[2];
const BYTES = Number(process.env.NULLFS_BYTES ?? 1 << 30);
const FILES = Number(process.env.NULLFS_FILES ?? 1000);
const t = new Date();
const names = Array.from({ length: FILES }, (_, i) => `f${i}`);

function stat(mode: number, size: number, ino: number): Record<string, unknown> {
  return { mode, uid: 0, gid: 0, size, nlink: 1, ino, blocks: Math.ceil(size / 512), blksize: 4096, atime: t, mtime: t, ctime: t };
}

const DIR = 0o40755;
const REG = 0o100644;
const LNK = 0o120777;

const ops = {
  getattr(path: string, cb: Cb): void {
    if (path === '/' || path === '/d') return cb(0, stat(DIR, 0, path.length));
    if (path === '/zero') return cb(0, stat(REG, BYTES, 3));
    if (path.startsWith('/d/f') && Number(path.slice(4)) < FILES) return cb(0, stat(REG, 0, 10 + Number(path.slice(4))));
    if (path === '/sink') return cb(0, stat(REG, 0, 4));
    if (sinks.has(path)) return cb(0, stat(REG, 0, inoOf(path)));
    if (dirs.has(path)) return cb(0, stat(DIR, 0, inoOf(path)));
    const target = links.get(path);
    if (target !== undefined) return cb(0, stat(LNK, target.length, inoOf(path)));
    return cb(ENOENT);
  },
  readdir(path: string, cb: Cb): void {
    if (path === '/') return cb(0, ['zero', 'sink', 'd']);
    if (path === '/d') return cb(0, names);
    if (dirs.has(path)) return cb(0, childrenOf(path));
    return cb(ENOTDIR);
  },
  open(_path: string, _flags: number, cb: Cb): void { cb(0, 1); },
  create(path: string, _mode: number, cb: Cb): void { sinks.add(path); cb(0, 2); },
  mkdir(path: string, _mode: number, cb: Cb): void { dirs.add(path); cb(0); },
  unlink(path: string, cb: Cb): void { sinks.delete(path); links.delete(path); inos.delete(path); cb(0); },
  rmdir(path: string, cb: Cb): void { dirs.delete(path); inos.delete(path); cb(0); },
  symlink(target: string, path: string, cb: Cb): void { links.set(path, target); cb(0); },
  readlink(path: string, cb: Cb): void {
    const target = links.get(path);
    return target === undefined ? cb(ENOENT) : cb(0, target);
  },
  release(_path: string, _fd: number, cb: Cb): void { cb(0); },
  flush(_path: string, _fd: number, cb: Cb): void { cb(0); },
  fsync(_path: string, _ds: number, _fd: number, cb: Cb): void { cb(0); },
  truncate(_path: string, _size: number, cb: Cb): void { cb(0); },
  ftruncate(_path: string, _fd: number, _size: number, cb: Cb): void { cb(0); },
  utimens(_path: string, _a: Date, _m: Date, cb: Cb): void { cb(0); },
  chmod(_path: string, _mode: number, cb: Cb): void { cb(0); },
  chown(_path: string, _u: number, _g: number, cb: Cb): void { cb(0); },
  read(_path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb): void {
    const n = Math.max(0, Math.min(len, BYTES - pos));
    buf.fill(0, 0, n);
    cb(n);
  },
  write(_path: string, _fd: number, _buf: Buffer, len: number, _pos: number, cb: Cb): void { cb(len); },
};
/** Names created: kept so that getattr finds them (the kernel asks right after create). */
const sinks = new Set<string>();
const dirs = new Set<string>();
const links = new Map<string, string>();

/** Distinct inode numbers for created names (find and rm -rf take equal ones for a cycle). */
const inos = new Map<string, number>();
let lastIno = 10 + FILES;
function inoOf(path: string): number {
  let ino = inos.get(path);
  if (ino === undefined) inos.set(path, (ino = ++lastIno));
  return ino;
}

/** The names directly in directory `dir` (made by mkdir): files, directories, links. */
function childrenOf(dir: string): string[] {
  const prefix = dir + '/';
  const out: string[] = [];
  for (const p of [...sinks, ...dirs, ...links.keys()]) {
    if (p.startsWith(prefix) && !p.includes('/', prefix.length)) out.push(p.slice(prefix.length));
  }
  return out;
}

// Without pktfs's attribute cache: every getattr makes the round trip to JavaScript, the ceiling
// the rows have always shown (the cache's own rates are pktfs's, with -o attr_cache=on).
const fuse = new PktfsFuse(mnt, ops, { source: 'nullfs', readOnly: false, attrCache: false });
fuse.mount((err) => {
  if (err) {
    console.error(`nullfs: ${err.message}`);
    process.exit(1);
  }
  const poll = (): void => {
    mountAt(mnt).then((m) => {
      if (m) return void setTimeout(poll, 100);
      fuse.alreadyUnmounted = true;
      fuse.close(() => process.exit(0));
    }, () => setTimeout(poll, 100));
  };
  setTimeout(poll, 100);
});
