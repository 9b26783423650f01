/**
 * What every group of FUSE operations shares: the volume, the path resolver, the table
 * of open file handles, and `serve`, which runs an async operation and answers the
 * kernel with its result or with the errno its failure maps to.
 */
import type { DirectMap, Volume } from '../udf/types';
import { PathResolver } from './resolver';
import { toErrno } from './errno';
import type { WriteBehind } from './write-behind';
import type { FastSetattr } from './fast-setattr';

/** What an open file handle refers to. */
export interface OpenFile {
  ino: number;
  path: string;
  /** A regular file opened for reading only, whose data the binding has not yet been asked to map (DirectReads). */
  mappable?: boolean;
  /** The last write answered before it ran (write-behind.ts), until it has run. */
  behind?: Promise<void>;
  /** The first such write that failed, until flush or fsync reports it. */
  behindError?: unknown;
}

/** What the binding's read fast path has done (PktfsFuse.directReads; counted over the whole process). */
export interface DirectReadStats {
  /** Reads the binding answered from the image itself, and their bytes. */
  reads: number;
  bytes: number;
  /** Reads of a mapped handle it handed to pktfs after all (a range it could not serve, a failed pread). */
  fallbacks: number;
  /** Open handles with a map now. */
  maps: number;
}

/**
 * The FUSE binding's read fast path (src/fuse/fuse.ts): reads of a handle with a map are answered
 * on the binding's own thread, from the image file, with no round trip to this thread. The binding
 * drops every map when a request that can change or move a file's data (write, truncate, unlink,
 * rename) comes in and when it is answered, and counts the drops.
 */
export interface DirectReads {
  /** The binding's count of drops, to be handed back with a map computed after reading it. */
  gen(): number;
  /** Answer reads of handle `fh` from `map` (refused, false, when a drop came since `gen`). */
  set(fh: number, gen: number, map: DirectMap): boolean;
  stats(): DirectReadStats;
}

/**
 * Handles from here up are the binding's (its fast open: PktfsFuse.setFastOpen); pktfs's own
 * stay below.
 */
export const FAST_FH_BASE = 0x80000000;

export class OpsContext {
  readonly resolver: PathResolver;
  /** Set by the mount when the binding has the read fast path and the mount wants it. */
  direct?: DirectReads;
  /**
   * Set by a writable mount whose binding can answer flush itself: turn that on (nothing to
   * report) or off. The flush op turns it on when it finds no write error to report.
   */
  fastFlush?: (on: boolean) => void;
  /** How many flushes the binding answered itself (with fastFlush). */
  fastFlushes?: () => number;
  /** Set by a writable mount that answers writes before they run (write-behind.ts, `-o write_behind=`). */
  writeBehind?: WriteBehind;
  /** Set by a writable mount whose binding answers chmod, chown and utimens itself (fast-setattr.ts, `-o fast_setattr=`). */
  fastSetattr?: FastSetattr;
  /**
   * Set by a mount whose binding answers opens itself (FAST_FH_BASE): takes such a handle over,
   * giving its file's inode and its size at open (undefined: not one of the binding's handles).
   */
  takeFastOpen?: (fh: number) => { ino: number; size: number } | undefined;
  private readonly files = new Map<number, OpenFile>();
  private nextFh = 1;

  constructor(readonly volume: Volume, readonly readOnly: boolean) {
    this.resolver = new PathResolver(volume);
  }

  /** Remember an open file and give it a handle number (never 0, which fuse-native treats as none). */
  addFile(file: OpenFile): number {
    while (this.files.has(this.nextFh) || this.nextFh === 0) this.nextFh = (this.nextFh + 1) % FAST_FH_BASE;
    const fh = this.nextFh;
    this.nextFh = (this.nextFh + 1) % FAST_FH_BASE;
    this.files.set(fh, file);
    return fh;
  }

  /**
   * The open file of handle `fh`. A handle the binding gave out itself (its fast open) is taken
   * over at its first request here, as a read-only handle of a regular file (what the binding
   * opens); its release then comes here too.
   */
  file(fh: number, path = ''): OpenFile | undefined {
    const known = this.files.get(fh);
    if (known !== undefined || fh < FAST_FH_BASE || !this.takeFastOpen) return known;
    const taken = this.takeFastOpen(fh);
    if (!taken) return undefined;
    const file: OpenFile = { ino: taken.ino, path, mappable: !!this.direct && taken.size > 0 };
    this.files.set(fh, file);
    return file;
  }

