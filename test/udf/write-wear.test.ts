/**
 * Disc wear of a small-file tree copy (issue 6): through the packet layer, with a
 * cache small enough that it writes under pressure during the copy, every packet
 * is written at most once per flush interval (between two device flushes), and
 * the result is judged by udfinfo and udfclient.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import { ImageDevice } from '../../src/drive/image';
import type { BlockDevice } from '../../src/drive/types';
import { PacketDevice } from '../../src/packet/device';
import { openVolume } from '../../src/udf/volume';
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { pseudoRandom, walkHost } from '../helpers/tree';
import { haveTools, udfinfo } from '../helpers/tools';
import { makeImage, udfclientGetAll, expectSameFiles } from './write-helpers';

const describeIf = haveTools('mkudffs', 'udfinfo', 'udfclient') ? describe : describe.skip;
const BS = 2048;
const PACKET = 32 * 1024;

/** Counts writes per packet since the last flush; keeps the highest count any packet reached in one interval. */
class IntervalCounter implements BlockDevice {
  private counts = new Map<number, number>();
  readonly worst: { packet: number; writes: number; interval: number } = { packet: -1, writes: 0, interval: 0 };
  intervals = 0;
  writes = 0;
  constructor(readonly inner: BlockDevice) {}
  get sectorSize(): number { return this.inner.sectorSize; }
  get sectorCount(): number { return this.inner.sectorCount; }
  get readOnly(): boolean { return this.inner.readOnly; }
  get description(): string { return this.inner.description; }
  read(lba: number, count: number): Promise<Buffer> { return this.inner.read(lba, count); }
  async write(lba: number, data: Buffer): Promise<void> {
    await this.inner.write(lba, data);
    this.writes++;
    const p = Math.floor((lba * this.sectorSize) / PACKET);
    const n = (this.counts.get(p) ?? 0) + 1;
    this.counts.set(p, n);
    if (n > this.worst.writes) Object.assign(this.worst, { packet: p, writes: n, interval: this.intervals });
  }
  async flush(): Promise<void> {
    await this.inner.flush();
    this.counts.clear();
    this.intervals++;
  }
  close(): Promise<void> { return this.inner.close(); }
}

/** A tree of small files in nested directories, some a few packets long, some embedded in their entry. */
function makeTree(root: string): void {
  let n = 0;
  for (let d = 0; d < 12; d++) {
    const dir = path.join(root, `dir${d}`, d % 3 === 0 ? 'sub' : '');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 30; f++, n++) {
      const size = n % 17 === 0 ? 150_000 + n * 37 : n % 5 === 0 ? n % 1500 : 2048 + ((n * 7919) % 14_000);
      fs.writeFileSync(path.join(dir, `file-${f}.txt`), pseudoRandom(`wear ${n}`, size));
    }
  }
}

/** Write sizes: cp's 128 KiB pieces, or GNU tar's (the rest of its 10 KiB record, then whole records). */
type Pieces = (n: number) => number[];
const cpPieces: Pieces = (n) => Array.from({ length: Math.ceil(n / 131072) }, (_, i) => Math.min(131072, n - i * 131072));
let tarRecord = 0;
const tarPieces: Pieces = (n) => {
  const out: number[] = [];
  tarRecord = (tarRecord + 3) % 20; // 512-byte tar blocks already used of the current record
  for (let left = n, room = 10240 - 512 * (tarRecord + 1); left > 0; room = 10240) {
    out.push(Math.min(room, left));
    left -= out[out.length - 1];
  }
  return out;
};

/** What cp -a (or tar x) does to a volume: mkdir, create, write, chmod, utimens (directories' times after their contents). */
async function copyTree(vol: WritableVolume, dirIno: number, host: string, pieces: Pieces = cpPieces): Promise<void> {
  for (const name of fs.readdirSync(host).sort()) {
    const abs = path.join(host, name);
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      const ino = await vol.mkdir(dirIno, name, 0o755, 0, 0);
      await copyTree(vol, ino, abs, pieces);
      await vol.setattr(ino, { mtime: st.mtime, atime: st.atime });
    } else {
      const ino = await vol.create(dirIno, name, 0o600, 0, 0);
      const data = fs.readFileSync(abs);
      let off = 0;
      for (const n of pieces(data.length)) {
        await vol.write(ino, off, data.subarray(off, off + n));
        off += n;
      }
      await vol.setattr(ino, { mode: st.mode & 0o7777 });
      await vol.setattr(ino, { mtime: st.mtime, atime: st.atime });
    }
  }
}

