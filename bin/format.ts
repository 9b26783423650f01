/**
 * `pktfs format [options] SOURCE [BLOCKS]`: what cdrwtool -q, dvd+rw-format and
 * mkudffs did together. On a drive (`/dev/srN`, `emu:PROFILE:PATH`) the disc is
 * blanked and formatted as it needs (src/drive/mmc/prepare.ts), then a fresh
 * UDF volume is written (src/udf/format/); on an image file or block device
 * only the volume is written. Options take mkudffs's names where it has them.
 *
 * A medium that holds a UDF volume is formatted only with --force, or when the
 * user says yes on a terminal. Exit statuses: FORMAT_EXIT below, docs/cli.md.
 */
import { promises as fsp, constants as fsc } from 'fs';
import path from 'path';
import { createInterface } from 'readline';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { FsError, isFsError } from '../src/errors';
import type { BlockDevice } from '../src/drive/types';
import { ImageDevice } from '../src/drive/image';
import { isOpticalDrivePath, openMmcDrive } from '../src/drive/open';
import { isEmuSource, parseEmuSource } from '../src/drive/emu/source';
import { MmcBlockDevice } from '../src/drive/mmc/blockdev';
import type { MmcDrive } from '../src/drive/mmc/drive';
import { prepareMedium } from '../src/drive/mmc/prepare';
import { Profile, profileName } from '../src/drive/mmc/opcodes';
import { openVolume } from '../src/udf';
import { readMountinfo } from '../src/fuse/mountinfo';
import {
  formatVolume, isFormatMediaType, parseUdfRevision, FORMAT_MEDIA_TYPES, WRITE_ONCE_MEDIA_TYPES,
  type FormatMediaType, type FormatResult,
} from '../src/udf/format';

export const FORMAT_EXIT = {
  /** Formatted. */
  OK: 0,
  /** Incorrect invocation: missing or extra arguments, unknown option, bad option value. */
  USAGE: 1,
  /** SOURCE could not be opened or queried: no such file or device, permission, no disc, drive error. */
  SOURCE: 2,
  /** The medium cannot be formatted: write-once or read-only disc, write-protected, too small. */
  MEDIUM: 3,
  /** SOURCE holds a UDF volume and formatting it was not confirmed (--force, or "y" on a terminal). */
  REFUSED: 4,
  /** Formatting or writing the volume failed part way: the medium holds no usable volume now. */
  FAILED: 5,
} as const;

export interface FormatCliOptions {
  mediaType?: string;
  udfrev?: string;
  blocksize?: string;
  label?: string;
  uuid?: string;
  uid?: string;
  gid?: string;
  mode?: string;
  newFile?: boolean;
  full?: boolean;
  packet?: string;
  force?: boolean;
  quiet?: boolean;
}

export interface FormatIo {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars and questions go to a terminal. */
  isTTY: boolean;
  /** Ask a yes/no question on the terminal; undefined when there is none. */
  ask?(question: string): Promise<string>;
  /** Poll interval while the drive formats, and least time between plain progress lines (tests shorten them). */
  pollMs?: number;
  progressMs?: number;
}

const STDIO: FormatIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  isTTY: !!process.stderr.isTTY,
  ask: process.stdin.isTTY && process.stderr.isTTY
    ? (q) => new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      rl.question(q, (a) => { rl.close(); resolve(a); });
    })
    : undefined,
};

class Usage extends Error {}

/** An error's message without a leading "SUBJECT: " (the drive layer names the drive itself). */
function reason(e: unknown, subject: string): string {
  const m = (e as Error).message;
  return m.startsWith(`${subject}: `) ? m.slice(subject.length + 2) : m;
}
/** An error with its exit status. */
class Exit extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

/** Rewritable profiles pktfs formats, and the media type each gets by default. */
const PROFILE_MEDIA = new Map<number, FormatMediaType>([
  [Profile.CD_RW, 'cdrw'],
  [Profile.DVD_RW_RO, 'dvdrw'],
  [Profile.DVD_RW_SEQ, 'dvdrw'],
  // DVD+RW: the drive writes any sector (it reads and rewrites the ECC block itself): a plain partition
  [Profile.DVD_PLUS_RW, 'dvdram'],
  [Profile.DVD_RAM, 'dvdram'],
  [Profile.BD_RE, 'bdre'],
]);

function int(name: string, v: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Usage(`${name} ${v}: must be a whole number from ${min} to ${max}`);
  return Number(v);
}

