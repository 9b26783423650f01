/**
 * The device write step of PacketDevice: packets whose write-outs reach the
 * device together go as runs of consecutive packets, one device write each
 * (bounded by maxRunBytes, never reordered), and a run that fails ends exactly
 * as if its packets had been written one by one (the baseline,
 * maxRunBytes = one packet): the same remaps, the same errors, the same bytes
 * on the disc and the same wear counters.
 */
import { MemoryDevice } from '../../src/drive/memory';
import type { BlockDevice } from '../../src/drive/types';
import { ScsiError, SenseKey } from '../../src/drive/scsi/sense';
import { PacketDevice } from '../../src/packet/device';
import type { WriteRemapper } from '../../src/packet/remap';
import { FsError } from '../../src/errors';
import { LoggingDevice, pattern, settle } from './helpers';

const SS = 2048;
const SPP = 16;
const PACKET = SPP * SS;
const SECTORS = 1024;

/** Like a drive: writes in order and stops at the first bad sector, with that sector as INFORMATION. */
class DriveLike implements BlockDevice {
  readonly defects = new Set<number>();
  sense: [number, number, number] = [SenseKey.MEDIUM_ERROR, 0x0c, 0x00];
  deferred = false;
  /** Fail the next write that covers this sector with a plain EIO (not a sense). */
  eioAt: number | undefined;
  constructor(readonly inner: MemoryDevice, readonly maxTransferBytes?: number) {}
  get sectorSize(): number { return SS; }
  get sectorCount(): number { return this.inner.sectorCount; }
  get readOnly(): boolean { return false; }
  get description(): string { return 'drive-like memory'; }
  read(lba: number, count: number): Promise<Buffer> { return this.inner.read(lba, count); }
  async write(lba: number, data: Buffer): Promise<void> {
    const count = data.length / SS;
    if (this.eioAt !== undefined && this.eioAt >= lba && this.eioAt < lba + count) {
      this.eioAt = undefined;
      throw new FsError('EIO', `write of sectors ${lba}+${count}: injected failure`);
    }
    for (let i = 0; i < count; i++) {
      if (!this.defects.has(lba + i)) continue;
      const good = i - (i % SPP); // the failing packet is lost whole
      if (good) await this.inner.write(lba, data.subarray(0, good * SS));
      const [key, asc, ascq] = this.sense;
      throw new ScsiError(0x2a, 'WRITE(10)', { key, asc, ascq, information: lba + i, deferred: this.deferred }, 'emu');
    }
    return this.inner.write(lba, data);
  }
  flush(): Promise<void> { return this.inner.flush(); }
  close(): Promise<void> { return this.inner.close(); }
}

class ListRemapper implements WriteRemapper {
  readonly moved: [number, number][] = [];
  constructor(readonly spares: number[]) {}
  spareFor(): number | undefined { return this.spares[0]; }
  remapped(from: number, to: number): void {
    this.spares.shift();
    this.moved.push([from, to]);
  }
}

function setup(opts: { maxRunBytes?: number; deviceMax?: number } = {}) {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(SECTORS * SS, 0x11) });
  const drive = new DriveLike(mem, opts.deviceMax);
  const log = new LoggingDevice(drive, SPP);
  const dev = new PacketDevice(log, { packetBytes: PACKET, flushDelayMs: Infinity, maxRunBytes: opts.maxRunBytes });
  return { mem, drive, log, dev };
}

type Setup = ReturnType<typeof setup>;
const writes = (s: Setup) => s.log.writes.map((w) => [w.lba, w.count]);

