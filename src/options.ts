/**
 * Mount options (`-o a,b=c`), shared by bin/pktfs and bin/mount.pktfs: one table that
 * parses each option, refuses what pktfs can't honour with a reason, and writes the help
 * text. Part of the CLI contract (docs/cli.md): options are only ever added.
 */
import type { UdfMountOptions } from './udf/types';

export interface MountOptions {
  /** `-o ro`. Without it the mount is read-write where the volume and the medium allow it. */
  readOnly: boolean;
  /** What the UDF layer is told: block size, session, owner, mask. */
  udf: UdfMountOptions;
  allowOther: boolean;
  /** `-o debug`: DEBUG=pktfs:* logging, and the process stays in the foreground. */
  debug: boolean;
  nonempty: boolean;
  /** VFS flags handed to mount(2) as they are. */
  vfsFlags: string[];
  /** Things the user should be told at mount time (e.g. rw mounted read-only). */
  notices: string[];
  /** What the packet layer is told; absent fields take the medium's or the defaults. */
  packet: PacketOptions;
  /** The `.pktinfo` status directory: reachable but not listed, listed, or absent. */
  pktinfo: PktinfoMode;
  /** `-o direct_read=off`: every read goes through pktfs (src/fuse/context.ts, DirectReads). */
  directRead?: boolean;
  /** `-o attr_timeout=S`, `-o entry_timeout=S`: seconds the kernel keeps attributes and names (src/fuse/fuse.ts). */
  attrTimeout?: number;
  entryTimeout?: number;
  /** `-o attr_cache=off`: no attribute cache in the binding (src/fuse/fuse.ts bindingAttrCache). */
  attrCache?: boolean;
  /** `-o write_behind=off`: every write answered after it ran (src/fuse/write-behind.ts). */
  writeBehind?: boolean;
  /** `-o fast_open=off`: every open and release reaches pktfs (src/fuse/fuse.ts bindingFastOpen). */
  fastOpen?: boolean;
  /** `-o fast_setattr=off`: every chmod, chown and utimens is answered by pktfs (src/fuse/fast-setattr.ts). */
  fastSetattr?: boolean;
}

export interface PacketOptions {
  /** `-o packet=N`: packet size in 2048-byte sectors (the medium's own size wins on MMC drives). */
  sectors?: number;
  /** `-o cache=SIZE`: bytes of packet cache. */
  cacheBytes?: number;
  /** `-o flush=MS`: idle write-back delay; Infinity for `flush=off`. */
  flushDelayMs?: number;
}

export type PktinfoMode = 'hidden' | 'visible' | 'off';

/** Largest packet pktcdvd accepted (PACKET_MAX_SIZE, 128 frames = 256 KiB); more buys nothing. */
export const MAX_PACKET_SECTORS = 128;
/** Bytes of the sectors `-o packet=` counts in. */
export const PACKET_SECTOR_BYTES = 2048;
const MAX_CACHE_BYTES = 16 * 1024 ** 3;
const MIN_CACHE_BYTES = 64 * 1024;
const MAX_FLUSH_MS = 24 * 3600 * 1000;

/** A refused or malformed option; bin/ prints the message and exits with the usage status. */
export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

export function defaultMountOptions(): MountOptions {
  return {
    readOnly: false, udf: {}, allowOther: false, debug: false, nonempty: false, vfsFlags: [], notices: [],
    packet: {}, pktinfo: 'hidden',
  };
}

interface OptionSpec {
  /** `flag`: no value; `value`: needs `=value`. */
  takes: 'flag' | 'value';
  /** Shown in --help; an empty string hides the option. */
  help: string;
  /** The value's name in --help (`cache=SIZE`); N when absent. */
  value?: string;
  apply(o: MountOptions, value: string, name: string): void;
}

/** An `on|off` option: `set` records which. */
function onOff(help: string, set: (o: MountOptions, on: boolean) => void): OptionSpec {
  return {
    takes: 'value',
    value: 'on|off',
    help,
    apply: (o, v, n) => {
      if (v !== 'on' && v !== 'off') throw new OptionError(`-o ${n}=${v}: must be on or off`);
      set(o, v === 'on');
    },
  };
}

function integer(name: string, value: string, min: number, max: number, radix = 10): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  const n = re.test(value) ? parseInt(value, radix) : NaN;
  if (!(n >= min && n <= max)) {
    const what = radix === 8 ? 'an octal number' : 'a whole number';
    throw new OptionError(`-o ${name}=${value}: must be ${what} from ${radix === 8 ? min.toString(8) : min} to ${radix === 8 ? max.toString(8) : max}`);
  }
  return n;
}

/** `16M`, `512K`, `1G` (powers of 1024) or a plain number of bytes. */
export function parseSize(name: string, value: string, min: number, max: number): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(value);
  const unit = m ? { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'] : NaN;
  const n = m ? Number(m[1]) * unit : NaN;
  if (!(n >= min && n <= max)) {
    throw new OptionError(`-o ${name}=${value}: must be a size from ${sizeText(min)} to ${sizeText(max)}, such as 16M or 512K`);
  }
  return n;
}

