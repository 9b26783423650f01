/**
 * For the CLI tests: the built scripts (test/globalSetup.ts builds them), finding the
 * background process that serves a mount, and waiting for processes and mounts to go.
 */
import { existsSync, readFileSync, readdirSync } from 'fs';
import path from 'path';
import { mountedPoints, run, waitFor, type RunResult } from '../fuse/helpers';

const ROOT = path.resolve(__dirname, '../..');
export const PKTFS = path.join(ROOT, 'dist/bin/pktfs.js');
export const MOUNT_HELPER = path.join(ROOT, 'dist/bin/mount.pktfs.js');
export const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Throw with tsc's output if globalSetup could not build dist/. */
export function assertBuilt(): void {
  const status = path.join(ROOT, 'dist/.build-status.json');
  const s = existsSync(status) ? (JSON.parse(readFileSync(status, 'utf8')) as { ok: boolean; output: string }) : undefined;
  if (!s || !s.ok || !existsSync(PKTFS)) throw new Error(`dist/ is not built (test/globalSetup.ts):\n${s?.output ?? 'no build status'}`);
}

export function pktfs(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return run(process.execPath, [PKTFS, ...args], { env: env ?? cleanEnv() });
}

/** The environment without DEBUG, so the output tests see is what a user sees. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DEBUG;
  return env;
}

/** Pid of the background process serving `mountpoint`, found by its command line. */
export function servingPid(mountpoint: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.includes('--serve-child') && argv.includes(mountpoint)) return Number(name);
  }
  return undefined;
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export const isMounted = (mnt: string): boolean => mountedPoints().includes(mnt);

export async function waitGone(pid: number, ms = 5000): Promise<void> {
  await waitFor(() => !alive(pid), ms, `process ${pid} to end`);
}

/** The single line the tests expect on stderr. */
export function oneLine(r: RunResult): string {
  const lines = r.stderr.split('\n').filter(Boolean);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${r.stderr}`);
  return lines[0];
}
