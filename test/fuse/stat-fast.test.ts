/**
 * Answers without promises (issue 6: JS time per request): the stat packer that replaces
 * fuse-native's getStatArray, timestamps as milliseconds without Dates, getattr of a cached node
 * answered in the same tick (and only when nothing is queued before it), flush answered at once
 * but still reporting a background write error.
 */
import Fuse from 'fuse-native';
import { LEAN_DISPATCH, PktfsFuse, toStatArray } from '../../src/fuse/fuse';
import { OpsContext } from '../../src/fuse/context';
import { attrOps } from '../../src/fuse/ops-attr';
import { writeOps } from '../../src/fuse/ops-write';
import { fileOps } from '../../src/fuse/ops-file';
import { dirOps } from '../../src/fuse/ops-dir';
import { PathResolver, LEARN_MAX } from '../../src/fuse/resolver';
import { PktinfoDir, pktinfoOps } from '../../src/fuse/pktinfo';
import { FsError } from '../../src/errors';
import { timestampToDate, timestampToMs, dateToTimestamp } from '../../src/udf/time';
import type { Timestamp } from '../../src/udf/codec/primitives';
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { makeImage, openRw, type RwMount } from '../udf/write-helpers';
import { ImageDevice } from '../../src/drive/image';
import { openVolume } from '../../src/udf/volume';

const describeIf = haveTools('mkudffs') ? describe : describe.skip;

type Stat = Record<string, unknown>;

/** What fuse-native itself answers a getattr with (its _op_getattr, i.e. getStatArray). */
function nativeArray(stat: Stat | undefined): Uint32Array {
  let out!: Uint32Array;
  const shim = { ops: { getattr: (_p: string, cb: (e: number, s?: Stat) => void) => cb(0, stat) } };
  Fuse.prototype._op_getattr.call(shim as unknown as Fuse, (_e: number, arr: Uint32Array) => { out = arr; }, '/x');
  return out;
}

const base = { mode: 0o100644, uid: 1000, gid: 100, size: 5, nlink: 1, ino: 42, blocks: 8, blksize: 131072 };
const STATS: [string, Stat][] = [
  ['a file, Date times', { ...base, atime: new Date(1_700_000_000_123), mtime: new Date(1_600_000_000_000), ctime: new Date(0) }],
  ['a file, millisecond times', { ...base, atime: 1_700_000_000_123, mtime: 1_600_000_000_999, ctime: 0 }],
  ['a directory', { ...base, mode: 0o40755, nlink: 7, size: 2048, atime: 5, mtime: 6, ctime: 7 }],
  ['a symlink', { ...base, mode: 0o120777, size: 11, blocks: 0, atime: 1, mtime: 2, ctime: 3 }],
  ['sizes past 2^32 and up to 2^53', { ...base, size: 2 ** 53 - 1, blocks: 2 ** 40 + 3, atime: 1, mtime: 2, ctime: 3 }],
  ['times before 1970', { ...base, atime: new Date(-1), mtime: -86_400_000 * 365 * 30 - 7, ctime: new Date(-2_208_988_800_000) }],
  ['times with fractions of a millisecond', { ...base, atime: 1_234.5, mtime: -1_234.5, ctime: 0.25 }],
  ['zero nlink and missing ids', { mode: 0o100600, size: 0, nlink: 0, ino: 9, blocks: 0, blksize: 0, atime: 1, mtime: 1, ctime: 1 }],
  ['dev and rdev', { ...base, dev: 77, rdev: 1234, atime: 1, mtime: 1, ctime: 1 }],
];

