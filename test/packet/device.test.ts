/**
 * PacketDevice behaviours, one at a time, over a MemoryDevice wrapped in a
 * drive log that checks every write is a whole, aligned packet.
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice, type PacketDeviceOptions } from '../../src/packet/device';
import { isFsError } from '../../src/errors';
import { mostWritten, wearHistogram } from '../../src/packet/stats';
import { formatPacketInfo } from '../../src/packet/info';
import { expectSameBytes, Gate, LoggingDevice, pattern, settle } from './helpers';

interface Setup {
  mem: MemoryDevice;
  log: LoggingDevice;
  dev: PacketDevice;
  ss: number;
  spp: number;
}

function setup(opts: PacketDeviceOptions & { sectorSize?: number; sectors?: number; readOnly?: boolean } = {}): Setup {
  const ss = opts.sectorSize ?? 2048;
  const sectors = opts.sectors ?? 1024;
  const packetBytes = opts.packetBytes ?? 32768;
  const mem = new MemoryDevice({ sectorSize: ss, data: pattern(sectors * ss, 0xee), readOnly: opts.readOnly });
  const log = new LoggingDevice(mem, packetBytes / ss);
  const dev = new PacketDevice(log, { flushDelayMs: Infinity, ...opts, packetBytes });
  return { mem, log, dev, ss, spp: packetBytes / ss };
}

/** Sectors [lba, lba+count) of the memory device. */
function onDisc(s: Setup, lba: number, count: number): Buffer {
  return s.mem.data.subarray(lba * s.ss, (lba + count) * s.ss);
}

function ops(log: LoggingDevice, op: 'read' | 'write'): [number, number][] {
  return log.log.filter((o) => o.op === op).map((o) => [o.lba, o.count]);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  jest.useRealTimers();
});