interface Parsed {
  media?: FormatMediaType;
  udfRev: number;
  blockSize?: number;
  label?: string;
  uuid?: string;
  uid?: number;
  gid?: number;
  mode?: number;
  packet?: number;
  blocks?: number;
}

function parse(o: FormatCliOptions, blocks: string | undefined): Parsed {
  const p: Parsed = { udfRev: 0x0201 };
  if (o.mediaType !== undefined) {
    if (WRITE_ONCE_MEDIA_TYPES.includes(o.mediaType)) {
      throw new Usage(`--media-type=${o.mediaType}: write-once media (VAT) are not formatted by pktfs`);
    }
    if (!isFormatMediaType(o.mediaType)) throw new Usage(`--media-type=${o.mediaType}: use one of ${FORMAT_MEDIA_TYPES.join(', ')}`);
    p.media = o.mediaType;
  }
  if (o.udfrev !== undefined) {
    const r = parseUdfRevision(o.udfrev);
    if (r === undefined) throw new Usage(`--udfrev=${o.udfrev}: pktfs formats UDF 1.02, 1.50, 2.00 and 2.01`);
    p.udfRev = r;
  }
  if (o.blocksize !== undefined) {
    p.blockSize = int('--blocksize', o.blocksize, 512, 4096);
    if (![512, 1024, 2048, 4096].includes(p.blockSize)) throw new Usage(`--blocksize=${o.blocksize}: use 512, 1024, 2048 or 4096`);
  }
  if (o.label !== undefined) {
    if (o.label === '') throw new Usage('--label: must not be empty');
    p.label = o.label;
  }
  if (o.uuid !== undefined) {
    if (!/^[0-9a-fA-F]{16}$/.test(o.uuid)) throw new Usage(`--uuid=${o.uuid}: must be 16 hexadecimal digits`);
    p.uuid = o.uuid;
  }
  if (o.uid !== undefined) p.uid = int('--uid', o.uid, -1, 4294967294);
  if (o.gid !== undefined) p.gid = int('--gid', o.gid, -1, 4294967294);
  if (o.mode !== undefined) {
    if (!/^[0-7]{1,4}$/.test(o.mode)) throw new Usage(`--mode=${o.mode}: octal permission bits, such as 0755`);
    p.mode = parseInt(o.mode, 8);
  }
  if (o.packet !== undefined) p.packet = int('--packet', o.packet, 1, 128);
  if (blocks !== undefined) p.blocks = int('BLOCKS', blocks, 1, 0xffffffff);
  if (o.newFile && p.blocks === undefined) throw new Usage('--new-file needs BLOCKS, the size of the new image in blocks');
  return p;
}

// ---- progress --------------------------------------------------------------------------------

/** Without a terminal, progress lines come at most this often. */
const PLAIN_PROGRESS_MS = 2000;

/** A progress bar on a terminal, a line every few seconds otherwise, nothing with --quiet. */
function progress(io: FormatIo, quiet: boolean, subject: string, what: string): { update(fraction: number): void; stop(): void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (io.isTTY) {
    const bar = new SingleBar({
      format: `${what} [{bar}] {percentage}%`, hideCursor: true, clearOnComplete: false, stream: process.stderr,
    });
    bar.start(100, 0);
    return { update: (f) => bar.update(Math.floor(f * 100)), stop: () => bar.stop() };
  }
  // Not a terminal: a line now and then for a long job, none for a quick one.
  const started = Date.now();
  let last = started;
  return {
    update: (f) => {
      const now = Date.now();
      if (f < 1 && now - last >= (io.progressMs ?? PLAIN_PROGRESS_MS)) {
        last = now;
        io.err(`pktfs: ${subject}: ${what}: ${Math.floor(f * 100)}%\n`);
      }
    },
    stop: () => undefined,
  };
}

// ---- the two paths ---------------------------------------------------------------------------

/**
 * Where SOURCE is mounted, if it is: formatting under a live mount would have the
 * mount write its old metadata over the new volume. Matches the source field of
 * /proc/self/mountinfo as pktfs records it (absolute path; emu:PROFILE:PATH,...).
 */
