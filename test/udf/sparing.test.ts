/**
 * Defect management on sparable partitions (issue 4, sections 4 and 6): a copy
 * onto an emulated CD-RW whose writes fail at injected defects still succeeds;
 * the bad packets go to the sparing area, both sparing tables record them, and
 * other implementations (udfclient, which honours sparing tables, and udfinfo)
 * read the volume back right. When the spares run out the volume turns
 * read-only and what was written before stays readable. On DVD-RAM the drive
 * does its own defect management; when its spares run out, its error is
 * reported as it is, clearly.
 *
 * The sparing tables are checked with the independent tag helpers of
 * test/helpers/tag.ts, not with src/udf.
 */
import * as fs from 'fs';
import * as path from 'path';
import { openSource } from '../../src/drive/open';
import { PacketDevice } from '../../src/packet';
import { openVolume } from '../../src/udf/volume';
import { isWritable, type Volume, type WritableVolume } from '../../src/udf/types';
import { isFsError } from '../../src/errors';
import type { MatrixSpec } from '../helpers/images';
import { crcItuT, readTag, tagChecksum } from '../helpers/tag';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { buildSourceTree, pseudoRandom, walkHost, walkVolume, type TreeEntry } from '../helpers/tree';
import { haveTools, run, udfinfo } from '../helpers/tools';
import { withImage } from '../helpers/volume';
import { makeImage, putTree, udfclientGetAll, expectSameFiles } from './write-helpers';
import { sparingText, volumeJson, statsJson, PKTINFO_FILES, type PktinfoSnapshot } from '../../src/fuse/pktinfo-files';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo');
if (!TOOLS) console.warn('sparing: mkudffs/udfclient/udfinfo missing, skipped');
const maybe = TOOLS ? describe : describe.skip;

const BS = 2048;
/** CD-RW fixed packets, as mkudffs --media-type=cdrw lays them out. */
const PACKET = 32;
const CD: MatrixSpec = { media: 'cdrw', rev: '2.01', bs: BS, blocks: 16384 };
const FREE = 0xffffffff;
const DEFECTIVE = 0xfffffff0;

interface LogLine { op: number; name: string; lba?: number; count?: number; sense?: string }
function readLog(file: string): LogLine[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
}
const writesOf = (log: LogLine[]) => log.filter((l) => l.name === 'WRITE(10)' || l.name === 'WRITE(12)');

/** The emulated drive saw only whole, aligned packets. */
function expectWholePackets(log: LogLine[], packet: number): void {
  const bad = writesOf(log).filter((w) => (w.lba ?? -1) % packet !== 0 || (w.count ?? -1) % packet !== 0 || w.count === 0);
  expect(bad).toEqual([]);
}

/** Sectors the drive refused with MEDIUM ERROR / WRITE ERROR. */
const failedWrites = (log: LogLine[]) => writesOf(log).filter((w) => w.sense === '03/0c/00').map((w) => w.lba!);

interface RawSparingTable {
  location: number;
  tagLocation: number;
  valid: boolean;
  ident: string;
  sequenceNum: number;
  entries: { orig: number; mapped: number }[];
}

/** UDF 2.2.12 sparing table read straight from the image, without src/udf. */
function rawSparingTable(img: string, block: number): RawSparingTable {
  const fd = fs.openSync(img, 'r');
  const buf = Buffer.alloc(4 * BS);
  fs.readSync(fd, buf, 0, buf.length, block * BS);
  fs.closeSync(fd);
  const n = buf.readUInt16LE(48);
  const entries = [];
  for (let i = 0; i < n; i++) entries.push({ orig: buf.readUInt32LE(56 + 8 * i), mapped: buf.readUInt32LE(60 + 8 * i) });
  return {
    location: block,
    tagLocation: readTag(buf, 0).tagLocation,
    valid: buf.readUInt16LE(0) === 0 && tagIsSound(buf),
    ident: buf.subarray(17, 17 + 18).toString('latin1'),
    sequenceNum: buf.readUInt32LE(52),
    entries,
  };
}

