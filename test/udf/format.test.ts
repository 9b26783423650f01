/**
 * Volumes made by the formatter, judged by other implementations: udfclient
 * writes a tree into them and reads it back, 7zz lists plain ones, udfinfo
 * counts what is there; our own reader mounts them read-write and what pktfs
 * writes there is read back by udfclient. Also: label/uid/gid/mode reach the
 * volume, writes are whole aligned units, a previous volume of another block
 * size is not found afterwards, and bad options change nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import { MemoryDevice } from '../../src/drive/memory';
import type { BlockDevice } from '../../src/drive/types';
import { formatVolume, type FormatMediaType } from '../../src/udf/format';
import { openVolume } from '../../src/udf/volume';
import { isWritable } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, pool, runAsync, sevenZipList, udfinfo } from '../helpers/tools';
import { buildSourceTree, countTree, walkHost, walkVolume, type TreeEntry } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { expectSameFiles, openRw, putTree, writable } from './write-helpers';
import { mkudffsImage, pktfsFormatImage } from './format-helpers';

const TOOLS = haveTools('udfclient', 'udfinfo', '7zz', 'mkudffs');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('format: udfclient/udfinfo/7zz/mkudffs missing, skipped');

const LABEL = 'pktfs fmt';
const UUID = '00c0ffee12345678';
/** udfclient names a volume `fullvsid:vid:lvid:fsid`; the formatter uses the label for all three. */
const VOLNAME = `${UUID}${LABEL}:${LABEL}:${LABEL}:${LABEL}`;

async function udfclient(img: string, bs: number, script: string): Promise<string> {
  const r = await runAsync('udfclient', ['-W', '-b', String(bs), img], script);
  const out = r.stdout + r.stderr;
  if (r.status !== 0 || /No space left|not implemented|bailing out|Invalid argument|No such file/.test(out)) {
    throw new Error(`udfclient on ${img} (status ${r.status}):\n${out.slice(-1500)}`);
  }
  return out;
}

/** udfclient cannot be given a non-ASCII name to fetch (see write-helpers' expectSameFiles). */
const top = (p: string) => /^[\x20-\x7e]+$/.test(p.split('/')[0]);
const files = (t: TreeEntry[]) => t.filter((e) => e.type !== 'symlink');

interface Case { media: FormatMediaType; rev: number; bs: number }
const CASES: Case[] = [
  { media: 'cdrw', rev: 0x0201, bs: 2048 },
  { media: 'dvdrw', rev: 0x0150, bs: 2048 },
  { media: 'hd', rev: 0x0201, bs: 512 },
  { media: 'dvdram', rev: 0x0200, bs: 2048 },
  { media: 'hd', rev: 0x0150, bs: 4096 },
  { media: 'bdre', rev: 0x0102, bs: 2048 },
];
const revText = (rev: number) => `${rev >> 8}.${(rev & 0xff).toString(16).padStart(2, '0')}`;
const id = (c: Case) => `${c.media} ${revText(c.rev)} b${c.bs}`;
const plain = (m: string) => m !== 'cdrw' && m !== 'dvdrw';

