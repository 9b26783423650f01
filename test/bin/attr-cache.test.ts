/**
 * The binding's attribute cache (patches/fuse-native+2.2.6.patch, attr_cache_*; src/fuse/fuse.ts
 * bindingAttrCache): getattrs answered on libfuse's thread from attributes pktfs answered before,
 * dropped by every request that may change them. Mounted through the CLI (another process, so
 * this one may use synchronous calls on the mount) with attr_timeout=0 and entry_timeout=0, so
 * the kernel asks on every stat and every name: what the counters in `.pktinfo/stats.json` show
 * is the cache's doing, and every stat after a change would show stale attributes if the change
 * did not drop them. Then cp -a and tar x of a tree on a mount with the default timeouts, judged
 * by udfinfo and udfclient.
 */
import fs from 'fs';
import path from 'path';
import { haveTools, udfinfo } from '../helpers/tools';
import { buildSourceTree, walkHost } from '../helpers/tree';
import { expectSameFiles, makeImage, udfclientGetAll } from '../udf/write-helpers';
import { removeDir, run, tempDir } from '../fuse/helpers';
import { assertBuilt, pktfs, servingPid, waitGone } from './cli-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient', 'tar');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs, udfinfo, udfclient or tar missing', () => undefined);

const NO_KERNEL_CACHE = ['attr_timeout=0', 'entry_timeout=0'];

interface CacheStats {
  capacity: number;
  entries: number;
  hits: number;
  misses: number;
  stores: number;
  refused: number;
  drops: number;
  clears: number;
  evictions: number;
  negatives: number;
  completeDirs: number;
}

let tmp: string;
let counter = 0;

interface Mount {
  img: string;
  mnt: string;
  pid: number;
}