/** Checksum and CRC of a tag (isValidTag refuses identifier 0, which is the sparing table's, UDF 2.2.12). */
function tagIsSound(buf: Buffer): boolean {
  const t = readTag(buf, 0);
  return t.tagChecksum === tagChecksum(buf, 0) && crcItuT(buf, 16, 16 + t.descCRCLength) === t.descCRC;
}

/** Bytes of `count` blocks of the image at `block`. */
function imageBlocks(img: string, block: number, count: number): Buffer {
  const fd = fs.openSync(img, 'r');
  const buf = Buffer.alloc(count * BS);
  fs.readSync(fd, buf, 0, buf.length, block * BS);
  fs.closeSync(fd);
  return buf;
}

/** mkudffs --media-type=cdrw on 16384 blocks: reserve 0-287, sparing space 288-1311, partition from 1312. */
const PARTITION_START = 1312;
const SPARE_START = 288;

/** A `.pktinfo` snapshot of a mount on the emulated drive. */
function snap(vol: Volume, dev: PacketDevice, medium: string): PktinfoSnapshot {
  const when = new Date('2026-01-01T00:00:00Z');
  return { time: when, mount: { source: 'emu:x', readOnly: false, medium, packetSource: 'medium', mountedAt: when }, volume: vol.info, packet: dev.stats() };
}

const top = (p: string) => /^[\x20-\x7e]+$/.test(p.split('/')[0]);
const noLinkSize = (t: TreeEntry[]) => t.map((e) => (e.type === 'symlink' ? { ...e, size: 0 } : e));

async function mountEmu(source: string, packetBlocks = PACKET): Promise<{ dev: PacketDevice; vol: Volume }> {
  const dev = new PacketDevice(await openSource(source), { packetBytes: packetBlocks * BS, flushDelayMs: Infinity });
  const vol = await openVolume(dev, { readWrite: true });
  return { dev, vol };
}

function writableOf(vol: Volume): WritableVolume {
  if (!isWritable(vol)) throw new Error(`mounted read-only: ${vol.info.readOnlyReason}`);
  return vol;
}

