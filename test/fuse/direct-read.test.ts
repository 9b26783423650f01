/**
 * The binding's read fast path (issue 6; DirectReads in src/fuse/context.ts): reads of a file
 * that sits unchanged in the image are answered by fuse-native's read op on the libfuse thread,
 * from the image file, with no round trip to JavaScript. Files are put on the image by udfclient
 * (the judge of where their data is), the image is mounted in this process, and reads are made
 * with O_DIRECT so that each one reaches the filesystem instead of the kernel's page cache.
 * What must hold: the data is the file's; a write or truncate through the mount shows in the
 * next read of a handle that was mapped before it; data still dirty in the packet cache is not
 * read from the image; `-o direct_read=off` sends every read through pktfs.
 */
import { promises as fsp, constants as fsc } from 'fs';
import fs from 'fs';
import path from 'path';
import { openStack, closeStack, type Stack } from '../../bin/stack';
import { bindingDirectRead, directReadStats } from '../../src/fuse/fuse';
import { PktfsMount } from '../../src/fuse/mount';
import { parseMountOptions, splitOptions } from '../../src/options';
import type { DirectReadStats } from '../../src/fuse/context';
import { buildMatrixImage, type BuiltImage } from '../helpers/images';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { removeDir, tempDir, waitFor } from './helpers';

const TOOLS = haveTools('mkudffs', 'udfclient');
const maybe = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs or udfclient missing', () => undefined);

const BIG = 3 * 1024 * 1024 + 1234; // not a whole number of blocks
let dir: string;
let image: BuiltImage;
let big: Buffer;

interface Mounted {
  mnt: string;
  stack: Stack;
  mount: PktfsMount;
  /** Reads that reached the volume (pktfs's own read path) since the mount. */
  volumeReads: number;
}
const mounts: Mounted[] = [];
let counter = 0;

