/**
 * Helpers for the fsck tests: run the UDF layer's fsck on an image file, and
 * damage images on purpose with test/helpers/tag.ts (which does not trust src/udf).
 */
import * as fs from 'fs';
import { ImageDevice } from '../../src/drive/image';
import { fsck, FsckMode, FsckResult } from '../../src/udf/fsck';

/** fsck of `img` in `mode` (check opens the image read-only). */
export async function fsckImage(img: string, mode: FsckMode, ask?: Parameters<typeof fsck>[1]['ask']): Promise<FsckResult> {
  const dev = await ImageDevice.open(img, { readOnly: mode === 'check' });
  try {
    return await fsck(dev, { mode, ask });
  } finally {
    await dev.close();
  }
}

/** The codes of the problems a run found, sorted, without repeats. */
export function codes(r: FsckResult): string[] {
  return [...new Set(r.problems.map((p) => p.code))].sort();
}

/** What a failing expectation should show: every problem with its outcome. */
export function describe(r: FsckResult): string {
  return r.problems.map((p) => `[${p.pass}] ${p.code} ${p.outcome}: ${p.message}${p.error ? ` (${p.error})` : ''}`).join('\n');
}

/** Read-modify-write `count` blocks of an image file in place (a temp copy). */
export function patchBlocks(img: string, bs: number, block: number, count: number, fn: (buf: Buffer) => void): void {
  const fd = fs.openSync(img, 'r+');
  try {
    const buf = Buffer.alloc(bs * count);
    fs.readSync(fd, buf, 0, buf.length, block * bs);
    fn(buf);
    fs.writeSync(fd, buf, 0, buf.length, block * bs);
  } finally {
    fs.closeSync(fd);
  }
}
