/**
 * Runs written from the packets' own buffers: on a device with writev (image
 * files), a run of consecutive packets is one writev of the packets' buffers,
 * not a copy of them into one buffer; a run that fails is still written again
 * packet by packet (each with its own outcome), and ImageDevice.writev puts the
 * bytes where write() of their concatenation would.
 *
 * Held runs (holdRunMs, off by default): a short run of full data
 * packets waits for the stream's next packets, arriving in later ticks as FUSE
 * requests do, and goes with them as one longer write; a flush, pressure, the
 * idle write-back, any other write-out or the end of the wait sends it.
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import { MemoryDevice } from '../../src/drive/memory';
import type { BlockDevice } from '../../src/drive/types';
import { FsError } from '../../src/errors';
import { PacketDevice } from '../../src/packet/device';
import { expectSameBytes, pattern, settle } from './helpers';

const SS = 2048;
const SPP = 16;
const PACKET = SPP * SS;

/** A memory device that offers writev and logs every write and writev (lba, parts' sizes in sectors). */
class VecDevice implements BlockDevice {
  readonly calls: { op: 'write' | 'writev'; lba: number; parts: number[] }[] = [];
  /** Fail the next writev with EIO. */
  failNextWritev = false;
  constructor(readonly inner: MemoryDevice) {}
  get sectorSize(): number { return SS; }
  get sectorCount(): number { return this.inner.sectorCount; }
  get readOnly(): boolean { return false; }
  get description(): string { return 'memory with writev'; }
  read(lba: number, count: number): Promise<Buffer> { return this.inner.read(lba, count); }
  write(lba: number, data: Buffer): Promise<void> {
    this.calls.push({ op: 'write', lba, parts: [data.length / SS] });
    return this.inner.write(lba, data);
  }
  async writev(lba: number, sources: Buffer[]): Promise<void> {
    this.calls.push({ op: 'writev', lba, parts: sources.map((s) => s.length / SS) });
    if (this.failNextWritev) {
      this.failNextWritev = false;
      throw new FsError('EIO', `writev of sectors ${lba}: injected failure`);
    }
    let at = lba;
    for (const s of sources) {
      await this.inner.write(at, s);
      at += s.length / SS;
    }
  }
  flush(): Promise<void> { return this.inner.flush(); }
  close(): Promise<void> { return this.inner.close(); }
}

function setup(opts: { maxRunBytes?: number; holdRunMs?: number; dirtyBytes?: number; flushDelayMs?: number } = {}) {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(1024 * SS, 0x11) });
  const vec = new VecDevice(mem);
  const dev = new PacketDevice(vec, {
    packetBytes: PACKET, flushDelayMs: opts.flushDelayMs ?? Infinity, maxRunBytes: opts.maxRunBytes ?? 8 * PACKET, holdRunMs: opts.holdRunMs ?? 0, dirtyBytes: opts.dirtyBytes,
  });
  return { mem, vec, dev };
}

/** A macrotask boundary, as between two FUSE requests. */
const nextRequest = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('runs on a device with writev', () => {
  test('a run of packets completed together is one writev of the packets, no write()', async () => {
    const { mem, vec, dev } = setup();
    const data = pattern(4 * PACKET, 0x42);
    await dev.write(2 * SPP, data, 'data');
    await settle();
    expect(vec.calls).toEqual([{ op: 'writev', lba: 2 * SPP, parts: [SPP, SPP, SPP, SPP] }]);
    expectSameBytes(await mem.read(2 * SPP, 4 * SPP), data, 'device after the run');
    expect(dev.stats().deviceWrites).toBe(1);
    await dev.close();
  });

  test('a single packet is written with write()', async () => {
    const { vec, dev } = setup();
    await dev.write(5 * SPP, pattern(PACKET, 0x43), 'data');
    await settle();
    expect(vec.calls).toEqual([{ op: 'write', lba: 5 * SPP, parts: [SPP] }]);
    await dev.close();
  });

  test('a writev that fails is written again packet by packet; the first packet keeps a non-medium error', async () => {
    const { mem, vec, dev } = setup();
    vec.failNextWritev = true;
    const data = pattern(3 * PACKET, 0x44);
    await dev.write(4 * SPP, data, 'data');
    await settle();
    expect(vec.calls).toEqual([
      { op: 'writev', lba: 4 * SPP, parts: [SPP, SPP, SPP] },
      { op: 'write', lba: 5 * SPP, parts: [SPP] },
      { op: 'write', lba: 6 * SPP, parts: [SPP] },
    ]);
    expect(dev.stats().runsRetried).toBe(1);
    expect(dev.pendingError()?.message).toMatch(/injected failure/);
    // The first packet stayed dirty: the flush writes it, and reports the error it had.
    await expect(dev.flush()).rejects.toThrow(/injected failure/);
    expect(vec.calls[vec.calls.length - 1]).toEqual({ op: 'write', lba: 4 * SPP, parts: [SPP] });
    expectSameBytes(await mem.read(4 * SPP, 3 * SPP), data, 'device after the retries');
    await dev.close();
  });
});

