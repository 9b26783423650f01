/**
 * scale:
 *   bigdir   a directory of BENCH_DIR_FILES (100,000) empty files on pktfs and fuse2fs: create,
 *            lookups of missing names (each one searches the whole directory unless there is an
 *            index) and stats of random existing names, in the big directory against a 10-entry
 *            one, readdir, delete.
 *   volume   BENCH_VOLUME_FILES (1,000,000 by default; 0 skips) files in directories of 1000, made
 *            by pktfs's write engine without FUSE (bench/populate.ts; bigdir measures creates
 *            through a mount); mount time and RSS of that volume against an empty one of the same
 *            size, before and after visiting every file with find.
 *   sparse   a BENCH_SPARSE_GIB (20 GiB) sparse file: ftruncate, 1 MiB written at its end, a read
 *            of its middle; bytes the device wrote.
 *   mount    mount time and RSS on empty BENCH_IMAGE_GB (25 and 100 GB) images, pktfs vs
 *            fuse2fs, and pktfs's peak RSS after writing and reading a file with the default cache.
 */
import { join } from 'path';
import { randomBytes } from 'crypto';
import { openSync, closeSync, lstatSync, readdirSync, unlinkSync, mkdirSync, ftruncateSync, writeSync, fsyncSync, readSync, statSync } from 'fs';
import { type Config, type Target, type Mounted, pktfsTarget, fuse2fsTarget, nullfsTarget, sh, now, timed, rssOf, writeFile, readFile, log } from '../harness';
import { makeRow, median, type Row } from '../stats';
import { populate } from '../populate';

const S = 'scale';

function touchAll(dir: string, n: number, prefix = 'f'): void {
  for (let i = 0; i < n; i++) closeSync(openSync(join(dir, `${prefix}${i}`), 'w'));
}

function missingRate(dir: string, n: number, salt: string): number {
  return n / timed(() => {
    for (let i = 0; i < n; i++) {
      try { lstatSync(join(dir, `missing-${salt}-${i}`)); } catch { /* ENOENT is the point */ }
    }
  });
}

function statRate(dir: string, names: number, n: number, prefix = 'f'): number {
  let x = 12345;
  return n / timed(() => {
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      lstatSync(join(dir, `${prefix}${x % names}`));
    }
  });
}

export async function bigdir(cfg: Config): Promise<Row[]> {
  const n = cfg.dirFiles;
  const fsBytes = Math.max(512 << 20, n * 4096 + (256 << 20));
  const targets: Target[] = [
    pktfsTarget(cfg, 'pktfs', join(cfg.work, 'bigdir.udf')), fuse2fsTarget(cfg, join(cfg.work, 'bigdir.ext2'), n + 1000), nullfsTarget(cfg),
  ];
  const d: Record<string, Record<string, number[]>> = {};
  const push = (c: string, target: string, v: number): void => { ((d[c] ??= {})[target] ??= []).push(v); };
  const probes = 2000;
  for (let rep = 0; rep < cfg.scaleReps; rep++) {
    for (const t of targets) {
      log(`${S}: bigdir ${n} files, ${t.name} rep ${rep + 1}/${cfg.scaleReps}`);
      t.create(fsBytes);
      const m = await t.mount();
      const big = join(m.mnt, 'big');
      const few = join(m.mnt, 'few');
      mkdirSync(big);
      mkdirSync(few);
      touchAll(few, 10);
      push(`create ${n}`, t.name, n / timed(() => touchAll(big, n)));
      // Write everything out now, so that the idle write-back of the creates does not land
      // inside the lookups measured next (it did: a 100,000-file settle in 2000 lookups).
      t.stats?.(m);
      // Past the settle that follows the flush (flush=1000 on pktfs), then a first, unmeasured pass
      // in both directories: pktfs's node cache may have let the big directory go after the flush,
      // and reading 100,000 entries back in (about a second) is not the cost of a lookup.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
      missingRate(few, probes, `w${rep}`);
      missingRate(big, 10, `w${rep}`);
      const missBig = missingRate(big, probes, `b${rep}`);
      const missFew = missingRate(few, probes, `s${rep}`);
      push(`lookup missing, ${n} dir`, t.name, missBig);
      push('lookup missing, 10 dir', t.name, missFew);
      push(`lookup missing ${n}/10`, t.name, missBig / missFew);
      const statBig = statRate(big, n, probes);
      const statFew = statRate(few, 10, probes);
      push(`stat random, ${n} dir`, t.name, statBig);
      push('stat random, 10 dir', t.name, statFew);
      push(`stat ${n}/10`, t.name, statBig / statFew);
      let names: string[] = [];
      push(`readdir ${n}`, t.name, n / timed(() => { names = readdirSync(big); }));
      if (names.length !== n) throw new Error(`${S}: ${t.name}: readdir gave ${names.length} of ${n} names`);
      push(`delete ${n}`, t.name, n / timed(() => { for (const f of names) unlinkSync(join(big, f)); }));
      await m.unmount();
    }
  }
  const rows: Row[] = [];
  for (const [c, byTarget] of Object.entries(d)) {
    const ratio = c.includes('/10');
    for (const [target, samples] of Object.entries(byTarget)) {
      const isPk = target === 'pktfs';
      rows.push(makeRow({
        scenario: S, case: c, target, unit: ratio ? 'big/small rate' : c.startsWith('lookup') || c.startsWith('stat') ? 'ops/s' : 'files/s',
        samples, higherIsBetter: true,
        reference: isPk && !ratio ? 'fuse2fs' : undefined,
        note: isPk && !ratio && byTarget.nullfs ? `${(median(samples) / median(byTarget.nullfs)).toFixed(2)} of the empty fs (nullfs)` : undefined,
        goal: isPk && ratio ? { kind: 'atLeast', target: 0.8, text: 'about the same (>= 0.8)' } : undefined,
      }));
    }
  }
  return rows;
}

