/**
 * `pktfs info` on the emulated drive (emu:PROFILE:PATH): the drive section shows
 * what INQUIRY and the probe found (profile, packet size, fixed or not,
 * writability and why not); the volume section on the drive agrees with udfinfo
 * on the same image; a blank disc has no UDF volume and that is not an error.
 */
import * as fs from 'fs';
import * as path from 'path';
import { INFO_EXIT } from '../../bin/info';
import { EmulatedDrive } from '../../src/drive/emu/drive';
import { haveTools, udfinfo } from '../helpers/tools';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { info, infoJson, makeTree, mkImage, row, type InfoImage, type MkSpec } from './info-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient');
const SPECS: MkSpec[] = [
  { name: 'cdrw', media: 'cdrw', rev: '2.01', bs: 2048, blocks: 65536, fill: true },
  { name: 'dvdrw', media: 'dvdrw', rev: '2.00', bs: 2048, blocks: 32768 },
  { name: 'hd', media: 'hd', rev: '2.01', bs: 2048, blocks: 16384 },
  { name: 'bdr', media: 'bdr', rev: '2.50', bs: 2048, blocks: 4096 },
];

let dir: string;
const images = new Map<string, InfoImage>();

beforeAll(async () => {
  dir = makeTempDir('info-emu');
  if (!TOOLS) return;
  const tree = makeTree(dir);
  for (const img of await Promise.all(SPECS.map((s) => mkImage(s, dir, tree)))) images.set(img.name, img);
});

afterAll(() => removeTempDir(dir));

const maybe = TOOLS ? test : test.skip;
if (!TOOLS) test('skipped: mkudffs, udfinfo or udfclient missing', () => undefined);

/** A copy of a built image, so the drive's sidecar never lands next to the original. */
function copy(name: string, as: string): string {
  const p = path.join(dir, `${as}.img`);
  fs.copyFileSync(images.get(name)!.path, p);
  return p;
}

maybe('emu:cdrw on a sparable CD-RW image: CD-RW, fixed packets of 32, writable; volume as udfinfo', async () => {
  const img = copy('cdrw', 'emu-cdrw');
  const r = await info(`emu:cdrw:${img}`);
  expect(r.code).toBe(INFO_EXIT.OK);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^Drive\n/);
  expect(row(r.stdout, 'vendor', 'Drive')).toBe('PKTFS');
  expect(row(r.stdout, 'model', 'Drive')).toBe('EMU CD-RW');
  expect(row(r.stdout, 'revision', 'Drive')).toBe('1.0');
  expect(row(r.stdout, 'profile', 'Drive')).toBe('CD-RW (000Ah)');
  expect(row(r.stdout, 'disc', 'Drive')).toBe('formatted, status complete, erasable, 1 session');
  expect(row(r.stdout, 'packet size', 'Drive')).toBe('32 sectors (64 KiB), fixed packets (from track information)');
  const sectors = fs.statSync(img).size / 2048;
  expect(row(r.stdout, 'capacity', 'Drive')).toMatch(new RegExp(`^${sectors} sectors of 2048 bytes \\(`));
  expect(row(r.stdout, 'write speeds', 'Drive')).toMatch(/^unknown/);
  expect(row(r.stdout, 'writable', 'Drive')).toBe('yes');

  const u = udfinfo(img);
  expect(row(r.stdout, 'label', 'UDF volume')).toBe(u.fields.lvid);
  expect(row(r.stdout, 'files', 'UDF volume')).toBe(`${u.numFiles} files, ${u.numDirs} directories`);
  expect(row(r.stdout, 'partitions', 'UDF volume')).toMatch(/^0: sparable, .*packets of 32, sparing table 0\/\d+ entries used$/);

  const j = await infoJson(`emu:cdrw:${img}`);
  expect(j.image).toBeNull();
  expect(j.drive).toMatchObject({
    vendor: 'PKTFS', model: 'EMU CD-RW', profile: 0x0a, profileName: 'CD-RW', medium: 'formatted', discStatus: 'complete',
    erasable: true, packetSize: 32, packetSource: 'track', fixedPackets: true, alignedWritesRequired: true,
    hardwareDefectManagement: false, sectorSize: 2048, capacitySectors: sectors, capacityBytes: sectors * 2048,
    writeSpeedsKBs: null, writable: true, readOnlyReason: null,
  });
  expect(j.volume).toMatchObject({ label: u.fields.lvid, files: u.numFiles, directories: u.numDirs, freeBlocks: u.freeBlocks, writable: true });
});

maybe('emu:dvdrw: restricted overwrite, fixed packets of 16', async () => {
  const j = await infoJson(`emu:dvdrw:${copy('dvdrw', 'emu-dvdrw')}`);
  expect(j.drive).toMatchObject({ profile: 0x13, profileName: 'DVD-RW restricted overwrite', packetSize: 16, fixedPackets: true, alignedWritesRequired: true, writable: true });
  expect(j.volume.partitions[0].kind).toBe('sparable');
});