describe('reads and writes', () => {
  test('a write is read back from the cache before it reaches the device; misses are coalesced', async () => {
    const s = setup();
    const original = Buffer.from(onDisc(s, 0, 17));
    const data = pattern(3 * s.ss, 1);
    await s.dev.write(5, data);
    const got = await s.dev.read(0, 17);
    expectSameBytes(got.subarray(5 * s.ss, 8 * s.ss), data);
    expectSameBytes(got.subarray(0, 5 * s.ss), original.subarray(0, 5 * s.ss));
    expectSameBytes(got.subarray(8 * s.ss), original.subarray(8 * s.ss));
    // Sectors 5-7 came from the dirty packet; 8-16 cross into packet 1 and are one device read.
    expect(ops(s.log, 'read')).toEqual([[0, 5], [8, 9]]);
    expect(ops(s.log, 'write')).toEqual([]);
    expectSameBytes(onDisc(s, 5, 3), original.subarray(5 * s.ss, 8 * s.ss));
  });

  test('a cold read over three packets is one device read; reading it again is served from the cache', async () => {
    const s = setup();
    const first = await s.dev.read(10, 30);
    expectSameBytes(first, onDisc(s, 10, 30));
    const second = await s.dev.read(12, 28);
    expectSameBytes(second, onDisc(s, 12, 28));
    expect(ops(s.log, 'read')).toEqual([[10, 30]]);
    const st = s.dev.stats();
    expect(st.bytesReadFromDevice).toBe(30 * s.ss);
    expect(st.bytesReadFromCache).toBe(28 * s.ss);
    expect(st.bytesRead).toBe(58 * s.ss);
  });

  test('read gather reads only the missing sectors, then writes the whole packet', async () => {
    const s = setup();
    const before = Buffer.from(onDisc(s, 0, 16));
    await s.dev.write(2, pattern(2 * s.ss, 2));
    await s.dev.write(7, pattern(s.ss, 3));
    await s.dev.flush();
    expect(ops(s.log, 'read')).toEqual([[0, 2], [4, 3], [8, 8]]);
    expect(ops(s.log, 'write')).toEqual([[0, 16]]);
    const expected = Buffer.from(before);
    pattern(2 * s.ss, 2).copy(expected, 2 * s.ss);
    pattern(s.ss, 3).copy(expected, 7 * s.ss);
    expectSameBytes(onDisc(s, 0, 16), expected);
    expect(s.dev.stats().bytesReadGather).toBe(13 * s.ss);
  });

  test('sectors already cached by a read are not read again to gather', async () => {
    const s = setup();
    await s.dev.read(0, 4);
    await s.dev.write(10, pattern(s.ss, 4));
    s.log.clearLog();
    await s.dev.flush();
    expect(ops(s.log, 'read')).toEqual([[4, 6], [11, 5]]);
  });

  test('a fully written packet goes out at once, with no gather', async () => {
    const s = setup();
    await s.dev.write(32, pattern(16 * s.ss, 5));
    await settle();
    expect(ops(s.log, 'write')).toEqual([[32, 16]]);
    expect(ops(s.log, 'read')).toEqual([]);
    expectSameBytes(onDisc(s, 32, 16), pattern(16 * s.ss, 5));
  });

  test('a packet filled up to a file\'s open last block waits for the append that fills it, then goes out once', async () => {
    const s = setup();
    await s.dev.write(32, pattern(14 * s.ss, 1)); // data
    await s.dev.write(46, pattern(2 * s.ss, 2), 'partial'); // the file's last block, partly filled: the packet is full
    await settle();
    expect(ops(s.log, 'write')).toEqual([]);
    await s.dev.write(46, pattern(2 * s.ss, 3)); // the next append fills that block
    await settle();
    expect(ops(s.log, 'write')).toEqual([[32, 16]]);
    expect(s.dev.stats().packetRewrites).toBe(0);
    expectSameBytes(onDisc(s, 46, 2), pattern(2 * s.ss, 3));
  });

  test('an open last block anywhere in the packet holds it until a write over it', async () => {
    const s = setup();
    await s.dev.write(32, pattern(2 * s.ss, 1), 'partial'); // open tail at sectors 32-33
    await s.dev.write(34, pattern(14 * s.ss, 2)); // the rest: full, but the tail is still open
    await settle();
    expect(ops(s.log, 'write')).toEqual([]);
    await s.dev.write(33, pattern(s.ss, 4)); // over the tail
    await settle();
    expect(ops(s.log, 'write')).toEqual([[32, 16]]);
  });

  test('the next file\'s open last block lets the packet of the previous one go out', async () => {
    const s = setup();
    await s.dev.write(32, pattern(16 * s.ss, 1), 'partial'); // full, held by its open tail
    await settle();
    expect(ops(s.log, 'write')).toEqual([]);
    await s.dev.write(80, pattern(3 * s.ss, 2), 'partial'); // another file's tail, elsewhere
    await settle();
    expect(ops(s.log, 'write')).toEqual([[32, 16]]);
  });

  test('a packet held by an open last block still goes out on flush', async () => {
    const s = setup();
    await s.dev.write(48, pattern(16 * s.ss, 1), 'partial');
    await settle();
    expect(ops(s.log, 'write')).toEqual([]);
    await s.dev.flush();
    expect(ops(s.log, 'write')).toEqual([[48, 16]]);
  });

  test('flush writes dirty packets in ascending order, then flushes the device', async () => {
    const s = setup();
    for (const packet of [5, 1, 3]) await s.dev.write(packet * 16 + 1, pattern(s.ss, packet));
    await s.dev.flush();
    expect(ops(s.log, 'write')).toEqual([[16, 16], [48, 16], [80, 16]]);
    const last = s.log.log[s.log.log.length - 1];
    expect(last.op).toBe('flush');
    expect(s.mem.flushes).toBe(1);
  });

  test('a write spanning many packets (pktcdvd crashed on more than two) is split right', async () => {
    const s = setup();
    const data = pattern(100 * s.ss, 6); // sectors 8..107: packets 0..6, partial at both ends
    await s.dev.write(8, data);
    await settle();
    // the five whole packets are ready in the same tick: one run, one device write
    expect(ops(s.log, 'write')).toEqual([[16, 80]]);
    await s.dev.flush();
    expect(ops(s.log, 'write').map(([lba]) => lba).sort((a, b) => a - b)).toEqual([0, 16, 96]);
    expectSameBytes(onDisc(s, 8, 100), data);
    expect(s.log.violations).toEqual([]);
  });
});

