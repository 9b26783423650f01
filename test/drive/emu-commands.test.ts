/**
 * Every MMC command pktfs uses, against every profile of the emulated drive,
 * through MmcDrive: the answers a drive of that kind gives, and its errors.
 */
import { existsSync, readFileSync, statSync } from 'fs';
import { Feature, findFeature } from '../../src/drive/mmc/config';
import { DiscStatus, SessionState } from '../../src/drive/mmc/discinfo';
import { CapacityType, FormatType, type FormatRequest } from '../../src/drive/mmc/format';
import { WriteType } from '../../src/drive/mmc/modepages';
import { Profile } from '../../src/drive/mmc/opcodes';
import { MediaEvent } from '../../src/drive/mmc/replies';
import * as cdb from '../../src/drive/mmc/cdb';
import { MEDIA, type EmuProfileName } from '../../src/drive/emu/media';
import { decodeSense } from '../../src/drive/scsi/sense';
import type { MmcDrive } from '../../src/drive/mmc/drive';
import { ALL_PROFILES, emuDrive, expectSense, REWRITABLE, SMALL, TempDir, WRITE_ONCE } from './emu-fixture';

const FORMAT: Record<string, { type: number; param: number }> = {
  cdrw: { type: FormatType.CD_DVD_RW_FULL, param: 32 },
  dvdrw: { type: FormatType.DVD_RW_QUICK, param: 16 },
  'dvd+rw': { type: FormatType.DVD_PLUS_RW_FULL, param: 0 },
  dvdram: { type: FormatType.FULL, param: 2048 },
  bdre: { type: FormatType.BD_RE_FULL_SPARE, param: 0 },
};
const request = (p: EmuProfileName): FormatRequest =>
  ({ immed: false, disableCertification: true, descriptor: { blocks: SMALL, formatType: FORMAT[p].type, param: FORMAT[p].param } });

/** Page 05h for fixed packets of 32, as a CD-RW needs before writing. */
async function setFixedPackets(drive: MmcDrive, size: number): Promise<void> {
  const w = await drive.getWriteParameters();
  await drive.setWriteParameters({ ...w, writeType: WriteType.PACKET, fixedPacket: true, packetSize: size, dataBlockType: 10 });
}

let dir: TempDir;
beforeAll(() => { dir = new TempDir(); });
afterAll(() => dir.remove());