describe('toStatArray: the stat array fuse-native builds, without getStatArray', () => {
  it.each(STATS)('%s', (_name, stat) => {
    expect(Array.from(toStatArray(stat))).toEqual(Array.from(nativeArray(stat)));
  });

  it('an absent stat (and absent times) as getStatArray: nlink 1, times now', () => {
    jest.useFakeTimers({ now: 1_650_000_000_321 });
    try {
      expect(Array.from(toStatArray(undefined))).toEqual(Array.from(nativeArray(undefined)));
      const noTimes = { ...base };
      expect(Array.from(toStatArray(noTimes))).toEqual(Array.from(nativeArray(noTimes)));
    } finally {
      jest.useRealTimers();
    }
  });

  it('an array handed out stays as packed while thousands more are packed; a reused slot keeps nothing of before', () => {
    const first = toStatArray(STATS[4][1]);
    const copy = Array.from(first);
    for (let i = 0; i < 4000; i++) toStatArray(STATS[i % STATS.length][1]);
    expect(Array.from(first)).toEqual(copy);
    jest.useFakeTimers({ now: 1_650_000_000_321 });
    try {
      for (let i = 0; i < 5000; i++) {
        const a = toStatArray(i % 2 ? undefined : STATS[8][1]);
        if (i % 2) expect(Array.from(a)).toEqual(Array.from(nativeArray(undefined)));
      }
    } finally {
      jest.useRealTimers();
    }
  });

  it("PktfsFuse's getattr and fgetattr answer what fuse-native's would, errors alone", () => {
    const stat = STATS[5][1];
    const ops = {
      getattr: (p: string, cb: (e: number, s?: Stat) => void) => (p === '/x' ? cb(0, stat) : cb(-2)),
      fgetattr: (p: string, fh: number, cb: (e: number, s?: Stat) => void) => (fh === 3 ? cb(0, stat) : cb(-9)),
    };
    const f = new PktfsFuse('/nonexistent-mnt', ops, { source: 'x', readOnly: true });
    const said: unknown[][] = [];
    const signal = (...a: unknown[]): void => { said.push(a); };
    f._op_getattr(signal, '/x');
    f._op_getattr(signal, '/y');
    f._op_fgetattr(signal, '/x', 3);
    f._op_fgetattr(signal, '/x', 4);
    const expected = Array.from(nativeArray(stat));
    expect(said.map((a) => [a[0], a[1] ? Array.from(a[1] as Uint32Array) : undefined])).toEqual([
      [0, expected], [-2, undefined], [0, expected], [-9, undefined],
    ]);
  });
});

describe('timestampToMs: timestampToDate(t).getTime() without a Date', () => {
  const ts = (o: Partial<Timestamp>): Timestamp => ({
    typeAndTimezone: (1 << 12) | 0, year: 2024, month: 2, day: 29, hour: 13, minute: 14, second: 15,
    centiseconds: 0, hundredsOfMicroseconds: 0, microseconds: 0, ...o,
  });
  const cases: Timestamp[] = [
    ts({}),
    ts({ centiseconds: 99, hundredsOfMicroseconds: 99, microseconds: 99 }),
    ts({ typeAndTimezone: (1 << 12) | (60 & 0xfff) }),
    ts({ typeAndTimezone: (1 << 12) | (-480 & 0xfff), centiseconds: 5 }),
    ts({ typeAndTimezone: (1 << 12) | (-2047 & 0xfff) }),
    ts({ typeAndTimezone: 0 | (120 & 0xfff) }),
    ts({ year: 1900, month: 1, day: 1, hour: 0, minute: 0, second: 0, centiseconds: 1, hundredsOfMicroseconds: 5 }),
    ts({ year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, centiseconds: 99, hundredsOfMicroseconds: 50 }),
    ts({ year: 1, month: 0, day: 0 }),
    ts({ year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59 }),
    ts({ year: 275761, month: 1, day: 1 }),
    ts({ year: Number.NaN }),
    dateToTimestamp(new Date(1_700_000_000_123)),
    dateToTimestamp(new Date(-1_700_000_000_877), -300),
  ];
  it.each(cases.map((c) => [JSON.stringify(c), c]))('%s', (_s, t) => {
    expect(timestampToMs(t as Timestamp)).toBe(timestampToDate(t as Timestamp).getTime());
  });
});

