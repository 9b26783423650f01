/** prepareMedium: blanking and formatting each rewritable disc as it needs, with progress. */
import { prepareMedium } from '../../src/drive/mmc/prepare';
import { probeWriteSettings } from '../../src/drive/mmc/probe';
import { MEDIA } from '../../src/drive/emu/media';
import { emuDrive, TempDir, WRITE_ONCE } from './emu-fixture';

let dir: TempDir;
beforeAll(() => { dir = new TempDir(); });
afterAll(() => dir.remove());

test.each([
  ['cdrw', 'formatted (type 10h, packets of 32)', 'FORMAT UNIT'],
  ['dvdrw', 'formatted (type 15h, packets of 16)', 'FORMAT UNIT'],
  ['dvd+rw', 'formatted (type 26h)', 'FORMAT UNIT'],
  ['dvdram', 'already formatted', undefined],
  ['bdre', 'formatted (type 30h)', 'FORMAT UNIT'],
] as const)('%s: new disc -> %s, then writable', async (p, action, cmd) => {
  const { emu, drive } = await emuDrive(dir, p, {}, `${p}-prep.img`);
  const r = await prepareMedium(drive);
  expect(r).toEqual({ profile: MEDIA[p].profile, action });
  if (cmd) expect(emu.log.map((e) => e.name)).toContain(cmd);
  const s = await probeWriteSettings(drive);
  expect(s.writable).toBe(true);
  await emu.close();
});

test('a written CD-RW is blanked first, and may get another packet size', async () => {
  const { emu, drive } = await emuDrive(dir, 'cdrw', { formatted: true }, 'cd-again.img');
  const r = await prepareMedium(drive, { packetSize: 16 });
  expect(r.action).toBe('blanked; formatted (type 10h, packets of 16)');
  expect((await probeWriteSettings(drive)).packetSize).toBe(16);
  await emu.close();
});

test('progress is reported while the drive formats in the background', async () => {
  const { emu, drive } = await emuDrive(dir, 'bdre', { formatMs: 300 }, 'bd-slow.img');
  const seen: number[] = [];
  await prepareMedium(drive, { pollMs: 50, onProgress: (f) => seen.push(f) });
  expect(seen[seen.length - 1]).toBe(1);
  expect(seen.some((f) => f > 0 && f < 1)).toBe(true);
  expect(emu.log.some((e) => e.name === 'REQUEST SENSE')).toBe(true);
  await emu.close();
});

test.each(WRITE_ONCE)('%s cannot be formatted', async (p) => {
  const { emu, drive } = await emuDrive(dir, p, {}, `${p}-prep.img`);
  await expect(prepareMedium(drive)).rejects.toMatchObject({ errno: 'EROFS' });
  await emu.close();
});
