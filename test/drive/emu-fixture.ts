/** Shared set-up for the drive tests: an emulated drive over a small sparse image in a temp dir. */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EmulatedDrive, type EmuDriveOptions } from '../../src/drive/emu/drive';
import type { EmuProfileName } from '../../src/drive/emu/media';
import { MmcDrive } from '../../src/drive/mmc/drive';
import { ScsiError } from '../../src/drive/scsi/sense';

export const ALL_PROFILES: EmuProfileName[] = ['cdrw', 'dvdrw', 'dvd+rw', 'dvdram', 'bdre', 'cdr', 'dvdr', 'bdr'];
export const REWRITABLE: EmuProfileName[] = ['cdrw', 'dvdrw', 'dvd+rw', 'dvdram', 'bdre'];
export const WRITE_ONCE: EmuProfileName[] = ['cdr', 'dvdr', 'bdr'];

/** A small medium keeps tests fast: 4096 sectors (8 MiB, sparse). */
export const SMALL = 4096;

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'pktfs-drive-'));
  file(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export async function emuDrive(
  dir: TempDir, profile: EmuProfileName, opts: EmuDriveOptions = {}, name = `${profile}.img`,
): Promise<{ emu: EmulatedDrive; drive: MmcDrive; path: string }> {
  const path = dir.file(name);
  const emu = await EmulatedDrive.open(profile, path, { size: SMALL, ...opts });
  return { emu, drive: new MmcDrive(emu, { retryDelayMs: 1 }), path };
}

/** Await `p`, expecting a ScsiError with this sense; returns it. */
export async function expectSense(p: Promise<unknown>, key: number, asc: number, ascq = 0): Promise<ScsiError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof ScsiError)) throw new Error(`expected sense ${key}/${asc.toString(16)}/${ascq.toString(16)}, got ${String(e)}`);
  expect([e.key, e.asc, e.ascq]).toEqual([key, asc, ascq]);
  return e;
}