maybe('emu:dvd+rw: packets of 16 from the blocking factor, not fixed, writable', async () => {
  const img = copy('hd', 'emu-dvdplusrw');
  const r = await info(`emu:dvd+rw:${img}`);
  expect(row(r.stdout, 'profile', 'Drive')).toBe('DVD+RW (001Ah)');
  expect(row(r.stdout, 'packet size', 'Drive')).toBe('16 sectors (32 KiB), not fixed, the drive accepts partial writes (drive\'s blocking factor)');
  expect(row(r.stdout, 'writable', 'Drive')).toBe('yes');
  const j = await infoJson(`emu:dvd+rw:${img}`);
  expect(j.drive).toMatchObject({ profile: 0x1a, packetSize: 16, packetSource: 'blocking', fixedPackets: false, alignedWritesRequired: false, writable: true });
  expect(j.volume.label).toBe(udfinfo(img).fields.lvid);
});

maybe('emu:bdr: a write-once disc is read, and not writable, with the reason', async () => {
  const img = copy('bdr', 'emu-bdr');
  const r = await info(`emu:bdr:${img}`);
  expect(r.code).toBe(INFO_EXIT.OK);
  expect(row(r.stdout, 'profile', 'Drive')).toBe('BD-R SRM (0041h)');
  expect(row(r.stdout, 'disc', 'Drive')).toBe('recorded, status complete, not erasable, 1 session');
  expect(row(r.stdout, 'writable', 'Drive')).toBe('no: BD-R SRM is a write-once disc; pktfs writes only rewritable discs');
  expect(row(r.stdout, 'writable', 'UDF volume')).toMatch(/^no: .*write-once/);
  const j = await infoJson(`emu:bdr:${img}`);
  expect(j.drive).toMatchObject({ profile: 0x41, medium: 'recorded', erasable: false, writable: false });
  expect(j.volume.partitions.map((p: { kind: string }) => p.kind)).toEqual(['physical', 'virtual']);
  expect(j.volume.integrity).toBe(udfinfo(img).fields.integrity);
});

maybe('emu:dvdram and emu:bdre: defects managed by the drive', async () => {
  const ram = await infoJson(`emu:dvdram:${copy('hd', 'emu-dvdram')}`);
  expect(ram.drive).toMatchObject({ profile: 0x12, hardwareDefectManagement: true, writable: true });
  expect(ram.volumeStatus).toBe('found');
});

test('a blank disc: the drive part, then "No UDF volume", status 0', async () => {
  const img = path.join(dir, 'blank-cdrw.img');
  await (await EmulatedDrive.open('cdrw', img, { size: 4096 })).close();
  const r = await info(`emu:cdrw:${img}`);
  expect(r.code).toBe(INFO_EXIT.OK);
  expect(r.stderr).toBe('');
  expect(row(r.stdout, 'disc', 'Drive')).toBe('blank, status empty, erasable');
  expect(row(r.stdout, 'capacity', 'Drive')).toBe('none readable; 4096 sectors (8 MiB) when formatted');
  expect(row(r.stdout, 'writable', 'Drive')).toBe('no: CD-RW disc is blank; format it with fixed packets first');
  expect(r.stdout).toMatch(/\n\nNo UDF volume: the disc is blank\n$/);
  const j = await infoJson(`emu:cdrw:${img}`);
  expect(j).toMatchObject({ volumeStatus: 'absent', volumeMessage: 'the disc is blank', volume: null });
  expect(j.drive).toMatchObject({ medium: 'blank', discStatus: 'empty', capacitySectors: 0, formatCapacitySectors: 4096, writable: false });

  const bd = path.join(dir, 'blank-bdre.img');
  await (await EmulatedDrive.open('bdre', bd, { size: 4096 })).close();
  const jb = await infoJson(`emu:bdre:${bd}`);
  expect(jb.drive).toMatchObject({ profileName: 'BD-RE', hardwareDefectManagement: true, writable: false });
  expect(jb.drive.readOnlyReason).toMatch(/not formatted/);
  expect(jb.volumeStatus).toBe('absent');
});

test('a formatted disc with no UDF volume on it: status 0, the UDF layer\'s reason', async () => {
  const img = path.join(dir, 'empty-dvdram.img');
  await (await EmulatedDrive.open('dvdram', img, { size: 2048 })).close();
  const r = await info(`emu:dvdram:${img}`);
  expect(r.code).toBe(INFO_EXIT.OK);
  expect(r.stdout).toMatch(/\n\nNo UDF volume: no UDF anchor found/);
});

test('emu: with a missing image is an error and creates nothing; a malformed emu: SOURCE is a usage error', async () => {
  const img = path.join(dir, 'missing.img');
  const r = await info(`emu:cdrw:${img}`);
  expect(r).toEqual({ code: INFO_EXIT.SOURCE, stdout: '', stderr: `pktfs: ${img}: no such file or device\n` });
  expect(fs.existsSync(img)).toBe(false);
  expect(fs.existsSync(`${img}.emu.json`)).toBe(false);

  const bad = await info(`emu:floppy:${img}`);
  expect(bad.code).toBe(INFO_EXIT.USAGE);
  expect(bad.stderr).toMatch(/^pktfs: emu:floppy:.*unknown profile "floppy".*\n$/);
});
