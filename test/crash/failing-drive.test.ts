/**
 * Failing drives (issue 5, section 4): the emulated DVD+RW with write defects,
 * read defects and the disc pulled mid-copy, under the packet layer and the
 * volume as a mount stacks them; and a drive whose one write-out fails while
 * nobody waits for it (the idle settle). The operation concerned gets EIO
 * (an FsError, nothing else), a write-out error is reported at the next
 * fsync, sync or close and not lost, and the medium is never left corrupted:
 * it mounts, what was fsync'ed reads back, udfinfo reads it.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FsError, isFsError } from '../../src/errors';
import { EmulatedDrive } from '../../src/drive/emu/drive';
import { MmcDrive } from '../../src/drive/mmc/drive';
import { MmcBlockDevice } from '../../src/drive/mmc/blockdev';
import { openSource } from '../../src/drive/open';
import { MemoryDevice } from '../../src/drive/memory';
import type { BlockDevice } from '../../src/drive/types';
import { PacketDevice } from '../../src/packet/device';
import { openVolume } from '../../src/udf/volume';
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, readAll } from '../helpers/tree';
import { makeImage } from '../udf/write-helpers';
import { checkImage } from './check';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TOOLS = haveTools('mkudffs', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;

async function mountOn(dev: BlockDevice, opts: { idleSettleMs?: number } = {}): Promise<{ vol: WritableVolume; pkt: PacketDevice }> {
  const pkt = new PacketDevice(dev, { packetBytes: 32 * 1024, cacheBytes: 256 * 1024, dirtyBytes: 128 * 1024, flushDelayMs: Infinity });
  const vol = await openVolume(pkt, { readWrite: true, packetBlocks: 16, ...opts });
  if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
  return { vol, pkt };
}

/** The errno an operation failed with, or 'ok'; anything but an FsError fails the test. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!isFsError(e)) throw e;
    return e.errno;
  }
}

async function resolveIn(vol: WritableVolume, name: string): Promise<number> {
  return vol.lookup(vol.rootIno, name);
}

/** A device whose write number `failAt` (counted from 1) fails once with EIO. */
class FlakyDevice extends MemoryDevice {
  writes = 0;
  constructor(data: Buffer, private readonly failAt: number) {
    super({ data, sectorSize: 2048 });
  }
  override async write(lba: number, data: Buffer): Promise<void> {
    if (++this.writes === this.failAt) throw new FsError('EIO', `write of sectors ${lba}+${data.length / 2048}: injected failure`);
    return super.write(lba, data);
  }
}

