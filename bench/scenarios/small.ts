/**
 * small: a real tree of thousands of small files (BENCH_TREE, /usr/share/doc by default) through
 * pktfs, fuse2fs on an ext2 image of the same size, and a plain directory:
 *   cp -a      copy of the tree, then unmount until the server has exited (the time to the disc)
 *   tar x      extraction of a tarball of the tree, then unmount
 *   rsync -a   the tree copied by rsync (each file written under a temporary name, then renamed),
 *              then unmount (and that copy removed, untimed); skipped without rsync
 *   find+stat  page cache dropped, fresh mount, `find -printf` of size and mode of every entry
 *   rm -rf     removal of both copies, then unmount
 * meta: on the mount with the tree, stat of every entry, open/close of every file and readdir of
 *   every directory, in operations per second (also against the empty fuse-native filesystem).
 * The disc's side after cp -a and tar x (pktfs): amplification, rewrites (and those within a flush
 * interval), metadata packets per file.
 */
import { spawnSync } from 'child_process';
import { join, dirname, basename } from 'path';
import { lstatSync, openSync, closeSync, readdirSync, readlinkSync } from 'fs';
import { type Config, type Target, type PacketStats, pktfsTarget, fuse2fsTarget, dirTarget, nullfsTarget, sh, dropCaches, now, timed, log } from '../harness';
import { makeRow, type Row } from '../stats';
import { discRows } from './large';

const S = 'small';

interface Tree { dirs: string[]; files: string[]; all: string[]; dataBytes: number }

/** Relative paths of the tree's directories, regular files and all entries. */
function walk(root: string): Tree {
  const t: Tree = { dirs: [''], files: [], all: [], dataBytes: 0 };
  const visit = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, p));
      t.all.push(p);
      if (st.isDirectory()) { t.dirs.push(p); visit(p); }
      else if (st.isFile()) { t.files.push(p); t.dataBytes += st.size; }
      else if (st.isSymbolicLink()) readlinkSync(join(root, p));
    }
  };
  visit('');
  return t;
}

function rate(n: number, fn: () => void): number {
  return n / timed(fn);
}