maybe('sparing: a copy onto a CD-RW with defects', () => {
  let dir: string;
  let img: string;
  let src: string;
  let log: string;
  let failed: number[];
  const before: RawSparingTable[] = [];
  let info: Volume['info'];
  let stats: ReturnType<PacketDevice['stats']>;
  let pktinfo: PktinfoSnapshot;

  beforeAll(async () => {
    dir = makeTempDir('pktfs-sparing-');
    img = makeImage(CD, dir, 'cd');
    expect(run('udfinfo', [img])).toContain(`start=${PARTITION_START}, blocks=14784, type=PSPACE`);
    before.push(rawSparingTable(img, 160), rawSparingTable(img, 16352));
    src = path.join(dir, 'src');
    buildSourceTree(src, 1536 * 1024 + 5);
    log = path.join(dir, 'cd.log');
    // Defects where the copy writes: a sector inside a packet of the big file, two
    // sectors starting a packet, the last sector of a packet; and the first spare
    // itself (block 290), so the first remap has to move again.
    const p = (rel: number, off = 0) => PARTITION_START + rel + off;
    const defects = [p(160, 7), `${p(320)}-${p(320, 1)}`, p(512, PACKET - 1), SPARE_START + 2].join('+');
    const { dev, vol } = await mountEmu(`emu:cdrw:${img},defects=${defects},log=${log}`);
    await putTree(writableOf(vol), vol.rootIno, src);
    await vol.close();
    info = vol.info;
    stats = dev.stats();
    pktinfo = snap(vol, dev, 'CD-RW');
    await dev.close();
    failed = failedWrites(readLog(log));
  });
  afterAll(() => removeTempDir(dir));

  test('the defects were hit, and every packet that failed went to a spare', () => {
    // three data packets, and the first spare when the first of them went there
    expect(failed).toEqual([PARTITION_START + 160, SPARE_START, PARTITION_START + 320, PARTITION_START + 512]);
    expect(stats.remaps).toEqual([
      { from: PARTITION_START + 160, to: SPARE_START },
      { from: SPARE_START, to: SPARE_START + PACKET },
      { from: PARTITION_START + 320, to: SPARE_START + 2 * PACKET },
      { from: PARTITION_START + 512, to: SPARE_START + 3 * PACKET },
    ]);
    expect(stats.pendingError).toBeNull();
  });

  test('the emulated drive saw only whole aligned packets', () => {
    expectWholePackets(readLog(log), PACKET);
  });

  test('both sparing tables record the remaps: sorted, sequence number raised, valid tag', () => {
    const want = [
      { orig: 160, mapped: SPARE_START + PACKET },
      { orig: 320, mapped: SPARE_START + 2 * PACKET },
      { orig: 512, mapped: SPARE_START + 3 * PACKET },
      { orig: DEFECTIVE, mapped: SPARE_START },
    ];
    for (const [i, loc] of [160, 16352].entries()) {
      const t = rawSparingTable(img, loc);
      expect(t.valid).toBe(true);
      expect(t.tagLocation).toBe(loc);
      expect(t.ident).toBe('*UDF Sparing Table');
      expect(t.entries.length).toBe(before[i].entries.length);
      expect(t.sequenceNum).toBeGreaterThan(before[i].sequenceNum);
      expect(t.entries.slice(0, 4)).toEqual(want);
      const rest = t.entries.slice(4);
      expect(rest.every((e) => e.orig === FREE)).toBe(true);
      // every spare still listed once: the table keeps its length and its spares
      const spares = (x: RawSparingTable) => x.entries.map((e) => (e.orig === DEFECTIVE ? e.mapped : e.orig === FREE ? e.mapped : -1)).filter((m) => m >= 0);
      expect(new Set([...spares(t), ...want.slice(0, 3).map((w) => w.mapped)]).size).toBe(before[i].entries.length);
      // sorted by original location (UDF 2.2.12)
      expect([...t.entries].sort((a, b) => a.orig - b.orig)).toEqual(t.entries);
    }
    const [a, b] = [rawSparingTable(img, 160), rawSparingTable(img, 16352)];
    expect(b.entries).toEqual(a.entries);
    expect(b.sequenceNum).toBe(a.sequenceNum);
  });

  test('the failed places hold none of the data; the spares do', () => {
    for (const rel of [160, 320, 512]) {
      expect(imageBlocks(img, PARTITION_START + rel, PACKET).equals(Buffer.alloc(PACKET * BS))).toBe(true);
    }
    for (let i = 1; i <= 3; i++) {
      expect(imageBlocks(img, SPARE_START + i * PACKET, PACKET).equals(Buffer.alloc(PACKET * BS))).toBe(false);
    }
  });

  test('udfclient reads back every file byte-identical', async () => {
    const out = path.join(dir, 'udfclient');
    await udfclientGetAll(img, BS, fs.readdirSync(src).filter(top), out);
    expectSameFiles(walkHost(out), walkHost(src).filter((e) => top(e.path)));
  });

  test('udfinfo is happy', () => {
    const u = udfinfo(img);
    expect(u.errors).toEqual([]);
    expect(u.fields.integrity).toBe('closed');
    expect(u.numDirs).toBe(walkHost(src).filter((e) => e.type === 'dir').length + 1);
  });

  test('our reader reads the tree back, through the sparing table', async () => {
    const got = await withImage(img, {}, (vol) => walkVolume(vol, { checkLookup: true }));
    expect(noLinkSize(got)).toEqual(noLinkSize(walkHost(src)));
    const sp = await withImage(img, {}, async (vol) => vol.info.sparing);
    expect(sp?.map).toEqual([
      { original: 160, mapped: SPARE_START + PACKET },
      { original: 320, mapped: SPARE_START + 2 * PACKET },
      { original: 512, mapped: SPARE_START + 3 * PACKET },
    ]);
    expect(sp?.defective).toBe(1);
  });

  test('the volume reported the remaps while mounted', () => {
    expect(info.sparing).toMatchObject({ used: 3, defective: 1, free: 28, total: 32, remappedThisMount: 4, exhausted: false });
    expect(info.partitions[0].sparingUsed).toBe(3);
  });

  test('.pktinfo: the sparing file, and the sparing fields of volume.json and stats.json', () => {
    expect(PKTINFO_FILES.map((f) => f.name)).toContain('sparing');
    const text = sparingText(pktinfo);
    for (const line of ['\tmanaged by:\t\tpktfs (sparable partition 0, UDF 2.2.12)', '\tspare packets:\t\t32', '\tspares used:\t\t3',
      '\tspares left:\t\t28', '\tspares defective:\t1', '\tremapped this mount:\t4', '\ttable copies at:\t160 16352', '\tstate:\t\t\tok',
      `\t160\t${SPARE_START + PACKET}`, `\t320\t${SPARE_START + 2 * PACKET}`, `\t512\t${SPARE_START + 3 * PACKET}`,
      '\tmedium write errors:\t4', '\tpackets remapped:\t4']) {
      expect(text).toContain(line + '\n');
    }
    expect(volumeJson(pktinfo)).toMatchObject({
      readOnly: false,
      sparing: { partition: 0, packetLength: 32, total: 32, used: 3, free: 28, defective: 1, tableLocations: [160, 16352], exhausted: false,
        map: [{ original: 160, mapped: SPARE_START + PACKET }, { original: 320, mapped: SPARE_START + 2 * PACKET }, { original: 512, mapped: SPARE_START + 3 * PACKET }] },
    });
    expect(statsJson(pktinfo, pktinfo.packet!)).toMatchObject({ mediumWriteErrors: 4, driveSparesExhausted: false, remaps: stats.remaps });
  });
});