describe.each(ALL_PROFILES)('emulated %s', (profile) => {
  const kind = MEDIA[profile];
  const rewritable = kind.rewritable;
  const startsFormatted = kind.formattedWhenNew;

  test('power-on unit attention, then INQUIRY, TEST UNIT READY, REQUEST SENSE', async () => {
    const { emu, drive, path } = await emuDrive(dir, profile, {}, `${profile}-basic.img`);
    expect(statSync(path).size).toBe(SMALL * 2048);
    // raw transport: the first command after power-on reports the reset
    const r = await emu.execute(cdb.testUnitReady(), 'none', 0, 1000);
    expect(r.status).toBe(2);
    expect(decodeSense(r.sense)).toMatchObject({ key: 6, asc: 0x29, ascq: 0 });
    await drive.testUnitReady();
    const inq = await drive.inquiry();
    expect(inq).toEqual({ deviceType: 5, removable: true, vendor: 'PKTFS', product: kind.product, revision: '1.0' });
    expect(await drive.requestSense()).toMatchObject({ key: 0, asc: 0, ascq: 0 });
    expect(await drive.requestSense(true)).toMatchObject({ key: 0, asc: 0, ascq: 0 });
    await expectSense(drive.run(Buffer.from([0xe7, 0, 0, 0, 0, 0]), 'none', 0), 5, 0x20, 0);
    await expectSense(drive.run(Buffer.from([0x12, 1, 0x80, 0, 36, 0]), 'in', 36), 5, 0x24, 0); // no VPD pages
    await emu.close();
  });

  test('GET CONFIGURATION, READ CAPACITY, disc and track information, FORMAT UNIT', async () => {
    const { emu, drive } = await emuDrive(dir, profile, {}, `${profile}-format.img`);
    await drive.waitReady();
    const before = await drive.getConfiguration();
    expect(before.currentProfile).toBe(startsFormatted ? kind.profile : kind.blankProfile);
    expect(await drive.currentProfile()).toBe(before.currentProfile);
    const list = findFeature(before, Feature.PROFILE_LIST)!;
    expect(list.profiles).toContainEqual({ profile: before.currentProfile, current: true });
    expect(findFeature(before, Feature.RANDOM_READABLE)?.current).toBe(startsFormatted);
    expect(findFeature(before, Feature.FORMATTABLE)?.current ?? false).toBe(rewritable);
    expect(findFeature(before, Feature.HARDWARE_DEFECT_MANAGEMENT)?.current ?? false).toBe(kind.hardwareDefectManagement);
    // RT=1: only current features; RT=2: just the one asked for
    expect((await drive.getConfiguration(1)).features.every((f) => f.current)).toBe(true);
    expect((await drive.getConfiguration(2, Feature.RANDOM_READABLE)).features.map((f) => f.code)).toEqual([Feature.RANDOM_READABLE]);

    const disc = await drive.readDiscInformation();
    expect(disc.erasable).toBe(rewritable);
    expect(disc.discStatus).toBe(startsFormatted ? DiscStatus.COMPLETE : DiscStatus.EMPTY);
    const track = await drive.readTrackInformation(1);
    expect(track.blank).toBe(!startsFormatted);
    expect(track.trackSize).toBe(SMALL);
    await expectSense(drive.readTrackInformation(2), 5, 0x24, 0);
    await expectSense(drive.readTrackInformation(SMALL, 0), 5, 0x21, 0);
    expect(await drive.readCapacity()).toEqual({ lastLba: startsFormatted ? SMALL - 1 : 0, blockLength: 2048 });

    const caps = await drive.readFormatCapacities();
    expect(caps.current).toEqual({
      blocks: SMALL, type: startsFormatted ? CapacityType.FORMATTED : CapacityType.UNFORMATTED, blockLength: 2048,
    });
    expect(caps.formattable.map((d) => d.formatType)).toEqual(kind.formatTypes);

    if (!rewritable) {
      await expectSense(drive.formatUnit(request('cdrw')), 5, 0x30, 0x06);
      await emu.close();
      return;
    }
    // a format type this medium does not take
    const wrong = { ...request(profile), descriptor: { blocks: SMALL, formatType: 0x24, param: 0 } };
    await expectSense(drive.formatUnit(wrong), 5, 0x26, 0);
    await drive.formatUnit(request(profile));
    const after = await drive.getConfiguration();
    expect(after.currentProfile).toBe(kind.profile);
    const rr = findFeature(after, Feature.RANDOM_READABLE)!;
    expect(rr.current).toBe(true);
    expect(rr.blocking).toBe(kind.blocking);
    if (profile === 'dvdrw') expect(findFeature(after, Feature.RESTRICTED_OVERWRITE)?.current).toBe(true);
    if (kind.hardwareDefectManagement) {
      expect(findFeature(after, Feature.RANDOM_WRITABLE)).toMatchObject({ current: true, lastLba: SMALL - 1, blockSize: 2048 });
    }
    expect((await drive.readDiscInformation()).discStatus).toBe(DiscStatus.COMPLETE);
    expect((await drive.readDiscInformation()).lastSessionState).toBe(SessionState.COMPLETE);
    const t = await drive.readTrackInformation(1);
    expect(t.blank).toBe(false);
    expect(t.fixedPacket).toBe(kind.packetSize > 0);
    expect(t.packet).toBe(kind.packetSize > 0);
    expect(t.fixedPacketSize).toBe(kind.packetSize);
    expect(t.lraValid).toBe(true);
    expect(await drive.readCapacity()).toEqual({ lastLba: SMALL - 1, blockLength: 2048 });
    expect((await drive.readFormatCapacities()).current.type).toBe(CapacityType.FORMATTED);
    await emu.close();
  });

  test('READ and WRITE (10) and (12), SYNCHRONIZE CACHE, past the end, the sidecar', async () => {
    const { emu, drive, path } = await emuDrive(dir, profile, {}, `${profile}-rw.img`);
    await drive.waitReady();
    const unit = kind.packetSize || 16;
    const data = Buffer.alloc(unit * 2048);
    for (let i = 0; i < data.length; i += 2048) data.write(`${profile} sector ${i / 2048}`, i);
    if (!rewritable) {
      await expectSense(drive.write10(0, data), 5, 0x21, 0x02);
      expect((await drive.read10(0, 1)).length).toBe(2048);
      await expectSense(drive.read10(SMALL - 1, 2), 5, 0x21, 0x00);
      await emu.close();
      return;
    }
    if (!startsFormatted) {
      await expectSense(drive.write10(0, data), 5, 0x30, 0x05);
      await expectSense(drive.read10(0, 1), 5, 0x30, 0x02);
      await drive.formatUnit(request(profile));
    }
    if (profile === 'cdrw') {
      await expectSense(drive.write10(0, data), 5, 0x64, 0x00); // page 05h still track-at-once
      await setFixedPackets(drive, 32);
    }
    await drive.write10(unit, data);
    await drive.write12(unit * 3, data);
    expect((await drive.read10(unit, unit)).equals(data)).toBe(true);
    expect((await drive.run(cdb.read12(unit * 3, unit), 'in', unit * 2048)).equals(data)).toBe(true);
    await expectSense(drive.read10(SMALL - 1, 2), 5, 0x21, 0x00);
    await expectSense(drive.write10(SMALL - unit, Buffer.concat([data, data])), 5, 0x21, 0x00);
    await drive.synchronizeCache();
    // the image holds plain user data at lba * 2048, for other tools
    const image = readFileSync(path);
    expect(image.subarray(unit * 2048, unit * 2 * 2048).equals(data)).toBe(true);
    const side = JSON.parse(readFileSync(`${path}.emu.json`, 'utf8'));
    expect(side).toMatchObject({ format: 'pktfs-emu/1', profile, formatted: true, packetSize: kind.packetSize });
    expect(side.wear).toEqual([[unit, unit, 1], [unit * 3, unit, 1]]);
    await emu.close();
  });

  test('MODE SENSE / MODE SELECT: write parameters and caching pages', async () => {
    const { emu, drive } = await emuDrive(dir, profile, {}, `${profile}-mode.img`);
    await drive.waitReady();
    const w = await drive.getWriteParameters();
    expect(w.writeType).toBe(WriteType.TAO);
    await setFixedPackets(drive, 32);
    expect(await drive.getWriteParameters()).toMatchObject({ writeType: WriteType.PACKET, fixedPacket: true, packetSize: 32 });
    // default values (PC=2) are still those of power-on
    expect((await drive.modeSense(5, 2))[2] & 0x0f).toBe(WriteType.TAO);
    await drive.setCaching({ writeCache: true, readCacheDisable: false });
    expect(await drive.getCaching()).toEqual({ writeCache: true, readCacheDisable: false });
    await expectSense(drive.modeSense(0x1c), 5, 0x24, 0);
    await expectSense(drive.setWriteParameters({ ...w, writeType: WriteType.PACKET, fixedPacket: true, packetSize: 0 }), 5, 0x26, 0);
    await emu.close();
  });

  test('BLANK, SET CD SPEED, SET STREAMING, CLOSE TRACK/SESSION', async () => {
    const { emu, drive, path } = await emuDrive(dir, profile, {}, `${profile}-misc.img`);
    await drive.waitReady();
    await drive.setCdSpeed(0xffff, 4 * 176);
    await drive.setStreaming({ restoreDefaults: false, startLba: 0, endLba: SMALL - 1, readKB: 11080, readMs: 1000, writeKB: 5540, writeMs: 1000 });
    await expectSense(drive.run(cdb.setStreaming(4), 'out', Buffer.alloc(4)), 5, 0x1a, 0);
    if (!rewritable) {
      await expectSense(drive.blank(1), 5, 0x30, 0x00);
      await expectSense(drive.closeTrackSession(1, 1), 5, 0x2c, 0);
      await emu.close();
      return;
    }
    if (!startsFormatted) await expectSense(drive.closeTrackSession(2, 1), 5, 0x2c, 0); // nothing to close on a blank disc
    await drive.formatUnit(request(profile));
    await drive.closeTrackSession(1, 1);
    await drive.closeTrackSession(2, 1);
    if (kind.blankable) {
      await drive.blank(1);
      expect((await drive.readDiscInformation()).discStatus).toBe(DiscStatus.EMPTY);
      expect(await drive.currentProfile()).toBe(kind.blankProfile);
      expect(JSON.parse(readFileSync(`${path}.emu.json`, 'utf8')).formatted).toBe(false);
    } else {
      await expectSense(drive.blank(0), 5, 0x30, 0x00);
    }
    await emu.close();
  });

  test('PREVENT ALLOW MEDIUM REMOVAL, eject, GET EVENT STATUS NOTIFICATION, no medium', async () => {
    const { emu, drive } = await emuDrive(dir, profile, {}, `${profile}-tray.img`);
    await drive.waitReady();
    expect(await drive.mediaEvent()).toEqual({ noEventAvailable: false, eventCode: MediaEvent.NO_CHANGE, mediaPresent: true, trayOpen: false });
    await drive.preventRemoval(true);
    await expectSense(drive.loadEject(false), 5, 0x53, 0x02);
    await drive.preventRemoval(false);
    await drive.loadEject(false);
    expect(await drive.mediaEvent()).toMatchObject({ eventCode: MediaEvent.MEDIA_REMOVAL, mediaPresent: false, trayOpen: true });
    await expectSense(drive.testUnitReady(), 2, 0x3a, 0);
    await expectSense(drive.readCapacity(), 2, 0x3a, 0);
    await expectSense(drive.read10(0, 1), 2, 0x3a, 0);
    expect((await drive.readFormatCapacities()).current.type).toBe(CapacityType.NO_MEDIUM);
    expect(await drive.requestSense()).toMatchObject({ key: 2, asc: 0x3a });
    expect(await drive.currentProfile()).toBe(Profile.NONE);
    await drive.loadEject(true);
    expect(await drive.mediaEvent()).toMatchObject({ eventCode: MediaEvent.NEW_MEDIA, mediaPresent: true });
    await expectSense(drive.testUnitReady(), 6, 0x28, 0);
    await drive.testUnitReady();
    await emu.close();
  });
});

