/**
 * `pktfs fsck [-n | -y | -p] [-f] [-v] [--json] SOURCE`: check the UDF volume
 * on SOURCE and repair it as asked, with e2fsck's exit statuses. SOURCE is
 * opened read-only with -n (and without a flag when there is no terminal to
 * ask on); otherwise every write goes through the packet layer, so a drive only
 * ever sees whole aligned packets. The checking and repairing is the UDF
 * layer's (src/udf/fsck); this file picks the mode, asks, shows progress and
 * prints the problems and the summary (text, or one JSON object
 * "format": "pktfs-fsck/1" whose fields docs/cli.md lists).
 */
import type { Command } from 'commander';
import { promises as fsp } from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { isFsError } from '../src/errors';
import { isEmuSource, parseEmuSource } from '../src/drive/emu/source';
import type { BlockDevice } from '../src/drive/types';
import { parseMountinfo } from '../src/fuse/mountinfo';
import type { FsckMode, FsckResult, Answer } from '../src/udf/fsck';
import { FSCK_EXIT } from '../src/udf/fsck/types';

export const FSCK_FORMAT = 'pktfs-fsck/1';

/** e2fsck's exit statuses (bits; 1 and 4 may come together as 5), from a file that loads nothing else. */
export { FSCK_EXIT };

export interface FsckFlags {
  n?: boolean;
  y?: boolean;
  p?: boolean;
  force?: boolean;
  verbose?: boolean;
  json?: boolean;
}

export interface FsckIO {
  out(text: string): void;
  err(text: string): void;
  /** A terminal to ask on (stdin and stdout both TTYs). */
  interactive: boolean;
  /** Where the progress bar goes: a terminal (stderr when it is one), or nowhere. */
  progress?: NodeJS.WritableStream;
  /** Ask a question, resolve to the line typed (undefined at end of input). */
  ask(question: string): Promise<string | undefined>;
  /** The text of /proc/self/mountinfo (to refuse repairing a mounted volume). */
  mountinfo(): Promise<string>;
}

function stdioAsk(question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    let answered = false;
    rl.question(question, (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.on('close', () => {
      if (!answered) resolve(undefined);
    });
  });
}

const STDIO: FsckIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  interactive: !!process.stdin.isTTY && !!process.stdout.isTTY,
  progress: process.stderr.isTTY ? process.stderr : undefined,
  ask: stdioAsk,
  mountinfo: () => fsp.readFile('/proc/self/mountinfo', 'utf8'),
};

/** The file (or device) a SOURCE names: the image path of an emu: SOURCE, resolved. */
function sourceFile(source: string): string {
  try {
    return path.resolve(isEmuSource(source) ? parseEmuSource(source).path : source);
  } catch {
    return source;
  }
}

/** Where pktfs has SOURCE mounted, if it does. */
async function mountedOn(source: string, io: FsckIO): Promise<string | undefined> {
  const text = await io.mountinfo().catch(() => '');
  const want = sourceFile(source);
  return parseMountinfo(text).find((m) => m.fsType === 'fuse.pktfs' && (m.source === source || sourceFile(m.source) === want))?.mountPoint;
}

/** y/yes, n/no, a/all; anything else asks again; end of input is no. The problem line is already printed. */
async function askAnswer(io: FsckIO, fix: string): Promise<Answer> {
  for (;;) {
    const line = await io.ask(`  ${fix[0].toUpperCase()}${fix.slice(1)}? (y = yes, n = no, a = yes to all) `);
    if (line === undefined) return 'n';
    const a = line.trim().toLowerCase();
    if (a === 'y' || a === 'yes') return 'y';
    if (a === 'n' || a === 'no') return 'n';
    if (a === 'a' || a === 'all') return 'a';
  }
}

function summaryText(source: string, r: FsckResult): string {
  const s = r.summary;
  const blocks = s.usedBlocks !== null ? `, ${s.usedBlocks}/${s.totalBlocks} blocks in use (${s.freeBlocks} free, ${s.blockSize} bytes each)` : `, ${s.blockSize}-byte blocks`;
  const state = r.exit === FSCK_EXIT.CLEAN ? 'clean'
    : r.exit === FSCK_EXIT.FIXED ? 'repaired'
      : r.exit & FSCK_EXIT.FIXED ? 'partly repaired, problems left' : 'problems left';
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const fixed = r.problems.filter((p) => p.outcome === 'fixed').length;
  const left = r.problems.length - fixed;
  const tally = r.problems.length ? ` (${count(r.problems.length, 'problem', 'problems')}: ${fixed} repaired, ${left} left)` : '';
  return `${source}: "${s.label}": ${state}${tally}\n${source}: ${count(s.files, 'file', 'files')}, ${count(s.dirs, 'directory', 'directories')}${blocks}\n`;
}