maybe('sparing: DVD-RW (packets of 16 blocks)', () => {
  let dir: string;
  afterAll(() => removeTempDir(dir));

  test('a defect in the copy goes to the first spare; udfclient reads it back', async () => {
    dir = makeTempDir('pktfs-sparing-dvdrw-');
    const img = makeImage({ media: 'dvdrw', rev: '2.01', bs: BS, blocks: 16384 }, dir, 'dvd');
    // mkudffs --media-type=dvdrw on 16384 blocks: sparing space 272-1295, partition from 1296.
    expect(run('udfinfo', [img])).toContain('start=1296, blocks=14816, type=PSPACE');
    const src = path.join(dir, 'src');
    buildSourceTree(src, 512 * 1024);
    const log = path.join(dir, 'dvd.log');
    const { dev, vol } = await mountEmu(`emu:dvdrw:${img},defects=${1296 + 64 + 3},log=${log}`, 16);
    await putTree(writableOf(vol), vol.rootIno, src);
    await vol.close();
    expect(dev.stats().remaps).toEqual([{ from: 1296 + 64, to: 272 }]);
    await dev.close();
    expectWholePackets(readLog(log), 16);
    for (const loc of [112, 16368]) {
      const t = rawSparingTable(img, loc);
      expect(t.valid).toBe(true);
      expect(t.entries[0]).toEqual({ orig: 64, mapped: 272 });
    }
    const out = path.join(dir, 'udfclient');
    await udfclientGetAll(img, BS, fs.readdirSync(src).filter(top), out);
    expectSameFiles(walkHost(out), walkHost(src).filter((e) => top(e.path)));
  });
});