async function mount(opts: string[], img?: string): Promise<Mount> {
  const n = ++counter;
  const image = img ?? makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 64 * 1024 }, tmp, `disc${n}`);
  const mnt = path.join(tmp, `mnt${n}`);
  fs.mkdirSync(mnt);
  const r = await pktfs([...(opts.length ? ['-o', opts.join(',')] : []), image, mnt]);
  if (r.code !== 0) throw new Error(`pktfs: status ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe('');
  return { img: image, mnt, pid: servingPid(mnt)! };
}

async function unmount(m: Mount): Promise<void> {
  const r = await run('umount', [m.mnt]);
  if (r.code !== 0) throw new Error(`umount ${m.mnt}: ${r.stderr}`);
  await waitGone(m.pid, 60000);
}

function cacheStats(m: Mount): CacheStats {
  const s = JSON.parse(fs.readFileSync(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8')) as { attrCache: CacheStats | null };
  if (!s.attrCache) throw new Error('stats.json has no attrCache');
  return s.attrCache;
}

/** How many getattrs pktfs answered through its volume queue (stats.json answers; .pktinfo's own are not counted). */
function queuedGetattrs(m: Mount): number {
  const s = JSON.parse(fs.readFileSync(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8')) as { answers: Record<string, { count: number }> };
  return s.answers.getattr?.count ?? 0;
}

const delta = (a: CacheStats, b: CacheStats): CacheStats =>
  Object.fromEntries(Object.keys(b).map((k) => [k, b[k as keyof CacheStats] - a[k as keyof CacheStats]])) as unknown as CacheStats;

async function sh(script: string): Promise<void> {
  const r = await run('bash', ['-ec', script], { timeout: 300000, input: '' });
  if (r.code !== 0) throw new Error(`${script}: ${r.stderr}`);
}

beforeAll(() => {
  assertBuilt();
  tmp = tempDir('attr-cache');
});
afterAll(async () => {
  if (tmp) await removeDir(tmp);
});

/** The mount of a describe block: made before its tests, unmounted after them. */
function sharedMount(opts: string[]): { readonly m: Mount; at(rel: string): string; remount(): Promise<void> } {
  let m: Mount | undefined;
  beforeAll(async () => {
    m = await mount(opts);
  }, 60000);
  afterAll(async () => {
    if (m) await unmount(m);
  });
  return {
    get m(): Mount {
      return m!;
    },
    at: (rel: string): string => path.join(m!.mnt, rel),
    async remount(): Promise<void> {
      await unmount(m!);
      m = await mount(opts, m!.img);
    },
  };
}

describeIf('the attribute cache, with the kernel caching nothing', () => {
  const mounted = sharedMount(NO_KERNEL_CACHE);
  const at = mounted.at;

  test('repeated stats of a file and the directories above it are answered by the cache', () => {
    fs.mkdirSync(at('r/s'), { recursive: true });
    fs.writeFileSync(at('r/s/f'), 'data');
    fs.statSync(at('r/s/f'));
    const before = cacheStats(mounted.m);
    for (let i = 0; i < 20; i++) expect(fs.statSync(at('r/s/f')).size).toBe(4);
    const d = delta(before, cacheStats(mounted.m));
    expect(before.capacity).toBeGreaterThan(0);
    // Each stat: a lookup of r, s and f (libfuse's lookup is a getattr), none reaching pktfs.
    expect(d.hits).toBeGreaterThanOrEqual(60);
    expect(d.misses).toBe(0);
  });

  test('the getattr after a utimens comes from the cache (libfuse asks again after every setattr)', async () => {
    fs.writeFileSync(at('t'), 'x');
    fs.statSync(at('t'));
    const before = cacheStats(mounted.m);
    await sh(`touch -d @1500000000 ${at('t')}; stat ${at('t')} >/dev/null`);
    const d = delta(before, cacheStats(mounted.m));
    expect(d.misses).toBe(0);
    expect(d.hits).toBeGreaterThan(0);
    expect(fs.statSync(at('t')).mtimeMs).toBe(1500000000 * 1000);
  });

  test('chmod, chown, utimens, writes and truncate show in the next stat', () => {
    const f = at('attrs');
    fs.writeFileSync(f, 'abc');
    const hitsBefore = cacheStats(mounted.m).hits;
    expect(fs.statSync(f).mode & 0o7777).toBe(0o644);
    fs.chmodSync(f, 0o600);
    expect(fs.statSync(f).mode & 0o7777).toBe(0o600);
    fs.chownSync(f, 1234, 5678);
    expect([fs.statSync(f).uid, fs.statSync(f).gid]).toEqual([1234, 5678]);
    fs.utimesSync(f, 1000, 2000);
    expect(fs.statSync(f).mtimeMs).toBe(2000 * 1000);
    // A write answers with no attributes: only the drop keeps the size right.
    fs.appendFileSync(f, 'defgh');
    expect(fs.statSync(f).size).toBe(8);
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.alloc(3000, 1), 0, 3000, 100);
    expect(fs.fstatSync(fd).size).toBe(3100);
    expect(fs.statSync(f).size).toBe(3100);
    fs.ftruncateSync(fd, 50);
    expect(fs.fstatSync(fd).size).toBe(50);
    fs.closeSync(fd);
    expect(fs.statSync(f).size).toBe(50);
    fs.truncateSync(f, 7);
    expect(fs.statSync(f).size).toBe(7);
    expect(fs.readFileSync(f, 'utf8')).toBe('abcdefg');
    expect(cacheStats(mounted.m).hits).toBeGreaterThan(hitsBefore);
  });

  test('a directory shows its new size, link count and mtime after entries come and go', () => {
    fs.mkdirSync(at('dir'));
    fs.utimesSync(at('dir'), 1000, 1000);
    const st0 = fs.statSync(at('dir'));
    expect(st0.mtimeMs).toBe(1000 * 1000);
    fs.writeFileSync(at('dir/created'), 'c');
    const st1 = fs.statSync(at('dir'));
    expect(st1.size).toBeGreaterThan(st0.size);
    expect(st1.mtimeMs).toBeGreaterThan(st0.mtimeMs);
    fs.mkdirSync(at('dir/sub'));
    const st2 = fs.statSync(at('dir'));
    expect(st2.nlink).toBe(st1.nlink + 1);
    expect(st2.size).toBeGreaterThan(st1.size);
    fs.utimesSync(at('dir'), 1000, 1000);
    expect(fs.statSync(at('dir')).mtimeMs).toBe(1000 * 1000);
    fs.rmdirSync(at('dir/sub'));
    const st3 = fs.statSync(at('dir'));
    expect(st3.nlink).toBe(st1.nlink);
    expect(st3.mtimeMs).toBeGreaterThan(1000 * 1000);
    expect(() => fs.statSync(at('dir/sub'))).toThrow(/ENOENT/);
    fs.utimesSync(at('dir'), 1000, 1000);
    fs.symlinkSync('created', at('dir/link'));
    expect(fs.statSync(at('dir')).mtimeMs).toBeGreaterThan(1000 * 1000);
    expect(fs.lstatSync(at('dir/link')).isSymbolicLink()).toBe(true);
    fs.utimesSync(at('dir'), 1000, 1000);
    fs.unlinkSync(at('dir/created'));
    expect(fs.statSync(at('dir')).mtimeMs).toBeGreaterThan(1000 * 1000);
    expect(() => fs.statSync(at('dir/created'))).toThrow(/ENOENT/);
    expect(fs.existsSync(at('dir/link'))).toBe(false); // a dangling link now
  });

  test('the attributes mkdir, symlink and mknod hand back are found in the same tick, not by a lookup through the volume', async () => {
    fs.mkdirSync(at('made'));
    // Reading stats.json looks .pktinfo up: those getattrs count in the next reading.
    const first = queuedGetattrs(mounted.m);
    const before = queuedGetattrs(mounted.m);
    const reading = before - first;
    fs.mkdirSync(at('made/dir'));
    fs.symlinkSync('dir', at('made/sym'));
    await sh(`mkfifo ${at('made/fifo')}`);
    expect(queuedGetattrs(mounted.m) - before - reading).toBe(0);
    expect(fs.statSync(at('made/dir')).isDirectory()).toBe(true);
    expect(fs.readlinkSync(at('made/sym'))).toBe('dir');
    expect(fs.lstatSync(at('made/fifo')).isFIFO()).toBe(true);
  });

  test('link: the first name shows two links, and one again after the second goes', () => {
    fs.writeFileSync(at('l1'), 'linked');
    expect(fs.statSync(at('l1')).nlink).toBe(1);
    fs.linkSync(at('l1'), at('l2'));
    expect(fs.statSync(at('l1')).nlink).toBe(2);
    expect(fs.statSync(at('l2')).nlink).toBe(2);
    fs.chmodSync(at('l2'), 0o640);
    expect(fs.statSync(at('l1')).mode & 0o777).toBe(0o640);
    fs.unlinkSync(at('l2'));
    expect(fs.statSync(at('l1')).nlink).toBe(1);
    expect(() => fs.statSync(at('l2'))).toThrow(/ENOENT/);
  });

  test('rename of a subtree: nothing is found under the old name, everything under the new', () => {
    fs.mkdirSync(at('old/b/c'), { recursive: true });
    fs.writeFileSync(at('old/b/c/deep'), 'deep down');
    fs.writeFileSync(at('old/top'), 'top');
    for (const p of ['old', 'old/b', 'old/b/c', 'old/b/c/deep', 'old/top']) fs.statSync(at(p));
    const before = cacheStats(mounted.m);
    fs.renameSync(at('old'), at('new'));
    expect(cacheStats(mounted.m).clears).toBeGreaterThan(before.clears);
    for (const p of ['old', 'old/b', 'old/b/c/deep', 'old/top']) expect(() => fs.statSync(at(p))).toThrow(/ENOENT/);
    expect(fs.statSync(at('new/b/c/deep')).size).toBe(9);
    expect(fs.readFileSync(at('new/top'), 'utf8')).toBe('top');
    // A file renamed over another: the name shows the moved file.
    fs.writeFileSync(at('new/x'), 'xxxxx');
    fs.statSync(at('new/top'));
    fs.renameSync(at('new/x'), at('new/top'));
    expect(fs.statSync(at('new/top')).size).toBe(5);
  });

  test('a file renamed: only its names and their directories are dropped, the rest stays cached', () => {
    fs.mkdirSync(at('ren/a'), { recursive: true });
    fs.mkdirSync(at('ren/b'));
    fs.writeFileSync(at('ren/a/file'), 'renamed');
    fs.writeFileSync(at('ren/b/other'), 'other');
    fs.utimesSync(at('ren/a'), 1000, 1000);
    fs.utimesSync(at('ren/b'), 1000, 1000);
    for (const p of ['ren/a/file', 'ren/b/other', 'ren/a', 'ren/b']) fs.statSync(at(p));
    const before = cacheStats(mounted.m);
    fs.renameSync(at('ren/a/file'), at('ren/b/file'));
    const d0 = delta(before, cacheStats(mounted.m));
    expect(d0.clears).toBe(0);
    // Both directories changed (their times), and the moved file is found under its new name only.
    expect(fs.statSync(at('ren/a')).mtimeMs).toBeGreaterThan(1000 * 1000);
    expect(fs.statSync(at('ren/b')).mtimeMs).toBeGreaterThan(1000 * 1000);
    expect(fs.readFileSync(at('ren/b/file'), 'utf8')).toBe('renamed');
    expect(() => fs.statSync(at('ren/a/file'))).toThrow(/ENOENT/);
    const mid = cacheStats(mounted.m);
    expect(fs.statSync(at('ren/b/other')).size).toBe(5);
    expect(delta(mid, cacheStats(mounted.m)).misses).toBe(0);
    // A file renamed over another: the name shows the moved file.
    fs.statSync(at('ren/b/file'));
    fs.renameSync(at('ren/b/file'), at('ren/b/other'));
    expect(fs.readFileSync(at('ren/b/other'), 'utf8')).toBe('renamed');
    expect(fs.readdirSync(at('ren/b'))).toEqual(['other']);
  });

  test('stats while two processes append never see a size go back (answers computed before a write in flight are not kept)', async () => {
    const f = at('appended');
    fs.writeFileSync(f, '');
    const script = `
      const fs = require('fs');
      const [mode, f, n] = process.argv.slice(1);
      if (mode === 'w') {
        const fd = fs.openSync(f, 'a');
        for (let i = 0; i < +n; i++) fs.writeSync(fd, Buffer.alloc(100, 1));
        fs.closeSync(fd);
      } else {
        let last = 0;
        for (let i = 0; i < +n; i++) {
          const s = fs.statSync(f).size;
          if (s < last) { console.log('size ' + s + ' after ' + last); process.exit(1); }
          last = s;
        }
      }`;
    const node = (args: string[]) => run(process.execPath, ['-e', script, ...args], { timeout: 120000 });
    const results = await Promise.all([node(['w', f, '2000']), node(['w', f, '2000']), node(['s', f, '15000']), node(['s', f, '15000'])]);
    for (const r of results) expect([r.code, r.stdout]).toEqual([0, '']);
    expect(fs.statSync(f).size).toBe(400_000);
  }, 120000);

  test('.pktinfo files are never cached: each stat generates a newer snapshot', () => {
    const p = at('.pktinfo/stats.json');
    fs.statSync(mounted.m.mnt);
    const before = cacheStats(mounted.m);
    const a = fs.statSync(p);
    const b = fs.statSync(p);
    expect(b.mtimeMs).toBeGreaterThan(a.mtimeMs);
    expect(a.size).toBeGreaterThan(0);
    expect(fs.statSync(at('.pktinfo')).isDirectory()).toBe(true);
    // Reading stats.json looked up .pktinfo and the file again: not one of those was stored.
    expect(cacheStats(mounted.m).entries - before.entries).toBe(0);
  });
});

describeIf('names not there, in directories made through the mount, answered by the binding', () => {
  // A tree copy looks up every name before it makes it. In a directory the mount made, the
  // binding knows every name made since, so the lookup of any other is ENOENT without pktfs.
  const mounted = sharedMount(NO_KERNEL_CACHE);
  const at = mounted.at;
  const absent = (rel: string): void => expect(() => fs.lstatSync(at(rel))).toThrow(/ENOENT/);

  test('a name is absent until made, found once made (files, links, fifos, directories), absent again once removed', async () => {
    fs.mkdirSync(at('d'));
    const s0 = cacheStats(mounted.m);
    absent('d/f');
    const s1 = cacheStats(mounted.m);
    expect(s1.negatives - s0.negatives).toBe(1);
    expect(s1.misses - s0.misses).toBe(1);
    fs.writeFileSync(at('d/f'), 'file');
    fs.linkSync(at('d/f'), at('d/hard'));
    fs.symlinkSync('f', at('d/sym'));
    await sh(`mkfifo ${at('d/fifo')}`);
    fs.mkdirSync(at('d/sub'));
    // Each found by a lookup that reached pktfs or the cache, never by a negative answer.
    const s2 = cacheStats(mounted.m);
    expect(fs.statSync(at('d/f')).size).toBe(4);
    expect(fs.statSync(at('d/hard')).nlink).toBe(2);
    expect(fs.readlinkSync(at('d/sym'))).toBe('f');
    expect(fs.lstatSync(at('d/fifo')).isFIFO()).toBe(true);
    expect(fs.statSync(at('d/sub')).isDirectory()).toBe(true);
    expect(cacheStats(mounted.m).negatives).toBe(s2.negatives);
    // A directory made here is one too, wherever it was made.
    absent('d/sub/x');
    expect(cacheStats(mounted.m).negatives).toBe(s2.negatives + 1);
    fs.unlinkSync(at('d/hard'));
    fs.rmdirSync(at('d/sub'));
    const s3 = cacheStats(mounted.m);
    absent('d/hard');
    absent('d/sub');
    expect(cacheStats(mounted.m).negatives - s3.negatives).toBe(2);
    expect(fs.statSync(at('d/f')).nlink).toBe(1);
    expect(fs.readdirSync(at('d')).sort()).toEqual(['f', 'fifo', 'sym']);
  });

  test('a file moved into such a directory is found there, and is not in the old one', () => {
    fs.mkdirSync(at('from'));
    fs.writeFileSync(at('from/moved'), 'moved');
    fs.statSync(at('from/moved'));
    fs.mkdirSync(at('to'));
    absent('to/moved');
    const before = cacheStats(mounted.m);
    // (The kernel looks the new name up first: that lookup is answered here.)
    fs.renameSync(at('from/moved'), at('to/moved'));
    const after = cacheStats(mounted.m);
    expect(after.clears).toBe(before.clears);
    expect(after.completeDirs).toBe(before.completeDirs);
    expect(fs.readFileSync(at('to/moved'), 'utf8')).toBe('moved');
    absent('from/moved');
    expect(cacheStats(mounted.m).negatives).toBe(after.negatives + 1);
    expect(fs.readdirSync(at('from'))).toEqual([]);
  });

  test('a directory moved forgets every directory (what is under it moves too)', () => {
    fs.mkdirSync(at('from2/sub'), { recursive: true });
    fs.writeFileSync(at('from2/sub/f'), 'f');
    fs.mkdirSync(at('to2'));
    absent('to2/sub');
    fs.statSync(at('from2/sub'));
    const before = cacheStats(mounted.m);
    expect(before.completeDirs).toBeGreaterThan(0);
    fs.renameSync(at('from2/sub'), at('to2/sub'));
    const after = cacheStats(mounted.m);
    expect(after.completeDirs).toBe(0);
    expect(after.clears).toBeGreaterThan(before.clears);
    expect(fs.readFileSync(at('to2/sub/f'), 'utf8')).toBe('f');
    absent('from2/sub');
    expect(cacheStats(mounted.m).negatives).toBe(after.negatives);
  });

  test('four processes making, linking, moving and removing names in the same directories never see a wrong answer', async () => {
    // Each process checks, after every step, that its own names are there or not as they should
    // be; the directories are shared, so one's lookups run while the others' changes are in flight.
    const worker = path.join(tmp, 'names-worker.sh');
    fs.writeFileSync(worker, `
      M=$1; W=$2
      fail() { echo "worker $W step $i: $*" >&2; exit 1; }
      for i in $(seq 1 60); do
        d=$M/s$((i % 3)); e=$M/s$(((i + 1) % 3)); f=$d/w$W-$i; h=$d/w$W-$i-link
        [ -e $f ] && fail "$f there before it was made"
        echo $i > $f || fail "write"
        [ -e $f ] || fail "$f not there once made"
        ln $f $h && [ -e $h ] || fail "$h not there once linked"
        mkdir $d/w$W-$i-dir && [ ! -e $d/w$W-$i-dir/x ] || fail "a name in a new directory"
        touch $d/w$W-$i-dir/x && [ -e $d/w$W-$i-dir/x ] || fail "x not there once made"
        rm -r $d/w$W-$i-dir && [ ! -e $d/w$W-$i-dir ] || fail "a directory there once removed"
        rm $h && [ ! -e $h ] || fail "$h there once removed"
        if [ $((i % 5)) = 0 ]; then
          mv $f $e/w$W-$i-moved && [ ! -e $f ] && [ "$(cat $e/w$W-$i-moved)" = $i ] || fail "rename"
        elif [ $((i % 2)) = 0 ]; then
          rm $f && [ ! -e $f ] || fail "$f there once removed"
        fi
      done`);
    for (const d of ['s0', 's1', 's2']) fs.mkdirSync(at(d));
    const before = cacheStats(mounted.m);
    const runs = await Promise.all([1, 2, 3, 4].map((w) => run('bash', [worker, mounted.m.mnt, String(w)], { timeout: 120000, input: '' })));
    for (const r of runs) expect(r.stderr).toBe('');
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(cacheStats(mounted.m).negatives - before.negatives).toBeGreaterThan(100);
    // 60 names a process, a third removed, some moved: what is left is what should be.
    const left = ['s0', 's1', 's2'].flatMap((d) => fs.readdirSync(at(d)));
    expect(left.length).toBe(4 * 60 - 4 * 24);
  }, 180000);

  test('directories the mount did not make ask pktfs', async () => {
    fs.mkdirSync(at('kept'));
    fs.writeFileSync(at('kept/a'), 'a');
    await mounted.remount();
    const before = cacheStats(mounted.m);
    expect(fs.readFileSync(at('kept/a'), 'utf8')).toBe('a');
    absent('kept/b');
    const d = delta(before, cacheStats(mounted.m));
    expect(d.negatives).toBe(0);
    expect(d.misses).toBeGreaterThan(0);
  }, 60000);
});

describeIf('a change pktfs makes with no request naming the file', () => {
  test('a fragmented file given an allocation extent block when its entry is stored shows the new block count', async () => {
    const m = await mount([...NO_KERNEL_CACHE, 'flush=off']);
    const f = path.join(m.mnt, 'frag');
    try {
      const fd = fs.openSync(f, 'w');
      // A byte every other block: two allocation descriptors a block, more than the entry holds.
      for (let k = 0; k < 150; k++) fs.writeSync(fd, Buffer.from('x'), 0, 1, k * 4096);
      fs.closeSync(fd);
      const before = fs.statSync(f).blocks;
      fs.statSync(f);
      fs.writeFileSync(path.join(m.mnt, '.pktinfo/flush'), '1');
      const after = fs.statSync(f).blocks;
      expect(after).toBeGreaterThan(before);
      expect(cacheStats(m).clears).toBeGreaterThan(0);
      await unmount(m);
      const again = await mount(NO_KERNEL_CACHE, m.img);
      try {
        expect(fs.statSync(path.join(again.mnt, 'frag')).blocks).toBe(after);
      } finally {
        await unmount(again);
      }
    } catch (e) {
      await unmount(m).catch(() => undefined);
      throw e;
    }
  }, 60000);

  test('-o attr_cache=off: no cache, the same answers', async () => {
    const m = await mount([...NO_KERNEL_CACHE, 'attr_cache=off']);
    try {
      fs.writeFileSync(path.join(m.mnt, 'f'), 'abc');
      for (let i = 0; i < 5; i++) expect(fs.statSync(path.join(m.mnt, 'f')).size).toBe(3);
      expect(cacheStats(m)).toMatchObject({ capacity: 0, entries: 0, hits: 0, stores: 0 });
    } finally {
      await unmount(m);
    }
  }, 60000);
});

describeIf('cp -a and tar x onto a mount with the default timeouts', () => {
  let src: string;
  let names: string[];
  let m: Mount;
  let before: ReturnType<typeof udfinfo>;
  beforeAll(() => {
    src = path.join(tmp, 'src');
    names = buildSourceTree(src, 300_000);
    fs.symlinkSync('a/b/c/d/deep.txt', path.join(src, 'deep-link'));
    fs.linkSync(path.join(src, 'f2049'), path.join(src, 'f2049-hardlink'));
  });

  test('the copies are the tree, and the cache answered getattrs during them', async () => {
    m = await mount([]);
    before = udfinfo(m.img);
    try {
      await copyAndCheck();
    } finally {
      await unmount(m);
    }
  }, 300000);

  async function copyAndCheck(): Promise<void> {
    await sh(`cp -a ${src} ${m.mnt}/cp; mkdir ${m.mnt}/tar; tar cf - -C ${src} . | tar xf - -C ${m.mnt}/tar`);
    expect(walkHost(path.join(m.mnt, 'cp'))).toEqual(walkHost(src));
    expect(walkHost(path.join(m.mnt, 'tar'))).toEqual(walkHost(src));
    // Times in whole milliseconds (what fuse-native passes), tar's in whole seconds.
    const mtime = fs.statSync(path.join(src, 'a/b/sibling')).mtimeMs;
    for (const [top, unit] of [['cp', 1], ['tar', 1000]] as const) {
      expect(fs.statSync(path.join(m.mnt, top, 'f2049-hardlink')).nlink).toBe(2);
      expect(fs.statSync(path.join(m.mnt, top, 'a/b/sibling')).mtimeMs).toBe(Math.floor(mtime / unit) * unit);
    }
    const s = cacheStats(m);
    // At least the parent's getattr after each create and the getattr of cp's attribute-less setattr.
    const files = walkHost(src).filter((e) => e.type === 'file').length;
    expect(s.hits).toBeGreaterThanOrEqual(files);
  }

  test('udfinfo and udfclient read what was copied', async () => {
    const u = udfinfo(m.img);
    const tree = walkHost(src);
    expect(u.fields.integrity).toBe('closed');
    expect(u.numDirs).toBe(1 + 2 + 2 * tree.filter((e) => e.type === 'dir').length);
    const entries = tree.filter((e) => e.type !== 'dir').length - 1; // the hard link is one entry
    expect(u.numFiles).toBe(before.numFiles + 2 * entries);
    const out = path.join(tmp, 'udfclient');
    await udfclientGetAll(m.img, 2048, ['cp', 'tar'], out);
    expectSameFiles(walkHost(path.join(out, 'cp')), tree);
    expectSameFiles(walkHost(path.join(out, 'tar')), tree);
  }, 120000);
});