describeIf('formatted volumes, judged by udfclient, 7zz and udfinfo', () => {
  const tmp = makeTempDir('format');
  const src = path.join(tmp, 'src');
  let names: string[] = [];
  let want: TreeEntry[] = [];
  const imgs = new Map<string, string>();

  beforeAll(async () => {
    names = buildSourceTree(src, 300_000);
    want = walkHost(src);
    await pool(CASES, 3, async (c) => {
      const img = path.join(tmp, `${id(c).replace(/ /g, '_')}.img`);
      await pktfsFormatImage(img, 65536, { media: c.media, udfRev: c.rev, blockSize: c.bs, label: LABEL, uuid: UUID });
      const q = (n: string) => `"${n}"`;
      await udfclient(img, c.bs, `cd ${q(VOLNAME)}\nlcd ${q(src)}\nmput ${names.map(q).join(' ')}\nquit\n`);
      imgs.set(id(c), img);
    });
  }, 110_000);
  afterAll(() => removeTempDir(tmp));

  test.each(CASES.map((c) => [id(c), c] as const))('%s: udfclient fills it, reads it back; udfinfo and our reader agree', async (_n, c) => {
    const img = imgs.get(id(c))!;
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    const count = countTree(want);
    expect(info.numDirs).toBe(count.dirs);
    expect(info.numFiles).toBeGreaterThanOrEqual(count.files);
    expect(info.fields.integrity).toBe('closed');
    const out = path.join(tmp, `out-${id(c).replace(/ /g, '_')}`);
    fs.mkdirSync(out);
    const q = (n: string) => `"${n}"`;
    await udfclient(img, c.bs, `cd ${q(VOLNAME)}\nlcd ${q(out)}\n${names.filter(top).map((n) => `mget ${q(n)}\n`).join('')}quit\n`);
    expectSameFiles(walkHost(out), want.filter((e) => top(e.path)));
    const got = await withImage(img, {}, (v) => walkVolume(v));
    expect(files(got).map((e) => [e.path, e.type, e.size, e.sha256]))
      .toEqual(files(walkHost(src, (n) => Buffer.from(n, 'utf8').toString('latin1'))).map((e) => [e.path, e.type, e.size, e.sha256]));
  });

  test.each(CASES.filter((c) => plain(c.media) && (c.bs === 512 || c.bs === 2048)).map((c) => [id(c), c] as const))(
    '%s: 7zz lists what udfclient put there', (_n, c) => {
      const list = sevenZipList(imgs.get(id(c))!);
      expect(list).not.toBeNull();
      const top = new Set(list!.map((e) => e.path.split('/')[0]));
      for (const n of names.filter((x) => /^[\x20-\x7e]*$/.test(x))) expect(top).toContain(n);
    });
});

describeIf('a formatted volume mounts read-write in pktfs', () => {
  const tmp = makeTempDir('format-rw');
  afterAll(() => removeTempDir(tmp));

  test.each([['cdrw', 0x0201, 2048], ['hd', 0x0150, 512], ['dvdrw', 0x0200, 2048]] as const)(
    '%s %#: written by pktfs, read back by udfclient', async (media, rev, bs) => {
      const img = path.join(tmp, `${media}-${rev}-${bs}.img`);
      await pktfsFormatImage(img, 65536, { media, udfRev: rev, blockSize: bs, label: LABEL, uuid: UUID });
      const src = path.join(tmp, `src-${media}`);
      const names = buildSourceTree(src, 150_000);
      const m = await openRw(img);
      try {
        const vol = writable(m);
        await putTree(vol, vol.rootIno, src);
      } finally {
        await m.close();
      }
      const info = udfinfo(img);
      expect(info.errors).toEqual([]);
      expect(info.fields.integrity).toBe('closed');
      expect(info.numDirs).toBe(countTree(walkHost(src)).dirs);
      const out = path.join(tmp, `out-${media}`);
      fs.mkdirSync(out);
      const q = (n: string) => `"${n}"`;
      await udfclient(img, bs, `cd ${q(VOLNAME)}\nlcd ${q(out)}\n${names.filter(top).map((n) => `mget ${q(n)}\n`).join('')}quit\n`);
      expectSameFiles(walkHost(out), walkHost(src).filter((e) => top(e.path)));
    });
});

