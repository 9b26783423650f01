/**
 * src/drive/describe.ts and src/drive/mmc/speeds.ts: what `pktfs info` learns
 * from a drive. The emulated drive answers neither GET PERFORMANCE nor page 2Ah,
 * so a thin transport in front of it answers them as a burner does, byte for
 * byte per MMC-6 6.8.2.2 and MMC-3 table 361.
 */
import * as path from 'path';
import { describeDrive } from '../../src/drive/describe';
import { EmulatedDrive } from '../../src/drive/emu/drive';
import { MmcDrive } from '../../src/drive/mmc/drive';
import { modeSenseData } from '../../src/drive/mmc/modepages';
import {
  decodeCapabilitiesPage, decodeWriteSpeedDescriptors, GET_PERFORMANCE, getPerformanceCdb, PAGE_CAPABILITIES,
} from '../../src/drive/mmc/speeds';
import type { DataDirection, ScsiResult, ScsiTransport } from '../../src/drive/scsi/transport';
import { makeTempDir, removeTempDir } from '../helpers/tmp';

let dir: string;
beforeAll(() => {
  dir = makeTempDir('describe');
});
afterAll(() => removeTempDir(dir));

/** GET PERFORMANCE type 03h reply: 8-byte header, then 16-byte Write Speed descriptors. */
function performanceReply(speeds: number[]): Buffer {
  const b = Buffer.alloc(8 + 16 * speeds.length);
  b.writeUInt32BE(b.length - 4, 0);
  speeds.forEach((s, i) => {
    const p = 8 + 16 * i;
    b[p] = 0x02; // Exact
    b.writeUInt32BE(0x0023ffff, p + 4); // end LBA
    b.writeUInt32BE(11080, p + 8); // read speed
    b.writeUInt32BE(s, p + 12);
  });
  return b;
}

/** Page 2Ah with the current write speed and n Logical Unit Write Speed Performance Descriptors. */
function capabilitiesPage(current: number, speeds: number[]): Buffer {
  const b = Buffer.alloc(32 + 4 * speeds.length);
  b[0] = PAGE_CAPABILITIES;
  b[1] = b.length - 2;
  b.writeUInt16BE(speeds[0] ?? 0, 18); // obsolete maximum write speed
  b.writeUInt16BE(current, 28);
  b.writeUInt16BE(speeds.length, 30);
  speeds.forEach((s, i) => b.writeUInt16BE(s, 32 + 4 * i + 2));
  return b;
}

/** The emulated drive, with GET PERFORMANCE and/or page 2Ah answered in front of it. */
class SpeedReporting implements ScsiTransport {
  readonly name: string;
  constructor(private readonly inner: EmulatedDrive, private readonly perf?: Buffer, private readonly page?: Buffer) {
    this.name = inner.name;
  }

  async execute(cdb: Buffer, dir: DataDirection, data: Buffer | number, timeoutMs: number): Promise<ScsiResult> {
    const alloc = typeof data === 'number' ? data : data.length;
    const reply = (b: Buffer): ScsiResult => ({ status: 0, sense: Buffer.alloc(0), data: b.subarray(0, alloc), residual: Math.max(0, alloc - b.length) });
    if (cdb[0] === GET_PERFORMANCE && this.perf) return reply(this.perf);
    if (cdb[0] === 0x5a && (cdb[2] & 0x3f) === PAGE_CAPABILITIES && this.page) return reply(modeSenseData(this.page));
    return this.inner.execute(cdb, dir, data, timeoutMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

test('GET PERFORMANCE CDB: opcode, maximum descriptors, type 03h', () => {
  expect([...getPerformanceCdb(3, 64)]).toEqual([0xac, 0, 0, 0, 0, 0, 0, 0, 0, 64, 3, 0]);
});

test('write speed descriptors and page 2Ah decode to kB/s, fastest first, without repeats', () => {
  expect(decodeWriteSpeedDescriptors(performanceReply([5540, 11080, 5540, 2770]))).toEqual([11080, 5540, 2770]);
  expect(decodeWriteSpeedDescriptors(Buffer.alloc(4))).toEqual([]);
  expect(decodeCapabilitiesPage(capabilitiesPage(1411, [706, 1411, 2822]))).toEqual({ supportedKBs: [2822, 1411, 706], currentKBs: 1411 });
  // an old drive without descriptors: only the obsolete maximum (bytes 18..19) and current (20..21)
  const old = Buffer.alloc(24);
  old[0] = PAGE_CAPABILITIES;
  old.writeUInt16BE(1764, 18);
  old.writeUInt16BE(706, 20);
  expect(decodeCapabilitiesPage(old)).toEqual({ supportedKBs: [1764], currentKBs: 706 });
});

test('describeDrive: write speeds from GET PERFORMANCE, else from page 2Ah, else none', async () => {
  const img = path.join(dir, 'speeds.img');
  const open = async (perf?: Buffer, page?: Buffer) =>
    describeDrive(new MmcDrive(new SpeedReporting(await EmulatedDrive.open('dvdram', img, { size: 2048 }), perf, page)));

  let d = await open(performanceReply([2770, 5540]), capabilitiesPage(5540, [1385]));
  expect(d.facts).toMatchObject({ type: 'drive', oneXKBs: 1385, writeSpeeds: { supportedKBs: [5540, 2770], currentKBs: 5540, source: 'get-performance' } });
  await d.close();

  d = await open(undefined, capabilitiesPage(2770, [1385, 2770]));
  expect(d.facts).toMatchObject({ writeSpeeds: { supportedKBs: [2770, 1385], currentKBs: 2770, source: 'mode-page-2a' } });
  await d.close();

  d = await open();
  expect(d.facts.type === 'drive' && d.facts.writeSpeeds).toBeUndefined();
  await d.close();
});

test('describeDrive with no disc in the drive: the drive identified, medium "none", nothing to read', async () => {
  const emu = await EmulatedDrive.open('cdrw', path.join(dir, 'nodisc.img'), { size: 1024 });
  await emu.removeMedium();
  const d = await describeDrive(new MmcDrive(emu));
  expect(d.facts).toMatchObject({ type: 'drive', vendor: 'PKTFS', model: 'EMU CD-RW', medium: 'none', writable: false, readOnlyReason: 'no disc in the drive' });
  expect(d.device).toBeUndefined();
  await d.close();
});
