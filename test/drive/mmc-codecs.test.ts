/**
 * MMC CDBs and reply codecs at the byte level, against the layouts in MMC-6
 * (and the cookbook in reference/prior-art.md section 6), plus the emu SOURCE parser.
 */
import * as cdb from '../../src/drive/mmc/cdb';
import { decodeConfiguration, Feature, findFeature } from '../../src/drive/mmc/config';
import { decodeDiscInformation } from '../../src/drive/mmc/discinfo';
import { decodeFormatCapacities, encodeFormatRequest } from '../../src/drive/mmc/format';
import { encodeWriteParameters, modeSelectData, modeSensePage } from '../../src/drive/mmc/modepages';
import { opName, profileName } from '../../src/drive/mmc/opcodes';
import { decodeTrackInformation } from '../../src/drive/mmc/trackinfo';
import { parseEmuSource } from '../../src/drive/emu/source';
import { defaultPacketSize } from '../../src/drive/mmc/probe';

const hex = (b: Buffer) => b.toString('hex');

describe('CDBs', () => {
  test.each([
    ['TEST UNIT READY', cdb.testUnitReady(), '000000000000'],
    ['REQUEST SENSE desc', cdb.requestSense(252, true), '03010000fc00'],
    ['INQUIRY', cdb.inquiry(36), '120000002400'],
    ['GET CONFIGURATION current', cdb.getConfiguration(1, 0, 8), '46010000000000000800'],
    ['GET CONFIGURATION one feature', cdb.getConfiguration(2, 0x10, 16), '46020010000000001000'],
    ['READ CAPACITY', cdb.readCapacity(), '25000000000000000000'],
    ['READ DISC INFORMATION', cdb.readDiscInformation(34), '51000000000000002200'],
    ['READ TRACK INFORMATION track 1', cdb.readTrackInformation(1, 1, 48), '52010000000100003000'],
    ['MODE SENSE(10) page 5', cdb.modeSense10(5, 0, 60), '5a080500000000003c00'],
    ['MODE SELECT(10) PF', cdb.modeSelect10(60), '55100000000000003c00'],
    ['READ(10)', cdb.read10(0x12345, 32), '28000001234500002000'],
    ['WRITE(10)', cdb.write10(0x20, 32), '2a000000002000002000'],
    ['WRITE(12)', cdb.write12(0x20, 0x10000), 'aa0000000020000100000000'],
    ['READ(12)', cdb.read12(7, 1), 'a80000000007000000010000'],
    ['SYNCHRONIZE CACHE', cdb.synchronizeCache(), '35000000000000000000'],
    ['SYNCHRONIZE CACHE immed', cdb.synchronizeCache(true), '35020000000000000000'],
    ['READ FORMAT CAPACITIES', cdb.readFormatCapacities(252), '2300000000000000fc00'],
    ['FORMAT UNIT', cdb.formatUnit(), '041100000000'],
    ['BLANK minimal immed', cdb.blank(1, true), 'a11100000000000000000000'],
    ['SET CD SPEED', cdb.setCdSpeed(0xffff, 706), 'bb00ffff02c2000000000000'],
    ['SET STREAMING', cdb.setStreaming(28), 'b60000000000000000001c00'],
    ['PREVENT', cdb.preventAllowMediumRemoval(true), '1e0000000100'],
    ['GET EVENT STATUS media', cdb.getEventStatusNotification(0x10, 8), '4a010000100000000800'],
    ['CLOSE SESSION', cdb.closeTrackSession(2, 1), '5b000200000100000000'],
    ['START STOP eject', cdb.startStopUnit(true, false), '1b0000000200'],
  ])('%s', (_name, c, expected) => {
    expect(hex(c)).toBe(expected);
  });

  test('rwAddress reads LBA and length of 10- and 12-byte CDBs', () => {
    expect(cdb.rwAddress(cdb.write10(96, 32))).toEqual({ lba: 96, count: 32 });
    expect(cdb.rwAddress(cdb.write12(96, 70000))).toEqual({ lba: 96, count: 70000 });
  });

  test('names', () => {
    expect(opName(0x2a)).toBe('WRITE(10)');
    expect(opName(0x5b)).toBe('CLOSE TRACK SESSION');
    expect(opName(0xff)).toBe('opcode 0xff');
    expect(profileName(0x43)).toBe('BD-RE');
    expect(profileName(0x13)).toBe('DVD-RW restricted overwrite');
    expect([0x0a, 0x1a, 0x43, 0xffff].map(defaultPacketSize)).toEqual([32, 16, 32, 32]);
  });
});

