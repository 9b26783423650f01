/**
 * Blanking and formatting a disc so pktfs can write it, as cdrwtool -q,
 * dvd+rw-format and mmc_format did (prior-art 6.5): consult READ FORMAT
 * CAPACITIES, pick the format descriptor the medium needs, FORMAT UNIT with
 * IMMED, and poll REQUEST SENSE progress until the drive is ready.
 *
 *   CD-RW      BLANK (minimal) when written, then format type 10h: fixed packets (32)
 *   DVD-RW     format type 15h quick (or 10h full) to restricted overwrite, ECC blocks of 16
 *   DVD+RW     format type 26h when unformatted (or `full`)
 *   DVD-RAM    as it is; format type 00h only when unformatted
 *   BD-RE      format type 30h (with spare area) when unformatted (or `full`)
 * Write-once and read-only discs are refused with EROFS.
 */
import { setTimeout as sleep } from 'timers/promises';
import createDebug from 'debug';
import { FsError } from '../../errors';
import { SenseKey } from '../scsi/sense';
import { DiscStatus } from './discinfo';
import type { MmcDrive } from './drive';
import { CapacityType, FormatType, type FormatDescriptor } from './format';
import { Profile, profileName } from './opcodes';

const debug = createDebug('pktfs:drive:prepare');

export interface PrepareOptions {
  /** CD-RW fixed packet size (default 32). */
  packetSize?: number;
  /** Full instead of quick format, and reformat media that are already formatted. */
  full?: boolean;
  /** Called with 0..1 while the drive formats. */
  onProgress?: (fraction: number) => void;
  /** Poll interval while formatting (default 1000 ms). */
  pollMs?: number;
}

export interface PrepareResult {
  profile: number;
  /** What was done, for a person: "blanked; formatted (type 10h, packets of 32)" or "already formatted". */
  action: string;
}

async function waitFormatted(drive: MmcDrive, opts: PrepareOptions): Promise<void> {
  for (;;) {
    const s = await drive.requestSense();
    if (s && s.key === SenseKey.NOT_READY && s.asc === 0x04) {
      if (s.progress !== undefined) opts.onProgress?.(s.progress / 65536);
      await sleep(opts.pollMs ?? 1000);
      continue;
    }
    await drive.waitReady();
    opts.onProgress?.(1);
    return;
  }
}

function pick(list: FormatDescriptor[], type: number, name: string): FormatDescriptor {
  const d = list.find((x) => x.formatType === type);
  if (!d) throw new FsError('EIO', `the drive offers no format type ${type.toString(16)}h for this ${name}`);
  return d;
}

/** Blank and format the disc in `drive` as it needs for packet writing. */
export async function prepareMedium(drive: MmcDrive, opts: PrepareOptions = {}): Promise<PrepareResult> {
  await drive.waitReady();
  let profile = await drive.currentProfile();
  const name = profileName(profile);
  const done: string[] = [];
  const disc = await drive.readDiscInformation();
  let caps = await drive.readFormatCapacities();
  const formatted = caps.current.type === CapacityType.FORMATTED && disc.discStatus !== DiscStatus.EMPTY;

  let descriptor: FormatDescriptor | undefined;
  switch (profile) {
    case Profile.CD_RW: {
      const packet = opts.packetSize ?? 32;
      if (disc.discStatus !== DiscStatus.EMPTY) {
        await drive.blank(1, true);
        await waitFormatted(drive, opts);
        done.push('blanked');
        caps = await drive.readFormatCapacities();
      }
      descriptor = { ...pick(caps.formattable, FormatType.CD_DVD_RW_FULL, name), param: packet };
      break;
    }
    case Profile.DVD_RW_RO:
    case Profile.DVD_RW_SEQ: {
      if (profile === Profile.DVD_RW_RO && formatted && !opts.full) break;
      const type = opts.full ? FormatType.CD_DVD_RW_FULL : FormatType.DVD_RW_QUICK;
      descriptor = pick(caps.formattable, type, name);
      break;
    }
    case Profile.DVD_PLUS_RW:
      if (!formatted || opts.full) descriptor = pick(caps.formattable, FormatType.DVD_PLUS_RW_FULL, name);
      break;
    case Profile.DVD_RAM:
      if (!formatted) descriptor = pick(caps.formattable, FormatType.FULL, name);
      break;
    case Profile.BD_RE:
      if (!formatted || opts.full) descriptor = pick(caps.formattable, FormatType.BD_RE_FULL_SPARE, name);
      break;
    default:
      throw new FsError('EROFS', `${drive.name}: a ${name} disc cannot be formatted for packet writing`);
  }
  if (descriptor) {
    debug('%s: FORMAT UNIT type %s, %d blocks, parameter %d', drive.name, descriptor.formatType.toString(16), descriptor.blocks, descriptor.param);
    await drive.formatUnit({ immed: true, disableCertification: true, descriptor });
    await waitFormatted(drive, opts);
    done.push(`formatted (type ${descriptor.formatType.toString(16).padStart(2, '0')}h`
      + (descriptor.formatType === FormatType.CD_DVD_RW_FULL || descriptor.formatType === FormatType.DVD_RW_QUICK
        ? `, packets of ${descriptor.param})` : ')'));
    profile = await drive.currentProfile();
  } else {
    done.push('already formatted');
  }
  return { profile, action: done.join('; ') };
}
