/**
 * Listing and removing trees on a read-write volume through the packet layer (issue 6:
 * `find` with stat and `rm -rf`): the file entries of a listed directory are read in a few
 * device reads (prefetch), not one per entry; and after everything is removed, udfinfo finds
 * the volume closed, empty, with all the space back. Counted in device reads, not time.
 */
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import type { BlockDevice } from '../../src/drive/types';
import { PacketDevice } from '../../src/packet/device';
import { openVolume } from '../../src/udf/volume';
import { PREFETCH_ENTRIES } from '../../src/udf/icb';
import { locOf } from '../../src/udf/attr';
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { makeImage } from './write-helpers';

const describeIf = haveTools('mkudffs', 'udfinfo') ? describe : describe.skip;
const BS = 2048;
const FILES = 120;

/** Counts the device reads beneath the packet layer. */
class ReadCounter implements BlockDevice {
  reads = 0;
  constructor(readonly inner: BlockDevice) {}
  get sectorSize(): number { return this.inner.sectorSize; }
  get sectorCount(): number { return this.inner.sectorCount; }
  get readOnly(): boolean { return this.inner.readOnly; }
  get description(): string { return this.inner.description; }
  read(lba: number, count: number): Promise<Buffer> { this.reads++; return this.inner.read(lba, count); }
  write(lba: number, data: Buffer): Promise<void> { return this.inner.write(lba, data); }
  flush(): Promise<void> { return this.inner.flush(); }
  close(): Promise<void> { return this.inner.close(); }
}

async function mount(img: string, readWrite = true): Promise<{ vol: WritableVolume; counter: ReadCounter; packets: PacketDevice; close(): Promise<void> }> {
  const image = await ImageDevice.open(img, { readOnly: !readWrite });
  const counter = new ReadCounter(image);
  const packets = new PacketDevice(counter, { packetBytes: 32 * 1024, flushDelayMs: Infinity });
  const vol = await openVolume(packets, { readWrite });
  if (readWrite && !isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
  return { vol: vol as WritableVolume, counter, packets, close: async () => { await vol.close(); await packets.close(); } };
}

describeIf('listing and removing a tree', () => {
  let dir: string;
  let img: string;
  const saved = PREFETCH_ENTRIES.limit;
  beforeAll(async () => {
    dir = makeTempDir('pktfs-rm-');
    img = makeImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, dir, 'rm');
    const m = await mount(img);
    const d = await m.vol.mkdir(m.vol.rootIno, 'd', 0o755, 0, 0);
    for (let i = 0; i < FILES; i++) {
      const ino = await m.vol.create(d, `f${i}`, 0o644, 0, 0);
      await m.vol.write(ino, 0, Buffer.alloc(i % 3 === 0 ? 5000 : 100, i));
    }
    await m.vol.mkdir(d, 'sub', 0o755, 0, 0);
    await m.close();
  });
  afterAll(() => {
    PREFETCH_ENTRIES.limit = saved;
    removeTempDir(dir);
  });

  /** Runs of consecutive packets of the medium holding the entries of `inos` (mkudffs puts an hd image's partition at block 257). */
  function packetRuns(inos: number[]): number {
    const packets = [...new Set(inos.map((ino) => Math.floor((locOf(ino).logicalBlockNum + 257) * BS / (32 * 1024))))].sort((a, b) => a - b);
    return packets.filter((p, i) => i === 0 || packets[i - 1] !== p - 1).length;
  }

  async function statAll(limit: number, readWrite = true): Promise<{ listing: number; stats: number; runs: number }> {
    PREFETCH_ENTRIES.limit = limit;
    const m = await mount(img, readWrite);
    try {
      const d = await m.vol.lookup(m.vol.rootIno, 'd');
      const before = m.counter.reads;
      const names = await m.vol.readdir(d);
      const listing = m.counter.reads - before;
      expect(names).toHaveLength(FILES + 1);
      for (const e of names) expect((await m.vol.getattr(await m.vol.lookup(d, e.name))).ino).toBe(e.ino);
      return { listing, stats: m.counter.reads - before - listing, runs: packetRuns(names.map((e) => e.ino)) };
    } finally {
      await m.close();
    }
  }

  test('a listed directory\'s file entries are read at the listing, a device read per run of packets holding them, not one by one at each stat', async () => {
    const without = await statAll(0);
    const withPrefetch = await statAll(saved);
    // 121 entries of one block each fill 8 packets of 16 blocks: read one by one without the hint.
    expect(without.stats).toBeGreaterThanOrEqual(6);
    expect(withPrefetch.stats).toBe(0);
    // One read per run of packets holding entries (file data lies in packets of its own between them), and the directory's.
    expect(withPrefetch.runs).toBeLessThanOrEqual(10);
    expect(withPrefetch.listing).toBeLessThanOrEqual(withPrefetch.runs + 2);
  });

  test('the same on a read-only mount', async () => {
    const without = await statAll(0, false);
    const withPrefetch = await statAll(saved, false);
    expect(without.stats).toBeGreaterThanOrEqual(6);
    expect(withPrefetch.stats).toBe(0);
    // One read per run of packets holding entries (file data lies in packets of its own between them), and the directory's.
    expect(withPrefetch.runs).toBeLessThanOrEqual(10);
    expect(withPrefetch.listing).toBeLessThanOrEqual(withPrefetch.runs + 2);
  });

  test('removing everything gives all the space back (udfinfo)', async () => {
    const fresh = udfinfo(makeImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, dir, 'empty'));
    const m = await mount(img);
    const d = await m.vol.lookup(m.vol.rootIno, 'd');
    for (const e of await m.vol.readdir(d)) {
      const a = await m.vol.getattr(e.ino);
      if ((a.mode & 0o170000) === 0o040000) await m.vol.rmdir(d, e.name); else await m.vol.unlink(d, e.name);
    }
    await m.vol.rmdir(m.vol.rootIno, 'd');
    await m.close();
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info.fields.integrity).toBe('closed');
    expect(info.numFiles).toBe(0);
    expect(info.numDirs).toBe(1);
    expect(info.freeBlocks).toBe(fresh.freeBlocks);
  });
});
