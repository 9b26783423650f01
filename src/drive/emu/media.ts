/**
 * The media the emulated drive knows: their MMC profile, usual capacity,
 * packet rules and formats. Numbers are those of common discs:
 * an 80-minute CD-RW formatted with fixed packets of 32 (cdrwtool's formula
 * ((blocks + 7) / (32 + 7)) * 32 over 359,847 blocks), single-layer 4.7 GB
 * DVDs, a 25 GB BD-RE with the default spare area and a 25 GB BD-R.
 */
import { Profile } from '../mmc/opcodes';
import { FormatType } from '../mmc/format';

export type EmuProfileName = 'cdrw' | 'dvdrw' | 'dvd+rw' | 'dvdram' | 'bdre' | 'cdr' | 'dvdr' | 'bdr';

export interface MediumKind {
  name: EmuProfileName;
  /** Current profile once formatted (or always, for write-once media). */
  profile: number;
  /** Current profile while blank/unformatted (DVD-RW: sequential recording). */
  blankProfile: number;
  family: 'cd' | 'dvd' | 'bd';
  rewritable: boolean;
  /** Usual user-data capacity in 2048-byte sectors; a new image is made this big. */
  sectors: number;
  /**
   * Writes must be whole, aligned packets of this many sectors (CD-RW fixed
   * packets, DVD-RW restricted overwrite ECC blocks); 0 when the drive does
   * read-modify-write itself.
   */
  packetSize: number;
  /** Random Readable "Blocking": sectors per ECC block / packet the drive reports. */
  blocking: number;
  /** Drive-side defect management (DVD-RAM, BD-RE): the drive remaps bad sectors itself. */
  hardwareDefectManagement: boolean;
  /** FORMAT UNIT format types this medium accepts. */
  formatTypes: number[];
  /** Whether a new medium starts out formatted. */
  formattedWhenNew: boolean;
  /** Whether BLANK applies. */
  blankable: boolean;
  /** 1x user-data rate in bytes per second, for the timing model. */
  oneX: number;
  /** The drive's write buffer in bytes, for the timing model (typical burners: 2 MiB CD/DVD, 4 MiB BD). */
  bufferBytes: number;
  product: string;
}

const CD_1X = 153_600;
const DVD_1X = 1_385_000;
const BD_1X = 4_496_000;
const CD_BUFFER = 2 * 1024 * 1024;
const DVD_BUFFER = 2 * 1024 * 1024;
const BD_BUFFER = 4 * 1024 * 1024;

export const MEDIA: Record<EmuProfileName, MediumKind> = {
  cdrw: {
    name: 'cdrw', profile: Profile.CD_RW, blankProfile: Profile.CD_RW, family: 'cd', rewritable: true,
    sectors: 295_264, packetSize: 32, blocking: 32, hardwareDefectManagement: false,
    formatTypes: [FormatType.CD_DVD_RW_FULL], formattedWhenNew: false, blankable: true, oneX: CD_1X, bufferBytes: CD_BUFFER,
    product: 'EMU CD-RW',
  },
  dvdrw: {
    name: 'dvdrw', profile: Profile.DVD_RW_RO, blankProfile: Profile.DVD_RW_SEQ, family: 'dvd', rewritable: true,
    sectors: 2_295_104, packetSize: 16, blocking: 16, hardwareDefectManagement: false,
    formatTypes: [FormatType.CD_DVD_RW_FULL, FormatType.DVD_RW_QUICK], formattedWhenNew: false, blankable: true,
    oneX: DVD_1X, bufferBytes: DVD_BUFFER, product: 'EMU DVD-RW',
  },
  'dvd+rw': {
    name: 'dvd+rw', profile: Profile.DVD_PLUS_RW, blankProfile: Profile.DVD_PLUS_RW, family: 'dvd', rewritable: true,
    sectors: 2_295_104, packetSize: 0, blocking: 16, hardwareDefectManagement: false,
    formatTypes: [FormatType.DVD_PLUS_RW_FULL], formattedWhenNew: false, blankable: false, oneX: DVD_1X, bufferBytes: DVD_BUFFER,
    product: 'EMU DVD+RW',
  },
  dvdram: {
    name: 'dvdram', profile: Profile.DVD_RAM, blankProfile: Profile.DVD_RAM, family: 'dvd', rewritable: true,
    sectors: 2_236_704, packetSize: 0, blocking: 16, hardwareDefectManagement: true,
    formatTypes: [FormatType.FULL, FormatType.SPARE_EXPANSION], formattedWhenNew: true, blankable: false,
    oneX: DVD_1X, bufferBytes: DVD_BUFFER, product: 'EMU DVD-RAM',
  },
  bdre: {
    name: 'bdre', profile: Profile.BD_RE, blankProfile: Profile.BD_RE, family: 'bd', rewritable: true,
    sectors: 11_826_176, packetSize: 0, blocking: 32, hardwareDefectManagement: true,
    formatTypes: [FormatType.FULL, FormatType.BD_RE_FULL_SPARE, FormatType.BD_RE_FULL_NO_SPARE], formattedWhenNew: false,
    blankable: false, oneX: BD_1X, bufferBytes: BD_BUFFER, product: 'EMU BD-RE',
  },
  cdr: {
    name: 'cdr', profile: Profile.CD_R, blankProfile: Profile.CD_R, family: 'cd', rewritable: false,
    sectors: 359_846, packetSize: 0, blocking: 1, hardwareDefectManagement: false,
    formatTypes: [], formattedWhenNew: true, blankable: false, oneX: CD_1X, bufferBytes: CD_BUFFER, product: 'EMU CD-R',
  },
  dvdr: {
    name: 'dvdr', profile: Profile.DVD_R, blankProfile: Profile.DVD_R, family: 'dvd', rewritable: false,
    sectors: 2_298_496, packetSize: 0, blocking: 16, hardwareDefectManagement: false,
    formatTypes: [], formattedWhenNew: true, blankable: false, oneX: DVD_1X, bufferBytes: DVD_BUFFER, product: 'EMU DVD-R',
  },
  bdr: {
    name: 'bdr', profile: Profile.BD_R_SRM, blankProfile: Profile.BD_R_SRM, family: 'bd', rewritable: false,
    sectors: 12_219_392, packetSize: 0, blocking: 32, hardwareDefectManagement: false,
    formatTypes: [], formattedWhenNew: true, blankable: false, oneX: BD_1X, bufferBytes: BD_BUFFER, product: 'EMU BD-R',
  },
};

export function isEmuProfileName(s: string): s is EmuProfileName {
  return Object.prototype.hasOwnProperty.call(MEDIA, s);
}