describe('streaming', () => {
  for (const ss of [512, 2048]) {
    for (const chunkSectors of [2, 3, 64]) {
      test(`sequential ${chunkSectors}-sector writes on ${ss}-byte sectors: each packet once, in order, no gather`, async () => {
        const s = setup({ sectorSize: ss, sectors: (2 * 1024 * 1024) / ss });
        const packets = 20;
        const total = packets * s.spp;
        const data = pattern(total * ss, 7);
        for (let lba = 0; lba < total; lba += chunkSectors) {
          const n = Math.min(chunkSectors, total - lba);
          await s.dev.write(lba, data.subarray(lba * ss, (lba + n) * ss));
        }
        await settle();
        const before = ops(s.log, 'write');
        await s.dev.flush();
        // in order and back to back; packets completed by one write go together as one run
        let next = 0;
        for (const [lba, count] of before) {
          expect([lba, count % s.spp, count > 0]).toEqual([next, 0, true]);
          expect(count * ss).toBeLessThanOrEqual(Math.max(s.spp, Math.floor(chunkSectors / s.spp) * s.spp) * ss);
          next = lba + count;
        }
        expect(next).toBe(total);
        expect(s.dev.stats()).toMatchObject({ packetsEnded: packets, deviceWrites: before.length });
        expect(ops(s.log, 'write')).toEqual(before);
        expect(ops(s.log, 'read')).toEqual([]);
        expectSameBytes(onDisc(s, 0, total), data);
        const st = s.dev.stats();
        expect(st.packetRewrites).toBe(0);
        expect(st.writeAmplification).toBe(1);
      });
    }
  }
});

describe('write-back triggers', () => {
  test('dirty packets are written after the idle delay, and each write restarts it', async () => {
    jest.useFakeTimers();
    const s = setup({ flushDelayMs: 1000 });
    await s.dev.write(3, pattern(s.ss, 8));
    await jest.advanceTimersByTimeAsync(600);
    await s.dev.write(40, pattern(s.ss, 9));
    await jest.advanceTimersByTimeAsync(999);
    expect(ops(s.log, 'write')).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await jest.advanceTimersByTimeAsync(10);
    expect(ops(s.log, 'write')).toEqual([[0, 16], [32, 16]]);
    expect(s.mem.flushes).toBe(0);
  });

  test('the idle timer does not keep the process alive', async () => {
    const s = setup({ flushDelayMs: 60000 });
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await s.dev.write(0, pattern(s.ss, 1));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBe(before);
    await s.dev.flush();
  });

  test('under pressure the oldest dirty packet is written first and dirty memory stays bounded', async () => {
    const s = setup({ cacheBytes: 4 * 32768, dirtyBytes: 2 * 32768 });
    const order = [7, 2, 9, 4, 0, 5, 8, 1, 6, 3];
    for (const p of order) {
      await s.dev.write(p * 16 + 5, pattern(s.ss, p));
      expect(s.dev.stats().activeBytes).toBeLessThanOrEqual(2 * 32768);
    }
    await settle();
    expect(ops(s.log, 'write').map(([lba]) => lba / 16)).toEqual(order.slice(0, 8));
    await s.dev.flush();
    for (const p of order) expectSameBytes(onDisc(s, p * 16 + 5, 1), pattern(s.ss, p));
    expect(s.log.violations).toEqual([]);
  });

  test('under pressure a writer waits for a packet already on its way rather than write out a partly dirty one', async () => {
    const s = setup({ cacheBytes: 8 * 32768, dirtyBytes: 2 * 32768 });
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'write' ? gate.pass() : Promise.resolve());
    await s.dev.write(3 * 16 + 1, pattern(s.ss, 3)); // partly dirty: the one pressure used to write
    await s.dev.write(5 * 16, pattern(16 * s.ss, 5)); // whole: goes out at once, held at the gate
    await settle();
    expect(ops(s.log, 'write').map(([lba]) => lba / 16)).toEqual([5]);
    const writing = s.dev.write(7 * 16, pattern(16 * s.ss, 7)); // needs room
    await settle();
    expect(ops(s.log, 'write').map(([lba]) => lba / 16)).toEqual([5]);
    expect(s.log.reads).toEqual([]); // no read gather for packet 3 either
    gate.open();
    await writing;
    await settle();
    expect(ops(s.log, 'write').map(([lba]) => lba / 16)).toEqual([5, 7]);
    await s.dev.flush();
    expect(ops(s.log, 'write').map(([lba]) => lba / 16)).toEqual([5, 7, 3]);
    expectSameBytes(onDisc(s, 3 * 16 + 1, 1), pattern(s.ss, 3));
    expect(s.log.violations).toEqual([]);
  });

  test('the clean cache holds at most cacheBytes, least recently used dropped first', async () => {
    const s = setup({ cacheBytes: 8 * 32768 });
    for (let p = 0; p < 40; p++) await s.dev.read(p * 16, 16);
    const st = s.dev.stats();
    expect(st.cachedBytes).toBeLessThanOrEqual(8 * 32768);
    expect(st.cachedPackets).toBe(8);
    s.log.clearLog();
    await s.dev.read(39 * 16, 16);
    expect(ops(s.log, 'read')).toEqual([]);
    await s.dev.read(0, 16);
    expect(ops(s.log, 'read')).toEqual([[0, 16]]);
  });
});

