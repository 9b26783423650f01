/**
 * The emulated disc's image is a plain image other tools read and write:
 * mkudffs formats it, pktfs reads the volume recognition sequence through the
 * emulated drive, and what pktfs writes through the drive udfinfo still accepts.
 */
import { execFileSync } from 'child_process';
import { openSource } from '../../src/drive/open';
import type { MmcBlockDevice } from '../../src/drive/mmc/blockdev';
import { SMALL, TempDir } from './emu-fixture';

let dir: TempDir;
beforeAll(() => { dir = new TempDir(); });
afterAll(() => dir.remove());

test.each([['dvdram', 'dvdram'], ['cdrw', 'cdrw'], ['dvdrw', 'dvdrw'], ['dvd', 'bdre']])('mkudffs --media-type=%s on an emu:%s image', async (media, profile) => {
  const path = dir.file(`${profile}.img`);
  const first = await openSource(`emu:${profile}:${path},size=${SMALL},formatted=yes`);
  await first.close();
  execFileSync('mkudffs', [`--media-type=${media}`, '--blocksize=2048', '--label=EMU', path], { stdio: 'pipe' });
  const dev = (await openSource(`emu:${profile}:${path}`)) as MmcBlockDevice;
  expect(dev.readOnly).toBe(false);
  const vrs = await dev.read(16, 3);
  // ECMA-167 2/9.1: structure type 0, standard identifier at byte 1
  expect([0, 1, 2].map((i) => vrs.toString('latin1', i * 2048 + 1, i * 2048 + 6))).toEqual(['BEA01', expect.stringMatching(/^NSR0[23]$/), 'TEA01']);
  // rewrite the first packet with what was there: the volume must still be valid for udfinfo
  const p = dev.packetSize;
  await dev.write(0, await dev.read(0, p));
  await dev.close();
  const info = execFileSync('udfinfo', [path], { encoding: 'utf8' });
  expect(info).toMatch(/label=EMU/);
});