maybe('sparing: later writes and reads of a remapped packet follow the map', () => {
  let dir: string;
  afterAll(() => removeTempDir(dir));

  test('a file rewritten after its packet was remapped, across mounts', async () => {
    dir = makeTempDir('pktfs-sparing-follow-');
    const img = makeImage(CD, dir, 'cd');
    const log = path.join(dir, 'cd.log');
    // The first data packets of the partition: the first file's data lands there.
    const defects = `${PARTITION_START}-${PARTITION_START + 8 * PACKET - 1}`;
    const data = pseudoRandom('follow', 200 * 1024);
    {
      const { dev, vol } = await mountEmu(`emu:cdrw:${img},defects=${defects},log=${log}`);
      const w = writableOf(vol);
      const ino = await w.create(w.rootIno, 'f', 0o644, 0, 0);
      await w.write(ino, 0, data);
      await w.fsync(ino);
      expect(dev.stats().remaps.length).toBeGreaterThan(0);
      // after the remap: overwrite part of it, and read it back through the cache and the map
      await w.write(ino, 4096, Buffer.alloc(8192, 0x5a));
      data.fill(0x5a, 4096, 4096 + 8192);
      expect((await w.read(ino, 0, data.length)).equals(data)).toBe(true);
      await w.close();
      await dev.close();
    }
    const failedBefore = failedWrites(readLog(log)).length;
    {
      // A second mount (the defects stay: the drive keeps them in its sidecar): reads and
      // writes follow the table on the disc, and no write goes to a bad place again.
      const { dev, vol } = await mountEmu(`emu:cdrw:${img},log=${log}`);
      const w = writableOf(vol);
      const ino = await w.lookup(w.rootIno, 'f');
      expect((await w.read(ino, 0, data.length)).equals(data)).toBe(true);
      await w.write(ino, 100, Buffer.from('again'));
      data.write('again', 100);
      await w.close();
      await dev.close();
    }
    expect(failedWrites(readLog(log)).length).toBe(failedBefore);
    expectWholePackets(readLog(log), PACKET);
    const out = path.join(dir, 'udfclient');
    await udfclientGetAll(img, BS, ['f'], out);
    expect(fs.readFileSync(path.join(out, 'f')).equals(data)).toBe(true);
  });
});

maybe('sparing: a copy of the sparing table whose packet cannot be written', () => {
  let dir: string;
  afterAll(() => removeTempDir(dir));

  test('that copy is given up, the other one carries the remaps, the unmount succeeds', async () => {
    dir = makeTempDir('pktfs-sparing-table-');
    const img = makeImage(CD, dir, 'cd');
    const src = path.join(dir, 'src');
    buildSourceTree(src, 1024 * 1024);
    const log = path.join(dir, 'cd.log');
    const { dev, vol } = await mountEmu(`emu:cdrw:${img},defects=${PARTITION_START + 160}+160,log=${log}`);
    await putTree(writableOf(vol), vol.rootIno, src);
    await vol.close();
    expect(vol.info.warnings.join('\n')).toMatch(/sparing table copy at block 160 cannot be written .*kept in the copy at 16352 only/);
    expect(dev.stats()).toMatchObject({ remaps: [{ from: PARTITION_START + 160, to: SPARE_START }], pendingError: null });
    await dev.close();
    expect(failedWrites(readLog(log))).toEqual([PARTITION_START + 160, 160]);
    expectWholePackets(readLog(log), PACKET);
    const [first, second] = [rawSparingTable(img, 160), rawSparingTable(img, 16352)];
    expect(first).toMatchObject({ valid: true, sequenceNum: 0 });
    expect(first.entries.every((e) => e.orig === FREE)).toBe(true);
    expect(second.valid).toBe(true);
    expect(second.sequenceNum).toBeGreaterThan(0);
    expect(second.entries[0]).toEqual({ orig: 160, mapped: SPARE_START });
    // The reader takes the copy with the highest sequence number (UDF 2.2.12) ...
    const got = await withImage(img, {}, (v) => walkVolume(v, { checkLookup: true }));
    expect(noLinkSize(got)).toEqual(noLinkSize(walkHost(src)));
    // udfclient (like Linux) takes the first copy that reads: the stale one. The warning says so.
    expect(vol.info.warnings.join('\n')).toMatch(/readers that use the first readable copy \(Linux, udfclient\) miss the remaps/);
    expect(udfinfo(img).errors).toEqual([]);
  });
});