async function mountCopy(words: string[]): Promise<Mounted> {
  const img = path.join(dir, `rw${++counter}.img`);
  fs.copyFileSync(image.path, img);
  const opts = parseMountOptions(splitOptions(words));
  const stack = await openStack(img, { ...opts, readOnly: false });
  const vol = stack.volume;
  const m: Mounted = { mnt: path.join(dir, `mnt${counter}`), stack, mount: undefined as unknown as PktfsMount, volumeReads: 0 };
  const readInto = vol.readInto?.bind(vol);
  const read = vol.read.bind(vol);
  if (readInto) vol.readInto = (ino, off, len, into) => (m.volumeReads++, readInto(ino, off, len, into));
  vol.read = (ino, off, len) => (m.volumeReads++, read(ino, off, len));
  fs.mkdirSync(m.mnt);
  m.mount = await PktfsMount.mount(vol, m.mnt, {
    source: img, readOnly: false, pollMs: 200, directRead: opts.directRead,
    pktinfo: { mode: opts.pktinfo, packets: stack.packets, mount: { source: img, ...stack.facts } },
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

const stats = (): DirectReadStats => directReadStats() as DirectReadStats;

/** Read all of an O_DIRECT handle in 128 KiB requests. */
function readAll(fh: fsp.FileHandle): Promise<Buffer> {
  return readAllFrom(fh, 0);
}

/** The rest of an O_DIRECT handle from `from`, in 128 KiB requests. */
async function readAllFrom(fh: fsp.FileHandle, from: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let pos = from; ; ) {
    const b = Buffer.alloc(128 * 1024);
    const { bytesRead } = await fh.read(b, 0, b.length, pos);
    if (bytesRead === 0) break;
    parts.push(b.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return Buffer.concat(parts);
}

async function readAt(fh: fsp.FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}

const openDirect = (p: string): Promise<fsp.FileHandle> => fsp.open(p, fsc.O_RDONLY | fsc.O_DIRECT);

beforeAll(async () => {
  dir = tempDir('direct-read');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  big = pseudoRandom('big', BIG);
  fs.writeFileSync(path.join(src, 'big.bin'), big);
  fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, src);
}, 120000);

afterAll(async () => {
  await unmountAll();
  if (dir) await removeDir(dir);
});

test('the binding in node_modules has the read fast path (scripts/patch-native.sh)', () => {
  expect(bindingDirectRead).toBe(true);
});

maybe('a writable mount with the read fast path', () => {
  let m: Mounted;
  beforeAll(async () => {
    m = await mountCopy([]);
  });
  afterAll(unmountAll);

  test('a file udfclient wrote is read by the binding from the image, not by pktfs', async () => {
    const before = stats();
    const fh = await openDirect(path.join(m.mnt, 'big.bin'));
    try {
      // The first read is pktfs's and asks the binding to take the rest.
      expect(stats().maps).toBe(before.maps);
      const volumeBefore = m.volumeReads;
      const first = await readAt(fh, 0, 128 * 1024);
      expect(m.volumeReads).toBe(volumeBefore + 1);
      expect(stats().maps).toBe(before.maps + 1);
      const got = Buffer.concat([first, await readAllFrom(fh, first.length)]);
      expect(got.equals(big)).toBe(true);
      // Past the end, and a read over it.
      expect((await readAt(fh, BIG + 10, 4096)).length).toBe(0);
      expect((await readAt(fh, BIG - 100, 4096)).equals(big.subarray(BIG - 100))).toBe(true);
      expect(m.volumeReads).toBe(volumeBefore + 1);
      const after = stats();
      expect(after.reads - before.reads).toBeGreaterThanOrEqual(Math.ceil(BIG / (128 * 1024)) - 1);
      // (An unaligned buffer makes the kernel split a request in two: the first read's second part may be the binding's.)
      expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(BIG - first.length + 100);
      expect(after.bytes - before.bytes).toBeLessThan(BIG + 100);
      expect(after.fallbacks).toBe(before.fallbacks);
    } finally {
      await fh.close();
    }
    // The kernel sends the release after close(2) has returned.
    await waitFor(() => stats().maps === before.maps, 5000, 'the release of the handle');
    const info = JSON.parse(await fsp.readFile(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8'));
    expect(info.directRead.bytes - before.bytes).toBeGreaterThanOrEqual(BIG - 128 * 1024 + 100);
  });

  test('several handles have maps of their own; closing one leaves the others theirs', async () => {
    const p = path.join(m.mnt, 'big.bin');
    const before = stats();
    const handles = [await openDirect(p), await openDirect(p), await openDirect(p)];
    try {
      for (const h of handles) await readAt(h, 0, 4096);
      expect(stats().maps).toBe(before.maps + 3);
      await handles[0].close();
      await waitFor(() => stats().maps === before.maps + 2, 5000, 'the release of the first handle');
      const reads = stats().reads;
      const volumeBefore = m.volumeReads;
      for (const h of [handles[1], handles[2]]) expect((await readAt(h, 1 << 20, 65536)).equals(big.subarray(1 << 20, (1 << 20) + 65536))).toBe(true);
      expect(stats().reads).toBe(reads + 2);
      expect(m.volumeReads).toBe(volumeBefore);
    } finally {
      for (const h of handles.slice(1)) await h.close();
    }
    await waitFor(() => stats().maps === before.maps, 5000, 'the release of the handles');
  });

  test('a write through the mount shows in the next read of a handle mapped before it', async () => {
    const p = path.join(m.mnt, 'big.bin');
    const reader = await openDirect(p);
    try {
      expect((await readAt(reader, 0, 8192)).equals(big.subarray(0, 8192))).toBe(true);
      expect(stats().maps).toBe(1);
      expect((await readAt(reader, 0, 8192)).equals(big.subarray(0, 8192))).toBe(true);
      const fresh = Buffer.alloc(5000, 0x5a);
      const writer = await fsp.open(p, 'r+');
      await writer.write(fresh, 0, fresh.length, 100);
      await writer.close();
      // The new bytes are in the packet cache, not yet in the image: the map must be gone.
      expect(stats().maps).toBe(0);
      const volumeBefore = m.volumeReads;
      const got = await readAt(reader, 0, 8192);
      expect(m.volumeReads).toBeGreaterThan(volumeBefore);
      expect(got.subarray(0, 100).equals(big.subarray(0, 100))).toBe(true);
      expect(got.subarray(100, 5100).equals(fresh)).toBe(true);
      expect(got.subarray(5100).equals(big.subarray(5100, 8192))).toBe(true);
    } finally {
      await reader.close();
    }
  });

  test('a truncate through the mount shows in the next read of a handle mapped before it', async () => {
    const p = path.join(m.mnt, 'small-copy.bin');
    await fsp.writeFile(p, big.subarray(0, 300000));
    await fsp.writeFile(path.join(m.mnt, '.pktinfo/flush'), '1');
    const reader = await openDirect(p);
    try {
      expect((await readAt(reader, 0, 65536)).length).toBe(65536);
      expect(stats().maps).toBe(1);
      expect((await readAt(reader, 65536, 65536)).length).toBe(65536);
      await fsp.truncate(p, 1000);
      expect((await readAt(reader, 0, 65536)).equals(big.subarray(0, 1000))).toBe(true);
    } finally {
      await reader.close();
    }
  });
});

maybe('data not yet in the image', () => {
  let m: Mounted;
  beforeAll(async () => {
    m = await mountCopy(['flush=off']);
  });
  afterAll(unmountAll);

  test('a file whose packets are still dirty is read by pktfs from its cache', async () => {
    const p = path.join(m.mnt, 'new.bin');
    const data = pseudoRandom('new', 700000);
    await fsp.writeFile(p, data);
    const before = stats();
    const fh = await openDirect(p);
    try {
      const volumeBefore = m.volumeReads;
      expect((await readAll(fh)).equals(data)).toBe(true);
      expect(stats().maps).toBe(before.maps);
      expect(m.volumeReads - volumeBefore).toBeGreaterThanOrEqual(Math.ceil(data.length / (128 * 1024)));
      expect(stats().reads).toBe(before.reads);
    } finally {
      await fh.close();
    }
    // Once written out, the next open reads it from the image.
    await fsp.writeFile(path.join(m.mnt, '.pktinfo/flush'), '1');
    const again = await openDirect(p);
    try {
      expect((await readAll(again)).equals(data)).toBe(true);
      expect(stats().maps).toBe(before.maps + 1);
      expect(stats().reads).toBeGreaterThan(before.reads);
    } finally {
      await again.close();
    }
  });
});

maybe('-o direct_read=off', () => {
  let m: Mounted;
  beforeAll(async () => {
    m = await mountCopy(['direct_read=off']);
  });
  afterAll(unmountAll);

  test('every read goes through pktfs, and stats.json says there is no fast path', async () => {
    const before = stats();
    const fh = await openDirect(path.join(m.mnt, 'big.bin'));
    try {
      const volumeBefore = m.volumeReads;
      expect((await readAll(fh)).equals(big)).toBe(true);
      expect(m.volumeReads - volumeBefore).toBeGreaterThanOrEqual(Math.ceil(BIG / (128 * 1024)));
      expect(stats()).toEqual(before);
    } finally {
      await fh.close();
    }
    const info = JSON.parse(await fsp.readFile(path.join(m.mnt, '.pktinfo/stats.json'), 'utf8'));
    expect(info.directRead).toBeNull();
  });

  test('the option takes on or off only', () => {
    expect(parseMountOptions(splitOptions(['direct_read=on'])).directRead).toBe(true);
    expect(() => parseMountOptions(splitOptions(['direct_read=maybe']))).toThrow(/on or off/);
  });
});
