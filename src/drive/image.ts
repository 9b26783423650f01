/**
 * A BlockDevice over an image file or a block device node, through positioned
 * asynchronous reads and writes (never blocking the event loop).
 */
import { promises as fsp, constants as fsc, read as fsRead, readv as fsReadv, write as fsWrite, writev as fsWritev } from 'fs';
import createDebug from 'debug';
import { FsError } from '../errors';
import type { BlockDevice, DirectRange } from './types';

const debug = createDebug('pktfs:drive:image');

/** BLKGETSIZE64 is not reachable from Node without an ioctl; a block device's size is found by seeking. */
async function sizeOf(fh: fsp.FileHandle): Promise<number> {
  const st = await fh.stat();
  if (st.isFile()) return st.size;
  if (st.isBlockDevice()) {
    // Reading fstat's size of a block device gives 0; probe the end with a binary search on reads.
    let lo = 0;
    let hi = 1;
    const b = Buffer.alloc(512);
    while ((await fh.read(b, 0, 512, hi * 512)).bytesRead === 512) hi *= 2;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if ((await fh.read(b, 0, 512, mid * 512)).bytesRead === 512) lo = mid; else hi = mid;
    }
    return hi * 512;
  }
  throw new FsError('ENODEV', 'not a regular file or block device');
}

/**
 * Reads and writes go to the FileHandle's descriptor through fs's callback functions, not the
 * FileHandle's promise methods: the same pread/pwrite in libuv's pool, for about 10 µs less of
 * the JS thread's time per call (issue 6: a tree copy makes one per packet written; the promise
 * methods add the handle's reference counting and more promises). The handle stays open until
 * close(), which first waits for the calls still in flight.
 */
export class ImageDevice implements BlockDevice {
  readonly description: string;
  /** Calls on the descriptor not settled yet, and what close() waits on when there are some. */
  private inflight = 0;
  private drained: (() => void) | null = null;
  private constructor(
    private readonly fh: fsp.FileHandle,
    readonly sectorSize: number,
    readonly sectorCount: number,
    readonly readOnly: boolean,
    path: string,
  ) {
    this.description = `image ${path}`;
  }

