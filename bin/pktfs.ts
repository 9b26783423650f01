#!/usr/bin/env node
/**
 * pktfs: mount a UDF disc or image with FUSE.
 *
 *   pktfs [-f] [-o OPTS] SOURCE MOUNTPOINT
 *
 * Without -f the command returns 0 once the mount is live and a background process
 * serves it until `umount MOUNTPOINT`. The contract (options, exit statuses, messages)
 * is written down in docs/cli.md. Subcommands (`pktfs info`, `pktfs format`, ...) are
 * meant to be added with program.command(): commander dispatches on the first word
 * and leaves `pktfs SOURCE MOUNTPOINT` to the default action.
 */
import { readFileSync, existsSync } from 'fs';
import path from 'path';
import createDebug from 'debug';
import { Command, Option } from 'commander';
import { OptionError, optionsHelp, parseMountOptions, splitOptions, type MountOptions } from '../src/options';
import { EXIT } from './exitcodes';
import { isFsError } from '../src/errors';
import { CHILD_FLAG, pktfsScript, reportToParent, startChild } from './daemon';
import { MountError, serve } from './serve';
import { registerInfoCommand } from './info';
import { registerFsckCommand } from './fsck';
import { registerFormatCommand } from './format';

/** package.json, found upwards from this file (bin/ under ts, dist/bin/ when built). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const p = path.join(dir, 'package.json');
    if (existsSync(p)) return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/** Print the one-line reason (the first line, should a message have more) and give the status. */
function fail(message: string, code: number): number {
  process.stderr.write(`pktfs: ${message.split('\n')[0]}\n`);
  return code;
}

/**
 * SOURCE with its file paths made absolute, because the background process runs in /.
 * emu:PROFILE:PATH[,log=FILE,...] (src/drive/emu/source.ts) holds two of them.
 */
export function absoluteSource(source: string): string {
  const emu = /^emu:([^:]*):([^,]*)(.*)$/.exec(source);
  if (!emu) return source.startsWith('emu:') ? source : path.resolve(source);
  const opts = emu[3].replace(/(^|,)log=([^,]+)/, (_m, sep: string, file: string) => `${sep}log=${path.resolve(file)}`);
  return `emu:${emu[1]}:${path.resolve(emu[2])}${opts}`;
}

export interface MountRequest {
  source: string;
  mountpoint: string;
  /** Option words, already split on commas. */
  words: string[];
  foreground: boolean;
  /** This process is the serving child of a background mount. */
  child?: boolean;
}

/** Mount as asked; resolves to the exit status (in the foreground, once the mount has ended). */
export async function mountCommand(req: MountRequest): Promise<number> {
  let opts: MountOptions;
  try {
    opts = parseMountOptions(req.words);
  } catch (e) {
    if (e instanceof OptionError) return fail(e.message, EXIT.USAGE);
    throw e;
  }
  const source = absoluteSource(req.source);
  const mountpoint = path.resolve(req.mountpoint);
  if (!req.child) for (const n of opts.notices) process.stderr.write(`pktfs: ${n}\n`);

  if (req.child) {
    try {
      await serve(source, mountpoint, opts, (warnings) => void reportToParent({ type: 'ready', warnings }));
      return EXIT.OK;
    } catch (e) {
      await reportToParent({ type: 'error', message: (e as Error).message });
      return EXIT.MOUNT;
    }
  }

  if (req.foreground || opts.debug) {
    if (opts.debug) createDebug.enable([process.env.DEBUG, 'pktfs:*'].filter(Boolean).join(','));
    try {
      await serve(source, mountpoint, opts, (warnings) => {
        for (const w of warnings) process.stderr.write(`pktfs: ${w}\n`);
      });
      return EXIT.OK;
    } catch (e) {
      if (e instanceof MountError) return fail(e.message, EXIT.MOUNT);
      // The disc could not be written at unmount (a failing drive): one line, not a stack trace.
      if (isFsError(e)) return fail(`writing the disc failed: ${e.message}`, EXIT.SYSTEM);
      throw e;
    }
  }

  const outcome = await startChild(pktfsScript(), source, mountpoint, req.words);
  switch (outcome.type) {
    case 'ready':
      for (const w of outcome.warnings) process.stderr.write(`pktfs: ${w}\n`);
      return EXIT.OK;
    case 'error':
    case 'exited':
      return fail(outcome.message, EXIT.MOUNT);
    case 'spawn-failed':
      return fail(outcome.message, EXIT.SYSTEM);
  }
}

const EPILOG = `
Mount options (-o, comma-separated, may be repeated):
${optionsHelp()}

Without -f, pktfs returns once the mount is live and serves it in the background;
\`umount MOUNTPOINT\` (or \`fusermount -u MOUNTPOINT\`) or SIGTERM ends it.

Exit status:
  0   mounted (with -f: mounted, then unmounted cleanly)
  1   incorrect invocation: bad arguments or mount options
  2   system error: the background process could not be started; with -f, writing
      the disc failed when the mount ended
  32  mount failure: no such source, not a UDF volume, mountpoint missing, busy,
      not a directory or not empty`;

export function buildProgram(): Command {
  const program = new Command('pktfs');
  program
    .description('Mount a UDF disc or image (CD, DVD, BD, hard disk) through FUSE.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help and exit')
    .argument('<source>', 'image file, block device, optical drive (/dev/srN) or emu:PROFILE:PATH holding the UDF volume')
    .argument('<mountpoint>', 'empty directory to mount it on')
    .option('-f, --foreground', 'stay in the foreground and serve until unmounted')
    .option('-o, --options <opts>', 'mount options (below)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .addOption(new Option(CHILD_FLAG).hideHelp())
    .addHelpText('after', EPILOG)
    .showHelpAfterError('(pktfs --help shows the usage)')
    .action(async (source: string, mountpoint: string, o: { foreground?: boolean; options?: string[]; serveChild?: boolean }) => {
      process.exitCode = await mountCommand({
        source,
        mountpoint,
        words: splitOptions(o.options ?? []),
        foreground: !!o.foreground,
        child: !!o.serveChild,
      });
    });
  registerInfoCommand(program);
  registerFsckCommand(program);
  registerFormatCommand(program);
  // commander would print "[options] [command] <source> <mountpoint>", which reads as if both went together
  program.usage('[options] <source> <mountpoint>\n       pktfs format [options] <source> [blocks]\n       pktfs fsck [-n | -y | -p] [-f] [-v] [--json] <source>\n       pktfs info [--json] <source>');
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
  // A background parent's child handle, or a finished mount, must not keep us here.
  process.exit(process.exitCode ?? EXIT.OK);
}

if (require.main === module) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`pktfs: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(EXIT.SYSTEM);
  });
}