function sizeText(n: number): string {
  for (const [u, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) if (n % f === 0) return `${n / f}${u}`;
  return String(n);
}

const refuseAtime = (o: MountOptions, _v: string, name: string): void => {
  throw new OptionError(`-o ${name} is not supported: pktfs never records access times (it always mounts noatime)`);
};

const vfsFlag = (o: MountOptions, _v: string, name: string): void => {
  o.vfsFlags.push(name);
};

const ID_MAX = 0xfffffffe;

export const MOUNT_OPTIONS: Record<string, OptionSpec> = {
  ro: { takes: 'flag', help: 'mount read-only', apply: (o) => (o.readOnly = true) },
  rw: {
    takes: 'flag',
    help: 'read-write (the default where the volume and the medium allow it; else read-only, saying why)',
    apply: (o) => (o.readOnly = false),
  },
  force: {
    takes: 'flag',
    help: 'write to a volume left open (not closed after its last use) instead of mounting it read-only',
    apply: (o) => (o.udf.allowOpen = true),
  },
  uid: { takes: 'value', help: 'owner (numeric) of files recorded without one (uid -1 on the disc)', apply: (o, v, n) => (o.udf.uid = integer(n, v, 0, ID_MAX)) },
  gid: { takes: 'value', help: 'group (numeric) of files recorded without one (gid -1 on the disc)', apply: (o, v, n) => (o.udf.gid = integer(n, v, 0, ID_MAX)) },
  umask: { takes: 'value', help: 'octal mask taken away from every permission, e.g. umask=022', apply: (o, v, n) => (o.udf.umask = integer(n, v, 0, 0o777, 8)) },
  allow_other: { takes: 'flag', help: 'let users other than the one who mounted see the files', apply: (o) => (o.allowOther = true) },
  bs: {
    takes: 'value',
    help: 'logical block size 512, 1024, 2048 or 4096 (detected when absent)',
    apply: (o, v, n) => {
      const bs = integer(n, v, 512, 4096);
      if (![512, 1024, 2048, 4096].includes(bs)) throw new OptionError(`-o bs=${v}: must be 512, 1024, 2048 or 4096`);
      o.udf.blockSize = bs;
    },
  },
  session: { takes: 'value', help: 'session to mount, counted from 1 (the last one when absent)', apply: (o, v, n) => (o.udf.session = integer(n, v, 1, 0xffff)) },
  anchor: { takes: 'value', help: 'block of the anchor volume descriptor to try first', apply: (o, v, n) => (o.udf.anchor = integer(n, v, 0, 2 ** 32 - 1)) },
  lastblock: { takes: 'value', help: 'last block of the medium, when the device reports it wrong', apply: (o, v, n) => (o.udf.lastBlock = integer(n, v, 0, 2 ** 32 - 1)) },
  unhide: { takes: 'flag', help: 'show files and directories marked hidden', apply: (o) => (o.udf.unhide = true) },
  debug: { takes: 'flag', help: 'log what pktfs does (DEBUG=pktfs:*) and stay in the foreground', apply: (o) => (o.debug = true) },
  packet: {
    takes: 'value',
    help: 'packet size in 2048-byte sectors, 1 to 128 (the medium\'s own on a drive; 16 for an image)',
    apply: (o, v, n) => (o.packet.sectors = integer(n, v, 1, MAX_PACKET_SECTORS)),
  },
  cache: {
    takes: 'value',
    value: 'SIZE',
    help: 'memory for the packet cache, e.g. 16M (the default), 512K, 1G; at least two packets',
    apply: (o, v, n) => (o.packet.cacheBytes = parseSize(n, v, MIN_CACHE_BYTES, MAX_CACHE_BYTES)),
  },
  flush: {
    takes: 'value',
    value: 'MS',
    help: 'after MS milliseconds without writes (1000), write everything back and close the volume; off: only on fsync, unmount and .pktinfo/flush',
    apply: (o, v, n) => {
      o.packet.flushDelayMs = v === 'off' ? Infinity : integer(n, v, 0, MAX_FLUSH_MS);
      o.udf.idleSettleMs = o.packet.flushDelayMs;
    },
  },
  pktinfo: {
    takes: 'value',
    value: 'MODE',
    help: 'the .pktinfo status directory: hidden (reachable, not listed; the default), visible, off',
    apply: (o, v, n) => {
      if (v !== 'hidden' && v !== 'visible' && v !== 'off') throw new OptionError(`-o ${n}=${v}: must be hidden, visible or off`);
      o.pktinfo = v;
    },
  },
  attr_timeout: {
    takes: 'value',
    value: 'S',
    help: 'seconds the kernel may keep file attributes (1, read-only mounts 30; 0: ask pktfs on every stat)',
    apply: (o, v, n) => (o.attrTimeout = seconds(n, v)),
  },
  entry_timeout: {
    takes: 'value',
    value: 'S',
    help: 'seconds the kernel may keep names it looked up, found or not (1, read-only mounts 30)',
    apply: (o, v, n) => (o.entryTimeout = seconds(n, v)),
  },
  direct_read: onOff('on (the default): reads of files unchanged in an image are answered by the FUSE binding from the image itself; off: all through pktfs', (o, on) => (o.directRead = on)),
  attr_cache: onOff('on (the default): pktfs keeps the attributes it answered and answers stat from them until a change; off: every stat reaches pktfs', (o, on) => (o.attrCache = on)),
  write_behind: onOff('on (the default): writes are answered at once and run in order behind the answer (not near a full disc, and at most 8 MiB at a time); a failure is reported by the next close or fsync; off: each write answered after it ran', (o, on) => (o.writeBehind = on)),
  fast_open: onOff('on (the default): the FUSE binding answers read-only opens of files in the attribute cache, and their closes, itself; off: all through pktfs', (o, on) => (o.fastOpen = on)),
  fast_setattr: onOff('on (the default): the FUSE binding answers chmod, chown and utimens of files in the attribute cache itself, and pktfs applies them in order after; a failure is reported by the next close or fsync; off: each answered by pktfs', (o, on) => (o.fastSetattr = on)),
  noatime: { takes: 'flag', help: 'accepted; pktfs never records access times', apply: () => undefined },
  atime: { takes: 'flag', help: '', apply: refuseAtime },
  strictatime: { takes: 'flag', help: '', apply: refuseAtime },
  relatime: { takes: 'flag', help: '', apply: refuseAtime },
  nonempty: { takes: 'flag', help: 'allow mounting over a directory that is not empty', apply: (o) => (o.nonempty = true) },
  nosuid: { takes: 'flag', help: 'ignore set-user-ID and set-group-ID bits (also nodev, noexec, suid, dev, exec)', apply: vfsFlag },
  nodev: { takes: 'flag', help: '', apply: vfsFlag },
  noexec: { takes: 'flag', help: '', apply: vfsFlag },
  suid: { takes: 'flag', help: '', apply: vfsFlag },
  dev: { takes: 'flag', help: '', apply: vfsFlag },
  exec: { takes: 'flag', help: '', apply: vfsFlag },
};

const MAX_TIMEOUT_S = 3600;

/** A number of seconds from 0 to an hour, fractions allowed (libfuse takes a double). */
function seconds(name: string, v: string): number {
  const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= MAX_TIMEOUT_S)) throw new OptionError(`-o ${name}=${v}: must be seconds from 0 to ${MAX_TIMEOUT_S}, such as 1 or 0.5`);
  return n;
}

