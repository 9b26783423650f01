/**
 * Deciding whether and how a disc can be written, as pktcdvd's open-for-write
 * did (pkt_probe_settings, pkt_writable_disc, pkt_writable_track,
 * pkt_set_write_settings), and better: BD-RE is accepted, and a disc that
 * cannot be written comes back with the reason instead of a bare EROFS.
 */
import createDebug from 'debug';
import { ScsiError } from '../scsi/sense';
import { findFeature, Feature, hasCurrentFeature, type Configuration } from './config';
import { DiscStatus, SessionState, type DiscInformation } from './discinfo';
import type { MmcDrive } from './drive';
import { DataBlockType, WriteType } from './modepages';
import { isBdProfile, isCdProfile, Profile, profileName } from './opcodes';
import type { TrackInformation } from './trackinfo';

const debug = createDebug('pktfs:drive:probe');

/** pktcdvd's PACKET_MAX_SIZE: 128 frames of 2 KiB. */
export const MAX_PACKET_SECTORS = 128;

export interface WriteSettings {
  profile: number;
  profileName: string;
  /** True when pktfs can write this disc. */
  writable: boolean;
  /** Why not, in words for a person, when `writable` is false. */
  reason?: string;
  /** Readable sectors (0 on a blank disc). */
  capacity: number;
  /** Packet size in 2048-byte sectors: the unit pktfs writes in. */
  packetSize: number;
  /** Where the packet size came from. */
  packetSource: 'track' | 'blocking' | 'default';
  /** The drive refuses writes that are not whole aligned packets (CD-RW fixed packets, DVD-RW restricted overwrite). */
  alignedPacketsRequired: boolean;
  /** Write Parameters (page 05h) must be set before writing (CD-RW, DVD-RW), as pktcdvd did. */
  needsWriteParameters: boolean;
  /** The drive does defect management itself (DVD-RAM, BD-RE, MRW). */
  hardwareDefectManagement: boolean;
  /** Formatted (or, for write-once media, recorded). */
  formatted: boolean;
  /** Track data mode: 1 (Mode 1) or 2 (Mode 2 / XA); 0 when unknown. */
  dataMode: number;
  trackMode: number;
  trackStart: number;
  config?: Configuration;
  disc?: DiscInformation;
  track?: TrackInformation;
}

async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ScsiError && e.errno !== 'ENOMEDIUM') return undefined;
    throw e;
  }
}

/** Packet size when the drive says nothing: CD-RW 32, DVD 16, BD 32 sectors. */
export function defaultPacketSize(profile: number): number {
  if (isCdProfile(profile) || profile === Profile.UNKNOWN) return 32;
  if (isBdProfile(profile)) return 32;
  return 16;
}

const WRITE_ONCE = new Set<number>([
  Profile.CD_R, Profile.DVD_R, Profile.DVD_PLUS_R, Profile.DVD_PLUS_R_DL, Profile.BD_R_SRM, Profile.BD_R_RRM,
  0x15, 0x16,
]);
const READ_ONLY = new Set<number>([Profile.CD_ROM, Profile.DVD_ROM, Profile.BD_ROM]);

/** Why a disc of this state cannot be written, or undefined when it can. */
function whyNotWritable(profile: number, disc?: DiscInformation, track?: TrackInformation): string | undefined {
  const name = profileName(profile);
  if (profile === Profile.NONE) return 'no disc in the drive';
  if (READ_ONLY.has(profile)) return `${name} is a read-only disc`;
  if (WRITE_ONCE.has(profile)) return `${name} is a write-once disc; pktfs writes only rewritable discs`;
  if (profile === Profile.DVD_RW_SEQ) return 'DVD-RW is in sequential recording mode; format it (restricted overwrite) first';
  const blank = disc !== undefined && disc.discStatus === DiscStatus.EMPTY;
  switch (profile) {
    case Profile.DVD_PLUS_RW:
    case Profile.DVD_RAM:
    case Profile.BD_RE:
      return blank ? `${name} disc is not formatted; format it first` : undefined;
    case Profile.CD_RW:
    case Profile.UNKNOWN:
    case Profile.DVD_RW_RO: {
      if (!disc) return 'the drive gave no disc information';
      if (!disc.erasable) return 'the disc is not erasable';
      if (isCdProfile(profile) && disc.discType === 0xff) return 'unknown disc type (no track?)';
      if (disc.lastSessionState === SessionState.RESERVED) return 'the last session is reserved or damaged';
      if (!track) return 'the drive gave no track information';
      if (blank || track.blank) return `${name} disc is blank; format it with fixed packets first`;
      if (!track.packet || !track.fixedPacket) return `${name} disc is not formatted for fixed packets`;
      // "good settings as per Mt Fuji": (RT, Blank) in (0,0), (0,1), (1,0)
      if (track.reservedTrack && track.blank) return 'the track is reserved and blank';
      if (isCdProfile(profile) && track.dataMode !== 1 && track.dataMode !== 2) {
        return `unknown track data mode ${track.dataMode}`;
      }
      return undefined;
    }
    default:
      return `${name} discs are not supported for writing`;
  }
}

