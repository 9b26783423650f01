/**
 * The emulated drive's timing model: a medium written and read at a fixed
 * rate behind a write buffer, on an absolute clock.
 *
 * - The medium does one thing at a time: queued writes (the buffer draining),
 *   reads, seeks. Its work is scheduled against an absolute clock, so a timer
 *   that wakes late delays the host's view of one command, never the medium's
 *   schedule: lateness does not add up from command to command.
 * - A seek (`seekMs`) is paid by an access that does not start where the
 *   previous one ended.
 * - A WRITE's data goes into the buffer; the command completes as soon as it
 *   fits there (`bufferBytes`), i.e. once the medium has drained enough of the
 *   earlier data. With no buffer (or write caching off) a WRITE completes
 *   when its data is on the medium.
 * - A READ of sectors still in the buffer is served from it at once; any
 *   other READ waits behind the buffered writes, then seeks and transfers.
 * - SYNCHRONIZE CACHE completes when the buffer is drained.
 * - The medium does not bank idle time: when the host is slow the buffer runs
 *   empty and the medium waits, as a real drive's does.
 * The host side of a transfer (the bus) is taken as instantaneous.
 *
 * Nothing here sleeps: the functions return the time (in the clock's ms) at
 * which the command completes, and the drive waits until then.
 */
import { setTimeout as sleep } from 'timers/promises';
import { performance } from 'perf_hooks';

/** Where the model takes its time from; tests pass a fake one. */
export interface EmuClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolve once now() >= t. */
  sleepUntil(t: number): Promise<void>;
}

export const realClock: EmuClock = {
  now: () => performance.now(),
  async sleepUntil(t: number): Promise<void> {
    const ms = t - performance.now();
    if (ms > 0) await sleep(ms);
  },
};

export interface MediumTimingOptions {
  /** Write buffer in bytes (0: a WRITE completes when its data is on the medium). */
  bufferBytes: number;
  /** Milliseconds for an access that does not follow the previous one. */
  seekMs: number;
}

/** Data in the buffer: the medium writes it from `start` to `end` (ms). */
interface Segment {
  lba: number;
  count: number;
  bytes: number;
  start: number;
  end: number;
}

/** What the model did, for tests and the bench (ms of the model's clock). */
export interface TimingStats {
  /** Time the medium spent transferring (writes and reads). */
  transferMs: number;
  /** Time spent seeking. */
  seekMs: number;
  /** Bytes written to the medium. */
  bytesWritten: number;
  /** Bytes read from the medium, and from the buffer. */
  bytesRead: number;
  bytesReadFromBuffer: number;
  /** WRITEs that had to wait for room in the buffer. */
  writesWaited: number;
  /** Time the medium had nothing to do between its first access and its last (the host fell behind). */
  idleMs: number;
  /** When the medium finishes what it has been given. */
  mediumFreeAt: number;
}

export class MediumTiming {
  private segments: Segment[] = [];
  /** The medium is busy until then. */
  private mediumFree = -Infinity;
  /** Where the medium's head is once its queued work is done. */
  private head = 0;
  private readonly st: TimingStats = {
    transferMs: 0, seekMs: 0, bytesWritten: 0, bytesRead: 0, bytesReadFromBuffer: 0, writesWaited: 0, idleMs: 0, mediumFreeAt: 0,
  };

  constructor(private readonly opts: MediumTimingOptions) {}

  get stats(): TimingStats {
    return { ...this.st, mediumFreeAt: Math.max(0, this.mediumFree) };
  }

  /** Bytes in the buffer not yet on the medium at time `t` (>= the last command's time). */
  buffered(t: number): number {
    let sum = 0;
    for (const s of this.segments) sum += remaining(s, t);
    return sum;
  }

  /**
   * A WRITE of `count` sectors of `sectorBytes` at `lba`, issued at `now`, at
   * `rate` bytes/s (0: no transfer time). Returns when it completes.
   * `cached`: write caching on (page 08h WCE); off, the buffer does not count.
   */
  write(now: number, lba: number, count: number, sectorBytes: number, rate: number, cached = true): number {
    this.prune(now);
    const bytes = count * sectorBytes;
    const seg = this.schedule(now, lba, count, rate, bytes);
    this.segments.push(seg);
    this.st.bytesWritten += bytes;
    const buffer = cached ? this.opts.bufferBytes : 0;
    const done = this.fits(now, buffer);
    if (done > now) this.st.writesWaited++;
    return done;
  }

  /** A READ, issued at `now`; returns when its data is back. */
  read(now: number, lba: number, count: number, sectorBytes: number, rate: number): number {
    this.prune(now);
    const bytes = count * sectorBytes;
    if (this.segments.some((s) => s.lba <= lba && lba + count <= s.lba + s.count)) {
      this.st.bytesReadFromBuffer += bytes;
      return now;
    }
    const seg = this.schedule(now, lba, count, rate, bytes);
    this.st.bytesRead += bytes;
    return seg.end;
  }

  /** SYNCHRONIZE CACHE at `now`: completes when everything buffered is on the medium. */
  sync(now: number): number {
    this.prune(now);
    return Math.max(now, this.mediumFree);
  }

  /** Queue `bytes` of medium work at `lba` behind what is queued; seek first when not sequential. */
  private schedule(now: number, lba: number, count: number, rate: number, bytes: number): Segment {
    const seek = lba !== this.head ? this.opts.seekMs : 0;
    const xfer = rate > 0 ? (bytes * 1000) / rate : 0;
    if (this.mediumFree !== -Infinity && now > this.mediumFree) this.st.idleMs += now - this.mediumFree;
    const start = Math.max(now, this.mediumFree) + seek;
    const seg: Segment = { lba, count, bytes, start, end: start + xfer };
    this.mediumFree = seg.end;
    this.head = lba + count;
    this.st.seekMs += seek;
    this.st.transferMs += xfer;
    return seg;
  }

  /** The earliest time >= now at which what is buffered is at most `limit` bytes. */
  private fits(now: number, limit: number): number {
    const segs = this.segments;
    // after[i]: bytes of the segments after i, all still wholly buffered while i is being written
    let after = 0;
    let t = now;
    for (let i = segs.length - 1; i >= 0; i--) {
      const s = segs[i];
      if (after + s.bytes <= limit) {
        after += s.bytes;
        continue;
      }
      // the buffer gets down to `limit` while segment i is written (linearly from start to end)
      if (s.end <= s.start) t = s.start;
      else t = s.end - ((limit - after) * (s.end - s.start)) / s.bytes;
      t = Math.max(t, s.start);
      break;
    }
    return Math.max(now, t);
  }

  private prune(now: number): void {
    let i = 0;
    while (i < this.segments.length && this.segments[i].end <= now) i++;
    if (i) this.segments.splice(0, i);
  }
}

function remaining(s: Segment, t: number): number {
  if (t >= s.end) return 0;
  if (t <= s.start) return s.bytes;
  return (s.bytes * (s.end - t)) / (s.end - s.start);
}
