/**
 * What every scenario needs: the run's settings, the filesystems it measures (pktfs on an image
 * or an emulated drive, Debian's fuse2fs on an ext2 image, a plain directory, the empty
 * fuse-native filesystem of bench/nullfs.ts), timing, cache dropping and process memory.
 *
 * The bench process only drives the mounts; every FUSE server runs in its own child process,
 * so the synchronous calls here cannot deadlock against a server in this process.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync, writeSync, fsyncSync, readSync } from 'fs';
import { join, resolve } from 'path';
import type { Row } from './stats';

export const ROOT = resolve(__dirname, '../..');
export const PKTFS = join(ROOT, 'dist/bin/pktfs.js');
export const NULLFS = join(ROOT, 'dist/bench/nullfs.js');

export interface Config {
  work: string;
  reps: number;
  /** Repetitions of the costly scale measurements (a 100,000-file directory): 1 by default. */
  scaleReps: number;
  /** Large-file size in MiB (issue 6: 1 GiB). */
  fileMiB: number;
  /** Real tree for the small-files scenario. */
  tree: string;
  /** Files in the big directory of the scale scenario (issue 6: 100,000). */
  dirFiles: number;
  /** Files in the big volume of the scale scenario (issue 6: 1,000,000; default 100,000; 0 skips it). */
  volumeFiles: number;
  /** Size of the sparse file in GiB (issue 6: 20). */
  sparseGiB: number;
  /** Image sizes in GB for mount time and RSS (issue 6: 25 and 100). */
  imageGB: number[];
  /** MiB copied onto each emulated medium. */
  emuMiB: number;
  /** Directory for node --cpu-prof profiles of the pktfs process, when profiling. */
  profDir?: string;
  /** Extra -o options for every pktfs mount. */
  pktfsOpts: string[];
}

export type Scenario = (cfg: Config) => Promise<Row[]>;

export function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** CPU time of this (the JS) thread so far, in ms: Linux's schedstat, else the whole process's. */
export function jsThreadMs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  }
}

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export function timed(fn: () => void): number {
  const t0 = now();
  fn();
  return now() - t0;
}

export async function timedAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = now();
  await fn();
  return now() - t0;
}

export function sh(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: status ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(0, 500)}`);
  }
  return String(r.stdout);
}

let dropOk: boolean | undefined;
/** Drops the host's page cache so that a read measures the disc, not memory (root only). */
export function dropCaches(): boolean {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    dropOk = true;
  } catch {
    if (dropOk === undefined) log('cannot drop caches (not root?): reads are measured warm');
    dropOk = false;
  }
  return dropOk;
}

function isMounted(mnt: string): boolean {
  return spawnSync('mountpoint', ['-q', mnt]).status === 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Peak and current resident memory of a process, in MB (VmHWM, VmRSS). */
export function rssOf(pid: number): { rssMB: number; peakMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
}

/** A mounted filesystem under test. */
export interface Mounted {
  target: string;
  mnt: string;
  pid?: number;
  /** Seconds from starting the server to the mount being there. */
  mountSecs: number;
  /** Makes everything durable and ends the mount; resolves when the server has exited. */
  unmount(): Promise<void>;
}

/** A filesystem kind: knows how to make a fresh one of a size and how to mount it again. */
export interface Target {
  name: string;
  /** Makes a new, empty filesystem of about `bytes` bytes. */
  create(bytes: number): void;
  mount(): Promise<Mounted>;
  /** The image file or device it lives on, where there is one. */
  image?: string;
  /** The packet layer's counters after a flush (pktfs only). */
  stats?(m: Mounted): PacketStats;
}

export interface PacketStats {
  bytesWritten: number;
  bytesDeviceWritten: number;
  bytesReadGather: number;
  writeAmplification: number;
  packetBytes: number;
  packetsEnded: number;
  packetsWrittenDistinct: number;
  packetRewrites: number;
  /** Rewrites sooner than the flush delay after the packet's previous write (every rewrite with flush=off). */
  rewritesWithinFlushDelay: number;
  maxPacketWrites: number;
  mostWritten: { packet: number; writes: number }[];
}

async function startServer(cmd: string, args: string[], mnt: string, target: string, stopCmd: [string, string[]]): Promise<Mounted> {
  mkdirSync(mnt, { recursive: true });
  const t0 = now();
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  let exited = false;
  const exit = new Promise<void>((res) => child.on('exit', () => { exited = true; res(); }));
  while (!isMounted(mnt)) {
    if (exited) throw new Error(`${target}: ${cmd} ${args.join(' ')} ended before mounting: ${stderr.trim()}`);
    if (now() - t0 > 600) throw new Error(`${target}: not mounted after 600 s`);
    await sleep(5);
  }
  const mountSecs = now() - t0;
  return {
    target, mnt, pid: child.pid, mountSecs,
    async unmount(): Promise<void> {
      const r = spawnSync(stopCmd[0], [...stopCmd[1], mnt], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${target}: ${stopCmd[0]} ${mnt}: ${r.stderr}`);
      await exit;
      if (stderr.trim()) log(`${target} said: ${stderr.trim().slice(0, 300)}`);
    },
  };
}

