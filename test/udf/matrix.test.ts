/**
 * Read-path conformance across what mkudffs 2.3 makes (media type x UDF revision x
 * block size x AD kind x space kind, see test/helpers/images.ts) filled by udfclient,
 * plus a genisoimage UDF 1.02 bridge image: through openVolume, every listing, every
 * file's size and bytes match the host tree; the label, UUID, revision and block size
 * match blkid's reading of the same image; the listing matches 7zz's where 7zz reads it.
 */
import * as path from 'path';
import { BuiltImage, MATRIX, buildGenisoImage, buildMatrixImage, specId } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { blkidProbe, haveTools, pool, sevenZipList } from '../helpers/tools';
import { buildSourceTree, shapeOf, walkHost, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo', 'genisoimage', '7zz', 'blkid');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('matrix: mkudffs/udfclient/genisoimage/7zz/blkid missing, skipped');

const GENISO = 'genisoimage-udf102';
const IDS = [...MATRIX.map(specId), GENISO];

describeIf('UDF read matrix', () => {
  const tmp = makeTempDir('matrix');
  const src = path.join(tmp, 'src');
  const built = new Map<string, BuiltImage | Error>();

  beforeAll(async () => {
    buildSourceTree(src);
    await pool(MATRIX, 4, async (s) => {
      try {
        built.set(specId(s), await buildMatrixImage(s, tmp, src));
      } catch (e) {
        built.set(specId(s), e as Error);
      }
    });
    built.set(GENISO, buildGenisoImage(tmp, src));
  }, 150_000);
  afterAll(() => removeTempDir(tmp));

  const image = (id: string): BuiltImage => {
    const b = built.get(id);
    if (b === undefined) throw new Error(`${id} was not built`);
    if (b instanceof Error) throw b;
    return b;
  };

  describe.each(IDS)('%s', (id) => {
    it('lists and reads exactly the source tree', async () => {
      const img = image(id);
      const want = img.source ? walkHost(img.source, img.mapName) : [];
      const got = await withImage(img.path, {}, (vol) => walkVolume(vol, { checkLookup: true }));
      expect(got).toEqual(want);
    });

    it('reads every file in chunks that straddle block boundaries', async () => {
      const img = image(id);
      const want = img.source ? walkHost(img.source, img.mapName) : [];
      const got = await withImage(img.path, {}, (vol) => walkVolume(vol, { chunk: 7 * img.blockSize + 1 }));
      expect(got).toEqual(want);
    });

    it("reports blkid's label, UUID, revision and block size", async () => {
      const img = image(id);
      const blk = blkidProbe(img.path);
      const info = await withImage(img.path, {}, async (vol) => vol.info);
      expect({ label: info.label, uuid: info.uuid, revision: info.revision, blockSize: info.blockSize }).toEqual({
        label: blk.ID_FS_LABEL_ENC, uuid: blk.ID_FS_UUID, revision: blk.ID_FS_VERSION, blockSize: Number(blk.ID_FS_BLOCK_SIZE),
      });
      expect(info.blockSize).toBe(img.blockSize);
    });

    it("agrees with 7zz's listing where 7zz reads the image", async () => {
      const img = image(id);
      const seven = sevenZipList(img.path);
      if (seven === null) {
        // 7-Zip reads neither sparable nor VAT volumes, nor 1024/4096-byte blocks, nor ICB strategy 4096.
        const s = img.spec;
        expect(s && (['dvdrw', 'cdrw', 'cdr', 'dvdr', 'bdr'].includes(s.media) || ![512, 2048].includes(s.bs)
          || s.extra?.includes('--strategy=4096'))).toBeTruthy();
        return;
      }
      const got = await withImage(img.path, {}, (vol) => walkVolume(vol));
      expect(shapeOf(got)).toEqual(seven.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
    });
  });
});