interface MountFigures { mountSecs: number; rssMB: number }

/** Mount time and RSS right after mounting; warm (node's own files and the image in the page cache). */
async function mountFigures(t: Target): Promise<{ m: Mounted; f: MountFigures }> {
  const m = await t.mount();
  return { m, f: { mountSecs: m.mountSecs, rssMB: rssOf(m.pid!).rssMB } };
}

export async function volume(cfg: Config): Promise<Row[]> {
  const n = cfg.volumeFiles;
  if (!n) return [];
  const per = 1000;
  const fsBytes = n * 2048 * 1.2 + (512 << 20);
  const full = pktfsTarget(cfg, 'pktfs-full', join(cfg.work, 'volume-full.udf'));
  const empty = pktfsTarget(cfg, 'pktfs-empty', join(cfg.work, 'volume-empty.udf'));
  full.create(fsBytes);
  empty.create(fsBytes);
  log(`${S}: volume: creating ${n} files through the write engine`);
  const made = await populate(full.image!, n, per);
  const rows: Row[] = [makeRow({ scenario: S, case: `volume: create ${n} files`, target: 'pktfs engine', unit: 'files/s', samples: [n / made.secs], higherIsBetter: true,
    note: `in ${made.dirs} directories, through src/udf/write without FUSE (bigdir measures creates through a mount)` })];
  const mt: Record<string, number[]> = {};
  const rss: Record<string, number[]> = {};
  for (let rep = 0; rep < cfg.reps; rep++) {
    for (const t of [empty, full]) {
      const r = await mountFigures(t);
      (mt[t.name] ??= []).push(r.f.mountSecs);
      (rss[t.name] ??= []).push(r.f.rssMB);
      if (t === full && rep === 0) {
        log(`${S}: volume: visiting every file`);
        const visit = timed(() => sh('find', [r.m.mnt, '-printf', '%s\n']));
        const after = rssOf(r.m.pid!);
        rows.push(makeRow({ scenario: S, case: `volume: find of ${n} files`, target: 'pktfs', unit: 's', samples: [visit], higherIsBetter: false,
          note: `RSS after ${after.rssMB.toFixed(0)} MB, peak ${after.peakMB.toFixed(0)} MB` }));
        rows.push(makeRow({ scenario: S, case: `volume: RSS after visiting ${n}`, target: 'pktfs', unit: 'MB', samples: [after.rssMB], higherIsBetter: false,
          goal: { kind: 'below', target: 300, text: 'RSS < 300 MB' } }));
      }
      await r.m.unmount();
    }
  }
  for (const [c, data, unit] of [['volume: mount time', mt, 's'], ['volume: RSS after mount', rss, 'MB']] as const) {
    rows.push(makeRow({ scenario: S, case: c, target: 'pktfs-empty', unit, samples: data['pktfs-empty'], higherIsBetter: false }));
    rows.push(makeRow({ scenario: S, case: c, target: 'pktfs-full', unit, samples: data['pktfs-full'], higherIsBetter: false, reference: 'pktfs-empty',
      goal: { kind: 'atLeast', target: 0.8, text: 'no growth (empty/full >= 0.8)' } }));
  }
  return rows;
}