async function mountedAt(source: string): Promise<string | undefined> {
  let entries;
  try {
    entries = await readMountinfo();
  } catch {
    return undefined; // no /proc: nothing to compare with
  }
  const emuPath = (s: string): string | undefined => (isEmuSource(s) ? /^emu:[^:]*:([^,]*)/.exec(s)?.[1] : undefined);
  const want = isEmuSource(source) ? path.resolve(emuPath(source) ?? '') : path.resolve(source);
  for (const e of entries) {
    const p = emuPath(e.source) ?? e.source;
    if (path.isAbsolute(p) && path.resolve(p) === want) return e.mountPoint;
  }
  return undefined;
}


/** A UDF volume on `dev`, in words, or undefined when there is none. */
async function existingVolume(dev: BlockDevice): Promise<string | undefined> {
  try {
    const v = await openVolume(dev);
    const i = v.info;
    await v.close();
    return `a UDF ${i.revision} volume "${i.label}" (${i.numFiles} files, ${i.numDirs} directories)`;
  } catch (e) {
    if (isFsError(e, 'ENODEV')) return undefined;
    if (isFsError(e, 'ENOMEDIUM')) throw e;
    return `a damaged UDF volume (${(e as Error).message})`;
  }
}

async function confirm(io: FormatIo, subject: string, what: string, force: boolean): Promise<void> {
  if (force) return;
  if (!io.ask) throw new Exit(FORMAT_EXIT.REFUSED, `${subject} holds ${what}; pktfs format --force formats it anyway`);
  const a = (await io.ask(`${subject} holds ${what}. Format it, losing everything on it? [y/N] `)).trim().toLowerCase();
  if (a !== 'y' && a !== 'yes') throw new Exit(FORMAT_EXIT.REFUSED, `${subject}: not formatted`);
}

function summary(subject: string, r: FormatResult): string {
  const l = r.layout;
  const rev = `${r.udfRev >> 8}.${(r.udfRev & 0xff).toString(16).padStart(2, '0')}`;
  const part = l.sparing
    ? `sparable partition of ${l.partition.blocks} blocks at ${l.partition.start}, packets of ${l.sparing.packetLength}, 2 sparing tables of ${l.sparing.entries} entries`
    : `partition of ${l.partition.blocks} blocks at ${l.partition.start}`;
  const free = (r.freeBlocks * l.blockSize) / (1 << 20);
  return `${subject}: UDF ${rev} volume "${r.label}" (${l.media} layout, ${l.blockSize}-byte blocks, ${l.blocks} blocks): ${part}; ${r.freeBlocks} blocks (${free.toFixed(1)} MiB) free\n`;
}

async function formatDrive(source: string, p: Parsed, o: FormatCliOptions, io: FormatIo): Promise<void> {
  if (p.blocks !== undefined) throw new Usage('BLOCKS is for image files; a disc is formatted whole');
  if (o.newFile) throw new Usage('--new-file is for image files');
  if (p.blockSize !== undefined && p.blockSize !== 2048) throw new Usage(`--blocksize=${p.blockSize}: optical discs have 2048-byte blocks`);
  let drive: MmcDrive | undefined;
  try {
    drive = await openMmcDrive(source);
  } catch (e) {
    throw new Exit(FORMAT_EXIT.SOURCE, (e as Error).message);
  }
  if (!drive) throw new Exit(FORMAT_EXIT.SOURCE, `${source}: not a drive`);
  const subject = drive.name;
  try {
    let profile: number;
    try {
      await drive.waitReady();
      profile = await drive.currentProfile();
    } catch (e) {
      throw new Exit(FORMAT_EXIT.SOURCE, `${subject}: ${reason(e, subject)}`);
    }
    if (profile === 0) throw new Exit(FORMAT_EXIT.SOURCE, `${subject}: no disc in the drive`);
    const defaultMedia = PROFILE_MEDIA.get(profile);
    if (!defaultMedia) {
      throw new Exit(FORMAT_EXIT.MEDIUM, `${subject}: a ${profileName(profile)} disc is not rewritable: it cannot be formatted for packet writing`);
    }
    const media = p.media ?? defaultMedia;
    if (p.packet !== undefined && profile !== Profile.CD_RW) {
      throw new Usage(`--packet: only CD-RW discs are formatted with a chosen packet size (this is a ${profileName(profile)} disc)`);
    }

    // Look for a volume on what is readable now.
    const look = await MmcBlockDevice.open(drive, { readOnly: true, closeDrive: false, lockTray: false }).catch(() => undefined);
    if (look) {
      const what = look.sectorCount > 0 ? await existingVolume(look).catch(() => undefined) : undefined;
      await look.close();
      if (what) await confirm(io, subject, what, !!o.force);
    }

    const bar = progress(io, !!o.quiet, subject, 'formatting the disc');
    let action: string;
    try {
      action = (await prepareMedium(drive, { packetSize: p.packet, full: !!o.full, pollMs: io.pollMs, onProgress: (f) => bar.update(f) })).action;
    } catch (e) {
      bar.stop();
      if (isFsError(e, 'EROFS')) throw new Exit(FORMAT_EXIT.MEDIUM, `${subject}: ${reason(e, subject)}`);
      throw new Exit(FORMAT_EXIT.FAILED, `${subject}: formatting the disc failed: ${reason(e, subject)}`);
    }
    bar.stop();
    if (!o.quiet) io.out(`${subject}: disc ${action}\n`);

    let dev: MmcBlockDevice;
    try {
      dev = await MmcBlockDevice.open(drive, { closeDrive: false });
    } catch (e) {
      throw new Exit(FORMAT_EXIT.FAILED, `${subject}: ${reason(e, subject)}`);
    }
    if (dev.readOnly) {
      await dev.close();
      throw new Exit(FORMAT_EXIT.MEDIUM, `${subject}: cannot be written: ${dev.readOnlyReason}`);
    }
    try {
      await writeVolume(dev, subject, media, p, o, io, Math.max(1, dev.packetSize));
    } finally {
      await dev.close();
    }
  } finally {
    await drive.close().catch(() => undefined);
  }
}

