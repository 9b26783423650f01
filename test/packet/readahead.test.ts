/**
 * Read-ahead and the data handling of the packet layer's stream paths: reads
 * ahead of a sequential reader (bounded, dropped when the pattern breaks), a
 * read racing a write or a write-out getting the new bytes, a write-out taking
 * the packet's own bytes while later writes go to a copy, and the cache's
 * accounting. Counters and bytes only, no timing.
 */
import { promises as fsp } from 'fs';
import os from 'os';
import path from 'path';
import { MemoryDevice } from '../../src/drive/memory';
import { ImageDevice } from '../../src/drive/image';
import { PacketDevice, type PacketDeviceOptions } from '../../src/packet/device';
import { expectSameBytes, Gate, LoggingDevice, pattern, settle } from './helpers';

const SS = 2048;
const SPP = 16;
const PB = SS * SPP;

interface Setup {
  mem: MemoryDevice;
  log: LoggingDevice;
  dev: PacketDevice;
}

function setup(opts: PacketDeviceOptions & { sectors?: number } = {}): Setup {
  const sectors = opts.sectors ?? 4096;
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(sectors * SS, 0x5a) });
  const log = new LoggingDevice(mem, SPP);
  const dev = new PacketDevice(log, { flushDelayMs: Infinity, packetBytes: PB, ...opts });
  return { mem, log, dev };
}

function onDisc(s: Setup, lba: number, count: number): Buffer {
  return s.mem.data.subarray(lba * SS, (lba + count) * SS);
}

/** Read `total` sectors from `lba` in requests of `step`, checking every byte; returns the device reads' furthest lead. */
async function stream(s: Setup, lba: number, total: number, step: number): Promise<number> {
  let lead = 0;
  for (let at = lba; at < lba + total; at += step) {
    const got = await s.dev.read(at, step);
    expectSameBytes(got, onDisc(s, at, step), `sectors ${at}+${step}`);
    for (const op of s.log.reads) lead = Math.max(lead, op.lba + op.count - (at + step));
  }
  return lead;
}

