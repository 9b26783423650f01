/**
 * PacketDevice over a real ImageDevice on a temporary file: what lands in the
 * file after flush/close is what was written, and the file is only ever
 * written in whole packets (checked by the drive log between the two).
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import { PacketDevice } from '../../src/packet/device';
import { expectSameBytes, LoggingDevice, pattern, prng, randInt } from './helpers';

let dir: string;
beforeAll(async () => { dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pktfs-packet-')); });
afterAll(async () => { await fsp.rm(dir, { recursive: true, force: true }); });

for (const sectorSize of [512, 2048]) {
  test(`random writes through the packet layer reach a ${sectorSize}-byte-sector image intact`, async () => {
    const file = path.join(dir, `img-${sectorSize}`);
    const size = 4 * 1024 * 1024 + 3 * sectorSize; // a partial last packet
    const initial = pattern(size, 0x33);
    await fsp.writeFile(file, initial);
    const image = await ImageDevice.open(file, { sectorSize });
    const log = new LoggingDevice(image, 32768 / sectorSize);
    const dev = new PacketDevice(log, { cacheBytes: 1024 * 1024, flushDelayMs: 5 });
    const model = Buffer.from(initial);
    const rand = prng(sectorSize);
    const sectors = size / sectorSize;
    for (let i = 0; i < 400; i++) {
      const count = randInt(rand, 1, 40);
      const lba = randInt(rand, 0, sectors - count);
      const data = pattern(count * sectorSize, i);
      data.copy(model, lba * sectorSize);
      await dev.write(lba, data);
      if (i % 50 === 0) expectSameBytes(await dev.read(0, sectors), model, `read-back at op ${i}`);
    }
    await dev.close();
    expectSameBytes(await fsp.readFile(file), model, 'image file');
    expect(log.violations).toEqual([]);
    expect(log.writes.length).toBeGreaterThan(0);
  });
}

test('closing an image waits for the reads and writes still in flight on its descriptor', async () => {
  const file = path.join(dir, 'img-inflight');
  const sectorSize = 2048;
  await fsp.writeFile(file, Buffer.alloc(256 * sectorSize));
  const image = await ImageDevice.open(file, { sectorSize });
  // More calls than libuv's pool has threads: most are still queued when close() is called.
  const writes = Array.from({ length: 48 }, (_, i) => image.write(i * 4, pattern(4 * sectorSize, i)));
  const reads = Array.from({ length: 16 }, (_, i) => image.read(200 + i, 1));
  const writev = image.writev(250, [pattern(sectorSize, 100), pattern(sectorSize, 101)]);
  const closed = image.close();
  const settled = await Promise.allSettled([...writes, ...reads, writev]);
  await closed;
  expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
  const back = await fsp.readFile(file);
  for (let i = 0; i < 48; i++) expectSameBytes(back.subarray(i * 4 * sectorSize, (i + 1) * 4 * sectorSize), pattern(4 * sectorSize, i), `write ${i}`);
  expectSameBytes(back.subarray(250 * sectorSize, 252 * sectorSize), Buffer.concat([pattern(sectorSize, 100), pattern(sectorSize, 101)]), 'writev');
});

test('reads and writes of a closed image fail with EBADF', async () => {
  const file = path.join(dir, 'img-closed');
  await fsp.writeFile(file, Buffer.alloc(16 * 2048));
  const image = await ImageDevice.open(file, { sectorSize: 2048 });
  await image.close();
  for (const p of [image.read(0, 1), image.write(0, Buffer.alloc(2048)), image.writev(0, [Buffer.alloc(2048)]), image.readInto(0, [Buffer.alloc(2048)])]) {
    await expect(p).rejects.toMatchObject({ errno: 'EBADF' });
  }
});
