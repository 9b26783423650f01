/**
 * Crash safety at the WritableVolume level (issue 5, section 2): a recorded
 * run of the copy workload, then the medium rebuilt as it would stand had the
 * power gone after N bytes, for hundreds of N (torn writes included), with and
 * without the packet layer between the volume and the drive. Every point must
 * mount, walk with nothing but FsErrors, and give back every file that was
 * fsync'ed or synced before the cut; a sample is judged by udfinfo and
 * udfclient (and `pktfs fsck -y` once the CLI has it). Then the drive cut off
 * for real (EIO from the cut on) at a few dozen points: the workload sees only
 * FsErrors, and the medium is again checked.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice } from '../../src/packet/device';
import { openVolume } from '../../src/udf/volume';
import { isWritable } from '../../src/udf/types';
import type { BlockDevice } from '../../src/drive/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { makeImage } from '../udf/write-helpers';
import { RecordingDevice, Replayer, imageAfter, prng } from './cutdev';
import { runWorkload, Durable, WorkloadResult } from './workload';
import { checkImage, judgeWithTools, repair } from './check';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient');
const describeIf = TOOLS ? describe : describe.skip;
const SS = 2048;
const POINTS = Number(process.env.PKTFS_CRASH_POINTS ?? 250);

interface Recorded {
  base: Buffer;
  rec: RecordingDevice;
  result: WorkloadResult;
}

type Stack = 'direct' | 'packet';

function stackOver(rec: BlockDevice, stack: Stack): BlockDevice {
  // Small cache: write-back under pressure happens during the run, not only at flushes.
  // Runs of full data packets held for the next ones, as on an image (writev devices).
  return stack === 'packet' ? new PacketDevice(rec, { packetBytes: 64 * 1024, cacheBytes: 512 * 1024, dirtyBytes: 256 * 1024, flushDelayMs: Infinity, holdRunMs: 2 }) : rec;
}

async function record(base: Buffer, stack: Stack, seed: number, cut?: RecordingDevice['cut']): Promise<Recorded> {
  const rec = new RecordingDevice(new MemoryDevice({ data: base, sectorSize: SS }));
  rec.cut = cut;
  const dev = stackOver(rec, stack);
  const vol = await openVolume(dev, { readWrite: true });
  if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
  const result = await runWorkload(vol, { seed, ops: Number(process.env.PKTFS_CRASH_OPS ?? 90), flushedBytes: () => rec.flushes[rec.flushes.length - 1] ?? 0, stopOnError: !!cut });
  try {
    await vol.close();
    if (dev !== rec) await dev.close();
  } catch (e) {
    if (!cut) throw e;
    result.errors.push(`close: ${(e as Error).message}`);
  }
  return { base, rec, result };
}

/** Cut points: random bytes, plus just before, at and after every flush. */
function cutPoints(rec: RecordingDevice, n: number, seed: number): number[] {
  const r = prng(seed);
  const pts = new Set<number>([0, rec.bytes]);
  for (const f of rec.flushes) for (const d of [-SS, 0, SS]) if (f + d >= 0 && f + d <= rec.bytes) pts.add(f + d);
  while (pts.size < n) pts.add(Math.floor(r() * rec.bytes / 512) * 512);
  return [...pts].sort((a, b) => a - b);
}

const due = (durable: Durable[], cut: number) => durable.filter((d) => d.at <= cut);