async function formatImage(source: string, p: Parsed, o: FormatCliOptions, io: FormatIo): Promise<void> {
  const media = p.media ?? 'hd';
  // mkudffs: 2048-byte blocks for optical media types, the device's logical sector size (512) for hd
  const bs = p.blockSize ?? (media === 'hd' ? 512 : 2048);
  if (o.full || p.packet !== undefined) throw new Usage(`--${o.full ? 'full' : 'packet'} is for discs in a drive, not image files`);
  if (o.newFile) {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(source, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Exit(FORMAT_EXIT.SOURCE, code === 'EEXIST' ? `${source}: already exists (--new-file makes a new image)` : `${source}: ${(e as Error).message}`);
    }
    try {
      await fh.truncate(p.blocks! * bs);
    } finally {
      await fh.close();
    }
  }
  try {
    let dev: ImageDevice;
    try {
      dev = await ImageDevice.open(source);
    } catch (e) {
      throw new Exit(FORMAT_EXIT.SOURCE, (e as Error).message);
    }
    try {
      if (dev.readOnly) throw new Exit(FORMAT_EXIT.SOURCE, `${source}: no write permission`);
      if (!o.newFile) {
        const what = await existingVolume(dev);
        if (what) await confirm(io, source, what, !!o.force);
      }
      await writeVolume(dev, source, media, { ...p, blockSize: bs }, o, io, undefined);
    } finally {
      await dev.close();
    }
  } catch (e) {
    if (o.newFile) await fsp.rm(source, { force: true }); // the file we made holds nothing usable
    throw e;
  }
}

async function writeVolume(dev: BlockDevice, subject: string, media: FormatMediaType, p: Parsed, o: FormatCliOptions, io: FormatIo, unit: number | undefined): Promise<void> {
  const bar = progress(io, !!o.quiet, subject, 'writing the volume');
  let r: FormatResult;
  try {
    r = await formatVolume(dev, {
      media, udfRev: p.udfRev, blockSize: p.blockSize, label: p.label, uuid: p.uuid, uid: p.uid, gid: p.gid, mode: p.mode,
      blocks: p.blocks, writeUnitSectors: unit, onProgress: (done, total) => bar.update(total ? done / total : 1),
    });
  } catch (e) {
    bar.stop();
    if (isFsError(e, 'EINVAL')) throw new Usage((e as Error).message);
    if (isFsError(e, 'ENOSPC') || isFsError(e, 'EFBIG') || isFsError(e, 'EROFS')) throw new Exit(FORMAT_EXIT.MEDIUM, `${subject}: ${reason(e, subject)}`);
    throw new Exit(FORMAT_EXIT.FAILED, `${subject}: writing the volume failed: ${reason(e, subject)}`);
  }
  bar.stop();
  if (!o.quiet) io.out(summary(subject, r));
}

// ---- the command -----------------------------------------------------------------------------