describe('flush: answered at once, a background write error still reported', () => {
  const ctxOf = (writeError: () => Error | undefined) => {
    const vol = { rootIno: 1, info: {}, writeError } as unknown as WritableVolume;
    return writeOps(new OpsContext(vol, false), vol, { uid: 0, gid: 0 });
  };

  it('no error: 0 before flush returns', () => {
    const answers: number[] = [];
    ctxOf(() => undefined).flush('/f', 1, (code) => answers.push(code));
    expect(answers).toEqual([0]);
  });

  it("a pending write error: its errno, before flush returns; a plain Error is EIO", () => {
    const answers: number[] = [];
    ctxOf(() => new FsError('ENOSPC', 'packet 7 failed')).flush('/f', 1, (code) => answers.push(code));
    ctxOf(() => new Error('medium error')).flush('/f', 1, (code) => answers.push(code));
    expect(answers).toEqual([Fuse.ENOSPC, Fuse.EIO]);
  });
});

describeIf('getattr of a cached node: answered in the same tick when nothing is queued', () => {
  let tmp: string;
  let m: RwMount;
  let vol: WritableVolume;
  let ops: ReturnType<typeof writeOps> & ReturnType<typeof attrOps> & ReturnType<typeof fileOps>;
  type Answer = [number, Stat | undefined];
  const call = (name: string, ...args: unknown[]): Promise<Answer> => new Promise((resolve) => {
    (ops as unknown as Record<string, (...a: unknown[]) => void>)[name](...args, (code: number, value?: Stat) => resolve([code, value]));
  });
  /** The answer if given before the call returned, else 'later'. */
  const now = (name: string, ...args: unknown[]): Answer | 'later' => {
    let got: Answer | undefined;
    (ops as unknown as Record<string, (...a: unknown[]) => void>)[name](...args, (code: number, value?: Stat) => { got = [code, value]; });
    return got ?? 'later';
  };
  const packed = (a: Answer | 'later'): number[] => (a === 'later' ? [] : Array.from(toStatArray(a[1] as never)));

  beforeEach(async () => {
    tmp = makeTempDir('stat-fast');
    m = await openRw(makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 8192 }, tmp, 'fast'));
    if (!isWritable(m.vol)) throw new Error(`read-only: ${m.vol.info.readOnlyReason}`);
    vol = m.vol;
    const ctx = new OpsContext(vol, false);
    ops = { ...writeOps(ctx, vol, { uid: 0, gid: 0 }), ...attrOps(ctx), ...fileOps(ctx) };
  });

  afterEach(async () => {
    await m.close();
    removeTempDir(tmp);
  });

  it('the same attributes as the queued path, in the same tick, for files, directories and symlinks', async () => {
    expect((await call('mkdir', '/d', 0o750))[0]).toBe(0);
    const [, fh] = await call('create', '/d/f', 0o640);
    expect((await call('write', '/d/f', fh, Buffer.alloc(5000, 1), 5000, 0))[0]).toBe(5000);
    expect((await call('symlink', '/target/of/link', '/d/l'))[0]).toBe(0);
    expect((await call('utimens', '/d/f', -1_234_567, 1_700_000_000_123))[0]).toBe(0);
    for (const p of ['/', '/d', '/d/f', '/d/l']) {
      // First through the queue (cb later), which also caches the path.
      const queued = await call('getattr', p);
      expect(queued[0]).toBe(0);
      const fast = now('getattr', p);
      expect(fast).not.toBe('later');
      expect(packed(fast)).toEqual(packed(queued));
      expect(packed(now('fgetattr', p, 999))).toEqual(packed(queued));
    }
    const f = (await call('getattr', '/d/f'))[1]!;
    expect(f).toMatchObject({ size: 5000, mode: 0o100640 });
    expect(packed(now('fgetattr', '/d/f', fh))).toEqual(packed([0, f]));
    // Dates and milliseconds pack alike: fuse-native's own packer agrees on the fast answer.
    const fast = now('getattr', '/d/f') as Answer;
    expect(Array.from(nativeArray(fast[1]))).toEqual(packed(fast));
    expect(fast[1]).toMatchObject({ atime: -1_234_567, mtime: 1_700_000_000_123 });
  });

  it('waits while a change is queued, and then answers what the change left', async () => {
    const [, fh] = await call('create', '/f', 0o644);
    expect((await call('getattr', '/f'))[1]).toMatchObject({ size: 0 });
    const write = call('write', '/f', fh, Buffer.alloc(3000, 2), 3000, 0);
    const during = now('getattr', '/f');
    expect(during).toBe('later');
    const after = call('getattr', '/f');
    await write;
    expect((await after)[1]).toMatchObject({ size: 3000 });
    expect(now('getattr', '/f')).toMatchObject([0, { size: 3000 }]);
  });

  it('open of a cached file: a handle in the same tick (EISDIR for a directory); queued while a change is', async () => {
    const [, fh] = await call('create', '/o', 0o644);
    expect((await call('write', '/o', fh, Buffer.from('hello'), 5, 0))[0]).toBe(5);
    expect((await call('mkdir', '/dd', 0o755))[0]).toBe(0);
    expect((await call('getattr', '/o'))[0]).toBe(0);
    expect((await call('getattr', '/dd'))[0]).toBe(0);
    const opened = now('open', '/o', 0);
    expect(opened).not.toBe('later');
    const [code, h] = opened as [number, unknown];
    expect(code).toBe(0);
    const buf = Buffer.alloc(16);
    expect((await call('read', '/o', h, buf, 16, 0))[0]).toBe(5);
    expect(buf.subarray(0, 5).toString()).toBe('hello');
    expect(now('release', '/o', h)).toEqual([0, undefined]);
    expect(now('open', '/dd', 0)).toEqual([-21, undefined]);
    // A change in the queue: the open waits for it, as before.
    const write = call('write', '/o', fh, Buffer.from('!'), 1, 5);
    expect(now('open', '/o', 0)).toBe('later');
    await write;
    expect((await call('open', '/o', 0))[0]).toBe(0);
  });

  it('a read-only context refuses an open for writing at once, as through the queue', async () => {
    await call('create', '/ro', 0o644);
    expect((await call('getattr', '/ro'))[0]).toBe(0);
    const roCtx = new OpsContext(vol, true);
    const roOps = fileOps(roCtx);
    // Through the queue first (caches the path in this context's resolver), then at once.
    const queued = await new Promise<number>((resolve) => roOps.open('/ro', 1, (code: number) => resolve(code)));
    let fast: number | undefined;
    roOps.open('/ro', 1, (code: number) => { fast = code; });
    expect(queued).toBe(-30);
    expect(fast).toBe(-30);
  });

  it("a listing's names are looked up without the volume afterwards (find, ls -l, rm -rf)", async () => {
    expect((await call('mkdir', '/L', 0o755))[0]).toBe(0);
    for (const n of ['a', 'b', 'c d']) expect((await call('create', `/L/${n}`, 0o644))[0]).toBe(0);
    // A fresh context, as after a remount of the resolver: nothing cached but the root.
    const ctx = new OpsContext(vol, false);
    const fresh = { ...attrOps(ctx), ...dirOps(ctx) };
    const find = jest.spyOn(vol, 'find');
    try {
      const names = await new Promise<unknown>((resolve) => fresh.readdir('/L', (_c: number, v?: unknown) => resolve(v)));
      expect(names).toEqual(['.', '..', 'a', 'b', 'c d']);
      for (const n of ['a', 'b', 'c d']) {
        let got: unknown;
        fresh.getattr(`/L/${n}`, (c: number, st?: unknown) => { got = [c, (st as Stat | undefined)?.mode]; });
        expect(got).toEqual([0, 0o100644]);
      }
      expect(find.mock.calls.filter((c) => c[1] !== 'L')).toEqual([]);
    } finally {
      find.mockRestore();
    }
  });

  it('a path not cached, or a missing name, goes the queued way', async () => {
    expect((await call('create', '/g', 0o644))[0]).toBe(0);
    expect(now('getattr', '/nothere')).toBe('later');
    expect(await call('getattr', '/nothere')).toEqual([-2, undefined]);
    // After an unlink the resolver has forgotten the path: not answered from a stale node.
    expect((await call('getattr', '/g'))[0]).toBe(0);
    expect((await call('unlink', '/g'))[0]).toBe(0);
    expect(now('getattr', '/g')).toBe('later');
    expect((await call('getattr', '/g'))[0]).toBe(-2);
  });
});