export async function small(cfg: Config): Promise<Row[]> {
  const tree = walk(cfg.tree);
  const treeBytes = Number(sh('du', ['-sb', cfg.tree]).split(/\s/)[0]);
  const fsBytes = Math.max(512 << 20, treeBytes * 4 + (128 << 20));
  const tarball = join(cfg.work, 'tree.tar');
  sh('tar', ['cf', tarball, '-C', dirname(cfg.tree), basename(cfg.tree)]);
  log(`${S}: ${cfg.tree}: ${tree.files.length} files, ${tree.dirs.length} directories, ${(treeBytes / 1e6).toFixed(0)} MB`);
  const haveRsync = spawnSync('rsync', ['--version']).status === 0;
  if (!haveRsync) log(`${S}: no rsync: the rsync -a row is skipped`);
  const targets: Target[] = [pktfsTarget(cfg, 'pktfs', join(cfg.work, 'small.udf')), fuse2fsTarget(cfg, join(cfg.work, 'small.ext2')), dirTarget(cfg)];
  const d: Record<string, Record<string, number[]>> = {};
  const push = (c: string, target: string, v: number): void => { ((d[c] ??= {})[target] ??= []).push(v); };
  const disc: PacketStats[] = [];
  const discTar: PacketStats[] = [];
  const discOff: PacketStats[] = [];
  for (let rep = 0; rep < cfg.reps; rep++) {
    for (const t of targets) {
      log(`${S}: ${t.name} rep ${rep + 1}/${cfg.reps}`);
      t.create(fsBytes);
      let m = await t.mount();
      const copy = join(m.mnt, 't');
      let secs = timed(() => sh('cp', ['-a', cfg.tree, copy]));
      if (t.stats) disc.push(t.stats(m));
      let t1 = now();
      await m.unmount();
      push('cp -a', t.name, secs + now() - t1);

      m = await t.mount();
      secs = timed(() => { sh('mkdir', [join(m.mnt, 'x')]); sh('tar', ['xf', tarball, '-C', join(m.mnt, 'x')]); });
      if (t.stats) discTar.push(t.stats(m));
      t1 = now();
      await m.unmount();
      push('tar x', t.name, secs + now() - t1);

      if (haveRsync) {
        m = await t.mount();
        secs = timed(() => sh('rsync', ['-a', `${cfg.tree}/`, join(m.mnt, 'r')]));
        t1 = now();
        await m.unmount();
        push('rsync -a', t.name, secs + now() - t1);
        // Gone again (not timed), so that what follows finds the volume as before.
        m = await t.mount();
        sh('rm', ['-rf', join(m.mnt, 'r')]);
        await m.unmount();
      }

      dropCaches();
      m = await t.mount();
      push('find+stat (cold)', t.name, timed(() => sh('find', [m.mnt, '-printf', '%s %m\n'])));
      const base = join(m.mnt, 't');
      push('stat ops/s', t.name, rate(tree.all.length, () => { for (const p of tree.all) lstatSync(join(base, p)); }));
      push('open+close ops/s', t.name, rate(tree.files.length, () => { for (const p of tree.files) closeSync(openSync(join(base, p), 'r')); }));
      push('readdir ops/s', t.name, rate(tree.dirs.length, () => { for (const p of tree.dirs) readdirSync(join(base, p)); }));
      secs = timed(() => sh('rm', ['-rf', copy, join(m.mnt, 'x')]));
      t1 = now();
      await m.unmount();
      push('rm -rf', t.name, secs + now() - t1);
    }
    // The same copy without idle write-back: what the disc's side costs when every packet is
    // written once at the end (the floor for the flush interval's rewrites above).
    const nf = pktfsTarget(cfg, 'pktfs flush=off', join(cfg.work, 'small.udf'), { extra: ['flush=off'] });
    nf.create(fsBytes);
    const fm = await nf.mount();
    const fsecs = timed(() => sh('cp', ['-a', cfg.tree, join(fm.mnt, 't')]));
    discOff.push(nf.stats!(fm));
    const ft1 = now();
    await fm.unmount();
    push('cp -a', nf.name, fsecs + now() - ft1);

    // The binding's ceiling: the same copy and extraction into a filesystem that keeps names and
    // drops data, then the same metadata operations on 1000 synthetic files.
    const nt = nullfsTarget(cfg);
    let nm = await nt.mount();
    const nsecs = timed(() => sh('cp', ['-a', cfg.tree, join(nm.mnt, 't')]));
    let nt1 = now();
    await nm.unmount();
    push('cp -a', nt.name, nsecs + now() - nt1);
    nm = await nt.mount();
    const xsecs = timed(() => { sh('mkdir', [join(nm.mnt, 'x')]); sh('tar', ['xf', tarball, '-C', join(nm.mnt, 'x')]); });
    nt1 = now();
    await nm.unmount();
    push('tar x', nt.name, xsecs + now() - nt1);
    nm = await nt.mount();
    const names = Array.from({ length: 1000 }, (_, i) => join(nm.mnt, 'd', `f${i}`));
    push('stat ops/s', 'nullfs', rate(names.length, () => { for (const p of names) lstatSync(p); }));
    push('open+close ops/s', 'nullfs', rate(names.length, () => { for (const p of names) closeSync(openSync(p, 'r')); }));
    push('readdir ops/s', 'nullfs', rate(200, () => { for (let i = 0; i < 200; i++) readdirSync(join(nm.mnt, 'd')); }));
    await nm.unmount();
  }
  const rows: Row[] = [];
  for (const [c, byTarget] of Object.entries(d)) {
    const ops = c.endsWith('ops/s');
    for (const [target, samples] of Object.entries(byTarget)) {
      const isPk = target.startsWith('pktfs');
      const goal = isPk && (c === 'cp -a' || c === 'tar x') ? { kind: 'atLeast' as const, target: 1.0, text: 'pktfs/fuse2fs >= 1.0' } : undefined;
      rows.push(makeRow({
        scenario: ops ? 'meta' : S, case: c, target, unit: ops ? 'ops/s' : 's', samples, higherIsBetter: ops,
        reference: isPk ? 'fuse2fs' : undefined, goal,
      }));
    }
    if (byTarget.nullfs && byTarget.pktfs) {
      const unit = ops ? 'ops/s' : 's';
      const scenario = ops ? 'meta' : S;
      rows.push(makeRow({ scenario, case: `${c} vs nullfs`, target: 'nullfs', unit, samples: byTarget.nullfs, higherIsBetter: ops }));
      rows.push(makeRow({ scenario, case: `${c} vs nullfs`, target: 'pktfs', unit, samples: byTarget.pktfs, higherIsBetter: ops, reference: 'nullfs' }));
    }
  }
  const entries = tree.files.length + tree.dirs.length;
  rows.push(...discRows(S, 'cp -a', disc, tree.dataBytes, { files: entries, perInterval: true }));
  rows.push(...discRows(S, 'tar x', discTar, tree.dataBytes, { files: entries, perInterval: true }));
  rows.push(...discRows(S, 'cp -a, flush=off', discOff, tree.dataBytes, { files: entries }));
  return rows;
}
