/**
 * `pktfs info [--json] SOURCE`: the drive and disc (or the image) and the UDF
 * volume on it, as a person wants to see them, or as one JSON object
 * ("format": "pktfs-info/1") whose fields docs/cli.md lists. Drive facts come
 * from src/drive/describe.ts, volume facts from the UDF layer's VolumeInfo;
 * this file only combines and prints them.
 *
 * Exit statuses (INFO_EXIT, docs/cli.md): a disc or image without a UDF
 * volume is a normal answer (0); only what stops us from looking is not.
 */
import type { Command } from 'commander';
import { isFsError } from '../src/errors';
import { describeSource, type SourceFacts } from '../src/drive/describe';
import { isEmuSource, parseEmuSource } from '../src/drive/emu/source';
import { openVolume } from '../src/udf';
import { formatInfoText, INFO_FORMAT, infoJson, type InfoReport } from './info-report';

export const INFO_EXIT = {
  /** The report was printed (with or without a UDF volume). */
  OK: 0,
  /** Incorrect invocation: missing or extra arguments, unknown option, malformed emu: SOURCE. */
  USAGE: 1,
  /** SOURCE could not be opened or queried: no such file, permission, drive or I/O error. */
  SOURCE: 2,
  /** A UDF volume is there but could not be read (damaged, or a read error): the rest is printed. */
  VOLUME: 3,
} as const;

// ---- gathering --------------------------------------------------------------------------

/** Why a drive offers nothing to look for a volume on. */
function nothingToRead(f: SourceFacts): string {
  if (f.type === 'drive') {
    if (f.medium === 'none') return 'no disc in the drive';
    if (f.medium === 'blank') return 'the disc is blank';
    if (f.medium === 'unformatted') return 'the disc is not formatted';
    return 'the drive reports no readable capacity';
  }
  return 'the image is empty';
}

/** Look at SOURCE; throws FsError when it cannot be opened or queried at all. */
export async function gatherInfo(source: string): Promise<InfoReport> {
  const described = await describeSource(source);
  try {
    const report: InfoReport = { source, facts: described.facts, volumeStatus: 'absent' };
    if (!described.device || described.device.sectorCount === 0) {
      report.volumeMessage = nothingToRead(described.facts);
      return report;
    }
    try {
      const volume = await openVolume(described.device);
      report.volume = volume.info;
      report.volumeStatus = 'found';
      await volume.close();
    } catch (e) {
      if (isFsError(e, 'ENOMEDIUM')) throw e;
      // The UDF layer answers ENODEV when there is no volume recognition or anchor at all.
      report.volumeStatus = isFsError(e, 'ENODEV') ? 'absent' : 'unreadable';
      report.volumeMessage = (e as Error).message;
    }
    return report;
  } finally {
    await described.close().catch(() => undefined);
  }
}

// ---- the command ------------------------------------------------------------------------

export interface InfoOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: InfoOutput = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** Run `pktfs info`; resolves to the exit status. */
export async function infoCommand(source: string, opts: { json?: boolean }, io: InfoOutput = STDIO): Promise<number> {
  const fail = (message: string, code: number): number => {
    io.err(`pktfs: ${message.split('\n')[0]}\n`);
    return code;
  };
  if (isEmuSource(source)) {
    try {
      parseEmuSource(source);
    } catch (e) {
      return fail((e as Error).message, INFO_EXIT.USAGE);
    }
  }
  let report: InfoReport;
  try {
    report = await gatherInfo(source);
  } catch (e) {
    // the drive and image layers name the subject (a path, a drive) themselves
    if (isFsError(e)) return fail(e.message.includes(': ') ? e.message : `${source}: ${e.message}`, INFO_EXIT.SOURCE);
    throw e;
  }
  io.out(opts.json ? `${JSON.stringify(infoJson(report), null, 2)}\n` : formatInfoText(report));
  if (report.volumeStatus === 'unreadable') return fail(`${source}: UDF volume unreadable: ${report.volumeMessage}`, INFO_EXIT.VOLUME);
  return INFO_EXIT.OK;
}

const INFO_EPILOG = `
SOURCE is an image file, a block device, an optical drive (/dev/srN) or the
emulated drive (emu:PROFILE:PATH). A disc or image without a UDF volume is
reported as such, with status 0.

Exit status:
  0   the report was printed (with or without a UDF volume)
  1   incorrect invocation
  2   SOURCE could not be opened or queried (no such file, permission, drive error)
  3   a UDF volume is there but could not be read; the rest is printed`;

/** `pktfs info`, registered on the main program (bin/pktfs.ts). */
export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('Show the drive, the disc or image, and the UDF volume on it.')
    .argument('<source>', 'image file, block device, /dev/srN or emu:PROFILE:PATH')
    .option('--json', `print one JSON object ("format": "${INFO_FORMAT}", fields in docs/cli.md)`)
    .helpOption('-h, --help', 'show this help and exit')
    .addHelpText('after', INFO_EPILOG)
    .showHelpAfterError('(pktfs info --help shows the usage)')
    .action(async (source: string, o: { json?: boolean }) => {
      process.exitCode = await infoCommand(source, { json: !!o.json });
    });
}