describeIf('Volume.attrNow on a read-only volume', () => {
  it('undefined until the inode is read, then getattr with times in milliseconds', async () => {
    const tmp = makeTempDir('stat-fast-ro');
    try {
      const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 8192 }, tmp, 'ro');
      const rw = await openRw(img);
      if (!isWritable(rw.vol)) throw new Error('read-only');
      await rw.vol.create(rw.vol.rootIno, 'a file', 0o644, 0, 0);
      await rw.close();
      const dev = await ImageDevice.open(img, {});
      const vol = await openVolume(dev, {});
      try {
        expect(isWritable(vol)).toBe(false);
        const ino = vol.rootIno;
        const [name] = await vol.readdir(ino).then((es) => es.map((e) => e.name));
        expect(name).toBe('a file');
        const lf = await vol.lookup(ino, name);
        expect(vol.attrNow!(lf)).toBeUndefined();
        expect(vol.attrNow!(ino)).toBeDefined();
        const a = await vol.getattr(ino);
        const n = vol.attrNow!(ino)!;
        expect(n).toEqual({
          ino: a.ino, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size, blocks: a.blocks,
          atimeMs: a.atime.getTime(), mtimeMs: a.mtime.getTime(), ctimeMs: a.ctime.getTime(),
        });
        expect(vol.attrNow!(ino + 12345)).toBeUndefined();
      } finally {
        await vol.close();
        await dev.close();
      }
    } finally {
      removeTempDir(tmp);
    }
  });
});

