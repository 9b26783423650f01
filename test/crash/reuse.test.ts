/**
 * Blocks freed by an operation must not be reused before the metadata that
 * stopped pointing at them is on the medium: a directory that shrank (its
 * trailing entries deleted) still covers the freed block on the disc until its
 * entry is written; if the block is first filled with another file's data, a
 * crash leaves the directory unreadable, and with it files that were fsync'ed
 * long before. Cut at every write of such a sequence on a nearly full disc.
 */
import * as fs from 'fs';
import { createHash } from 'crypto';
import { isFsError } from '../../src/errors';
import { MemoryDevice } from '../../src/drive/memory';
import { openVolume } from '../../src/udf/volume';
import { isWritable } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { makeImage } from '../udf/write-helpers';
import { RecordingDevice, Replayer } from './cutdev';
import { checkImage } from './check';

const describeIf = haveTools('mkudffs') ? describe : describe.skip;
const SS = 2048;

describeIf('freed blocks and crashes', () => {
  let tmp: string;
  beforeAll(() => (tmp = makeTempDir('reuse')));
  afterAll(() => removeTempDir(tmp));

  test('a shrunk directory survives a cut at every write while its freed blocks are reused', async () => {
    const base = fs.readFileSync(makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 700 }, tmp, 'reuse'));
    const rec = new RecordingDevice(new MemoryDevice({ data: base, sectorSize: SS }));
    const vol = await openVolume(rec, { readWrite: true, packetBlocks: 16 });
    if (!isWritable(vol)) throw new Error(String(vol.info.readOnlyReason));
    const d = await vol.mkdir(vol.rootIno, 'd', 0o755, 0, 0);
    const keep = pseudoRandom('keep', 5000);
    const k = await vol.create(d, 'keep', 0o644, 0, 0);
    await vol.write(k, 0, keep);
    const names = Array.from({ length: 60 }, (_, i) => `${'n'.repeat(180)}${i}`);
    for (const n of names) await vol.create(d, n, 0o644, 0, 0);
    await vol.fsync(k);
    const durableAt = rec.flushes[rec.flushes.length - 1];
    // Fill the disc.
    const filler = await vol.create(vol.rootIno, 'filler', 0o644, 0, 0);
    for (let off = 0; ; off += 2048) {
      try {
        await vol.write(filler, off, pseudoRandom(`fill${off}`, 2048));
      } catch (e) {
        if (!isFsError(e, 'ENOSPC')) throw e;
        break;
      }
    }
    await vol.sync();
    const from = rec.bytes;
    // The trailing entries go: the directory shrinks by blocks, their entries' blocks are freed.
    for (const n of names.slice(20)) await vol.unlink(d, n);
    // A new file can only take the blocks just freed.
    const fresh = await vol.create(vol.rootIno, 'fresh', 0o644, 0, 0);
    for (let off = 0; ; off += 2048) {
      try {
        await vol.write(fresh, off, pseudoRandom(`fresh${off}`, 2048));
      } catch (e) {
        if (!isFsError(e, 'ENOSPC')) throw e;
        break;
      }
    }
    await vol.close();
    const durable = [{ path: 'd/keep', size: keep.length, sha256: createHash('sha256').update(keep).digest('hex'), at: durableAt, how: 'fsync' as const }];
    const replay = new Replayer(base, rec.writes, SS);
    const failures: string[] = [];
    let points = 0;
    for (const w of rec.writes) {
      if (w.before < from) continue;
      for (const cut of [w.before, w.before + SS]) {
        points++;
        const res = await checkImage(replay.advanceTo(cut), SS, durable);
        if (res.problems.length) failures.push(`cut at ${cut}: ${res.problems.join('; ')}`);
      }
    }
    expect(points).toBeGreaterThan(20);
    expect(failures.slice(0, 5)).toEqual([]);
  });
});
