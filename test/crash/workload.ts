/**
 * A deterministic copy workload for the crash harness, run against a
 * WritableVolume with a model beside it: files of every size class (in the
 * ICB, a few blocks, several packets) written in chunks, appended to,
 * overwritten, truncated, renamed (over each other too), unlinked, some
 * fsync'ed, now and then a sync or a settle, directories made and removed.
 * A file that was fsync'ed (or existed at a completed sync) is frozen: never
 * touched again, so at any crash point after that it must read back exactly.
 */
import { createHash } from 'crypto';
import { isFsError } from '../../src/errors';
import type { WritableVolume } from '../../src/udf/types';
import { pseudoRandom } from '../helpers/tree';
import { prng } from './cutdev';

/** A file that must survive any cut after `at` device bytes (a completed flush covered it). */
export interface Durable {
  path: string;
  size: number;
  sha256: string;
  at: number;
  how: 'fsync' | 'sync' | 'settle';
}

export interface WorkloadResult {
  durable: Durable[];
  /** Operations run, and those that failed with an FsError (expected only when the drive is cut off). */
  ops: number;
  errors: string[];
  /** The first failure that was not an FsError (a bug), if any. */
  crash?: unknown;
}

interface MFile {
  ino: number;
  dir: string;
  name: string;
  content: Buffer;
  frozen: boolean;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

export interface WorkloadOptions {
  seed: number;
  ops: number;
  /** Bytes of completed flushes so far, read when an fsync or sync returns. */
  flushedBytes: () => number;
  /** Stop at the first FsError (a cut-off drive) instead of going on. */
  stopOnError?: boolean;
}

function sizeClass(r: () => number): number {
  const x = r();
  if (x < 0.15) return 0;
  if (x < 0.45) return 1 + Math.floor(r() * 1500);
  if (x < 0.75) return 2048 + Math.floor(r() * 12000);
  if (x < 0.93) return 30000 + Math.floor(r() * 90000);
  return 150000 + Math.floor(r() * 200000);
}

/** Run the workload; never throws (failures are in the result). */
export async function runWorkload(vol: WritableVolume, o: WorkloadOptions): Promise<WorkloadResult> {
  const r = prng(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const dirs = new Map<string, number>([['', vol.rootIno]]);
  const files = new Map<string, MFile>();
  const durable: Durable[] = [];
  const errors: string[] = [];
  let serial = 0;
  const live = () => [...files.values()].filter((f) => !f.frozen);
  const freezeAll = (how: 'sync' | 'settle') => {
    const at = o.flushedBytes();
    for (const [p, f] of files) {
      if (f.frozen) continue;
      f.frozen = true;
      durable.push({ path: p, size: f.content.length, sha256: sha(f.content), at, how });
    }
  };
  const writeChunks = async (f: MFile, off: number, data: Buffer) => {
    for (let done = 0; done < data.length;) {
      const n = Math.min(data.length - done, 1 + Math.floor(r() * 70000));
      await vol.write(f.ino, off + done, data.subarray(done, done + n));
      done += n;
    }
    const end = off + data.length;
    const grown = end > f.content.length ? Buffer.concat([f.content, Buffer.alloc(end - f.content.length)]) : f.content;
    data.copy(grown, off);
    f.content = grown;
  };

  const step = async (i: number): Promise<void> => {
    const x = r();
    const cand = live();
    if (x < 0.3 || cand.length === 0) {
      const dir = pick([...dirs.keys()]);
      const name = `f${serial++}-${Math.floor(r() * 1e6)}`;
      const ino = await vol.create(dirs.get(dir)!, name, 0o644, 0, 0);
      const f: MFile = { ino, dir, name, content: Buffer.alloc(0), frozen: false };
      files.set(join(dir, name), f);
      await writeChunks(f, 0, pseudoRandom(`${o.seed}:${i}`, sizeClass(r)));
    } else if (x < 0.4) {
      const f = pick(cand);
      await writeChunks(f, f.content.length, pseudoRandom(`${o.seed}:a${i}`, sizeClass(r)));
    } else if (x < 0.45) {
      const f = pick(cand);
      const off = Math.floor(r() * (f.content.length + 1));
      await writeChunks(f, off, pseudoRandom(`${o.seed}:o${i}`, 1 + Math.floor(r() * 9000)));
    } else if (x < 0.5) {
      const f = pick(cand);
      const size = Math.floor(r() * (f.content.length * 1.5 + 100));
      await vol.truncate(f.ino, size);
      f.content = size <= f.content.length ? Buffer.from(f.content.subarray(0, size)) : Buffer.concat([f.content, Buffer.alloc(size - f.content.length)]);
    } else if (x < 0.6) {
      const f = pick(cand);
      const toDir = pick([...dirs.keys()]);
      const over = r() < 0.3 ? cand.filter((g) => g !== f && g.dir === toDir) : [];
      const toName = over.length ? pick(over).name : `r${serial++}`;
      await vol.rename(dirs.get(f.dir)!, f.name, dirs.get(toDir)!, toName);
      files.delete(join(f.dir, f.name));
      files.delete(join(toDir, toName));
      f.dir = toDir;
      f.name = toName;
      files.set(join(toDir, toName), f);
    } else if (x < 0.68) {
      const f = pick(cand);
      await vol.unlink(dirs.get(f.dir)!, f.name);
      files.delete(join(f.dir, f.name));
    } else if (x < 0.83) {
      const f = pick(cand);
      await vol.fsync(f.ino);
      f.frozen = true;
      durable.push({ path: join(f.dir, f.name), size: f.content.length, sha256: sha(f.content), at: o.flushedBytes(), how: 'fsync' });
    } else if (x < 0.9) {
      const parent = pick([...dirs.keys()]);
      if (parent.split('/').length > 3) return;
      const name = `d${serial++}`;
      dirs.set(join(parent, name), await vol.mkdir(dirs.get(parent)!, name, 0o755, 0, 0));
    } else if (x < 0.93) {
      const empty = [...dirs.keys()].filter((d) => d && ![...files.values()].some((f) => f.dir === d || f.dir.startsWith(`${d}/`))
        && ![...dirs.keys()].some((e) => e.startsWith(`${d}/`)));
      if (!empty.length) return;
      const d = pick(empty);
      const cut = d.lastIndexOf('/');
      await vol.rmdir(dirs.get(cut < 0 ? '' : d.slice(0, cut))!, d.slice(cut + 1));
      dirs.delete(d);
    } else if (x < 0.97) {
      await vol.sync();
      freezeAll('sync');
    } else {
      await vol.settle();
      freezeAll('settle');
    }
  };

  for (let i = 0; i < o.ops; i++) {
    try {
      await step(i);
    } catch (e) {
      if (!isFsError(e)) return { durable, ops: i + 1, errors, crash: e };
      errors.push(`op ${i}: ${e.errno} ${e.message}`);
      if (o.stopOnError) return { durable, ops: i + 1, errors };
    }
  }
  return { durable, ops: o.ops, errors };
}
