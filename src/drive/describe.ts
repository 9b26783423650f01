/**
 * What a SOURCE is, as `pktfs info` shows it: for an optical drive (real or
 * emulated) the drive's identity (INQUIRY), the disc's profile and state,
 * its packet size, capacity, write speeds and whether pktfs can write it;
 * for an image file or block device its size and sector size. Also hands
 * back a read-only BlockDevice over the same drive, so the UDF layer can look
 * for a volume without opening the drive a second time.
 *
 * Looking changes nothing on the disc: the device is opened read-only, the
 * tray is not locked, no write parameters are set, and an emulated drive's
 * missing image is not created. (The emulated drive does write its sidecar,
 * PATH.emu.json, when closed.)
 */
import { constants as fsc, promises as fsp } from 'fs';
import createDebug from 'debug';
import { FsError, isFsError } from '../errors';
import { ImageDevice } from './image';
import { isOpticalDrivePath, openMmcDrive, type OpenSourceOptions } from './open';
import type { BlockDevice } from './types';
import { isEmuSource, parseEmuSource } from './emu/source';
import { MmcBlockDevice } from './mmc/blockdev';
import { findFeature, Feature } from './mmc/config';
import { DiscStatus } from './mmc/discinfo';
import type { MmcDrive } from './mmc/drive';
import { CapacityType, type FormatCapacities } from './mmc/format';
import { isBdProfile, isCdProfile, profileName } from './mmc/opcodes';
import type { InquiryData } from './mmc/replies';
import { readWriteSpeeds, type WriteSpeeds } from './mmc/speeds';
import type { WriteSettings } from './mmc/probe';

const debug = createDebug('pktfs:drive:describe');

/** MMC-6 READ DISC INFORMATION Disc Status, in words. */
export type DiscStatusName = 'empty' | 'incomplete' | 'complete' | 'other';
/**
 * The disc as a person sees it: no disc; blank (nothing recorded); unformatted
 * (a rewritable disc the drive says needs FORMAT UNIT); formatted (rewritable,
 * ready); recorded (a write-once or read-only disc holding data).
 */
export type MediumState = 'none' | 'blank' | 'unformatted' | 'formatted' | 'recorded';

export interface DriveFacts {
  type: 'drive';
  /** The drive as named in messages ("/dev/sr0", "emu cdrw /tmp/cd.img"). */
  name: string;
  /** INQUIRY (SPC-4 6.4.2) vendor, product and revision, trailing blanks removed. */
  vendor: string;
  model: string;
  revision: string;
  /** Current profile (MMC-6 5.3.1) and its name; 0 when there is no disc. */
  profile: number;
  profileName: string;
  /** Names of the profiles the drive supports (Profile List feature), in the drive's order. */
  supportedProfiles: string[];
  medium: MediumState;
  /** READ DISC INFORMATION; undefined when the drive gave none. */
  discStatus?: DiscStatusName;
  erasable?: boolean;
  sessions?: number;
  /** Packet size in 2048-byte sectors and where it came from (probe.ts). */
  packetSize: number;
  packetSource: WriteSettings['packetSource'];
  /** The track is written in fixed packets (READ TRACK INFORMATION FP bit, MMC-6 6.27.3). */
  fixedPackets: boolean;
  /** The drive refuses writes that are not whole aligned packets (CD-RW, DVD-RW restricted overwrite). */
  alignedWritesRequired: boolean;
  /** The drive remaps defective sectors itself (DVD-RAM, BD-RE, MRW). */
  hardwareDefectManagement: boolean;
  /** Readable user-data sectors of 2048 bytes (0 on a blank disc). */
  capacitySectors: number;
  sectorSize: 2048;
  /** READ FORMAT CAPACITIES current descriptor: blocks the medium holds formatted (or would). */
  formatCapacitySectors?: number;
  /** What the drive reports, or undefined when it reports nothing. */
  writeSpeeds?: WriteSpeeds;
  /** 1x of this medium in kB/s (CD 176.4, DVD 1385, BD 4495.5), for showing speeds as "8x". */
  oneXKBs: number;
  writable: boolean;
  readOnlyReason?: string;
}

export interface ImageFacts {
  type: 'image';
  path: string;
  kind: 'file' | 'block-device';
  sizeBytes: number;
  /** The sector size pktfs reads the image with (ImageDevice's, 512 by default). */
  sectorSize: number;
  sectors: number;
  writable: boolean;
  readOnlyReason?: string;
}

export type SourceFacts = DriveFacts | ImageFacts;

export interface DescribedSource {
  facts: SourceFacts;
  /** A read-only device for the UDF layer; undefined when there is nothing to read (no disc, blank disc). */
  device?: BlockDevice;
  /** Closes the device and the drive. */
  close(): Promise<void>;
}

const DISC_STATUS: Record<number, DiscStatusName> = {
  [DiscStatus.EMPTY]: 'empty', [DiscStatus.INCOMPLETE]: 'incomplete', [DiscStatus.COMPLETE]: 'complete', [DiscStatus.OTHER]: 'other',
};

/** 1x in kB/s: CD 75 sectors of 2352 bytes per second (MMC counts 176.4 kB/s), DVD 1385, BD 4495.5 (MMC-6 annex). */
export function oneXKBs(profile: number): number {
  if (isCdProfile(profile)) return 176.4;
  if (isBdProfile(profile)) return 4495.5;
  return 1385;
}

