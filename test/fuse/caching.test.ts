/**
 * The kernel's attribute and name caches on a writable mount (issue 6: every stat and every
 * directory crossed on a path walk used to be a request). A real mkudffs image stacked as
 * bin/serve.ts stacks it and mounted in this process, so the test can count what reaches the
 * volume: with the default timeouts repeated stats are answered by the kernel; what the mount
 * itself changes (chmod, utimens, truncate, writes, link, unlink, rename, mkdir) shows at once;
 * `.pktinfo` files, whose content changes behind the kernel's back, read in full through the
 * patched binding's direct_io even while their attributes are cached.
 */
import { promises as fsp } from 'fs';
import fs from 'fs';
import path from 'path';
import { openStack, closeStack, type Stack } from '../../bin/stack';
import Fuse from 'fuse-native';
import { PktfsFuse, bindingNextStat, bindingOpenFlags, fuseTimeouts } from '../../src/fuse/fuse';
import { PktfsMount } from '../../src/fuse/mount';
import { parseMountOptions, splitOptions } from '../../src/options';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { removeDir, run, tempDir } from './helpers';

const TOOLS = haveTools('mkudffs', 'udfclient');
const maybe = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs or udfclient missing', () => undefined);

let dir: string;
let image: BuiltImage;

interface Mounted {
  mnt: string;
  stack: Stack;
  mount: PktfsMount;
  /** Calls that reached the volume's getattr and lookup since the mount. */
  calls: { getattr: number; lookup: number };
}
const mounts: Mounted[] = [];
let counter = 0;

/** A writable mount of a fresh copy of the image, with these option words. */
async function mountCopy(words: string[]): Promise<Mounted> {
  const img = path.join(dir, `rw${++counter}.img`);
  fs.copyFileSync(image.path, img);
  const opts = parseMountOptions(splitOptions(words));
  const stack = await openStack(img, { ...opts, readOnly: false });
  const calls = { getattr: 0, lookup: 0 };
  const vol = stack.volume;
  const getattr = vol.getattr.bind(vol);
  const lookup = vol.lookup.bind(vol);
  vol.getattr = (ino) => (calls.getattr++, getattr(ino));
  vol.lookup = (parent, name) => (calls.lookup++, lookup(parent, name));
  // A getattr answered at once from a cached node (Volume.attrNow) reached the volume as well.
  const attrNow = vol.attrNow?.bind(vol);
  if (attrNow) vol.attrNow = (ino) => { const a = attrNow(ino); if (a) calls.getattr++; return a; };
  const mnt = path.join(dir, `mnt${counter}`);
  fs.mkdirSync(mnt);
  const mount = await PktfsMount.mount(vol, mnt, {
    source: img, readOnly: false, pollMs: 200, attrTimeout: opts.attrTimeout, entryTimeout: opts.entryTimeout, attrCache: opts.attrCache,
    pktinfo: { mode: opts.pktinfo, packets: stack.packets, mount: { source: img, ...stack.facts } },
  });
  const m = { mnt, stack, mount, calls };
  mounts.push(m);
  return m;
}

async function unmountAll(): Promise<void> {
  for (const m of mounts.splice(0)) {
    await m.mount.unmount().catch(() => undefined);
    await closeStack(m.stack).catch(() => undefined);
  }
}

/**
 * Node's readFileSync, which reads st_size bytes when st_size is not 0, in another process
 * (a synchronous call on the mount from this process would wait for itself).
 */
async function readFileSyncElsewhere(p: string): Promise<string> {
  const r = await run(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync(process.argv[1], "utf8"))', p]);
  expect(r.code).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  dir = tempDir('caching');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'a/b'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a/b/deep.txt'), 'deep\n');
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, src);
}, 120000);

afterAll(async () => {
  await unmountAll();
  if (dir) await removeDir(dir);
});

test('the binding in node_modules is the patched one (scripts/patch-native.sh), so attributes are cached', () => {
  expect(bindingOpenFlags).toBe(true);
  expect(bindingNextStat).toBe(true);
  expect(fuseTimeouts({ source: 'x', readOnly: false })).toEqual({ attr: 1, entry: 1 });
  expect(fuseTimeouts({ source: 'x', readOnly: true })).toEqual({ attr: 30, entry: 30 });
  expect(fuseTimeouts({ source: 'x', readOnly: false, attrTimeout: 0, entryTimeout: 0.5 })).toEqual({ attr: 0, entry: 0.5 });
});

