/**
 * Defect management in the packet layer (src/packet/remap.ts): a write-out that
 * fails with a medium error is offered to the WriteRemapper, the cached packet
 * moves to the spare it names and is written there, and later writes addressed
 * to the old place follow. Other errors are never offered. Over a MemoryDevice
 * with a drive log that checks every write is a whole aligned packet.
 */
import { MemoryDevice } from '../../src/drive/memory';
import type { BlockDevice } from '../../src/drive/types';
import { ScsiError, SenseKey } from '../../src/drive/scsi/sense';
import { PacketDevice } from '../../src/packet/device';
import { writeFailureKind, type WriteRemapper } from '../../src/packet/remap';
import { FsError, isFsError } from '../../src/errors';
import { expectSameBytes, Gate, LoggingDevice, pattern, settle } from './helpers';

const SS = 2048;
const SPP = 16;
const PACKET = SPP * SS;

/** Writes touching a defective sector fail like a drive's: a ScsiError with this sense; nothing is written. */
class DefectDevice implements BlockDevice {
  readonly defects = new Set<number>();
  sense: [number, number, number] = [SenseKey.MEDIUM_ERROR, 0x0c, 0x00];
  /** Held writes: the test opens the gate. */
  gate: Gate | null = null;
  constructor(readonly inner: BlockDevice) {}
  get sectorSize(): number { return this.inner.sectorSize; }
  get sectorCount(): number { return this.inner.sectorCount; }
  get readOnly(): boolean { return this.inner.readOnly; }
  get description(): string { return 'defective memory'; }
  read(lba: number, count: number): Promise<Buffer> { return this.inner.read(lba, count); }
  async write(lba: number, data: Buffer): Promise<void> {
    await this.gate?.pass();
    for (let i = 0; i < data.length / SS; i++) {
      if (this.defects.has(lba + i)) {
        const [key, asc, ascq] = this.sense;
        throw new ScsiError(0x2a, 'WRITE(10)', { key, asc, ascq, information: lba + i, deferred: false }, 'emu');
      }
    }
    return this.inner.write(lba, data);
  }
  flush(): Promise<void> { return this.inner.flush(); }
  close(): Promise<void> { return this.inner.close(); }
}

/** A remapper handing out spares from a list, recording what it was asked. */
class ListRemapper implements WriteRemapper {
  readonly asked: number[] = [];
  readonly moved: [number, number][] = [];
  constructor(readonly spares: number[]) {}
  spareFor(lba: number): number | undefined {
    this.asked.push(lba);
    return this.spares[0];
  }
  remapped(from: number, to: number): void {
    expect(this.spares.shift()).toBe(to);
    this.moved.push([from, to]);
  }
}

function setup(sectors = 512) {
  const mem = new MemoryDevice({ sectorSize: SS, data: pattern(sectors * SS, 0x11) });
  const bad = new DefectDevice(mem);
  const log = new LoggingDevice(bad, SPP);
  const dev = new PacketDevice(log, { packetBytes: PACKET, flushDelayMs: Infinity });
  const onDisc = (lba: number, count: number) => mem.data.subarray(lba * SS, (lba + count) * SS);
  return { mem, log, bad, dev, onDisc };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
}

describe('writeFailureKind', () => {
  const scsi = (key: number, asc: number, ascq: number) => new ScsiError(0x2a, 'WRITE(10)', { key, asc, ascq, deferred: false }, 'x');
  test.each([
    [scsi(3, 0x0c, 0x00), 'medium'],
    [scsi(3, 0x0c, 0x02), 'medium'],
    [scsi(3, 0x32, 0x00), 'drive-spares-exhausted'],
    [scsi(3, 0x11, 0x00), 'other'],
    [scsi(5, 0x21, 0x02), 'other'],
    [new FsError('EIO', 'image write failed'), 'other'],
    [new Error('boom'), 'other'],
  ])('%s is %s', (e, kind) => {
    expect(writeFailureKind(e)).toBe(kind);
  });

  test('a WRITE ERROR for another write (deferred, or naming a sector outside this one) is not this packet\'s', () => {
    const at = (information: number, deferred = false) => new ScsiError(0x2a, 'WRITE(10)', { key: 3, asc: 0x0c, ascq: 0, information, deferred }, 'x');
    expect(writeFailureKind(at(40), 32, 16)).toBe('medium');
    expect(writeFailureKind(at(47), 32, 16)).toBe('medium');
    expect(writeFailureKind(at(48), 32, 16)).toBe('medium-earlier');
    expect(writeFailureKind(at(10), 32, 16)).toBe('medium-earlier');
    expect(writeFailureKind(at(40, true), 32, 16)).toBe('medium-earlier');
  });
});