/** pktfs on an image made by mkudffs (`--media-type=hd`), or on an emulated drive of that image. */
export function pktfsTarget(cfg: Config, name: string, img: string, opts: { emu?: string; emuOpts?: string; media?: string; extra?: string[] } = {}): Target {
  const mnt = join(cfg.work, `mnt-${name.replace(/[^\w-]/g, '_')}`);
  const source = opts.emu ? `emu:${opts.emu}:${img}${opts.emuOpts ? `,${opts.emuOpts}` : ''}` : img;
  return {
    name,
    image: img,
    create(bytes: number): void {
      rmSync(img, { force: true });
      rmSync(`${img}.emu.json`, { force: true });
      const blocks = Math.ceil(bytes / 2048);
      sh('mkudffs', [`--media-type=${opts.media ?? 'hd'}`, '--blocksize=2048', '--new-file', img, String(blocks)]);
    },
    mount(): Promise<Mounted> {
      const node = cfg.profDir ? ['--cpu-prof', `--cpu-prof-dir=${cfg.profDir}`] : [];
      const o = [...cfg.pktfsOpts, ...(opts.extra ?? [])];
      const args = [...node, PKTFS, '-f', ...(o.length ? ['-o', o.join(',')] : []), source, mnt];
      return startServer(process.execPath, args, mnt, name, ['umount', []]);
    },
    stats(m: Mounted): PacketStats {
      writeFileSync(join(m.mnt, '.pktinfo/flush'), '1');
      return JSON.parse(readFileSync(join(m.mnt, '.pktinfo/stats.json'), 'utf8')) as PacketStats;
    },
  };
}

/** Debian's fuse2fs on an ext2 image of the same size. */
export function fuse2fsTarget(cfg: Config, img: string, inodes?: number): Target {
  const mnt = join(cfg.work, 'mnt-fuse2fs');
  return {
    name: 'fuse2fs',
    create(bytes: number): void {
      rmSync(img, { force: true });
      sh('truncate', ['-s', String(bytes), img]);
      sh('mkfs.ext2', ['-q', '-F', ...(inodes ? ['-N', String(inodes)] : []), img]);
    },
    mount(): Promise<Mounted> {
      // -f: stay in the foreground so that we know its pid and when it has written everything.
      return startServer('fuse2fs', [img, mnt, '-f', '-o', 'fakeroot'], mnt, 'fuse2fs', ['fusermount', ['-u']]);
    },
  };
}

/** A plain directory on the host's filesystem: the ceiling without FUSE. */
export function dirTarget(cfg: Config): Target {
  const dir = join(cfg.work, 'plain');
  return {
    name: 'dir',
    create(): void {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
    },
    async mount(): Promise<Mounted> {
      mkdirSync(dir, { recursive: true });
      return { target: 'dir', mnt: dir, mountSecs: 0, async unmount() { spawnSync('sync', ['-f', dir]); } };
    },
  };
}

/** bench/nullfs.ts: fuse-native with no filesystem behind it (writes are dropped, reads are zeros). */
export function nullfsTarget(cfg: Config): Target {
  const mnt = join(cfg.work, 'mnt-nullfs');
  return {
    name: 'nullfs',
    create(): void { /* nothing on disc */ },
    mount(): Promise<Mounted> {
      return startServer(process.execPath, [NULLFS, mnt], mnt, 'nullfs', ['fusermount', ['-u']]);
    },
  };
}

export const CHUNK = 1 << 20;

/** Writes `bytes` of `pattern` (repeated) to a new file, fsyncs and closes it. */
export function writeFile(path: string, bytes: number, pattern: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < bytes; done += CHUNK) writeSync(fd, pattern, 0, Math.min(CHUNK, bytes - done));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads a file to its end (or `bytes`) in CHUNK requests; returns the bytes read. */
export function readFile(path: string, bytes = Infinity): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let done = 0;
  try {
    while (done < bytes) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, bytes - done), done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return done;
}

/** The volume directory udfclient shows at the top of an image made by mkudffs. */
export function udfclientPut(img: string, srcDir: string, name: string): void {
  const list = sh('udfclient', ['-W', '-b', '2048', img], { input: 'ls\nquit\n' });
  const vol = list.split('\n').find((l) => /^d.*:/.test(l.trim()))?.trim().split(/\s+/).pop();
  if (!vol) throw new Error(`udfclient: no volume in ${img}`);
  sh('udfclient', ['-W', '-b', '2048', img], { input: `cd ${vol}\nlcd ${srcDir}\nput ${name}\nquit\n` });
}

export function ensureBuilt(): void {
  if (!existsSync(PKTFS) || !existsSync(NULLFS)) execFileSync('npx', ['tsc', '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
}