export async function sparse(cfg: Config): Promise<Row[]> {
  const size = cfg.sparseGiB * 2 ** 30;
  const fsBytes = size + 5 * 2 ** 30;
  const targets: Target[] = [pktfsTarget(cfg, 'pktfs', join(cfg.work, 'sparse.udf')), fuse2fsTarget(cfg, join(cfg.work, 'sparse.ext2'))];
  const secs: Record<string, number[]> = {};
  const rsecs: Record<string, number[]> = {};
  const dev: number[] = [];
  const buf = randomBytes(1 << 20);
  for (let rep = 0; rep < cfg.reps; rep++) {
    for (const t of targets) {
      log(`${S}: sparse ${cfg.sparseGiB} GiB, ${t.name} rep ${rep + 1}/${cfg.reps}`);
      t.create(fsBytes);
      const m = await t.mount();
      const file = join(m.mnt, 'sparse.bin');
      const s = timed(() => {
        const fd = openSync(file, 'w');
        ftruncateSync(fd, size);
        writeSync(fd, buf, 0, buf.length, size - buf.length);
        fsyncSync(fd);
        closeSync(fd);
      });
      if (statSync(file).size !== size) throw new Error(`${S}: ${t.name}: sparse file has the wrong size`);
      const st = t.stats?.(m);
      const t1 = now();
      await m.unmount();
      (secs[t.name] ??= []).push(s + now() - t1);
      if (st) dev.push(st.bytesDeviceWritten / 1e6);
      const m2 = await t.mount();
      const r = timed(() => {
        const fd = openSync(join(m2.mnt, 'sparse.bin'), 'r');
        const out = Buffer.alloc(1 << 20);
        readSync(fd, out, 0, out.length, Math.floor(size / 2));
        closeSync(fd);
        if (out.some((b) => b !== 0)) throw new Error(`${S}: ${t.name}: a hole read back non-zero`);
      });
      (rsecs[t.name] ??= []).push(r);
      await m2.unmount();
    }
  }
  const rows: Row[] = [];
  for (const [c, data] of [[`sparse ${cfg.sparseGiB} GiB: truncate+write end+unmount`, secs], ['sparse: read 1 MiB of a hole', rsecs]] as const) {
    for (const [target, samples] of Object.entries(data)) {
      rows.push(makeRow({ scenario: S, case: c, target, unit: 's', samples, higherIsBetter: false, reference: target === 'pktfs' ? 'fuse2fs' : undefined }));
    }
  }
  rows.push(makeRow({ scenario: S, case: `sparse ${cfg.sparseGiB} GiB: truncate+write end+unmount`, target: 'pktfs', unit: 'MB written to device', samples: dev, higherIsBetter: false }));
  return rows;
}

export async function mountRss(cfg: Config): Promise<Row[]> {
  const rows: Row[] = [];
  const mib = Math.min(cfg.fileMiB, 256);
  const pattern = randomBytes(1 << 20);
  for (const gb of cfg.imageGB) {
    const bytes = gb * 1e9;
    const targets: Target[] = [pktfsTarget(cfg, 'pktfs', join(cfg.work, `mount${gb}.udf`)), fuse2fsTarget(cfg, join(cfg.work, `mount${gb}.ext2`))];
    const mt: Record<string, number[]> = {};
    const rss: Record<string, number[]> = {};
    const peak: number[] = [];
    for (const t of targets) {
      log(`${S}: mount ${gb} GB, ${t.name}: making the filesystem`);
      t.create(bytes);
      for (let rep = 0; rep < cfg.reps; rep++) {
        const r = await mountFigures(t);
        (mt[t.name] ??= []).push(r.f.mountSecs);
        (rss[t.name] ??= []).push(r.f.rssMB);
        if (t.name === 'pktfs' && rep === 0) {
          writeFile(join(r.m.mnt, 'f.bin'), mib << 20, pattern);
          readFile(join(r.m.mnt, 'f.bin'));
          peak.push(rssOf(r.m.pid!).peakMB);
        }
        await r.m.unmount();
      }
    }
    const c = `${gb} GB image`;
    for (const target of ['fuse2fs', 'pktfs']) {
      const isPk = target === 'pktfs';
      rows.push(makeRow({ scenario: S, case: `${c}: mount time`, target, unit: 's', samples: mt[target], higherIsBetter: false,
        reference: isPk ? 'fuse2fs' : undefined }));
      if (isPk) rows.push(makeRow({ scenario: S, case: `${c}: mount time`, target: 'pktfs', unit: 's (absolute)', samples: mt[target], higherIsBetter: false,
        goal: gb >= 100 ? { kind: 'below', target: 2, text: '< 2 s' } : undefined }));
      rows.push(makeRow({ scenario: S, case: `${c}: RSS after mount`, target, unit: 'MB', samples: rss[target], higherIsBetter: false,
        reference: isPk ? 'fuse2fs' : undefined }));
    }
    rows.push(makeRow({ scenario: S, case: `${c}: peak RSS after ${mib} MiB write+read`, target: 'pktfs', unit: 'MB', samples: peak, higherIsBetter: false,
      goal: { kind: 'below', target: 300, text: 'RSS < 300 MB' } }));
  }
  return rows;
}