describe('runs of consecutive packets', () => {
  test('packets completed by one write go as one device write, bounded by maxRunBytes', async () => {
    for (const [max, expected] of [
      [8 * PACKET, [[32, 128]]],
      [3 * PACKET, [[32, 48], [80, 48], [128, 32]]],
      [PACKET, Array.from({ length: 8 }, (_, i) => [32 + i * SPP, SPP])],
      [3 * PACKET - 1, [[32, 32], [64, 32], [96, 32], [128, 32]]], // rounded down to whole packets
    ] as [number, number[][]][]) {
      const s = setup({ maxRunBytes: max });
      const data = pattern(8 * PACKET, 3);
      await s.dev.write(32, data);
      await settle();
      expect(writes(s)).toEqual(expected);
      expect(s.dev.stats()).toMatchObject({ deviceWrites: expected.length, packetsEnded: 8, runsRetried: 0 });
      expect(s.mem.data.subarray(32 * SS, 160 * SS).equals(data)).toBe(true);
      expect([...s.dev.wearMap()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: 8 }, (_, i) => [2 + i, 1]));
      expect(s.log.violations).toEqual([]);
    }
  });

  test('the default run length is the device\'s largest transfer, else 256 KiB', () => {
    expect(setup({ deviceMax: 128 * 1024 }).dev.maxRunBytes).toBe(128 * 1024);
    expect(setup().dev.maxRunBytes).toBe(256 * 1024);
    expect(setup({ deviceMax: 1000 }).dev.maxRunBytes).toBe(PACKET); // at least one packet
  });

  test('packets that are not consecutive, or not ready together, are not merged, and nothing is reordered', async () => {
    const s = setup();
    const p = (n: number, fill: number) => s.dev.write(n * SPP, pattern(PACKET, fill));
    await Promise.all([p(5, 1), p(6, 2), p(3, 3), p(4, 4), p(9, 5)]);
    await settle();
    await p(10, 6);
    await settle();
    expect(writes(s)).toEqual([[80, 32], [48, 32], [144, 16], [160, 16]]);
  });

  test('a partial last packet can end a run', async () => {
    const mem = new MemoryDevice({ sectorSize: SS, data: pattern((SPP * 4 + 5) * SS, 0x11) });
    const log = new LoggingDevice(mem, SPP);
    const dev = new PacketDevice(log, { packetBytes: PACKET, flushDelayMs: Infinity });
    await dev.write(SPP * 2, pattern((SPP * 2 + 5) * SS, 9));
    await settle();
    expect(log.writes.map((w) => [w.lba, w.count])).toEqual([[32, 37]]);
    expect(log.violations).toEqual([]);
  });
});

/** What a scenario leaves behind, to compare a run against one packet per write. */
async function outcome(s: Setup, r: ListRemapper | null, flushes = 1) {
  const errors: string[] = [];
  for (let i = 0; i < flushes; i++) {
    await s.dev.flush().catch((e: Error) => errors.push(e.message));
  }
  const st = s.dev.stats();
  return {
    errors,
    moved: r?.moved ?? [],
    disc: Buffer.from(s.mem.data),
    wear: [...s.dev.wearMap()].sort((a, b) => a[0] - b[0]),
    stats: {
      remaps: st.remaps, mediumWriteErrors: st.mediumWriteErrors, pendingError: st.pendingError, queueSize: st.queueSize,
      driveSparesExhausted: st.driveSparesExhausted, lastWriteError: st.lastWriteError, bytesDeviceWritten: st.bytesDeviceWritten,
    },
  };
}