describe("leanHandler: fuse-native's dispatch, answering in the same tick", () => {
  // The binding's exports are plain properties, read when a Fuse builds its handlers: replaced
  // here by recorders, fuse-native's own handlers and PktfsFuse's call the same fake.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const binding = require('node-gyp-build')(require('path').dirname(require.resolve('fuse-native/package.json')));
  const names = ['getattr', 'fgetattr', 'create', 'write', 'read', 'readdir', 'readlink', 'flush', 'release', 'utimens', 'chown', 'unlink', 'access', 'open'];
  let saved: Record<string, unknown>;
  let said: unknown[][];
  beforeEach(() => {
    saved = {};
    said = [];
    for (const n of names) {
      const k = `fuse_native_signal_${n}`;
      saved[k] = binding[k];
      // (A failed getattr's stat array is read by the binding and ignored by libfuse: its times differ.)
      binding[k] = (...a: unknown[]) => {
        said.push([n, ...a.map((x) => (x instanceof Uint32Array ? ((a[1] as number) < 0 ? 'ignored' : Array.from(x)) : x))]);
      };
    }
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) binding[k] = v;
    LEAN_DISPATCH.on = true;
  });

  /** ops answering with values, trailing undefineds, errors alone, or not at all (absent). */
  const stat = { ...base, atime: 1, mtime: 2, ctime: 3 };
  const ops = {
    getattr: (p: string, cb: (...a: unknown[]) => void) => (p === '/x' ? cb(0, stat) : cb(-2)),
    fgetattr: (p: string, fh: number, cb: (...a: unknown[]) => void) => cb(0, stat),
    create: (p: string, mode: number, cb: (...a: unknown[]) => void) => (p === '/bad' ? cb(-17) : cb(0, 5)),
    write: (p: string, fh: number, buf: Buffer, len: number, pos: number, cb: (...a: unknown[]) => void) => cb(len + pos),
    read: (p: string, fh: number, buf: Buffer, len: number, pos: number, cb: (...a: unknown[]) => void) => cb(p === '/eof' ? 0 : len),
    readdir: (p: string, cb: (...a: unknown[]) => void) => (p === '/' ? cb(0, ['a', 'b']) : cb(-20)),
    readlink: (p: string, cb: (...a: unknown[]) => void) => (p === '/l' ? cb(0, 'target') : cb(-22, undefined)),
    flush: (p: string, fh: number, cb: (...a: unknown[]) => void) => cb(fh === 1 ? 0 : -5),
    release: (p: string, fh: number, cb: (...a: unknown[]) => void) => cb(0),
    utimens: (p: string, a: number, m: number, cb: (...a: unknown[]) => void) => cb(a === 7 && m === 2 ** 32 + 9 ? 0 : -1),
    chown: (p: string, u: number, g: number, cb: (...a: unknown[]) => void) => cb(0),
    open: (p: string, flags: number, cb: (...a: unknown[]) => void) => cb(0, 3, undefined),
  };
  const h = Buffer.alloc(8);
  const requests: [string, unknown[]][] = [
    ['getattr', ['/x']], ['getattr', ['/y']], ['fgetattr', ['/x', 3]], ['create', ['/f', 0o644]], ['create', ['/bad', 0o644]],
    ['write', ['/f', 5, Buffer.alloc(10), 10, 4096, 1]], ['read', ['/f', 5, Buffer.alloc(10), 10, 0, 0]], ['read', ['/eof', 5, Buffer.alloc(10), 10, 0, 0]],
    ['readdir', ['/']], ['readdir', ['/f']], ['readlink', ['/l']], ['readlink', ['/m']], ['flush', ['/f', 1]], ['flush', ['/f', 2]],
    ['release', ['/f', 5]], ['utimens', ['/f', 7, 0, 9, 1]], ['chown', ['/f', 1, 2]], ['access', ['/f', 4]], ['open', ['/f', 0]],
  ];
  const play = async (lean: boolean): Promise<{ sync: number; said: unknown[][] }> => {
    LEAN_DISPATCH.on = lean;
    said = [];
    const f = new PktfsFuse('/nonexistent-mnt', ops, { source: 'x', readOnly: false });
    const handlers = (f as unknown as { _handlers: ((...a: unknown[]) => void)[] })._handlers;
    let sync = 0;
    for (const [name, args] of requests) {
      const before = said.length;
      handlers[binding[`op_${name}`]](h, binding[`op_${name}`], ...args);
      if (said.length > before) sync++;
      await new Promise((r) => process.nextTick(r));
    }
    return { sync, said };
  };

  it('signals what fuse-native would (trailing undefineds dropped, defaults for an error alone, -1 for an op not given), before returning', async () => {
    const native = await play(false);
    const lean = await play(true);
    expect(native.sync).toBe(0);
    expect(lean.sync).toBe(requests.length);
    expect(lean.said).toEqual(native.said);
    // (What that is: the handle, the code, and the op's values.)
    expect(lean.said[0]).toEqual(['getattr', h, 0, Array.from(toStatArray(stat))]);
    expect(lean.said[4]).toEqual(['create', h, -17, 0]);
    expect(lean.said[17]).toEqual(['access', h, -1, 0]);
  });

  it('an op the ops do not have (libfuse is told so and never sends it) answers -1, where fuse-native throws', () => {
    const f = new PktfsFuse('/nonexistent-mnt', ops, { source: 'x', readOnly: false });
    const handlers = (f as unknown as { _handlers: ((...a: unknown[]) => void)[] })._handlers;
    handlers[binding.op_unlink](h, binding.op_unlink, '/f');
    expect(said).toEqual([['unlink', h, -1]]);
  });
});

