/**
 * Randomized model test: thousands of reads, writes and flushes, several in
 * flight at once with random device latency, against a plain Buffer. Requests
 * in one batch touch disjoint sectors (often in the same packet), so the model
 * is exact; every read is checked, the disc is compared after flushes, and the
 * drive log must show only whole, aligned packet writes.
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice } from '../../src/packet/device';
import { expectSameBytes, LoggingDevice, pattern, prng, randInt } from './helpers';

interface Config {
  name: string;
  seed: number;
  sectorSize: number;
  packetBytes: number;
  sectors: number;
  cacheBytes: number;
  dirtyBytes: number;
  flushDelayMs: number;
  batches: number;
}

const configs: Config[] = [
  {
    name: '2 KiB sectors, 16-sector packets, tight cache, partial last packet',
    seed: 1, sectorSize: 2048, packetBytes: 32768, sectors: 16 * 24 + 5,
    cacheBytes: 4 * 32768, dirtyBytes: 2 * 32768, flushDelayMs: Infinity, batches: 1500,
  },
  {
    name: '512-byte sectors, 64-sector packets, idle write-back on every pause',
    seed: 2, sectorSize: 512, packetBytes: 32768, sectors: 64 * 12 + 17,
    cacheBytes: 6 * 32768, dirtyBytes: 3 * 32768, flushDelayMs: 0, batches: 1500,
  },
  {
    name: '2 KiB sectors, 32-sector packets, roomy cache',
    seed: 3, sectorSize: 2048, packetBytes: 65536, sectors: 32 * 10,
    cacheBytes: 64 * 65536, dirtyBytes: 32 * 65536, flushDelayMs: Infinity, batches: 1500,
  },
];

for (const cfg of configs) {
  test(`random model: ${cfg.name}`, async () => {
    const rand = prng(cfg.seed);
    const ss = cfg.sectorSize;
    const spp = cfg.packetBytes / ss;
    const mem = new MemoryDevice({ sectorSize: ss, data: pattern(cfg.sectors * ss, 0x5a) });
    const log = new LoggingDevice(mem, spp);
    log.delay = async () => {
      for (let i = randInt(rand, 0, 3); i > 0; i--) await new Promise((r) => setImmediate(r));
    };
    const dev = new PacketDevice(log, {
      packetBytes: cfg.packetBytes, cacheBytes: cfg.cacheBytes, dirtyBytes: cfg.dirtyBytes,
      flushDelayMs: cfg.flushDelayMs,
    });
    const model = Buffer.from(mem.data);
    let ops = 0;
    let tag = 1;

    /** A random range, biased towards packet boundaries and the end of the device. */
    const pickRange = (): [number, number] => {
      const r = rand();
      let count = r < 0.6 ? randInt(rand, 1, 4) : r < 0.9 ? randInt(rand, 1, spp + 2) : randInt(rand, spp, 3 * spp);
      count = Math.min(count, cfg.sectors);
      let lba: number;
      const where = rand();
      if (where < 0.3) lba = randInt(rand, 0, Math.floor(cfg.sectors / spp)) * spp - randInt(rand, 0, 2);
      else if (where < 0.4) lba = cfg.sectors - count;
      else lba = randInt(rand, 0, cfg.sectors - count);
      lba = Math.max(0, Math.min(lba, cfg.sectors - count));
      return [lba, count];
    };

    for (let b = 0; b < cfg.batches; b++) {
      const used = new Uint8Array(cfg.sectors);
      const jobs: Promise<void>[] = [];
      for (let k = randInt(rand, 1, 6); k > 0; k--) {
        const [lba, count] = pickRange();
        let clash = false;
        for (let i = lba; i < lba + count; i++) clash ||= used[i] === 1;
        if (clash) continue;
        used.fill(1, lba, lba + count);
        ops++;
        const kind = rand();
        if (kind < 0.6) {
          const data = pattern(count * ss, tag++);
          data.copy(model, lba * ss);
          jobs.push(dev.write(lba, data));
        } else {
          const expected = Buffer.from(model.subarray(lba * ss, (lba + count) * ss));
          jobs.push(dev.read(lba, count).then((got) => expectSameBytes(got, expected, `read ${lba}+${count} in batch ${b}`)));
        }
        if (rand() < 0.05) jobs.push(dev.flush());
      }
      await Promise.all(jobs);
      if (rand() < 0.02) {
        await dev.flush();
        expectSameBytes(mem.data, model, `disc after flush in batch ${b}`);
      }
      const st = dev.stats();
      expect(st.activeBytes).toBeLessThanOrEqual(cfg.dirtyBytes);
      expect(st.cachedBytes).toBeLessThanOrEqual(cfg.cacheBytes);
    }
    await dev.flush();
    expectSameBytes(mem.data, model, 'disc at the end');
    expect(log.violations).toEqual([]);
    const st = dev.stats();
    const writes = log.writes;
    expect(st.deviceWrites).toBe(writes.length);
    expect(st.packetsEnded).toBe(writes.reduce((n, w) => n + Math.ceil(w.count / spp), 0));
    expect(writes.some((w) => w.count > spp)).toBe(true); // some packets went out as runs
    expect(st.bytesDeviceWritten).toBe(writes.reduce((s, w) => s + w.count * ss, 0));
    expect(st.queueSize).toBe(0);
    expect(st.pendingError).toBeNull();
    expect(ops).toBeGreaterThan(2000);
  });
}
