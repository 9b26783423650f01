/**
 * Shared by the FUSE and CLI tests: temporary directories, async child processes (a
 * synchronous one would stall the event loop that serves an in-process mount), and
 * forced cleanup of mounts a failed test left behind.
 */
import { execFile } from 'child_process';
import { promises as fsp, mkdtempSync, readFileSync } from 'fs';
import os from 'os';
import path from 'path';

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `pktfs-${prefix}-`));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command without blocking the event loop; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, timeout: opts.timeout ?? 60000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Mount points (canonical) currently listed in /proc/self/mountinfo. */
export function mountedPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** Make sure nothing stays mounted under `dir` (for afterAll, after a test failed half way). */
export async function forceUnmountUnder(dir: string): Promise<void> {
  for (const m of mountedPoints().filter((p) => p === dir || p.startsWith(dir + '/')).reverse()) {
    await run('fusermount', ['-uz', m]);
  }
}

export async function removeDir(dir: string): Promise<void> {
  await forceUnmountUnder(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}

/** Poll `check` until it is true or `ms` pass. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
