/**
 * The idle countdowns of a stream of writes (issue 6: per-write costs): the packet
 * layer's write-back timer and the write engine's settle timer are one timer each,
 * re-armed on every write, not a new one per write; and re-arming still restarts the
 * countdown (the write-back comes flushDelayMs after the last write, not the first).
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice } from '../../src/packet/device';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { makeImage, openRw, writable } from '../udf/write-helpers';
import { LoggingDevice, pattern } from './helpers';

const SS = 2048;
const SPP = 16;
const PACKET = SPP * SS;

afterEach(() => {
  jest.restoreAllMocks();
  jest.useRealTimers();
});

describe('packet layer idle write-back timer', () => {
  test('a stream of small writes: data written back a delay after the last one, metadata a delay later', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] }); // the device write step gathers a tick's packets in a microtask
    const mem = new MemoryDevice({ sectorSize: 2048, sectorCount: 1024 });
    const dev = new PacketDevice(mem, { packetBytes: 32768, flushDelayMs: 100 });
    const spy = jest.spyOn(global, 'setTimeout');
    const sector = Buffer.alloc(2048, 0xab);
    // 200 writes 10 ms apart, into the first sector of packets 0-9 (never full: only the idle timer writes them).
    for (let i = 0; i < 200; i++) {
      await dev.write((i % 10) * 16, sector, i % 2 ? 'metadata' : 'data');
      await jest.advanceTimersByTimeAsync(10);
    }
    expect(spy.mock.calls.filter((c) => c[1] === 100).length).toBe(1); // one timer for the quiet period, re-armed by each write
    expect(dev.stats().writeOutReasons.idle).toBe(0);
    expect(mem.data[0]).toBe(0);
    await jest.advanceTimersByTimeAsync(89); // 99 ms after the last write
    expect(dev.stats().writeOutReasons.idle).toBe(0);
    // The data packets (even ones) a delay after the last write; the metadata packets a delay later.
    await jest.advanceTimersByTimeAsync(2);
    expect(dev.stats().writeOutReasons.idle).toBe(5);
    expect(mem.data[0]).toBe(0xab);
    expect(mem.data[16 * 2048]).toBe(0);
    await jest.advanceTimersByTimeAsync(101);
    expect(dev.stats().writeOutReasons.idle).toBe(10);
    expect(mem.data[16 * 2048]).toBe(0xab);
    await dev.close();
  });

  test('a hundred writes arm one timer', async () => {
    const log = new LoggingDevice(new MemoryDevice({ sectorSize: SS, sectorCount: 1024 }), SPP);
    const dev = new PacketDevice(log, { packetBytes: PACKET, flushDelayMs: 1000 });
    const spy = jest.spyOn(global, 'setTimeout');
    for (let i = 0; i < 100; i++) await dev.write(i % 8, pattern(SS, i), 'data');
    expect(spy).toHaveBeenCalledTimes(1);
    await dev.close();
  });

  test('re-arming restarts the countdown from the last write', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask'] }); // the device write step gathers a tick's packets in a microtask
    const log = new LoggingDevice(new MemoryDevice({ sectorSize: SS, sectorCount: 1024 }), SPP);
    const dev = new PacketDevice(log, { packetBytes: PACKET, flushDelayMs: 100 });
    await dev.write(0, pattern(SS, 1), 'data');
    await jest.advanceTimersByTimeAsync(60);
    await dev.write(1, pattern(SS, 2), 'data');
    await jest.advanceTimersByTimeAsync(60);
    expect(log.writes).toEqual([]);
    await jest.advanceTimersByTimeAsync(60);
    expect(log.writes.map((w) => [w.lba, w.count])).toEqual([[0, SPP]]);
    jest.useRealTimers();
    await dev.close();
  });
});

const TOOLS = haveTools('mkudffs');
(TOOLS ? describe : describe.skip)('write engine idle settle timer', () => {
  let dir: string;
  beforeAll(() => { dir = makeTempDir('pktfs-idle-'); });
  afterAll(() => removeTempDir(dir));

  test('a hundred writes to a file arm one settle timer', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir);
    const m = await openRw(img, { idleSettleMs: 60_000 });
    try {
      const vol = writable(m);
      const ino = await vol.create(vol.rootIno, 'f', 0o644, 0, 0);
      await vol.write(ino, 0, pattern(4096, 1));
      const spy = jest.spyOn(global, 'setTimeout');
      for (let i = 1; i <= 100; i++) await vol.write(ino, i * 4096, pattern(4096, i));
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
      expect((await vol.getattr(ino)).size).toBe(101 * 4096);
    } finally {
      await m.close();
    }
  });
});
