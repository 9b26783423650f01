/**
 * Writes answered before they run (src/fuse/write-behind.ts, issue 6): the kernel's WRITE is
 * answered at once and the write engine takes the data after the operations before it. What
 * must hold: everything written is there, read back through the mount (O_DIRECT reads, which
 * reach pktfs) and by udfclient after the unmount; a queued write that fails is reported by that
 * file's close(2), or by fsync, and not by another file's; near a full disc writes wait for their
 * answer, so ENOSPC comes from write(2) as before; `-o write_behind=off` answers after the write.
 */
import { promises as fsp, constants as fsc } from 'fs';
import fs from 'fs';
import path from 'path';
import { promisify } from 'util';
import { FsError } from '../../src/errors';
import { OpsContext } from '../../src/fuse/context';
import { WriteBehind, type WriteBehindStats } from '../../src/fuse/write-behind';
import type { WritableVolume } from '../../src/udf/types';
import { haveTools } from '../helpers/tools';
import { pseudoRandom, walkHost } from '../helpers/tree';
import { expectSameFiles, udfclientGetAll } from '../udf/write-helpers';
import { removeDir, tempDir } from './helpers';
import { InProcessMounts, type InProcessMount } from './in-process';

const TOOLS = haveTools('mkudffs', 'udfclient');
const maybe = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs or udfclient missing', () => undefined);

let dir: string;

const open = promisify(fs.open);
const close = promisify(fs.close);
const fstat = promisify(fs.fstat);
const write = (fd: number, b: Buffer): Promise<number> => new Promise((resolve, reject) => fs.write(fd, b, (e, n) => (e ? reject(e) : resolve(n))));

const mounts = new InProcessMounts(() => dir);
type Mounted = InProcessMount;
const mountNew = (words: string[], blocks = 64 * 1024): Promise<Mounted> => mounts.mount(mounts.newImage(blocks), words);
const unmount = (m: Mounted): Promise<void> => mounts.unmount(m);

