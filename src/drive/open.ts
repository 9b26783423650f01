/**
 * openSource: the one way bin/ and the UDF layer turn a SOURCE string into a
 * BlockDevice.
 *
 *   emu:PROFILE:PATH[,opts]   the emulated drive (src/drive/emu/source.ts) through MMC
 *   /dev/srN, /dev/sgN        a real drive through SG_IO and MMC (2048-byte sectors)
 *   a block device or a file  ImageDevice (sector size from opts, default 512)
 */
import { promises as fsp } from 'fs';
import { FsError } from '../errors';
import { ImageDevice } from './image';
import type { BlockDevice } from './types';
import { MmcDrive, type MmcDriveOptions } from './mmc/drive';
import { MmcBlockDevice, type MmcOpenOptions } from './mmc/blockdev';
import { SgIoTransport } from './scsi/sgio';
import { EmulatedDrive, type EmuDriveOptions } from './emu/drive';
import { isEmuSource, parseEmuSource } from './emu/source';

export interface OpenSourceOptions {
  readOnly?: boolean;
  /** Sector size for image files and block devices (default 512); MMC drives are always 2048. */
  sectorSize?: number;
  /** Retry/timeout settings for MMC drives. */
  mmc?: MmcDriveOptions;
  /** Tray lock, transfer size for MMC drives. */
  mmcOpen?: Omit<MmcOpenOptions, 'readOnly'>;
  /** Extra emulated-drive options, over those in the SOURCE string. */
  emu?: EmuDriveOptions;
}

/** /dev/srN, /dev/sgN, /dev/scdN, /dev/cdrom-like names for optical drives. */
export function isOpticalDrivePath(source: string): boolean {
  return /^\/dev\/(sr|sg|scd)\d+$/.test(source) || /^\/dev\/(cdrom|cdrw|dvd|dvdrw)\d*$/.test(source);
}

export async function openSource(source: string, opts: OpenSourceOptions = {}): Promise<BlockDevice> {
  if (isEmuSource(source)) {
    const spec = parseEmuSource(source);
    const emu = await EmulatedDrive.open(spec.profile, spec.path, { ...spec.options, ...opts.emu });
    return openMmc(new MmcDrive(emu, opts.mmc), opts);
  }
  if (isOpticalDrivePath(source)) {
    const t = await SgIoTransport.open(source);
    return openMmc(new MmcDrive(t, opts.mmc), opts);
  }
  try {
    await fsp.stat(source);
  } catch {
    throw new FsError('ENOENT', `${source}: no such file or device`);
  }
  return ImageDevice.open(source, { readOnly: opts.readOnly, sectorSize: opts.sectorSize });
}

async function openMmc(drive: MmcDrive, opts: OpenSourceOptions): Promise<MmcBlockDevice> {
  try {
    return await MmcBlockDevice.open(drive, { ...opts.mmcOpen, readOnly: opts.readOnly });
  } catch (e) {
    await drive.close().catch(() => undefined);
    throw e;
  }
}

/**
 * The MMC drive behind an emu: or /dev/srN SOURCE (for format and info, which
 * need commands beyond a BlockDevice), or undefined for images and block devices.
 */
export async function openMmcDrive(source: string, opts: OpenSourceOptions = {}): Promise<MmcDrive | undefined> {
  if (isEmuSource(source)) {
    const spec = parseEmuSource(source);
    return new MmcDrive(await EmulatedDrive.open(spec.profile, spec.path, { ...spec.options, ...opts.emu }), opts.mmc);
  }
  if (isOpticalDrivePath(source)) return new MmcDrive(await SgIoTransport.open(source), opts.mmc);
  return undefined;
}