describe('PacketDevice with a WriteRemapper', () => {
  test('a medium error moves the packet to the spare; later writes and reads follow', async () => {
    const s = setup();
    const r = new ListRemapper([400]);
    s.dev.setRemapper(r);
    s.bad.defects.add(37);
    const data = pattern(PACKET, 1);
    await s.dev.write(32, data);
    await s.dev.flush();
    expect(r.asked).toEqual([32]);
    expect(r.moved).toEqual([[32, 400]]);
    expectSameBytes(Buffer.from(s.onDisc(400, SPP)), data, 'spare');
    expectSameBytes(Buffer.from(s.onDisc(32, SPP)), pattern(512 * SS, 0x11).subarray(32 * SS, 48 * SS), 'old place');
    expect(s.dev.stats()).toMatchObject({ remaps: [{ from: 32, to: 400 }], mediumWriteErrors: 1, pendingError: null });
    // a late write addressed to the old place lands at the spare (whole packets only)
    await s.dev.write(34, Buffer.alloc(SS, 0x77));
    await s.dev.flush();
    expect(s.onDisc(400 + 2, 1).every((b) => b === 0x77)).toBe(true);
    expect(s.log.violations).toEqual([]);
    expect(s.log.writes.map((w) => w.lba)).toEqual([32, 400, 400]);
  });

  test('writes landing while the failing write-out is in flight move with the packet', async () => {
    const s = setup();
    const r = new ListRemapper([480]);
    s.dev.setRemapper(r);
    s.bad.defects.add(16);
    s.bad.gate = new Gate();
    await s.dev.write(16, pattern(PACKET, 2));
    const flushing = s.dev.flush();
    await settle();
    expect(s.bad.gate.arrived).toBe(1);
    await s.dev.write(20, Buffer.alloc(SS, 0x99)); // lands in the packet while its write-out is held
    s.bad.gate.open();
    await flushing;
    await s.dev.flush();
    const want = pattern(PACKET, 2);
    want.fill(0x99, 4 * SS, 5 * SS);
    expectSameBytes(Buffer.from(s.onDisc(480, SPP)), want, 'spare');
    expect(r.moved).toEqual([[16, 480]]);
  });

  test('a spare that fails too is offered again', async () => {
    const s = setup();
    const r = new ListRemapper([400, 416]);
    s.dev.setRemapper(r);
    s.bad.defects.add(48);
    s.bad.defects.add(401);
    await s.dev.write(48, pattern(PACKET, 3));
    await s.dev.flush();
    expect(r.asked).toEqual([48, 400]);
    expect(r.moved).toEqual([[48, 400], [400, 416]]);
    expectSameBytes(Buffer.from(s.onDisc(416, SPP)), pattern(PACKET, 3), 'second spare');
  });

  test('no spare: the error stands, says so, and the packet stays dirty', async () => {
    const s = setup();
    const r = new ListRemapper([]);
    s.dev.setRemapper(r);
    s.bad.defects.add(64);
    await s.dev.write(64, pattern(PACKET, 4));
    const e = await rejection(s.dev.flush());
    expect(isFsError(e, 'EIO')).toBe(true);
    expect((e as Error).message).toMatch(/write-out of packet 4 .*bad spot on the disc, no spare packet could take it.*MEDIUM ERROR: WRITE ERROR \(03\/0c\/00\)/);
    expect(s.dev.stats().states.dirty).toBe(1);
    // once the place is good again (the caller may retry), nothing was lost
    s.bad.defects.clear();
    await s.dev.flush();
    expectSameBytes(Buffer.from(s.onDisc(64, SPP)), pattern(PACKET, 4), 'retried');
  });

  test.each([
    ['an EIO from the device', () => new FsError('EIO', 'injected'), 'EIO'],
    ['ILLEGAL REQUEST 05/21/02', null, 'EINVAL'],
    ['a read error sense 03/11/00', null, 'EIO'],
  ] as const)('%s is not remapped', async (what, _unused, errno) => {
    const s = setup();
    const r = new ListRemapper([400]);
    s.dev.setRemapper(r);
    s.bad.defects.add(80);
    if (what.startsWith('an EIO')) {
      s.bad.defects.clear();
      s.log.fail = (op) => op.op === 'write' && op.lba === 80;
    } else if (what.startsWith('ILLEGAL')) {
      s.bad.sense = [SenseKey.ILLEGAL_REQUEST, 0x21, 0x02];
    } else {
      s.bad.sense = [SenseKey.MEDIUM_ERROR, 0x11, 0x00];
    }
    await s.dev.write(80, pattern(PACKET, 5));
    const e = await rejection(s.dev.flush());
    expect(isFsError(e, errno)).toBe(true);
    expect(r.asked).toEqual([]);
    expect(s.dev.stats().remaps).toEqual([]);
  });

  test('a deferred WRITE ERROR (an earlier, cached write failed) is reported, and the packet at hand is not moved', async () => {
    const s = setup();
    const r = new ListRemapper([400]);
    s.dev.setRemapper(r);
    const inner = s.bad.write.bind(s.bad);
    s.bad.write = async (lba: number, data: Buffer) => {
      if (lba === 160) throw new ScsiError(0x2a, 'WRITE(10)', { key: 3, asc: 0x0c, ascq: 0, information: 33, deferred: true }, 'emu');
      return inner(lba, data);
    };
    await s.dev.write(160, pattern(PACKET, 9));
    const e = await rejection(s.dev.flush());
    expect((e as Error).message).toMatch(/the drive reports that an earlier write failed at sector 33 \(a deferred error\): not remapped/);
    expect(r.asked).toEqual([]);
  });

  test('without a remapper a medium error is reported as such', async () => {
    const s = setup();
    s.bad.defects.add(96);
    await s.dev.write(96, pattern(PACKET, 6));
    const e = await rejection(s.dev.flush());
    expect((e as Error).message).toMatch(/bad spot on the disc, nothing remaps defects on this volume/);
    // once in the background (the packet was whole), once more at flush()
    expect(s.dev.stats().mediumWriteErrors).toBe(2);
  });

  test('no spare, but the remapper can do without the dirty sectors: the packet is forgotten, no error', async () => {
    const s = setup();
    const asked: [number, number, number[]][] = [];
    const r = Object.assign(new ListRemapper([]), {
      abandon: (lba: number, sectors: number, dirty: readonly number[]) => { asked.push([lba, sectors, [...dirty]]); return dirty.every((d) => d === 145); },
    });
    s.dev.setRemapper(r);
    s.bad.defects.add(144);
    await s.dev.write(145, Buffer.alloc(SS, 0x42));
    await s.dev.flush();
    expect(asked).toEqual([[144, SPP, [145]]]);
    expect(s.dev.stats()).toMatchObject({ pendingError: null, mediumWriteErrors: 1, states: { dirty: 0 } });
    expect(s.dev.stats().lastWriteError).toMatch(/given up/);
    // the cached copy is gone: reads see the disc
    expectSameBytes(await s.dev.read(145, 1), pattern(512 * SS, 0x11).subarray(145 * SS, 146 * SS), 'read after abandon');
    // sectors it cannot do without: the error stands
    await s.dev.write(150, Buffer.alloc(SS, 0x43));
    expect(isFsError(await rejection(s.dev.flush()), 'EIO')).toBe(true);
    expect(asked[1]).toEqual([144, SPP, [150]]);
  });

  test('a spare that is not a free whole packet is refused', async () => {
    const s = setup();
    const r = new ListRemapper([401]); // not aligned
    s.dev.setRemapper(r);
    s.bad.defects.add(112);
    await s.dev.write(112, pattern(PACKET, 7));
    expect(isFsError(await rejection(s.dev.flush()), 'EIO')).toBe(true);
    expect(r.moved).toEqual([]);
  });

  test("the drive's own spares used up (03/32/00) are reported as a worn-out disc, never remapped", async () => {
    const s = setup();
    const r = new ListRemapper([400]);
    s.dev.setRemapper(r);
    s.bad.defects.add(128);
    s.bad.sense = [SenseKey.MEDIUM_ERROR, 0x32, 0x00];
    await s.dev.write(128, pattern(PACKET, 8));
    const e = await rejection(s.dev.flush());
    expect((e as Error).message).toMatch(/defect management has no spare sectors left, the disc is worn out.*\(03\/32\/00\)/);
    expect(r.asked).toEqual([]);
    expect(s.dev.stats()).toMatchObject({ driveSparesExhausted: true, mediumWriteErrors: 2, remaps: [] });
    expect(s.dev.stats().lastWriteError).toMatch(/03\/32\/00/);
  });
});
