/**
 * The edges of the UDF write engine: volumes it refuses to write (and why),
 * the LVID marked open on the disc before anything else and a volume found
 * open staying open, ENOSPC with nothing half-written, errno answers, a
 * directory of hundreds of entries over many blocks with deleted slots reused,
 * a file fragmented into allocation extent descriptors, and every block given
 * back when everything is removed. udfinfo and udfclient judge the results.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import { openVolume } from '../../src/udf/volume';
import { isWritable } from '../../src/udf/types';
import { MatrixSpec } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { buildSourceTree, pseudoRandom, walkHost, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { expectSameFiles, makeImage, openRw, putTree, udfclientGetAll, writable } from './write-helpers';
import { PacketDevice } from '../../src/packet';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('write-edge: mkudffs/udfclient/udfinfo missing, skipped');

const HD: MatrixSpec = { media: 'hd', rev: '2.01', bs: 2048 };

describeIf('UDF write engine, edges', () => {
  const tmp = makeTempDir('write-edge');
  afterAll(() => { if (!process.env.PKTFS_KEEP_TMP) removeTempDir(tmp); });

  describe('refuses to write, saying why', () => {
    it.each([
      ['bdr VAT', { media: 'bdr', rev: '2.50', bs: 2048, blocks: 4096 } as MatrixSpec, /virtual \(VAT\)/],
      ['cdr VAT at 2.01', { media: 'cdr', rev: '2.01', bs: 2048, blocks: 4096 } as MatrixSpec, /virtual \(VAT\)/],
      ['UDF 2.50 cdr', { media: 'cdr', rev: '2.50', bs: 2048, blocks: 4096 } as MatrixSpec, /VAT|2\.50/],
      ['freed space bitmap', { media: 'hd', rev: '2.01', bs: 2048, space: 'freedbitmap' } as MatrixSpec, /freed space/],
      ['freed space table', { media: 'hd', rev: '2.01', bs: 2048, space: 'freedtable' } as MatrixSpec, /freed space/],
    ])('%s', async (name, spec, why) => {
      const img = makeImage(spec, tmp, `refuse-${name.replace(/\W+/g, '-')}`);
      const bytes = fs.readFileSync(img);
      const m = await openRw(img);
      try {
        expect(isWritable(m.vol)).toBe(false);
        expect(m.vol.info.readOnlyReason).toMatch(why);
        await m.vol.readdir(m.vol.rootIno);
      } finally {
        await m.close();
      }
      expect(fs.readFileSync(img).equals(bytes)).toBe(true);
    });

    it('a device opened read-only', async () => {
      const img = makeImage(HD, tmp, 'refuse-rodev');
      const dev = await ImageDevice.open(img, { readOnly: true });
      const vol = await openVolume(dev, { readWrite: true });
      expect(isWritable(vol)).toBe(false);
      expect(vol.info.readOnlyReason).toBe('the device is read-only');
      await vol.close();
      await dev.close();
    });

    it('a volume whose LVID needs a newer UDF to write', async () => {
      const img = makeImage(HD, tmp, 'refuse-minwrite');
      // minUDFWriteRev (LVID impl. use +42, UDF 2.2.6.4) raised to 2.50 by editing the image through our codec.
      await patchLvid(img, 2048, (iu) => { iu.minUDFWriteRev = 0x0250; });
      const m = await openRw(img);
      expect(m.vol.info.readOnlyReason).toMatch(/needs UDF 2\.50/);
      await m.close();
    });
  });

  it('marks the LVID open on the disc before the first write, closed at close', async () => {
    const img = makeImage(HD, tmp, 'lvid-open');
    const m = await openRw(img);
    const vol = writable(m);
    expect(udfinfo(img).fields.integrity).toBe('closed'); // mounting alone writes nothing
    await vol.mkdir(vol.rootIno, 'x', 0o755, 0, 0);
    expect(udfinfo(img).fields.integrity).toBe('opened');
    await vol.sync();
    expect(udfinfo(img).fields.integrity).toBe('opened');
    expect(udfinfo(img).numDirs).toBe(2);
    await m.close();
    expect(udfinfo(img).fields.integrity).toBe('closed');
  });

  it('leaves a volume found open marked open', async () => {
    const img = makeImage(HD, tmp, 'found-open');
    const m1 = await openRw(img);
    const v1 = writable(m1);
    await v1.mkdir(v1.rootIno, 'x', 0o755, 0, 0);
    await v1.sync();
    await m1.dev.close(); // crash: never closed
    expect(udfinfo(img).fields.integrity).toBe('opened');
    // Without allowOpen (-o force) a volume left open is mounted read-only, telling to run fsck.
    const refused = await openRw(img);
    expect(refused.vol.info.readOnlyReason).toMatch(/not closed properly.*pktfs fsck/);
    await refused.close();
    const m2 = await openRw(img, { allowOpen: true });
    const v2 = writable(m2);
    await v2.mkdir(v2.rootIno, 'y', 0o755, 0, 0);
    await m2.close();
    expect(udfinfo(img).fields.integrity).toBe('opened');
    expect((await withImage(img, {}, (v) => v.readdir(v.rootIno))).map((e) => e.name).sort()).toEqual(['x', 'y']);
  });

  it('writes the LVID (and flushes) before anything else, and data before the entry pointing at it', async () => {
    const img = makeImage(HD, tmp, 'order');
    const dev = await ImageDevice.open(img, {});
    const log: string[] = [];
    const rec = Object.assign(Object.create(dev) as ImageDevice, {
      write: (lba: number, data: Buffer) => { log.push(`w${(lba * 512) / 2048}+${data.length / 2048}`); return dev.write(lba, data); },
      flush: () => { log.push('flush'); return dev.flush(); },
    });
    const vol = await openVolume(rec, { readWrite: true });
    if (!isWritable(vol)) throw new Error(vol.info.readOnlyReason);
    expect(log).toEqual([]);
    const f = await vol.create(vol.rootIno, 'f', 0o644, 0, 0);
    expect(log.slice(0, 2)).toEqual(['w128+1', 'flush']); // mkudffs's LVID is at block 128
    log.length = 0;
    await vol.write(f, 0, pseudoRandom('order', 10000));
    // The data blocks first, then the entry that points at them. (The new entry itself was written
    // at create, before the FID naming it: see test/crash. Having embedded nothing, it is written
    // again only at the sync, not when its data leaves the ICB: issue 6.)
    const fe = `w${257 + locBlock(f)}+1`;
    expect(log).not.toContain(fe);
    const data = log.filter((w) => w.startsWith('w'));
    expect(data.length).toBeGreaterThan(0);
    await vol.sync();
    expect(log.lastIndexOf(fe)).toBeGreaterThan(Math.max(...data.map((w) => log.indexOf(w))));
    // An entry already on the disc describing embedded data is rewritten right after the data.
    const g = await vol.create(vol.rootIno, 'g', 0o644, 0, 0);
    await vol.write(g, 0, pseudoRandom('order g', 100));
    await vol.sync();
    log.length = 0;
    await vol.write(g, 100, pseudoRandom('order g2', 10000));
    const ge = `w${257 + locBlock(g)}+1`;
    expect(log[log.length - 1]).toBe(ge);
    expect(log.slice(0, -1).every((w) => w !== ge)).toBe(true);
    await vol.close();
    await dev.close();
    expect(udfinfo(img).fields.integrity).toBe('closed');
  });

  it('setattr, fifo, and the write revision bumped to 2.01 on a 1.50 volume', async () => {
    const spec: MatrixSpec = { media: 'hd', rev: '1.50', bs: 2048 };
    const img = makeImage(spec, tmp, 'attrs');
    const m = await openRw(img);
    const vol = writable(m);
    const f = await vol.create(vol.rootIno, 'f', 0o644, 1000, 1000);
    await vol.setattr(f, { mode: 0o4751, uid: 4242, gid: 77, mtime: new Date('2001-02-03T04:05:06.789Z'), atime: new Date('2002-01-01T00:00:00Z') });
    const p = await vol.mknod(vol.rootIno, 'pipe', 0o10640, 0, 0, 0);
    await expect(vol.mknod(vol.rootIno, 'dev', 0o20640, 0x0801, 0, 0)).rejects.toMatchObject({ errno: 'EPERM' });
    await m.close();
    await withImage(img, {}, async (v) => {
      const a = await v.getattr(await v.lookup(v.rootIno, 'f'));
      expect(a.mode).toBe(0o104751);
      expect([a.uid, a.gid]).toEqual([4242, 77]);
      expect(a.mtime.toISOString()).toBe('2001-02-03T04:05:06.789Z');
      expect(a.atime.toISOString()).toBe('2002-01-01T00:00:00.000Z');
      expect((await v.getattr(await v.lookup(v.rootIno, 'pipe'))).mode).toBe(0o010640);
      expect(p).toBeGreaterThan(0);
    });
    const info = udfinfo(img);
    expect(info.fields.integrity).toBe('closed');
    // udfinfo's udfwriterev is the minimum write revision, which stays; the maximum is bumped as Linux does.
    expect(info.fields.udfwriterev).toBe('1.50');
    expect(await withImage(img, {}, async (v) => v.info.maxUdfWriteRev)).toBe(0x0201);
    expect(info.numFiles).toBe(2);
  });

  it('times outside years 1-9999 are recorded as the nearest ones a timestamp holds, and the volume still closes', async () => {
    const img = makeImage(HD, tmp, 'far-times');
    const m = await openRw(img);
    const vol = writable(m);
    const f = await vol.create(vol.rootIno, 'future', 0o644, 0, 0);
    const g = await vol.create(vol.rootIno, 'past', 0o644, 0, 0);
    await vol.setattr(f, { mtime: new Date(1e15), atime: new Date(8.64e15) }); // years 33658 and 275760
    await vol.setattr(g, { mtime: new Date(-1e14) }); // year -1199
    await vol.fsync(f);
    await m.close();
    await withImage(img, {}, async (v) => {
      const a = await v.getattr(await v.lookup(v.rootIno, 'future'));
      expect([a.mtime.toISOString(), a.atime.toISOString()]).toEqual(['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z']);
      expect((await v.getattr(await v.lookup(v.rootIno, 'past'))).mtime.toISOString()).toBe('0001-01-01T00:00:00.000Z');
    });
    expect(udfinfo(img).fields.integrity).toBe('closed');
  });

  it('writes through the packet layer: whole aligned packets reach the image, udfclient reads it all', async () => {
    const spec: MatrixSpec = { media: 'cdrw', rev: '2.01', bs: 2048 };
    const img = makeImage(spec, tmp, 'packet');
    const host = path.join(tmp, 'packet-host');
    buildSourceTree(host, 700 * 1024 + 1);
    const image = await ImageDevice.open(img, { sectorSize: 2048 });
    const writes: [number, number][] = [];
    const logged = Object.assign(Object.create(image) as ImageDevice, {
      write: (lba: number, data: Buffer) => { writes.push([lba, data.length / 2048]); return image.write(lba, data); },
    });
    const pdev = new PacketDevice(logged, { packetBytes: 32 * 1024 });
    const vol = await openVolume(pdev, { readWrite: true });
    if (!isWritable(vol)) throw new Error(vol.info.readOnlyReason);
    await putTree(vol, vol.rootIno, host);
    await vol.close();
    await pdev.close();
    await image.close();
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter(([lba, n]) => lba % 16 !== 0 || n % 16 !== 0)).toEqual([]);
    expect(udfinfo(img).fields.integrity).toBe('closed');
    const out = path.join(tmp, 'packet-udfclient');
    const top = (p: string) => /^[\x20-\x7e]+$/.test(p.split('/')[0]);
    await udfclientGetAll(img, 2048, fs.readdirSync(host).filter(top), out);
    expectSameFiles(walkHost(out), walkHost(host).filter((e) => top(e.path)));
  });

  it('answers errors with the right errno', async () => {
    const img = makeImage(HD, tmp, 'errno');
    const m = await openRw(img);
    const vol = writable(m);
    const r = vol.rootIno;
    const d = await vol.mkdir(r, 'd', 0o755, 0, 0);
    const f = await vol.create(d, 'f', 0o644, 0, 0);
    await expect(vol.create(r, 'd', 0o644, 0, 0)).rejects.toMatchObject({ errno: 'EEXIST' });
    // 255 bytes of CS0: the compression ID and 254 8-bit characters, or 127 16-bit ones.
    await expect(vol.mkdir(r, 'a'.repeat(254), 0o755, 0, 0)).resolves.toBeGreaterThan(0);
    await expect(vol.mkdir(r, 'a'.repeat(255), 0o755, 0, 0)).rejects.toMatchObject({ errno: 'ENAMETOOLONG' });
    await expect(vol.create(r, 'ж'.repeat(127), 0o644, 0, 0)).resolves.toBeGreaterThan(0);
    await expect(vol.create(r, 'ж'.repeat(128), 0o644, 0, 0)).rejects.toMatchObject({ errno: 'ENAMETOOLONG' });
    await expect(vol.rmdir(r, 'd')).rejects.toMatchObject({ errno: 'ENOTEMPTY' });
    await expect(vol.unlink(r, 'd')).rejects.toMatchObject({ errno: 'EISDIR' });
    await expect(vol.rmdir(d, 'f')).rejects.toMatchObject({ errno: 'ENOTDIR' });
    await expect(vol.unlink(r, 'nothing')).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(vol.create(f, 'x', 0o644, 0, 0)).rejects.toMatchObject({ errno: 'ENOTDIR' });
    await expect(vol.rename(r, 'd', d, 'inside')).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(vol.link(d, r, 'dirlink')).rejects.toMatchObject({ errno: 'EPERM' });
    await expect(vol.write(d, 0, Buffer.from('x'))).rejects.toMatchObject({ errno: 'EISDIR' });
    await m.close();
    expect(udfinfo(img).fields.integrity).toBe('closed');
  });

  it('ENOSPC on a full volume leaves nothing half-written', async () => {
    const img = makeImage({ ...HD, blocks: 600 }, tmp, 'enospc');
    const m = await openRw(img);
    const vol = writable(m);
    const a = await vol.create(vol.rootIno, 'a', 0o644, 0, 0);
    const chunk = pseudoRandom('fill', 64 * 1024);
    let written = 0;
    let err: unknown;
    try {
      for (;;) written += await vol.write(a, written, chunk);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ errno: 'ENOSPC' });
    // Then block by block until not even one fits.
    err = undefined;
    try {
      for (;;) written += await vol.write(a, written, chunk.subarray(0, 2048));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ errno: 'ENOSPC' });
    await expect(vol.mkdir(vol.rootIno, 'more', 0o755, 0, 0)).rejects.toMatchObject({ errno: 'ENOSPC' });
    expect((await vol.getattr(a)).size).toBe(written);
    expect(vol.info.freeBlocks).toBeLessThanOrEqual(8);
    await m.close();
    const info = udfinfo(img);
    expect(info.fields.integrity).toBe('closed');
    expect(info.numFiles).toBe(1);
    expect(info.numDirs).toBe(1);
    expect(info.freeBlocks).toBeLessThanOrEqual(8);
    const got = await withImage(img, {}, (v) => walkVolume(v));
    expect(got).toHaveLength(1);
    expect(got[0].size).toBe(written);
  });

  describe.each([
    { media: 'hd', rev: '1.50', bs: 512, ad: 'short' } as MatrixSpec,
    { media: 'dvdrw', rev: '2.01', bs: 2048, ad: 'long' } as MatrixSpec,
  ])('big directory and fragmented file on $media $rev b$bs', (spec) => {
    const id = `bigdir-${spec.media}-${spec.bs}`;
    const host = path.join(tmp, `${id}-host`);
    let img = '';
    let before = 0;
    beforeAll(async () => {
      img = makeImage(spec, tmp, id);
      before = udfinfo(img).freeBlocks;
      fs.mkdirSync(path.join(host, 'dir'), { recursive: true });
      const m = await openRw(img, { packetBlocks: 1 });
      try {
        const vol = writable(m);
        const dir = await vol.mkdir(vol.rootIno, 'dir', 0o755, 0, 0);
        const name = (i: number) => `file-${i}-${'x'.repeat(i % 37)}`;
        for (let i = 0; i < 400; i++) {
          const data = pseudoRandom(`e${i}`, i % 5);
          fs.writeFileSync(path.join(host, 'dir', name(i)), data);
          await vol.write(await vol.create(dir, name(i), 0o644, 0, 0), 0, data);
        }
        // Remove every third: their slots are reused by names of the same length.
        for (let i = 0; i < 400; i += 3) {
          fs.unlinkSync(path.join(host, 'dir', name(i)));
          await vol.unlink(dir, name(i));
        }
        for (let i = 0; i < 400; i += 3) {
          const n = name(i).replace('file', 'FILE');
          fs.writeFileSync(path.join(host, 'dir', n), 'again');
          await vol.write(await vol.create(dir, n, 0o644, 0, 0), 0, Buffer.from('again'));
        }
        // Two files appended to in turn, block by block: each ends up in hundreds of extents.
        const x = await vol.create(vol.rootIno, 'frag-x', 0o644, 0, 0);
        const y = await vol.create(vol.rootIno, 'frag-y', 0o644, 0, 0);
        const bx: Buffer[] = [];
        const by: Buffer[] = [];
        for (let i = 0; i < 300; i++) {
          const cx = pseudoRandom(`x${i}`, spec.bs);
          const cy = pseudoRandom(`y${i}`, spec.bs);
          await vol.write(x, i * spec.bs, cx);
          await vol.write(y, i * spec.bs, cy);
          bx.push(cx);
          by.push(cy);
        }
        fs.writeFileSync(path.join(host, 'frag-x'), Buffer.concat(bx));
        fs.writeFileSync(path.join(host, 'frag-y'), Buffer.concat(by));
      } finally {
        await m.close();
      }
    });

    it('udfinfo, udfclient and a reopen agree with the host tree', async () => {
      const info = udfinfo(img);
      expect(info.errors).toEqual([]);
      expect(info.fields.integrity).toBe('closed');
      expect(await withImage(img, {}, (v) => walkVolume(v, { checkLookup: true }))).toEqual(walkHost(host));
      const out = path.join(tmp, `${id}-udfclient`);
      await udfclientGetAll(img, spec.bs, ['dir', 'frag-x', 'frag-y'], out);
      expectSameFiles(walkHost(out), walkHost(host));
    });

    it('gives every block back when everything is removed', async () => {
      const m = await openRw(img);
      try {
        const vol = writable(m);
        const dir = await vol.lookup(vol.rootIno, 'dir');
        for (const e of await vol.readdir(dir)) await vol.unlink(dir, e.name);
        await vol.rmdir(vol.rootIno, 'dir');
        await vol.unlink(vol.rootIno, 'frag-x');
        await vol.truncate(await vol.lookup(vol.rootIno, 'frag-y'), 0);
        await vol.unlink(vol.rootIno, 'frag-y');
      } finally {
        await m.close();
      }
      const info = udfinfo(img);
      expect(info.fields.integrity).toBe('closed');
      expect(info.freeBlocks).toBe(before);
      expect(info.numDirs).toBe(1);
    });
  });
});

/** The partition block of an inode (inode numbers are ICB block + 1 in partition 0). */
function locBlock(ino: number): number {
  return ino - 1;
}

/** Change the LVID's implementation use through the reader's codecs (test setup only). */
async function patchLvid(img: string, bs: number, fn: (iu: { minUDFWriteRev: number }) => void): Promise<void> {
  const { lvid, LVID_INTEGRITY_CLOSE } = await import('../../src/udf/codec/volume');
  const { finaliseTag, TAG_LVID } = await import('../../src/udf/codec/tag');
  const fd = fs.openSync(img, 'r+');
  try {
    // mkudffs puts the LVID at block 128 at 2048-byte blocks (udfinfo: "start=128, type=LVID").
    const at = 128;
    const buf = Buffer.alloc(bs);
    fs.readSync(fd, buf, 0, bs, at * bs);
    const l = lvid.decode(buf, 0);
    fn(l.impUse!);
    l.integrityType = LVID_INTEGRITY_CLOSE;
    lvid.encode(l, buf, 0);
    finaliseTag(buf, 0, { tagIdent: TAG_LVID, descVersion: l.descTag.descVersion, tagSerialNum: l.descTag.tagSerialNum, tagLocation: at, crcLength: l.descTag.descCRCLength });
    fs.writeSync(fd, buf, 0, bs, at * bs);
  } finally {
    fs.closeSync(fd);
  }
}
