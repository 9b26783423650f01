/**
 * Load through a real FUSE mount (issue 5, section 5): 16 worker processes
 * (bench/load/worker.ts) writing,
 * reading, appending, truncating, renaming between and deleting in the same
 * three directories at once, each against its own model (names carry the
 * worker, so the model is exact whatever the interleaving), for
 * PKTFS_LOAD_SECONDS (default 15). Every operation has a deadline (a hang is
 * a failure, not a stuck suite). Then unmount, and the disc is judged: our
 * reader's tree equals the model, udfinfo's counts agree, udfclient reads
 * every file the same.
 */
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { assertBuilt } from '../bin/cli-helpers';
import { forceUnmountUnder } from '../fuse/helpers';
import { makeImage, udfclientGetAll } from '../udf/write-helpers';
import type { WorkerReport } from '../../bench/load/worker';
import { serve, unserve } from './fuse-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient', 'umount', 'fusermount') && fs.existsSync('/dev/fuse');
const describeIf = TOOLS ? describe : describe.skip;
const SECONDS = Number(process.env.PKTFS_LOAD_SECONDS ?? 15);
const WORKERS = 16;
const DIRS = ['d0', 'd1', 'd2'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The worker script (bench/load/worker.ts), built into dist/ by globalSetup. */
const WORKER = path.resolve(__dirname, '../../dist/bench/load/worker.js');

/** Run worker `w` as a process of its own; resolves to its report, rejects with what it said. */
function workerProcess(w: number, mnt: string): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [WORKER, String(w), mnt, String(SECONDS), DIRS.join(',')], { timeout: (SECONDS + 120) * 1000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`worker ${w}: ${String(stderr).trim() || err.message}`));
      resolve(JSON.parse(String(stdout)) as WorkerReport);
    });
  });
}

describeIf('16 worker processes through the FUSE mount', () => {
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
    let reports: WorkerReport[] = [];
    try {
      for (const d of DIRS) await fs.promises.mkdir(path.join(mnt, d));
      reports = await Promise.all(Array.from({ length: WORKERS }, (_, w) => workerProcess(w, mnt)));
    } finally {
      expect(await unserve(s)).toBe(0);
    }
    expect(s.stderr()).toBe('');
    const all = reports.flatMap((r) => r.files);
    const counts = new Map<string, number>();
    for (const r of reports) for (const [k, v] of Object.entries(r.counts)) counts.set(k, (counts.get(k) ?? 0) + v);
    const ops = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`load: ${WORKERS} processes, ${SECONDS} s, ${ops} operations (${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}), ${all.length} files at the end`);
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