describe('formatVolume', () => {
  const tmp = makeTempDir('format-unit');
  afterAll(() => removeTempDir(tmp));

  test('label, uid, gid and mode reach the root and the identifiers', async () => {
    const dev = new MemoryDevice({ sectorSize: 2048, sectorCount: 8192 });
    await formatVolume(dev, { media: 'hd', label: 'Ünïcode label ✓', uuid: 'ABCDEF0123456789', uid: 1000, gid: 100, mode: 0o1750 });
    const vol = await openVolume(dev);
    expect(vol.info.label).toBe('Ünïcode label ✓');
    expect(vol.info.volumeId).toBe('Ünïcode label ✓'); // 15 16-bit characters: all the PVD's 32-byte field holds
    expect(vol.info.uuid).toBe('abcdef0123456789');
    const root = await vol.getattr(vol.rootIno);
    expect([root.uid, root.gid, (root.mode & 0o7777).toString(8)]).toEqual([1000, 100, '1750']);
    expect(await vol.readdir(vol.rootIno)).toEqual([]);
    await vol.close();
  });

  test('uid -1 is recorded as not specified', async () => {
    const dev = new MemoryDevice({ sectorSize: 2048, sectorCount: 8192 });
    await formatVolume(dev, { media: 'dvdram', uid: -1, gid: -1 });
    const vol = await openVolume(dev, { uid: 4321, gid: 8765 });
    const root = await vol.getattr(vol.rootIno);
    expect([root.uid, root.gid]).toEqual([4321, 8765]);
    await vol.close();
  });

  test('every write is whole aligned units of the packet', async () => {
    const mem = new MemoryDevice({ sectorSize: 2048, sectorCount: 40000 });
    const writes: [number, number][] = [];
    const dev: BlockDevice = Object.assign(Object.create(mem) as BlockDevice, {
      write: (lba: number, data: Buffer) => { writes.push([lba, data.length / 2048]); return mem.write(lba, data); },
    });
    const r = await formatVolume(dev, { media: 'cdrw', writeUnitSectors: 32 });
    expect(writes.length).toBe(r.writes);
    expect(writes.length).toBeGreaterThan(3);
    for (const [lba, n] of writes) expect([lba % 32, n % 32]).toEqual([0, 0]);
    const vol = await openVolume(mem, { readWrite: true });
    expect(isWritable(vol)).toBe(true);
    expect(vol.info.partitions[0]).toMatchObject({ kind: 'sparable', packetLength: 32, sparingTotal: 32, sparingUsed: 0 });
    await vol.close();
  });

  (haveTools('mkudffs', 'udfinfo') ? test.each : test.skip.each)([[2048, 512, 'dvdram'], [4096, 2048, 'dvdram'], [4096, 512, 'cdrw']] as const)(
    'a volume with %s-byte blocks that was there is gone after formatting with %s-byte blocks (%s)', async (oldBs, newBs, media) => {
      const img = path.join(tmp, `old-${oldBs}-${newBs}.img`);
      await mkudffsImage(img, (80 << 20) / oldBs, 'hd', '2.01', oldBs, ['--lvid=OLD']);
      const dev = await ImageDevice.open(img);
      await formatVolume(dev, { media, blockSize: newBs, label: 'NEW' });
      await dev.close();
      const info = await withImage(img, {}, async (v) => v.info);
      expect([info.label, info.blockSize]).toEqual(['NEW', newBs]);
      expect(udfinfo(img).fields.label).toBe('NEW');
      // looking with the old block size finds no anchor at all (mkudffs's old anchors were erased)
      await expect(withImage(img, { blockSize: oldBs }, async (v) => v.info)).rejects.toMatchObject({ errno: 'ENODEV' });
      expect(udfinfo(img, { blockSize: oldBs }).fields.label).toBeUndefined();
    });

  test('bad options are refused before anything is written', async () => {
    const dev = new MemoryDevice({ sectorSize: 2048, sectorCount: 8192 });
    const bad: [object, RegExp][] = [
      [{ media: 'hd', blockSize: 512 }, /smaller than the 2048-byte sectors/],
      [{ media: 'cdrw', udfRev: 0x0102 }, /needs UDF 1.50/],
      [{ media: 'hd', udfRev: 0x0250 }, /1.02, 1.50, 2.00 and 2.01/],
      [{ media: 'hd', uuid: 'xyz' }, /16 hexadecimal digits/],
      [{ media: 'hd', mode: 0o17777 }, /mode/],
      [{ media: 'hd', uid: -2 }, /uid -2/],
      [{ media: 'hd', blocks: 9000 }, /do not fit/],
    ];
    for (const [o, re] of bad) await expect(formatVolume(dev, o as never)).rejects.toThrow(re);
    await expect(formatVolume(new MemoryDevice({ sectorSize: 2048, sectorCount: 2000 }), { media: 'hd' })).rejects.toThrow(/too small/);
    await expect(formatVolume(new MemoryDevice({ sectorSize: 2048, sectorCount: 8192, readOnly: true }), { media: 'hd' })).rejects.toMatchObject({ errno: 'EROFS' });
    expect(dev.data.every((b) => b === 0)).toBe(true);
  });
});
