/** MemoryDevice (src/drive/memory.ts), the in-memory BlockDevice the packet tests run on. */
import { MemoryDevice } from '../../src/drive/memory';
import { isFsError } from '../../src/errors';

async function errnoOf(p: Promise<unknown>): Promise<string | undefined> {
  try { await p; } catch (e) { return isFsError(e) ? e.errno : 'not an FsError'; }
  return undefined;
}

test('reads back what was written, and never aliases the caller\'s buffers', async () => {
  const dev = new MemoryDevice({ sectorSize: 512, sectorCount: 8 });
  const data = Buffer.alloc(1024, 0xab);
  await dev.write(2, data);
  data.fill(0);
  const got = await dev.read(2, 2);
  expect(got.equals(Buffer.alloc(1024, 0xab))).toBe(true);
  got.fill(1);
  expect((await dev.read(2, 1)).equals(Buffer.alloc(512, 0xab))).toBe(true);
  expect(dev.description).toBe('memory 8x512');
});

test('checks ranges, whole sectors, read-only and closed like ImageDevice', async () => {
  const dev = new MemoryDevice({ sectorSize: 2048, data: Buffer.alloc(4 * 2048) });
  expect(dev.sectorCount).toBe(4);
  expect(await errnoOf(dev.read(3, 2))).toBe('EIO');
  expect(await errnoOf(dev.write(3, Buffer.alloc(4096)))).toBe('ENOSPC');
  expect(await errnoOf(dev.write(0, Buffer.alloc(100)))).toBe('EINVAL');
  const ro = new MemoryDevice({ sectorCount: 1, readOnly: true });
  expect(await errnoOf(ro.write(0, Buffer.alloc(512)))).toBe('EROFS');
  await dev.flush();
  expect(dev.flushes).toBe(1);
  await dev.close();
  expect(await errnoOf(dev.read(0, 1))).toBe('EBADF');
  expect(() => new MemoryDevice({ sectorSize: 512, data: Buffer.alloc(100) })).toThrow(/whole sectors/);
});
