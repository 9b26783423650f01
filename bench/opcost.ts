/**
 * JavaScript cost per FUSE request, without the kernel and without the binding's thread hops
 * (issue 6): the requests a `cp -a` of a tree sends (as counted with libfuse's -o debug:
 * LOOKUP, CREATE, WRITE, SETATTR, FLUSH, RELEASE, GETATTR of the parent; directories LOOKUP,
 * MKDIR, ..., SETATTR of times and owner), then a find-style stat of every entry and an
 * `rm -rf`, played into PktfsFuse's dispatch table (fuse-native's handlers, or leanHandler)
 * one at a time, as a sequential tool sends them, with the binding's signal functions replaced
 * by ones that take the answer. Reports the JS thread's CPU time per request (it moves far less
 * with the machine's load than wall times through a mount do; the image's writes run in libuv's pool).
 *
 *   node dist/bench/opcost.js [TREE] [--reps N] [--dispatch lean|fuse-native]
 *
 * node --cpu-prof dist/bench/opcost.js ... profiles exactly that work.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { openStack, closeStack } from '../bin/stack';
import { parseMountOptions, splitOptions } from '../src/options';
import { OpsContext } from '../src/fuse/context';
import { PktinfoDir, pktinfoOps } from '../src/fuse/pktinfo';
import { writeOps } from '../src/fuse/ops-write';
import { attrOps } from '../src/fuse/ops-attr';
import { dirOps } from '../src/fuse/ops-dir';
import { fileOps } from '../src/fuse/ops-file';
import { LEAN_DISPATCH, PktfsFuse } from '../src/fuse/fuse';
import { isWritable } from '../src/udf/types';
import { jsThreadMs } from './harness';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const binding = require('node-gyp-build')(require('path').dirname(require.resolve('fuse-native/package.json')));

interface Entry { rel: string; kind: 'dir' | 'file' | 'link'; data?: Buffer; target?: string; mode: number; mtimeMs: number }

function walk(root: string, rel = '', out: Entry[] = []): Entry[] {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = `${rel}/${name}`;
    const st = lstatSync(join(root, r));
    if (st.isSymbolicLink()) out.push({ rel: r, kind: 'link', target: readlinkSync(join(root, r)), mode: 0o777, mtimeMs: st.mtimeMs });
    else if (st.isDirectory()) {
      out.push({ rel: r, kind: 'dir', mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
      walk(root, r, out);
    } else if (st.isFile()) out.push({ rel: r, kind: 'file', data: readFileSync(join(root, r)), mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const reps = Number(opt('--reps') ?? 1);
  const dispatch = opt('--dispatch');
  if (dispatch) LEAN_DISPATCH.on = dispatch !== 'fuse-native';
  const tree = args[0] ?? '/usr/share/doc';
  const entries = walk(tree);
  const work = mkdtempSync(join(process.env.BENCH_WORK ?? tmpdir(), 'pktfs-opcost-'));

  // Every answer lands here: the pending request's resolver, by the handle it was given.
  let answered: ((args: unknown[]) => void) | undefined;
  for (const k of Object.keys(binding)) {
    if (k.startsWith('fuse_native_signal_')) binding[k] = (_h: unknown, ...a: unknown[]) => { const r = answered; answered = undefined; r?.(a); };
  }

  try {
    for (let rep = 0; rep < reps; rep++) {
      const img = join(work, `r${rep}.img`);
      execFileSync('mkudffs', ['--media-type=hd', '--blocksize=2048', '--new-file', img, String(262144)], { stdio: 'ignore' });
      const opts = parseMountOptions(splitOptions([]));
      const stack = await openStack(img, { ...opts, readOnly: false });
      const vol = stack.volume;
      if (!isWritable(vol)) throw new Error('read-only');
      const ctx = new OpsContext(vol, false);
      const pktinfo = new PktinfoDir(ctx, { mode: 'hidden', mount: { source: img } }, false);
      const ops = pktinfoOps(pktinfo, { ...writeOps(ctx, vol, { uid: 0, gid: 0 }), ...attrOps(ctx), ...dirOps(ctx), ...fileOps(ctx) });
      const fuse = new PktfsFuse(work, ops, { source: img, readOnly: false });
      const handlers = (fuse as unknown as { _handlers: ((...a: unknown[]) => void)[] })._handlers;
      const handle = Buffer.alloc(8);
      let requests = 0;
      // OPCOST_OPS=1: time from request to answer per op (this loop waits for each answer).
      const perOp = new Map<string, { n: number; ms: number }>();
      const timed = !!process.env.OPCOST_OPS;
      const req = (name: string, ...a: unknown[]): Promise<unknown[]> => new Promise((resolve) => {
        requests++;
        if (timed) {
          const t0 = performance.now();
          answered = (r) => {
            const o = perOp.get(name) ?? { n: 0, ms: 0 };
            o.n++;
            o.ms += performance.now() - t0;
            perOp.set(name, o);
            resolve(r);
          };
        } else {
          answered = resolve;
        }
        handlers[binding[`op_${name}`]](handle, binding[`op_${name}`], ...a);
      });
      const phase = async (label: string, body: () => Promise<void>): Promise<void> => {
        const r0 = requests;
        const c0 = process.cpuUsage();
        const j0 = jsThreadMs();
        const t0 = performance.now();
        await body();
        const t = performance.now() - t0;
        const c = process.cpuUsage(c0);
        const j = jsThreadMs() - j0;
        const n = requests - r0;
        const cpu = (c.user + c.system) / 1000;
        console.log(`${label.padEnd(9)} ${String(n).padStart(6)} requests  JS thread ${(1000 * j / n).toFixed(1).padStart(6)} µs/request`
          + `  (${j.toFixed(0)} ms; process cpu ${cpu.toFixed(0)} ms, wall ${t.toFixed(0)} ms)`);
        if (process.env.OPCOST_STATS) {
          // OPCOST_STATS=1: the packet layer's traffic during the phase (device writes are async fs calls).
          const s = stack.packets.stats();
          console.log(`          packets written ${s.packetsEnded}, device writes ${s.deviceWrites}, written ${s.kbWritten} kB, to the device ${s.kbDeviceWritten} kB, gather ${s.kbReadGather} kB, writeOutReasons ${JSON.stringify(s.writeOutReasons)}`);
          stack.packets.resetStats();
        }
      };
      const parent = (rel: string): string => rel.slice(0, rel.lastIndexOf('/')) || '/';
      const CHUNK = 131072;
      await phase('cp -a', async () => {
        await req('getattr', '/t');
        await req('mkdir', '/t', 0o755);
        for (const e of entries) {
          const p = `/t${e.rel}`;
          await req('getattr', p);
          if (e.kind === 'dir') {
            await req('mkdir', p, e.mode);
            await req('getattr', parent(p));
          } else if (e.kind === 'link') {
            await req('symlink', e.target, p);
            await req('getattr', parent(p));
          } else {
            const [, fd] = await req('create', p, 0o100000 | e.mode) as [number, number];
            const data = e.data!;
            for (let off = 0; off < data.length; off += CHUNK) {
              const len = Math.min(CHUNK, data.length - off);
              await req('write', p, fd, data.subarray(off, off + len), len, off, 0);
            }
            await req('utimens', p, e.mtimeMs, 0, e.mtimeMs, 0);
            await req('getattr', p);
            await req('flush', p, fd);
            await req('release', p, fd);
            await req('getattr', parent(p));
          }
        }
        // Directories get their times and owner last, as cp -a does.
        for (const e of entries) {
          if (e.kind !== 'dir') continue;
          const p = `/t${e.rel}`;
          await req('utimens', p, e.mtimeMs, 0, e.mtimeMs, 0);
          await req('chown', p, 0, 0);
          await req('getattr', p);
        }
      });
      await phase('find+stat', async () => {
        const walkDir = async (p: string): Promise<void> => {
          const [, names] = await req('readdir', p) as [number, string[]];
          for (const n of names) {
            if (n === '.' || n === '..') continue;
            const c = `${p}/${n}`;
            const [, st] = await req('getattr', c) as [number, Uint32Array];
            if ((st[0] & 0o170000) === 0o040000) await walkDir(c);
          }
        };
        await walkDir('/t');
      });
      await phase('rm -rf', async () => {
        for (const e of [...entries].reverse()) {
          const p = `/t${e.rel}`;
          await req('getattr', p);
          await req(e.kind === 'dir' ? 'rmdir' : 'unlink', p);
          await req('getattr', parent(p));
        }
        await req('rmdir', '/t');
      });
      if (timed) {
        console.log([...perOp].sort((x, y) => y[1].ms - x[1].ms)
          .map(([n, o]) => `  ${n.padEnd(8)} ${String(o.n).padStart(6)} × ${(1000 * o.ms / o.n).toFixed(1).padStart(6)} µs = ${o.ms.toFixed(0)} ms`).join('\n'));
      }
      await closeStack(stack);
      rmSync(img, { force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** CPU time of every thread of this process by name (V8's GC and compiler threads, libuv's pool), in ms. */
function threadsMs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '');
      const ms = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      out.set(`${name}#${tid}`, ms);
    }
  } catch { /* not Linux */ }
  return out;
}

main().then(() => {
  if (process.env.OPCOST_THREADS) console.log([...threadsMs()].map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join(', '));
}, (e) => {
  console.error(e);
  process.exit(1);
});
