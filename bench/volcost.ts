/**
 * JavaScript cost of the UDF write engine and the packet layer alone (issue 6): the volume
 * calls a `cp -a` of a tree makes through pktfs (create, write in 128 KiB pieces, the times,
 * the mode, the owner, a stat; mkdir; symlink; the directories' times and owner at the end),
 * made straight on a WritableVolume over the packet layer over an image file, with no FUSE
 * layer above it. Each call is awaited before the next, as a sequential tool's requests are.
 * Prints the JS thread's CPU per file copied, for each repetition (the first one warms up V8),
 * and counts of what the engine did.
 *
 *   node dist/bench/volcost.js [TREE] [--reps N]
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { openStack, closeStack } from '../bin/stack';
import { parseMountOptions, splitOptions } from '../src/options';
import { isWritable } from '../src/udf/types';
import { jsThreadMs } from './harness';

/** The JS thread's user and system CPU so far, in ms (clock ticks of 10 ms). */
function jsThreadUserSys(): [number, number] {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return [Number(f[11]) * 10, Number(f[12]) * 10];
  } catch {
    return [0, 0];
  }
}

interface Entry { rel: string; parent: number; kind: 'dir' | 'file' | 'link'; data?: Buffer; target?: string; mode: number; mtimeMs: number }

function walk(root: string, rel = '', parent = -1, out: Entry[] = []): Entry[] {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = `${rel}/${name}`;
    const st = lstatSync(join(root, r));
    if (st.isSymbolicLink()) out.push({ rel: r, parent, kind: 'link', target: readlinkSync(join(root, r)), mode: 0o777, mtimeMs: st.mtimeMs });
    else if (st.isDirectory()) {
      out.push({ rel: r, parent, kind: 'dir', mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
      walk(root, r, out.length - 1, out);
    } else if (st.isFile()) out.push({ rel: r, parent, kind: 'file', data: readFileSync(join(root, r)), mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--reps');
  const reps = i >= 0 ? Number(args.splice(i, 2)[1]) : 3;
  const tree = args[0] ?? '/usr/share/doc';
  const entries = walk(tree);
  const files = entries.filter((e) => e.kind !== 'dir').length;
  const work = mkdtempSync(join(process.env.BENCH_WORK ?? tmpdir(), 'pktfs-volcost-'));
  const CHUNK = 131072;
  const warm: number[] = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      const img = join(work, `r${rep}.img`);
      execFileSync('mkudffs', ['--media-type=hd', '--blocksize=2048', '--new-file', img, String(262144)], { stdio: 'ignore' });
      const stack = await openStack(img, { ...parseMountOptions(splitOptions([])), readOnly: false });
      const vol = stack.volume;
      if (!isWritable(vol)) throw new Error('read-only');
      const inos = new Array<number>(entries.length);
      const j0 = jsThreadMs();
      const [u0, s0] = jsThreadUserSys();
      const top = await vol.mkdir(vol.rootIno, 't', 0o755, 0, 0);
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k];
        const parent = e.parent < 0 ? top : inos[e.parent];
        const name = e.rel.slice(e.rel.lastIndexOf('/') + 1);
        if (e.kind === 'dir') {
          inos[k] = await vol.mkdir(parent, name, e.mode, 0, 0);
        } else if (e.kind === 'link') {
          inos[k] = await vol.symlink(parent, name, e.target!, 0, 0);
          await vol.setattr(inos[k], { uid: 0, gid: 0 });
        } else {
          const ino = inos[k] = await vol.create(parent, name, e.mode, 0, 0);
          const data = e.data!;
          for (let off = 0; off < data.length; off += CHUNK) await vol.write(ino, off, data.subarray(off, Math.min(data.length, off + CHUNK)));
          await vol.setattr(ino, { atime: new Date(e.mtimeMs), mtime: new Date(e.mtimeMs) });
          await vol.setattr(ino, { mode: e.mode });
          if (!vol.attrNow?.(ino)) await vol.getattr(ino);
        }
      }
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k];
        if (e.kind !== 'dir') continue;
        await vol.setattr(inos[k], { atime: new Date(e.mtimeMs), mtime: new Date(e.mtimeMs) });
        await vol.setattr(inos[k], { uid: 0, gid: 0 });
      }
      const j = jsThreadMs() - j0;
      const [u1, s1] = jsThreadUserSys();
      const s = stack.packets.stats();
      if (rep > 0 || reps === 1) warm.push(1000 * j / entries.length);
      console.log(`rep ${rep}: ${entries.length} entries (${files} files and links)  JS thread ${(1000 * j / entries.length).toFixed(1).padStart(6)} µs/entry (${j.toFixed(0)} ms: user ${u1 - u0}, system ${s1 - s0})`
        + `  packets written ${s.packetsEnded}, device writes ${s.deviceWrites}`);
      await closeStack(stack);
      rmSync(img, { force: true });
    }
    warm.sort((a, b) => a - b);
    console.log(`median ${warm[warm.length >> 1].toFixed(1)} µs/entry, min ${warm[0].toFixed(1)} (${warm.length} runs after the first)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
