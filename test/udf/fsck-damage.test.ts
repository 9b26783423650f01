/**
 * fsck on images damaged on purpose (fsck-damage.ts), each kind alone and
 * several together: `-n` finds it and exits 4, `-y` repairs it and exits 1, a
 * second run is clean, and then udfinfo's counts and free space agree with the
 * volume, udfclient lists and reads every file the damage did not touch, and
 * 7zz lists them (plain partitions) at their sizes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { buildMatrixImage, MatrixSpec } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, sevenZipList, udfinfo } from '../helpers/tools';
import { buildSourceTree, walkHost, TreeEntry } from '../helpers/tree';
import { udfclientGetAll } from './write-helpers';
import { fsckImage, codes, describe as describeRun } from './fsck-helpers';
import {
  Damage, Image, vdsDamage, linkCountDamage, lvidCountsDamage, lvidOpenDamage, usedMarkedFreeDamage,
  unreachableDamage, doubleClaimDamage, orphanDamage, loopDamage, sparingDamage,
} from './fsck-damage';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo', '7zz');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('fsck-damage: mkudffs/udfclient/udfinfo/7zz missing, skipped');

jest.setTimeout(120000);

const PLAIN: MatrixSpec = { media: 'hd', rev: '2.01', bs: 2048, ad: 'short' };
const SPARABLE: MatrixSpec = { media: 'cdrw', rev: '2.01', bs: 2048, ad: 'long' };

let dir: string;
let src: string;
let host: TreeEntry[];
const base: Record<string, string> = {};

/** The base images, built once (concurrent tests start before beforeAll would be done with them). */
let building: Promise<void> | undefined;
function ready(): Promise<void> {
  building ??= (async () => {
    dir = makeTempDir('fsck-damage');
    src = path.join(dir, 'src');
    fs.mkdirSync(src);
    buildSourceTree(src);
    host = walkHost(src);
    const [plain, sparable] = await Promise.all([buildMatrixImage(PLAIN, dir, src), buildMatrixImage(SPARABLE, dir, src)]);
    base.plain = plain.path;
    base.sparable = sparable.path;
  })();
  return building;
}

afterAll(async () => {
  await building?.catch(() => undefined);
  removeTempDir(dir);
});

let n = 0;
async function copyOf(which: string): Promise<string> {
  await ready();
  const img = path.join(dir, `work-${n++}.img`);
  execFileSync('cp', ['--sparse=always', base[which], img]);
  return img;
}

/** udfclient reads back every host file the damage left alone; returns what it fetched. */
async function judge(img: string, touched: string[]): Promise<TreeEntry[]> {
  const out = path.join(dir, `out-${n++}`);
  const names = [...fs.readdirSync(src), 'lost+found'];
  const log = await udfclientGetAll(img, 2048, names, out);
  const got = walkHost(out);
  const gotByPath = new Map(got.map((e) => [e.path, e]));
  const skip = (p: string) => touched.some((t) => p === t || p.startsWith(`${t}/`)) || !/^[\x20-\x7e]*$/.test(p);
  for (const w of host.filter((e) => e.type === 'file' && !skip(e.path))) {
    const g = gotByPath.get(w.path);
    if (!g || g.sha256 !== w.sha256) throw new Error(`udfclient: ${w.path} ${g ? 'differs' : 'missing'}\n${log.slice(-2000)}`);
  }
  return got;
}

