/**
 * A damaged image without copying it: the pristine bytes plus the 512-byte
 * sectors a case changed, and a BlockDevice over that for openVolume. The
 * device refuses (and records) reads far larger than any real structure, so a
 * length taken from the disc without a bound shows up as a failure of the case.
 */
import { closeSync, fstatSync, openSync, readSync } from 'fs';
import type { BlockDevice } from '../../src/drive/types';
import { FsError } from '../../src/errors';

const SECTOR = 512;

/** The pristine image, read from its file on demand (images are sparse and up to a few hundred MiB). */
export class BaseImage {
  private readonly fd: number;
  readonly length: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    this.length = fstatSync(this.fd).size;
  }

  /** Bytes [off, off+len), clipped to the image. */
  read(off: number, len: number): Buffer {
    const n = Math.max(0, Math.min(len, this.length - off));
    const out = Buffer.alloc(n);
    for (let done = 0; done < n;) {
      const got = readSync(this.fd, out, done, n - done, off + done);
      if (got <= 0) break;
      done += got;
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class Overlay {
  readonly sectors = new Map<number, Buffer>();

  constructor(readonly base: BaseImage) {}

  get length(): number {
    return this.base.length;
  }

  /** A copy of bytes [off, off+len), clipped to the image. */
  read(off: number, len: number): Buffer {
    const out = this.base.read(off, len);
    if (this.sectors.size === 0) return out;
    const end = off + out.length;
    for (const [sec, s] of this.sectors) {
      const from = Math.max(off, sec * SECTOR);
      const to = Math.min(end, (sec + 1) * SECTOR);
      if (from < to) s.copy(out, from - off, from - sec * SECTOR, to - sec * SECTOR);
    }
    return out;
  }

  /** Put `data` at `off` (clipped to the image). */
  write(off: number, data: Buffer): void {
    const end = Math.min(this.base.length, off + data.length);
    for (let pos = off; pos < end;) {
      const sec = Math.floor(pos / SECTOR);
      let s = this.sectors.get(sec);
      if (!s) {
        s = Buffer.alloc(SECTOR);
        this.base.read(sec * SECTOR, SECTOR).copy(s);
        this.sectors.set(sec, s);
      }
      const inSec = pos - sec * SECTOR;
      const n = Math.min(SECTOR - inSec, end - pos);
      data.copy(s, inSec, pos - off, pos - off + n);
      pos += n;
    }
  }

  /** The whole damaged image (for tools that want a file). */
  materialise(): Buffer {
    const out = this.base.read(0, this.base.length);
    for (const [sec, s] of this.sectors) s.copy(out, sec * SECTOR);
    return out;
  }
}

export interface GuardedDeviceOptions {
  /** Reads of more bytes than this at once are refused and recorded. */
  maxReadBytes: number;
  onHugeRead: (bytes: number) => void;
}

/** A BlockDevice of 512-byte sectors over an Overlay; writes (when allowed) land in the overlay. */
export class OverlayDevice implements BlockDevice {
  readonly sectorSize = SECTOR;
  readonly sectorCount: number;
  readonly readOnly: boolean;
  readonly description = 'fuzz overlay';

  constructor(private readonly img: Overlay, private readonly opts: GuardedDeviceOptions & { writable?: boolean }) {
    this.sectorCount = Math.floor(img.length / SECTOR);
    this.readOnly = !opts.writable;
  }

  async read(lba: number, count: number): Promise<Buffer> {
    if (!Number.isSafeInteger(lba) || !Number.isSafeInteger(count) || lba < 0 || count < 0 || lba + count > this.sectorCount) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    if (count * SECTOR > this.opts.maxReadBytes) {
      this.opts.onHugeRead(count * SECTOR);
      throw new FsError('EIO', `fuzz guard: read of ${count * SECTOR} bytes`);
    }
    await Promise.resolve();
    return this.img.read(lba * SECTOR, count * SECTOR);
  }

  async write(lba: number, data: Buffer): Promise<void> {
    if (this.readOnly) throw new FsError('EROFS', 'fuzz overlay is read-only');
    const count = data.length / SECTOR;
    if (!Number.isSafeInteger(lba) || !Number.isInteger(count) || lba < 0 || lba + count > this.sectorCount) {
      throw new FsError('EIO', `write of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    if (data.length > this.opts.maxReadBytes) {
      this.opts.onHugeRead(data.length);
      throw new FsError('EIO', `fuzz guard: write of ${data.length} bytes`);
    }
    await Promise.resolve();
    this.img.write(lba * SECTOR, data);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
