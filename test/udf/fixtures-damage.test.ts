/**
 * Damage limited to the damaged parts (issue 2, section 3 and 5): on a udfclient image,
 *  - a file entry whose descriptor CRC is wrong (ECMA-167 3/7.2.6) gives EIO for that
 *    file only;
 *  - a file whose allocation descriptors end in an allocation extent descriptor
 *    (4/14.5) that points to itself gives EIO, without hanging;
 * and every other file still lists and reads, before and after the failures.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildMatrixImage } from '../helpers/images';
import {
  TAG_AED, TAG_EFE, TAG_FE, fileEntryLayout, findTags, fixTag, isValidTag, partitionExtent, readTag,
} from '../helpers/tag';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { pseudoRandom, readAll, walkHost, walkVolume } from '../helpers/tree';
import { openImage } from '../helpers/volume';
import type { Volume } from '../../src/udf/types';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo');
if (!TOOLS) console.warn('fixtures-damage: mkudffs/udfclient missing, skipped');

const BS = 2048;
const CRC_VICTIM = { name: 'victim-crc.bin', size: 7777 };
const LOOP_VICTIM = { name: 'victim-loop.bin', size: 5555 };

/** Find the (extended) file entry of the only file with this size. */
function fileEntryOfSize(img: Buffer, size: number): number {
  const hits = [...findTags(img, BS, TAG_FE), ...findTags(img, BS, TAG_EFE)]
    .filter((b) => fileEntryLayout(img, b * BS).informationLength === size);
  if (hits.length !== 1) throw new Error(`expected one file entry of ${size} bytes, found ${hits.length}`);
  return hits[0] * BS;
}

/** Flip a byte inside the CRC'd part of the file entry (its uid, 4/14.9.3): the CRC no longer matches. */
function breakCrc(img: Buffer): void {
  const off = fileEntryOfSize(img, CRC_VICTIM.size);
  img[off + 36] ^= 0x5a;
  if (isValidTag(img, off)) throw new Error('damage did not break the tag');
}

/**
 * Replace the file's allocation descriptors by one pointer (extent type 3, 4/14.14.1.1)
 * to an allocation extent descriptor in a free block, whose only descriptor points to
 * that same block again.
 */
function makeLoop(img: Buffer): void {
  const off = fileEntryOfSize(img, LOOP_VICTIM.size);
  const fe = fileEntryLayout(img, off);
  if (fe.adType !== 0 && fe.adType !== 1) throw new Error(`file entry uses AD type ${fe.adType}`);
  const adSize = fe.adType === 0 ? 8 : 16; // short_ad 4/14.14.1, long_ad 4/14.14.2
  const part = partitionExtent(img, BS);
  const aedBlock = part.length - 16; // partition-relative; udfclient allocates from the start
  const aedOff = (part.start + aedBlock) * BS;
  if (img.subarray(aedOff, aedOff + BS).some((b) => b !== 0)) throw new Error('chosen AED block is in use');

  const writeAd = (at: number): void => {
    img.fill(0, at, at + adSize);
    img.writeUInt32LE(((3 << 30) | BS) >>> 0, at); // type 3: next extent of allocation descriptors
    img.writeUInt32LE(aedBlock, at + 4);
    if (adSize === 16) img.writeUInt16LE(0, at + 8); // partition reference number
  };

  // The AED: tag, previousAllocationExtentLocation (4/14.5.2), L_AD (4/14.5.3), then the ADs.
  const tag = readTag(img, off);
  img.fill(0, aedOff, aedOff + BS);
  img.writeUInt16LE(TAG_AED, aedOff);
  img.writeUInt16LE(tag.descVersion, aedOff + 2);
  img.writeUInt16LE(tag.tagSerialNumber, aedOff + 6);
  img.writeUInt32LE(aedBlock, aedOff + 12);
  img.writeUInt32LE(0, aedOff + 16);
  img.writeUInt32LE(adSize, aedOff + 20);
  writeAd(aedOff + 24);
  fixTag(img, aedOff, 8 + adSize);

  img.fill(0, fe.adOffset, fe.adOffset + fe.lengthOfAD);
  img.writeUInt32LE(adSize, fe.lengthOfADOffset);
  writeAd(fe.adOffset);
  fixTag(img, off, fe.adOffset + adSize - off - 16);
  if (!isValidTag(img, off) || !isValidTag(img, aedOff)) throw new Error('tag fix-up failed');
}