const writeBehind = async (m: Mounted): Promise<WriteBehindStats | null> =>
  JSON.parse(await fsp.readFile(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8')).writeBehind;

/** Write `data` to `p` in `chunk`-byte write(2)s, as tar (10 KiB) and cp (128 KiB) do. */
async function writeInChunks(p: string, data: Buffer, chunk: number): Promise<void> {
  const fh = await fsp.open(p, 'w');
  try {
    for (let at = 0; at < data.length; at += chunk) await fh.write(data, at, Math.min(chunk, data.length - at), at);
  } finally {
    await fh.close();
  }
}

async function readDirect(p: string): Promise<Buffer> {
  const fh = await fsp.open(p, fsc.O_RDONLY | fsc.O_DIRECT);
  try {
    const parts: Buffer[] = [];
    for (let pos = 0; ; ) {
      const b = Buffer.alloc(128 * 1024);
      const { bytesRead } = await fh.read(b, 0, b.length, pos);
      if (bytesRead === 0) return Buffer.concat(parts);
      parts.push(b.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Make `vol.write` of inode `ino` fail with `e` (once), as the write engine would. */
function failNextWrite(vol: WritableVolume, ino: number, e: Error): void {
  const write = vol.write.bind(vol);
  vol.write = (i, off, data) => {
    if (i !== ino) return write(i, off, data);
    vol.write = write;
    return Promise.reject(e);
  };
}

beforeAll(() => {
  dir = tempDir('write-behind');
});

afterAll(async () => {
  await mounts.unmountAll();
  if (dir) await removeDir(dir);
});

maybe('writes answered before they run', () => {
  test('everything written is read back through the mount and by udfclient', async () => {
    const m = await mountNew([]);
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    const files: [string, number, number][] = [
      ['tar-like.bin', 300_000 + 17, 10240], ['cp-like.bin', 3 * 1024 * 1024 + 5, 128 * 1024], ['d/small.txt', 100, 4096],
      ...Array.from({ length: 20 }, (_, i): [string, number, number] => [`d/f${i}`, 5000 + i * 777, 16384]),
    ];
    for (const [rel, size, chunk] of files) {
      const data = pseudoRandom(rel, size);
      fs.writeFileSync(path.join(src, rel), data);
      if (rel.startsWith('d/')) await fsp.mkdir(path.join(m.mnt, 'd'), { recursive: true });
      await writeInChunks(path.join(m.mnt, rel), data, chunk);
    }
    const wb = await writeBehind(m);
    const chunks = files.reduce((n, [, size, chunk]) => n + Math.ceil(size / chunk), 0);
    expect(wb).toMatchObject({ failures: 0 });
    expect(wb!.writes).toBeGreaterThan(chunks / 2);
    // Each read reaches pktfs, behind the writes queued before it.
    for (const [rel] of files) expect((await readDirect(path.join(m.mnt, rel))).equals(fs.readFileSync(path.join(src, rel)))).toBe(true);
    // Written over in place and extended, then read at once.
    const over = path.join(m.mnt, 'cp-like.bin');
    const fh = await fsp.open(over, 'r+');
    const patch = pseudoRandom('patch', 70_000);
    await fh.write(patch, 0, patch.length, 1_000_000);
    await fh.write(patch, 0, patch.length, 3 * 1024 * 1024);
    await fh.close();
    const want = fs.readFileSync(path.join(src, 'cp-like.bin'));
    patch.copy(want, 1_000_000);
    const grown = Buffer.concat([want.subarray(0, 3 * 1024 * 1024), patch]);
    fs.writeFileSync(path.join(src, 'cp-like.bin'), grown);
    expect((await fsp.stat(over)).size).toBe(grown.length);
    expect((await readDirect(over)).equals(grown)).toBe(true);

    await unmount(m);
    const out = path.join(dir, 'got');
    await udfclientGetAll(m.img, 2048, ['tar-like.bin', 'cp-like.bin', 'd'], out);
    expectSameFiles(walkHost(out), walkHost(src));
  });

  test('a queued write that fails is reported by its file\'s close(2), once, and not by another file\'s', async () => {
    const m = await mountNew([]);
    // Raw descriptors: a FileHandle whose close() failed is closed again when collected, by
    // then maybe another file's descriptor, synchronously, on this thread that serves the mount.
    const other = await open(path.join(m.mnt, 'other'), 'w');
    await write(other, Buffer.from('other\n'));
    const fd = await open(path.join(m.mnt, 'fails'), 'w');
    await write(fd, Buffer.from('first\n'));
    failNextWrite(m.vol, (await fstat(fd)).ino, new FsError('EIO', 'the medium went away'));
    // Answered before it ran, so write(2) succeeds ...
    await expect(write(fd, pseudoRandom('x', 20000))).resolves.toBe(20000);
    // ... and close(2) reports it.
    await expect(close(fd)).rejects.toMatchObject({ code: 'EIO' });
    await expect(close(other)).resolves.toBeUndefined();
    expect(await writeBehind(m)).toMatchObject({ failures: 1, queuedBytes: 0 });
    // Reported once: the next file closes cleanly.
    await fsp.writeFile(path.join(m.mnt, 'after'), 'after\n');
    expect(await fsp.readFile(path.join(m.mnt, 'after'), 'utf8')).toBe('after\n');
  });

  test('once the queued writes have run, the binding answers close(2) itself again', async () => {
    const m = await mountNew([]);
    const stats = async (): Promise<{ fastFlushes: number; writeBehind: WriteBehindStats }> =>
      JSON.parse(await fsp.readFile(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8'));
    const fd = await open(path.join(m.mnt, 'f'), 'w');
    await write(fd, pseudoRandom('f', 50000));
    // A stat waits for the write before it: then nothing is queued.
    await fstat(fd);
    const before = await stats();
    expect(before.writeBehind).toMatchObject({ writes: 1, queuedBytes: 0 });
    await close(fd);
    // That close, and the close of stats.json read for `before` (counted after it was made).
    expect((await stats()).fastFlushes).toBe(before.fastFlushes + 2);
  });

  test('fsync reports it too', async () => {
    const m = await mountNew([]);
    const fh = await fsp.open(path.join(m.mnt, 'synced'), 'w');
    await fh.write(Buffer.from('first\n'));
    failNextWrite(m.vol, (await fh.stat()).ino, new FsError('EIO', 'the medium went away'));
    await fh.write(pseudoRandom('y', 20000));
    await expect(fh.sync()).rejects.toMatchObject({ code: 'EIO' });
    await expect(fh.close()).resolves.toBeUndefined();
  });

  test('near a full disc writes wait for their answer: ENOSPC comes from write(2)', async () => {
    const m = await mountNew([], 16 * 1024);
    let failure: NodeJS.ErrnoException | undefined;
    let closed = 0;
    for (let i = 0; !failure; i++) {
      const fh = await fsp.open(path.join(m.mnt, `fill${i}`), 'w');
      try {
        const data = pseudoRandom(`fill${i}`, 1024 * 1024);
        for (let at = 0; at < data.length; at += 16384) await fh.write(data, at, 16384, at);
      } catch (e) {
        failure = e as NodeJS.ErrnoException;
      }
      await fh.close();
      closed++;
    }
    expect(failure!.code).toBe('ENOSPC');
    expect(closed).toBeGreaterThan(10);
    const wb = await writeBehind(m);
    expect(wb!.writes).toBeGreaterThan(0);
    expect(wb!.failures).toBe(0);
  });

  test('-o write_behind=off: every write is answered after it ran', async () => {
    const m = await mountNew(['write_behind=off']);
    await writeInChunks(path.join(m.mnt, 'f'), pseudoRandom('f', 100_000), 10240);
    expect(await writeBehind(m)).toBeNull();
    expect((await readDirect(path.join(m.mnt, 'f'))).equals(pseudoRandom('f', 100_000))).toBe(true);
  });
});

describe('a failure nobody reported before the handle went (no mount)', () => {
  /** A volume whose writes fail when `fail()` is called, and that records deferred errors. */
  function setup(): { wb: WriteBehind; ctx: OpsContext; fail: () => void; deferred: unknown[] } {
    const deferred: unknown[] = [];
    let fail!: () => void;
    const vol = {
      rootIno: 1,
      info: { freeBlocks: 1 << 20, blockSize: 2048 },
      writeError: () => undefined,
      deferWriteError: (e: unknown) => deferred.push(e),
      write: () => new Promise<number>((_, reject) => (fail = () => reject(new FsError('EIO', 'gone')))),
    } as unknown as WritableVolume & { deferWriteError(e: unknown): void };
    const ctx = new OpsContext(vol, false);
    // As a mount does (mount.ts): the context tells it of released handles.
    const wb = (ctx.writeBehind = new WriteBehind(ctx, vol));
    return { wb, ctx, fail: () => fail(), deferred };
  }
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

  test('failing after the release: the volume reports it', async () => {
    const { wb, ctx, fail, deferred } = setup();
    const fh = ctx.addFile({ ino: 5, path: '/f' });
    expect(wb.write(fh, 0, Buffer.from('data'))).toBe(true);
    ctx.removeFile(fh);
    fail();
    await settle();
    expect(deferred).toHaveLength(1);
    expect(wb.stats()).toMatchObject({ failures: 1, queuedBytes: 0 });
    expect(wb.busy).toBe(false);
  });

  test('failed, then released unreported: handed to the volume, once', async () => {
    const { wb, ctx, fail, deferred } = setup();
    const fh = ctx.addFile({ ino: 5, path: '/f' });
    expect(wb.write(fh, 0, Buffer.from('data'))).toBe(true);
    fail();
    await settle();
    expect(deferred).toHaveLength(0);
    expect(wb.busy).toBe(true);
    // Another write of that handle waits for its own answer until the failure is reported.
    expect(wb.write(fh, 4, Buffer.from('more'))).toBe(false);
    ctx.removeFile(fh);
    expect(deferred).toHaveLength(1);
    expect(wb.busy).toBe(false);
    expect(wb.take(fh)).toBeUndefined();
  });
});