maybe('a writable mount with the default timeouts', () => {
  let m: Mounted;
  beforeAll(async () => {
    m = await mountCopy([]);
  });
  afterAll(unmountAll);

  test('repeated stats and path walks are answered by the kernel, not by the volume', async () => {
    const p = path.join(m.mnt, 'a/b/deep.txt');
    await fsp.stat(p);
    const before = { ...m.calls };
    for (let i = 0; i < 50; i++) await fsp.stat(p);
    // Without caching: 50 getattrs of the file plus a permission getattr of every directory crossed.
    expect(m.calls.getattr - before.getattr).toBeLessThan(10);
    expect(m.calls.lookup - before.lookup).toBeLessThan(10);
  });

  test('chmod, utimens, truncate and writes through the mount show in the next stat', async () => {
    const p = path.join(m.mnt, 'f');
    await fsp.writeFile(p, 'hello');
    expect((await fsp.stat(p)).size).toBe(5);
    await fsp.chmod(p, 0o600);
    expect((await fsp.stat(p)).mode & 0o7777).toBe(0o600);
    const when = new Date('2020-02-02T02:02:02Z');
    await fsp.utimes(p, when, when);
    expect((await fsp.stat(p)).mtime.getTime()).toBe(when.getTime());
    await fsp.truncate(p, 2);
    expect((await fsp.stat(p)).size).toBe(2);
    const fh = await fsp.open(p, 'r+');
    await fh.write(pseudoRandom('grow', 100_000), 0, 100_000, 2);
    expect((await fh.stat()).size).toBe(100_002);
    await fh.close();
    expect((await fsp.stat(p)).size).toBe(100_002);
    // And through another process (its own stat, not Node's).
    expect((await run('stat', ['-c', '%s %a', p])).stdout.trim()).toBe('100002 600');
  });

  test('a time set alone (UTIME_OMIT for the other: touch -m, touch -a, tar x) is set, the other kept', async () => {
    const p = path.join(m.mnt, 'omit');
    await fsp.writeFile(p, 'x');
    const both = new Date('2011-01-01T00:00:00Z');
    await fsp.utimes(p, both, both);
    expect((await run('touch', ['-m', '-d', '2012-03-04T05:06:07Z', p])).code).toBe(0);
    let st = await fsp.stat(p);
    expect(st.mtime.toISOString()).toBe('2012-03-04T05:06:07.000Z');
    expect(st.atime.toISOString()).toBe('2011-01-01T00:00:00.000Z');
    expect((await run('touch', ['-a', '-d', '2013-01-01T00:00:00Z', p])).code).toBe(0);
    st = await fsp.stat(p);
    expect(st.atime.toISOString()).toBe('2013-01-01T00:00:00.000Z');
    expect(st.mtime.toISOString()).toBe('2012-03-04T05:06:07.000Z');
    // GNU tar restores a file's mtime with futimens(fd, {UTIME_OMIT, mtime}).
    const src = path.join(dir, 'tar-src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub', 'file'), pseudoRandom('tar', 30_000));
    const old = new Date('2009-09-09T09:09:09Z');
    fs.utimesSync(path.join(src, 'sub', 'file'), old, old);
    fs.utimesSync(path.join(src, 'sub'), old, old);
    const tarball = path.join(dir, 'omit.tar');
    expect((await run('tar', ['cf', tarball, '-C', src, 'sub'])).code).toBe(0);
    const out = path.join(m.mnt, 'untar');
    await fsp.mkdir(out);
    expect((await run('tar', ['xf', tarball, '-C', out])).code).toBe(0);
    expect((await fsp.stat(path.join(out, 'sub', 'file'))).mtime.toISOString()).toBe(old.toISOString());
    expect((await fsp.stat(path.join(out, 'sub'))).mtime.toISOString()).toBe(old.toISOString());
  });

  test('setattr and create answer the getattr libfuse makes after them without another request', async () => {
    // What the binding asks of the JavaScript side: getattr by path, and by handle.
    const asked = { n: 0 };
    const base = Fuse.prototype._op_getattr;
    const fbase = PktfsFuse.prototype._op_fgetattr;
    Fuse.prototype._op_getattr = function (this: Fuse, ...a: [any, string]) { asked.n++; return base.apply(this, a); };
    PktfsFuse.prototype._op_fgetattr = function (this: PktfsFuse, ...a: [any, string, number]) { asked.n++; return fbase.apply(this, a); };
    try {
      const p = path.join(m.mnt, 'attrs');
      await fsp.writeFile(p, 'x');
      await fsp.stat(p);
      const before = asked.n;
      for (let i = 0; i < 20; i++) {
        await fsp.chmod(p, i % 2 ? 0o640 : 0o600);
        await fsp.truncate(p, i);
        await fsp.utimes(p, new Date(1e12 + i * 1000), new Date(1e12 + i * 1000));
        const st = await fsp.stat(p);
        expect([st.mode & 0o777, st.mtime.getTime(), st.size]).toEqual([i % 2 ? 0o640 : 0o600, 1e12 + i * 1000, i]);
      }
      const fresh = asked.n;
      for (let i = 0; i < 20; i++) await (await fsp.open(path.join(m.mnt, `new${i}`), 'wx')).close();
      // Without the attributes handed along: one getattr per chmod, utimens, truncate and create.
      expect(fresh - before).toBeLessThan(10);
      // Each create: the lookup of the missing name and of the directory it changed; not the new file's.
      expect(asked.n - fresh).toBeLessThanOrEqual(2 * 20 + 3);
      expect((await fsp.stat(path.join(m.mnt, 'new7'))).size).toBe(0);
    } finally {
      Fuse.prototype._op_getattr = base;
      PktfsFuse.prototype._op_fgetattr = fbase;
    }
  });

  test('link, unlink and rename: the names the kernel was told about show the new attributes', async () => {
    const a = path.join(m.mnt, 'one');
    const b = path.join(m.mnt, 'a/two');
    await fsp.writeFile(a, 'shared');
    const sa = await fsp.stat(a);
    expect(sa.nlink).toBe(1);
    await fsp.link(a, b);
    // The new name is answered with fresh attributes. (The other name is a node of its own to
    // libfuse's high-level API and keeps its cached count for up to attr_timeout: docs/cli.md.)
    const sb = await fsp.stat(b);
    expect([sb.nlink, sb.ino]).toEqual([2, sa.ino]);
    await fsp.unlink(b);
    await expect(fsp.stat(b)).rejects.toMatchObject({ code: 'ENOENT' });
    const c = path.join(m.mnt, 'a/b/three');
    await fsp.rename(a, c);
    await expect(fsp.stat(a)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fsp.stat(c)).ino).toBe(sa.ino);
    expect(await fsp.readFile(c, 'utf8')).toBe('shared');
  });

  test('a name looked up while missing appears as soon as it is created, and goes when removed', async () => {
    const p = path.join(m.mnt, 'a/later');
    await expect(fsp.stat(p)).rejects.toMatchObject({ code: 'ENOENT' });
    const parent = (await fsp.stat(path.join(m.mnt, 'a'))).nlink;
    await fsp.mkdir(p);
    expect((await fsp.stat(p)).isDirectory()).toBe(true);
    expect((await fsp.stat(path.join(m.mnt, 'a'))).nlink).toBe(parent + 1);
    await fsp.rmdir(p);
    await expect(fsp.stat(p)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fsp.stat(path.join(m.mnt, 'a'))).nlink).toBe(parent);
  });

  test('.pktinfo files read in full after their content grew while their attributes are cached', async () => {
    const stats = path.join(m.mnt, '.pktinfo/stats.json');
    const first = JSON.parse(await fsp.readFile(stats, 'utf8'));
    // Size 0 like /proc: a reader trusting st_size (readFileSync) reads to the end instead.
    expect((await fsp.stat(stats)).size).toBe(0);
    const firstText = await readFileSyncElsewhere(stats);
    await fsp.writeFile(path.join(m.mnt, 'big'), pseudoRandom('big', 300_000));
    await fsp.writeFile(path.join(m.mnt, '.pktinfo/flush'), '1');
    // Within the attribute timeout of the reads above, and the text is longer now.
    const again = await readFileSyncElsewhere(stats);
    const now = JSON.parse(again);
    expect(now.bytesWritten).toBeGreaterThan(first.bytesWritten + 300_000);
    expect(again.length).toBeGreaterThan(firstText.length);
    const cat = await run('cat', [stats]);
    expect(JSON.parse(cat.stdout).bytesWritten).toBeGreaterThanOrEqual(now.bytesWritten);
    // The held-open snapshot stays what it was.
    const fh = await fsp.open(path.join(m.mnt, '.pktinfo/info'), 'r');
    const held = (await fh.readFile()).toString();
    await fsp.writeFile(path.join(m.mnt, 'big2'), pseudoRandom('big2', 100_000));
    await fsp.writeFile(path.join(m.mnt, '.pktinfo/flush'), '1');
    const buf = Buffer.alloc(held.length + 1000);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    expect(buf.subarray(0, bytesRead).toString()).toBe(held);
    await fh.close();
  });
});

