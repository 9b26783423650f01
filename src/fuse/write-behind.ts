/**
 * Writes answered before they run (issue 6). A FUSE write used to be answered once the write
 * engine had taken it (~70 us for tar's 10 KiB appends, ~200 us for a 128 KiB block), and the
 * writer waited that long for every write(2) while the JS thread was otherwise idle. Here the
 * data is copied (the binding's buffer is libfuse's, gone after the answer), the write is queued
 * on the volume and the kernel is answered in the same tick: the writer's next write(2), and its
 * round trip through the kernel and the binding, overlap the work on this one.
 *
 * Nothing is reordered: the volume runs its operations in the order they were asked for, so a
 * read, stat, truncate, fsync or unmount asked for later waits for every write queued before it.
 * The page cache of a local filesystem makes the same promise: written data is there to read
 * at once, and it reaches the medium later.
 *
 * A write is answered early only when its failure is unlikely and bounded:
 * - at most `maxBytes` are queued this way; past it the writer waits as before (memory, and a
 *   slow drive pushes back on the writer);
 * - the volume has room for twice what is queued, plus `marginBytes`: near a full disc every
 *   write waits for its answer, so ENOSPC reaches write(2) as before;
 * - no write error waits to be reported, on the volume or on the handle.
 * Errors still reach the caller of that file's close(2): while writes answered early are queued,
 * the binding does not answer flush itself, and the flush op (ops-write.ts) waits for the
 * handle's queued writes and reports the first that failed; so does fsync. A failure found
 * after the handle was released is the volume's (WritableVolume.deferWriteError): the next
 * close(2) of any file and the next fsync report it.
 */
import createDebug from 'debug';
import type { WritableVolume } from '../udf/types';
import { MAX_FILE_SIZE } from '../udf/write/node';
import type { OpenFile, OpsContext } from './context';

const debug = createDebug('pktfs:fuse');

export const WRITE_BEHIND = { maxBytes: 8 << 20, marginBytes: 4 << 20 };

/** What `.pktinfo/stats.json` shows as `writeBehind`. */
export interface WriteBehindStats {
  /** Writes answered before they ran, and their bytes. */
  writes: number;
  bytes: number;
  /** Writes answered after they ran because `maxBytes` were queued already. */
  waited: number;
  /** Writes answered early that failed later (reported by the next flush or fsync). */
  failures: number;
  /** Bytes queued now. */
  queuedBytes: number;
}

export class WriteBehind {
  private queued = 0;
  /** Open handles whose queued write failed, until flush or fsync reports it. */
  private readonly failed = new Set<OpenFile>();
  private readonly counts = { writes: 0, bytes: 0, waited: 0, failures: 0 };

  constructor(
    private readonly ctx: OpsContext,
    private readonly vol: WritableVolume & Required<Pick<WritableVolume, 'deferWriteError'>>,
  ) {}

  /**
   * Queue the write of `data` (copied) at `pos` of the file behind handle `fh` and answer for it
   * now, if that is safe (see the header); false when the caller must run it and answer after it.
   */
  write(fh: number, pos: number, data: Buffer): boolean {
    const file = this.ctx.file(fh);
    const len = data.length;
    if (!file || file.behindError !== undefined) return false;
    if (len === 0 || !Number.isSafeInteger(pos) || pos < 0 || pos + len > MAX_FILE_SIZE) return false;
    if (this.queued + len > WRITE_BEHIND.maxBytes) {
      this.counts.waited++;
      return false;
    }
    const info = this.vol.info;
    if (info.freeBlocks * info.blockSize < 2 * (this.queued + len) + WRITE_BEHIND.marginBytes) return false;
    if (this.errorWaits()) return false;
    const copy = Buffer.allocUnsafeSlow(len);
    data.copy(copy);
    // Before the answer: the close(2) that may follow at once must come to the flush op.
    if (!this.busy) this.ctx.fastFlush?.(false);
    this.queued += len;
    this.counts.writes++;
    this.counts.bytes += len;
    const done: Promise<void> = this.vol.write(file.ino, pos, copy).then(
      () => this.settled(len, file, done),
      (e: unknown) => {
        this.counts.failures++;
        debug('write of %d bytes at %d of inode %d, answered before it ran, failed: %s', len, pos, file.ino, (e as Error).message);
        // Recorded before settled(): the binding must not answer this file's flush itself.
        if (this.ctx.file(fh) !== file) this.vol.deferWriteError(e);
        else if (file.behindError === undefined) {
          file.behindError = e;
          this.failed.add(file);
        }
        this.settled(len, file, done);
      },
    );
    file.behind = done;
    return true;
  }

  /** The failure of a write of handle `fh` answered before it ran, once (flush and fsync report it). */
  take(fh: number): unknown {
    const file = this.ctx.file(fh);
    const e = file?.behindError;
    if (e === undefined) return undefined;
    file!.behindError = undefined;
    this.failed.delete(file!);
    return e;
  }

  /** A handle is released with a failure nobody reported: the volume's to report now. */
  released(file: OpenFile): void {
    if (!this.failed.delete(file)) return;
    const e = file.behindError;
    file.behindError = undefined;
    this.vol.deferWriteError(e);
  }

  private settled(len: number, file: OpenFile, done: Promise<void>): void {
    this.queued -= len;
    if (file.behind === done) file.behind = undefined;
    // With an error waiting, the flush op turns it on again itself once it has reported it.
    if (!this.busy && !this.errorWaits()) this.ctx.fastFlush?.(true);
  }

  /** A write error waits to be reported by the volume (or it can't tell: as if one did). */
  private errorWaits(): boolean {
    try {
      return this.vol.writeError() !== undefined;
    } catch {
      return true;
    }
  }

  /** Writes answered before they ran are queued now, or a handle's failure waits for its close(2). */
  get busy(): boolean {
    return this.queued > 0 || this.failed.size > 0;
  }

  stats(): WriteBehindStats {
    return { ...this.counts, queuedBytes: this.queued };
  }
}
