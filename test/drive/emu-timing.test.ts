/**
 * The emulated drive's timing model (src/drive/emu/timing.ts) on a fake clock:
 * when WRITE, READ and SYNCHRONIZE CACHE complete behind the write buffer, what
 * a seek costs, and that late timers do not add up. Times are the model's own
 * (the fake clock only moves when the drive waits), never the wall clock.
 */
import { MEDIA } from '../../src/drive/emu/media';
import { parseEmuSource } from '../../src/drive/emu/source';
import type { EmuClock } from '../../src/drive/emu/timing';
import type { EmuDriveOptions } from '../../src/drive/emu/drive';
import * as cdb from '../../src/drive/mmc/cdb';
import { emuDrive, TempDir } from './emu-fixture';

/** Time moves only when someone sleeps; every sleep wakes `late` ms after it was due. */
class FakeClock implements EmuClock {
  t = 0;
  sleeps = 0;
  constructor(readonly late = 0) {}
  now(): number {
    return this.t;
  }
  async sleepUntil(t: number): Promise<void> {
    this.sleeps++;
    this.t = Math.max(this.t, t) + this.late;
  }
}

const KIB = 1024;
const MIB = 1024 * KIB;
const SPEED = 8;
/** DVD+RW at 8x, bytes per ms. */
const RATE = (SPEED * MEDIA['dvd+rw'].oneX) / 1000;
const ms = (bytes: number) => bytes / RATE;

let dir: TempDir;
let n = 0;
beforeAll(() => { dir = new TempDir(); });
afterAll(() => dir.remove());

async function timed(opts: EmuDriveOptions, clock = new FakeClock()) {
  const d = await emuDrive(dir, 'dvd+rw', { formatted: true, speed: SPEED, clock, ...opts }, `t${++n}.img`);
  await d.drive.waitReady();
  return { ...d, clock };
}

const data = (bytes: number, fill = 0x5a) => Buffer.alloc(bytes, fill);
const close = (x: { t: number }, y: number) => expect(Math.abs(x.t - y)).toBeLessThan(1e-6);

