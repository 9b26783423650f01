/**
 * PacketDevice.readInto: reads into the caller's buffers (a FUSE read's kernel buffer,
 * issue 6) with the bytes and counters of read(), from the cache and from the device,
 * dirty sectors included; refuses what read() refuses; and once it has failed, nothing
 * more is written into the caller's buffer (the memory may be back with the kernel).
 * The FUSE read op hands the kernel's buffer itself to Volume.readInto. A long stream
 * makes new packet buffers only until the cache is full: the read-ahead's new entries
 * take the buffers of the packets they push out.
 */
import { MemoryDevice } from '../../src/drive/memory';
import { PacketDevice } from '../../src/packet/device';
import { OpsContext } from '../../src/fuse/context';
import { fileOps } from '../../src/fuse/ops-file';
import type { Volume } from '../../src/udf/types';
import { MemVolume } from '../fuse/memvolume';
import { expectSameBytes, Gate, LoggingDevice, pattern, settle } from './helpers';

const SS = 2048;
const SPP = 16;
const PB = SS * SPP;

function setup(): { mem: MemoryDevice; log: LoggingDevice; dev: PacketDevice } {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(1024 * SS, 0x3c) });
  const log = new LoggingDevice(mem, SPP);
  return { mem, log, dev: new PacketDevice(log, { flushDelayMs: Infinity, packetBytes: PB, readAheadBytes: 0 }) };
}

describe('PacketDevice.readInto', () => {
  test('fills the caller\'s buffers with what read() gives, cached, dirty and uncached sectors alike', async () => {
    const s = setup();
    await s.dev.read(20, 10); // packet 1 partly cached
    const mine = pattern(3 * SS, 0x77);
    await s.dev.write(40, mine); // dirty sectors in packet 2
    const expected = Buffer.from(s.mem.data.subarray(0, 100 * SS));
    mine.copy(expected, 40 * SS);
    const a = Buffer.alloc(30 * SS);
    const b = Buffer.alloc(70 * SS);
    const before = s.dev.stats();
    await s.dev.readInto(0, [a, b]);
    expectSameBytes(Buffer.concat([a, b]), expected, 'readInto');
    const st = s.dev.stats();
    expect(st.bytesRead - before.bytesRead).toBe(100 * SS);
    expect(st.bytesReadFromCache - before.bytesReadFromCache).toBeGreaterThanOrEqual(13 * SS);
    expectSameBytes(await s.dev.read(0, 100), expected, 'read');
  });

  test('refuses ranges past the end and buffers not in whole sectors, as read() does', async () => {
    const s = setup();
    await expect(s.dev.readInto(1020, [Buffer.alloc(8 * SS)])).rejects.toMatchObject({ errno: 'EIO' });
    await expect(s.dev.readInto(0, [Buffer.alloc(SS + 1)])).rejects.toMatchObject({ errno: 'EIO' });
  });

  test('nothing is written into the caller\'s buffer after the read failed', async () => {
    const s = setup();
    await s.dev.read(SPP, SPP); // packet 1 cached: a read of packets 0-2 misses two runs
    const gate = new Gate();
    s.log.fail = (op) => op.lba === 0;
    s.log.delay = async (op) => { if (op.lba === 2 * SPP) await gate.pass(); };
    const into = Buffer.alloc(3 * PB);
    const failed = s.dev.readInto(0, [into]).then(() => 'resolved', (e: Error) => e.message);
    // The first run fails while the second is still on its way.
    while (gate.arrived === 0) await settle(1);
    await settle();
    gate.open();
    expect(await failed).toMatch(/injected read error/);
    into.fill(0xee);
    await settle();
    expect(into.every((x) => x === 0xee)).toBe(true);
  });
});

/** A MemoryDevice that reads into buffers, as ImageDevice does (readv). */
class IntoDevice extends MemoryDevice {
  async readInto(lba: number, targets: Buffer[]): Promise<void> {
    let at = lba * this.sectorSize;
    for (const t of targets) {
      this.data.copy(t, 0, at, at + t.length);
      at += t.length;
    }
  }
}

describe('packet buffers on a long stream', () => {
  test('new ones are made only until the cache is full', async () => {
    const sectors = 16384; // 32 MiB, four times the cache
    const mem = new IntoDevice({ sectorSize: SS, data: pattern(sectors * SS, 0x21) });
    const cacheBytes = 8 << 20;
    const readAheadBytes = 2 << 20;
    const dev = new PacketDevice(mem, { flushDelayMs: Infinity, packetBytes: PB, cacheBytes, readAheadBytes });
    const made = jest.spyOn(Buffer, 'allocUnsafeSlow');
    try {
      for (let at = 0; at < sectors; at += 64) {
        const out = Buffer.alloc(64 * SS);
        await dev.readInto(at, [out]);
        if (at % 4096 === 0) expectSameBytes(out, mem.data.subarray(at * SS, (at + 64) * SS), `sectors ${at}+64`);
      }
      const packetBufs = made.mock.calls.filter(([n]) => n === PB).length;
      expect(dev.stats().bytesReadAheadUsed).toBeGreaterThan((sectors - 1024) * SS);
      // The cache's packets, and at most a read-ahead window more, out of 1024 packets read.
      expect(packetBufs).toBeLessThanOrEqual((cacheBytes + readAheadBytes) / PB);
    } finally {
      made.mockRestore();
    }
  });
});

describe('FUSE read op', () => {
  test('hands the kernel\'s buffer itself to Volume.readInto', async () => {
    const mem = new MemVolume({ kind: 'dir', children: { f: { kind: 'file', data: Buffer.from('0123456789') } } });
    const seen: Buffer[] = [];
    const vol: Volume = Object.assign(Object.create(mem) as Volume, {
      readInto: async (ino: number, off: number, len: number, into: Buffer): Promise<number> => {
        seen.push(into);
        const data = await mem.read(ino, off, len);
        data.copy(into);
        return data.length;
      },
    });
    const ctx = new OpsContext(vol, true);
    const ops = fileOps(ctx);
    const fh = ctx.addFile({ ino: await vol.lookup(vol.rootIno, 'f'), path: '/f' });
    const buf = Buffer.alloc(4096);
    const n = await new Promise<number>((resolve) => ops.read('/f', fh, buf, 4096, 2, resolve));
    expect(n).toBe(8);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(buf);
    expect(buf.subarray(0, 8).toString()).toBe('23456789');
  });
});
