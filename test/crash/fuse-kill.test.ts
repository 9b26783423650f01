/**
 * SIGKILL of the `pktfs -f` process mid-copy (issue 5, section 2): a copy
 * through the real mount, some files fsync'ed, the server killed after a
 * different delay each time (before, during and after idle settles). The
 * image must then mount, walk with nothing but FsErrors, give back every file
 * whose fsync returned, satisfy udfinfo (and udfclient, and `pktfs fsck -y`
 * once the CLI has it).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { assertBuilt } from '../bin/cli-helpers';
import { forceUnmountUnder } from '../fuse/helpers';
import { makeImage } from '../udf/write-helpers';
import { prng } from './cutdev';
import { checkImage, judgeWithTools, repair } from './check';
import { serve, kill } from './fuse-helpers';
import type { Durable } from './workload';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient', 'fusermount') && fs.existsSync('/dev/fuse');
const describeIf = TOOLS ? describe : describe.skip;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Copy files into the mount until something fails (the server is gone); fsync every third. */
async function copyUntilGone(mnt: string, seed: number, durable: Durable[], pauseAfter = -1, onPause = () => undefined as void): Promise<number> {
  const r = prng(seed);
  let n = 0;
  try {
    for (let i = 0; ; i++) {
      const dir = `dir${i % 4}`;
      if (i < 4) await fs.promises.mkdir(path.join(mnt, dir));
      const rel = `${dir}/file${i}`;
      const data = pseudoRandom(`${seed}:${rel}`, Math.floor(r() * 400000));
      const fh = await fs.promises.open(path.join(mnt, rel), 'w');
      try {
        for (let off = 0; off < data.length; off += 65536) await fh.write(data, off, Math.min(65536, data.length - off), off);
        if (i % 3 === 0) {
          await fh.sync();
          durable.push({ path: rel, size: data.length, sha256: sha(data), at: 0, how: 'fsync' });
        }
      } finally {
        await fh.close().catch(() => undefined);
      }
      n++;
      // A long pause: the mount settles (LVID closed) and is killed while idle.
      if (i === pauseAfter) {
        onPause();
        await new Promise((res) => setTimeout(res, 10000));
      }
      if (r() < 0.2) await new Promise((res) => setTimeout(res, Math.floor(r() * 1300)));
    }
  } catch {
    return n; // ENOTCONN once the server is dead
  }
}

describeIf('SIGKILL of the FUSE server mid-copy', () => {
  let tmp: string;
  beforeAll(() => {
    assertBuilt();
    tmp = makeTempDir('kill');
  });
  afterAll(async () => {
    await forceUnmountUnder(tmp);
    removeTempDir(tmp);
  });

  const DELAYS = [150, 500, 900, 1400, 2200, 3500, 3000];
  test(`killed after ${DELAYS.join(', ')} ms: fsync'ed files survive, the image mounts and is readable`, async () => {
    const failures: string[] = [];
    const summary: string[] = [];
    for (const [k, delay] of DELAYS.entries()) {
      const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 16384 }, tmp, `kill${k}`);
      const mnt = path.join(tmp, `mnt${k}`);
      const s = await serve(img, mnt);
      const durable: Durable[] = [];
      const idle = k === DELAYS.length - 1;
      let paused: () => void = () => undefined;
      const pausing = new Promise<void>((res) => (paused = res));
      const copying = copyUntilGone(mnt, k + 1, durable, idle ? 3 : -1, () => paused());
      // The last case: killed `delay` ms into the pause (the mount settles 1 s after the last change).
      if (idle) await pausing;
      await new Promise((res) => setTimeout(res, delay));
      // What returned from fsync before the kill is what must survive.
      const mustSurvive = [...durable];
      await kill(s);
      const copied = await copying;
      const res = await checkImage(fs.readFileSync(img), 2048, mustSurvive);
      const problems = [...res.problems];
      if (k % 2 === 0) problems.push(...(await judgeWithTools(img, 2048, mustSurvive)));
      const status = await repair(img);
      if (status !== null) {
        if (status >= 4) problems.push(`fsck -y left errors (exit ${status})`);
        const after = await checkImage(fs.readFileSync(img), 2048, mustSurvive);
        problems.push(...after.problems.map((p) => `after fsck: ${p}`), ...after.damaged.map((p) => `after fsck, damaged: ${p}`));
      }
      summary.push(`${delay} ms: ${copied} files copied, ${mustSurvive.length} fsync'ed, LVID ${res.integrity}, ${res.damaged.length} damaged entries, fsck -y ${status ?? 'skipped'}`);
      if (problems.length) failures.push(`killed after ${delay} ms: ${problems.join('; ')}`);
      fs.rmSync(img);
    }
    console.log(`SIGKILL: ${summary.join('; ')}`);
    // The last case was killed while settled.
    expect(summary[summary.length - 1]).toMatch(/LVID closed/);
    expect(failures).toEqual([]);
  });
});
