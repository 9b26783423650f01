/**
 * Background mode: the command returns only once the mount is live. We start ourselves
 * again as a detached child (own session, stdio on /dev/null, an IPC channel); the child
 * mounts and sends one report, ready or the reason it failed, then keeps serving after
 * we have gone. Without this, `pktfs SRC DIR && ls DIR` could race the mount.
 */
import { spawn } from 'child_process';
import path from 'path';
import type { ServeReport } from './serve';

/** The hidden flag that makes pktfs the serving child. */
export const CHILD_FLAG = '--serve-child';

export type ChildOutcome = ServeReport | { type: 'exited'; message: string } | { type: 'spawn-failed'; message: string };

/**
 * Start the serving child for `source` on `mountpoint` (both absolute) with option words
 * `words`, and wait for its report. The child keeps running after a 'ready'.
 */
export function startChild(script: string, source: string, mountpoint: string, words: string[]): Promise<ChildOutcome> {
  const args = [script, CHILD_FLAG, ...(words.length ? ['-o', words.join(',')] : []), '--', source, mountpoint];
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: ChildOutcome): void => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    const child = spawn(process.execPath, args, {
      detached: true,
      cwd: path.parse(mountpoint).root,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    child.on('error', (e) => settle({ type: 'spawn-failed', message: `cannot start the mount process: ${e.message}` }));
    child.on('message', (m: ServeReport) => {
      settle(m);
      // Let the child live on without us: no channel, no reference from our event loop.
      if (child.connected) child.disconnect();
      child.unref();
    });
    child.on('exit', (code, signal) => {
      settle({ type: 'exited', message: `the mount process ended before mounting (${signal ?? `status ${code}`})` });
    });
  });
}

/** In the child: send the report to the parent, if there still is one; resolves once it is sent. */
export function reportToParent(r: ServeReport): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(r, undefined, {}, () => resolve());
  });
}

/** The absolute path of bin/pktfs.js next to this file (what the child runs). */
export function pktfsScript(): string {
  return path.join(__dirname, 'pktfs.js');
}
