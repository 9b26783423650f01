/**
 * Byte and block access to the medium for the UDF layer: turns absolute
 * logical-block addresses (of the volume's block size) into sector reads of
 * the BlockDevice, whatever its sector size, with a small cache of recently
 * read metadata blocks.
 */
import { LRUCache } from 'lru-cache';
import type { BlockDevice, DirectRange, WriteKind } from '../drive/types';

export class Disc {
  private readonly cache = new LRUCache<number, Buffer>({ max: 1024 });

  constructor(readonly dev: BlockDevice, readonly blockSize: number) {}

  /** Bytes on the medium. */
  get byteSize(): number {
    return this.dev.sectorCount * this.dev.sectorSize;
  }

  /** Number of whole blocks on the medium. */
  get blockCount(): number {
    return Math.floor(this.byteSize / this.blockSize);
  }

  /** `length` bytes from byte `offset`; zero-filled past the end of the medium. */
  async readBytes(offset: number, length: number): Promise<Buffer> {
    const ss = this.dev.sectorSize;
    const first = Math.floor(offset / ss);
    const lastExcl = Math.min(Math.ceil((offset + length) / ss), this.dev.sectorCount);
    if (lastExcl <= first) return Buffer.alloc(length);
    const raw = await this.dev.read(first, lastExcl - first);
    const skip = offset - first * ss;
    if (skip === 0 && raw.length === length) return raw;
    const out = Buffer.alloc(length);
    raw.copy(out, 0, skip, Math.min(raw.length, skip + length));
    return out;
  }

  /** `count` blocks from absolute block `block`, uncached (file data). */
  readBlocks(block: number, count: number): Promise<Buffer> {
    return this.readBytes(block * this.blockSize, count * this.blockSize);
  }

  /**
   * `count` blocks from absolute block `block` into `into` (at least count * blockSize
   * bytes; uncached, file data), straight from the device when it can read into a
   * buffer (the packet layer copies from its cache into `into`), else through a buffer
   * of its own. Zero-filled past the end of the medium, as readBytes.
   */
  async readBlocksInto(block: number, count: number, into: Buffer): Promise<void> {
    const bs = this.blockSize;
    const ss = this.dev.sectorSize;
    const len = count * bs;
    const first = (block * bs) / ss;
    if (this.dev.readInto && bs % ss === 0 && first + len / ss <= this.dev.sectorCount) {
      await this.dev.readInto(first, [into.subarray(0, len)]);
      return;
    }
    (await this.readBlocks(block, count)).copy(into, 0, 0, len);
  }

  /**
   * Where `count` blocks from absolute block `block` lie in a file descriptor, as they are now
   * (BlockDevice.directRange); undefined where the device can't say (blocks smaller than its sectors).
   */
  directRange(block: number, count: number): DirectRange | undefined {
    const bs = this.blockSize;
    const ss = this.dev.sectorSize;
    if (!this.dev.directRange || bs % ss !== 0) return undefined;
    return this.dev.directRange(block * (bs / ss), count * (bs / ss));
  }

  /** One block, through the metadata cache. The returned buffer must not be modified. */
  async readBlock(block: number): Promise<Buffer> {
    const hit = this.cache.get(block);
    if (hit) return hit;
    const bs = this.blockSize;
    const ss = this.dev.sectorSize;
    // Told to the device as metadata (a cache reads its neighbours with it); whole sectors only.
    const b = bs % ss === 0 && (block + 1) * (bs / ss) <= this.dev.sectorCount
      ? await this.dev.read(block * (bs / ss), bs / ss, 'metadata')
      : await this.readBlocks(block, 1);
    this.cache.set(block, b);
    return b;
  }

  /**
   * Write whole blocks at absolute block `block` (`data.length` a multiple of the
   * block size), keeping the metadata cache in step. A block smaller than the
   * device's sector is written by read-modify-write of that sector. `kind` is the
   * device's write-back hint (metadata: entries, directories, maps).
   */
  async writeBlocks(block: number, data: Buffer, kind?: WriteKind): Promise<void> {
    const bs = this.blockSize;
    const ss = this.dev.sectorSize;
    const count = data.length / bs;
    if (bs % ss === 0) {
      await this.dev.write((block * bs) / ss, data, kind);
    } else {
      const first = Math.floor((block * bs) / ss);
      const lastExcl = Math.ceil(((block + count) * bs) / ss);
      const sectors = await this.dev.read(first, lastExcl - first);
      data.copy(sectors, block * bs - first * ss);
      await this.dev.write(first, sectors, kind);
    }
    for (let i = 0; i < count; i++) {
      if (this.cache.has(block + i)) this.cache.set(block + i, Buffer.from(data.subarray(i * bs, (i + 1) * bs)));
    }
  }

  /**
   * What is now in blocks [first, first+firstCount) reaches the medium no later than
   * what is now, or later, in blocks [then, then+thenCount) (absolute blocks), on a
   * device that may reorder writes (the packet layer); others write in order anyway.
   */
  orderBlocks(first: number, firstCount: number, then: number, thenCount: number): void {
    if (!this.dev.order) return;
    const bs = this.blockSize;
    const ss = this.dev.sectorSize;
    const range = (b: number, n: number) => {
      const lba = Math.floor((b * bs) / ss);
      return { lba, count: Math.ceil(((b + n) * bs) / ss) - lba };
    };
    this.dev.order(range(first, firstCount), range(then, thenCount));
  }
}