describe('concurrency', () => {
  test('a write landing while its packet is gathered is not overwritten by the gathered sectors', async () => {
    const s = setup();
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'read' ? gate.pass() : Promise.resolve());
    await s.dev.write(0, pattern(s.ss, 1));
    const flushing = s.dev.flush();
    await settle();
    expect(gate.arrived).toBe(1);
    expect(s.dev.stats().states.gathering).toBe(1);
    await s.dev.write(5, pattern(s.ss, 2));
    gate.open();
    await flushing;
    expectSameBytes(onDisc(s, 5, 1), pattern(s.ss, 2));
    expectSameBytes(onDisc(s, 0, 1), pattern(s.ss, 1));
    expect(s.dev.stats().states.dirty).toBe(0);
  });

  test('a write landing while its packet is being written stays dirty and goes out next time', async () => {
    const s = setup();
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'write' ? gate.pass() : Promise.resolve());
    const first = pattern(16 * s.ss, 3);
    await s.dev.write(0, first);
    await settle();
    expect(s.dev.stats().states.writing).toBe(1);
    await s.dev.write(3, pattern(s.ss, 4));
    expectSameBytes(await s.dev.read(3, 1), pattern(s.ss, 4));
    gate.open();
    await settle();
    expectSameBytes(onDisc(s, 3, 1), first.subarray(3 * s.ss, 4 * s.ss));
    expect(s.dev.stats().queueSize).toBe(1);
    await s.dev.flush();
    expectSameBytes(onDisc(s, 3, 1), pattern(s.ss, 4));
    expectSameBytes(onDisc(s, 4, 12), first.subarray(4 * s.ss));
    expect(s.dev.wearMap().get(0)).toBe(2);
  });

  test('a slow read that saw the disc before a write-out does not put stale sectors in the cache', async () => {
    const s = setup({ cacheBytes: 2 * 32768 });
    const gate = new Gate();
    let reads = 0;
    s.log.delay = (op) => (op.op === 'read' && reads++ === 0 ? gate.pass() : Promise.resolve());
    const old = Buffer.from(onDisc(s, 3, 1));
    const slow = s.dev.read(3, 1); // samples the disc, answers late
    await settle();
    const fresh = pattern(16 * s.ss, 5);
    await s.dev.write(0, fresh); // whole packet: written out at once
    await settle();
    expectSameBytes(onDisc(s, 0, 16), fresh);
    for (let p = 1; p <= 3; p++) await s.dev.read(p * 16, 16); // packet 0 drops out of the cache
    gate.open();
    expectSameBytes(await slow, old);
    expectSameBytes(await s.dev.read(3, 1), fresh.subarray(3 * s.ss, 4 * s.ss));
  });

  test('concurrent writers to one packet and a flush in between lose nothing', async () => {
    const s = setup();
    let tick = 0;
    s.log.delay = () => new Promise((r) => setTimeout(r, (tick++ % 3)));
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 16; i++) {
      jobs.push(s.dev.write(i, pattern(s.ss, 20 + i)));
      if (i === 5 || i === 11) jobs.push(s.dev.flush());
    }
    await Promise.all(jobs);
    await s.dev.flush();
    for (let i = 0; i < 16; i++) expectSameBytes(onDisc(s, i, 1), pattern(s.ss, 20 + i));
    expect(s.log.violations).toEqual([]);
  });
});

