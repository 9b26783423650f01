/**
 * open and release answered by the binding itself (issue 6: open+close rates; PktfsFuse.setFastOpen,
 * OpsContext.file): a read-only open of a regular file the binding's attribute cache holds gets a
 * handle of the binding's own, and its close is answered there too, with no round trip to pktfs.
 * The first request with such a handle that reaches pktfs (a read, an fstat) takes it over; its
 * release then comes to pktfs. What must hold: the counters say what the binding answered, and
 * pktfs's volume is not asked; a handle read through pktfs reads its file (also after a rename or
 * an unlink, and on a volume whose inode numbers pass 2^32); opens for writing, and `-o
 * fast_open=off`, go to pktfs.
 */
import { promises as fsp, constants as fsc } from 'fs';
import fs from 'fs';
import path from 'path';
import { openStack, closeStack, type Stack } from '../../bin/stack';
import { FAST_FH_BASE, OpsContext } from '../../src/fuse/context';
import { bindingFastOpen, type FastOpenStats } from '../../src/fuse/fuse';
import { PktfsMount } from '../../src/fuse/mount';
import { parseMountOptions, splitOptions } from '../../src/options';
import { FsError } from '../../src/errors';
import type { Attr, DirEntry, Volume, VolumeInfo } from '../../src/udf/types';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { removeDir, tempDir, waitFor } from './helpers';
import { MemVolume } from './memvolume';

const TOOLS = haveTools('mkudffs', 'udfclient');
const maybe = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs or udfclient missing', () => undefined);

const FILES = 20;
const BIG = 300 * 1024 + 77;
let dir: string;
let big: Buffer;
let image: BuiltImage;

interface Mounted {
  mnt: string;
  stack: Stack;
  mount: PktfsMount;
  /** Calls of the volume's getattr and attrNow (what pktfs's open asks) since the mount. */
  volumeAttrs: number;
}
const mounts: Mounted[] = [];
let counter = 0;

async function mountCopy(img: BuiltImage, words: string[], readOnly = false): Promise<Mounted> {
  const copy = path.join(dir, `m${++counter}.img`);
  fs.copyFileSync(img.path, copy);
  const opts = parseMountOptions(splitOptions(words));
  const stack = await openStack(copy, { ...opts, readOnly });
  const vol = stack.volume as Volume;
  const m: Mounted = { mnt: path.join(dir, `mnt${counter}`), stack, mount: undefined as unknown as PktfsMount, volumeAttrs: 0 };
  const getattr = vol.getattr.bind(vol);
  vol.getattr = (ino) => (m.volumeAttrs++, getattr(ino));
  const attrNow = vol.attrNow?.bind(vol);
  if (attrNow) vol.attrNow = (ino) => (m.volumeAttrs++, attrNow(ino));
  fs.mkdirSync(m.mnt);
  m.mount = await PktfsMount.mount(vol, m.mnt, {
    source: copy, readOnly, pollMs: 200, fastOpen: opts.fastOpen,
    pktinfo: { mode: opts.pktinfo, packets: stack.packets, mount: { source: copy, ...stack.facts } },
  });
  mounts.push(m);
  return m;
}

async function unmountAll(): Promise<void> {
  for (const m of mounts.splice(0)) {
    await m.mount.unmount().catch(() => undefined);
    await closeStack(m.stack).catch(() => undefined);
  }
}

