/**
 * Whole-block reads and writes of a partition for the write engine: every
 * block goes through the partition's translation (so a sparable partition's
 * remapped packets are honoured, UDF 2.2.12) and the Disc (which keeps its
 * metadata cache in step with what is written).
 */
import type { Space } from '../icb';
import { partitionOf } from '../icb';
import { mapBlocks } from '../partition';

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

/** Write `data` (whole blocks) to partition `ref` from `block`. */
export async function writePartBlocks(space: Space, ref: number, block: number, data: Buffer): Promise<void> {
  const bs = space.disc.blockSize;
  const p = partitionOf(space, ref);
  const count = data.length / bs;
  let done = 0;
  while (done < count) {
    const run = mapBlocks(p, block + done, count - done);
    await space.disc.writeBlocks(run.abs, data.subarray(done * bs, (done + run.count) * bs));
    done += run.count;
  }
}
