/**
 * A `pktfs -f IMG MNT` child for the crash, full-disc and load tests through a
 * real FUSE mount: started, waited for, unmounted with umount, killed.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { PKTFS, cleanEnv, isMounted } from '../bin/cli-helpers';
import { run, waitFor } from '../fuse/helpers';

export interface Served {
  child: ChildProcess;
  mnt: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

export async function serve(img: string, mnt: string, opts: string[] = []): Promise<Served> {
  fs.mkdirSync(mnt, { recursive: true });
  const child = spawn(process.execPath, [PKTFS, '-f', ...opts, img, mnt], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  await Promise.race([
    waitFor(() => isMounted(mnt), 15000, `the mount on ${mnt}`),
    exit.then((c) => { throw new Error(`pktfs exited ${c} before mounting: ${err}`); }),
  ]);
  return { child, mnt, stderr: () => err, exit };
}

/** umount, and the child's exit status (the disc is complete once it has exited). */
export async function unserve(s: Served): Promise<number | null> {
  const r = await run('umount', [s.mnt]);
  if (r.code !== 0) throw new Error(`umount ${s.mnt}: ${r.stderr}`);
  return s.exit;
}

/** SIGKILL the server, then clear the dead mount it leaves. */
export async function kill(s: Served): Promise<void> {
  s.child.kill('SIGKILL');
  await s.exit;
  await run('fusermount', ['-uz', s.mnt]);
  await waitFor(() => !isMounted(s.mnt), 5000, `the dead mount on ${s.mnt} to go`);
}