/** Split `-o` strings ("a,b=c") into option words; several -o are simply joined. */
export function splitOptions(lists: string[]): string[] {
  return lists.flatMap((l) => l.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** Parse option words; throws OptionError on the first unknown, malformed or refused one. */
export function parseMountOptions(words: string[]): MountOptions {
  const o = defaultMountOptions();
  for (const word of words) {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    const spec = Object.prototype.hasOwnProperty.call(MOUNT_OPTIONS, name) ? MOUNT_OPTIONS[name] : undefined;
    if (!spec) throw new OptionError(`unknown mount option "${name}" (pktfs --help lists them)`);
    if (spec.takes === 'value' && (value === undefined || value === '')) throw new OptionError(`-o ${name} needs a value: ${name}=...`);
    if (spec.takes === 'flag' && value !== undefined) throw new OptionError(`-o ${name} takes no value`);
    spec.apply(o, value ?? '', name);
  }
  const { sectors, cacheBytes } = o.packet;
  if (sectors !== undefined && cacheBytes !== undefined) checkCacheHoldsPackets(cacheBytes, sectors * PACKET_SECTOR_BYTES);
  return o;
}

/**
 * The packet cache must hold two packets (one being filled, one being written), so a
 * cache too small for the packet size is refused rather than quietly grown.
 */
export function checkCacheHoldsPackets(cacheBytes: number, packetBytes: number): void {
  if (cacheBytes < 2 * packetBytes) {
    throw new OptionError(`-o cache=${sizeText(cacheBytes)}: holds fewer than two packets of ${packetBytes / 1024}K; give at least cache=${sizeText(2 * packetBytes)}`);
  }
}

/** Options fstab and mount(8) use for themselves; mount.pktfs drops them before pktfs sees the rest. */
export const MOUNT8_ONLY = new Set(['defaults', 'auto', 'noauto', 'user', 'nouser', 'users', 'owner', 'group', 'nofail', '_netdev']);

export function isMount8Only(word: string): boolean {
  const name = word.split('=')[0];
  return MOUNT8_ONLY.has(name) || name.startsWith('x-') || name === 'comment';
}

/** Help lines for the options, `  name=VALUE   meaning`. */
export function optionsHelp(): string {
  const rows = Object.entries(MOUNT_OPTIONS)
    .filter(([, s]) => s.help)
    .map(([name, s]) => [s.takes === 'value' ? `${name}=${s.value ?? 'N'}` : name, s.help]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const refused = 'atime, strictatime, relatime: refused (pktfs never records access times)';
  return [...rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`), `  ${refused}`].join('\n');
}
