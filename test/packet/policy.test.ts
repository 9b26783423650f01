/**
 * The packet layer's write-out policy (issue 6, disc wear): which packets are
 * written when. Metadata packets wait for the flush, data packets go out as
 * they fill, flush('data') is a barrier for data only, and ordering
 * constraints (order()) hold at every device write: under flush, idle
 * write-back, pressure, and through a cycle of two packets waiting for each other.
 */
import type { BlockDevice } from '../../src/drive/types';
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice, type PacketDeviceOptions } from '../../src/packet/device';
import { Gate, LoggingDevice, pattern, settle } from './helpers';

const SS = 2048;
const SPP = 16;
const PB = SS * SPP;

/** A MemoryDevice that runs `check` on the medium after every write lands (a power cut could follow any of them). */
class CheckedDevice implements BlockDevice {
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly readOnly = false;
  readonly description = 'checked memory';
  readonly problems: string[] = [];
  writes = 0;
  check: ((medium: Buffer) => string | undefined) | null = null;
  constructor(readonly inner: MemoryDevice) {
    this.sectorSize = inner.sectorSize;
    this.sectorCount = inner.sectorCount;
  }
  read(lba: number, count: number): Promise<Buffer> { return this.inner.read(lba, count); }
  async write(lba: number, data: Buffer): Promise<void> {
    await this.inner.write(lba, data);
    this.writes++;
    const p = this.check?.(this.inner.data);
    if (p) this.problems.push(`after write ${this.writes} (sectors ${lba}+${data.length / SS}): ${p}`);
  }
  flush(): Promise<void> { return this.inner.flush(); }
  close(): Promise<void> { return this.inner.close(); }
}

function setup(opts: PacketDeviceOptions = {}, sectors = 64 * SPP) {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(sectors * SS, 0xee) });
  const checked = new CheckedDevice(mem);
  const log = new LoggingDevice(checked, SPP);
  const dev = new PacketDevice(log, { packetBytes: PB, flushDelayMs: Infinity, ...opts });
  return { mem, checked, log, dev };
}

const sector = (seed: number) => pattern(SS, seed);
const packetsWritten = (log: LoggingDevice) => log.writes.map((w) => w.lba / SPP);
const wear = (dev: PacketDevice) => Object.fromEntries([...dev.wearMap()].sort((a, b) => a[0] - b[0]));

/** "Sector `first` holds `a` before sector `then` holds `b`", checked on the medium. */
function before(first: number, a: Buffer, then: number, b: Buffer) {
  return (m: Buffer): string | undefined => {
    const at = (s: number) => m.subarray(s * SS, (s + 1) * SS);
    return at(then).equals(b) && !at(first).equals(a) ? `sector ${then} is new but sector ${first} is not` : undefined;
  };
}

function all(...checks: ((m: Buffer) => string | undefined)[]) {
  return (m: Buffer) => checks.map((c) => c(m)).find((x) => x);
}

