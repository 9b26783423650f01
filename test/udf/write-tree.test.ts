/**
 * Per-entry costs of the write engine on a tree copy (issue 6), counted rather than timed:
 * timers started, entries stored.
 */
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { WritableUdfVolume } from '../../src/udf/write/volume';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { makeImage, openRw, type RwMount } from './write-helpers';

const describeIf = haveTools('mkudffs') ? describe : describe.skip;

describeIf('write engine: per-entry work of a tree copy', () => {
  let tmp: string;
  let m: RwMount;
  let vol: WritableVolume;

  async function open(idleSettleMs?: number): Promise<void> {
    m = await openRw(makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 8192 }, tmp, 'tree'), { idleSettleMs });
    if (!isWritable(m.vol)) throw new Error(`read-only: ${m.vol.info.readOnlyReason}`);
    vol = m.vol;
  }

  beforeEach(() => { tmp = makeTempDir('write-tree'); });
  afterEach(async () => {
    await m?.close();
    removeTempDir(tmp);
  });

  it('the idle settle takes one timer per quiet period, not one per change, and still comes', async () => {
    const ms = 300;
    await open(ms);
    const w = vol as WritableUdfVolume;
    const ino = await vol.create(vol.rootIno, 'f', 0o644, 0, 0);
    const t0 = performance.now();
    const changes = 200;
    for (let i = 0; i < changes; i++) await vol.setattr(ino, { mode: i & 0o777 });
    const burst = performance.now() - t0;
    // Each timer that fires before the deadline waits once more for what is left: at most one per `ms` of the burst.
    expect(w.idleTimers).toBeLessThanOrEqual(2 + Math.ceil(burst / ms));
    expect(w.idleTimers).toBeLessThan(changes / 10);
    expect(vol.info.integrity).toBe('open');
    for (let i = 0; i < 200 && vol.info.integrity !== 'closed'; i++) await new Promise((r) => setTimeout(r, 25));
    expect(vol.info.integrity).toBe('closed');
    // A change after the settle starts a new countdown.
    const before = w.idleTimers;
    await vol.setattr(ino, { mode: 0o600 });
    expect(vol.info.integrity).toBe('open');
    expect(w.idleTimers).toBe(before + 1);
  });
});