/** Look the file up, stat it and read it all; what a cat through the mount does. */
async function cat(vol: Volume, name: string): Promise<Buffer> {
  const ino = await vol.lookup(vol.rootIno, name);
  const attr = await vol.getattr(ino);
  return readAll(vol, ino, attr.size);
}

/** Reject after `ms` instead of waiting forever on a reader that loops. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms (hang)`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

(TOOLS ? describe : describe.skip)('damaged images', () => {
  const tmp = makeTempDir('damage');
  const src = path.join(tmp, 'src');
  let vol: Volume;

  beforeAll(async () => {
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, CRC_VICTIM.name), pseudoRandom('crc', CRC_VICTIM.size));
    fs.writeFileSync(path.join(src, LOOP_VICTIM.name), pseudoRandom('loop', LOOP_VICTIM.size));
    fs.writeFileSync(path.join(src, 'fine.bin'), pseudoRandom('fine', 9000));
    fs.writeFileSync(path.join(src, 'sub', 'also fine.txt'), 'still readable\n');
    const built = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: BS, blocks: 16384 }, tmp, src);
    const img = fs.readFileSync(built.path);
    breakCrc(img);
    makeLoop(img);
    fs.writeFileSync(built.path, img);
    vol = await openImage(built.path);
  }, 60_000);
  afterAll(async () => {
    await vol?.close();
    removeTempDir(tmp);
  });

  const healthy = () => walkHost(src).filter((e) => e.path !== CRC_VICTIM.name && e.path !== LOOP_VICTIM.name);

  it('still lists both damaged files (their identifiers are intact)', async () => {
    const names = (await vol.readdir(vol.rootIno)).map((e) => e.name).sort();
    expect(names).toEqual(['fine.bin', 'sub', CRC_VICTIM.name, LOOP_VICTIM.name].sort());
  });

  it('gives EIO for the file entry with a bad CRC', async () => {
    await expect(within(10_000, cat(vol, CRC_VICTIM.name))).rejects.toMatchObject({ errno: 'EIO' });
  });

  it('gives EIO for the looping allocation chain, without hanging', async () => {
    await expect(within(10_000, cat(vol, LOOP_VICTIM.name))).rejects.toMatchObject({ errno: 'EIO' });
  });

  it('reads every other file, also after the failures', async () => {
    await cat(vol, CRC_VICTIM.name).catch(() => undefined);
    await cat(vol, LOOP_VICTIM.name).catch(() => undefined);
    expect((await cat(vol, 'fine.bin')).equals(fs.readFileSync(path.join(src, 'fine.bin')))).toBe(true);
    const inner = await vol.lookup(await vol.lookup(vol.rootIno, 'sub'), 'also fine.txt');
    expect((await readAll(vol, inner, (await vol.getattr(inner)).size)).toString()).toBe('still readable\n');
  });

  it('walks the whole tree except the damaged files', async () => {
    // A walker that skips the two damaged names must see exactly the healthy tree.
    const skip = new Set([CRC_VICTIM.name, LOOP_VICTIM.name]);
    const filtered: Volume = {
      info: vol.info,
      rootIno: vol.rootIno,
      lookup: (dir, name) => vol.lookup(dir, name),
      getattr: (ino) => vol.getattr(ino),
      readdir: async (ino) => (await vol.readdir(ino)).filter((e) => !skip.has(e.name)),
      read: (ino, off, len) => vol.read(ino, off, len),
      readlink: (ino) => vol.readlink(ino),
      close: () => vol.close(),
    };
    expect(await walkVolume(filtered)).toEqual(healthy());
  });
});