describe('emulated drive details', () => {
  test('a new image is sparse and as big as the medium', async () => {
    const { emu, path } = await emuDrive(dir, 'bdre', { size: undefined }, 'full-bdre.img');
    const st = statSync(path);
    expect(st.size).toBe(MEDIA.bdre.sectors * 2048);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
    await emu.close();
  });

  test('an existing image without sidecar is taken as a formatted disc of its size', async () => {
    const a = await emuDrive(dir, 'cdrw', { size: 640, formatted: true }, 'plain.img');
    await a.emu.close();
    require('fs').unlinkSync(`${a.path}.emu.json`);
    const b = await emuDrive(dir, 'cdrw', {}, 'plain.img');
    await b.drive.waitReady();
    expect(await b.drive.readCapacity()).toEqual({ lastLba: 639, blockLength: 2048 });
    expect((await b.drive.readTrackInformation(1)).fixedPacketSize).toBe(32);
    await b.emu.close();
  });

  test('the sidecar must match the profile', async () => {
    const a = await emuDrive(dir, 'dvdrw', {}, 'mismatch.img');
    await a.emu.close();
    await expect(emuDrive(dir, 'cdrw', {}, 'mismatch.img')).rejects.toThrow('the emulated disc is a dvdrw, not a cdrw');
  });

  test('CD-RW formatted with another packet size reports it', async () => {
    const { emu, drive } = await emuDrive(dir, 'cdrw', {}, 'cd16.img');
    await drive.waitReady();
    await drive.formatUnit({ immed: false, disableCertification: true, descriptor: { blocks: SMALL, formatType: 0x10, param: 16 } });
    expect((await drive.readTrackInformation(1)).fixedPacketSize).toBe(16);
    await expectSense(drive.formatUnit({ immed: false, disableCertification: true, descriptor: { blocks: SMALL + 1, formatType: 0x10, param: 32 } }), 5, 0x26, 0);
    await emu.close();
  });

  test('descriptor-format sense decodes the same', async () => {
    const { emu, drive } = await emuDrive(dir, 'cdr', { descriptorSense: true }, 'desc.img');
    await drive.waitReady();
    const r = await emu.execute(cdb.read10(SMALL, 1), 'in', 2048, 1000);
    expect(r.sense[0]).toBe(0x72);
    await expectSense(drive.read10(SMALL, 1), 5, 0x21, 0);
    await emu.close();
  });

  test('the command log records opcode, LBA and length, and the JSON-lines log file too', async () => {
    const logPath = dir.file('cmd.log');
    const { emu, drive } = await emuDrive(dir, 'dvdram', { logPath }, 'log.img');
    await drive.waitReady();
    await drive.write10(32, Buffer.alloc(3 * 2048));
    await drive.read10(32, 3);
    await emu.close();
    const rw = emu.log.filter((e) => e.lba !== undefined).map(({ name, lba, count }) => ({ name, lba, count }));
    expect(rw).toEqual([{ name: 'WRITE(10)', lba: 32, count: 3 }, { name: 'READ(10)', lba: 32, count: 3 }]);
    expect(emu.log[0]).toMatchObject({ name: 'TEST UNIT READY', sense: '06/29/00' });
    const lines = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(emu.log);
    expect(existsSync(logPath)).toBe(true);
  });

  test('the timing model makes transfers take time at the given speed', async () => {
    const { emu, drive } = await emuDrive(dir, 'cdr', { speed: 4 }, 'slow.img');
    await drive.waitReady();
    const t0 = Date.now();
    await drive.read10(0, 150); // 300 KiB at 4x CD (600 KiB/s): 0.5 s
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(3000);
    await emu.close();
  });

  test.each(REWRITABLE)('%s keeps wear counts across sessions', async (p) => {
    const a = await emuDrive(dir, p, { formatted: true }, `wear-${p}.img`);
    await a.drive.waitReady();
    if (p === 'cdrw') await setFixedPackets(a.drive, 32);
    const unit = MEDIA[p].packetSize || 16;
    await a.drive.write10(0, Buffer.alloc(unit * 2048));
    await a.drive.write10(0, Buffer.alloc(unit * 2048));
    await a.emu.close();
    const b = await emuDrive(dir, p, {}, `wear-${p}.img`);
    expect(b.emu.disc!.writeCount(0)).toBe(2);
    expect(b.emu.disc!.writeCount(unit)).toBe(0);
    await b.emu.close();
  });

  test.each(WRITE_ONCE)('%s is not formattable or blankable', async (p) => {
    const { emu, drive } = await emuDrive(dir, p, {}, `once-${p}.img`);
    await drive.waitReady();
    expect((await drive.readFormatCapacities()).formattable).toEqual([]);
    await expectSense(drive.blank(0), 5, 0x30, 0);
    await emu.close();
  });
});
