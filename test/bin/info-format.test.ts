/**
 * The text form of `pktfs info` for drive states the emulated drive cannot show
 * through the CLI: write speeds reported by the drive, no disc in the drive.
 */
import { formatInfoText, infoJson, type InfoReport } from '../../bin/info-report';
import type { DriveFacts } from '../../src/drive/describe';
import { row } from './info-helpers';

const DVD: DriveFacts = {
  type: 'drive', name: '/dev/sr0', vendor: 'HL-DT-ST', model: 'DVDRAM GH24NSD1', revision: 'LG00',
  profile: 0x1a, profileName: 'DVD+RW', supportedProfiles: ['DVD+RW', 'DVD-ROM'], medium: 'formatted',
  discStatus: 'complete', erasable: true, sessions: 1, packetSize: 16, packetSource: 'blocking',
  fixedPackets: false, alignedWritesRequired: false, hardwareDefectManagement: false,
  capacitySectors: 2295104, sectorSize: 2048, formatCapacitySectors: 2295104,
  writeSpeeds: { supportedKBs: [11080, 5540, 2770], currentKBs: 11080, source: 'get-performance' },
  oneXKBs: 1385, writable: true,
};

const report = (facts: DriveFacts): InfoReport => ({ source: facts.name, facts, volumeStatus: 'absent', volumeMessage: 'the disc is blank' });

test('write speeds the drive reports are shown as multiples of 1x and kB/s', () => {
  const text = formatInfoText(report(DVD));
  expect(row(text, 'write speeds', 'Drive')).toBe('8x (11080 kB/s), 4x (5540 kB/s), 2x (2770 kB/s); current 8x (11080 kB/s)');
  expect(row(text, 'capacity', 'Drive')).toBe('2295104 sectors of 2048 bytes (4.4 GiB)');
  expect(row(text, 'vendor', 'Drive')).toBe('HL-DT-ST');
  expect(row(text, 'model', 'Drive')).toBe('DVDRAM GH24NSD1');
  const j = infoJson(report(DVD));
  expect(j.drive).toMatchObject({ writeSpeedsKBs: [11080, 5540, 2770], currentWriteSpeedKBs: 11080, supportedProfiles: ['DVD+RW', 'DVD-ROM'] });
});

test('no disc in the drive: the drive is shown, the disc is "none", not writable', () => {
  const none: DriveFacts = {
    ...DVD, profile: 0, profileName: 'no medium', medium: 'none', discStatus: undefined, erasable: undefined,
    sessions: undefined, packetSize: 0, capacitySectors: 0, writeSpeeds: undefined, writable: false, readOnlyReason: 'no disc in the drive',
  };
  const text = formatInfoText({ ...report(none), volumeMessage: 'no disc in the drive' });
  expect(text).toBe([
    'Drive',
    '  drive:    /dev/sr0',
    '  vendor:   HL-DT-ST',
    '  model:    DVDRAM GH24NSD1',
    '  revision: LG00',
    '  disc:     none',
    '  writable: no: no disc in the drive',
    '',
    'No UDF volume: no disc in the drive',
    '',
  ].join('\n'));
  expect(infoJson({ ...report(none), volumeMessage: 'no disc in the drive' })).toMatchObject({
    format: 'pktfs-info/1', drive: { medium: 'none', discStatus: null, writeSpeedsKBs: null }, image: null, volume: null,
  });
});
