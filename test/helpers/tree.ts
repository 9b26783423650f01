/**
 * The test tree put on every writable image, and walkers that turn a host
 * directory, a mounted pktfs Volume or a 7zz listing into the same sorted list of
 * {path, type, size, sha256, target} so they can be compared with toEqual.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Volume } from '../../src/udf/types';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface TreeEntry {
  /** Relative to the root, '/'-separated, no leading slash. */
  path: string;
  type: EntryType;
  /** Files and symlinks only; directories report 0 (their size is not comparable). */
  size: number;
  sha256?: string;
  target?: string;
}

/** Deterministic pseudo-random bytes (SHA-256 in counter mode), so failures reproduce. */
export function pseudoRandom(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0, n = 0; off < length; off += 32, n++) {
    createHash('sha256').update(`${seed}:${n}`).digest().copy(out, off);
  }
  return out;
}

/** Names whose UTF-8 bytes avoid 0x80-0x9F, so the 8-bit reading of them is printable Latin-1. */
export const NON_ASCII_DIR = 'ünïcödé dir';
export const NON_ASCII_FILE = 'façade ñ ö.txt';

/**
 * Build the standard source tree in `dir` and return the top-level names (what
 * udfclient's mput is given). Sizes straddle the 2048-byte block; `many/` holds
 * enough entries with names of varying length that FIDs straddle sector ends.
 */
export function buildSourceTree(dir: string, bigSize = 3 * 1024 * 1024 + 123): string[] {
  const file = (rel: string, data: Buffer | string): void => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
  };
  file('empty', '');
  file('one', 'x');
  file('f2047', pseudoRandom('f2047', 2047));
  file('f2048', pseudoRandom('f2048', 2048));
  file('f2049', pseudoRandom('f2049', 2049));
  file('big.bin', pseudoRandom('big', bigSize));
  file('with space/file with spaces.txt', 'spaces in both names\n');
  file(`with space/${NON_ASCII_FILE}`, 'non-ASCII name\n');
  file(`${NON_ASCII_DIR}/inner.txt`, pseudoRandom('inner', 700));
  file('a/b/c/d/deep.txt', 'four levels down\n');
  file('a/b/sibling', pseudoRandom('sibling', 5000));
  fs.mkdirSync(path.join(dir, 'a/empty dir'), { recursive: true });
  // Few enough nodes for udfclient, which keeps FEs and FIDs in the first ~1/1000 of the partition.
  for (let i = 0; i < 20; i++) {
    file(`many/entry-${String(i).padStart(2, '0')}-${'n'.repeat((i * 7) % 41)}`, pseudoRandom(`many${i}`, i * 113));
  }
  return fs.readdirSync(dir).sort();
}

/** How udfclient stores a name: its UTF-8 bytes as 8-bit CS0 characters, read back as Latin-1. */
export function udfclientName(name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1');
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const byPath = (a: TreeEntry, b: TreeEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Walk a host directory; `mapName` turns each host name into the name expected on the image. */
export function walkHost(root: string, mapName: (n: string) => string = (n) => n): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (abs: string, rel: string): void => {
    for (const name of fs.readdirSync(abs)) {
      const a = path.join(abs, name);
      const r = rel ? `${rel}/${mapName(name)}` : mapName(name);
      const st = fs.lstatSync(a);
      if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(a);
        out.push({ path: r, type: 'symlink', size: Buffer.byteLength(target), target });
      } else if (st.isDirectory()) {
        out.push({ path: r, type: 'dir', size: 0 });
        visit(a, r);
      } else {
        out.push({ path: r, type: 'file', size: st.size, sha256: sha256(fs.readFileSync(a)) });
      }
    }
  };
  visit(root, '');
  return out.sort(byPath);
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export interface WalkOptions {
  /** Read size per call; deliberately not a multiple of any block size by default. */
  chunk?: number;
  /** Also check that lookup(dir, name) gives the ino readdir gave. */
  checkLookup?: boolean;
}

/** Read a whole file through the Volume API in chunks and check the size agrees with getattr. */
export async function readAll(vol: Volume, ino: number, size: number, chunk = 100_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  let off = 0;
  while (off < size) {
    const b = await vol.read(ino, off, chunk);
    if (b.length === 0) break;
    parts.push(b);
    off += b.length;
  }
  const tail = await vol.read(ino, off, chunk);
  if (off !== size || tail.length !== 0) {
    throw new Error(`ino ${ino}: read gave ${off} bytes then ${tail.length} more, getattr size ${size}`);
  }
  return Buffer.concat(parts);
}

/** Walk a mounted Volume from its root, reading every file. */
export async function walkVolume(vol: Volume, opts: WalkOptions = {}): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const seen = new Set<number>([vol.rootIno]);
  const visit = async (dirIno: number, rel: string): Promise<void> => {
    for (const ent of await vol.readdir(dirIno)) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (opts.checkLookup) {
        const ino = await vol.lookup(dirIno, ent.name);
        if (ino !== ent.ino) throw new Error(`${r}: lookup gave ino ${ino}, readdir ${ent.ino}`);
      }
      const attr = await vol.getattr(ent.ino);
      const fmt = attr.mode & S_IFMT;
      if (fmt === S_IFDIR) {
        out.push({ path: r, type: 'dir', size: 0 });
        if (seen.has(ent.ino)) throw new Error(`${r}: directory ino ${ent.ino} seen twice (loop)`);
        seen.add(ent.ino);
        await visit(ent.ino, r);
      } else if (fmt === S_IFLNK) {
        const target = await vol.readlink(ent.ino);
        out.push({ path: r, type: 'symlink', size: attr.size, target });
      } else if (fmt === S_IFREG) {
        const data = await readAll(vol, ent.ino, attr.size, opts.chunk);
        out.push({ path: r, type: 'file', size: attr.size, sha256: sha256(data) });
      } else {
        throw new Error(`${r}: unexpected mode 0${attr.mode.toString(8)}`);
      }
    }
  };
  await visit(vol.rootIno, '');
  return out.sort(byPath);
}

/** A tree reduced to what 7zz can tell: path, directory or not, size. */
export function shapeOf(entries: TreeEntry[]): { path: string; folder: boolean; size: number }[] {
  return entries
    .map((e) => ({ path: e.path, folder: e.type === 'dir', size: e.type === 'dir' ? 0 : e.size }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Count files and directories the way udfinfo does (directories include the root). */
export function countTree(entries: TreeEntry[]): { files: number; dirs: number } {
  const dirs = entries.filter((e) => e.type === 'dir').length + 1;
  return { files: entries.length - dirs + 1, dirs };
}
