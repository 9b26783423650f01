/**
 * Our counts and space agree with udfinfo on every image, matrix and fixtures:
 *   numFiles   = udfinfo numfiles   (LVID implementation use, UDF 2.2.6.4)
 *   numDirs    = udfinfo numdirs    (same; includes the root)
 *   freeBlocks = udfinfo freeblocks (LVID free space table / space bitmap / VAT)
 *   totalBlocks = udfinfo usedblocks + freeblocks (the data partition's size)
 *   blockSize  = udfinfo blocksize
 * For a session other than the last, udfinfo is given its first and last block.
 */
import * as path from 'path';
import { BuiltImage, MATRIX, buildGenisoImage, buildMatrixImage, decompressFixture, listFixtures, sharedFixturesDir, specId } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { UdfInfo, haveTools, parseBlkid, pool, udfinfo } from '../helpers/tools';
import { buildSourceTree } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import type { UdfMountOptions, VolumeInfo } from '../../src/udf/types';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo', 'genisoimage');
if (!TOOLS) console.warn('udfinfo: Debian UDF tools missing, skipped');
const fixDir = sharedFixturesDir();
if (!fixDir) console.warn('udfinfo: ../shared/fixtures/udf not found, fixture part skipped');

function pick(info: VolumeInfo) {
  return { blockSize: info.blockSize, numFiles: info.numFiles, numDirs: info.numDirs, totalBlocks: info.totalBlocks, freeBlocks: info.freeBlocks };
}
function fromUdfinfo(u: UdfInfo) {
  return { blockSize: u.blockSize, numFiles: u.numFiles, numDirs: u.numDirs, totalBlocks: u.usedBlocks + u.freeBlocks, freeBlocks: u.freeBlocks };
}

async function compare(img: string, opts: UdfMountOptions, u: UdfInfo): Promise<void> {
  expect(u.errors).toEqual([]);
  const info = await withImage(img, opts, async (v) => v.info);
  expect(pick(info)).toEqual(fromUdfinfo(u));
}

(TOOLS ? describe : describe.skip)('udfinfo agrees on the matrix', () => {
  const tmp = makeTempDir('udfinfo');
  const built = new Map<string, BuiltImage | Error>();
  beforeAll(async () => {
    const src = path.join(tmp, 'src');
    buildSourceTree(src);
    await pool(MATRIX, 4, async (s) => {
      try { built.set(specId(s), await buildMatrixImage(s, tmp, src)); } catch (e) { built.set(specId(s), e as Error); }
    });
    built.set('genisoimage-udf102', buildGenisoImage(tmp, src));
  }, 150_000);
  afterAll(() => removeTempDir(tmp));

  it.each([...MATRIX.map(specId), 'genisoimage-udf102'])('%s', async (id) => {
    const b = built.get(id);
    if (b instanceof Error) throw b;
    await compare(b!.path, {}, udfinfo(b!.path));
  });
});

const fixtures = fixDir ? listFixtures(fixDir, parseBlkid) : [];
const sessions = fixtures.flatMap((f) => f.sessions.map((s) => ({
  f, s, label: f.sessions.length > 1 ? `${f.name} session ${s.number}` : f.name, last: s.number === f.sessions.length,
})));

(TOOLS && fixtures.length ? describe : describe.skip)('udfinfo agrees on the fixtures', () => {
  const tmp = makeTempDir('udfinfo-fx');
  afterAll(() => removeTempDir(tmp));

  it.each(sessions.map((x) => [x.label, x] as const))('%s', async (_label, { f, s, last }) => {
    const img = decompressFixture(f, tmp);
    const u = udfinfo(img, f.sessions.length > 1 ? { startBlock: s.start, lastBlock: s.end } : {});
    await compare(img, last ? {} : { session: s.number }, u);
  });
});
