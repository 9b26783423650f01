/**
 * `pktfs fsck -n` on damaged images. `fsckAvailable()` is false only where the
 * built pktfs has no fsck (then the test in test/fuzz/fuzz.test.ts is skipped,
 * and `npm run fuzz -- --fsck N` says so).
 * `fsckDamagedImage(path)` takes the path of a damaged image file (see
 * `caseImage(...).overlay.materialise()`), runs `pktfs fsck -n` on it and
 * reports a crash, a hang, or a change to the image (-n must not write) as a
 * failure; any report of damage, with any documented status, passes.
 */
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, readFileSync } from 'fs';
import path from 'path';

/** The built pktfs: this checkout's, or PKTFS_FUZZ_PKTFS (a dist/bin/pktfs.js from another branch, to try the hook). */
function pktfsJs(): string {
  if (process.env.PKTFS_FUZZ_PKTFS) return process.env.PKTFS_FUZZ_PKTFS;
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return path.join(d, 'dist/bin/pktfs.js');
  }
  return path.resolve(__dirname, '../../dist/bin/pktfs.js');
}

/** Whether the built pktfs has an `fsck` subcommand taking -n. */
export function fsckAvailable(): boolean {
  const js = pktfsJs();
  if (!existsSync(js)) return false;
  const r = spawnSync(process.execPath, [js, 'fsck', '--help'], { encoding: 'utf8', timeout: 20000 });
  return r.status === 0 && /^Usage: pktfs fsck/m.test(r.stdout) && /-n\b/.test(r.stdout);
}

export interface FsckOutcome {
  ok: boolean;
  /** Exit status (null when killed), and why it failed when it did. */
  status: number | null;
  detail: string;
}

/**
 * Exit statuses as docs/cli.md gives them for pktfs fsck (e2fsck's bits):
 * 0 clean, 1 repaired, 4 left unrepaired, 5 both, 8 operational error; 16 (usage) is a failure here.
 */
const FSCK_STATUSES = [0, 1, 4, 5, 8];

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Run `pktfs fsck -n` on the damaged image at `imagePath`. */
export function fsckDamagedImage(imagePath: string, timeoutMs = 60000): Promise<FsckOutcome> {
  const before = sha(imagePath);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [pktfsJs(), 'fsck', '-n', imagePath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const fail = (why: string) => resolve({ ok: false, status, detail: `${why}\n${out.slice(-2000)}` });
      if (timedOut) return fail(`hang: no answer in ${timeoutMs} ms`);
      if (signal) return fail(`killed by ${signal}`);
      // fsck has no other way of saying "internal error" than exit status 8 or a stack trace.
      if (/^\s+at .+\(.*:\d+:\d+\)$/m.test(out) || /\b(TypeError|RangeError|ReferenceError)\b/.test(out)) return fail('crashed (stack trace)');
      if (status === null || !FSCK_STATUSES.includes(status)) return fail(`undocumented exit status ${status}`);
      if (sha(imagePath) !== before) return fail('-n changed the image');
      resolve({ ok: true, status, detail: out.slice(-500) });
    });
  });
}