maybe('-o attr_timeout=0,entry_timeout=0,attr_cache=off: no caching, and .pktinfo reports sizes', () => {
  let m: Mounted;
  beforeAll(async () => {
    // (pktfs's own attribute cache, on by default, is test/bin/attr-cache.test.ts's)
    m = await mountCopy(['attr_timeout=0', 'entry_timeout=0', 'attr_cache=off']);
  });
  afterAll(unmountAll);

  test('every stat reaches the volume', async () => {
    const p = path.join(m.mnt, 'a/b/deep.txt');
    await fsp.stat(p);
    const before = m.calls.getattr;
    for (let i = 0; i < 20; i++) await fsp.stat(p);
    expect(m.calls.getattr - before).toBeGreaterThanOrEqual(20);
  });

  test('both names of a hard link show every new link count at once', async () => {
    const a = path.join(m.mnt, 'one');
    const b = path.join(m.mnt, 'a/two');
    await fsp.writeFile(a, 'shared');
    expect((await fsp.stat(a)).nlink).toBe(1);
    await fsp.link(a, b);
    expect([(await fsp.stat(a)).nlink, (await fsp.stat(b)).nlink]).toEqual([2, 2]);
    await fsp.chmod(b, 0o640);
    expect((await fsp.stat(a)).mode & 0o777).toBe(0o640);
    await fsp.unlink(a);
    expect((await fsp.stat(b)).nlink).toBe(1);
  });

  test('.pktinfo sizes are those of the content', async () => {
    const stats = path.join(m.mnt, '.pktinfo/stats.json');
    const size = (await fsp.stat(stats)).size;
    expect(size).toBeGreaterThan(100);
    const text = await fsp.readFile(stats, 'utf8');
    expect(JSON.parse(text).version).toBeDefined();
  });
});