/** Run `pktfs format`; resolves to the exit status. */
export async function formatCommand(source: string, blocks: string | undefined, o: FormatCliOptions, io: FormatIo = STDIO): Promise<number> {
  const fail = (message: string, code: number): number => {
    io.err(`pktfs: ${message.split('\n')[0]}\n`);
    return code;
  };
  try {
    const p = parse(o, blocks);
    if (isEmuSource(source)) {
      try {
        parseEmuSource(source);
      } catch (e) {
        throw new Usage((e as Error).message);
      }
    }
    const mnt = await mountedAt(source);
    if (mnt) throw new Exit(FORMAT_EXIT.SOURCE, `${source}: mounted on ${mnt}; unmount it first`);
    if (isEmuSource(source) || isOpticalDrivePath(source)) await formatDrive(source, p, o, io);
    else await formatImage(source, p, o, io);
    return FORMAT_EXIT.OK;
  } catch (e) {
    if (e instanceof Usage) return fail(e.message, FORMAT_EXIT.USAGE);
    if (e instanceof Exit) return fail(e.message, e.code);
    if (e instanceof FsError) return fail(e.message.includes(': ') ? e.message : `${source}: ${e.message}`, FORMAT_EXIT.FAILED);
    throw e;
  }
}

const FORMAT_EPILOG = `
SOURCE is an optical drive (/dev/srN), the emulated drive (emu:PROFILE:PATH),
an image file or a block device. A disc is blanked and formatted as it needs
(CD-RW: fixed packets of 32; DVD-RW: restricted overwrite; DVD+RW, BD-RE with
spare areas; DVD-RAM as it is), then given a fresh UDF volume. An image gets
only the volume; BLOCKS is its size in blocks (with --new-file, of the new file).

Media types (mkudffs's names): hd (default for images), dvd, dvdram (DVD-RAM,
DVD+RW), dvdrw (sparable), cdrw (sparable), bdre. A drive's disc picks its own.
Write-once discs (CD-R, DVD-R, BD-R) are refused.

Exit status:
  0   formatted
  1   incorrect invocation: bad arguments or option values
  2   SOURCE could not be opened or queried (no such file, permission, no disc),
      or it is mounted
  3   the medium cannot be formatted (write-once, write-protected, too small)
  4   SOURCE holds a UDF volume and formatting it was not confirmed (--force)
  5   formatting or writing failed part way; the medium holds no usable volume`;

/** `pktfs format`, registered on the main program (bin/pktfs.ts). */
export function registerFormatCommand(program: Command): void {
  program
    .command('format')
    .description('Blank and format a rewritable disc (or an image) and write a fresh UDF volume on it.')
    .argument('<source>', '/dev/srN, emu:PROFILE:PATH, image file or block device')
    .argument('[blocks]', 'size of the volume in blocks (images only; required with --new-file)')
    .option('-m, --media-type <type>', `layout as mkudffs makes it: ${FORMAT_MEDIA_TYPES.join(', ')}`)
    .option('-r, --udfrev <rev>', 'UDF revision: 1.02, 1.50, 2.00 or 2.01 (default 2.01)')
    .option('-b, --blocksize <bytes>', 'block size for images: 512, 1024, 2048, 4096 (default 512 for hd, else 2048)')
    .option('-l, --label <label>', 'volume label (default LinuxUDF, as mkudffs)')
    .option('-u, --uuid <hex>', '16 hex digits starting the volume set identifier (default random)')
    .option('--uid <uid>', 'owner of the root directory (default 0; --uid=-1: not recorded)')
    .option('--gid <gid>', 'group of the root directory (default 0; --gid=-1: not recorded)')
    .option('--mode <octal>', 'permissions of the root directory (default 0755)')
    .option('--new-file', 'create SOURCE as a new image file of BLOCKS blocks')
    .option('--full', 'full format of the disc (slow), and reformat one that is already formatted')
    .option('--packet <sectors>', 'CD-RW fixed packet size (default 32)')
    .option('-y, --force', 'format even when SOURCE holds a UDF volume, without asking')
    .option('-q, --quiet', 'no progress and no summary; errors only')
    .helpOption('-h, --help', 'show this help and exit')
    .addHelpText('after', FORMAT_EPILOG)
    .showHelpAfterError('(pktfs format --help shows the usage)')
    .action(async (source: string, blocks: string | undefined, o: FormatCliOptions) => {
      process.exitCode = await formatCommand(source, blocks, o);
    });
}
