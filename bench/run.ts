/**
 * `npm run bench`: measures pktfs against references measured in the same run, several
 * repetitions each, and prints a table (median, spread, ratio, goal, met) and writes it as
 * JSON (bench-results.json, or BENCH_OUT).
 *
 *   npm run bench -- --only large,small     only these scenarios (names below)
 *   npm run bench -- --quick                small sizes and 3 repetitions: a few minutes
 *   npm run bench -- --reps 5 --prof DIR    repetitions; node --cpu-prof of every pktfs process
 *
 * Sizes (environment; defaults are issue 6's): BENCH_REPS (3), BENCH_SCALE_REPS (1: the big
 * directory and the big volume), BENCH_FILE_MIB (1024),
 * BENCH_TREE (/usr/share/doc), BENCH_DIR_FILES (100000), BENCH_VOLUME_FILES (1000000, made through the write
 * engine in about five minutes; 0 skips),
 * BENCH_SPARSE_GIB (20), BENCH_IMAGE_GB (25,100), BENCH_EMU_MIB (32), BENCH_PKTFS_OPTS (-o list
 * for every pktfs mount), BENCH_WORK (a directory for the images, default the system's tmpdir).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { Command } from 'commander';
import { type Config, type Scenario, ROOT, ensureBuilt, log, now } from './harness';
import { compare, formatTable, type Row } from './stats';
import { read } from './scenarios/read';
import { large } from './scenarios/large';
import { small } from './scenarios/small';
import { emu } from './scenarios/emu';
import { bigdir, sparse, mountRss, volume } from './scenarios/scale';

const SCENARIOS: Record<string, Scenario> = { large, read, small, emu, bigdir, sparse, mount: mountRss, volume };

const QUICK = { reps: 3, fileMiB: 128, dirFiles: 10_000, volumeFiles: 20_000, sparseGiB: 2, imageGB: [4], emuMiB: 4, tree: '/usr/include/linux' };

function num(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a number`);
  return n;
}

function writeResults(out: string, settings: object, seconds: Record<string, number>, rows: Row[]): void {
  writeFileSync(out, JSON.stringify({ format: 'pktfs-bench/1', date: new Date().toISOString(), settings, seconds, rows }, null, 2) + '\n');
}

async function main(): Promise<void> {
  const program = new Command('bench')
    .option('--only <names>', `scenarios to run, comma-separated: ${Object.keys(SCENARIOS).join(', ')}`)
    .option('--quick', 'small sizes and 3 repetitions (environment variables still win)')
    .option('--reps <n>', 'repetitions of every measurement')
    .option('--prof <dir>', 'run every pktfs process under node --cpu-prof, profiles into DIR')
    .parse();
  const o = program.opts<{ only?: string; quick?: boolean; reps?: string; prof?: string }>();
  const only = o.only ? o.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(SCENARIOS);
  for (const n of only) if (!SCENARIOS[n]) throw new Error(`unknown scenario ${n} (have: ${Object.keys(SCENARIOS).join(', ')})`);
  const q = o.quick ? QUICK : undefined;
  const work = mkdtempSync(join(process.env.BENCH_WORK ?? tmpdir(), 'pktfs-bench-'));
  const cfg: Config = {
    work,
    reps: Number(o.reps ?? num('BENCH_REPS', q?.reps ?? 3)),
    scaleReps: num('BENCH_SCALE_REPS', 1),
    fileMiB: num('BENCH_FILE_MIB', q?.fileMiB ?? 1024),
    tree: process.env.BENCH_TREE ?? q?.tree ?? '/usr/share/doc',
    dirFiles: num('BENCH_DIR_FILES', q?.dirFiles ?? 100_000),
    volumeFiles: num('BENCH_VOLUME_FILES', q?.volumeFiles ?? 1_000_000),
    sparseGiB: num('BENCH_SPARSE_GIB', q?.sparseGiB ?? 20),
    imageGB: (process.env.BENCH_IMAGE_GB ?? (q?.imageGB ?? [25, 100]).join(',')).split(',').map(Number),
    emuMiB: num('BENCH_EMU_MIB', q?.emuMiB ?? 32),
    profDir: o.prof ? resolve(o.prof) : undefined,
    pktfsOpts: (process.env.BENCH_PKTFS_OPTS ?? '').split(',').filter(Boolean),
  };
  if (cfg.profDir) mkdirSync(cfg.profDir, { recursive: true });
  ensureBuilt();
  const { work: _w, ...settings } = cfg;
  log(`settings ${JSON.stringify(settings)}; work in ${work}`);
  const rows: Row[] = [];
  const reported = new Set<Row>();
  const times: Record<string, number> = {};
  const out = process.env.BENCH_OUT ?? join(ROOT, 'bench-results.json');
  try {
    for (const name of only) {
      const t0 = now();
      try {
        rows.push(...await SCENARIOS[name](cfg));
      } catch (e) {
        log(`${name} failed: ${(e as Error).stack ?? e}`);
        rows.push({ scenario: name, case: 'FAILED', target: '-', unit: '', samples: [], median: NaN, spread: 0, higherIsBetter: true, note: String((e as Error).message) });
      }
      times[name] = now() - t0;
      log(`${name} took ${times[name].toFixed(0)} s`);
      // What is done so far, in case a long run is cut short.
      compare(rows);
      writeResults(out, settings, times, rows);
      log(`${name}:\n${formatTable(rows.filter((r) => r.scenario === name || (name === 'small' && r.scenario === 'meta')
        || (['bigdir', 'sparse', 'mount', 'volume'].includes(name) && r.scenario === 'scale' && !reported.has(r))))}`);
      for (const r of rows) reported.add(r);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  compare(rows);
  console.log(`\npktfs benchmark: ${cfg.reps} repetitions, medians; ratio > 1 means pktfs is better than the reference`);
  console.log(`(spread = (max - min) / median; times in s include unmounting until the server has exited)\n`);
  console.log(formatTable(rows));
  const notes = rows.filter((r) => r.note);
  if (notes.length) console.log('\n' + notes.map((r) => `${r.scenario} / ${r.case} / ${r.target} (${r.unit}): ${r.note}`).join('\n'));
  writeResults(out, settings, times, rows);
  console.log(`\nwritten to ${out}`);
  const missed = rows.filter((r) => r.met === false);
  if (missed.length) console.log(`goals missed: ${missed.map((r) => `${r.scenario}/${r.case}`).join('; ')}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