async function checkRepair(img: string, damages: Damage[], sevenZip = true): Promise<TreeEntry[]> {
  const image = new Image(img, 2048);
  for (const d of damages) d.apply(image);
  image.save();

  const found = await fsckImage(img, 'check');
  expect({ exit: found.exit, codes: codes(found) }).toEqual({
    exit: 4, codes: expect.arrayContaining([...new Set(damages.flatMap((d) => d.codes))]),
  });
  const fixed = await fsckImage(img, 'yes');
  if (fixed.exit !== 1) throw new Error(`fsck -y exited ${fixed.exit}:\n${describeRun(fixed)}`);
  const again = await fsckImage(img, 'check');
  if (again.exit !== 0) throw new Error(`second fsck exited ${again.exit}:\n${describeRun(again)}\nafter:\n${describeRun(fixed)}`);

  const info = udfinfo(img);
  expect(info.errors).toEqual([]);
  // 7-Zip reads plain partitions (not sparable ones): every file the damage left alone, at its size.
  if (sevenZip) {
    const listed = sevenZipList(img);
    if (!listed) throw new Error('7zz cannot open the repaired image');
    const sizes = new Map(listed.filter((e) => !e.folder).map((e) => [e.path, e.size]));
    for (const w of host.filter((e) => e.type === 'file' && /^[\x20-\x7e]*$/.test(e.path) && !damages.some((d) => d.touches.some((t) => e.path === t || e.path.startsWith(`${t}/`))))) {
      expect({ path: w.path, size: sizes.get(w.path) }).toEqual({ path: w.path, size: w.size });
    }
  }
  expect({ files: info.numFiles, dirs: info.numDirs, free: info.freeBlocks, integrity: info.fields.integrity })
    .toEqual({ files: again.summary.files, dirs: again.summary.dirs, free: again.summary.freeBlocks, integrity: 'closed' });
  return judge(img, damages.flatMap((d) => d.touches));
}

describeIf('fsck on damaged images', () => {
  const alone: Damage[] = [
    vdsDamage, linkCountDamage, lvidCountsDamage, lvidOpenDamage, usedMarkedFreeDamage, unreachableDamage, doubleClaimDamage,
  ];
  test.concurrent.each(alone.map((d) => [d.name, d]))('%s: found, repaired, then clean', async (_name, d) => {
    await checkRepair(await copyOf('plain'), [d]);
  });

  test.concurrent('an orphan file entry: moved to lost+found, where udfclient reads it', async () => {
    const got = await checkRepair(await copyOf('plain'), [orphanDamage]);
    const orphan = got.find((e) => e.path.startsWith('lost+found/'));
    expect(orphan?.sha256).toBe(host.find((e) => e.path === 'f2049')!.sha256);
  });

  test.concurrent('a directory loop: the looping entry removed, the cut-off directory in lost+found', async () => {
    const got = await checkRepair(await copyOf('plain'), [loopDamage]);
    const deep = got.find((e) => e.path.startsWith('lost+found/') && e.path.endsWith('/d/deep.txt'));
    expect(deep?.sha256).toBe(host.find((e) => e.path === 'a/b/c/d/deep.txt')!.sha256);
  });

  test.concurrent('sparing tables that disagree: the newest copy rewrites the other', async () => {
    await checkRepair(await copyOf('sparable'), [sparingDamage], false);
  });

  test.concurrent('several kinds together', async () => {
    const got = await checkRepair(await copyOf('plain'), [
      vdsDamage, linkCountDamage, lvidCountsDamage, lvidOpenDamage, usedMarkedFreeDamage, unreachableDamage, orphanDamage,
    ]);
    expect(got.some((e) => e.path.startsWith('lost+found/'))).toBe(true);
  });

  test.concurrent('preen (-p) repairs the safe problems and leaves the rest', async () => {
    const img = await copyOf('plain');
    const image = new Image(img, 2048);
    lvidCountsDamage.apply(image);
    orphanDamage.apply(image);
    image.save();
    const r = await fsckImage(img, 'preen');
    expect(r.exit).toBe(1 | 4);
    const byCode = Object.fromEntries(r.problems.map((p) => [p.code, p.outcome]));
    expect(byCode).toMatchObject({ 'lvid-counts': 'fixed', orphan: 'declined' });
    expect(codes(await fsckImage(img, 'check'))).toEqual(['orphan']);
  });

  test.concurrent('asking: "n" leaves a problem, "a" repairs it and everything after', async () => {
    const img = await copyOf('plain');
    const image = new Image(img, 2048);
    linkCountDamage.apply(image);
    lvidOpenDamage.apply(image);
    image.save();
    const asked: string[] = [];
    const first = await fsckImage(img, 'ask', async (q) => { asked.push(q.code); return 'n'; });
    expect(first.exit).toBe(4);
    expect(asked).toEqual(['link-count']); // the volume is not closed while something is left
    const second = await fsckImage(img, 'ask', async (q) => { asked.push(q.code); return 'a'; });
    expect(second.exit).toBe(1);
    expect(asked).toEqual(['link-count', 'link-count']);
    expect((await fsckImage(img, 'check')).exit).toBe(0);
  });
});
