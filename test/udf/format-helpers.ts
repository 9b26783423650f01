/**
 * Helpers for the format tests: make a sparse image, format it with pktfs's
 * formatter, and make the same-sized image with mkudffs for comparison.
 */
import * as fs from 'fs';
import { ImageDevice } from '../../src/drive/image';
import { formatVolume, type FormatOptions, type FormatResult } from '../../src/udf/format';
import { parseKeyValue, runAsync } from '../helpers/tools';

/** A sparse file of `blocks` blocks of `bs` bytes, formatted by pktfs. */
export async function pktfsFormatImage(img: string, blocks: number, o: FormatOptions): Promise<FormatResult> {
  const bs = o.blockSize ?? 2048;
  fs.writeFileSync(img, '');
  fs.truncateSync(img, blocks * bs);
  const dev = await ImageDevice.open(img);
  try {
    return await formatVolume(dev, o);
  } finally {
    await dev.close();
  }
}

/** The same medium made by mkudffs 2.3. */
export async function mkudffsImage(img: string, blocks: number, media: string, rev: string, bs: number, extra: string[] = []): Promise<void> {
  fs.rmSync(img, { force: true });
  const r = await runAsync('mkudffs', [`--media-type=${media}`, `--udfrev=${rev}`, `--blocksize=${bs}`, ...extra, '--new-file', img, String(blocks)]);
  if (r.status !== 0) throw new Error(`mkudffs ${media} ${rev} ${bs}: ${r.stderr}`);
}

export interface UdfinfoView {
  fields: Record<string, string>;
  /** The extent lines, "start=96, blocks=32, type=MVDS", in udfinfo's order. */
  extents: string[];
  status: number | null;
  stderr: string;
}

/** udfinfo of an image, with its extent lines (tools.ts's udfinfo keeps only the first of each key). */
export async function udfinfoView(img: string): Promise<UdfinfoView> {
  const r = await runAsync('udfinfo', [img]);
  return {
    fields: parseKeyValue(r.stdout),
    extents: r.stdout.split('\n').filter((l) => l.startsWith('start=')),
    status: r.status,
    stderr: r.stderr,
  };
}
