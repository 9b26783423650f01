/**
 * One load worker, as a process of its own (issue 5 section 5: many processes at once):
 *
 *   node dist/bench/load/worker.js W MOUNTPOINT SECONDS [DIR,DIR,...]
 *
 * Creates, reads, appends to, truncates, renames, unlinks, lists and fsyncs its own files
 * (names `wW-N`) in directories shared with the other workers, against its own model, for
 * SECONDS. Every operation has a deadline (a hang is a failure). On success it prints one
 * JSON line: its files ({path, size, sha256}) and how many operations of each kind it ran;
 * on a wrong answer it says what, on stderr, and exits 1. test/crash/fuse-load.test.ts runs 16.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { prng } from '../../test/helpers/prng';
import { pseudoRandom } from '../../test/helpers/tree';

const OP_DEADLINE_MS = 30000;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Owned {
  dir: string;
  content: Buffer;
}

export interface WorkerReport {
  files: { path: string; size: number; sha256: string }[];
  counts: Record<string, number>;
}

function deadline<T>(p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer in ${OP_DEADLINE_MS} ms (deadlock?)`)), OP_DEADLINE_MS))),
  ]);
}

export async function runWorker(w: number, mnt: string, seconds: number, dirs: string[]): Promise<WorkerReport> {
  const r = prng(1000 + w);
  const model = new Map<string, Owned>();
  const counts: Record<string, number> = {};
  const until = Date.now() + seconds * 1000;
  let serial = 0;
  const p = (dir: string, name: string) => path.join(mnt, dir, name);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const size = () => (r() < 0.3 ? Math.floor(r() * 1500) : r() < 0.8 ? Math.floor(r() * 40000) : Math.floor(r() * 300000));
  const count = (op: string) => (counts[op] = (counts[op] ?? 0) + 1);
  while (Date.now() < until) {
    const x = r();
    const mine = [...model.keys()];
    if (x < 0.25 || mine.length < 3) {
      const name = `w${w}-${serial++}`;
      const dir = pick(dirs);
      const data = pseudoRandom(`${w}:${name}`, size());
      await deadline(fs.promises.writeFile(p(dir, name), data), `create ${dir}/${name}`);
      model.set(name, { dir, content: data });
      count('create');
    } else if (x < 0.4) {
      const name = pick(mine);
      const f = model.get(name)!;
      const got = await deadline(fs.promises.readFile(p(f.dir, name)), `read ${name}`);
      if (!got.equals(f.content)) throw new Error(`worker ${w}: ${f.dir}/${name} reads ${got.length} bytes, wanted ${f.content.length} (or other bytes)`);
      count('read');
    } else if (x < 0.5) {
      const name = pick(mine);
      const f = model.get(name)!;
      const more = pseudoRandom(`${w}:${name}:${serial++}`, size());
      await deadline(fs.promises.appendFile(p(f.dir, name), more), `append ${name}`);
      f.content = Buffer.concat([f.content, more]);
      count('append');
    } else if (x < 0.55) {
      const name = pick(mine);
      const f = model.get(name)!;
      const len = Math.floor(r() * (f.content.length + 5000));
      await deadline(fs.promises.truncate(p(f.dir, name), len), `truncate ${name}`);
      f.content = len <= f.content.length ? f.content.subarray(0, len) : Buffer.concat([f.content, Buffer.alloc(len - f.content.length)]);
      count('truncate');
    } else if (x < 0.7) {
      const name = pick(mine);
      const f = model.get(name)!;
      const dir = pick(dirs);
      const to = r() < 0.5 ? name : `w${w}-${serial++}`;
      await deadline(fs.promises.rename(p(f.dir, name), p(dir, to)), `rename ${f.dir}/${name} ${dir}/${to}`);
      model.delete(name);
      model.set(to, { dir, content: f.content });
      count('rename');
    } else if (x < 0.8) {
      const name = pick(mine);
      await deadline(fs.promises.unlink(p(model.get(name)!.dir, name)), `unlink ${name}`);
      model.delete(name);
      count('unlink');
    } else if (x < 0.92) {
      const dir = pick(dirs);
      const listed = (await deadline(fs.promises.readdir(path.join(mnt, dir)), `readdir ${dir}`)).filter((n) => n.startsWith(`w${w}-`)).sort();
      const want = [...model].filter(([, f]) => f.dir === dir).map(([n]) => n).sort();
      if (JSON.stringify(listed) !== JSON.stringify(want)) throw new Error(`worker ${w}: ${dir} lists ${listed.join(',')}, wanted ${want.join(',')}`);
      count('readdir');
    } else {
      const name = `w${w}-${serial++}`;
      const dir = pick(dirs);
      const data = pseudoRandom(`${w}:${name}`, size());
      const fh = await deadline(fs.promises.open(p(dir, name), 'w'), `open ${name}`);
      try {
        await deadline(fh.write(data, 0, data.length, 0), `write ${name}`);
        await deadline(fh.sync(), `fsync ${name}`);
      } finally {
        await fh.close();
      }
      model.set(name, { dir, content: data });
      count('fsync');
    }
  }
  // Each file read back once more before reporting.
  for (const [name, f] of model) {
    const got = await deadline(fs.promises.readFile(p(f.dir, name)), `final read ${name}`);
    if (!got.equals(f.content)) throw new Error(`worker ${w}: ${f.dir}/${name} reads back wrong at the end`);
  }
  return { files: [...model].map(([name, f]) => ({ path: `${f.dir}/${name}`, size: f.content.length, sha256: sha(f.content) })), counts };
}

if (require.main === module) {
  const [w, mnt, seconds, dirs] = process.argv.slice(2);
  runWorker(Number(w), mnt, Number(seconds), (dirs ?? 'd0,d1,d2').split(',')).then(
    (report) => process.stdout.write(JSON.stringify(report) + '\n'),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