export async function describeSource(source: string, opts: OpenSourceOptions = {}): Promise<DescribedSource> {
  if (isEmuSource(source)) {
    const spec = parseEmuSource(source);
    // The emulated drive creates a missing image as a new disc; looking must not.
    await statOrThrow(spec.path);
  }
  if (isEmuSource(source) || isOpticalDrivePath(source)) {
    const drive = await openMmcDrive(source, opts);
    if (!drive) throw new FsError('ENODEV', `${source}: not a drive`);
    try {
      return await describeDrive(drive);
    } catch (e) {
      await drive.close().catch(() => undefined);
      throw e;
    }
  }
  return describeImage(source, opts.sectorSize);
}

async function statOrThrow(path: string): Promise<import('fs').Stats> {
  try {
    return await fsp.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FsError('ENOENT', `${path}: no such file or device`);
    if (code === 'EACCES' || code === 'EPERM') throw new FsError('EACCES', `${path}: permission denied`);
    throw new FsError('EIO', `${path}: ${(e as Error).message}`);
  }
}

async function describeImage(path: string, sectorSize?: number): Promise<DescribedSource> {
  const st = await statOrThrow(path);
  if (!st.isFile() && !st.isBlockDevice()) throw new FsError('ENODEV', `${path}: not a regular file or block device`);
  let readOnlyReason: string | undefined;
  try {
    await fsp.access(path, fsc.W_OK);
  } catch {
    readOnlyReason = 'no write permission on the image';
  }
  let device: ImageDevice;
  try {
    device = await ImageDevice.open(path, { readOnly: true, sectorSize });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES' || /EACCES/.test((e as Error).message)) {
      throw new FsError('EACCES', `${path}: permission denied`);
    }
    throw e;
  }
  const facts: ImageFacts = {
    type: 'image',
    path,
    kind: st.isBlockDevice() ? 'block-device' : 'file',
    sizeBytes: st.isFile() ? st.size : device.sectorCount * device.sectorSize,
    sectorSize: device.sectorSize,
    sectors: device.sectorCount,
    writable: readOnlyReason === undefined,
    readOnlyReason,
  };
  return { facts, device, close: () => device.close() };
}

/** Run a query the drive may not support; a missing answer is not an error here, a missing disc is. */
async function optional<T>(what: string, p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isFsError(e, 'ENOMEDIUM')) throw e;
    debug('%s: %s', what, (e as Error).message);
    return undefined;
  }
}

function mediumState(s: WriteSettings, fc: FormatCapacities | undefined): MediumState {
  if (s.disc?.discStatus === DiscStatus.EMPTY) return 'blank';
  if (fc?.current.type === CapacityType.UNFORMATTED && s.disc?.erasable !== false) return 'unformatted';
  if (s.disc && !s.disc.erasable) return 'recorded';
  return 'formatted';
}

/** Describe the disc in `drive`; the returned close() closes the drive too. */
export async function describeDrive(drive: MmcDrive): Promise<DescribedSource> {
  const inquiry: InquiryData = await drive.inquiry();
  const base = {
    type: 'drive' as const,
    name: drive.name,
    vendor: inquiry.vendor,
    model: inquiry.product,
    revision: inquiry.revision,
    sectorSize: 2048 as const,
  };
  let device: MmcBlockDevice;
  try {
    device = await MmcBlockDevice.open(drive, { readOnly: true, lockTray: false, closeDrive: false });
  } catch (e) {
    if (!isFsError(e, 'ENOMEDIUM')) throw e;
    const config = await drive.getConfiguration(0).catch(() => undefined);
    const facts: DriveFacts = {
      ...base,
      profile: 0, profileName: profileName(0), supportedProfiles: supported(config),
      medium: 'none', packetSize: 0, packetSource: 'default', fixedPackets: false, alignedWritesRequired: false,
      hardwareDefectManagement: false, capacitySectors: 0, oneXKBs: 0, writable: false, readOnlyReason: 'no disc in the drive',
    };
    return { facts, close: () => drive.close() };
  }
  const s = device.settings;
  const fc = await optional('READ FORMAT CAPACITIES', drive.readFormatCapacities());
  const speeds = await optional('write speeds', readWriteSpeeds(drive));
  const medium = mediumState(s, fc);
  const facts: DriveFacts = {
    ...base,
    profile: s.profile,
    profileName: s.profileName,
    supportedProfiles: supported(s.config),
    medium,
    discStatus: s.disc ? DISC_STATUS[s.disc.discStatus] : undefined,
    erasable: s.disc?.erasable,
    sessions: s.disc?.sessions,
    packetSize: s.packetSize,
    packetSource: s.packetSource,
    fixedPackets: s.track?.fixedPacket === true && s.track.packet,
    alignedWritesRequired: s.alignedPacketsRequired,
    hardwareDefectManagement: s.hardwareDefectManagement,
    capacitySectors: s.capacity,
    formatCapacitySectors: fc && fc.current.type !== CapacityType.NO_MEDIUM ? fc.current.blocks : undefined,
    writeSpeeds: speeds,
    oneXKBs: oneXKBs(s.profile),
    writable: s.writable,
    readOnlyReason: s.reason,
  };
  const readable = s.capacity > 0 && medium !== 'blank' && medium !== 'unformatted';
  return {
    facts,
    device: readable ? device : undefined,
    close: async () => {
      await device.close().catch(() => undefined);
      await drive.close();
    },
  };
}

function supported(config: WriteSettings['config']): string[] {
  const list = config && findFeature(config, Feature.PROFILE_LIST);
  return (list?.profiles ?? []).map((p) => profileName(p.profile));
}