describeIf('disc wear of a tree copy', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('pktfs-wear-');
    makeTree(path.join(dir, 'src'));
  });
  afterAll(() => removeTempDir(dir));

  test('each packet written at most once per flush interval, under pressure; udfinfo and udfclient agree', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, dir, 'wear');
    const image = await ImageDevice.open(img, {});
    const counter = new IntervalCounter(image);
    // A dirty limit of 24 packets, against some 3 MB of data and 400 entries: pressure during the copy.
    // (With 12, below what the entries being written at once take, hot packets go out up to five times.)
    const dev = new PacketDevice(counter, { packetBytes: PACKET, cacheBytes: 48 * PACKET, dirtyBytes: 24 * PACKET, flushDelayMs: Infinity });
    const vol = await openVolume(dev, { readWrite: true });
    if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
    await copyTree(vol, vol.rootIno, path.join(dir, 'src'));
    const during = dev.stats();
    await vol.close();
    await dev.close();
    expect(during.writeOutReasons.pressure + during.writeOutReasons.ordered).toBeGreaterThan(0);
    expect(counter.writes).toBeGreaterThan(100);
    expect(counter.worst.writes).toBe(1);
    expect(dev.stats().packetRewrites).toBeLessThanOrEqual(counter.intervals); // the LVID's packet: opened, then closed
    expect(udfinfo(img).errors).toEqual([]);
    const out = path.join(dir, 'out');
    await udfclientGetAll(img, BS, fs.readdirSync(path.join(dir, 'src')), out);
    expectSameFiles(walkHost(out), walkHost(path.join(dir, 'src')));
  });

  test('tar x\'s unaligned appends: a packet does not go out before the last block of the file in it is filled', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, dir, 'wear-tar');
    const image = await ImageDevice.open(img, {});
    const counter = new IntervalCounter(image);
    // No pressure and no idle timer: every write-out during the copy is a packet gone out when full.
    const dev = new PacketDevice(counter, { packetBytes: PACKET, cacheBytes: 1024 * PACKET, flushDelayMs: Infinity });
    const vol = await openVolume(dev, { readWrite: true });
    if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
    await copyTree(vol, vol.rootIno, path.join(dir, 'src'), tarPieces);
    const during = dev.stats();
    await vol.close();
    await dev.close();
    expect(during.writeOutReasons.full).toBeGreaterThan(20);
    expect(during.packetRewrites).toBe(0);
    expect(counter.worst.writes).toBe(1);
    expect(udfinfo(img).errors).toEqual([]);
    const out = path.join(dir, 'out-tar');
    await udfclientGetAll(img, BS, fs.readdirSync(path.join(dir, 'src')), out);
    expectSameFiles(walkHost(out), walkHost(path.join(dir, 'src')));
  });
});

/** Like /usr/share/doc: many package directories in one, each with a few files, some with a subdirectory, the odd one large. */
function makeDocTree(root: string): void {
  let n = 0;
  for (let d = 0; d < 90; d++) {
    const pkg = path.join(root, 'doc', `package-${d}`);
    fs.mkdirSync(pkg, { recursive: true });
    const files = 2 + (d * 7) % 9 + (d % 13 === 0 ? 45 : 0);
    for (let f = 0; f < files; f++, n++) {
      const size = n % 23 === 0 ? 40_000 + n * 11 : n % 4 === 0 ? 200 + n % 700 : 1000 + ((n * 7919) % 6000);
      fs.writeFileSync(path.join(pkg, f === 0 ? 'copyright' : `changelog-${f}.gz`), pseudoRandom(`doc ${n}`, size));
    }
    if (d % 4 === 1) {
      fs.mkdirSync(path.join(pkg, 'examples'));
      for (let f = 0; f < 3 + (d % 5); f++, n++) fs.writeFileSync(path.join(pkg, 'examples', `ex${f}.txt`), pseudoRandom(`ex ${n}`, 300 + (n * 31) % 3000));
    }
  }
}

