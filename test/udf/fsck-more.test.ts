/**
 * fsck on the other kinds of damage, on a volume the pktfs write engine wrote:
 * anchors, the reserve sequence, sequences that differ, unique IDs, sizes,
 * parent entries, a damaged space bitmap (repaired: found, repaired, clean,
 * udfinfo agrees, udfclient reads the files), and the kinds fsck does not
 * repair (duplicate names, a file entry with a bad CRC): found, exit 4, nothing
 * freed that might belong to the file it could not read.
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { buildSourceTree, walkHost, TreeEntry } from '../helpers/tree';
import { makeImage, openRw, putTree, writable, udfclientGetAll } from './write-helpers';
import { fsckImage, codes, describe as describeRun } from './fsck-helpers';
import {
  Damage, Image, anchorDamage, reserveVdsDamage, vdsDiffersDamage, uniqueIdDamage, lvidUniqueIdDamage, recordedDamage,
  sizeDamage, parentDamage, spaceMapDamage, duplicateNameDamage, entryTagDamage, lvidTagDamage, vdsDamage, orphanDamage, loopDamage, extentDamage, fidDamage, doubleDirDamage,
} from './fsck-damage';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('fsck-more: mkudffs/udfclient/udfinfo missing, skipped');

jest.setTimeout(60000);

let dir: string;
let src: string;
let host: TreeEntry[];
let base: string;

beforeAll(async () => {
  if (!TOOLS) return;
  dir = makeTempDir('fsck-more');
  src = path.join(dir, 'src');
  fs.mkdirSync(src);
  buildSourceTree(src, 200000);
  host = walkHost(src);
  base = makeImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, 'base');
  const m = await openRw(base);
  try {
    const vol = writable(m);
    await putTree(vol, vol.rootIno, src);
  } finally {
    await m.close();
  }
});
afterAll(() => removeTempDir(dir));

let n = 0;
function damaged(damages: Damage[]): string {
  const img = path.join(dir, `work-${n++}.img`);
  fs.copyFileSync(base, img);
  const image = new Image(img, 2048);
  for (const d of damages) d.apply(image);
  image.save();
  return img;
}

async function udfclientReads(img: string, touched: string[]): Promise<void> {
  const out = path.join(dir, `out-${n++}`);
  const log = await udfclientGetAll(img, 2048, fs.readdirSync(src), out);
  const got = new Map(walkHost(out).map((e) => [e.path, e.sha256]));
  for (const w of host.filter((e) => e.type === 'file' && /^[\x20-\x7e]*$/.test(e.path) && !touched.includes(e.path))) {
    if (got.get(w.path) !== w.sha256) throw new Error(`udfclient: ${w.path} ${got.has(w.path) ? 'differs' : 'missing'}\n${log.slice(-1500)}`);
  }
}

describeIf('fsck on further damage', () => {
  const repaired: [Damage, boolean][] = [
    [anchorDamage, false], [reserveVdsDamage, false], [vdsDiffersDamage, false], [uniqueIdDamage, false],
    [lvidUniqueIdDamage, false], [recordedDamage, false], [sizeDamage, false], [parentDamage, true], [spaceMapDamage, true],
    [lvidTagDamage, true],
  ];
  test.concurrent.each(repaired.map(([d, reads]) => [d.name, d, reads] as const))('%s: found, repaired, then clean', async (_n, d, reads) => {
    const img = damaged([d]);
    const found = await fsckImage(img, 'check');
    expect({ exit: found.exit, codes: codes(found) }).toEqual({ exit: 4, codes: [...d.codes].sort() });
    const fixed = await fsckImage(img, 'yes');
    if (fixed.exit !== 1) throw new Error(`fsck -y exited ${fixed.exit}:\n${describeRun(fixed)}`);
    const again = await fsckImage(img, 'check');
    if (again.exit !== 0) throw new Error(`second fsck exited ${again.exit}:\n${describeRun(again)}`);
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect({ files: info.numFiles, dirs: info.numDirs, free: info.freeBlocks, integrity: info.fields.integrity })
      .toEqual({ files: again.summary.files, dirs: again.summary.dirs, free: again.summary.freeBlocks, integrity: 'closed' });
    if (reads) await udfclientReads(img, d.touches);
  });

  test('the reserve copy restores a main descriptor also when the anchor at 256 is the one left', async () => {
    const img = damaged([anchorDamage, reserveVdsDamage]);
    expect(codes(await fsckImage(img, 'check'))).toEqual(['anchor', 'vds-damaged']);
    expect((await fsckImage(img, 'yes')).exit).toBe(1);
    expect((await fsckImage(img, 'check')).exit).toBe(0);
  });

  test('a damaged anchor at 256 is rewritten from the one at N-256', async () => {
    const img = damaged([{ ...anchorDamage, apply: (i) => { i.buf[256 * i.bs + 40] ^= 0xff; } }]);
    const found = await fsckImage(img, 'check');
    expect(found.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^anchor: bad descriptor CRC at block 256/)]);
    expect((await fsckImage(img, 'yes')).exit).toBe(1);
    expect((await fsckImage(img, 'check')).exit).toBe(0);
    expect(udfinfo(img).errors).toEqual([]);
  });

  test('after repairs (lost+found made, a loop cut) the write engine writes on and the volume stays clean', async () => {
    const img = damaged([orphanDamage, loopDamage]);
    expect((await fsckImage(img, 'yes')).exit).toBe(1);
    const m = await openRw(img);
    try {
      const vol = writable(m);
      const lf = await vol.lookup(vol.rootIno, 'lost+found');
      const names = (await vol.readdir(lf)).map((e) => e.name);
      expect(names).toHaveLength(2);
      for (const name of names) await vol.rename(lf, name, vol.rootIno, `back-${name.slice(1)}`);
      await vol.rmdir(vol.rootIno, 'lost+found');
      const f = await vol.create(vol.rootIno, 'new', 0o644, 0, 0);
      await vol.write(f, 0, Buffer.alloc(70000, 7));
    } finally {
      await m.close();
    }
    const r = await fsckImage(img, 'check');
    if (r.exit !== 0) throw new Error(describeRun(r));
    const info = udfinfo(img);
    expect({ files: info.numFiles, dirs: info.numDirs, free: info.freeBlocks }).toEqual({ files: r.summary.files, dirs: r.summary.dirs, free: r.summary.freeBlocks });
  });

  test('an extent outside the partition, a damaged FID: found; what can be is repaired, the rest left', async () => {
    for (const d of [extentDamage, fidDamage]) {
      const img = damaged([d]);
      const found = await fsckImage(img, 'check');
      expect({ name: d.name, exit: found.exit, codes: codes(found) }).toEqual({ name: d.name, exit: 4, codes: [...d.codes].sort() });
      const fixed = await fsckImage(img, 'yes');
      expect({ name: d.name, exit: fixed.exit }).toEqual({ name: d.name, exit: 5 });
      const left = codes(await fsckImage(img, 'check'));
      expect({ name: d.name, left }).toEqual({ name: d.name, left: [d.codes[0]] });
    }
  });

  test('a repair that fails (lost+found is a file) is reported, and nothing counts as repaired', async () => {
    const img = damaged([]);
    const m = await openRw(img);
    try {
      const vol = writable(m);
      await vol.create(vol.rootIno, 'lost+found', 0o644, 0, 0);
    } finally {
      await m.close();
    }
    const image = new Image(img, 2048);
    orphanDamage.apply(image);
    image.save();
    const r = await fsckImage(img, 'yes');
    expect({ exit: r.exit, problems: r.problems.map((p) => [p.code, p.outcome, p.error]) })
      .toEqual({ exit: 4, problems: [['orphan', 'failed', '/lost+found exists and is not a directory']] });
  });

  test("a directory sharing a block with a file gets its own copy, FIDs re-tagged; udfclient reads it", async () => {
    const img = damaged([]);
    const m = await openRw(img);
    const names: string[] = [];
    try {
      const vol = writable(m);
      const f = await vol.create(vol.rootIno, 'zfile', 0o644, 0, 0);
      await vol.write(f, 0, Buffer.alloc(2048, 1));
      const d = await vol.mkdir(vol.rootIno, 'zdir', 0o755, 0, 0);
      for (let i = 0; i < 60; i++) {
        const name = `entry number ${i}`;
        names.push(name);
        const e = await vol.create(d, name, 0o644, 0, 0);
        await vol.write(e, 0, Buffer.from(`file ${i}\n`));
      }
    } finally {
      await m.close();
    }
    const image = new Image(img, 2048);
    doubleDirDamage.apply(image);
    image.save();
    const found = await fsckImage(img, 'check');
    // zfile's own block is left unreachable, and the shared one counted once: the LVID's free space is off.
    expect(codes(found)).toEqual(['double', 'lvid-free', 'unreachable']);
    expect(found.problems.find((p) => p.code === 'double')!.message).toMatch(/^1 block of \/zdir also belongs to \/zfile: \d+$/);
    expect((await fsckImage(img, 'yes')).exit).toBe(1);
    expect((await fsckImage(img, 'check')).exit).toBe(0);
    const out = path.join(dir, `out-${n++}`);
    await udfclientGetAll(img, 2048, ['zdir'], out);
    const got = walkHost(out);
    expect(got.filter((e) => e.type === 'file').map((e) => e.path).sort()).toEqual(names.map((x) => `zdir/${x}`).sort());
    expect(fs.readFileSync(path.join(out, 'zdir', 'entry number 42'), 'utf8')).toBe('file 42\n');
  });

  test('a write-once (VAT) medium: the damage is found, nothing is written', async () => {
    const img = makeImage({ media: 'cdr', rev: '2.01', bs: 2048, blocks: 4096 }, dir, 'cdr');
    const image = new Image(img, 2048);
    vdsDamage.apply(image);
    image.save();
    const before = fs.readFileSync(img);
    const r = await fsckImage(img, 'yes');
    expect({ exit: r.exit, codes: codes(r), outcomes: r.problems.map((p) => p.outcome) }).toEqual({ exit: 4, codes: ['vds-damaged'], outcomes: ['unfixable'] });
    expect(r.summary.skipped).toContain('repairs: the medium is read-only or write-once, so nothing is repaired in place');
    expect(fs.readFileSync(img).equals(before)).toBe(true);
  });

  test('two entries with one name: found, not repaired, the image left as it was', async () => {
    const img = damaged([duplicateNameDamage]);
    const before = fs.readFileSync(img);
    const r = await fsckImage(img, 'yes');
    expect({ exit: r.exit, codes: codes(r), outcomes: r.problems.map((p) => p.outcome) }).toEqual({ exit: 4, codes: ['name'], outcomes: ['unfixable'] });
    expect(r.problems[0].message).toBe('directory /: two entries named "f2047"');
    expect(fs.readFileSync(img).equals(before)).toBe(true);
  });

  test('a name with an unknown compression ID (UDF 2.1.2): found, not repaired', async () => {
    const img = damaged([{
      name: 'bad compression ID', codes: ['name'], touches: [],
      apply: (i) => {
        const f = i.fid('f2047');
        i.buf[f + 38 + i.buf.readUInt16LE(f + 36)] = 7;
        i.retagFid(f);
      },
    }]);
    const r = await fsckImage(img, 'check');
    expect(r.problems.map((p) => [p.code, p.outcome])).toEqual([['name', 'unfixable']]);
    expect(r.problems[0].message).toMatch(/^directory \/: entry at byte \d+ \(".*"\) has a name of 6 bytes with compression ID 7$/);
  });

  test('a file entry with a bad CRC: found, and its blocks are not freed nor the counts changed', async () => {
    const img = damaged([entryTagDamage]);
    const before = udfinfo(img);
    const r = await fsckImage(img, 'yes');
    expect(r.exit & 4).toBe(4);
    const byCode = new Map(r.problems.map((p) => [p.code, p.outcome]));
    expect(byCode.get('tag')).toBe('unfixable');
    expect(byCode.get('unreachable')).toBe('unfixable');
    expect(byCode.get('lvid-counts')).toBe('unfixable');
    expect(r.problems.find((p) => p.code === 'tag')!.message).toMatch(/^\/f2049 \(block \d+\): bad descriptor CRC at block \d+$/);
    const after = udfinfo(img);
    expect({ free: after.freeBlocks, files: after.numFiles }).toEqual({ free: before.freeBlocks, files: before.numFiles });
  });
});
