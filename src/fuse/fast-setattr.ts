/**
 * chmod, chown and utimens answered by the FUSE binding itself (issue 6, `-o fast_setattr=`;
 * PktfsFuse.setFastSetattr). A tree copy sends two or three of them per file, and each cost a
 * round trip to this thread that the copier waited for (utimens also waited for the file's write
 * that write-behind had queued). The binding answers such a request of a path its attribute
 * cache holds at once, with the new attributes put in the cached ones, and queues it; here it
 * runs, in the order the binding answered, through the volume's setattr as the op would
 * (ops-write.ts setattrOf), with the ctime the binding showed.
 *
 * Order: the binding hands every queued request over before it hands this thread any other one,
 * and run() queues it on the volume in the same call, so every operation asked for after the
 * answer (a stat that misses the cache, a listing, a rename, an unlink, an fsync, the unmount)
 * finds it done or runs after it; the volume runs its operations in the order they were asked for.
 *
 * Failures: the request was answered already, so a failure goes where write-behind's go when
 * their handle is gone (WritableVolume.deferWriteError): the next close(2) (the flush op first
 * waits for what runs here: settled()) or fsync of any file reports it, and the binding's fast
 * path is off until it has been reported (resume()), so the requests after it get their own
 * answers.
 */
import createDebug from 'debug';
import type { WritableVolume } from '../udf/types';
import { setattrOf, type AnsweredSetattr } from './ops-write';

const debug = createDebug('pktfs:fuse');

/** What `.pktinfo/stats.json` shows as `fastSetattr`. */
export interface FastSetattrStats {
  /** chmod, chown and utimens requests the binding answered itself since the mount. */
  answered: number;
  /** Of those, how many have not finished running here yet. */
  queued: number;
  /** How many failed when they ran (reported by the next close or fsync). */
  failures: number;
}

export class FastSetattr {
  private running = 0;
  private failures = 0;
  /** The last one run, until it has finished (the volume runs them in order: all before it have too). */
  private last: Promise<void> | undefined;
  /** The binding's fast path was turned off by a failure, until it is reported. */
  private off = false;

  constructor(
    private readonly vol: WritableVolume & Required<Pick<WritableVolume, 'deferWriteError'>>,
    /** Turn the binding's fast path on or off. */
    private readonly setOn: (on: boolean) => void,
  ) {}

  /** Run a request the binding answered (see the header); never throws. */
  run(req: AnsweredSetattr): void {
    let attr;
    try {
      attr = { ...setattrOf(req.op, req.x, req.y), ctime: new Date(req.ctimeMs) };
    } catch (e) {
      return this.failed(req, e);
    }
    this.running++;
    const done: Promise<void> = this.vol.setattr(req.ino, attr).then(
      () => this.finished(done),
      (e: unknown) => {
        this.failed(req, e);
        this.finished(done);
      },
    );
    this.last = done;
  }

  /** Resolves once every request run so far has finished (undefined: none is running). */
  settled(): Promise<void> | undefined {
    return this.last;
  }

  /** The volume is off (a write error waits, or it turned read-only): the binding sends every request here. */
  stop(): void {
    this.off = true;
    this.setOn(false);
  }

  /** No write error waits to be reported any more (the flush op found none): the binding may answer again. */
  resume(): void {
    if (!this.off || this.vol.info.readOnlyReason) return;
    this.off = false;
    this.setOn(true);
  }

  stats(answered: number, queuedInBinding: number): FastSetattrStats {
    return { answered, queued: queuedInBinding + this.running, failures: this.failures };
  }

  private failed(req: AnsweredSetattr, e: unknown): void {
    this.failures++;
    debug('%s of %s (inode %d), answered by the binding, failed: %s', req.op, req.path, req.ino, (e as Error)?.message ?? e);
    // Turned off first: deferWriteError's watchers hear of it too (stop() again is harmless).
    this.stop();
    this.vol.deferWriteError(e);
  }

  private finished(done: Promise<void>): void {
    this.running--;
    if (this.last === done) this.last = undefined;
  }
}
