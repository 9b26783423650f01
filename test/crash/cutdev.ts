/**
 * The crash harness's drive: a BlockDevice over a MemoryDevice that records
 * every write in the order the drive is given them (and where each flush
 * fell), and can be "cut" like a drive losing power or its medium: after a
 * write number or a byte budget every further write is dropped silently
 * (power cut) or refused with EIO (drive gone). `imageAfter` rebuilds what the
 * medium would hold had the power gone after a given number of bytes, the
 * last write torn at a sector boundary, from one recorded run.
 */
import { FsError } from '../../src/errors';
import type { BlockDevice } from '../../src/drive/types';
import { MemoryDevice } from '../../src/drive/memory';

export interface WriteRecord {
  lba: number;
  data: Buffer;
  /** Bytes written by the writes before this one. */
  before: number;
}

export interface CutPolicy {
  /** Writes beyond this many bytes (counted from the first write) are cut. */
  afterBytes: number;
  /** 'drop': lost silently (power cut); 'fail': refused with EIO (drive gone). */
  mode: 'drop' | 'fail';
}

export class RecordingDevice implements BlockDevice {
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly readOnly = false;
  readonly description: string;
  readonly writes: WriteRecord[] = [];
  /** Bytes written when each completed flush began: what a flush made durable. */
  readonly flushes: number[] = [];
  bytes = 0;
  cut: CutPolicy | undefined;
  /** Writes that reached the medium, in bytes (equal to `bytes` until the cut). */
  landed = 0;

  constructor(readonly inner: MemoryDevice) {
    this.sectorSize = inner.sectorSize;
    this.sectorCount = inner.sectorCount;
    this.description = `recording ${inner.description}`;
  }

  read(lba: number, count: number): Promise<Buffer> {
    return this.inner.read(lba, count);
  }

  async write(lba: number, data: Buffer): Promise<void> {
    const before = this.bytes;
    this.writes.push({ lba, data: Buffer.from(data), before });
    this.bytes += data.length;
    const cut = this.cut;
    if (cut && before + data.length > cut.afterBytes) {
      // The part before the cut lands, whole sectors only (a torn write).
      const keep = Math.max(0, Math.floor((cut.afterBytes - before) / this.sectorSize)) * this.sectorSize;
      if (keep > 0) await this.inner.write(lba, data.subarray(0, keep));
      this.landed += keep;
      if (cut.mode === 'fail') throw new FsError('EIO', `write of sectors ${lba}+${data.length / this.sectorSize}: drive cut off`);
      return;
    }
    await this.inner.write(lba, data);
    this.landed += data.length;
  }

  async flush(): Promise<void> {
    const at = this.bytes;
    if (this.cut && this.cut.mode === 'fail' && at > this.cut.afterBytes) throw new FsError('EIO', 'flush: drive cut off');
    await this.inner.flush();
    this.flushes.push(at);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The medium after the first `cutBytes` bytes of `writes` landed on `base` (the write across the cut torn at a sector). */
export function imageAfter(base: Buffer, writes: WriteRecord[], cutBytes: number, sectorSize: number): Buffer {
  const img = Buffer.from(base);
  for (const w of writes) {
    if (w.before >= cutBytes) break;
    const keep = Math.min(w.data.length, Math.floor((cutBytes - w.before) / sectorSize) * sectorSize);
    w.data.copy(img, w.lba * sectorSize, 0, keep);
  }
  return img;
}

/**
 * `imageAfter` for cut points visited in ascending order, without copying the
 * medium for each: writes are applied onto one buffer as the cut moves on
 * (a torn write is applied again whole once the cut passes it).
 */
export class Replayer {
  readonly img: Buffer;
  private next = 0;
  private cut = 0;

  constructor(base: Buffer, private readonly writes: WriteRecord[], private readonly sectorSize: number) {
    this.img = Buffer.from(base);
  }

  advanceTo(cutBytes: number): Buffer {
    if (cutBytes < this.cut) throw new Error(`replay goes forward only (${cutBytes} < ${this.cut})`);
    this.cut = cutBytes;
    while (this.next < this.writes.length) {
      const w = this.writes[this.next];
      if (w.before >= cutBytes) break;
      const keep = Math.min(w.data.length, Math.floor((cutBytes - w.before) / this.sectorSize) * this.sectorSize);
      w.data.copy(this.img, w.lba * this.sectorSize, 0, keep);
      if (keep < w.data.length) break; // torn: applied again whole when the cut moves past it
      this.next++;
    }
    return this.img;
  }
}

/** A BlockDevice straight over a Buffer (no copy): the checks read a replayed medium in place. */
export class BufferDevice implements BlockDevice {
  readonly sectorCount: number;
  readonly readOnly = false;
  readonly description = 'replayed medium';

  constructor(readonly data: Buffer, readonly sectorSize: number) {
    this.sectorCount = data.length / sectorSize;
  }

  async read(lba: number, count: number): Promise<Buffer> {
    if (lba < 0 || count < 0 || lba + count > this.sectorCount) throw new FsError('EIO', `read of sectors ${lba}+${count} past the end`);
    return Buffer.from(this.data.subarray(lba * this.sectorSize, (lba + count) * this.sectorSize));
  }

  async write(lba: number, data: Buffer): Promise<void> {
    if (lba < 0 || lba + data.length / this.sectorSize > this.sectorCount) throw new FsError('ENOSPC', `write of sectors ${lba}+ past the end`);
    data.copy(this.data, lba * this.sectorSize);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

export { prng } from '../helpers/prng';