  /** Open `path`; read-write unless `readOnly` or the file cannot be opened for writing. */
  static async open(path: string, opts: { readOnly?: boolean; sectorSize?: number } = {}): Promise<ImageDevice> {
    const sectorSize = opts.sectorSize ?? 512;
    let fh: fsp.FileHandle;
    let readOnly = !!opts.readOnly;
    try {
      fh = await fsp.open(path, readOnly ? fsc.O_RDONLY : fsc.O_RDWR);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!readOnly && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) {
        fh = await fsp.open(path, fsc.O_RDONLY);
        readOnly = true;
      } else if (code === 'ENOENT') {
        throw new FsError('ENOENT', `${path}: no such file or device`);
      } else {
        throw new FsError('EIO', `${path}: ${(e as Error).message}`);
      }
    }
    const bytes = await sizeOf(fh);
    debug('opened %s: %d bytes, %s', path, bytes, readOnly ? 'ro' : 'rw');
    return new ImageDevice(fh, sectorSize, Math.floor(bytes / sectorSize), readOnly, path);
  }

  async read(lba: number, count: number): Promise<Buffer> {
    if (lba < 0 || count < 0 || lba + count > this.sectorCount) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    const len = count * this.sectorSize;
    // Filled to the end below, or the read fails.
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const bytesRead = await this.call(fsRead, buf, done, len - done, lba * this.sectorSize + done);
      if (bytesRead === 0) throw new FsError('EIO', `short read at sector ${lba}`);
      done += bytesRead;
    }
    return buf;
  }

  async readInto(lba: number, targets: Buffer[]): Promise<void> {
    const len = targets.reduce((n, t) => n + t.length, 0);
    const count = len / this.sectorSize;
    if (!Number.isSafeInteger(count) || lba < 0 || lba + count > this.sectorCount) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    let bufs = targets;
    let done = 0;
    while (done < len) {
      const bytesRead = await this.callv(fsReadv, bufs, lba * this.sectorSize + done);
      if (bytesRead === 0) throw new FsError('EIO', `short read at sector ${lba + Math.floor(done / this.sectorSize)}`);
      done += bytesRead;
      if (done < len) bufs = rest(targets, done);
    }
  }

  /** Every sector of an image is where it seems: at lba * sectorSize of the file. */
  directRange(lba: number, count: number): DirectRange | undefined {
    if (!Number.isSafeInteger(lba) || !Number.isSafeInteger(count) || lba < 0 || count < 0 || lba + count > this.sectorCount) return undefined;
    return { fd: this.fh.fd, offset: lba * this.sectorSize };
  }

  async write(lba: number, data: Buffer): Promise<void> {
    if (this.readOnly) throw new FsError('EROFS', `${this.description} is read-only`);
    if (data.length % this.sectorSize !== 0) {
      throw new FsError('EINVAL', `write of ${data.length} bytes is not whole sectors`);
    }
    const count = data.length / this.sectorSize;
    if (lba < 0 || lba + count > this.sectorCount) {
      throw new FsError('ENOSPC', `write of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    let done = 0;
    while (done < data.length) {
      const bytesWritten = await this.call(fsWrite, data, done, data.length - done, lba * this.sectorSize + done);
      done += bytesWritten;
    }
  }

  async writev(lba: number, sources: Buffer[]): Promise<void> {
    if (this.readOnly) throw new FsError('EROFS', `${this.description} is read-only`);
    const len = sources.reduce((n, s) => n + s.length, 0);
    if (sources.some((s) => s.length % this.sectorSize !== 0)) {
      throw new FsError('EINVAL', `write of ${sources.map((s) => s.length).join('+')} bytes is not whole sectors`);
    }
    const count = len / this.sectorSize;
    if (lba < 0 || lba + count > this.sectorCount) {
      throw new FsError('ENOSPC', `write of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    let bufs = sources;
    let done = 0;
    while (done < len) {
      const bytesWritten = await this.callv(fsWritev, bufs, lba * this.sectorSize + done);
      done += bytesWritten;
      if (done < len) bufs = rest(sources, done);
    }
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.fh.datasync();
  }

  async close(): Promise<void> {
    // No read or write may be left on a descriptor that closing frees (its number is reused).
    while (this.inflight > 0) await new Promise<void>((resolve) => { this.drained = resolve; });
    await this.fh.close();
  }

  /** fs.read or fs.write of one buffer on the descriptor, counted while it runs (close() waits for it). */
  private call(fn: typeof fsRead | typeof fsWrite, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    const fd = this.fh.fd;
    if (fd < 0) return this.closedError();
    this.inflight++;
    return new Promise((resolve, reject) => {
      try {
        (fn as typeof fsWrite)(fd, buf, off, len, pos, (e: NodeJS.ErrnoException | null, n: number) => {
          this.settled();
          if (e) reject(e); else resolve(n);
        });
      } catch (e) {
        // (Refused before it started: a closed handle's descriptor is -1.)
        this.settled();
        reject(e);
      }
    });
  }

  /** fs.readv or fs.writev on the descriptor, likewise. */
  private callv(fn: typeof fsReadv | typeof fsWritev, bufs: Buffer[], pos: number): Promise<number> {
    const fd = this.fh.fd;
    if (fd < 0) return this.closedError();
    this.inflight++;
    return new Promise((resolve, reject) => {
      try {
        (fn as typeof fsWritev)(fd, bufs, pos, (e: NodeJS.ErrnoException | null, n: number) => {
          this.settled();
          if (e) reject(e); else resolve(n);
        });
      } catch (e) {
        // (Refused before it started: a closed handle's descriptor is -1.)
        this.settled();
        reject(e);
      }
    });
  }

  /** What a call after close() gets (the handle's descriptor is -1 by then). */
  private closedError(): Promise<number> {
    return Promise.reject(new FsError('EBADF', `${this.description} is closed`));
  }

  private settled(): void {
    if (--this.inflight === 0 && this.drained) {
      const d = this.drained;
      this.drained = null;
      d();
    }
  }
}

/** What of `targets` lies past their first `skip` bytes. */
function rest(targets: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const t of targets) {
    if (skip >= t.length) { skip -= t.length; continue; }
    out.push(skip > 0 ? t.subarray(skip) : t);
    skip = 0;
  }
  return out;
}