describe('errors', () => {
  test('a failed write-out keeps the packet dirty, fails flush, and the next flush writes it', async () => {
    const s = setup();
    let failing = true;
    s.log.fail = (op) => failing && op.op === 'write';
    await s.dev.write(20, pattern(s.ss, 6));
    const err = await rejection(s.dev.flush());
    expect(isFsError(err, 'EIO')).toBe(true);
    expect((err as Error).message).toMatch(/packet 1 .*injected write error/);
    const st = s.dev.stats();
    expect(st.packetsFailed).toBe(1);
    expect(st.states.dirty).toBe(1);
    expectSameBytes(await s.dev.read(20, 1), pattern(s.ss, 6));
    failing = false;
    await s.dev.flush();
    expectSameBytes(onDisc(s, 20, 1), pattern(s.ss, 6));
    expect(s.dev.stats().states.dirty).toBe(0);
  });

  test('a failed background write-out is reported by the next flush, once', async () => {
    const s = setup();
    let failing = true;
    s.log.fail = (op) => failing && op.op === 'write';
    await s.dev.write(0, pattern(16 * s.ss, 7)); // full: written in the background, fails
    await settle();
    expect(s.dev.stats().pendingError).toMatch(/packet 0/);
    failing = false;
    const err = await rejection(s.dev.flush());
    expect(isFsError(err, 'EIO')).toBe(true);
    expectSameBytes(onDisc(s, 0, 16), pattern(16 * s.ss, 7)); // the flush retried it
    await s.dev.flush();
    expect(s.dev.stats().pendingError).toBeNull();
  });

  test('a writer waiting for room gets the write-back error and its data is not taken', async () => {
    const s = setup({ dirtyBytes: 32768 });
    s.log.fail = (op) => op.op === 'write';
    const before = Buffer.from(onDisc(s, 16, 1));
    await s.dev.write(0, pattern(s.ss, 8));
    const err = await rejection(s.dev.write(16, pattern(s.ss, 9)));
    expect(isFsError(err, 'EIO')).toBe(true);
    expectSameBytes(await s.dev.read(16, 1), before);
    expectSameBytes(await s.dev.read(0, 1), pattern(s.ss, 8));
  });

  test('a failed gather read fails the flush and leaves the packet dirty', async () => {
    const s = setup();
    let failing = true;
    s.log.fail = (op) => failing && op.op === 'read';
    await s.dev.write(1, pattern(s.ss, 10));
    expect(isFsError(await rejection(s.dev.flush()), 'EIO')).toBe(true);
    expect(ops(s.log, 'write')).toEqual([]);
    failing = false;
    await s.dev.flush();
    expectSameBytes(onDisc(s, 1, 1), pattern(s.ss, 10));
  });
});