describe('ImageDevice.writev', () => {
  let dir: string;
  beforeAll(async () => { dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pktfs-writev-')); });
  afterAll(async () => { await fsp.rm(dir, { recursive: true, force: true }); });

  test('puts the parts one after another at the sector, as write() of their concatenation would', async () => {
    const file = path.join(dir, 'img');
    const initial = pattern(64 * SS, 0x21);
    await fsp.writeFile(file, initial);
    const img = await ImageDevice.open(file, { sectorSize: SS });
    const parts = [pattern(3 * SS, 1), pattern(SS, 2), pattern(5 * SS, 3)];
    await img.writev(10, parts);
    await img.close();
    const want = Buffer.from(initial);
    Buffer.concat(parts).copy(want, 10 * SS);
    expectSameBytes(await fsp.readFile(file), want, 'image file');
  });

  test('refuses parts that are not whole sectors, writes past the end, and read-only images', async () => {
    const file = path.join(dir, 'img2');
    await fsp.writeFile(file, pattern(8 * SS, 0x22));
    const img = await ImageDevice.open(file, { sectorSize: SS });
    await expect(img.writev(0, [Buffer.alloc(SS), Buffer.alloc(100)])).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(img.writev(6, [Buffer.alloc(SS), Buffer.alloc(2 * SS)])).rejects.toMatchObject({ errno: 'ENOSPC' });
    await img.close();
    const ro = await ImageDevice.open(file, { sectorSize: SS, readOnly: true });
    await expect(ro.writev(0, [Buffer.alloc(SS)])).rejects.toMatchObject({ errno: 'EROFS' });
    await ro.close();
    expectSameBytes(await fsp.readFile(file), pattern(8 * SS, 0x22), 'image file unchanged');
  });

  test('a packet device over an image writes a stream as writev runs of whole packets', async () => {
    const file = path.join(dir, 'img3');
    await fsp.writeFile(file, Buffer.alloc(64 * PACKET));
    const img = await ImageDevice.open(file, { sectorSize: SS });
    const seen: { lba: number; parts: number[] }[] = [];
    const writev = img.writev.bind(img);
    img.writev = (lba, sources) => { seen.push({ lba, parts: sources.map((s) => s.length) }); return writev(lba, sources); };
    const write = img.write.bind(img);
    let writes = 0;
    img.write = (lba, data) => { writes++; return write(lba, data); };
    const dev = new PacketDevice(img, { packetBytes: PACKET, flushDelayMs: Infinity, maxRunBytes: 4 * PACKET, holdRunMs: 0 });
    const data = pattern(16 * PACKET, 0x23);
    for (let off = 0; off < data.length; off += 4 * PACKET) await dev.write(off / SS, data.subarray(off, off + 4 * PACKET), 'data');
    await dev.close();
    expect(writes).toBe(0);
    expect(seen).toEqual([0, 4, 8, 12].map((p) => ({ lba: p * SPP, parts: [PACKET, PACKET, PACKET, PACKET] })));
    expectSameBytes((await fsp.readFile(file)).subarray(0, data.length), data, 'image file');
  });
});

describe('held runs', () => {
  const LONG = 60_000;

  test('off unless asked for', async () => {
    const vec = new VecDevice(new MemoryDevice({ sectorSize: SS, sectorCount: 1024 }));
    const dev = new PacketDevice(vec, { packetBytes: PACKET, flushDelayMs: Infinity });
    expect(dev.holdRunMs).toBe(0);
    await dev.write(0, pattern(2 * PACKET, 0x50), 'data');
    await nextRequest();
    expect(vec.calls).toEqual([{ op: 'writev', lba: 0, parts: [SPP, SPP] }]);
    await dev.close();
  });

  test('runs completed by requests in separate ticks go as one write of maxRunBytes', async () => {
    const { mem, vec, dev } = setup({ holdRunMs: LONG });
    const data = pattern(16 * PACKET, 0x51);
    for (let i = 0; i < 4; i++) {
      await dev.write(i * 4 * SPP, data.subarray(i * 4 * PACKET, (i + 1) * 4 * PACKET), 'data');
      await nextRequest();
    }
    // Two runs of 8 packets (maxRunBytes), each as soon as it reached that length.
    expect(vec.calls).toEqual([
      { op: 'writev', lba: 0, parts: Array(8).fill(SPP) },
      { op: 'writev', lba: 8 * SPP, parts: Array(8).fill(SPP) },
    ]);
    expectSameBytes(await mem.read(0, 16 * SPP), data, 'device');
    await dev.close();
  });

  test('without holding, the same requests give one write each', async () => {
    const { vec, dev } = setup({ holdRunMs: 0 });
    for (let i = 0; i < 4; i++) {
      await dev.write(i * 4 * SPP, pattern(4 * PACKET, i), 'data');
      await nextRequest();
    }
    expect(vec.calls.map((c) => c.lba)).toEqual([0, 4 * SPP, 8 * SPP, 12 * SPP]);
    await dev.close();
  });

  test('a flush sends a held run at once, and reports its outcome', async () => {
    const { mem, vec, dev } = setup({ holdRunMs: LONG });
    const data = pattern(3 * PACKET, 0x52);
    await dev.write(2 * SPP, data, 'data');
    await nextRequest();
    expect(vec.calls).toEqual([]);
    expect(dev.stats().states.writing).toBe(3);
    // Held packets read back from the cache meanwhile.
    expectSameBytes(await dev.read(2 * SPP, 3 * SPP), data, 'read while held');
    await dev.flush();
    expect(vec.calls).toEqual([{ op: 'writev', lba: 2 * SPP, parts: [SPP, SPP, SPP] }]);
    expectSameBytes(await mem.read(2 * SPP, 3 * SPP), data, 'device');
    vec.failNextWritev = true;
    await dev.write(10 * SPP, pattern(2 * PACKET, 0x53), 'data');
    await nextRequest();
    await expect(dev.flush()).rejects.toThrow(/injected failure/);
    await dev.close();
  });

  test('the wait ends by itself', async () => {
    const { vec, dev } = setup({ holdRunMs: 1 });
    await dev.write(0, pattern(2 * PACKET, 0x54), 'data');
    await new Promise((r) => setTimeout(r, 30));
    expect(vec.calls).toEqual([{ op: 'writev', lba: 0, parts: [SPP, SPP] }]);
    await dev.close();
  });

  test('a run not continued by the next packets goes when they come; only the last run is held', async () => {
    const { vec, dev } = setup({ holdRunMs: LONG });
    await dev.write(0, pattern(2 * PACKET, 0x55), 'data');
    await nextRequest();
    await dev.write(20 * SPP, pattern(2 * PACKET, 0x56), 'data');
    await nextRequest();
    expect(vec.calls).toEqual([{ op: 'writev', lba: 0, parts: [SPP, SPP] }]);
    await dev.flush();
    expect(vec.calls[1]).toEqual({ op: 'writev', lba: 20 * SPP, parts: [SPP, SPP] });
    await dev.close();
  });

  test('a packet written out for another reason sends the held run with it', async () => {
    const { vec, dev } = setup({ holdRunMs: LONG, flushDelayMs: 5 });
    await dev.write(0, pattern(2 * PACKET, 0x57), 'data');
    // A part of a packet: only the idle write-back writes it, and the held run goes too.
    await dev.write(10 * SPP, pattern(SS, 0x58), 'data');
    await new Promise((r) => setTimeout(r, 50));
    expect(vec.calls.map((c) => c.lba).sort((a, b) => a - b)).toEqual([0, 10 * SPP]);
    await dev.close();
  });

  test('under pressure a writer waiting for room sends the held run instead of waiting for its timer', async () => {
    const { vec, dev } = setup({ holdRunMs: LONG, dirtyBytes: 4 * PACKET });
    await dev.write(0, pattern(4 * PACKET, 0x59), 'data');
    await nextRequest();
    expect(vec.calls).toEqual([]);
    await dev.write(4 * SPP, pattern(2 * PACKET, 0x5a), 'data');
    expect(vec.calls[0]).toEqual({ op: 'writev', lba: 0, parts: [SPP, SPP, SPP, SPP] });
    await dev.close();
  });

  test('a stream over an image: 128 KiB requests in separate ticks go as 1 MiB pwritevs (maxRunBytes 1 MiB)', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pktfs-hold-'));
    try {
      const file = path.join(dir, 'img');
      await fsp.writeFile(file, Buffer.alloc(96 * PACKET));
      const img = await ImageDevice.open(file, { sectorSize: SS });
      const seen: number[] = [];
      const writev = img.writev.bind(img);
      img.writev = (lba, sources) => { seen.push(sources.reduce((n, b) => n + b.length, 0)); return writev(lba, sources); };
      const dev = new PacketDevice(img, { packetBytes: PACKET, flushDelayMs: Infinity, holdRunMs: LONG, maxRunBytes: 1 << 20 });
      const data = pattern(64 * PACKET, 0x5d);
      const REQ = 128 * 1024;
      for (let off = 0; off < data.length; off += REQ) {
        await dev.write(off / SS, data.subarray(off, off + REQ), 'data');
        await nextRequest();
      }
      await dev.close();
      expect(seen).toEqual([1 << 20, 1 << 20]);
      expectSameBytes((await fsp.readFile(file)).subarray(0, data.length), data, 'image file');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