  removeFile(fh: number): void {
    const file = this.files.get(fh);
    if (file?.behindError !== undefined) this.writeBehind?.released(file);
    this.files.delete(fh);
  }

  get openFiles(): number {
    return this.files.size;
  }
}

/**
 * fuse-native's callback: a result code (0, a byte count, or a negative errno) and maybe a value
 * (and for open and create, fuse_file_info flags after the handle: see PktfsFuse._op_open).
 */
export type FuseCb = (code: number, value?: unknown, extra?: number) => void;

/**
 * How long an operation may take before the kernel is answered ETIMEDOUT (a drive that stopped
 * answering: a slow one may take many seconds to spin up). The operation goes on; its late answer
 * is dropped. fuse-native did this with a timer per request (issue 6: ~65,000 timers set and
 * cleared for a tar x); one sweep every `sweepMs` looks at the operations in flight instead.
 */
export const OP_TIMEOUT = { ms: 120_000, sweepMs: 5_000 };
const ETIMEDOUT = -110;

interface InFlight {
  cb: FuseCb;
  op: string;
  path: string;
  since: number;
  answered: boolean;
}

const inFlight = new Set<InFlight>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const f of inFlight) {
    if (now - f.since < OP_TIMEOUT.ms) continue;
    inFlight.delete(f);
    f.answered = true;
    process.stderr.write(`pktfs: ${f.op} ${f.path}: no answer after ${Math.round((now - f.since) / 1000)} s, answered ETIMEDOUT\n`);
    f.cb(ETIMEDOUT);
  }
  if (inFlight.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** Per FUSE operation, the requests answered through serve() and how long they took (stats.json `answers`). */
export interface AnswerTimes {
  /** Requests answered (successes and errors; not those answered ETIMEDOUT). */
  count: number;
  /** Mean time from the request reaching pktfs's JavaScript to its answer, in microseconds. */
  meanUs: number;
  maxUs: number;
}

const answered = new Map<string, { count: number; totalMs: number; maxMs: number }>();

function noteAnswer(op: string, since: number): void {
  const ms = performance.now() - since;
  let a = answered.get(op);
  if (!a) answered.set(op, (a = { count: 0, totalMs: 0, maxMs: 0 }));
  a.count++;
  a.totalMs += ms;
  if (ms > a.maxMs) a.maxMs = ms;
}

/**
 * What serve() answered since the process started, per operation, busiest first (issue 6: where
 * a small-file copy waits; answers given in the same tick, without serve(), are not counted).
 */
export function answerTimes(): Record<string, AnswerTimes> {
  const out: Record<string, AnswerTimes> = {};
  for (const [op, a] of [...answered].sort((x, y) => y[1].totalMs - x[1].totalMs)) {
    out[op] = { count: a.count, meanUs: Math.round((a.totalMs / a.count) * 1000), maxUs: Math.round(a.maxMs * 1000) };
  }
  return out;
}

/** Operations answered ETIMEDOUT by the sweep so far are gone from here; those still running, for tests. */
export function operationsInFlight(): number {
  return inFlight.size;
}

/**
 * Run `work` and answer through `cb`: `[code, value, extra]` on success, the mapped errno on failure,
 * ETIMEDOUT after OP_TIMEOUT.ms. Never throws, so a failing operation can't take the process (and the
 * mount) down.
 */
export function serve(cb: FuseCb, op: string, path: string, work: () => Promise<[number, unknown?, number?]>): void {
  const f: InFlight = { cb, op, path, since: performance.now(), answered: false };
  inFlight.add(f);
  if (!sweeper) {
    sweeper = setInterval(sweep, OP_TIMEOUT.sweepMs);
    sweeper.unref();
  }
  work().then(
    ([code, value, extra]) => {
      if (f.answered) return;
      inFlight.delete(f);
      noteAnswer(op, f.since);
      if (extra !== undefined) cb(code, value, extra); else if (value === undefined) cb(code); else cb(code, value);
    },
    (e: unknown) => {
      if (f.answered) return;
      inFlight.delete(f);
      noteAnswer(op, f.since);
      cb(toErrno(e, op, path));
    },
  );
}