/** Run `pktfs fsck`; resolves to the exit status. */
export async function fsckCommand(source: string, flags: FsckFlags, io: FsckIO = STDIO): Promise<number> {
  const fail = (message: string, code: number): number => {
    io.err(`pktfs fsck: ${message.split('\n')[0]}\n`);
    return code;
  };
  const chosen = [flags.n && '-n', flags.y && '-y', flags.p && '-p'].filter(Boolean);
  if (chosen.length > 1) return fail(`${chosen.join(' and ')} exclude each other`, FSCK_EXIT.USAGE);
  if (isEmuSource(source)) {
    try {
      parseEmuSource(source);
    } catch (e) {
      return fail((e as Error).message, FSCK_EXIT.USAGE);
    }
  }
  let mode: FsckMode = flags.n ? 'check' : flags.y ? 'yes' : flags.p ? 'preen' : 'ask';
  if (mode === 'ask' && (!io.interactive || flags.json)) {
    mode = 'check';
    io.err(`pktfs fsck: ${flags.json ? '--json' : 'no terminal to ask on'} without -y or -p: checking only, as with -n\n`);
  }

  // Repairing under a live mount would have two writers; checking one may see it half written.
  const mounted = await mountedOn(source, io);
  if (mounted && mode !== 'check') return fail(`${source} is mounted on ${mounted}: unmount it first, or check only with -n`, FSCK_EXIT.OPERATIONAL);
  if (mounted) io.err(`pktfs fsck: ${source} is mounted on ${mounted}: what is found may be half written\n`);

  // Loaded here so that --help and usage errors load neither drives nor UDF.
  const { openSource } = await import('../src/drive/open');
  const { packetLayer } = await import('./stack');
  const { parseMountOptions } = await import('../src/options');
  const { fsck } = await import('../src/udf/fsck');

  let device: BlockDevice;
  try {
    device = await openSource(source, { readOnly: mode === 'check' });
  } catch (e) {
    if (isFsError(e)) return fail(e.message.includes(': ') ? e.message : `${source}: ${e.message}`, FSCK_EXIT.OPERATIONAL);
    throw e;
  }
  let top: BlockDevice = device;
  let bar: import('cli-progress').SingleBar | undefined;
  try {
    top = packetLayer(device, parseMountOptions([])).packets;
    if (io.progress && !flags.json) {
      const { SingleBar, Presets } = await import('cli-progress');
      bar = new SingleBar({ format: 'pass {pass} |{bar}| {value}/{total} entries', stream: io.progress, clearOnComplete: true, hideCursor: true }, Presets.shades_classic);
    }
    let barPass = 0;
    const result = await fsck(top, {
      mode,
      ask: (q) => {
        bar?.stop();
        barPass = 0;
        return askAnswer(io, q.fix);
      },
      progress: (done, total, pass) => {
        if (!bar) return;
        if (pass !== barPass) {
          bar.stop();
          bar.start(total, done, { pass });
          barPass = pass;
        }
        bar.setTotal(total);
        bar.update(done, { pass });
      },
      log: flags.json ? undefined : (line) => {
        bar?.stop();
        barPass = 0;
        io.out(`${line}\n`);
      },
    });
    bar?.stop();
    if (flags.json) {
      io.out(`${JSON.stringify({ format: FSCK_FORMAT, source, mode, exit: result.exit, passes: result.passes, problems: result.problems, summary: result.summary }, null, 2)}\n`);
    } else {
      if (flags.verbose) for (const s of result.summary.skipped) io.out(`note: ${s}\n`);
      if (flags.verbose) io.out(`${result.passes} pass${result.passes === 1 ? '' : 'es'}\n`);
      io.out(summaryText(source, result));
    }
    return result.exit;
  } catch (e) {
    bar?.stop();
    if (isFsError(e)) return fail(e.message.includes(': ') ? e.message : `${source}: ${e.message}`, FSCK_EXIT.OPERATIONAL);
    throw e;
  } finally {
    await top.close().catch((e: unknown) => io.err(`pktfs fsck: closing ${source}: ${(e as Error).message}\n`));
  }
}

const FSCK_EPILOG = `
SOURCE is an image file, a block device, an optical drive (/dev/srN) or the
emulated drive (emu:PROFILE:PATH). Without -n, -y or -p, fsck asks before each
repair when it runs on a terminal, and only checks (as -n) when it does not.
Repairs are written through the packet layer: a drive sees whole packets only.
-f is accepted for e2fsck's sake: pktfs always checks the whole volume.

Exit status (bits, as e2fsck's):
  0   no problems
  1   problems were repaired
  4   problems were left unrepaired (5: some repaired, some left)
  8   operational error: SOURCE could not be opened, is not a UDF volume, or read failed
  16  usage error`;

/** `pktfs fsck`, registered on the main program (bin/pktfs.ts). */
export function registerFsckCommand(program: Command): void {
  program
    .command('fsck')
    .description('Check a UDF volume and repair it.')
    .argument('<source>', 'image file, block device, /dev/srN or emu:PROFILE:PATH')
    .option('-n, --no-change', 'check only: open SOURCE read-only and repair nothing')
    .option('-y, --yes', 'repair every problem that can be repaired, without asking')
    .option('-p, --preen', 'repair without asking only what is safe (counts, free space, space map, closing)')
    .option('-f, --force', 'check even a volume marked clean (always done; accepted for e2fsck)')
    .option('-v, --verbose', 'also print notes (checks that do not apply) and the number of passes')
    .option('--json', `print one JSON object ("format": "${FSCK_FORMAT}", fields in docs/cli.md)`)
    .helpOption('-h, --help', 'show this help and exit')
    .addHelpText('after', FSCK_EPILOG)
    .showHelpAfterError('(pktfs fsck --help shows the usage)')
    .exitOverride((err) => {
      // commander's usage errors exit 1; fsck's contract says 16.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
      process.exit(FSCK_EXIT.USAGE);
    })
    .action(async (source: string, o: { change?: boolean; yes?: boolean; preen?: boolean; force?: boolean; verbose?: boolean; json?: boolean }) => {
      process.exitCode = await fsckCommand(source, { n: o.change === false, y: !!o.yes, p: !!o.preen, force: !!o.force, verbose: !!o.verbose, json: !!o.json });
    });
}
