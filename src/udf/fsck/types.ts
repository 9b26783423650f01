/**
 * What `pktfs fsck` finds and does, as the layers above see it: problems with
 * a stable code, a sentence naming what and where, and how (or whether) they
 * can be repaired; and the summary of a run. The codes are part of the CLI
 * contract (docs/cli.md, `--json`).
 */

export type ProblemCode =
  /** An anchor volume descriptor pointer that is damaged or differs from the others (ECMA-167 3/8.4.2). */
  | 'anchor'
  /** A descriptor of the main or reserve volume descriptor sequence with a bad tag (3/7.2, 3/8.4). */
  | 'vds-damaged'
  /** The main and reserve sequences hold different copies of a descriptor. */
  | 'vds-differs'
  /** No usable logical volume integrity descriptor (3/10.10). */
  | 'lvid-damaged'
  /** The LVID is marked open: the volume was not closed cleanly. */
  | 'lvid-open'
  /** The LVID's file or directory count (UDF 2.2.6.4) differs from the tree. */
  | 'lvid-counts'
  /** The LVID's free space table (3/10.10.8) differs from the space map. */
  | 'lvid-free'
  /** The LVID's next unique ID (4/14.15) is not above every unique ID in use. */
  | 'lvid-unique-id'
  /** A file entry, allocation extent or other descriptor of the tree with a bad tag. */
  | 'tag'
  /** A directory whose file identifier descriptors cannot be read (4/14.4). */
  | 'fid'
  /** A directory's parent entry does not point at the directory holding it. */
  | 'parent'
  /** A bad or duplicate name in a directory. */
  | 'name'
  /** A directory entry leading to a directory already reached: a loop or a second link to a directory. */
  | 'loop'
  /** A file entry's link count (4/14.9.6) differs from the entries that point at it. */
  | 'link-count'
  /** A file's information length does not fit its allocation (4/14.9.10). */
  | 'size'
  /** Two file entries share a unique ID (4/14.9.20). */
  | 'unique-id'
  /** An extent outside its partition. */
  | 'extent'
  /** Blocks in use that the space map marks free (4/14.12). */
  | 'used-free'
  /** Blocks the space map marks used that nothing reaches. */
  | 'unreachable'
  /** A block claimed by two files or structures. */
  | 'double'
  /** A file entry that no directory entry points at. */
  | 'orphan'
  /** The copies of a sparing table (UDF 2.2.12) are damaged or disagree. */
  | 'sparing'
  /** The space bitmap or table itself cannot be read. */
  | 'space-map';

/** A problem as reported: found in `pass`, then fixed, declined, or beyond repair. */
export interface ProblemReport {
  code: ProblemCode;
  message: string;
  /** What the repair does; absent when fsck cannot repair it. */
  fix?: string;
  /** Whether -p (preen) repairs it without asking. */
  safe: boolean;
  pass: number;
  outcome: 'fixed' | 'declined' | 'unfixable' | 'failed';
  /** Why the repair failed (outcome 'failed'). */
  error?: string;
}

export type FsckMode =
  /** -n: report only; the device is opened read-only. */
  | 'check'
  /** -y: repair everything that can be repaired. */
  | 'yes'
  /** -p: repair only what is safe without asking. */
  | 'preen'
  /** No flag on a terminal: ask per problem. */
  | 'ask';

export type Answer = 'y' | 'n' | 'a';

export interface FsckOptions {
  mode: FsckMode;
  /** Asked per problem in 'ask' mode: yes, no, or all (yes to this and every later one). */
  ask?: (p: { code: ProblemCode; message: string; fix: string }) => Promise<Answer>;
  /** Progress of the current pass: entries checked so far of an estimated total. */
  progress?: (done: number, total: number, pass: number) => void;
  /** One line per problem as it is found and per repair as it is made. */
  log?: (line: string) => void;
}

export interface FsckSummary {
  label: string;
  blockSize: number;
  files: number;
  dirs: number;
  /** Blocks of the data partition, in use and free as the (repaired) space map says; null when not checked. */
  totalBlocks: number | null;
  usedBlocks: number | null;
  freeBlocks: number | null;
  /** Checks that could not be made on this volume (VAT, metadata partition, freed-space map), and
   * findings that are not errors on it (a pressed disc whose descriptor copies differ). */
  skipped: string[];
}

export interface FsckResult {
  /** e2fsck's bits: 0 clean, 1 errors fixed, 4 errors left uncorrected (5 both). 8 is thrown as FsError. */
  exit: number;
  passes: number;
  problems: ProblemReport[];
  summary: FsckSummary;
}

/** e2fsck's exit bits, which `pktfs fsck` exits with (docs/cli.md); 8 is an FsError thrown to the caller. */
export const FSCK_EXIT = {
  CLEAN: 0,
  FIXED: 1,
  LEFT: 4,
  OPERATIONAL: 8,
  USAGE: 16,
  CANCELLED: 32,
} as const;