describe('pktinfoOps passing requests straight to the ops', () => {
  it('owns /.pktinfo and what is under it, nothing else; other paths reach the ops with their arguments', () => {
    const vol = { rootIno: 1, info: {} } as unknown as WritableVolume;
    const dir = new PktinfoDir(new OpsContext(vol, false), { mode: 'hidden', mount: { source: 'x' } });
    for (const p of ['/.pktinfo', '/.pktinfo/stats.json', '/.pktinfo/']) expect(dir.owns(p)).toBe(true);
    for (const p of ['/.pktinfoX', '/.pktinf', '/a/.pktinfo', '/', '']) expect(dir.owns(p)).toBe(false);
    const seen: unknown[][] = [];
    const rec = (name: string) => (...a: unknown[]) => { seen.push([name, ...a.slice(0, -1)]); (a[a.length - 1] as (c: number) => void)(0); };
    const inner = { getattr: rec('getattr'), fgetattr: rec('fgetattr'), write: rec('write'), release: rec('release'), utimens: rec('utimens'), unlink: rec('unlink'), rename: rec('rename') };
    const out = pktinfoOps(dir, inner);
    const codes: number[] = [];
    const cb = (c: number): void => { codes.push(c); };
    const b = Buffer.alloc(1);
    out.getattr('/a', cb);
    out.fgetattr('/a', 3, cb);
    out.write('/a', 3, b, 1, 7, cb);
    out.release('/a', 3, cb);
    out.utimens('/a', 1, 2, cb);
    out.unlink('/.pktinfoX', cb);
    out.rename('/a', '/.pktinfo/x', cb);
    out.unlink('/.pktinfo/stats.json', cb);
    expect(seen).toEqual([['getattr', '/a'], ['fgetattr', '/a', 3], ['write', '/a', 3, b, 1, 7], ['release', '/a', 3], ['utimens', '/a', 1, 2], ['unlink', '/.pktinfoX']]);
    expect(codes).toEqual([0, 0, 0, 0, 0, 0, Fuse.EPERM, Fuse.EPERM]);
    // An op the ops lack: ENOSYS, as before.
    const bare = pktinfoOps(dir, {});
    bare.getattr('/a', cb);
    bare.write('/a', 3, b, 1, 0, cb);
    bare.mkdir('/a', 0o755, cb);
    expect(codes.slice(-3)).toEqual([Fuse.ENOSYS, Fuse.ENOSYS, Fuse.ENOSYS]);
  });
});

describe('PathResolver.learn', () => {
  const vol = { rootIno: 1 } as unknown as WritableVolume;
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `n${i}`, ino: 100 + i }));

  it('keeps what a listing found, unless a forget() came in between, or the listing is long', () => {
    const r = new PathResolver(vol);
    let since = r.mark();
    r.learn('/d', entries(3), since);
    expect([r.cached('/d/n0'), r.cached('/d/n2'), r.cached('/d/n3')]).toEqual([100, 102, undefined]);
    r.learn('/', entries(1), since);
    expect(r.cached('/n0')).toBe(100);
    // A change forgotten while the listing ran: the listing may be stale.
    since = r.mark();
    r.forget('/e/n1');
    r.learn('/e', entries(3), since);
    expect(r.cached('/e/n0')).toBeUndefined();
    // What was learned is forgotten like what was looked up (with what is under it).
    r.forget('/d');
    expect(r.cached('/d/n1')).toBeUndefined();
    since = r.mark();
    r.learn('/big', entries(LEARN_MAX + 1), since);
    expect(r.cached('/big/n0')).toBeUndefined();
  });
});