describe('edges', () => {
  test('the partial last packet is written as the sectors that exist, never past the end', async () => {
    const s = setup({ sectors: 3 * 16 + 5 });
    await s.dev.write(49, pattern(s.ss, 11));
    await s.dev.flush();
    expect(ops(s.log, 'read')).toEqual([[48, 1], [50, 3]]);
    expect(ops(s.log, 'write')).toEqual([[48, 5]]);
    s.log.clearLog();
    await s.dev.write(48, pattern(5 * s.ss, 12)); // the whole last packet: out at once
    await settle();
    expect(ops(s.log, 'write')).toEqual([[48, 5]]);
    expectSameBytes(onDisc(s, 48, 5), pattern(5 * s.ss, 12));
    expect(s.dev.stats().packetCount).toBe(4);
  });

  test('on 512-byte sectors a 32 KiB packet is 64 sectors', async () => {
    const s = setup({ sectorSize: 512, sectors: 4096 });
    expect(s.dev.sectorsPerPacket).toBe(64);
    await s.dev.write(100, pattern(512, 13));
    await s.dev.flush();
    expect(ops(s.log, 'write')).toEqual([[64, 64]]);
    expect(s.log.violations).toEqual([]);
  });

  test('requests are checked like any BlockDevice', async () => {
    const s = setup({ sectors: 64 });
    expect(isFsError(await rejection(s.dev.read(60, 5)), 'EIO')).toBe(true);
    expect(isFsError(await rejection(s.dev.write(63, Buffer.alloc(2 * s.ss))), 'ENOSPC')).toBe(true);
    expect(isFsError(await rejection(s.dev.write(0, Buffer.alloc(100))), 'EINVAL')).toBe(true);
    const ro = setup({ readOnly: true });
    expect(ro.dev.readOnly).toBe(true);
    expect(isFsError(await rejection(ro.dev.write(0, Buffer.alloc(ro.ss))), 'EROFS')).toBe(true);
    expect(() => new PacketDevice(new MemoryDevice({ sectorSize: 2048, sectorCount: 8 }), { packetBytes: 3000 }))
      .toThrow(/whole number/);
    expect((await s.dev.read(5, 0)).length).toBe(0);
    await s.dev.write(5, Buffer.alloc(0));
    expect(s.log.log).toEqual([]);
  });

  test('close writes everything, closes the device, and later requests fail with EBADF', async () => {
    const s = setup();
    await s.dev.write(7, pattern(s.ss, 14));
    await s.dev.close();
    expectSameBytes(onDisc(s, 7, 1), pattern(s.ss, 14));
    expect(s.mem.closed).toBe(true);
    expect(isFsError(await rejection(s.dev.read(0, 1)), 'EBADF')).toBe(true);
  });

  test('close that cannot flush leaves the device open so the caller may retry', async () => {
    const s = setup();
    let failing = true;
    s.log.fail = (op) => failing && op.op === 'write';
    await s.dev.write(7, pattern(s.ss, 15));
    expect(isFsError(await rejection(s.dev.close()), 'EIO')).toBe(true);
    expect(s.mem.closed).toBe(false);
    failing = false;
    await s.dev.close();
    expectSameBytes(onDisc(s, 7, 1), pattern(s.ss, 15));
  });
});