/** Every block of the host files under `root` (the last one zero-padded), as hex of its bytes' hash. */
function fileBlocks(root: string): Set<string> {
  const out = new Set<string>();
  const visit = (abs: string): void => {
    for (const name of fs.readdirSync(abs)) {
      const p = path.join(abs, name);
      if (fs.lstatSync(p).isDirectory()) { visit(p); continue; }
      const data = fs.readFileSync(p);
      for (let off = 0; off < data.length; off += BS) {
        const block = Buffer.alloc(BS);
        data.copy(block, 0, off, Math.min(data.length, off + BS));
        out.add(createHash('sha1').update(block).digest('hex'));
      }
    }
  };
  visit(root);
  return out;
}

/** Whether a block starts with a descriptor tag of an entry, a FID or an allocation extent (ECMA-167 3/7.2: checksum at byte 4). */
function isTaggedMeta(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += block[i];
  return (sum & 0xff) === block[4] && [257, 258, 261, 266].includes(block.readUInt16LE(0));
}

/**
 * The medium's packets (absolute, PACKET bytes) that hold both a block of file data and an
 * entry or FID block, leaving out those mkudffs had written into (`fresh`: the image before).
 */
function mixedPackets(img: string, fresh: Buffer, data: Set<string>): number[] {
  const medium = fs.readFileSync(img);
  const perPacket = PACKET / BS;
  const out: number[] = [];
  for (let pk = 0; pk * PACKET < medium.length; pk++) {
    let hasData = false;
    let hasMeta = false;
    let untouched = true;
    for (let b = pk * perPacket; b < (pk + 1) * perPacket && (b + 1) * BS <= medium.length; b++) {
      const block = medium.subarray(b * BS, (b + 1) * BS);
      if (fresh.subarray(b * BS, (b + 1) * BS).some((x) => x !== 0)) untouched = false;
      if (data.has(createHash('sha1').update(block).digest('hex'))) hasData = true;
      else if (isTaggedMeta(block)) hasMeta = true;
    }
    if (untouched && hasData && hasMeta) out.push(pk);
  }
  return out;
}

/**
 * The medium's packets where an entry lies after a directory's block (one starting with a FID,
 * as the first block of a directory's data does), leaving out those mkudffs had written into.
 */
function entriesAfterDirectoryBlocks(img: string, fresh: Buffer): number[] {
  const medium = fs.readFileSync(img);
  const perPacket = PACKET / BS;
  const out: number[] = [];
  for (let pk = 0; pk * PACKET < medium.length; pk++) {
    let fid = false;
    let untouched = true;
    let after = false;
    for (let b = pk * perPacket; b < (pk + 1) * perPacket && (b + 1) * BS <= medium.length; b++) {
      const block = medium.subarray(b * BS, (b + 1) * BS);
      if (fresh.subarray(b * BS, (b + 1) * BS).some((x) => x !== 0)) untouched = false;
      if (!isTaggedMeta(block)) continue;
      const ident = block.readUInt16LE(0);
      if (ident === 257) fid = true;
      else if (fid && (ident === 261 || ident === 266)) after = true;
    }
    if (untouched && after) out.push(pk);
  }
  return out;
}

