/**
 * The packet layer's idle write-back on a stream of small writes (issue 6: a tree copy made
 * ~45,000 device writes, each of which cleared and set a timer): one timer per quiet period,
 * data written back once the writes stop, metadata one delay later. Fake timers.
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice } from '../../src/packet/device';

afterEach(() => {
  jest.useRealTimers();
});

test('writes move the idle deadline without a timer each; write-back comes a delay after the last one', async () => {
  jest.useFakeTimers({ doNotFake: ['queueMicrotask'] }); // the device write step gathers a tick's packets in a microtask
  const mem = new MemoryDevice({ sectorSize: 2048, sectorCount: 1024 });
  const dev = new PacketDevice(mem, { packetBytes: 32768, flushDelayMs: 100 });
  const sector = Buffer.alloc(2048, 0xab);
  // 200 writes 10 ms apart, into the first sector of packets 0-9 (never full: only the idle timer writes them).
  for (let i = 0; i < 200; i++) {
    await dev.write((i % 10) * 16, sector, i % 2 ? 'metadata' : 'data');
    await jest.advanceTimersByTimeAsync(10);
  }
  // Each timer fires no sooner than 100 ms after it was set and then waits for what is left: ~20 over 2 s.
  expect(dev.idleTimersStarted).toBeLessThanOrEqual(25);
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