describe('emulated drive timing model', () => {
  test('a WRITE completes once it fits in the buffer; SYNCHRONIZE CACHE once the buffer is drained', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 1 * MIB });
    for (let i = 0; i < 32; i++) await drive.write10(i * 16, data(32 * KIB));
    expect(clock.t).toBe(0); // 1 MiB: all of it fits
    await drive.write10(32 * 16, data(32 * KIB));
    close(clock, ms(32 * KIB)); // room for the 33rd once the medium has written 32 KiB
    await drive.synchronizeCache();
    close(clock, ms(33 * 32 * KIB));
    expect(emu.timingStats).toMatchObject({ bytesWritten: 33 * 32 * KIB, seekMs: 0, writesWaited: 1 });
    await emu.close();
  });

  test('one WRITE bigger than the buffer completes when all but a buffer full is on the medium', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 256 * KIB });
    await drive.write10(0, data(1 * MIB));
    close(clock, ms(1 * MIB - 256 * KIB));
    await emu.close();
  });

  test('late timers do not add up: the medium keeps its own schedule', async () => {
    const late = 5;
    const { emu, drive, clock } = await timed({ bufferBytes: 512 * KIB }, new FakeClock(late));
    const writes = 96; // 3 MiB in 32 KiB commands
    for (let i = 0; i < writes; i++) await drive.write10(i * 16, data(32 * KIB));
    await drive.synchronizeCache();
    const ideal = ms(writes * 32 * KIB);
    expect(clock.sleeps).toBeGreaterThan(10);
    // the medium never waited for the host: only the last wake-up is late
    expect(clock.t).toBeGreaterThanOrEqual(ideal);
    expect(clock.t).toBeLessThanOrEqual(ideal + late + 1e-6);
    expect(emu.timingStats!.transferMs).toBeCloseTo(ideal, 6);
    await emu.close();
  });

  test('buffer=0: every WRITE waits for the medium, the same as before the buffer', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 0 });
    await drive.write10(0, data(64 * KIB));
    close(clock, ms(64 * KIB));
    await drive.write10(32, data(64 * KIB));
    close(clock, ms(128 * KIB));
    await emu.close();
  });

  test('write caching off (page 08h WCE=0): a WRITE completes when its data is on the medium', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 2 * MIB });
    expect((await drive.getCaching()).writeCache).toBe(true); // a burner's power-on state
    await drive.setCaching({ writeCache: false, readCacheDisable: false });
    await drive.write10(0, data(64 * KIB));
    close(clock, ms(64 * KIB));
    await emu.close();
  });

  test('a seek costs the seek time, a sequential access none', async () => {
    const seek = 80;
    const { emu, drive, clock } = await timed({ bufferBytes: 0, seekMs: seek });
    await drive.write10(0, data(32 * KIB));
    close(clock, ms(32 * KIB)); // the head starts at sector 0
    await drive.write10(16, data(32 * KIB));
    close(clock, ms(64 * KIB));
    await drive.write10(1600, data(32 * KIB));
    close(clock, ms(96 * KIB) + seek);
    expect(emu.timingStats!.seekMs).toBe(seek);
    await emu.close();
  });

  test('a READ waits behind buffered writes, or is served from them', async () => {
    const seek = 50;
    const { emu, drive, clock } = await timed({ bufferBytes: 2 * MIB, seekMs: seek });
    await drive.write10(0, data(1 * MIB, 0x11));
    expect(clock.t).toBe(0);
    const cached = await drive.read10(16, 16);
    expect(clock.t).toBe(0); // still in the buffer
    expect(cached.equals(data(32 * KIB, 0x11))).toBe(true);
    await drive.read10(2000, 16);
    close(clock, ms(1 * MIB) + seek + ms(32 * KIB));
    expect(emu.timingStats).toMatchObject({ bytesReadFromBuffer: 32 * KIB, bytesRead: 32 * KIB });
    await emu.close();
  });

  test('SYNCHRONIZE CACHE with IMMED returns at once; a later one still waits for the drain', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 2 * MIB });
    await drive.write10(0, data(1 * MIB));
    await drive.synchronizeCache(true);
    expect(clock.t).toBe(0);
    await drive.run(cdb.synchronizeCache(false), 'none', 0);
    close(clock, ms(1 * MIB));
    await emu.close();
  });

  test('the medium banks no idle time: after a pause the buffer fills again from empty', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 256 * KIB });
    await drive.write10(0, data(256 * KIB));
    clock.t = 10_000; // the host was busy elsewhere; the medium finished long ago
    await drive.write10(128, data(256 * KIB));
    expect(clock.t).toBe(10_000);
    await drive.write10(256, data(32 * KIB));
    close(clock, 10_000 + ms(32 * KIB));
    await emu.close();
  });

  test('SET STREAMING below the rated speed slows the medium', async () => {
    const { emu, drive, clock } = await timed({ bufferBytes: 0 });
    await drive.setWriteSpeed(1385, MEDIA['dvd+rw'].profile, 4096); // 1x
    await drive.write10(0, data(64 * KIB));
    close(clock, (64 * KIB) / 1385);
    await emu.close();
  });

  test('no speed= and no seek=: no timing at all', async () => {
    const clock = new FakeClock();
    const { emu, drive } = await emuDrive(dir, 'dvd+rw', { formatted: true, clock }, `t${++n}.img`);
    await drive.waitReady();
    await drive.write10(0, data(1 * MIB));
    await drive.synchronizeCache();
    expect(clock.sleeps).toBe(0);
    expect(emu.timingStats).toBeUndefined();
    await emu.close();
  });

  test('buffer= in the SOURCE string', () => {
    expect(parseEmuSource('emu:cdrw:/tmp/a.img,speed=10,buffer=4m').options).toEqual({ speed: 10, bufferBytes: 4 * MIB });
    expect(parseEmuSource('emu:cdrw:/tmp/a.img,buffer=512k').options).toEqual({ bufferBytes: 512 * KIB });
    expect(parseEmuSource('emu:cdrw:/tmp/a.img,buffer=0').options).toEqual({ bufferBytes: 0 });
    expect(() => parseEmuSource('emu:cdrw:/tmp/a.img,buffer=2g')).toThrow(/buffer=2g/);
  });
});
