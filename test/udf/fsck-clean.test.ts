/**
 * fsck on volumes that are clean: made by mkudffs (media types, revisions,
 * block sizes, space kinds, VAT), filled by udfclient, formatted by pktfs,
 * written by the pktfs write engine, and the fixtures made by other writers. Each exits 0 with no
 * problem, and where udfinfo reports counts and free space they are fsck's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildMatrix, MATRIX, MatrixSpec, specId, canFill, listFixtures, sharedFixturesDir, decompressFixture } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, parseBlkid, udfinfo } from '../helpers/tools';
import { buildSourceTree } from '../helpers/tree';
import { makeImage, openRw, putTree, writable } from './write-helpers';
import { fsckImage, describe as describeRun } from './fsck-helpers';
import { pktfsFormatImage } from './format-helpers';
import type { FormatOptions } from '../../src/udf/format';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo', 'xz');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('fsck-clean: mkudffs/udfclient/udfinfo/xz missing, skipped');

jest.setTimeout(120000);

/** Filled by udfclient: plain and sparable, each block size, FE and EFE, strategy 4096. */
const FILLED = [
  'hd-2.01-b512-inicb', 'hd-1.02-b2048-short', 'hd-2.00-b4096-inicb', 'hd-2.01-b2048-long-strategy=4096',
  'dvdrw-2.01-b4096-short', 'cdrw-2.01-b1024-inicb',
];
/** Empty: the other space kinds and the VAT media. */
const EMPTY = MATRIX.filter((s) => !canFill(s));
const SPECS: MatrixSpec[] = [...MATRIX.filter((s) => FILLED.includes(specId(s))), ...EMPTY];

let dir: string;

beforeAll(() => {
  if (TOOLS) dir = makeTempDir('fsck-clean');
});
afterAll(() => removeTempDir(dir));

async function expectClean(img: string): Promise<Awaited<ReturnType<typeof fsckImage>>> {
  const r = await fsckImage(img, 'check');
  if (r.exit !== 0 || r.problems.length) throw new Error(`${path.basename(img)}: exit ${r.exit}\n${describeRun(r)}`);
  return r;
}

describeIf('fsck on clean volumes', () => {
  test('mkudffs images, filled by udfclient where it can: clean, and udfinfo agrees', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    buildSourceTree(src);
    const built = await buildMatrix(SPECS, dir, src);
    expect(built.map((b) => b.id).sort()).toEqual(SPECS.map(specId).sort());
    for (const b of built) {
      const r = await expectClean(b.path);
      const info = udfinfo(b.path);
      expect({ id: b.id, files: r.summary.files, dirs: r.summary.dirs }).toEqual({ id: b.id, files: info.numFiles, dirs: info.numDirs });
      if (r.summary.freeBlocks !== null) expect({ id: b.id, free: r.summary.freeBlocks }).toEqual({ id: b.id, free: info.freeBlocks });
      else expect(r.summary.skipped.length).toBeGreaterThan(0);
    }
  });

  test('a volume written by the pktfs write engine is clean after close', async () => {
    const src = path.join(dir, 'engine-src');
    fs.mkdirSync(src);
    buildSourceTree(src, 300000);
    fs.linkSync(path.join(src, 'f2049'), path.join(src, 'a/hardlink'));
    fs.symlinkSync('a/b/c/d/deep.txt', path.join(src, 'rel-link'));
    for (const spec of [
      { media: 'hd', rev: '2.01', bs: 2048 },
      { media: 'cdrw', rev: '2.01', bs: 2048, ad: 'short' },
      { media: 'hd', rev: '1.50', bs: 512, ad: 'long', space: 'unalloctable' },
    ] as MatrixSpec[]) {
      const img = makeImage(spec, dir, `engine-${specId(spec)}`);
      const m = await openRw(img);
      try {
        const vol = writable(m);
        await putTree(vol, vol.rootIno, src);
        // Removals, renames and truncation too: what they free must be free again.
        const a = await vol.lookup(vol.rootIno, 'a');
        await vol.unlink(vol.rootIno, 'f2047');
        await vol.rename(vol.rootIno, 'big.bin', a, 'moved.bin');
        await vol.truncate(await vol.lookup(a, 'moved.bin'), 5000);
        await vol.rmdir(a, 'empty dir');
        await vol.rename(a, 'b', vol.rootIno, 'b-moved');
      } finally {
        await m.close();
      }
      const r = await expectClean(img);
      const info = udfinfo(img);
      expect({ files: r.summary.files, dirs: r.summary.dirs, free: r.summary.freeBlocks })
        .toEqual({ files: info.numFiles, dirs: info.numDirs, free: info.freeBlocks });
    }
  });

  test('volumes pktfs formats are clean, empty and after the write engine filled them', async () => {
    const src = path.join(dir, 'format-src');
    fs.mkdirSync(src);
    buildSourceTree(src, 100000);
    for (const o of [
      { media: 'hd', blockSize: 2048 }, { media: 'cdrw', blockSize: 2048, udfRev: 0x0150 }, { media: 'dvdrw', blockSize: 2048 },
      { media: 'dvdram', blockSize: 512, udfRev: 0x0200 }, { media: 'bdre', blockSize: 2048 }, { media: 'hd', blockSize: 4096, udfRev: 0x0102 },
    ] as FormatOptions[]) {
      const img = path.join(dir, `pktfs-format-${o.media}-${o.blockSize}.img`);
      await pktfsFormatImage(img, 16384, o);
      await expectClean(img);
      const m = await openRw(img);
      try {
        const vol = writable(m);
        await putTree(vol, vol.rootIno, src);
      } finally {
        await m.close();
      }
      const r = await expectClean(img);
      const info = udfinfo(img);
      expect({ img: path.basename(img), files: r.summary.files, dirs: r.summary.dirs, free: r.summary.freeBlocks })
        .toEqual({ img: path.basename(img), files: info.numFiles, dirs: info.numDirs, free: info.freeBlocks });
    }
  });

  const fixtures = sharedFixturesDir();
  (fixtures ? test : test.skip)('the fixtures made by other writers are clean', async () => {
    for (const f of listFixtures(fixtures!, parseBlkid)) await expectClean(decompressFixture(f, dir));
  });
});