describe('metadata and data packets', () => {
  test('a packet filled by metadata writes waits for the flush; one filled by data goes out at once', async () => {
    const { log, dev } = setup();
    for (let i = 0; i < SPP; i++) await dev.write(2 * SPP + i, sector(i), 'metadata');
    for (let i = 0; i < SPP; i++) await dev.write(5 * SPP + i, sector(100 + i), 'data');
    await settle();
    expect(packetsWritten(log)).toEqual([5]);
    // Written into again and again while dirty: still nothing.
    for (let k = 0; k < 5; k++) await dev.write(2 * SPP + 3, sector(50 + k), 'metadata');
    await settle();
    expect(packetsWritten(log)).toEqual([5]);
    await dev.flush();
    expect(packetsWritten(log)).toEqual([5, 2]);
    expect(dev.stats().writeOutReasons).toMatchObject({ full: 1, flush: 1, pressure: 0, idle: 0, ordered: 0 });
    // Written out, it is an ordinary clean packet again: filled by data next time, it goes at once.
    for (let i = 0; i < SPP; i++) await dev.write(2 * SPP + i, sector(200 + i));
    await settle();
    expect(packetsWritten(log)).toEqual([5, 2, 2]);
    expect(log.violations).toEqual([]);
  });

  test('a scripted tree copy: every packet written once, at the flush or as its data filled it', async () => {
    // Entries in packets 1-2 (each rewritten as its file is done), data streamed from packet 8,
    // a directory block in packet 3 taking a name per file, a map block in packet 0 at the end.
    const { log, dev } = setup({ cacheBytes: 64 * PB, dirtyBytes: 32 * PB });
    let data = 8 * SPP;
    for (let f = 0; f < 32; f++) {
      const fe = SPP + f;
      await dev.write(fe, sector(f), 'metadata');
      const blocks = 1 + (f % 5);
      for (let b = 0; b < blocks; b++) await dev.write(data++, sector(1000 + data), 'data');
      await dev.write(fe, sector(500 + f), 'metadata');
      await dev.write(3 * SPP + (f >> 2), sector(700 + f), 'metadata');
    }
    await dev.write(0, sector(9), 'metadata');
    await dev.flush();
    const w = wear(dev);
    expect(Object.values(w).every((n) => n === 1)).toBe(true);
    expect(Object.keys(w).map(Number)).toEqual([0, 1, 2, 3, ...Array.from({ length: Math.ceil((data - 8 * SPP) / SPP) }, (_, i) => 8 + i)]);
    expect(dev.stats().packetRewrites).toBe(0);
    expect(log.violations).toEqual([]);
  });

  test("flush('data') writes the packets without metadata only, then flushes the device", async () => {
    const { mem, log, dev } = setup();
    await dev.write(4 * SPP, sector(1), 'metadata');
    await dev.write(6 * SPP + 2, sector(2), 'data');
    await dev.write(9 * SPP + 2, sector(3));
    await dev.flush('data');
    expect(packetsWritten(log)).toEqual([6, 9]);
    expect(mem.flushes).toBe(1);
    await dev.flush();
    expect(packetsWritten(log)).toEqual([6, 9, 4]);
    expect(mem.flushes).toBe(2);
  });
});

