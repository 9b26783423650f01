/**
 * Whole-block reads and writes of a partition for the write engine: every
 * block goes through the partition's translation (so a sparable partition's
 * remapped packets are honoured, UDF 2.2.12) and the Disc (which keeps its
 * metadata cache in step with what is written).
 */
import type { Space } from '../icb';
import { partitionOf } from '../icb';
import { mapBlocks } from '../partition';
import type { WriteKind } from '../../drive/types';

/** `count` blocks of partition `ref` from `block`, uncached. */
export async function readPartBlocks(space: Space, ref: number, block: number, count: number): Promise<Buffer> {
  const bs = space.disc.blockSize;
  const p = partitionOf(space, ref);
  const out = Buffer.alloc(count * bs);
  let done = 0;
  while (done < count) {
    const run = mapBlocks(p, block + done, count - done);
    const b = await space.disc.readBlocks(run.abs, run.count);
    b.copy(out, done * bs);
    done += run.count;
  }
  return out;
}

/** Write `data` (whole blocks) to partition `ref` from `block`; `kind` is the packet layer's hint. */
export async function writePartBlocks(space: Space, ref: number, block: number, data: Buffer, kind?: WriteKind): Promise<void> {
  const bs = space.disc.blockSize;
  const p = partitionOf(space, ref);
  const count = data.length / bs;
  let done = 0;
  while (done < count) {
    const run = mapBlocks(p, block + done, count - done);
    await space.disc.writeBlocks(run.abs, data.subarray(done * bs, (done + run.count) * bs), kind);
    done += run.count;
  }
}

/**
 * What is now in partition blocks [first, first+firstCount) reaches the medium no later
 * than what is now, or later, in blocks [then, then+thenCount) (an entry before the name
 * pointing at it, directory blocks before their entry), through the partitions' translation.
 */
export function orderPartBlocks(space: Space, firstRef: number, first: number, firstCount: number, thenRef: number, then: number, thenCount: number): void {
  const fp = partitionOf(space, firstRef);
  const tp = partitionOf(space, thenRef);
  for (let i = 0; i < firstCount;) {
    const a = mapBlocks(fp, first + i, firstCount - i);
    for (let j = 0; j < thenCount;) {
      const b = mapBlocks(tp, then + j, thenCount - j);
      space.disc.orderBlocks(a.abs, a.count, b.abs, b.count);
      j += b.count;
    }
    i += a.count;
  }
}
