/**
 * PacketDevice.prefetch (BlockDevice.prefetch): the filesystem's hint that sectors will be
 * read soon (the file entries of a listed directory). Counted in device reads: one per run of
 * consecutive packets not cached, none for what is cached or on its way, and the reads
 * after it answered from the cache.
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice, PREFETCH_RUN_PACKETS } from '../../src/packet/device';
import { expectSameBytes, Gate, LoggingDevice, pattern } from './helpers';

const SS = 2048;
const SPP = 16;
const PB = SS * SPP;

function setup(cacheBytes = 64 * PB) {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(4096 * SS, 0x33) });
  const log = new LoggingDevice(mem, SPP);
  const dev = new PacketDevice(log, { flushDelayMs: Infinity, packetBytes: PB, cacheBytes });
  return { mem, log, dev };
}

describe('prefetch', () => {
  test('one device read per run of consecutive packets; the reads after it come from the cache', async () => {
    const s = setup(256 * PB);
    expect(PREFETCH_RUN_PACKETS).toBe(1);
    // Single sectors as file entries lie: packets 2, 3, 4 (a run), 10, and 20 twice.
    const lbas = [2 * SPP + 1, 2 * SPP + 9, 3 * SPP, 4 * SPP + 15, 10 * SPP + 3, 20 * SPP, 20 * SPP + 1];
    await s.dev.prefetch(lbas.map((lba) => ({ lba, count: 1 })));
    expect(s.log.reads.map((r) => [r.lba, r.count])).toEqual([[2 * SPP, 3 * SPP], [10 * SPP, SPP], [20 * SPP, SPP]]);
    const st = s.dev.stats();
    expect(st.prefetches).toBe(3);
    expect(st.bytesPrefetched).toBe(5 * PB);
    expect(st.bytesReadFromDevice).toBe(0);
    for (const lba of lbas) expectSameBytes(await s.dev.read(lba, 1), s.mem.data.subarray(lba * SS, (lba + 1) * SS), `sector ${lba}`);
    expect(s.log.reads).toHaveLength(3);
    expect(s.dev.stats().bytesReadFromCache).toBe(lbas.length * SS);
    // Single-sector reads in sequence start no read-ahead of their own here (1 sector each, not 2 packets).
    expect(s.dev.stats().readAheads).toBe(0);
  });

  test('whole cached packets and packets on their way are not read again; partly present ones are completed', async () => {
    const s = setup();
    await s.dev.read(5 * SPP, SPP); // packet 5 cached whole
    await s.dev.write(6 * SPP + 2, Buffer.alloc(SS, 7), 'metadata'); // packet 6 dirty, one sector present
    const gate = new Gate();
    s.log.delay = (op) => (op.op === 'read' ? gate.pass() : Promise.resolve());
    const first = s.dev.prefetch([{ lba: 8 * SPP, count: 1 }]);
    const before = s.log.reads.length;
    const second = s.dev.prefetch([5, 6, 8].map((p) => ({ lba: p * SPP, count: 1 })));
    // A read of packet 8 while its prefetch is in flight waits for it instead of reading it twice.
    const reading = s.dev.read(8 * SPP + 4, 2);
    gate.open();
    await Promise.all([first, second]);
    const got = await reading;
    expect(s.log.reads.slice(before).map((r) => [r.lba, r.count])).toEqual([[6 * SPP, SPP]]);
    expectSameBytes(got, s.mem.data.subarray((8 * SPP + 4) * SS, (8 * SPP + 6) * SS), 'packet 8');
    // The dirty sector is still what was written; the rest of packet 6 comes from the cache.
    const reads = s.log.reads.length;
    const six = await s.dev.read(6 * SPP, SPP);
    expect(six[2 * SS]).toBe(7);
    expectSameBytes(six.subarray(3 * SS), s.mem.data.subarray((6 * SPP + 3) * SS, 7 * SPP * SS), 'packet 6');
    expect(s.log.reads.length).toBe(reads);
  });

  test('a metadata read reads its whole packet, and sequential metadata reads start no read-ahead', async () => {
    const s = setup();
    for (let i = 0; i < 4 * SPP; i++) {
      const lba = 40 * SPP + i;
      expectSameBytes(await s.dev.read(lba, 1, 'metadata'), s.mem.data.subarray(lba * SS, (lba + 1) * SS), `sector ${lba}`);
    }
    expect(s.log.reads.map((r) => [r.lba, r.count])).toEqual([0, 1, 2, 3].map((p) => [(40 + p) * SPP, SPP]));
    expect(s.dev.stats().readAheads).toBe(0);
    // The same reads without the hint: one device read per sector, then read-ahead of the stream.
    const t = setup();
    for (let i = 0; i < 4 * SPP; i++) await t.dev.read(40 * SPP + i, 1);
    expect(t.log.reads.length).toBeGreaterThan(2 * SPP);
    expect(t.dev.stats().readAheads).toBeGreaterThan(0);
  });

  test('at most a quarter of the cache; bad ranges are ignored; a failed read is left to the reader', async () => {
    const s = setup(16 * PB);
    await s.dev.prefetch(Array.from({ length: 10 }, (_, i) => ({ lba: i * 2 * SPP, count: 1 })).concat([{ lba: 1 << 30, count: 1 }, { lba: 0, count: 0 }]));
    expect(s.log.reads.map((r) => [r.lba, r.count])).toEqual([0, 2, 4, 6].map((p) => [p * SPP, SPP]));
    expect(s.dev.stats().bytesPrefetched).toBe(4 * PB);
    s.log.fail = (op) => op.op === 'read';
    await expect(s.dev.prefetch([{ lba: 100 * SPP, count: 1 }])).resolves.toBeUndefined();
    await expect(s.dev.read(100 * SPP, 1)).rejects.toMatchObject({ errno: 'EIO' });
  });
});