describe('read-ahead', () => {
  test('a sequential reader is served from packets read ahead, in few large device reads', async () => {
    const s = setup();
    await stream(s, 0, 1024, 64); // 64 requests of 128 KiB
    const st = s.dev.stats();
    expect(st.readAheads).toBeGreaterThan(0);
    // Only the first requests (before a stream is recognised) go to the device themselves.
    expect(st.bytesReadFromDevice).toBeLessThanOrEqual(2 * 64 * SS);
    expect(st.bytesReadFromCache).toBe(st.bytesRead - st.bytesReadFromDevice);
    expect(st.bytesReadAheadUsed).toBeGreaterThanOrEqual(st.bytesRead - st.bytesReadFromDevice - 64 * SS);
    // Far fewer device reads than requests, none of them overlapping another.
    expect(s.log.reads.length).toBeLessThan(64 / 2);
    const sorted = [...s.log.reads].sort((a, b) => a.lba - b.lba);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].lba).toBeGreaterThanOrEqual(sorted[i - 1].lba + sorted[i - 1].count);
  });

  test('requests arriving out of order near the front of the stream keep it going', async () => {
    const s = setup();
    // As the kernel's own read-ahead sends them: several at once, not always in order.
    const order = [0, 64, 192, 128, 256, 384, 320, 448, 576, 512, 640, 704, 832, 768, 896, 960];
    for (const at of order) expectSameBytes(await s.dev.read(at, 64), onDisc(s, at, 64), `sectors ${at}+64`);
    const st = s.dev.stats();
    expect(st.bytesReadAheadDropped).toBe(0);
    expect(st.readAheads).toBeGreaterThan(0);
    expect(st.bytesReadFromDevice).toBeLessThanOrEqual(4 * 64 * SS);
  });

  test('read-ahead stays within its limit, and within a quarter of the cache', async () => {
    const limit = 8 * PB;
    const s = setup({ readAheadBytes: limit });
    const lead = await stream(s, 0, 2048, 16);
    expect(s.dev.readAheadLimit).toBe(limit);
    expect(s.dev.stats().readAheads).toBeGreaterThan(0);
    // Device reads never reach further ahead of the reader than the limit (plus the packet it is in).
    expect(lead * SS).toBeLessThanOrEqual(limit + PB);
    expect(new PacketDevice(new MemoryDevice({ sectorSize: SS, sectorCount: 64 }), { packetBytes: PB, cacheBytes: 16 * PB, readAheadBytes: 1 << 30 }).readAheadLimit).toBe(4 * PB);
  });

  test('readAheadBytes 0: no read-ahead, every miss is read as asked', async () => {
    const s = setup({ readAheadBytes: 0 });
    await stream(s, 0, 512, 64);
    expect(s.dev.stats().readAheads).toBe(0);
    expect(s.log.reads.map((o) => [o.lba, o.count])).toEqual(Array.from({ length: 8 }, (_, i) => [i * 64, 64]));
  });

  test('a random pattern drops what was read ahead and reads no further ahead', async () => {
    const s = setup();
    await stream(s, 0, 256, 64);
    const before = s.dev.stats();
    expect(before.readAheads).toBeGreaterThan(0);
    const unread = before.bytesReadAhead - before.bytesReadAheadUsed;
    expect(unread).toBeGreaterThan(0);
    // Jump elsewhere, then keep jumping.
    const spots = [3000, 1500, 2500, 700, 3500, 1200];
    for (const at of spots) expectSameBytes(await s.dev.read(at, 8), onDisc(s, at, 8));
    const after = s.dev.stats();
    expect(after.readAheads).toBe(before.readAheads);
    expect(after.bytesReadAheadDropped).toBe(unread);
    // The dropped packets are gone from the cache: reading them again goes to the device.
    s.log.clearLog();
    expectSameBytes(await s.dev.read(256 + 16, 16), onDisc(s, 256 + 16, 16));
    expect(s.log.reads.map((o) => [o.lba, o.count])).toEqual([[272, 16]]);
  });

  test('read-ahead in flight when the pattern breaks is not kept when it lands', async () => {
    const s = setup();
    await stream(s, 0, 128, 64);
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'read' && op.lba >= 192 && op.lba < 1024 ? gate.pass() : Promise.resolve());
    expectSameBytes(await s.dev.read(128, 64), onDisc(s, 128, 64));
    await settle();
    expect(gate.arrived).toBeGreaterThan(0); // read-ahead past the reader is held
    const held = s.dev.stats().bytesReadAhead;
    expectSameBytes(await s.dev.read(3000, 4), onDisc(s, 3000, 4)); // elsewhere
    gate.open();
    await settle();
    const st = s.dev.stats();
    expect(st.bytesReadAhead).toBeGreaterThan(held);
    expect(st.bytesReadAheadDropped).toBe(st.bytesReadAhead - st.bytesReadAheadUsed);
    s.log.delay = null;
    s.log.clearLog();
    await s.dev.read(256, 16);
    expect(s.log.reads.map((o) => [o.lba, o.count])).toEqual([[256, 16]]);
  });

  test('a reader that reaches read-ahead still in flight waits for it instead of reading again', async () => {
    const s = setup();
    const gate = new Gate();
    await stream(s, 0, 128, 64);
    s.log.delay = (op) => (op.op === 'read' ? gate.pass() : Promise.resolve());
    // Served from the read-ahead the earlier reads started, held at the gate.
    const pending = s.dev.read(128, 64);
    await settle();
    const readsBefore = s.log.reads.length;
    gate.open();
    expectSameBytes(await pending, onDisc(s, 128, 64));
    const mine = s.log.reads.slice(0, readsBefore).filter((o) => o.lba <= 128 && o.lba + o.count > 128);
    expect(mine.length).toBe(1); // one device read covered it: the read-ahead
    expect(s.dev.stats().bytesReadFromDevice).toBe(128 * SS);
  });

  test('a write racing read-ahead in flight: the read returns the new bytes', async () => {
    const s = setup();
    await stream(s, 0, 128, 64);
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'read' ? gate.pass() : Promise.resolve());
    const first = s.dev.read(128, 64); // read-ahead beyond it is held too
    await settle();
    const fresh = pattern(4 * SS, 9);
    await s.dev.write(200, fresh); // part of a packet being read ahead
    gate.open();
    await first;
    s.log.delay = null;
    const got = await s.dev.read(192, 64);
    expectSameBytes(got.subarray(8 * SS, 12 * SS), fresh);
    expectSameBytes(got.subarray(0, 8 * SS), onDisc(s, 192, 8));
    expectSameBytes(got.subarray(12 * SS), onDisc(s, 204, 52));
  });

  test('a write-out racing read-ahead in flight: the old disc bytes never come back', async () => {
    // A small cache, so that the written packet drops out before the stale read-ahead lands.
    const s = setup({ cacheBytes: 16 * PB, readAheadBytes: 4 * PB });
    await stream(s, 0, 128, 64);
    const gate = new Gate();
    // Read-ahead samples the disc at once and answers only when the gate opens.
    s.log.delay = (op) => (op.op === 'read' && op.lba < 1024 ? gate.pass() : Promise.resolve());
    const first = s.dev.read(128, 64);
    await settle();
    const fresh = pattern(PB, 11);
    await s.dev.write(224, fresh); // a whole packet: written out at once, ahead of the stale read
    await s.dev.flush();
    expectSameBytes(onDisc(s, 224, 16), fresh);
    // The read-ahead over packet 14 sampled the disc before the write and is still held.
    expect(gate.arrived).toBeGreaterThan(0);
    expect(s.log.reads.some((o) => o.lba <= 224 && o.lba + o.count >= 240)).toBe(true);
    // Other packets written push the written one out of the cache (writes leave the read stream be).
    for (let p = 0; p < 40; p++) await s.dev.write(2048 + p * SPP, pattern(PB, 100 + p));
    await s.dev.flush();
    expect(s.dev.stats().cachedPackets).toBeLessThanOrEqual(16);
    gate.open();
    await first;
    await settle();
    s.log.delay = null;
    s.log.clearLog();
    // The stream goes on (sectors 192-255 were read ahead): the written packet comes from the device again.
    const got = await s.dev.read(192, 64);
    expectSameBytes(got.subarray(32 * SS, 48 * SS), fresh);
    expectSameBytes(got.subarray(0, 32 * SS), onDisc(s, 192, 32));
    expect(s.log.reads.map((o) => [o.lba, o.count])).toContainEqual([224, 16]);
    expect(s.log.reads.some((o) => o.lba < 224)).toBe(false); // packets 12 and 13 came from the read-ahead
  });

  test('the cache stays within cacheBytes while reading ahead, and read-ahead is accounted in it', async () => {
    const cacheBytes = 12 * PB;
    const s = setup({ cacheBytes, readAheadBytes: 3 * PB });
    for (let at = 0; at < 2048; at += 16) {
      expectSameBytes(await s.dev.read(at, 16), onDisc(s, at, 16));
      await settle(2);
      const st = s.dev.stats();
      expect(st.cachedBytes).toBeLessThanOrEqual(cacheBytes);
      expect(st.cachedPackets * PB).toBe(st.cachedBytes);
    }
    const st = s.dev.stats();
    expect(st.bytesReadAhead).toBeGreaterThan(0);
    expect(st.bytesReadAheadUsed + st.bytesReadAheadDropped).toBeLessThanOrEqual(st.bytesReadAhead);
  });
});