/** Profile, disc and track information, packet size: everything needed to open a disc for writing. */
export async function probeWriteSettings(drive: MmcDrive): Promise<WriteSettings> {
  const profile = await drive.currentProfile();
  const config = await optional(drive.getConfiguration(0));
  const disc = await optional(drive.readDiscInformation());
  const track = await optional(drive.readTrackInformation(1));
  const blank = disc !== undefined && disc.discStatus === DiscStatus.EMPTY;
  let capacity = 0;
  if (!blank) {
    const cap = await optional(drive.readCapacity());
    if (cap && cap.blockLength === 2048) capacity = cap.lastLba + 1;
  }

  let packetSize: number;
  let packetSource: WriteSettings['packetSource'];
  const rr = config && findFeature(config, Feature.RANDOM_READABLE);
  if (track && track.fixedPacket && track.fixedPacketSize > 0) {
    packetSize = track.fixedPacketSize;
    packetSource = 'track';
  } else if (rr?.current && rr.blocking !== undefined && rr.blocking > 1) {
    packetSize = rr.blocking;
    packetSource = 'blocking';
  } else {
    packetSize = defaultPacketSize(profile);
    packetSource = 'default';
  }

  let reason = whyNotWritable(profile, disc, track);
  if (!reason && packetSize > MAX_PACKET_SECTORS) reason = `packet size ${packetSize} is too big (max ${MAX_PACKET_SECTORS})`;
  if (!reason && capacity === 0) reason = 'the drive reports no capacity';

  const fixed = profile === Profile.CD_RW || profile === Profile.DVD_RW_RO || profile === Profile.UNKNOWN;
  const hdm = config !== undefined && (hasCurrentFeature(config, Feature.HARDWARE_DEFECT_MANAGEMENT)
    || (hasCurrentFeature(config, Feature.MRW) && disc?.bgFormatStatus !== 0));
  const s: WriteSettings = {
    profile,
    profileName: profileName(profile),
    writable: reason === undefined,
    reason,
    capacity,
    packetSize,
    packetSource,
    alignedPacketsRequired: fixed,
    needsWriteParameters: fixed,
    hardwareDefectManagement: hdm,
    formatted: !blank,
    dataMode: track && (track.dataMode === 1 || track.dataMode === 2) ? track.dataMode : 0,
    trackMode: track?.trackMode ?? 0,
    trackStart: track?.trackStart ?? 0,
    config,
    disc,
    track,
  };
  debug('%s: %s, %s, packet %d (%s), capacity %d', drive.name, s.profileName,
    s.writable ? 'writable' : `read-only: ${s.reason}`, packetSize, packetSource, capacity);
  return s;
}

/**
 * Set Write Parameters for fixed packets of the disc's size (pktcdvd
 * pkt_set_write_settings): packet writing, FP, the track's mode, Mode 1 or
 * Mode 2 Form 1 data blocks, no multi-session.
 */
export async function applyWriteParameters(drive: MmcDrive, s: WriteSettings): Promise<void> {
  const w = await drive.getWriteParameters();
  const mode2 = s.dataMode === 2;
  w.writeType = WriteType.PACKET;
  w.fixedPacket = true;
  w.testWrite = false;
  w.multiSession = 0;
  w.trackMode = s.trackMode || 5;
  w.dataBlockType = mode2 ? DataBlockType.MODE2_FORM1 : DataBlockType.MODE1;
  w.sessionFormat = mode2 ? 0x20 : 0x00;
  w.subHeader = mode2 ? 0x00000800 : 0; // Mode 2 sub-header 00 00 08 00 (cdrwtool)
  w.packetSize = s.packetSize;
  await drive.setWriteParameters(w);
  debug('%s: fixed packets, %d blocks, Mode-%d disc', drive.name, s.packetSize, mode2 ? 2 : 1);
}
