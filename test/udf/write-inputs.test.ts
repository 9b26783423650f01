/**
 * What users hand the write engine, refused with the errno POSIX gives and
 * nothing written: names over NAME_MAX (in UTF-8 bytes, and in CS0 bytes),
 * names with '/' or NUL, ".", "..", "", text no UTF-8 can spell; symlink
 * targets over PATH_MAX; writes and truncates at negative, fractional and huge
 * offsets and past the largest size (2^42, Linux's UDF_MAX_FILESIZE). The image
 * is byte-identical after the refused calls; the limits themselves work and
 * udfinfo finds the volume clean. Names on the disc with '/' or NUL read as
 * OSTA-translated names (UDF 6.7.1) that resolve, in both mounts.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { withImage } from '../helpers/volume';
import { makeImage, openRw, writable } from './write-helpers';
import { Overlay, BaseImage } from '../../bench/fuzz/overlay';
import { fixTag } from '../../bench/fuzz/mutate';
import { scanImage } from '../../bench/fuzz/scan';
import type { WritableVolume } from '../../src/udf/types';

const TOOLS = haveTools('mkudffs', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('write-inputs: mkudffs/udfinfo missing, skipped');

const MAX = 2 ** 42;
const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

describeIf('user input to the write engine', () => {
  const tmp = makeTempDir('write-inputs');
  afterAll(() => removeTempDir(tmp));

  /** An image with one directory `d` and one file `f` of 5 bytes, closed. */
  async function seeded(name: string): Promise<string> {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048 }, tmp, name);
    const m = await openRw(img);
    const vol = writable(m);
    const d = await vol.mkdir(vol.rootIno, 'd', 0o755, 0, 0);
    const f = await vol.create(d, 'f', 0o644, 0, 0);
    await vol.write(f, 0, Buffer.from('hello'));
    await m.close();
    return img;
  }

  /** Run `fn` on a read-write mount; the image must come out byte-identical. */
  async function refusedLeavesImage(img: string, fn: (vol: WritableVolume, d: number, f: number) => Promise<void>): Promise<void> {
    const before = sha(img);
    const m = await openRw(img);
    const vol = writable(m);
    try {
      const d = await vol.lookup(vol.rootIno, 'd');
      await fn(vol, d, await vol.lookup(d, 'f'));
    } finally {
      await m.close();
    }
    expect(sha(img)).toBe(before);
  }

  const badNames: [string, string, string][] = [
    ['256 ASCII bytes', 'a'.repeat(256), 'ENAMETOOLONG'],
    ['128 × é: 256 bytes of UTF-8, 129 of CS0', 'é'.repeat(128), 'ENAMETOOLONG'],
    ['86 × €: 258 bytes of UTF-8, 173 of CS0', '€'.repeat(86), 'ENAMETOOLONG'],
    ['255 ASCII bytes: 256 of CS0', 'a'.repeat(255), 'ENAMETOOLONG'],
    ['with /', 'a/b', 'EINVAL'],
    ['with NUL', 'a\0b', 'EINVAL'],
    ['empty', '', 'EINVAL'],
    ['.', '.', 'EINVAL'],
    ['..', '..', 'EINVAL'],
    ['a lone surrogate (no UTF-8 spells it)', 'x\uD800y', 'EINVAL'],
  ];

  test.each(badNames)('a name %s: refused by every call that adds a name, nothing written', async (_, name, errno) => {
    const img = await seeded(`name-${errno}-${badNames.findIndex((b) => b[1] === name)}`);
    await refusedLeavesImage(img, async (vol, d, f) => {
      const r = vol.rootIno;
      await expect(vol.create(r, name, 0o644, 0, 0)).rejects.toMatchObject({ errno });
      await expect(vol.mkdir(r, name, 0o755, 0, 0)).rejects.toMatchObject({ errno });
      await expect(vol.mknod(r, name, 0o10644, 0, 0, 0)).rejects.toMatchObject({ errno });
      await expect(vol.symlink(r, name, 'd/f', 0, 0)).rejects.toMatchObject({ errno });
      await expect(vol.link(f, r, name)).rejects.toMatchObject({ errno });
      await expect(vol.rename(d, 'f', r, name)).rejects.toMatchObject({ errno });
      await expect(vol.rename(r, 'd', r, name)).rejects.toMatchObject({ errno });
    });
  });

  test('names at the limits are taken, read back the same, and udfinfo finds the volume clean', async () => {
    const img = await seeded('name-limits');
    const names = ['a'.repeat(254), '€'.repeat(85), 'ж'.repeat(127), 'é'.repeat(127), 'emoji 😀 ok', 'a#1234', '-'];
    const m = await openRw(img);
    const vol = writable(m);
    for (const n of names) await vol.create(vol.rootIno, n, 0o644, 0, 0);
    expect((await vol.readdir(vol.rootIno)).map((e) => e.name).sort()).toEqual([...names, 'd'].sort());
    await m.close();
    await withImage(img, {}, async (v) => {
      expect((await v.readdir(v.rootIno)).map((e) => e.name).sort()).toEqual([...names, 'd'].sort());
    });
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info.fields.integrity).toBe('closed');
    expect(info.numFiles).toBe(names.length + 1);
  });

  test('symlink targets: a component over 255 bytes or a whole over PATH_MAX is ENAMETOOLONG, NUL is EINVAL', async () => {
    const img = await seeded('targets');
    await refusedLeavesImage(img, async (vol) => {
      const r = vol.rootIno;
      await expect(vol.symlink(r, 'l1', `x/${'a'.repeat(256)}/y`, 0, 0)).rejects.toMatchObject({ errno: 'ENAMETOOLONG' });
      await expect(vol.symlink(r, 'l2', 'abc/'.repeat(1024), 0, 0)).rejects.toMatchObject({ errno: 'ENAMETOOLONG' });
      await expect(vol.symlink(r, 'l3', 'a\0b', 0, 0)).rejects.toMatchObject({ errno: 'EINVAL' });
      await expect(vol.readdir(r)).resolves.toHaveLength(1);
    });
  });

  test('writes and truncates at bad or huge offsets: EINVAL, EFBIG, nothing written', async () => {
    const img = await seeded('offsets');
    await refusedLeavesImage(img, async (vol, _d, f) => {
      const one = Buffer.from('x');
      for (const off of [-1, 0.5, NaN, Infinity, -Infinity]) await expect(vol.write(f, off, one)).rejects.toMatchObject({ errno: 'EINVAL' });
      for (const off of [MAX, MAX - 1 + 1e3, 2 ** 53, Number.MAX_SAFE_INTEGER]) await expect(vol.write(f, off, one)).rejects.toMatchObject({ errno: 'EFBIG' });
      await expect(vol.write(f, MAX - 2, Buffer.from('xyz'))).rejects.toMatchObject({ errno: 'EFBIG' });
      for (const size of [-1, 1.5, NaN, Infinity]) await expect(vol.truncate(f, size)).rejects.toMatchObject({ errno: 'EINVAL' });
      for (const size of [MAX + 1, 2 ** 53, Number.MAX_SAFE_INTEGER]) await expect(vol.truncate(f, size)).rejects.toMatchObject({ errno: 'EFBIG' });
      expect((await vol.getattr(f)).size).toBe(5);
      expect((await vol.read(f, 0, 10)).toString()).toBe('hello');
    });
  });

  test('reads at bad offsets or lengths are EINVAL, at huge offsets empty, on both mounts', async () => {
    const img = await seeded('reads');
    const check = async (v: { read(i: number, o: number, l: number): Promise<Buffer>; lookup(d: number, n: string): Promise<number>; rootIno: number }) => {
      const f = await v.lookup(await v.lookup(v.rootIno, 'd'), 'f');
      for (const [off, len] of [[NaN, 1], [0, NaN], [-1, 1], [0, -1], [0.5, 1], [0, 1.5], [Infinity, 1], [0, Infinity]]) {
        await expect(v.read(f, off, len)).rejects.toMatchObject({ errno: 'EINVAL' });
      }
      for (const off of [5, 2 ** 42, 2 ** 53, Number.MAX_SAFE_INTEGER]) expect((await v.read(f, off, 4096)).length).toBe(0);
      expect((await v.read(f, 1, Number.MAX_SAFE_INTEGER)).toString()).toBe('ello');
    };
    await withImage(img, {}, check);
    await refusedLeavesImage(img, (vol) => check(vol));
  });

  test('a file of exactly 2^42 bytes: sparse, readable at its end, and udfinfo finds the volume clean', async () => {
    const img = await seeded('max-size');
    const m = await openRw(img);
    const vol = writable(m);
    const f = await vol.lookup(await vol.lookup(vol.rootIno, 'd'), 'f');
    await vol.truncate(f, MAX);
    await vol.write(f, MAX - 3, Buffer.from('end'));
    await m.close();
    await withImage(img, {}, async (v) => {
      const g = await v.lookup(await v.lookup(v.rootIno, 'd'), 'f');
      expect((await v.getattr(g)).size).toBe(MAX);
      expect((await v.read(g, MAX - 6, 100)).toString('latin1')).toBe('\0\0\0end');
      expect((await v.read(g, 0, 5)).toString()).toBe('hello');
    });
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info.fields.integrity).toBe('closed');
  });

  test.each([
    ['/', 0x2f],
    ['NUL', 0x00],
  ])('a name on the disc holding %s reads as an OSTA-translated name that resolves', async (_, byte) => {
    const img = await seeded(`disc-name-${byte}`);
    let m = await openRw(img);
    let vol = writable(m);
    const g = await vol.create(vol.rootIno, 'abXcd', 0o644, 0, 0);
    await vol.write(g, 0, Buffer.from('content'));
    await m.close();
    // Put the byte in place of the X on the disc, tags fixed up (the FID, and the entry holding it).
    const base = new BaseImage(img);
    const found = scanImage((o, l) => base.read(o, l), base.length);
    const o = new Overlay(base);
    const fidAt = found.filter((x) => x.kind === 'fid').find((x) => o.read(x.off + 38, 6).toString('latin1') === '\x08abXcd')!;
    expect(fidAt).toBeDefined();
    o.write(fidAt.off + 38 + 3, Buffer.from([byte]));
    fixTag(o, fidAt.off);
    for (const x of found) if ((x.kind === 'fe' || x.kind === 'efe') && x.off < fidAt.off && fidAt.off < x.off + x.len) fixTag(o, x.off);
    const damaged = o.materialise();
    base.close();
    fs.writeFileSync(img, damaged);

    const check = async (v: { readdir(i: number): Promise<{ name: string }[]>; lookup(d: number, n: string): Promise<number>; read(i: number, o: number, l: number): Promise<Buffer>; rootIno: number }) => {
      const names = (await v.readdir(v.rootIno)).map((e) => e.name);
      const t = names.find((n) => n.startsWith('ab_cd#'));
      expect(t).toMatch(/^ab_cd#[0-9A-F]{4}$/);
      expect(names.filter((n) => n.includes('/') || n.includes('\0'))).toEqual([]);
      expect((await v.read(await v.lookup(v.rootIno, t!), 0, 100)).toString()).toBe('content');
      return t!;
    };
    const shown = await withImage(img, {}, check);
    m = await openRw(img);
    vol = writable(m);
    expect(await check(vol)).toBe(shown);
    // The translated name is the entry's name for the write engine too.
    await vol.rename(vol.rootIno, shown, vol.rootIno, 'renamed');
    await m.close();
    await withImage(img, {}, async (v) => {
      expect((await v.read(await v.lookup(v.rootIno, 'renamed'), 0, 100)).toString()).toBe('content');
    });
    expect(udfinfo(img).errors).toEqual([]);
  });
});
