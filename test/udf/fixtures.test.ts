/**
 * The images made by other writers (../shared/fixtures/udf: Windows 7, macOS with a
 * metadata partition, Nero CD and BD-R with VAT, UDFclient, mkudffs 1.0-2.2,
 * multi-session discs): each mounts; label, UUID, revision, volume and set ids and
 * block size match blkid's *.expected; every file reads, and the listing matches 7zz's
 * where 7zz reads the image. Multi-session images mount their last session by default
 * and any session with `session: N`.
 */
import { Fixture, decompressFixture, listFixtures, sharedFixturesDir } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { parseBlkid, sevenZipList } from '../helpers/tools';
import { shapeOf, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import type { VolumeInfo } from '../../src/udf/types';

const dir = sharedFixturesDir();
if (!dir) console.warn('fixtures: ../shared/fixtures/udf not found, UDF fixture tests skipped');
const fixtures: Fixture[] = dir ? listFixtures(dir, parseBlkid) : [];
const describeIf = fixtures.length ? describe : describe.skip;

/** What blkid's expectations say, in VolumeInfo's terms (only the keys blkid printed). */
function expectedInfo(exp: Record<string, string>): Partial<VolumeInfo> {
  const out: Partial<VolumeInfo> = {};
  if ('ID_FS_LABEL_ENC' in exp) out.label = exp.ID_FS_LABEL_ENC;
  if ('ID_FS_UUID' in exp) out.uuid = exp.ID_FS_UUID;
  if ('ID_FS_VERSION' in exp) out.revision = exp.ID_FS_VERSION;
  if ('ID_FS_VOLUME_ID' in exp) out.volumeId = exp.ID_FS_VOLUME_ID;
  if ('ID_FS_VOLUME_SET_ID' in exp) out.volumeSetId = exp.ID_FS_VOLUME_SET_ID;
  if ('ID_FS_BLOCK_SIZE' in exp) out.blockSize = Number(exp.ID_FS_BLOCK_SIZE);
  return out;
}

function actualInfo(info: VolumeInfo, like: Partial<VolumeInfo>): Partial<VolumeInfo> {
  const out: Partial<VolumeInfo> = {};
  for (const k of Object.keys(like) as (keyof VolumeInfo)[]) (out as Record<string, unknown>)[k] = info[k];
  return out;
}

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

describeIf('UDF images by other writers', () => {
  const tmp = makeTempDir('fixtures');
  const images = new Map<string, string>();
  beforeAll(() => {
    for (const f of fixtures) images.set(f.name, decompressFixture(f, tmp));
  });
  afterAll(() => removeTempDir(tmp));
  if (!fixtures.length) it.skip('needs ../shared/fixtures/udf', () => undefined);

  // A loop, not describe.each: .each throws on an empty table when ../shared is absent.
  for (const f of fixtures) describe(f.name, () => {
    const last = f.sessions[f.sessions.length - 1];

    it("mounts and reports blkid's label, UUID, revision, ids and block size", async () => {
      const info = await withImage(images.get(f.name)!, {}, async (v) => v.info);
      const want = expectedInfo(last.expected);
      expect(actualInfo(info, want)).toEqual(want);
      expect(info.session).toBe(f.sessions.length);
      expect(info.sessions).toBe(f.sessions.length);
    });

    it('reads every file, and lists what 7zz lists where 7zz reads it', async () => {
      const tree = await withImage(images.get(f.name)!, {}, (v) => walkVolume(v, { checkLookup: true }));
      const seven = f.sessions.length === 1 ? sevenZipList(images.get(f.name)!) : null;
      if (seven) expect(shapeOf(tree)).toEqual(seven.sort(byPath));
      else expect(Array.isArray(tree)).toBe(true); // walked without error
    });

    if (f.sessions.length > 1) {
      it.each(f.sessions.map((s) => [s.number, s] as const))('session=%d mounts that session', async (n, s) => {
        const info = await withImage(images.get(f.name)!, { session: n }, async (v) => v.info);
        const want = expectedInfo(s.expected);
        expect(actualInfo(info, want)).toEqual(want);
        expect(info.session).toBe(n);
        await withImage(images.get(f.name)!, { session: n }, (v) => walkVolume(v));
      });
    }
  });
});