maybe('sparing: spares run out', () => {
  let dir: string;
  afterAll(() => removeTempDir(dir));

  test('the volume turns read-only with one clear reason; what was written before stays', async () => {
    dir = makeTempDir('pktfs-sparing-out-');
    // Two spare packets (sparing space 192-255), partition from 288.
    const img = makeImage({ ...CD, extra: ['--sparspace=64'] }, dir, 'cd');
    const start = 288;
    const early = path.join(dir, 'early');
    fs.mkdirSync(early);
    fs.writeFileSync(path.join(early, 'a.bin'), pseudoRandom('a', 100 * 1024));
    fs.writeFileSync(path.join(early, 'b.txt'), 'written before the spares ran out\n');
    // Three bad packets far from where the early files go.
    const bad = [4000, 4096, 4192].map((rel) => start + rel);
    const log = path.join(dir, 'cd.log');
    const { dev, vol } = await mountEmu(`emu:cdrw:${img},defects=${bad.join('+')},log=${log}`);
    const w = writableOf(vol);
    await putTree(w, w.rootIno, early);
    await w.sync();
    const late = await w.create(w.rootIno, 'late.bin', 0o644, 0, 0);
    const big = pseudoRandom('late', 12 * 1024 * 1024);
    let failure: unknown = null;
    try {
      for (let off = 0; off < big.length; off += 1 << 20) await w.write(late, off, big.subarray(off, off + (1 << 20)));
      await w.fsync(late);
    } catch (e) {
      failure = e;
    }
    // The copy stopped: EIO where the packet could not go anywhere, EROFS once read-only.
    expect(isFsError(failure, 'EIO') || isFsError(failure, 'EROFS')).toBe(true);
    expect(vol.info.sparing).toMatchObject({ used: 2, free: 0, exhausted: true });
    expect(vol.info.readOnlyReason).toMatch(/no spare packet left in the sparing table.*read-only/);
    expect(isWritable(vol)).toBe(false);
    // Every later write is refused with that reason.
    const refused = await w.create(w.rootIno, 'more', 0o644, 0, 0).then(() => null, (e: unknown) => e);
    expect(isFsError(refused, 'EROFS')).toBe(true);
    expect((refused as Error).message).toMatch(/no spare packet left/);
    // close: the packet that found no spare is reported, the rest is written.
    const closing = await w.close().then(() => null, (e: unknown) => e);
    expect(isFsError(closing, 'EIO')).toBe(true);
    expect((closing as Error).message).toMatch(/bad spot on the disc, no spare packet could take it/);
    // Two of the three bad packets took the two spares: which two depends on the order the
    // write-outs met them (runs of packets in flight together, retried one by one on failure).
    const remapped = dev.stats().remaps.map((r) => r.from).sort((a, b) => a - b);
    expect(remapped).toHaveLength(2);
    for (const from of remapped) expect(bad).toContain(from);
    const pk = snap(vol, dev, 'CD-RW');
    expect(sparingText(pk)).toContain('\tstate:\t\t\tno spare left: read-only\n');
    expect(volumeJson(pk)).toMatchObject({ readOnly: true, readOnlyReason: expect.stringMatching(/no spare packet left/), sparing: { exhausted: true, free: 0 } });
    await dev.device.close();
    expectWholePackets(readLog(log), PACKET);

    // Both tables record the two remaps; the early files read back through udfclient.
    for (const loc of [160, 16352]) {
      const t = rawSparingTable(img, loc);
      expect(t.valid).toBe(true);
      expect(t.entries.map((e) => e.orig)).toEqual(remapped.map((from) => from - start));
    }
    const out = path.join(dir, 'udfclient');
    await udfclientGetAll(img, BS, ['a.bin', 'b.txt'], out);
    expectSameFiles(walkHost(out), walkHost(early));
  });
});

