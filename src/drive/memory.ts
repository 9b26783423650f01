/**
 * A BlockDevice held in memory: for tests, and for layers that want a
 * scratch device. Reads and writes complete asynchronously (on a later
 * microtask) like a real device, and copy their buffers so callers can't alias
 * the stored bytes. Range checks and errors match ImageDevice.
 */
import { FsError } from '../errors';
import type { BlockDevice } from './types';

export interface MemoryDeviceOptions {
  sectorSize?: number;
  /** Number of sectors; ignored when `data` is given. */
  sectorCount?: number;
  /** Initial contents (copied); its length must be whole sectors. */
  data?: Buffer;
  readOnly?: boolean;
  description?: string;
}

export class MemoryDevice implements BlockDevice {
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly readOnly: boolean;
  readonly description: string;
  /** The device's bytes; tests may inspect it directly. */
  readonly data: Buffer;
  /** Number of flush() calls, for tests. */
  flushes = 0;
  closed = false;

  constructor(opts: MemoryDeviceOptions = {}) {
    this.sectorSize = opts.sectorSize ?? 512;
    if (opts.data) {
      if (opts.data.length % this.sectorSize !== 0) {
        throw new FsError('EINVAL', `memory device data of ${opts.data.length} bytes is not whole sectors`);
      }
      this.data = Buffer.from(opts.data);
    } else {
      this.data = Buffer.alloc((opts.sectorCount ?? 0) * this.sectorSize);
    }
    this.sectorCount = this.data.length / this.sectorSize;
    this.readOnly = !!opts.readOnly;
    this.description = opts.description ?? `memory ${this.sectorCount}x${this.sectorSize}`;
  }

  async read(lba: number, count: number): Promise<Buffer> {
    this.checkOpen();
    if (lba < 0 || count < 0 || lba + count > this.sectorCount) {
      throw new FsError('EIO', `read of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    await Promise.resolve();
    return Buffer.from(this.data.subarray(lba * this.sectorSize, (lba + count) * this.sectorSize));
  }

  async write(lba: number, data: Buffer): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new FsError('EROFS', `${this.description} is read-only`);
    if (data.length % this.sectorSize !== 0) {
      throw new FsError('EINVAL', `write of ${data.length} bytes is not whole sectors`);
    }
    const count = data.length / this.sectorSize;
    if (lba < 0 || lba + count > this.sectorCount) {
      throw new FsError('ENOSPC', `write of sectors ${lba}+${count} past the end (${this.sectorCount})`);
    }
    const copy = Buffer.from(data);
    await Promise.resolve();
    copy.copy(this.data, lba * this.sectorSize);
  }

  async flush(): Promise<void> {
    this.checkOpen();
    this.flushes++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new FsError('EBADF', `${this.description} is closed`);
  }
}