describeIf('crash points at the volume level', () => {
  let tmp: string;
  let base: Buffer;
  /** A CD-RW image: a sparable partition, packets of 32. */
  let sparable: Buffer;

  beforeAll(() => {
    tmp = makeTempDir('crash');
    base = fs.readFileSync(makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 4096 }, tmp));
    sparable = fs.readFileSync(makeImage({ media: 'cdrw', rev: '2.01', bs: 2048, blocks: 8192 }, tmp));
  });
  afterAll(() => removeTempDir(tmp));

  for (const [stack, medium] of [['direct', 'plain'], ['packet', 'plain'], ['packet', 'sparable']] as [Stack, string][]) {
    test(`power cut at ${POINTS} points (${stack}, ${medium})`, async () => {
      const start = medium === 'plain' ? base : sparable;
      const { rec, result } = await record(start, stack, Number(process.env.PKTFS_CRASH_SEED ?? 7));
      expect(result.crash).toBeUndefined();
      expect(result.errors).toEqual([]);
      expect(result.durable.length).toBeGreaterThan(10);
      const failures: string[] = [];
      let damagedPoints = 0;
      const points = cutPoints(rec, POINTS, 11);
      const replay = new Replayer(start, rec.writes, SS);
      for (const cut of points) {
        const img = replay.advanceTo(cut);
        const res = await checkImage(img, SS, due(result.durable, cut));
        if (res.damaged.length) damagedPoints++;
        if (res.problems.length) failures.push(`cut at byte ${cut} of ${rec.bytes} (${res.integrity}): ${res.problems.join('; ')}`);
      }
      // The whole run: nothing lost, nothing damaged.
      const final = await checkImage(imageAfter(start, rec.writes, rec.bytes, SS), SS, result.durable);
      expect(final.damaged).toEqual([]);
      expect(final.integrity).toBe('closed');
      console.log(`${stack}, ${medium}: ${points.length} points over ${rec.writes.length} writes (${rec.bytes} bytes, ${rec.flushes.length} flushes), ${result.durable.length} durable files, ${damagedPoints} points with damaged non-durable entries`);
      expect(failures.slice(0, 10)).toEqual([]);
    });
  }

  // Between flushes the packet layer writes packets in the order of its cache, under pressure
  // too; what it is told to order (an entry before the name pointing at it, a directory's
  // blocks and allocation extents before its entry) must hold at every write it makes. Torn
  // packets (a cut inside one write) are the drive's business and not counted here.
  for (const [medium, seeds] of [['plain', [7, 23, 31]], ['sparable', [7, 23]]] as [string, number[]][]) {
    test(`power cut after each write of the packet layer (${medium}): no name points at an entry not written`, async () => {
      const start = medium === 'plain' ? base : sparable;
      const failures: string[] = [];
      let cuts = 0;
      for (const seed of seeds) {
        const { rec, result } = await record(start, 'packet', seed);
        expect(result.crash).toBeUndefined();
        const replay = new Replayer(start, rec.writes, SS);
        for (const w of rec.writes) {
          const cut = w.before + w.data.length;
          const res = await checkImage(replay.advanceTo(cut), SS, due(result.durable, cut));
          cuts++;
          if (res.problems.length || res.damaged.length) failures.push(`seed ${seed}, cut after ${cut} of ${rec.bytes}: ${[...res.problems, ...res.damaged].join('; ')}`);
        }
      }
      expect(cuts).toBeGreaterThan(100);
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }

  test('a sample of points judged by udfinfo, udfclient (and fsck -y when there)', async () => {
    const { rec, result } = await record(base, 'packet', 23);
    expect(result.crash).toBeUndefined();
    const r = prng(5);
    const failures: string[] = [];
    const statuses: (number | null)[] = [];
    for (let i = 0; i < 6; i++) {
      const cut = i === 5 ? rec.bytes : Math.floor(r() * rec.bytes);
      const durable = due(result.durable, cut);
      const file = path.join(tmp, `cut-${i}.img`);
      fs.writeFileSync(file, imageAfter(base, rec.writes, cut, SS));
      const problems = await judgeWithTools(file, SS, durable);
      const status = await repair(file);
      statuses.push(status);
      if (status !== null) {
        if (status >= 4) problems.push(`fsck -y left errors (exit ${status})`);
        const after = await checkImage(fs.readFileSync(file), SS, durable);
        if (after.integrity !== 'closed') problems.push(`after fsck -y the LVID is ${after.integrity}`);
        problems.push(...after.problems.map((p) => `after fsck: ${p}`), ...after.damaged.map((p) => `after fsck, damaged: ${p}`));
        problems.push(...(await judgeWithTools(file, SS, durable)).map((p) => `after fsck: ${p}`));
      }
      if (problems.length) failures.push(`cut at ${cut} of ${rec.bytes}: ${problems.join('; ')}`);
      fs.rmSync(file);
    }
    console.log(`sample: fsck -y exit statuses ${statuses.map((x) => x ?? 'skipped (no pktfs fsck)').join(', ')}`);
    expect(failures).toEqual([]);
  });

  test('drive cut off (EIO from the cut on) at 30 points: only FsErrors, the medium still checks', async () => {
    const { rec: full } = await record(base, 'packet', 31);
    const r = prng(9);
    const failures: string[] = [];
    for (let i = 0; i < 30; i++) {
      const cut = Math.floor(r() * full.bytes);
      const { rec, result } = await record(base, 'packet', 31, { afterBytes: cut, mode: 'fail' });
      if (result.crash) failures.push(`cut at ${cut}: workload threw ${String(result.crash)}`);
      const res = await checkImage(rec.inner.data, SS, due(result.durable, cut));
      if (res.problems.length) failures.push(`cut at ${cut}: ${res.problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });
});
