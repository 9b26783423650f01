/**
 * `npm run bench`: measures pktfs against its references in one run and prints ratios.
 *
 * read: sequential read of a large file through a pktfs mount vs reading the same number of bytes
 *       straight from the image file with the same request size (the ceiling: no FUSE, no UDF).
 *       Each repetition remounts, so the kernel's page cache of the mount never answers for pktfs.
 * Results: a table on stdout and bench-results.json (override with BENCH_OUT).
 */
import { execFileSync, spawnSync } from 'child_process';
import { promises as fsp, mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { randomBytes } from 'crypto';

const ROOT = resolve(__dirname, '../..');
const PKTFS = join(ROOT, 'dist/bin/pktfs.js');
const REPS = Number(process.env.BENCH_REPS ?? 5);
const FILE_MIB = Number(process.env.BENCH_FILE_MIB ?? 256);
const CHUNK = 1 << 20;

interface Measure { name: string; mbps: number[]; ref?: boolean }

function canDropCaches(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

function dropCaches(): void {
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function readAll(path: string, start = 0, length = Infinity): Promise<number> {
  const fh = await fsp.open(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let done = 0;
  const t0 = process.hrtime.bigint();
  try {
    while (done < length) {
      const want = Math.min(CHUNK, length - done);
      const { bytesRead } = await fh.read(buf, 0, want, start + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return done / 1e6 / secs;
}

function mount(img: string, mnt: string): void {
  execFileSync(process.execPath, [PKTFS, '-o', 'ro', img, mnt], { stdio: 'inherit' });
}

function unmount(mnt: string): void {
  spawnSync('umount', [mnt], { stdio: 'inherit' });
  for (let i = 0; i < 100 && spawnSync('mountpoint', ['-q', mnt]).status === 0; i++) spawnSync('sleep', ['0.05']);
}

async function benchRead(work: string): Promise<Measure[]> {
  const img = join(work, 'big.img');
  const src = join(work, 'src');
  const mnt = join(work, 'mnt');
  mkdirSync(src);
  mkdirSync(mnt);
  const blocks = Math.ceil((FILE_MIB + 16) * 1024 * 1024 / 2048);
  execFileSync('mkudffs', ['--media-type=hd', '--blocksize=2048', '--new-file', img, String(blocks)], { stdio: 'ignore' });
  const big = join(src, 'big.bin');
  const fh = await fsp.open(big, 'w');
  for (let i = 0; i < FILE_MIB; i++) await fh.write(randomBytes(1 << 20));
  await fh.close();
  const list = execFileSync('udfclient', ['-W', '-b', '2048', img], { input: 'ls\nquit\n' }).toString();
  const vol = list.split('\n').find((l) => /^d.*:/.test(l.trim()))!.trim().split(/\s+/).pop();
  execFileSync('udfclient', ['-W', '-b', '2048', img], { input: `cd ${vol}\nlcd ${src}\nput big.bin\nquit\n`, stdio: ['pipe', 'ignore', 'ignore'] });

  const bytes = FILE_MIB * 1024 * 1024;
  const results: Measure[] = [];
  // warm: the image is in the host's page cache (measures pktfs's own cost);
  // cold: caches dropped before each read (measures what a user waits for), where the machine allows it.
  for (const cold of canDropCaches() ? [false, true] : [false]) {
    const direct: number[] = [];
    const viaMount: number[] = [];
    const tag = cold ? 'cold' : 'warm';
    for (let r = 0; r < REPS; r++) {
      if (cold) dropCaches(); else await readAll(img, 0, bytes);
      direct.push(await readAll(img, 0, bytes));
      mount(img, mnt);
      try {
        if (cold) dropCaches();
        viaMount.push(await readAll(join(mnt, 'big.bin')));
      } finally {
        unmount(mnt);
      }
    }
    results.push({ name: `read ${tag}: image file directly`, mbps: direct, ref: true });
    results.push({ name: `read ${tag}: through pktfs`, mbps: viaMount });
  }
  return results;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pktfs-bench-'));
  try {
    const results = await benchRead(work);
    console.log(`\npktfs benchmark (${REPS} runs each, ${FILE_MIB} MiB file, ${CHUNK >> 10} KiB requests)\n`);
    console.log('case'.padEnd(36) + 'median MB/s'.padStart(12) + 'min'.padStart(9) + 'max'.padStart(9) + 'ratio'.padStart(8));
    let ref = 1;
    for (const m of results) {
      const med = median(m.mbps);
      if (m.ref) ref = med;
      console.log(m.name.padEnd(36) + med.toFixed(1).padStart(12) + Math.min(...m.mbps).toFixed(1).padStart(9)
        + Math.max(...m.mbps).toFixed(1).padStart(9) + (med / ref).toFixed(2).padStart(8));
    }
    const out = process.env.BENCH_OUT ?? join(ROOT, 'bench-results.json');
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), reps: REPS, fileMiB: FILE_MIB, results }, null, 2));
    console.log(`\ngoal: pktfs read >= 0.6 of the direct read (ratio column, against the line above it); written to ${out}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