describe('statistics', () => {
  test('counters, queue, states and wear after a known sequence', async () => {
    const s = setup();
    await s.dev.write(1, pattern(s.ss, 1)); // packet 0, partial
    await s.dev.write(33, pattern(s.ss, 2)); // packet 2, partial
    let st = s.dev.stats();
    expect(st.queueSize).toBe(2);
    expect(st.states).toEqual({ clean: 0, dirty: 2, gathering: 0, writing: 0 });
    await s.dev.flush(); // 2 packets, 15 sectors gathered each
    await s.dev.write(0, pattern(16 * s.ss, 3)); // packet 0 again, full
    await s.dev.flush();
    await s.dev.read(80, 16);
    st = s.dev.stats();
    expect(st.packetsStarted).toBe(3);
    expect(st.packetsEnded).toBe(3);
    expect(st.kbWritten).toBe(2 * 2 + 32);
    expect(st.kbReadGather).toBe(2 * 15 * 2);
    expect(st.kbRead).toBe(32);
    expect(st.kbDeviceWritten).toBe(3 * 32);
    expect(st.queueSize).toBe(0);
    expect(st.states).toEqual({ clean: 3, dirty: 0, gathering: 0, writing: 0 });
    expect([...s.dev.wearMap()].sort()).toEqual([[0, 2], [2, 1]]);
    expect(st.mostWritten).toEqual([{ packet: 0, writes: 2 }, { packet: 2, writes: 1 }]);
    expect(st.wearHistogram).toEqual([{ min: 1, max: 1, packets: 1 }, { min: 2, max: 3, packets: 1 }]);
    expect(st.packetRewrites).toBe(1);
    expect(st.maxPacketWrites).toBe(2);
    expect(st.packetsWrittenDistinct).toBe(2);
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });

  test('a rewrite counts as within the flush interval when it comes sooner than flushDelayMs after the last write', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] });
    try {
      const s = setup({ flushDelayMs: 1000 });
      await s.dev.write(0, pattern(s.ss, 1));
      await s.dev.flush();
      await jest.advanceTimersByTimeAsync(1500);
      await s.dev.write(1, pattern(s.ss, 2)); // 1.5 s later: a rewrite, not within the interval
      await s.dev.flush();
      expect(s.dev.stats()).toMatchObject({ packetRewrites: 1, rewritesWithinFlushDelay: 0 });
      await jest.advanceTimersByTimeAsync(400);
      await s.dev.write(2, pattern(s.ss, 3)); // 0.4 s later: within it
      await s.dev.flush();
      await s.dev.write(40, pattern(s.ss, 4)); // another packet's first write
      await s.dev.flush();
      expect(s.dev.stats()).toMatchObject({ packetRewrites: 2, rewritesWithinFlushDelay: 1 });
    } finally {
      jest.useRealTimers();
    }
  });

  test('with flush=off every rewrite is within the flush interval', async () => {
    const s = setup({ flushDelayMs: Infinity });
    for (let i = 0; i < 3; i++) {
      await s.dev.write(5, pattern(s.ss, i));
      await s.dev.flush();
    }
    expect(s.dev.stats()).toMatchObject({ packetRewrites: 2, rewritesWithinFlushDelay: 2 });
  });

  test('resetStats zeroes the traffic counters and keeps the wear', async () => {
    const s = setup();
    await s.dev.write(0, pattern(s.ss, 1));
    await s.dev.flush();
    s.dev.resetStats();
    const st = s.dev.stats();
    expect(st.packetsStarted).toBe(0);
    expect(st.bytesWritten).toBe(0);
    expect(st.bytesReadGather).toBe(0);
    expect(st.mostWritten).toEqual([{ packet: 0, writes: 1 }]);
  });
});

describe('wear helpers', () => {
  test('mostWritten ranks by writes, then packet number, and stops at n', () => {
    const wear = new Map([[5, 2], [1, 7], [9, 2], [3, 1], [4, 7]]);
    expect(mostWritten(wear, 3)).toEqual([
      { packet: 1, writes: 7 }, { packet: 4, writes: 7 }, { packet: 5, writes: 2 },
    ]);
    expect(mostWritten(wear, 0)).toEqual([]);
    expect(mostWritten(wear, 10)).toHaveLength(5);
  });

  test('the histogram has power-of-two buckets up to the highest count', () => {
    const wear = new Map([[0, 1], [1, 1], [2, 3], [3, 4], [4, 1000]]);
    const h = wearHistogram(wear);
    expect(h.slice(0, 3)).toEqual([
      { min: 1, max: 1, packets: 2 }, { min: 2, max: 3, packets: 1 }, { min: 4, max: 7, packets: 1 },
    ]);
    expect(h[h.length - 1]).toEqual({ min: 512, max: 1023, packets: 1 });
    expect(h.reduce((s, b) => s + b.packets, 0)).toBe(5);
  });
});

describe('info text', () => {
  test('has pktcdvd-style lines with the current values', async () => {
    const s = setup();
    await s.dev.write(1, pattern(s.ss, 1));
    let text = formatPacketInfo(s.dev.stats());
    expect(text).toContain('\tpacket size:\t\t32kB\n');
    expect(text).toContain('\tpackets queued:\t\t1\n');
    expect(text).toContain('\tstate:\t\t\tclean:0 dirty:1 gathering:0 writing:0\n');
    await s.dev.flush();
    text = formatPacketInfo(s.dev.stats());
    expect(text).toContain('\tpackets started:\t1\n');
    expect(text).toContain('\tpackets ended:\t\t1\n');
    expect(text).toContain('\twritten:\t\t2kB\n');
    expect(text).toContain('\tread gather:\t\t30kB\n');
    expect(text).toContain('\tmost written:\t\t0x1\n');
    expect(text).toContain('\thistogram:\t\t1:1\n');
    expect(text).toContain('\tidle flush:\t\toff\n');
  });
});
