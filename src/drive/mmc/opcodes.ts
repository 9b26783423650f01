/**
 * MMC operation codes and profile numbers (MMC-6 table 8 and 5.3.1), with the
 * names used in logs and messages.
 */

export const Op = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  FORMAT_UNIT: 0x04,
  INQUIRY: 0x12,
  START_STOP_UNIT: 0x1b,
  PREVENT_ALLOW_MEDIUM_REMOVAL: 0x1e,
  READ_FORMAT_CAPACITIES: 0x23,
  READ_CAPACITY: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  SYNCHRONIZE_CACHE: 0x35,
  GET_CONFIGURATION: 0x46,
  GET_EVENT_STATUS_NOTIFICATION: 0x4a,
  READ_DISC_INFORMATION: 0x51,
  READ_TRACK_INFORMATION: 0x52,
  MODE_SELECT_10: 0x55,
  CLOSE_TRACK_SESSION: 0x5b,
  MODE_SENSE_10: 0x5a,
  BLANK: 0xa1,
  READ_12: 0xa8,
  WRITE_12: 0xaa,
  SET_STREAMING: 0xb6,
  SET_CD_SPEED: 0xbb,
} as const;

const OP_NAMES = new Map<number, string>(
  Object.entries(Op).map(([k, v]) => [v, k.replace(/_(10|12)$/, '($1)').replace(/_/g, ' ')]),
);

export function opName(op: number): string {
  return OP_NAMES.get(op) ?? `opcode 0x${op.toString(16).padStart(2, '0')}`;
}

/** Profiles, MMC-6 5.3.1 table 91 (the ones pktfs distinguishes). */
export const Profile = {
  NONE: 0x0000,
  REMOVABLE_DISK: 0x0002,
  CD_ROM: 0x0008,
  CD_R: 0x0009,
  CD_RW: 0x000a,
  DVD_ROM: 0x0010,
  DVD_R: 0x0011,
  DVD_RAM: 0x0012,
  DVD_RW_RO: 0x0013, // restricted overwrite
  DVD_RW_SEQ: 0x0014, // sequential recording
  DVD_PLUS_RW: 0x001a,
  DVD_PLUS_R: 0x001b,
  DVD_PLUS_RW_DL: 0x002a,
  DVD_PLUS_R_DL: 0x002b,
  BD_ROM: 0x0040,
  BD_R_SRM: 0x0041,
  BD_R_RRM: 0x0042,
  BD_RE: 0x0043,
  /** pktcdvd's value when GET CONFIGURATION fails (old drives). */
  UNKNOWN: 0xffff,
} as const;

const PROFILE_NAMES = new Map<number, string>([
  [0x0000, 'no medium'], [0x0001, 'non-removable disk'], [0x0002, 'removable disk'],
  [0x0008, 'CD-ROM'], [0x0009, 'CD-R'], [0x000a, 'CD-RW'],
  [0x0010, 'DVD-ROM'], [0x0011, 'DVD-R'], [0x0012, 'DVD-RAM'], [0x0013, 'DVD-RW restricted overwrite'],
  [0x0014, 'DVD-RW sequential'], [0x0015, 'DVD-R DL sequential'], [0x0016, 'DVD-R DL jump'],
  [0x001a, 'DVD+RW'], [0x001b, 'DVD+R'], [0x002a, 'DVD+RW DL'], [0x002b, 'DVD+R DL'],
  [0x0040, 'BD-ROM'], [0x0041, 'BD-R SRM'], [0x0042, 'BD-R RRM'], [0x0043, 'BD-RE'],
  [0xffff, 'unknown'],
]);

export function profileName(p: number): string {
  return PROFILE_NAMES.get(p) ?? `profile 0x${p.toString(16).padStart(4, '0')}`;
}

export function isCdProfile(p: number): boolean {
  return p >= 0x08 && p <= 0x0a;
}
export function isDvdProfile(p: number): boolean {
  return p >= 0x10 && p <= 0x2b;
}
export function isBdProfile(p: number): boolean {
  return p >= 0x40 && p <= 0x43;
}
