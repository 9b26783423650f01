/**
 * The fuzzer (bench/fuzz) run as part of the suite: real images of every kind
 * the tools here make, damaged structure-aware with the tags fixed up (and by
 * plain byte flips), mounted and walked in a worker thread. No case may crash,
 * hang or make a huge allocation; damaged parts answer errors (EIO mostly).
 * More cases on demand: `npm run fuzz -- --cases N --seed S`.
 */
import { promises as fsp, mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { buildFuzzImages } from '../../bench/fuzz/images';
import { sharedFixturesDir } from '../helpers/images';
import { runFuzz, RunSummary } from '../../bench/fuzz/runner';
import { caseImage, loadImage, CaseResult, FuzzImage } from '../../bench/fuzz/case';
import { fsckAvailable, fsckDamagedImage } from '../../bench/fuzz/fsck';
import { alive, assertBuilt, isMounted, pktfs, servingPid, waitGone } from '../bin/cli-helpers';
import { removeDir, run } from '../fuse/helpers';

/** Enough to reach every kind of structure many times; about half a minute on two busy cores. */
const CASES = 3000;
const SEED = 20261201;

let dir: string;
let images: FuzzImage[];

beforeAll(async () => {
  assertBuilt(); // the worker runs dist/bench/fuzz/worker.js
  dir = mkdtempSync(path.join(tmpdir(), 'pktfs-fuzz-'));
  images = await buildFuzzImages(dir);
}, 180000);
afterAll(async () => {
  if (dir) await removeDir(dir);
});

function report(failed: CaseResult[]): string {
  return failed.slice(0, 5).map((r) => `case ${r.index} (${r.image}): ${r.mutation.join('; ')}\n  ${r.failures.join('\n  ')}`).join('\n');
}

test('the images cover the kinds of structure and of volume the fuzzer is meant to damage', () => {
  const names = images.map((i) => i.name);
  for (const n of ['hd-2.01-b2048-short', 'hd-1.50-b512-long', 'dvd-2.01-b4096-inicb-noefe', 'cdrw-2.01-b2048-short', 'cdr-2.01-b2048', 'cdr-1.50-b2048', 'genisoimage-udf102', 'pktfs-written', 'pktfs-written-fe-long-b512']) {
    expect(names).toContain(n);
  }
});

/** Cases whose volume mounted and had damaged parts that answered EIO: the ones to try through FUSE. */
const damagedButMounted: CaseResult[] = [];

describe(`${CASES} cases, seed ${SEED}`, () => {
  let sum: RunSummary;
  beforeAll(async () => {
    sum = await runFuzz({
      images, seed: SEED, cases: CASES,
      onResult: (r) => {
        if (r.mount === 'mounted' && (r.errnos.EIO ?? 0) > 0 && r.entries > 3) damagedButMounted.push(r);
      },
    });
  }, 300000);

  test('no case crashes, hangs, breaks the Volume contract or allocates without bound', () => {
    expect(sum.cases).toBe(CASES);
    if (sum.failed.length) throw new Error(`${sum.failed.length} cases failed:\n${report(sum.failed)}`);
  });

  test('the damage reached every kind of structure and was noticed', () => {
    // Only the fixtures in ../shared (macOS) have a metadata partition: without them it can't be reached.
    const kinds = ['avdp', 'pvd', 'lvd', 'pd', 'lvid', 'fsd', 'fe', 'efe', 'fid', 'aed', 'sparing', 'vat', 'pmap-sparable', 'pmap-virtual'];
    if (sharedFixturesDir()) kinds.push('pmap-metadata');
    for (const k of kinds) {
      expect(sum.structures[k] ?? 0).toBeGreaterThan(0);
    }
    // Some damage stops the mount, some only a file; most volumes still mount.
    expect(sum.mountErrnos.EIO ?? 0).toBeGreaterThan(CASES / 100);
    expect(sum.errnos.EIO ?? 0).toBeGreaterThan(CASES / 100);
    expect(sum.mounted).toBeGreaterThan(CASES / 2);
    expect(sum.entries).toBeGreaterThan(CASES);
  });
});

/** Walk a mounted tree with ordinary calls; errno codes counted, depth and entries bounded. */
async function walkMount(root: string): Promise<Record<string, number>> {
  const codes: Record<string, number> = {};
  let entries = 0;
  const note = (e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    codes[code] = (codes[code] ?? 0) + 1;
  };
  const visit = async (p: string, depth: number): Promise<void> => {
    if (++entries > 300 || depth > 12) return;
    let st;
    try {
      st = await fsp.lstat(p);
    } catch (e) {
      return note(e);
    }
    try {
      if (st.isDirectory()) {
        for (const n of await fsp.readdir(p)) await visit(path.join(p, n), depth + 1);
      } else if (st.isSymbolicLink()) {
        await fsp.readlink(p);
      } else if (st.isFile()) {
        const fh = await fsp.open(p, 'r');
        try {
          await fh.read(Buffer.alloc(65536), 0, 65536, 0);
        } finally {
          await fh.close();
        }
      }
    } catch (e) {
      note(e);
    }
  };
  await visit(root, 0);
  return codes;
}

describe('through a real FUSE mount', () => {
  test('damaged volumes mount, answer EIO for the damaged parts, and the server stays up', async () => {
    // Spread over different images; a handful is enough (each mount costs a process).
    const picked: CaseResult[] = [];
    for (const r of damagedButMounted) if (picked.length < 4 && !picked.some((p) => p.image === r.image)) picked.push(r);
    expect(picked.length).toBeGreaterThanOrEqual(3);
    const loaded = images.map(loadImage);
    for (const r of picked) {
      const { overlay, image } = caseImage(loaded, SEED, r.index);
      expect(image.name).toBe(r.image);
      const img = path.join(dir, `case-${r.index}.img`);
      writeFileSync(img, overlay.materialise());
      const mnt = path.join(dir, `mnt-${r.index}`);
      mkdirSync(mnt);
      // Read-only: the case is about reading damage (a read-write mount of a damaged volume may
      // rightly say it mounted read-only instead, and why).
      const m = await pktfs(['-o', 'ro', img, mnt]);
      expect({ case: r.index, code: m.code, stderr: m.stderr }).toEqual({ case: r.index, code: 0, stderr: '' });
      const pid = servingPid(mnt)!;
      try {
        const codes = await walkMount(mnt);
        expect({ case: r.index, eio: (codes.EIO ?? 0) > 0 }).toEqual({ case: r.index, eio: true });
        for (const code of Object.keys(codes)) expect(['EIO', 'ELOOP']).toContain(code);
        expect(alive(pid)).toBe(true);
        expect(isMounted(mnt)).toBe(true);
      } finally {
        await run('umount', [mnt]);
      }
      await waitGone(pid);
    }
    for (const i of loaded) i.base.close();
  }, 120000);
});

// pktfs fsck -n on damaged images (bench/fuzz/fsck.ts); skipped only where the build has no fsck.
const testFsck = fsckAvailable() ? test : test.skip;
testFsck('pktfs fsck -n reports on damaged images without crashing, hanging or writing', async () => {
  const loaded = images.map(loadImage);
  try {
    for (let i = 0; i < 8; i++) {
      const img = path.join(dir, `fsck-${i}.img`);
      writeFileSync(img, caseImage(loaded, SEED, i).overlay.materialise());
      const r = await fsckDamagedImage(img);
      expect({ case: i, ok: r.ok, detail: r.ok ? '' : r.detail }).toEqual({ case: i, ok: true, detail: '' });
    }
  } finally {
    for (const i of loaded) i.base.close();
  }
}, 300000);

describe('the runner', () => {
  test('a case that loops forever or kills its worker fails alone; the run goes on with the next case', async () => {
    // A stand-in worker: case 1 never returns (a synchronous loop), case 3 ends the thread, case 4 fills
    // its heap, the rest pass.
    const fake = path.join(dir, 'fake-worker.js');
    writeFileSync(fake, `
      const { parentPort, workerData } = require('worker_threads');
      parentPort.postMessage({ type: 'ready', structures: {} });
      for (let i = workerData.first; i < workerData.end; i++) {
        parentPort.postMessage({ type: 'start', index: i });
        if (i === 1) for (;;) {}
        if (i === 3) process.exit(3);
        if (i === 4) { const keep = []; for (;;) keep.push(new Array(1e5).fill(i)); }
        parentPort.postMessage({ type: 'result', result: { index: i, image: 'x', mutation: [], mount: 'mounted', rw: false, entries: 1, errnos: {}, failures: [], ms: 0 } });
      }
      parentPort.postMessage({ type: 'done' });
    `);
    const seen: number[] = [];
    const sum = await runFuzz({ images: [], seed: 1, cases: 6, worker: fake, caseTimeoutMs: 1000, heapMb: 64, onResult: (r) => seen.push(r.index) });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sum.failed.map((r) => [r.index, r.failures[0].split('\n')[0]])).toEqual([
      [1, 'hang: case 1 still running after 1000 ms (worker killed)'],
      [3, 'worker exited with code 3'],
      [4, expect.stringMatching(/^worker died: .*ERR_WORKER_OUT_OF_MEMORY/)],
    ]);
  });
});