describe('write-out and the packet bytes', () => {
  test('a write landing while its packet is being written goes to a copy: the device gets the bytes of the write-out', async () => {
    const s = setup();
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'write' ? gate.pass() : Promise.resolve());
    const v1 = pattern(PB, 1);
    await s.dev.write(32, v1); // fully dirty: written out at once, held at the gate
    await settle();
    expect(gate.arrived).toBe(1);
    const v2 = pattern(2 * SS, 2);
    await s.dev.write(36, v2); // lands in the packet while the device has not taken its bytes
    gate.open();
    await settle();
    expectSameBytes(onDisc(s, 32, 16), v1); // the LoggingDevice takes the bytes only as the write lands
    await s.dev.flush();
    const want = Buffer.from(v1);
    v2.copy(want, 4 * SS);
    expectSameBytes(onDisc(s, 32, 16), want);
    expectSameBytes(await s.dev.read(32, 16), want);
  });

  test('a long stream of writes and reads through reused packet memory keeps every byte', async () => {
    const s = setup({ cacheBytes: 8 * PB });
    for (let p = 0; p < 100; p++) await s.dev.write(p * SPP, pattern(PB, p));
    await s.dev.flush();
    for (let p = 0; p < 100; p += 2) expectSameBytes(await s.dev.read(p * SPP, 2 * SPP), Buffer.concat([pattern(PB, p), pattern(PB, p + 1)]), `packets ${p}-${p + 1}`);
    for (let p = 0; p < 100; p++) expectSameBytes(onDisc(s, p * SPP, SPP), pattern(PB, p), `packet ${p} on disc`);
    expect(s.log.violations).toEqual([]);
  });
});

describe('read-ahead over an image file (reads straight into packet buffers)', () => {
  let dir: string;
  beforeAll(async () => { dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pktfs-ra-')); });
  afterAll(async () => { await fsp.rm(dir, { recursive: true, force: true }); });

  test('readInto fills whole packets; a stream reads back what the file holds', async () => {
    const file = path.join(dir, 'ra.img');
    const bytes = pattern(3 * 1024 * 1024 + 5 * 512, 7); // not a whole number of packets
    await fsp.writeFile(file, bytes);
    const image = await ImageDevice.open(file, { sectorSize: 512 });
    const parts = [Buffer.alloc(1024), Buffer.alloc(512)];
    await image.readInto(3, parts);
    expectSameBytes(Buffer.concat(parts), bytes.subarray(3 * 512, 6 * 512));
    await expect(image.readInto(image.sectorCount - 1, [Buffer.alloc(1024)])).rejects.toMatchObject({ errno: 'EIO' });
    const dev = new PacketDevice(image, { packetBytes: 32768, flushDelayMs: Infinity });
    const step = 256; // 128 KiB requests
    for (let at = 0; at < image.sectorCount; at += step) {
      const n = Math.min(step, image.sectorCount - at);
      expectSameBytes(await dev.read(at, n), bytes.subarray(at * 512, (at + n) * 512), `sectors ${at}+${n}`);
    }
    const st = dev.stats();
    expect(st.readAheads).toBeGreaterThan(0);
    expect(st.bytesReadFromDevice).toBeLessThanOrEqual(2 * step * 512);
    await dev.close();
  });
});
