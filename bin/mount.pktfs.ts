#!/usr/bin/env node
/**
 * mount.pktfs: the helper mount(8) runs for `mount -t pktfs SOURCE DIR -o OPTS` and for
 * fstab lines of type pktfs. Called as
 *
 *   mount.pktfs SOURCE DIR [-sfnv] [-N NAMESPACE] [-o OPTS] [-t TYPE]
 *
 * it drops the options that belong to mount(8) and fstab (noauto, user, nofail,
 * defaults, x-*, ...) and mounts in the background like `pktfs SOURCE DIR -o OPTS`,
 * with the same exit statuses. Installed by scripts/install-mount-helper.sh.
 */
import { EXIT } from './exitcodes';
import { mountCommand } from './pktfs';
import { MOUNT_OPTIONS, isMount8Only, splitOptions } from '../src/options';

const USAGE = 'usage: mount.pktfs SOURCE DIR [-sfnv] [-o OPTIONS]';

export interface HelperArgs {
  source: string;
  dir: string;
  words: string[];
  sloppy: boolean;
  fake: boolean;
  verbose: boolean;
}

/** Parse mount(8)'s helper calling convention; throws Error with a usage message. */
export function parseHelperArgs(argv: string[]): HelperArgs {
  const positional: string[] = [];
  const lists: string[] = [];
  const out = { sloppy: false, fake: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-o' || a === '-t' || a === '-N') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === '-o') lists.push(v);
    } else if (a.startsWith('-o') && a.length > 2) {
      lists.push(a.slice(2));
    } else if (/^-[sfnvrw]+$/.test(a)) {
      for (const c of a.slice(1)) {
        if (c === 's') out.sloppy = true;
        else if (c === 'f') out.fake = true;
        else if (c === 'v') out.verbose = true;
        else if (c === 'r') lists.push('ro');
        else if (c === 'w') lists.push('rw');
        // -n (don't write /etc/mtab) has nothing to do for us.
      }
    } else if (a.startsWith('-') && a !== '-') {
      throw new Error(`unknown flag ${a}`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 2) throw new Error('SOURCE and DIR are both needed');
  let words = splitOptions(lists).filter((w) => !isMount8Only(w));
  if (out.sloppy) words = words.filter((w) => Object.prototype.hasOwnProperty.call(MOUNT_OPTIONS, w.split('=')[0]));
  return { source: positional[0], dir: positional[1], words, ...out };
}

export async function helperMain(argv: string[]): Promise<number> {
  let args: HelperArgs;
  try {
    args = parseHelperArgs(argv);
  } catch (e) {
    process.stderr.write(`mount.pktfs: ${(e as Error).message}\n${USAGE}\n`);
    return EXIT.USAGE;
  }
  if (args.verbose) process.stderr.write(`mount.pktfs: pktfs ${args.source} ${args.dir} -o ${args.words.join(',') || '(none)'}\n`);
  if (args.fake) return EXIT.OK;
  return mountCommand({ source: args.source, mountpoint: args.dir, words: args.words, foreground: false });
}

if (require.main === module) {
  helperMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`mount.pktfs: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(EXIT.SYSTEM);
    },
  );
}