maybe('sparing: errors that are not medium errors are never remapped', () => {
  let dir: string;
  afterAll(() => removeTempDir(dir));

  test('packets of the wrong size: the drive refuses them (05/21/02), reported as it is, nothing remapped', async () => {
    dir = makeTempDir('pktfs-sparing-other-');
    const img = makeImage(CD, dir, 'cd');
    // 16-sector packets on a disc formatted with 32: every write-out is refused
    const { dev, vol } = await mountEmu(`emu:cdrw:${img}`, 16);
    const w = writableOf(vol);
    const err = await w.create(w.rootIno, 'f', 0o644, 0, 0)
      .then((ino) => w.write(ino, 0, Buffer.alloc(100_000, 1)).then(() => w.fsync(ino)))
      .then(() => null, (e: unknown) => e);
    expect(isFsError(err, 'EINVAL')).toBe(true);
    expect((err as Error).message).toMatch(/ILLEGAL REQUEST: INVALID ADDRESS FOR WRITE \(05\/21\/02\)/);
    expect(dev.stats()).toMatchObject({ remaps: [], mediumWriteErrors: 0 });
    expect(vol.info.sparing).toMatchObject({ used: 0, remappedThisMount: 0, exhausted: false });
    await dev.device.close();
    // nothing reached the disc: the tables are as mkudffs wrote them
    expect(rawSparingTable(img, 160).sequenceNum).toBe(0);
  });
});

maybe('hardware defect management (DVD-RAM): left to the drive', () => {
  let dir: string;
  beforeAll(() => { dir = makeTempDir('pktfs-sparing-dvdram-'); });
  afterAll(() => removeTempDir(dir));

  const dvdram: MatrixSpec = { media: 'dvdram', rev: '2.01', bs: BS, blocks: 16384 };

  test('defects the drive remaps itself: the copy succeeds, nothing remapped by pktfs', async () => {
    const img = makeImage(dvdram, dir, 'ok');
    const src = path.join(dir, 'src-ok');
    buildSourceTree(src, 512 * 1024);
    const { dev, vol } = await mountEmu(`emu:dvdram:${img},defects=400-420,spare=100`, 16);
    expect(vol.info.sparing).toBeUndefined();
    await putTree(writableOf(vol), vol.rootIno, src);
    await vol.close();
    expect(dev.stats()).toMatchObject({ remaps: [], mediumWriteErrors: 0, driveSparesExhausted: false });
    await dev.close();
    const sidecar = JSON.parse(fs.readFileSync(`${img}.emu.json`, 'utf8')) as { remapped: number[] };
    expect(sidecar.remapped.length).toBeGreaterThan(0);
    const out = path.join(dir, 'udfclient-ok');
    await udfclientGetAll(img, BS, fs.readdirSync(src).filter(top), out);
    expectSameFiles(walkHost(out), walkHost(src).filter((e) => top(e.path)));
  });

  test("the drive's spares run out: its 03/32/00 is reported, clearly", async () => {
    const img = makeImage(dvdram, dir, 'out');
    const src = path.join(dir, 'src-out');
    buildSourceTree(src, 512 * 1024);
    const { dev, vol } = await mountEmu(`emu:dvdram:${img},defects=300-700,spare=2`, 16);
    const w = writableOf(vol);
    const err = await putTree(w, w.rootIno, src).then(() => w.close()).then(() => null, (e: unknown) => e);
    expect(isFsError(err, 'EIO')).toBe(true);
    expect((err as Error).message).toMatch(/defect management has no spare sectors left, the disc is worn out/);
    expect((err as Error).message).toMatch(/NO DEFECT SPARE LOCATION AVAILABLE \(03\/32\/00\)/);
    expect(dev.stats()).toMatchObject({ remaps: [], driveSparesExhausted: true });
    expect(dev.stats().lastWriteError).toMatch(/03\/32\/00/);
    const text = sparingText(snap(vol, dev, 'DVD-RAM'));
    expect(text).toContain('\tmanaged by:\t\tthe drive (DVD-RAM)\n');
    expect(text).toContain('\tdrive spares:\t\tused up (03/32/00): the disc is worn out\n');
    await dev.device.close();
  });
});
