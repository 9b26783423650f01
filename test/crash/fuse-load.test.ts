/**
 * Load through a real FUSE mount (issue 5, section 5): 16 workers writing,
 * reading, appending, truncating, renaming between and deleting in the same
 * three directories at once, each against its own model (names carry the
 * worker, so the model is exact whatever the interleaving), for
 * PKTFS_LOAD_SECONDS (default 15). Every operation has a deadline (a hang is
 * a failure, not a stuck suite). Then unmount, and the disc is judged: our
 * reader's tree equals the model, udfinfo's counts agree, udfclient reads
 * every file the same.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { assertBuilt } from '../bin/cli-helpers';
import { forceUnmountUnder } from '../fuse/helpers';
import { makeImage, udfclientGetAll } from '../udf/write-helpers';
import { prng } from './cutdev';
import { serve, unserve } from './fuse-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient', 'umount', 'fusermount') && fs.existsSync('/dev/fuse');
const describeIf = TOOLS ? describe : describe.skip;
const SECONDS = Number(process.env.PKTFS_LOAD_SECONDS ?? 15);
const WORKERS = 16;
const DIRS = ['d0', 'd1', 'd2'];
const OP_DEADLINE_MS = 30000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Owned {
  dir: string;
  content: Buffer;
}

function deadline<T>(p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer in ${OP_DEADLINE_MS} ms (deadlock?)`)), OP_DEADLINE_MS))),
  ]);
}

async function worker(w: number, mnt: string, until: number, model: Map<string, Owned>, counts: Map<string, number>): Promise<void> {
  const r = prng(1000 + w);
  let serial = 0;
  const p = (dir: string, name: string) => path.join(mnt, dir, name);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const size = () => (r() < 0.3 ? Math.floor(r() * 1500) : r() < 0.8 ? Math.floor(r() * 40000) : Math.floor(r() * 300000));
  const count = (op: string) => counts.set(op, (counts.get(op) ?? 0) + 1);
  while (Date.now() < until) {
    const x = r();
    const mine = [...model.keys()];
    if (x < 0.25 || mine.length < 3) {
      const name = `w${w}-${serial++}`;
      const dir = pick(DIRS);
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
      const dir = pick(DIRS);
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
      const dir = pick(DIRS);
      const listed = (await deadline(fs.promises.readdir(path.join(mnt, dir)), `readdir ${dir}`)).filter((n) => n.startsWith(`w${w}-`)).sort();
      const want = [...model].filter(([, f]) => f.dir === dir).map(([n]) => n).sort();
      if (JSON.stringify(listed) !== JSON.stringify(want)) throw new Error(`worker ${w}: ${dir} lists ${listed.join(',')}, wanted ${want.join(',')}`);
      count('readdir');
    } else {
      const name = `w${w}-${serial++}`;
      const dir = pick(DIRS);
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
}

describeIf('16 workers through the FUSE mount', () => {
  let tmp: string;
  beforeAll(() => {
    assertBuilt();
    tmp = makeTempDir('load');
  });
  afterAll(async () => {
    await forceUnmountUnder(tmp);
    removeTempDir(tmp);
  });

  test(`${SECONDS} s of create, read, append, truncate, rename, unlink, readdir, fsync: nothing lost, no deadlock`, async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 65536 }, tmp, 'load');
    const mnt = path.join(tmp, 'mnt');
    // A small packet cache and quick write-back: back-pressure, idle write-outs and settles happen all the time.
    const s = await serve(img, mnt, ['-o', 'cache=128K,flush=200']);
    const models = Array.from({ length: WORKERS }, () => new Map<string, Owned>());
    const counts = new Map<string, number>();
    try {
      for (const d of DIRS) await fs.promises.mkdir(path.join(mnt, d));
      const until = Date.now() + SECONDS * 1000;
      await Promise.all(models.map((m, w) => worker(w, mnt, until, m, counts)));
      // Each worker's files, read back through the mount before unmounting.
      for (const m of models) for (const [name, f] of m) expect(sha(await fs.promises.readFile(path.join(mnt, f.dir, name)))).toBe(sha(f.content));
    } finally {
      expect(await unserve(s)).toBe(0);
    }
    expect(s.stderr()).toBe('');
    const all = models.flatMap((m) => [...m].map(([name, f]) => ({ path: `${f.dir}/${name}`, size: f.content.length, sha256: sha(f.content) })));
    const ops = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`load: ${WORKERS} workers, ${SECONDS} s, ${ops} operations (${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}), ${all.length} files at the end`);
    expect(ops).toBeGreaterThan(WORKERS * 10);

    await withImage(img, {}, async (vol) => {
      const tree = await walkVolume(vol);
      expect(tree.filter((e) => e.type === 'dir').map((e) => e.path)).toEqual(DIRS);
      expect(tree.filter((e) => e.type === 'file').map((e) => [e.path, e.size, e.sha256])).toEqual(all.map((e) => [e.path, e.size, e.sha256]).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    });
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info.fields.integrity).toBe('closed');
    expect([info.numFiles, info.numDirs]).toEqual([all.length, DIRS.length + 1]);
    const out = path.join(tmp, 'out');
    await udfclientGetAll(img, 2048, DIRS, out);
    for (const e of all) expect(sha(fs.readFileSync(path.join(out, e.path)))).toBe(e.sha256);
  });
});