describe('reply codecs', () => {
  test('GET CONFIGURATION: header profile and Random Readable blocking', () => {
    const b = Buffer.from(
      '0000001c' + '0000' + '001a' // data length 28, current profile DVD+RW
      + '0010' + '09' + '08' + '00000800' + '0010' + '0100' // Random Readable, current, 2048, blocking 16
      + '0024' + '01' + '00' // Hardware Defect Management, current, no data
      + '0028' + '00' + '04' + '01000000', // MRW, not current, write bit
      'hex',
    );
    const c = decodeConfiguration(b);
    expect(c.currentProfile).toBe(0x1a);
    expect(findFeature(c, Feature.RANDOM_READABLE)).toMatchObject({ current: true, version: 2, blockSize: 2048, blocking: 16 });
    expect(findFeature(c, Feature.HARDWARE_DEFECT_MANAGEMENT)?.current).toBe(true);
    expect(findFeature(c, Feature.MRW)).toMatchObject({ current: false, write: true });
  });

  test('READ TRACK INFORMATION: fixed packets of 32, Mode 2 (cdrwtool-formatted CD-RW)', () => {
    const b = Buffer.alloc(36);
    b.writeUInt16BE(34, 0);
    b[2] = 1; b[3] = 1;
    b[5] = 0x07; // track mode 7
    b[6] = 0x32; // packet + FP + data mode 2
    b[7] = 0x02; // LRA_V
    b.writeUInt32BE(0, 8);
    b.writeUInt32BE(295263, 28);
    b.writeUInt32BE(32, 20);
    b.writeUInt32BE(295264, 24);
    expect(decodeTrackInformation(b)).toMatchObject({
      trackNumber: 1, trackMode: 7, packet: true, fixedPacket: true, blank: false, reservedTrack: false, dataMode: 2,
      lraValid: true, nwaValid: false, fixedPacketSize: 32, trackSize: 295264, lastRecorded: 295263,
    });
  });

  test('READ DISC INFORMATION: erasable, complete, CD-ROM XA', () => {
    const b = Buffer.alloc(34);
    b.writeUInt16BE(32, 0);
    b[2] = 0x1e; // erasable, last session complete (3), disc complete (2)
    b[3] = 1; b[4] = 1; b[5] = 1; b[6] = 1;
    b[8] = 0x20;
    expect(decodeDiscInformation(b)).toMatchObject({
      erasable: true, lastSessionState: 3, discStatus: 2, sessions: 1, lastTrackInLastSession: 1, discType: 0x20,
    });
  });

  test('page 05h for fixed packets sits at the cookbook offsets', () => {
    const p = encodeWriteParameters({
      bufe: false, lsValid: false, testWrite: false, writeType: 0, multiSession: 0, fixedPacket: true, copy: false,
      trackMode: 5, dataBlockType: 10, linkSize: 7, sessionFormat: 0x20, packetSize: 32, subHeader: 0x800,
    });
    expect(p.length).toBe(52);
    expect([p[0], p[1], p[2], p[3], p[4], p[5], p[8]]).toEqual([0x05, 0x32, 0x00, 0x25, 10, 7, 0x20]);
    expect(p.readUInt32BE(10)).toBe(32);
    expect(hex(p.subarray(48, 52))).toBe('00000800');
    const sel = modeSelectData(p);
    expect(hex(sel.subarray(0, 8))).toBe('0000000000000000');
    // a MODE SENSE reply with a block descriptor: the page follows it
    const sense = Buffer.concat([Buffer.from('003e000000000008', 'hex'), Buffer.alloc(8), p]);
    expect(modeSensePage(sense).page.equals(p)).toBe(true);
  });

  test('FORMAT UNIT parameter list and READ FORMAT CAPACITIES', () => {
    const f = encodeFormatRequest({ immed: true, disableCertification: true, descriptor: { blocks: 295264, formatType: 0x10, param: 32 } });
    expect(hex(f)).toBe('00a20008' + '00048160' + '40000020');
    const caps = decodeFormatCapacities(Buffer.from('00000010' + '0023a000' + '01000800' + '0023a000' + '54000010', 'hex'));
    expect(caps).toEqual({
      current: { blocks: 0x23a000, type: 1, blockLength: 2048 },
      formattable: [{ blocks: 0x23a000, formatType: 0x15, param: 16 }],
    });
  });
});

describe('emu SOURCE syntax', () => {
  test('profile, path and every option', () => {
    expect(parseEmuSource('emu:cdrw:/tmp/a.img')).toEqual({ profile: 'cdrw', path: '/tmp/a.img', options: {} });
    expect(parseEmuSource(
      'emu:dvd+rw:/tmp/b.img,size=64m,formatted=yes,protect=no,formattime=5,packet=16,wear=100,defects=5+100-131,rdefects=7,spare=10,speed=4x,seek=80,log=/tmp/l,sense=descriptor',
    )).toEqual({
      profile: 'dvd+rw', path: '/tmp/b.img', options: {
        size: 32768, formatted: true, writeProtect: false, formatMs: 5, packetSize: 16, wearLimit: 100, defects: [[5, 5], [100, 131]], readDefects: [[7, 7]],
        spare: 10, speed: 4, seekMs: 80, logPath: '/tmp/l', descriptorSense: true,
      },
    });
    expect(parseEmuSource('emu:bdr:x.img,size=1000').options.size).toBe(1000);
  });

  test.each([
    ['emu:cdrw', /no PATH/],
    ['emu:zip:/x', /unknown profile "zip"/],
    ['emu:cdrw:', /empty PATH/],
    ['emu:cdrw:/x,wear=lots', /wear=lots is not a whole number/],
    ['emu:cdrw:/x,defects=9-3', /runs backwards/],
    ['emu:cdrw:/x,colour=red', /unknown option "colour"/],
    ['emu:cdrw:/x,speed=0', /not a positive number/],
  ])('%s is refused', (s, why) => {
    expect(() => parseEmuSource(s)).toThrow(why);
  });
});
