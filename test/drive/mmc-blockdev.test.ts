/**
 * MmcBlockDevice and openSource over the emulated drive: reads and writes,
 * packet rules, wear and defects, write-once and blank discs, a disc pulled
 * out mid-copy, retries on busy drives, tray locking and DVD+RW finalising.
 */
import { readFileSync, writeFileSync } from 'fs';
import { openSource, openMmcDrive } from '../../src/drive/open';
import { MmcBlockDevice } from '../../src/drive/mmc/blockdev';
import { MmcDrive } from '../../src/drive/mmc/drive';
import { ImageDevice } from '../../src/drive/image';
import { EmulatedDrive } from '../../src/drive/emu/drive';
import { MEDIA, type EmuProfileName } from '../../src/drive/emu/media';
import { ScsiError } from '../../src/drive/scsi/sense';
import { isFsError } from '../../src/errors';
import { emuDrive, expectSense, REWRITABLE, SMALL, TempDir, WRITE_ONCE } from './emu-fixture';

let dir: TempDir;
beforeAll(() => { dir = new TempDir(); });
afterAll(() => dir.remove());

const PACKET: Record<string, [number, string]> = {
  cdrw: [32, 'track'], dvdrw: [16, 'track'], 'dvd+rw': [16, 'blocking'], dvdram: [16, 'blocking'], bdre: [32, 'blocking'],
};

async function openEmu(profile: EmuProfileName, name: string, opts = '', readOnly = false) {
  const path = dir.file(name);
  const dev = (await openSource(`emu:${profile}:${path},size=${SMALL},formatted=yes${opts}`, {
    readOnly, mmc: { retryDelayMs: 1 },
  })) as MmcBlockDevice;
  expect(dev).toBeInstanceOf(MmcBlockDevice);
  return { dev, emu: dev.drive.transport as EmulatedDrive, path };
}