describe('a run that fails ends as its packets written one by one would', () => {
  const data = pattern(8 * PACKET, 7); // sectors 32..159, packets 2..9

  async function both(prepare: (s: Setup) => ListRemapper | null, flushes = 1) {
    const results = [];
    for (const maxRunBytes of [8 * PACKET, PACKET]) {
      const s = setup({ maxRunBytes });
      const r = prepare(s);
      if (r) s.dev.setRemapper(r);
      await s.dev.write(32, data);
      await settle();
      results.push({ s, o: await outcome(s, r, flushes) });
    }
    const [run, alone] = results;
    expect(run.o.errors).toEqual(alone.o.errors);
    expect(run.o.moved).toEqual(alone.o.moved);
    expect(run.o.wear).toEqual(alone.o.wear);
    expect(run.o.stats).toEqual(alone.o.stats);
    expect(run.o.disc.equals(alone.o.disc)).toBe(true);
    expect(run.s.log.violations).toEqual([]);
    expect(writes(run.s)[0]).toEqual([32, 128]); // it was one run first
    return { run, alone };
  }

  test('a medium error in the middle: that packet is remapped, the others are written', async () => {
    const { run } = await both((s) => { s.drive.defects.add(32 + 3 * SPP + 5); return new ListRemapper([800]); });
    expect(run.o.moved).toEqual([[80, 800]]);
    expect(run.o.errors).toEqual([]);
    expect(run.o.disc.subarray(800 * SS, 816 * SS).equals(data.subarray(3 * PACKET, 4 * PACKET))).toBe(true);
    expect(run.s.dev.stats()).toMatchObject({ runsRetried: 1 });
    // retried one by one after the run: the 8 packets, and the failing one at its spare
    expect(writes(run.s).slice(1).map(([lba]) => lba).sort((a, b) => a - b)).toEqual([32, 48, 64, 80, 96, 112, 128, 144, 800]);
  });

  test('a medium error with no remapper: the error is reported for that packet, the rest is on the disc', async () => {
    const { run } = await both((s) => { s.drive.defects.add(32 + 6 * SPP); return null; });
    expect(run.o.errors).toHaveLength(1);
    expect(run.o.errors[0]).toMatch(/packet 8 \(sectors 128\+16\).*bad spot on the disc/);
    expect(run.o.stats.queueSize).toBe(1);
  });

  test('the drive\'s spares used up (03/32/00) in the middle', async () => {
    const { run } = await both((s) => {
      s.drive.defects.add(32 + 2 * SPP + 1);
      s.drive.sense = [SenseKey.MEDIUM_ERROR, 0x32, 0x00];
      return new ListRemapper([800]);
    });
    expect(run.o.errors[0]).toMatch(/packet 4 .*spare sectors left/);
    expect(run.o.stats.driveSparesExhausted).toBe(true);
    expect(run.o.moved).toEqual([]);
  });

  test('an error that names no sector of the run (EIO) stays with the first packet; the others are written', async () => {
    const results = [];
    for (const maxRunBytes of [8 * PACKET, PACKET]) {
      const s = setup({ maxRunBytes });
      s.drive.eioAt = 32; // the first command covering sector 32 fails
      await s.dev.write(32, data);
      await settle();
      results.push({ s, o: await outcome(s, null) });
    }
    const [run, alone] = results;
    // the same packet reports it; the device's own words name the command it failed (the run)
    expect(alone.o.errors).toEqual(['write-out of packet 2 (sectors 32+16): write of sectors 32+16: injected failure']);
    expect(run.o.errors).toEqual(['write-out of packet 2 (sectors 32+16): write of sectors 32+128: injected failure']);
    const same = (o: typeof run.o) => ({ ...o.stats, lastWriteError: o.stats.lastWriteError?.replace(/32\+128/, '32+16') });
    expect(same(run.o)).toEqual(same(alone.o));
    expect(run.o.wear).toEqual(alone.o.wear);
    expect(run.o.disc.equals(alone.o.disc)).toBe(true);
    // the first packet stayed dirty: the next flush writes it
    await run.s.dev.flush();
    expect(run.s.mem.data.subarray(32 * SS, 160 * SS).equals(data)).toBe(true);
  });

  test('a deferred medium error (another write\'s) is not remapped and is reported once', async () => {
    const results = [];
    for (const maxRunBytes of [8 * PACKET, PACKET]) {
      const s = setup({ maxRunBytes });
      s.drive.defects.add(32);
      s.drive.deferred = true;
      const r = new ListRemapper([800]);
      s.dev.setRemapper(r);
      await s.dev.write(32, data);
      await settle();
      s.drive.defects.clear();
      results.push({ s, o: await outcome(s, r, 2) });
    }
    const [run, alone] = results;
    expect(run.o.errors).toEqual(alone.o.errors);
    expect(run.o.errors).toHaveLength(1);
    expect(run.o.errors[0]).toMatch(/deferred/);
    expect(run.o.moved).toEqual([]);
    expect(run.o.disc.equals(alone.o.disc)).toBe(true);
    expect(run.s.mem.data.subarray(32 * SS, 160 * SS).equals(data)).toBe(true);
  });
});

test('a device whose write throws instead of rejecting: the write-outs fail with its error, nothing hangs', async () => {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(SECTORS * SS, 0x11) });
  let broken = true;
  const dev = new PacketDevice({
    sectorSize: SS, sectorCount: SECTORS, readOnly: false, description: 'throwing',
    read: (lba, count) => mem.read(lba, count),
    write: (lba, data) => {
      if (broken) throw new FsError('EIO', 'thrown, not rejected');
      return mem.write(lba, data);
    },
    flush: () => mem.flush(),
    close: () => mem.close(),
  }, { packetBytes: PACKET, flushDelayMs: Infinity });
  await dev.write(32, pattern(4 * PACKET, 5));
  await settle();
  await expect(dev.flush()).rejects.toThrow(/thrown, not rejected/);
  broken = false;
  await dev.flush();
  expect(mem.data.subarray(32 * SS, 96 * SS).equals(pattern(4 * PACKET, 5))).toBe(true);
});