describeIf('disc wear of a tar x into a volume (issue 6)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('pktfs-wear-doc-');
    makeDocTree(path.join(dir, 'src'));
  });
  afterAll(() => removeTempDir(dir));

  /** tar x of the tree onto a fresh hd image through the packet layer, no pressure: data packets go out as they fill, the rest at the close. */
  async function tarx(name: string): Promise<{ img: string; fresh: Buffer; worst: number; rollbacks: number }> {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, dir, name);
    expect(spawnSync('udfinfo', [img], { encoding: 'utf8' }).stdout).toMatch(/start=257, blocks=\d+, type=PSPACE/);
    const fresh = fs.readFileSync(img);
    const image = await ImageDevice.open(img, {});
    const counter = new IntervalCounter(image);
    const dev = new PacketDevice(counter, { packetBytes: PACKET, cacheBytes: 1024 * PACKET, flushDelayMs: Infinity });
    const vol = await openVolume(dev, { readWrite: true });
    if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
    await copyTree(vol, vol.rootIno, path.join(dir, 'src'), tarPieces);
    await vol.close();
    await dev.close();
    expect(udfinfo(img).errors).toEqual([]);
    const out = path.join(dir, `out-${name}`);
    await udfclientGetAll(img, BS, fs.readdirSync(path.join(dir, 'src')), out);
    expectSameFiles(walkHost(out), walkHost(path.join(dir, 'src')));
    return { img, fresh, worst: counter.worst.writes, rollbacks: dev.stats().orderRollbacks };
  }

  test('on an hd image (its partition at block 257) file data and entries go to packets of their own, as the medium counts packets', async () => {
    const r = await tarx('doc-kinds');
    expect(r.worst).toBe(1);
    expect(mixedPackets(r.img, r.fresh, fileBlocks(path.join(dir, 'src')))).toEqual([]);
  });

  test('a directory\'s new blocks start a packet kept for it: no entry after them there, no two packets waiting on each other at the flush', async () => {
    // The entries made after a directory's block (its subdirectory's files) in the same packet:
    // that packet waited for the subdirectory's entry's, which waited for it.
    const r = await tarx('doc-dirs');
    expect(entriesAfterDirectoryBlocks(r.img, r.fresh)).toEqual([]);
    expect(r.rollbacks).toBe(0);
    expect(r.worst).toBe(1);
  });
});

describeIf('disc wear of a tar x under pressure, with its symlinks made at the end (issue 6)', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('pktfs-wear-links-');
    makeDocTree(path.join(dir, 'src'));
  });
  afterAll(() => removeTempDir(dir));

  test('directories\' packets wait for the flush under pressure: the placeholders tar replaces by symlinks at its end rewrite none', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, dir, 'wear-links');
    const image = await ImageDevice.open(img, {});
    const dev = new PacketDevice(image, { packetBytes: PACKET, cacheBytes: 48 * PACKET, dirtyBytes: 24 * PACKET, flushDelayMs: Infinity });
    const vol = await openVolume(dev, { readWrite: true });
    if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
    await copyTree(vol, vol.rootIno, path.join(dir, 'src'), tarPieces);
    const during = dev.stats();
    // GNU tar makes a symlink pointing up the tree as an empty placeholder file, and after the
    // last member removes it, makes the symlink and sets its directory's times again.
    const doc = await vol.lookup(vol.rootIno, 'doc');
    for (let d = 0; d < 90; d += 7) {
      const pkg = await vol.lookup(doc, `package-${d}`);
      await vol.unlink(pkg, 'copyright');
      await vol.symlink(pkg, 'copyright', '../package-0/copyright', 0, 0);
      await vol.setattr(pkg, { mtime: new Date(2020, 1, d + 1) });
    }
    await vol.close();
    await dev.close();
    expect(during.writeOutReasons.pressure + during.writeOutReasons.ordered).toBeGreaterThan(10);
    // With flush=Infinity every rewrite counts: only the LVID's packet, opened then closed.
    expect(dev.stats().rewritesWithinFlushDelay).toBeLessThanOrEqual(1);
    expect(dev.stats().orderRollbacks).toBe(0);
    expect(udfinfo(img).errors).toEqual([]);
    const out = path.join(dir, 'out');
    await udfclientGetAll(img, BS, ['doc'], out);
    // udfclient fetches a symlink as a file of its path components (ECMA-167 4/14.16).
    for (let d = 0; d < 90; d += 7) {
      const got = fs.readFileSync(path.join(out, 'doc', `package-${d}`, 'copyright'));
      expect(got.includes(Buffer.from('package-0')) && got.includes(Buffer.from('copyright'))).toBe(true);
      expect(got.length).toBeLessThan(64);
    }
  });
});