describe('idle write-back', () => {
  test('data packets go after the delay, metadata packets after twice as long without writes', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] }); // the device write step gathers a tick's packets in a microtask
    try {
      const { log, dev } = setup({ flushDelayMs: 1000 });
      await dev.write(4 * SPP, sector(1), 'metadata');
      await dev.write(6 * SPP, sector(2), 'data');
      await jest.advanceTimersByTimeAsync(1010);
      expect(packetsWritten(log)).toEqual([6]);
      // A write in between (the filesystem settling into the packet) starts both over.
      await jest.advanceTimersByTimeAsync(500);
      await dev.write(4 * SPP + 1, sector(3), 'metadata');
      await jest.advanceTimersByTimeAsync(1010);
      expect(packetsWritten(log)).toEqual([6]);
      await jest.advanceTimersByTimeAsync(1000);
      expect(packetsWritten(log)).toEqual([6, 4]);
      expect(dev.stats().writeOutReasons.idle).toBe(2);
      // Nothing dirty: no timer is left behind.
      await jest.advanceTimersByTimeAsync(5000);
      expect(packetsWritten(log)).toEqual([6, 4]);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('ordering', () => {
  test('flush writes the packet a constraint waits for first, whatever the packet numbers', async () => {
    const { checked, log, dev } = setup();
    // The entry in packet 7, the name pointing at it in packet 2 (ascending order would write 2 first).
    await dev.write(7 * SPP + 1, sector(1), 'metadata');
    dev.order({ lba: 7 * SPP + 1, count: 1 }, { lba: 2 * SPP + 4, count: 1 });
    await dev.write(2 * SPP + 4, sector(2), 'metadata');
    await dev.write(5 * SPP, sector(3), 'metadata');
    checked.check = before(7 * SPP + 1, sector(1), 2 * SPP + 4, sector(2));
    expect(dev.stats().orderWaits).toBe(1);
    await dev.flush();
    expect(packetsWritten(log)).toEqual([7, 2, 5]);
    expect(checked.problems).toEqual([]);
    expect(dev.stats().orderWaits).toBe(0);
  });

  test('nothing to wait for when the first sectors are already on the medium', async () => {
    const { log, dev } = setup();
    await dev.write(7 * SPP + 1, sector(1), 'metadata');
    await dev.flush();
    dev.order({ lba: 7 * SPP + 1, count: 1 }, { lba: 2 * SPP, count: 1 });
    dev.order({ lba: 11 * SPP, count: 1 }, { lba: 2 * SPP, count: 1 }); // never written at all
    expect(dev.stats().orderWaits).toBe(0);
    await dev.write(2 * SPP, sector(2), 'metadata');
    await dev.flush();
    expect(packetsWritten(log)).toEqual([7, 2]);
  });

  test('under pressure the oldest packet goes after what it waits for', async () => {
    const { checked, log, dev } = setup({ cacheBytes: 8 * PB, dirtyBytes: 3 * PB });
    await dev.write(9 * SPP, sector(9), 'metadata'); // an entry ...
    dev.order({ lba: 9 * SPP, count: 1 }, { lba: 2 * SPP + 1, count: 1 });
    await dev.write(2 * SPP + 1, sector(3), 'metadata'); // ... and the name pointing at it, now the oldest
    await dev.write(9 * SPP + 5, sector(5), 'metadata');
    checked.check = before(9 * SPP, sector(9), 2 * SPP + 1, sector(3));
    await dev.write(4 * SPP, sector(4), 'metadata');
    await dev.write(6 * SPP, sector(6), 'metadata'); // a fourth packet: room is made
    await settle();
    expect(packetsWritten(log)).toEqual([9]);
    expect(dev.stats().writeOutReasons.ordered).toBe(1);
    await dev.write(8 * SPP, sector(8), 'metadata');
    await settle();
    expect(packetsWritten(log)).toEqual([9, 2]);
    expect(checked.problems).toEqual([]);
  });

  test('under pressure packets holding directories go last, even when they are the oldest', async () => {
    const { log, dev } = setup({ cacheBytes: 8 * PB, dirtyBytes: 3 * PB });
    await dev.write(4 * SPP, sector(1), 'directory'); // the oldest: a directory, changed again later
    await dev.write(6 * SPP, sector(2), 'metadata');
    await dev.write(9 * SPP, sector(3), 'metadata');
    await dev.write(11 * SPP, sector(4), 'metadata'); // a fourth packet: room is made
    await settle();
    expect(packetsWritten(log)).toEqual([6]);
    await dev.write(4 * SPP + 1, sector(5), 'directory'); // ... as tar does at its end: no rewrite
    await dev.write(12 * SPP, sector(6), 'metadata');
    await settle();
    expect(packetsWritten(log)).toEqual([6, 9]);
    await dev.flush();
    expect(wear(dev)[4]).toBe(1);
    // Only directories dirty: the oldest of them goes.
    await dev.write(20 * SPP, sector(7), 'directory');
    await dev.write(21 * SPP, sector(8), 'directory');
    await dev.write(22 * SPP, sector(9), 'directory');
    await dev.write(23 * SPP, sector(10), 'directory');
    await settle();
    expect(packetsWritten(log).slice(-1)).toEqual([20]);
  });

  test('the idle write-back honours it too', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] }); // the device write step gathers a tick's packets in a microtask
    try {
      const { checked, log, dev } = setup({ flushDelayMs: 1000 });
      await dev.write(12 * SPP, sector(1), 'metadata');
      dev.order({ lba: 12 * SPP, count: 1 }, { lba: 1 * SPP, count: 2 });
      await dev.write(1 * SPP, Buffer.concat([sector(2), sector(3)]), 'metadata');
      checked.check = before(12 * SPP, sector(1), 1 * SPP, sector(2));
      await jest.advanceTimersByTimeAsync(2010);
      expect(packetsWritten(log)).toEqual([12, 1]);
      expect(dev.stats().writeOutReasons.idle).toBe(2);
      expect(checked.problems).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a full data packet that waits is not written by itself; it goes once what it waits for is written', async () => {
    const { checked, log, dev } = setup();
    await dev.write(20 * SPP, sector(1), 'metadata');
    dev.order({ lba: 20 * SPP, count: 1 }, { lba: 3 * SPP, count: SPP });
    checked.check = before(20 * SPP, sector(1), 3 * SPP + 5, sector(105));
    for (let i = 0; i < SPP; i++) await dev.write(3 * SPP + i, sector(100 + i), 'data');
    await settle();
    expect(packetsWritten(log)).toEqual([]);
    await dev.flush('data');
    expect(packetsWritten(log)).toEqual([20, 3]);
    expect(checked.problems).toEqual([]);
  });

  test('a constraint made while the first packet is being written waits for that write to land', async () => {
    const { mem, log, dev } = setup();
    const gate = new Gate();
    await dev.write(7 * SPP, sector(1), 'metadata');
    log.delay = async (op) => { if (op.op === 'write' && op.lba === 7 * SPP) await gate.pass(); };
    const flushing = dev.flush();
    await settle();
    expect(gate.arrived).toBe(1);
    // Sector 7*SPP is no longer dirty, but not on the medium yet either.
    dev.order({ lba: 7 * SPP, count: 1 }, { lba: 2 * SPP, count: 1 });
    await dev.write(2 * SPP, sector(2), 'metadata');
    expect(dev.stats().orderWaits).toBe(1);
    const second = dev.flush();
    await settle();
    expect(mem.data.subarray(2 * SPP * SS, (2 * SPP + 1) * SS).equals(sector(2))).toBe(false);
    gate.open();
    await flushing;
    await second;
    expect(packetsWritten(log)).toEqual([7, 2]);
    expect(dev.stats().orderWaits).toBe(0);
  });

  test('a cycle (each packet waits for the other): the waiting sectors go as the medium holds them, then again', async () => {
    const { mem, checked, log, dev } = setup();
    // Packet 3: entry A (sector 0) and a name pointing at entry B (sector 1); packet 8 the other way round.
    await dev.write(3 * SPP, sector(1), 'metadata');
    await dev.write(8 * SPP, sector(2), 'metadata');
    dev.order({ lba: 8 * SPP, count: 1 }, { lba: 3 * SPP + 1, count: 1 });
    dev.order({ lba: 3 * SPP, count: 1 }, { lba: 8 * SPP + 1, count: 1 });
    await dev.write(3 * SPP + 1, sector(3), 'metadata');
    await dev.write(8 * SPP + 1, sector(4), 'metadata');
    const old = Buffer.from(mem.data.subarray(0, 64 * SPP * SS));
    checked.check = all(
      before(8 * SPP, sector(2), 3 * SPP + 1, sector(3)),
      before(3 * SPP, sector(1), 8 * SPP + 1, sector(4)),
    );
    await dev.flush();
    expect(checked.problems).toEqual([]);
    // One of the two went out first with its name as the medium had it, and again after the other.
    const order = packetsWritten(log);
    expect(order).toHaveLength(3);
    expect(order[0]).toBe(order[2]);
    expect(new Set(order)).toEqual(new Set([3, 8]));
    expect(dev.stats().orderRollbacks).toBe(1);
    // Everything is on the medium at the end, and nothing else changed.
    for (const [s, v] of [[3 * SPP, 1], [8 * SPP, 2], [3 * SPP + 1, 3], [8 * SPP + 1, 4]]) {
      expect(mem.data.subarray(s * SS, (s + 1) * SS).equals(sector(v))).toBe(true);
    }
    expect(mem.data.subarray(4 * SPP * SS, 8 * SPP * SS).equals(old.subarray(4 * SPP * SS, 8 * SPP * SS))).toBe(true);
    expect(log.violations).toEqual([]);
  });

  test('a cycle cut at a flush: the packets waiting on the sectors it held wait for its second write, each written once', async () => {
    const { mem, checked, log, dev } = setup();
    // The cycle of the test above (packets 3 and 8); packet 12 waits on the waiting sectors of
    // both (whichever is cut), packet 15 on packet 12: a chain of directories up to the root.
    // Each of the two has a sector that waits for nothing too, so it could go out in part.
    await dev.write(3 * SPP, sector(1), 'metadata');
    await dev.write(8 * SPP, sector(2), 'metadata');
    dev.order({ lba: 8 * SPP, count: 1 }, { lba: 3 * SPP + 1, count: 1 });
    dev.order({ lba: 3 * SPP, count: 1 }, { lba: 8 * SPP + 1, count: 1 });
    await dev.write(3 * SPP + 1, sector(3), 'metadata');
    await dev.write(8 * SPP + 1, sector(4), 'metadata');
    dev.order({ lba: 3 * SPP + 1, count: 1 }, { lba: 12 * SPP, count: 1 });
    dev.order({ lba: 8 * SPP + 1, count: 1 }, { lba: 12 * SPP, count: 1 });
    await dev.write(12 * SPP, sector(5), 'metadata');
    await dev.write(12 * SPP + 7, sector(6), 'metadata');
    dev.order({ lba: 12 * SPP, count: 1 }, { lba: 15 * SPP, count: 1 });
    await dev.write(15 * SPP, sector(7), 'metadata');
    await dev.write(15 * SPP + 7, sector(8), 'metadata');
    checked.check = all(
      before(8 * SPP, sector(2), 3 * SPP + 1, sector(3)),
      before(3 * SPP, sector(1), 8 * SPP + 1, sector(4)),
      before(3 * SPP + 1, sector(3), 12 * SPP, sector(5)),
      before(8 * SPP + 1, sector(4), 12 * SPP, sector(5)),
      before(12 * SPP, sector(5), 15 * SPP, sector(7)),
    );
    await dev.flush();
    expect(checked.problems).toEqual([]);
    // Only the cut packet is written twice, and nothing of the chain goes before its second write.
    const order = packetsWritten(log);
    expect(order).toHaveLength(5);
    expect(order[0]).toBe(order[2]);
    expect(order.slice(3)).toEqual([12, 15]);
    expect(wear(dev)[12]).toBe(1);
    expect(wear(dev)[15]).toBe(1);
    expect(dev.stats().orderRollbacks).toBe(1);
    for (const [sec, v] of [[3 * SPP, 1], [8 * SPP, 2], [3 * SPP + 1, 3], [8 * SPP + 1, 4], [12 * SPP, 5], [12 * SPP + 7, 6], [15 * SPP, 7], [15 * SPP + 7, 8]]) {
      expect(mem.data.subarray(sec * SS, (sec + 1) * SS).equals(sector(v))).toBe(true);
    }
    expect(dev.stats().orderWaits).toBe(0);
    expect(log.violations).toEqual([]);
  });

  test('a cycle through the very sectors held back: what waits for them is not written before them', async () => {
    const { mem, checked, log, dev } = setup();
    // Packet 5: a directory's entry (sector 0) and a file's entry (sector 1); packet 9: the
    // directory's block (sector 0) naming the file. The block waits for the file's entry, the
    // directory's entry for its block.
    await dev.write(5 * SPP + 1, sector(1), 'metadata');
    dev.order({ lba: 5 * SPP + 1, count: 1 }, { lba: 9 * SPP, count: 1 });
    await dev.write(9 * SPP, sector(2), 'metadata');
    dev.order({ lba: 9 * SPP, count: 1 }, { lba: 5 * SPP, count: 1 });
    await dev.write(5 * SPP, sector(3), 'metadata');
    checked.check = all(
      before(5 * SPP + 1, sector(1), 9 * SPP, sector(2)),
      before(9 * SPP, sector(2), 5 * SPP, sector(3)),
    );
    await dev.flush();
    expect(checked.problems).toEqual([]);
    for (const [sec, v] of [[5 * SPP, 3], [5 * SPP + 1, 1], [9 * SPP, 2]]) {
      expect(mem.data.subarray(sec * SS, (sec + 1) * SS).equals(sector(v))).toBe(true);
    }
    expect(dev.stats().orderWaits).toBe(0);
    expect(packetsWritten(log).length).toBeLessThanOrEqual(4);
    expect(log.violations).toEqual([]);
  });
});
