/**
 * Volume.readInto (issue 6: a FUSE read lands in the kernel's buffer): the same bytes
 * as read() for every kind of range (block aligned or not, across extents, holes,
 * embedded data, the end of the file, past it), on read-only and read-write mounts,
 * over the packet layer and over the bare image; and a block-aligned range within one
 * run reaches the packet layer as one readInto of the caller's own memory, with no
 * read() and no buffer of the volume's own. Files are put by udfclient (another
 * writer) and by pktfs's write engine (fragmented, sparse). On a read-write mount, file
 * reads don't wait for each other, but do wait for changes queued before them (and changes
 * for them).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import type { BlockDevice } from '../../src/drive/types';
import { PacketDevice } from '../../src/packet/device';
import { openVolume } from '../../src/udf/volume';
import { isWritable, type Volume } from '../../src/udf/types';
import { Gate, LoggingDevice, settle } from '../packet/helpers';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { pseudoRandom } from '../helpers/tree';
import { makeImage, putReadFixtures } from './write-helpers';

const TOOLS = haveTools('mkudffs', 'udfclient');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('readinto: mkudffs/udfclient missing, skipped');

const BS = 2048;
const files: Record<string, Buffer> = {};

async function openOn(img: string, packets: boolean, readWrite: boolean): Promise<{ vol: Volume; dev: BlockDevice; close(): Promise<void> }> {
  const image = await ImageDevice.open(img, { readOnly: !readWrite });
  const dev: BlockDevice = packets ? new PacketDevice(image, { packetBytes: 32768, flushDelayMs: Infinity }) : image;
  const vol = await openVolume(dev, { readWrite });
  return { vol, dev, close: async () => { await vol.close(); await dev.close(); } };
}

async function ino(vol: Volume, name: string): Promise<number> {
  return vol.lookup(vol.rootIno, name);
}

describeIf('Volume.readInto', () => {
  let dir: string;
  let img: string;

  beforeAll(async () => {
    dir = makeTempDir('readinto');
    img = makeImage({ media: 'hd', rev: '2.01', bs: BS }, dir);
    Object.assign(files, await putReadFixtures(img, dir));
  });
  afterAll(() => removeTempDir(dir));

  const ranges = (size: number): [number, number][] => [
    [0, 131072], [0, size + 5000], [4096, 65536], [2048, 2048], [1000, 3000], [131072, 131072],
    [size - 100, 131072], [Math.max(0, size - 4096), 4096], [size, 4096], [size + 10_000, 100], [7, 0],
  ];

  for (const packets of [true, false]) {
    for (const readWrite of [false, true]) {
      test(`the same bytes as read() (${packets ? 'packet layer' : 'bare image'}, ${readWrite ? 'rw' : 'ro'})`, async () => {
        const m = await openOn(img, packets, readWrite);
        try {
          expect(!!m.vol.info.readOnlyReason).toBe(false);
          expect(typeof m.vol.readInto).toBe('function');
          for (const [name, data] of Object.entries(files)) {
            const i = await ino(m.vol, name);
            for (const [off, len] of ranges(data.length)) {
              const into = Buffer.alloc(len + 16, 0xa5);
              const n = await m.vol.readInto!(i, off, len, into);
              const want = data.subarray(Math.min(off, data.length), Math.min(off + len, data.length));
              expect(n).toBe(want.length);
              expect(Buffer.compare(into.subarray(0, n), want)).toBe(0);
              // Past the block the range ends in, the caller's buffer is untouched.
              const blockEnd = Math.min(len + 16, Math.ceil(n / BS) * BS);
              expect(into.subarray(Math.max(n, blockEnd)).every((x) => x === 0xa5)).toBe(true);
              expect(Buffer.compare(await m.vol.read(i, off, len), want)).toBe(0);
            }
          }
        } finally {
          await m.close();
        }
      });
    }
  }

  test('a buffer shorter than the length asked for is refused', async () => {
    const m = await openOn(img, true, false);
    try {
      await expect(m.vol.readInto!(await ino(m.vol, 'big.bin'), 0, 4096, Buffer.alloc(2048))).rejects.toMatchObject({ errno: 'EINVAL' });
    } finally {
      await m.close();
    }
  });

  for (const readWrite of [false, true]) {
    test(`an aligned range within one run is one packet-layer readInto of the caller's memory (${readWrite ? 'rw' : 'ro'})`, async () => {
      const m = await openOn(img, true, readWrite);
      try {
        const packets = m.dev as PacketDevice;
        const i = await ino(m.vol, 'big.bin');
        await m.vol.getattr(i); // its file entry is read here, as FUSE's open does
        const readSpy = jest.spyOn(packets, 'read');
        const intoSpy = jest.spyOn(packets, 'readInto');
        const into = Buffer.alloc(131072);
        expect(await m.vol.readInto!(i, 131072, 131072, into)).toBe(131072);
        expect(readSpy).not.toHaveBeenCalled();
        expect(intoSpy).toHaveBeenCalledTimes(1);
        const [targets] = intoSpy.mock.calls[0].slice(1) as [Buffer[]];
        expect(targets).toHaveLength(1);
        expect(targets[0].buffer).toBe(into.buffer);
        expect(targets[0].byteOffset).toBe(into.byteOffset);
        expect(targets[0].length).toBe(131072);
        expect(Buffer.compare(into, files['big.bin'].subarray(131072, 262144))).toBe(0);
      } finally {
        await m.close();
      }
    });
  }
});

describeIf('file reads on a read-write mount', () => {
  let dir: string;
  beforeAll(() => { dir = makeTempDir('readconc'); });
  afterAll(() => removeTempDir(dir));

  test('run alongside each other, never alongside a change, and see every change queued before them', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: BS }, dir);
    const image = await ImageDevice.open(img, {});
    const log = new LoggingDevice(image, 16);
    const vol = await openVolume(log, { readWrite: true });
    const gate = new Gate();
    try {
      if (!isWritable(vol)) throw new Error(`read-only: ${vol.info.readOnlyReason}`);
      const dataA = pseudoRandom('a', 65536);
      const dataB = pseudoRandom('b', 65536);
      const a = await vol.create(vol.rootIno, 'a.bin', 0o644, 0, 0);
      const b = await vol.create(vol.rootIno, 'b.bin', 0o644, 0, 0);
      await vol.write(a, 0, dataA);
      await vol.write(b, 0, dataB);
      await vol.sync();
      // The next device read (a.bin's data) is held.
      let holdNext = true;
      log.delay = async (op) => {
        if (op.op !== 'read' || !holdNext) return;
        holdNext = false;
        await gate.pass();
      };
      const intoA = Buffer.alloc(65536);
      const readA = vol.readInto!(a, 0, 65536, intoA);
      let doneA = false;
      void readA.then(() => { doneA = true; }, () => undefined);
      while (gate.arrived === 0) await settle(1);
      // Another read is not held up by it.
      let gotB: Buffer | undefined;
      const readB = vol.read(b, 0, 65536).then((x) => { gotB = x; });
      // It ends while the first is still held (queued behind it, it would wait until the timeout);
      // how many turns of the loop its device read takes depends on the machine's load.
      let timer: NodeJS.Timeout | undefined;
      const held = new Promise<void>((_, reject) => { timer = setTimeout(() => reject(new Error('the second read waited for the held one')), 30_000); });
      try {
        await Promise.race([readB, held]);
      } finally {
        clearTimeout(timer);
      }
      expect(doneA).toBe(false);
      expect(gotB && Buffer.compare(gotB, dataB)).toBe(0);
      // A change waits for the read in progress; a read queued after the change sees it.
      const newB = pseudoRandom('b2', 4096);
      let wrote = false;
      const write = vol.write(b, 0, newB).then(() => { wrote = true; });
      const readAfter = vol.read(b, 0, 4096);
      await settle(20);
      expect(wrote).toBe(false);
      gate.open();
      expect(await readA).toBe(65536);
      expect(Buffer.compare(intoA, dataA)).toBe(0);
      await write;
      expect(Buffer.compare(await readAfter, newB)).toBe(0);
    } finally {
      gate.open();
      await vol.close();
      await image.close();
    }
  });
});