describeIf('failing drives', () => {
  let tmp: string;
  let fresh: () => string;

  beforeAll(() => {
    tmp = makeTempDir('faildrive');
    const base = makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 4096 }, tmp, 'base');
    let n = 0;
    fresh = () => {
      const p = path.join(tmp, `img${n++}.img`);
      fs.copyFileSync(base, p);
      return p;
    };
  });
  afterAll(() => removeTempDir(tmp));

  test('write defects: EIO at write, fsync or close, never a corrupted volume', async () => {
    const img = fresh();
    // Every sector from 1500 on refuses writes: the metadata near the start still works.
    const dev = await openSource(`emu:dvd+rw:${img},defects=1500-4095`);
    const { vol } = await mountOn(dev);
    const keep = pseudoRandom('keep', 300_000);
    const a = await vol.create(vol.rootIno, 'keep', 0o644, 0, 0);
    await vol.write(a, 0, keep);
    await vol.fsync(a);
    const b = await vol.create(vol.rootIno, 'big', 0o644, 0, 0);
    const seen: string[] = [];
    // 6 MiB: the data crosses into the defective sectors; the error comes at a write (back-pressure) or at the fsync.
    for (let off = 0; off < 6 << 20 && !seen.includes('EIO'); off += 256 * 1024) seen.push(await outcome(vol.write(b, off, pseudoRandom(`big${off}`, 256 * 1024))));
    seen.push(await outcome(vol.fsync(b)));
    seen.push(await outcome(vol.close()));
    expect(seen).toContain('EIO');
    expect(seen.filter((s) => s !== 'ok' && s !== 'EIO')).toEqual([]);
    await dev.close().catch(() => undefined);
    // The medium without its defects (they are in the sidecar; the plain image is what a reader sees).
    const res = await checkImage(fs.readFileSync(img), 2048, [{ path: 'keep', size: keep.length, sha256: sha(keep), at: 0, how: 'fsync' }]);
    expect(res.problems).toEqual([]);
    expect(udfinfo(img).errors).toEqual([]);
  });

  test('read defects: EIO for the file concerned, the rest reads and writes on', async () => {
    const img = fresh();
    {
      const { vol, pkt } = await mountOn(await openSource(`emu:dvd+rw:${img}`));
      for (const name of ['bad', 'good']) {
        const ino = await vol.create(vol.rootIno, name, 0o644, 0, 0);
        await vol.write(ino, 0, pseudoRandom(name, 100_000));
      }
      await vol.close();
      await pkt.close();
    }
    // Where 'bad' landed: find its first bytes on the medium.
    const raw = fs.readFileSync(img);
    const at = raw.indexOf(pseudoRandom('bad', 2048));
    expect(at % 2048).toBe(0);
    const sector = at / 2048 + 10;
    const dev = await openSource(`emu:dvd+rw:${img},rdefects=${sector}`);
    const { vol, pkt } = await mountOn(dev);
    const bad = await resolveIn(vol, 'bad');
    expect(await outcome(vol.read(bad, 0, 100_000))).toBe('EIO');
    // The first ten blocks are fine, and the other file wholly.
    expect((await vol.read(bad, 0, 20480)).equals(pseudoRandom('bad', 100_000).subarray(0, 20480))).toBe(true);
    expect((await readAll(vol, await resolveIn(vol, 'good'), 100_000)).equals(pseudoRandom('good', 100_000))).toBe(true);
    const c = await vol.create(vol.rootIno, 'after', 0o644, 0, 0);
    await vol.write(c, 0, pseudoRandom('after', 50_000));
    await vol.close();
    await pkt.close();
    // Clear the read defect (kept in the sidecar until given again) and check the whole medium.
    await (await openSource(`emu:dvd+rw:${img},rdefects=`)).close().catch(() => undefined);
    const res = await checkImage(fs.readFileSync(img), 2048, []);
    expect(res.problems).toEqual([]);
    expect(res.damaged).toEqual([]);
    expect(udfinfo(img).errors).toEqual([]);
  });

  test('the disc pulled mid-copy: only FsErrors, fsync\'ed files survive', async () => {
    const img = fresh();
    const emu = await EmulatedDrive.open('dvd+rw', img, {});
    const dev = await MmcBlockDevice.open(new MmcDrive(emu, { retryDelayMs: 1 }));
    const { vol } = await mountOn(dev);
    const durable: { path: string; size: number; sha256: string; at: number; how: 'fsync' }[] = [];
    const errs: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 25) await emu.removeMedium();
      const name = `f${i}`;
      const data = pseudoRandom(name, 10_000 + i * 3000);
      const r = await outcome((async () => {
        const ino = await vol.create(vol.rootIno, name, 0o644, 0, 0);
        await vol.write(ino, 0, data);
        if (i % 3 === 0) {
          await vol.fsync(ino);
          durable.push({ path: name, size: data.length, sha256: sha(data), at: 0, how: 'fsync' });
        }
      })());
      if (r !== 'ok') errs.push(r);
    }
    expect(errs.length).toBeGreaterThan(0);
    expect(await outcome(vol.close())).not.toBe('ok');
    expect(durable.length).toBeGreaterThanOrEqual(9);
    const res = await checkImage(fs.readFileSync(img), 2048, durable);
    expect(res.problems).toEqual([]);
    expect(res.integrity).toBe('open');
    expect(udfinfo(img).errors).toEqual([]);
  });

  test('fsync reaches the medium: SYNCHRONIZE CACHE after the last WRITE, before fsync returns; data before the entry', async () => {
    const img = fresh();
    const emu = await EmulatedDrive.open('dvd+rw', img, {});
    const dev = await MmcBlockDevice.open(new MmcDrive(emu, { retryDelayMs: 1 }));
    const { vol, pkt } = await mountOn(dev);
    const ino = await vol.create(vol.rootIno, 'f', 0o644, 0, 0);
    await vol.write(ino, 0, pseudoRandom('f', 100_000));
    const from = emu.log.length;
    await vol.fsync(ino);
    const cmds = emu.log.slice(from).map((e) => e.name);
    expect(cmds.filter((n) => /^WRITE/.test(n)).length).toBeGreaterThan(0);
    const lastWrite = cmds.map((n) => /^WRITE/.test(n)).lastIndexOf(true);
    expect(cmds.slice(lastWrite + 1)).toContain('SYNCHRONIZE CACHE');
    // Two flushes: the data's packets, then the entry's.
    expect(cmds.filter((n) => n === 'SYNCHRONIZE CACHE').length).toBeGreaterThanOrEqual(2);
    await vol.close();
    await pkt.close();
  });

  test('a write-out that fails while nobody waits (idle settle) is reported at the next fsync, once', async () => {
    const base = fs.readFileSync(fresh());
    // Count the writes of a clean run, to make the settle's first write-out fail.
    const probe = new FlakyDevice(base, -1);
    {
      const { vol } = await mountOn(probe);
      const ino = await vol.create(vol.rootIno, 'f', 0o644, 0, 0);
      await vol.write(ino, 0, pseudoRandom('f', 40_000));
    }
    const before = probe.writes;
    const dev = new FlakyDevice(base, before + 1);
    const { vol, pkt } = await mountOn(dev, { idleSettleMs: 20 });
    const ino = await vol.create(vol.rootIno, 'f', 0o644, 0, 0);
    await vol.write(ino, 0, pseudoRandom('f', 40_000));
    expect(dev.writes).toBe(before);
    // The idle settle runs, and its first write-out fails.
    for (let i = 0; i < 200 && dev.writes <= before; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(await outcome(vol.fsync(ino))).toBe('EIO');
    expect(await outcome(vol.fsync(ino))).toBe('ok');
    await vol.close();
    await pkt.close();
    const res = await checkImage(dev.data, 2048, [{ path: 'f', size: 40_000, sha256: sha(pseudoRandom('f', 40_000)), at: 0, how: 'fsync' }]);
    expect(res.problems).toEqual([]);
    expect(res.integrity).toBe('closed');
  });
});
