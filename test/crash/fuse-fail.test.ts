/**
 * A failing drive through the real mount: `pktfs -f emu:dvd+rw:IMG,defects=...`.
 * A copy whose data runs into the defective sectors gets EIO from fsync (or
 * from a write that waited for the packet cache); what was fsync'ed before
 * stays; unmount reports the failure in one line with status 2; the medium
 * mounts and udfinfo reads it.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { assertBuilt } from '../bin/cli-helpers';
import { forceUnmountUnder } from '../fuse/helpers';
import { makeImage } from '../udf/write-helpers';
import { checkImage } from './check';
import { serve, unserve } from './fuse-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'umount', 'fusermount') && fs.existsSync('/dev/fuse');
const describeIf = TOOLS ? describe : describe.skip;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describeIf('a failing drive through the FUSE mount', () => {
  let tmp: string;
  beforeAll(() => {
    assertBuilt();
    tmp = makeTempDir('fusefail');
  });
  afterAll(async () => {
    await forceUnmountUnder(tmp);
    removeTempDir(tmp);
  });

  test('write defects: EIO at fsync, earlier fsync\'ed file intact, unmount says so in one line', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 4096 }, tmp, 'fail');
    const mnt = path.join(tmp, 'mnt');
    const s = await serve(`emu:dvd+rw:${img},defects=2000-4095`, mnt);
    const keep = pseudoRandom('keep', 200_000);
    const errors: string[] = [];
    let status: number | null;
    try {
      const k = await fs.promises.open(path.join(mnt, 'keep'), 'w');
      await k.write(keep, 0, keep.length, 0);
      await k.sync();
      await k.close();
      const fh = await fs.promises.open(path.join(mnt, 'big'), 'w');
      const chunk = pseudoRandom('big', 65536);
      try {
        for (let i = 0; i < 100; i++) await fh.write(chunk, 0, chunk.length, i * chunk.length);
      } catch (e) {
        errors.push(`write ${(e as NodeJS.ErrnoException).code}`);
      }
      try {
        await fh.sync();
      } catch (e) {
        errors.push(`fsync ${(e as NodeJS.ErrnoException).code}`);
      }
      await fh.close().catch(() => undefined);
      // The file written before the defects is read back whole through the mount.
      expect(sha(await fs.promises.readFile(path.join(mnt, 'keep')))).toBe(sha(keep));
    } finally {
      status = await unserve(s);
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => / EIO$/.test(e))).toBe(true);
    expect(status).toBe(2);
    const lines = s.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pktfs: writing the disc failed: .*MEDIUM ERROR/);
    const res = await checkImage(fs.readFileSync(img), 2048, [{ path: 'keep', size: keep.length, sha256: sha(keep), at: 0, how: 'fsync' }]);
    expect(res.problems).toEqual([]);
    expect(udfinfo(img).errors).toEqual([]);
  });

  test('a write that fails in the background (idle write-back) is reported at close(2)', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 4096 }, tmp, 'fail-close');
    const mnt = path.join(tmp, 'mnt-close');
    const s = await serve(`emu:dvd+rw:${img},defects=600-4095`, mnt);
    let closeError: string | undefined;
    try {
      const fh = await fs.promises.open(path.join(mnt, 'late'), 'w');
      const chunk = pseudoRandom('late', 65536);
      // Small enough for the packet cache: nothing fails while writing.
      for (let i = 0; i < 40; i++) await fh.write(chunk, 0, chunk.length, i * chunk.length);
      // The idle write-back (flush=1000) and settle run into the defects meanwhile.
      await new Promise((r) => setTimeout(r, 4000));
      await fh.close().catch((e: NodeJS.ErrnoException) => (closeError = e.code));
    } finally {
      await unserve(s);
    }
    expect(closeError).toBe('EIO');
  });
});