async function fastOpen(m: Mounted): Promise<FastOpenStats | null> {
  return JSON.parse(await fsp.readFile(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8')).fastOpen;
}

/** All of an O_DIRECT handle (each read reaches the filesystem). */
async function readDirect(fh: fsp.FileHandle): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let pos = 0; ; ) {
    const b = Buffer.alloc(128 * 1024);
    const { bytesRead } = await fh.read(b, 0, b.length, pos);
    if (bytesRead === 0) break;
    parts.push(b.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return Buffer.concat(parts);
}

const names = Array.from({ length: FILES }, (_, i) => `f${i}.txt`);

beforeAll(async () => {
  dir = tempDir('fast-open');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  big = pseudoRandom('fast-open', BIG);
  fs.writeFileSync(path.join(src, 'big.bin'), big);
  for (const n of names) fs.writeFileSync(path.join(src, 'sub', n), `file ${n}\n`);
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, src);
}, 120000);

afterAll(async () => {
  await unmountAll();
  if (dir) await removeDir(dir);
});

test('the binding in node_modules answers open and release itself (scripts/patch-native.sh)', () => {
  expect(bindingFastOpen).toBe(true);
});

test("pktfs's own handles stay below the binding's; a handle of the binding's is taken over once", () => {
  const vol = { rootIno: 1 } as unknown as Volume;
  const ctx = new OpsContext(vol, false);
  (ctx as unknown as { nextFh: number }).nextFh = FAST_FH_BASE - 2;
  const fhs = [0, 1, 2].map(() => ctx.addFile({ ino: 5, path: '/a' }));
  expect(fhs).toEqual([FAST_FH_BASE - 2, FAST_FH_BASE - 1, 1]);
  const asked: number[] = [];
  ctx.takeFastOpen = (fh) => (asked.push(fh), fh === FAST_FH_BASE + 7 ? { ino: 2 ** 32 + 9, size: 10 } : undefined);
  expect(ctx.file(FAST_FH_BASE + 7, '/b')).toEqual({ ino: 2 ** 32 + 9, path: '/b', mappable: false });
  expect(ctx.file(FAST_FH_BASE + 7)?.ino).toBe(2 ** 32 + 9);
  expect(ctx.file(FAST_FH_BASE + 8)).toBeUndefined();
  // Handles of its own are never asked about.
  expect(ctx.file(12345)).toBeUndefined();
  expect(asked).toEqual([FAST_FH_BASE + 7, FAST_FH_BASE + 8]);
  ctx.removeFile(FAST_FH_BASE + 7);
  expect(ctx.openFiles).toBe(3);
});

maybe('a writable mount', () => {
  let m: Mounted;
  beforeAll(async () => {
    m = await mountCopy(image, []);
  });
  afterAll(unmountAll);

  test('open+close of files whose attributes are cached never reaches pktfs; stats.json counts them', async () => {
    const paths = names.map((n) => path.join(m.mnt, 'sub', n));
    for (const p of paths) await fsp.lstat(p);
    const before = (await fastOpen(m))!;
    expect(before).not.toBeNull();
    const asked = m.volumeAttrs;
    for (let round = 0; round < 3; round++) for (const p of paths) await (await fsp.open(p, 'r')).close();
    expect(m.volumeAttrs).toBe(asked);
    // The kernel sends each release after close(2) has returned.
    await waitFor(async () => (await fastOpen(m))!.releases >= before.releases + 3 * FILES, 5000, 'the releases');
    const after = (await fastOpen(m))!;
    expect(after.opens).toBe(before.opens + 3 * FILES);
    expect(after.releases).toBe(before.releases + 3 * FILES);
    expect(after.taken).toBe(before.taken);
    expect(after.open).toBe(0);
  });

  test('a handle read through pktfs is taken over: its data, fstat, and its release goes to pktfs', async () => {
    const p = path.join(m.mnt, 'big.bin');
    await fsp.lstat(p);
    const before = (await fastOpen(m))!;
    const fh = await fsp.open(p, fsc.O_RDONLY | fsc.O_DIRECT);
    try {
      expect((await fastOpen(m))!.opens).toBe(before.opens + 1);
      expect((await readDirect(fh)).equals(big)).toBe(true);
      expect((await fh.stat()).size).toBe(BIG);
      const during = (await fastOpen(m))!;
      expect(during.taken).toBe(before.taken + 1);
      expect(during.open).toBe(1);
    } finally {
      await fh.close();
    }
    await waitFor(async () => (await fastOpen(m))!.open === 0, 5000, 'the release of the handle');
    expect((await fastOpen(m))!.releases).toBe(before.releases);
  });

  test('renamed, then unlinked while open: a handle of the binding still reads its file', async () => {
    const p = path.join(m.mnt, 'sub', 'f0.txt');
    const renamed = path.join(m.mnt, 'sub', 'renamed.txt');
    await fsp.lstat(p);
    const before = (await fastOpen(m))!;
    const fh = await fsp.open(p, fsc.O_RDONLY | fsc.O_DIRECT);
    try {
      expect((await fastOpen(m))!.opens).toBe(before.opens + 1);
      await fsp.rename(p, renamed);
      expect((await readDirect(fh)).toString()).toBe('file f0.txt\n');
      await fsp.unlink(renamed);
      expect((await readDirect(fh)).toString()).toBe('file f0.txt\n');
      expect((await fh.stat()).size).toBe(12);
    } finally {
      await fh.close();
    }
    await waitFor(async () => (await fastOpen(m))!.open === 0, 5000, 'the release of the handle');
    expect(await fsp.readdir(path.join(m.mnt, 'sub'))).not.toContain('renamed.txt');
  });

  test('data changed through the mount is seen at the next open', async () => {
    const p = path.join(m.mnt, 'sub', 'f1.txt');
    expect(await fsp.readFile(p, 'utf8')).toBe('file f1.txt\n');
    await fsp.writeFile(p, 'changed f1!\n');
    await fsp.lstat(p);
    const before = (await fastOpen(m))!;
    expect(await fsp.readFile(p, 'utf8')).toBe('changed f1!\n');
    const fh = await fsp.open(p, fsc.O_RDONLY | fsc.O_DIRECT);
    try {
      expect((await readDirect(fh)).toString()).toBe('changed f1!\n');
    } finally {
      await fh.close();
    }
    expect((await fastOpen(m))!.opens).toBe(before.opens + 2);
  });

  test('opens for writing go to pktfs', async () => {
    const p = path.join(m.mnt, 'sub', 'f2.txt');
    await fsp.lstat(p);
    const before = (await fastOpen(m))!;
    const asked = m.volumeAttrs;
    for (const flags of ['r+', 'a']) {
      const fd = await fsp.open(p, flags);
      await fd.write('X', 0);
      await fd.close();
    }
    expect(m.volumeAttrs).toBeGreaterThan(asked);
    expect((await fastOpen(m))!.opens).toBe(before.opens);
    expect(await fsp.readFile(p, 'utf8')).toBe('Xile f2.txt\nX');
  });
});

test('-o fast_open= takes on or off', () => {
  expect(parseMountOptions(splitOptions(['fast_open=off'])).fastOpen).toBe(false);
  expect(parseMountOptions(splitOptions(['fast_open=on'])).fastOpen).toBe(true);
  expect(parseMountOptions([]).fastOpen).toBeUndefined();
  expect(() => parseMountOptions(splitOptions(['fast_open=maybe']))).toThrow(/fast_open=maybe: must be on or off/);
});

maybe('-o fast_open=off', () => {
  afterAll(unmountAll);

  test('every open reaches pktfs, and stats.json says there is no fast open', async () => {
    const m = await mountCopy(image, ['fast_open=off']);
    const paths = names.map((n) => path.join(m.mnt, 'sub', n));
    for (const p of paths) await fsp.lstat(p);
    const asked = m.volumeAttrs;
    for (const p of paths) await (await fsp.open(p, 'r')).close();
    expect(m.volumeAttrs).toBeGreaterThanOrEqual(asked + FILES);
    expect(await fastOpen(m)).toBeNull();
  });
});

/**
 * A volume whose inode numbers, but the root's, are past 2^32 (as UDF gives files in partition 1
 * and up: a metadata or virtual partition), and which knows no number below it: a handle of the
 * binding's taken over with its inode number cut to 32 bits would not read.
 */
class HighInos implements Volume {
  readonly rootIno: number;
  constructor(private readonly v: MemVolume) {
    this.rootIno = v.rootIno;
  }
  get info(): VolumeInfo {
    return this.v.info;
  }
  private up(ino: number): number {
    return ino === this.v.rootIno ? ino : ino + 2 ** 32;
  }
  private down(ino: number): number {
    if (ino === this.rootIno) return ino;
    if (ino < 2 ** 32) throw new FsError('ENOENT', `no inode ${ino}`);
    return ino - 2 ** 32;
  }
  async lookup(dirIno: number, name: string): Promise<number> {
    return this.up(await this.v.lookup(this.down(dirIno), name));
  }
  async getattr(ino: number): Promise<Attr> {
    return { ...(await this.v.getattr(this.down(ino))), ino };
  }
  async readdir(dirIno: number): Promise<DirEntry[]> {
    return (await this.v.readdir(this.down(dirIno))).map((e) => ({ name: e.name, ino: this.up(e.ino) }));
  }
  read(ino: number, offset: number, length: number): Promise<Buffer> {
    return this.v.read(this.down(ino), offset, length);
  }
  readlink(ino: number): Promise<string> {
    return this.v.readlink(this.down(ino));
  }
  close(): Promise<void> {
    return this.v.close();
  }
}

describe('a volume with inode numbers past 2^32', () => {
  let mount: PktfsMount | undefined;
  afterAll(async () => {
    await mount?.unmount().catch(() => undefined);
  });

  test("a handle of the binding's, taken over, reads the file its path named", async () => {
    const data = pseudoRandom('high', 5000);
    const vol = new HighInos(new MemVolume({ kind: 'dir', children: { 'a.bin': { kind: 'file', data } } }));
    const mnt = path.join(dir, 'mnt-high');
    fs.mkdirSync(mnt);
    const m = await PktfsMount.mount(vol, mnt, { source: 'high', readOnly: true, pollMs: 200 });
    mount = m;
    const p = path.join(mnt, 'a.bin');
    expect((await fsp.lstat(p)).size).toBe(5000);
    const before = m.fastOpenStats()!;
    const fh = await fsp.open(p, fsc.O_RDONLY | fsc.O_DIRECT);
    try {
      expect((await readDirect(fh)).equals(data)).toBe(true);
    } finally {
      await fh.close();
    }
    const after = m.fastOpenStats()!;
    expect(after.opens).toBe(before.opens + 1);
    expect(after.taken).toBe(before.taken + 1);
  });
});