function pattern(sectors: number, seed: number): Buffer {
  const b = Buffer.alloc(sectors * 2048);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

describe.each(REWRITABLE)('MmcBlockDevice on %s', (profile) => {
  const [packet, source] = PACKET[profile];

  test('probes packet size, reads and writes whole packets, syncs before reading back', async () => {
    const { dev, emu, path } = await openEmu(profile, `${profile}-bd.img`);
    expect(dev.readOnly).toBe(false);
    expect(dev.sectorSize).toBe(2048);
    expect(dev.sectorCount).toBe(SMALL);
    expect(dev.packetSize).toBe(packet);
    expect(dev.settings.packetSource).toBe(source);
    expect(dev.settings.hardwareDefectManagement).toBe(MEDIA[profile].hardwareDefectManagement);
    expect(dev.description).toContain(`packets of ${packet}`);
    // the emulated drive takes 256 KiB per command, as max_sectors_kb of a SATA burner
    expect(dev.maxTransferBytes).toBe(256 * 1024);
    const data = pattern(packet * 10, 7); // 10 packets: more than one 256 KiB transfer
    await dev.write(packet * 2, data);
    const back = await dev.read(packet * 2, packet * 10);
    expect(back.equals(data)).toBe(true);
    // the write was cut into whole aligned packets, and SYNCHRONIZE CACHE came before the read
    const writes = emu.log.filter((e) => e.name === 'WRITE(10)');
    expect(writes.length).toBeGreaterThan(1);
    for (const w of writes) {
      expect(w.lba! % packet).toBe(0);
      expect(w.count! % packet).toBe(0);
      expect(w.count!).toBeLessThanOrEqual(128);
    }
    const names = emu.log.map((e) => e.name);
    expect(names.lastIndexOf('SYNCHRONIZE CACHE')).toBeGreaterThan(names.lastIndexOf('WRITE(10)'));
    expect(names.indexOf('READ(10)')).toBeGreaterThan(names.lastIndexOf('SYNCHRONIZE CACHE'));
    expect(names).toContain('PREVENT ALLOW MEDIUM REMOVAL');
    await dev.flush();
    await dev.close();
    expect(readFileSync(path).subarray(packet * 2 * 2048, packet * 12 * 2048).equals(data)).toBe(true);
    const closing = emu.log.slice(-3).map((e) => e.name);
    expect(closing[closing.length - 1]).toBe('PREVENT ALLOW MEDIUM REMOVAL');
    if (profile === 'dvd+rw') expect(closing.slice(0, 2)).toEqual(['CLOSE TRACK SESSION', 'CLOSE TRACK SESSION']);
    else expect(emu.log.map((e) => e.name)).not.toContain('CLOSE TRACK SESSION');
  });

  test('a sector past its rewrite limit gives MEDIUM ERROR 03/0C/00 (or is remapped by the drive)', async () => {
    const { dev, emu } = await openEmu(profile, `${profile}-wear.img`, ',wear=2,spare=1');
    const data = pattern(packet, 1);
    await dev.write(0, data);
    await dev.write(0, data);
    if (MEDIA[profile].hardwareDefectManagement) {
      // the drive remaps the first worn sector into its one spare, then runs out
      await expectSense(dev.write(0, data), 3, 0x32, 0x00);
      expect(emu.disc!.state.remapped).toEqual([0]);
    } else {
      const e = await expectSense(dev.write(0, data), 3, 0x0c, 0x00);
      expect(e.information).toBe(0);
      expect(e.errno).toBe('EIO');
      expect(e.message).toContain('MEDIUM ERROR: WRITE ERROR');
    }
    await dev.write(packet, data); // other sectors still fine
    await dev.close();
  });

  test('an injected defect gives MEDIUM ERROR on write, a read defect on read', async () => {
    const { dev, emu } = await openEmu(profile, `${profile}-defect.img`, `,defects=${packet + 3},rdefects=5,spare=0`);
    const data = pattern(packet * 3, 2);
    const hdm = MEDIA[profile].hardwareDefectManagement;
    const e = await expectSense(dev.write(0, data), 3, hdm ? 0x32 : 0x0c, 0);
    expect(e.information).toBe(packet + 3);
    // sectors before the failing packet (packet media) or sector (others) were written
    const written = emu.disc!.writeCount(packet - 1);
    expect(written).toBe(1);
    expect(emu.disc!.writeCount(packet + 3)).toBe(0);
    if (!hdm) expect(emu.disc!.writeCount(packet)).toBe(MEDIA[profile].packetSize > 0 ? 0 : 1);
    await expectSense(dev.read(4, 2), 3, 0x11, 0x00);
    await dev.close();
  });

  test('a disc pulled out mid-copy makes every operation fail with ENOMEDIUM; close still works', async () => {
    const { dev, emu } = await openEmu(profile, `${profile}-pull.img`);
    const copy = (async () => {
      for (let i = 0; i < 20; i++) await dev.write(i * packet, pattern(packet, i));
    })();
    await new Promise((r) => setImmediate(r));
    await emu.removeMedium();
    const err = await copy.then(() => undefined, (e: unknown) => e);
    expect(isFsError(err, 'ENOMEDIUM')).toBe(true);
    expect((err as ScsiError).senseName).toBe('NOT READY: MEDIUM NOT PRESENT');
    await expect(dev.read(0, 1)).rejects.toMatchObject({ errno: 'ENOMEDIUM' });
    await expect(dev.flush()).rejects.toMatchObject({ errno: 'ENOMEDIUM' });
    // a disc put back is not trusted: the device stays gone
    await emu.insertMedium();
    await expect(dev.read(0, 1)).rejects.toMatchObject({ errno: 'ENOMEDIUM' });
    await dev.close();
    expect(emu.log[emu.log.length - 1]).toMatchObject({ name: 'PREVENT ALLOW MEDIUM REMOVAL' });
  });
});

describe('packet rules on CD-RW and DVD-RW', () => {
  test.each([['cdrw', 32], ['dvdrw', 16]] as const)('%s: a write that is not whole aligned packets is ILLEGAL REQUEST 05/21/02', async (p, size) => {
    const { dev } = await openEmu(p, `${p}-align.img`);
    for (const [lba, sectors] of [[1, size], [0, size - 1], [size / 2, size], [0, size + 1]]) {
      const e = await expectSense(dev.write(lba, Buffer.alloc(sectors * 2048)), 5, 0x21, 0x02);
      expect(e).toBeInstanceOf(ScsiError);
      expect(e.opcode).toBe(0x2a);
      expect(e.senseName).toBe('ILLEGAL REQUEST: INVALID ADDRESS FOR WRITE');
    }
    await dev.write(size, Buffer.alloc(size * 2048));
    await dev.close();
  });

  test('DVD+RW, DVD-RAM and BD-RE take any write (the drive does read-modify-write)', async () => {
    for (const p of ['dvd+rw', 'dvdram', 'bdre'] as const) {
      const { dev } = await openEmu(p, `${p}-any.img`);
      await dev.write(3, pattern(5, 3));
      expect((await dev.read(3, 5)).equals(pattern(5, 3))).toBe(true);
      await dev.close();
    }
  });

  test('CD-RW: opening for write sets page 05h to fixed packets of the disc, Mode 2', async () => {
    const { dev } = await openEmu('cdrw', 'cd-page5.img');
    expect(await dev.drive.getWriteParameters()).toMatchObject({
      writeType: 0, fixedPacket: true, packetSize: 32, dataBlockType: 10, sessionFormat: 0x20, multiSession: 0, subHeader: 0x800,
    });
    await dev.close();
  });
});

describe('discs pktfs cannot write open read-only, with the reason', () => {
  test.each(WRITE_ONCE)('%s', async (p) => {
    const path = dir.file(`${p}-ro.img`);
    writeFileSync(path, pattern(64, 9));
    const dev = (await openSource(`emu:${p}:${path}`)) as MmcBlockDevice;
    expect(dev.readOnly).toBe(true);
    expect(dev.readOnlyReason).toMatch(/is a write-once disc/);
    expect(dev.sectorCount).toBe(64);
    expect((await dev.read(10, 4)).equals(pattern(64, 9).subarray(10 * 2048, 14 * 2048))).toBe(true);
    await expect(dev.write(0, Buffer.alloc(2048))).rejects.toMatchObject({ errno: 'EROFS' });
    // and the drive itself refuses, as a real one does
    await expectSense(dev.drive.write10(0, Buffer.alloc(2048 * 16)), 5, 0x21, 0x02);
    await dev.close();
  });

  test.each([
    ['cdrw', /CD-RW disc is blank; format it/],
    ['dvdrw', /sequential recording mode/],
    ['dvd+rw', /DVD\+RW disc is not formatted/],
    ['bdre', /BD-RE disc is not formatted/],
  ] as const)('blank %s', async (p, why) => {
    const dev = (await openSource(`emu:${p}:${dir.file(`${p}-blank.img`)},size=${SMALL}`)) as MmcBlockDevice;
    expect(dev.readOnly).toBe(true);
    expect(dev.readOnlyReason).toMatch(why);
    expect(dev.sectorCount).toBe(0);
    expect(dev.description).toContain('read-only');
    await dev.close();
  });

  test('a writable disc opened read-only', async () => {
    const { dev, emu } = await openEmu('dvdram', 'ro-ram.img', '', true);
    expect(dev.readOnly).toBe(true);
    expect(dev.readOnlyReason).toBe('opened read-only');
    await expect(dev.write(0, Buffer.alloc(2048))).rejects.toMatchObject({ errno: 'EROFS' });
    await dev.close();
    expect(emu.log.map((e) => e.name)).not.toContain('PREVENT ALLOW MEDIUM REMOVAL');
  });
});

describe('MmcDrive retries', () => {
  test.each([[0x01, 'becoming ready'], [0x08, 'long write in progress']])('NOT READY 02/04/%i (%s) is retried', async (ascq) => {
    const { emu, drive } = await emuDrive(dir, 'dvdram', {}, `retry-${ascq}.img`);
    await drive.waitReady();
    emu.injectNotReady(3, ascq);
    await drive.write10(0, Buffer.alloc(2048));
    const tries = emu.log.filter((e) => e.name === 'WRITE(10)');
    expect(tries.map((e) => e.sense)).toEqual([`02/04/0${ascq}`, `02/04/0${ascq}`, `02/04/0${ascq}`, undefined]);
    await emu.close();
  });

  test('retries are bounded', async () => {
    const emu = await EmulatedDrive.open('dvdram', dir.file('retry-bound.img'), { size: SMALL });
    const drive = new MmcDrive(emu, { retries: 4, retryDelayMs: 1 });
    await drive.waitReady();
    emu.injectNotReady(100, 0x01);
    const e = await expectSense(drive.testUnitReady(), 2, 0x04, 0x01);
    expect(e.errno).toBe('EIO');
    expect(emu.log.filter((x) => x.name === 'TEST UNIT READY' && x.sense === '02/04/01')).toHaveLength(5);
    await emu.close();
  });

  test('a write error is not retried', async () => {
    const { emu, drive } = await emuDrive(dir, 'dvd+rw', { formatted: true, defects: [[0, 0]] }, 'noretry.img');
    await drive.waitReady();
    await expectSense(drive.write10(0, Buffer.alloc(2048)), 3, 0x0c, 0);
    expect(emu.log.filter((x) => x.name === 'WRITE(10)')).toHaveLength(1);
    await emu.close();
  });

  test('opening a drive without a disc is ENOMEDIUM', async () => {
    const { emu } = await emuDrive(dir, 'cdrw', {}, 'empty-tray.img');
    await emu.removeMedium();
    const e = await MmcBlockDevice.open(new MmcDrive(emu, { retryDelayMs: 1 })).catch((x: unknown) => x);
    expect(isFsError(e, 'ENOMEDIUM')).toBe(true);
    await emu.close();
  });
});

describe('openSource', () => {
  test('an image file opens as ImageDevice', async () => {
    const path = dir.file('plain.img');
    writeFileSync(path, Buffer.alloc(8 * 2048));
    const dev = await openSource(path, { sectorSize: 2048 });
    expect(dev).toBeInstanceOf(ImageDevice);
    expect(dev.sectorCount).toBe(8);
    await dev.close();
    expect(await openMmcDrive(path)).toBeUndefined();
  });

  test('missing paths and drive nodes are ENOENT', async () => {
    await expect(openSource(dir.file('nope.img'))).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(openSource('/dev/sg97')).rejects.toMatchObject({ errno: 'ENOENT' });
  });

  test('a bad emu SOURCE is EINVAL with the syntax', async () => {
    await expect(openSource('emu:floppy:/tmp/x')).rejects.toThrow(/unknown profile "floppy".*emu:PROFILE:PATH/);
  });

  test('openMmcDrive gives the drive behind an emu SOURCE, for format and info', async () => {
    const drive = (await openMmcDrive(`emu:bdre:${dir.file('fmt.img')},size=${SMALL}`))!;
    await drive.waitReady();
    await drive.formatUnit({ immed: false, disableCertification: true, descriptor: { blocks: SMALL, formatType: 0x30, param: 0 } });
    await drive.close();
    const dev = await openSource(`emu:bdre:${dir.file('fmt.img')}`);
    expect(dev.readOnly).toBe(false);
    await dev.close();
  });
});

describe('write-protected disc', () => {
  test('writes get DATA PROTECT 07/27/00, surfaced as EROFS; reads work', async () => {
    const path = dir.file('wp.img');
    writeFileSync(path, pattern(64, 4));
    const dev = (await openSource(`emu:dvdram:${path},protect=yes`)) as MmcBlockDevice;
    expect((await dev.read(0, 64)).equals(pattern(64, 4))).toBe(true);
    const e = await expectSense(dev.write(0, Buffer.alloc(2048)), 7, 0x27, 0);
    expect(e.errno).toBe('EROFS');
    await expectSense(dev.drive.formatUnit({ immed: false, disableCertification: true, descriptor: { blocks: 64, formatType: 0, param: 2048 } }), 7, 0x27, 0);
    await dev.close();
    expect(readFileSync(path).equals(pattern(64, 4))).toBe(true);
  });
});

describe('write speed', () => {
  test.each([['cdrw', 'SET CD SPEED', 706], ['bdre', 'SET STREAMING', 8990]] as const)('%s: %s', async (p, cmd, kBs) => {
    const path = dir.file(`${p}-speed.img`);
    const dev = (await openSource(`emu:${p}:${path},size=${SMALL},formatted=yes`, { mmcOpen: { writeSpeedKBs: kBs } })) as MmcBlockDevice;
    const emu = dev.drive.transport as EmulatedDrive;
    expect(emu.log.map((e) => e.name)).toContain(cmd);
    expect(emu.speeds.writeKBs).toBe(kBs);
    await dev.close();
  });
});

describe('largest transfer per command', () => {
  test('maxTransferSectors overrides the transport\'s limit, rounded down to whole packets', async () => {
    const path = dir.file('cdrw-max.img');
    const dev = (await openSource(`emu:cdrw:${path},size=${SMALL},formatted=yes`, {
      mmc: { retryDelayMs: 1 }, mmcOpen: { maxTransferSectors: 100 },
    })) as MmcBlockDevice;
    expect(dev.maxTransferBytes).toBe(96 * 2048); // three packets of 32
    const emu = dev.drive.transport as EmulatedDrive;
    await dev.write(0, pattern(32 * 5, 3));
    expect(emu.log.filter((e) => e.name === 'WRITE(10)').map((e) => e.count)).toEqual([96, 64]);
    await dev.close();
  });

  test('the host limit of a real drive comes from sysfs (max_sectors_kb of the sr device)', async () => {
    const { mkdirSync } = await import('fs');
    const { hostMaxTransfer } = await import('../../src/drive/scsi/sgio');
    const sys = dir.file('sys');
    mkdirSync(`${sys}/block/sr3/queue`, { recursive: true });
    writeFileSync(`${sys}/block/sr3/queue/max_sectors_kb`, '120\n');
    mkdirSync(`${sys}/class/scsi_generic/sg7/device/block/sr3`, { recursive: true });
    writeFileSync(dir.file('sr3'), '');
    writeFileSync(dir.file('sg7'), '');
    expect(await hostMaxTransfer(dir.file('sr3'), sys)).toBe(120 * 1024);
    expect(await hostMaxTransfer(dir.file('sg7'), sys)).toBe(120 * 1024);
    expect(await hostMaxTransfer(dir.file('sg8'), sys)).toBeUndefined();
    expect(await hostMaxTransfer(dir.file('cdrw-max.img'), sys)).toBeUndefined();
  });
});
