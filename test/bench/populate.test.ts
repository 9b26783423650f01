/** The scale scenarios' volume filler: files made through the write engine, as other UDF tools see them. */
import { populate } from '../../bench/populate';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { run, udfinfo } from '../helpers/tools';
import { makeImage, UDFCLIENT_VOLUME } from '../udf/write-helpers';

let dir: string;
beforeAll(() => { dir = makeTempDir('populate'); });
afterAll(() => removeTempDir(dir));

test('populate makes the files in directories of perDir, counted and listed by udftools and udfclient', async () => {
  const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 32 * 1024 }, dir);
  const r = await populate(img, 2500, 1000);
  expect(r).toMatchObject({ files: 2500, dirs: 3 });
  const info = udfinfo(img);
  expect(info.errors).toEqual([]);
  expect(info.numFiles).toBe(2500);
  expect(info.numDirs).toBe(4);
  const ls = run('udfclient', ['-b', '2048', img], `cd "${UDFCLIENT_VOLUME}/d2"\nls\nquit\n`);
  const names = [...ls.matchAll(/\bf(\d+)\b/g)].map((m) => Number(m[1]));
  expect(new Set(names).size).toBe(500);
  expect(Math.max(...names)).toBe(499);
});
