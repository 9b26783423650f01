/**
 * The real images the fuzzer damages: mkudffs images filled by udfclient
 * (plain, sparable CD-RW, block sizes 512/2048/4096, FE and EFE, in-ICB/short/
 * long ADs, strategy 4096), empty VAT CD-R images (1.50 and 2.01 styles), a
 * genisoimage UDF bridge, one written by pktfs itself (symlinks, a FIFO, a
 * sparse file), and the fixtures of other writers in ../shared/fixtures/udf.
 */
import { existsSync, mkdirSync, writeFileSync } from 'fs';
import path from 'path';
import { buildGenisoImage, buildMatrixImage, decompressFixture, listFixtures, MatrixSpec, specId } from '../../test/helpers/images';
import { parseKeyValue, pool, runAsync } from '../../test/helpers/tools';
import { pseudoRandom } from '../../test/helpers/tree';
import { ImageDevice } from '../../src/drive/image';
import { openVolume, isWritable } from '../../src/udf';
import type { FuzzImage } from './case';

/** Small enough to hold all in memory and walk fast; udfclient still fits the tree below. */
const BLOCKS = 65536;

export const FUZZ_SPECS: MatrixSpec[] = [
  { media: 'hd', rev: '2.01', bs: 2048, ad: 'short', blocks: BLOCKS },
  { media: 'hd', rev: '1.50', bs: 512, ad: 'long', blocks: BLOCKS },
  { media: 'dvd', rev: '2.01', bs: 4096, ad: 'inicb', extra: ['--noefe'], blocks: BLOCKS / 2 },
  { media: 'hd', rev: '2.01', bs: 2048, ad: 'long', extra: ['--strategy=4096'], blocks: BLOCKS },
  { media: 'cdrw', rev: '2.01', bs: 2048, ad: 'short', blocks: BLOCKS },
  { media: 'cdr', rev: '2.01', bs: 2048, blocks: 2048 },
  { media: 'cdr', rev: '1.50', bs: 2048, blocks: 2048 },
];

/** A tree udfclient can put on a BLOCKS-block image: directories, names that straddle blocks, sizes around a block. */
export function buildFuzzTree(dir: string): void {
  const file = (rel: string, data: Buffer | string): void => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), data);
  };
  file('empty', '');
  file('one', 'x');
  file('f2049', pseudoRandom('f2049', 2049));
  file('big.bin', pseudoRandom('big', 300 * 1024 + 7));
  file('a/b/c/deep.txt', 'deep\n');
  file('a/b/sibling', pseudoRandom('sibling', 5000));
  file('façade ñ.txt', 'non-ASCII\n');
  for (let i = 0; i < 12; i++) file(`many/entry-${String(i).padStart(2, '0')}-${'n'.repeat((i * 13) % 61)}`, pseudoRandom(`m${i}`, i * 97));
}

/**
 * An image written through pktfs's own write engine: symlinks, a FIFO, a sparse
 * file, a directory over many blocks, and two files appended to in turn block by
 * block (packet size 1), so that each has hundreds of extents and allocation
 * extent descriptors (4/14.5).
 */
async function buildPktfsImage(dir: string, name: string, mk: string[], bs: number): Promise<FuzzImage> {
  const img = path.join(dir, `${name}.img`);
  const r = await runAsync('mkudffs', ['--media-type=hd', `--blocksize=${bs}`, ...mk, img, String((16 << 20) / bs)]);
  if (r.status !== 0) throw new Error(`mkudffs: ${r.stderr}`);
  const dev = await ImageDevice.open(img);
  try {
    const v = await openVolume(dev, { readWrite: true, packetBlocks: 1 });
    if (!isWritable(v)) throw new Error(`pktfs cannot write ${img}: ${v.info.readOnlyReason}`);
    const d = await v.mkdir(v.rootIno, 'dir', 0o755, 0, 0);
    const f = await v.create(d, 'file', 0o644, 0, 0);
    await v.write(f, 0, pseudoRandom('pktfs', 9000));
    await v.symlink(v.rootIno, 'link', 'dir/file', 0, 0);
    await v.symlink(d, 'up', '../../etc/../x', 0, 0);
    await v.symlink(v.rootIno, 'abs', '/usr/share/doc', 0, 0);
    await v.mknod(v.rootIno, 'fifo', 0o10644, 0, 0, 0);
    const s = await v.create(v.rootIno, 'sparse', 0o644, 0, 0);
    await v.truncate(s, 5 << 20);
    await v.write(s, 3 << 20, Buffer.from('middle'));
    for (let i = 0; i < 60; i++) await v.create(d, `n${i}-${'x'.repeat(i * 3)}`, 0o644, 0, 0);
    const x = await v.create(v.rootIno, 'frag-x', 0o644, 0, 0);
    const y = await v.create(v.rootIno, 'frag-y', 0o644, 0, 0);
    const blocks = Math.ceil((bs / 8) * 1.3); // more short_ads than one block holds
    for (let i = 0; i < blocks; i++) {
      await v.write(x, i * bs, pseudoRandom(`x${i}`, bs));
      await v.write(y, i * bs, pseudoRandom(`y${i}`, bs));
    }
    await v.close();
  } finally {
    await dev.close();
  }
  return { name, path: img };
}

/** ../shared/fixtures/udf beside the checkout (found from here, under ts-jest or in dist/). */
function fixturesDir(): string | null {
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) {
      const fx = path.resolve(d, '../shared/fixtures/udf');
      return existsSync(fx) ? fx : null;
    }
  }
  return null;
}

/** Build (or decompress) every fuzz image into `dir`. */
export async function buildFuzzImages(dir: string, opts: { fixtures?: boolean } = {}): Promise<FuzzImage[]> {
  const src = path.join(dir, 'tree');
  buildFuzzTree(src);
  const built = await pool(FUZZ_SPECS, 3, (s) => buildMatrixImage(s, dir, src));
  const out: FuzzImage[] = built.map((b) => ({ name: specId(b.spec!), path: b.path }));
  const iso = buildGenisoImage(dir, src);
  out.push({ name: iso.id, path: iso.path });
  out.push(await buildPktfsImage(dir, 'pktfs-written', ['--udfrev=2.01'], 2048));
  out.push(await buildPktfsImage(dir, 'pktfs-written-fe-long-b512', ['--udfrev=1.50', '--ad=long'], 512));
  const fx = opts.fixtures === false ? null : fixturesDir();
  if (fx) for (const f of listFixtures(fx, parseKeyValue)) out.push({ name: f.name, path: decompressFixture(f, dir) });
  return out;
}
