/**
 * Mutating operations of the UDF write engine, mirrored on a host directory:
 * overwrites in the middle, appends (out of the ICB), truncates both ways
 * (sparse growth), renames within and across directories and over existing
 * targets, unlink, rmdir, a directory of hundreds of entries with deleted
 * slots reused, a file fragmented into allocation extent descriptors. Then
 * udfinfo, udfclient and a reopen must agree with the host tree; removing
 * everything must give back every block.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { WritableVolume } from '../../src/udf/types';
import { MatrixSpec, specId } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo, UdfInfo } from '../helpers/tools';
import { buildSourceTree, countTree, pseudoRandom, walkHost, walkVolume } from '../helpers/tree';
import { withImage } from '../helpers/volume';
import { expectSameFiles, makeImage, openRw, putTree, udfclientGetAll, writable } from './write-helpers';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('write-ops: mkudffs/udfclient/udfinfo missing, skipped');

const SPECS: MatrixSpec[] = [
  { media: 'hd', rev: '1.50', bs: 512, ad: 'short' },
  { media: 'hd', rev: '2.01', bs: 2048, ad: 'long' },
  { media: 'hd', rev: '2.01', bs: 4096, ad: 'inicb' },
  { media: 'cdrw', rev: '2.01', bs: 2048, ad: 'short' },
  { media: 'hd', rev: '2.01', bs: 2048, space: 'unalloctable' },
];

/** Resolve a '/'-separated path to an inode through lookup. */
async function ino(vol: WritableVolume, p: string): Promise<number> {
  let cur = vol.rootIno;
  for (const part of p.split('/').filter(Boolean)) cur = await vol.lookup(cur, part);
  return cur;
}

const parent = (p: string) => path.posix.dirname(p) === '.' ? '' : path.posix.dirname(p);
const base = (p: string) => path.posix.basename(p);

/** The same operations on the host mirror and the volume. */
class Mirror {
  constructor(readonly host: string, readonly vol: WritableVolume) {}

  async write(p: string, offset: number, data: Buffer): Promise<void> {
    const fd = fs.openSync(path.join(this.host, p), 'r+');
    fs.writeSync(fd, data, 0, data.length, offset);
    fs.closeSync(fd);
    await this.vol.write(await ino(this.vol, p), offset, data);
  }

  async create(p: string, data?: Buffer): Promise<void> {
    fs.writeFileSync(path.join(this.host, p), data ?? '');
    const i = await this.vol.create(await ino(this.vol, parent(p)), base(p), 0o644, 0, 0);
    if (data) await this.vol.write(i, 0, data);
  }

  async truncate(p: string, size: number): Promise<void> {
    fs.truncateSync(path.join(this.host, p), size);
    await this.vol.truncate(await ino(this.vol, p), size);
  }

  async rename(a: string, b: string): Promise<void> {
    fs.renameSync(path.join(this.host, a), path.join(this.host, b));
    await this.vol.rename(await ino(this.vol, parent(a)), base(a), await ino(this.vol, parent(b)), base(b));
  }

  async unlink(p: string): Promise<void> {
    fs.unlinkSync(path.join(this.host, p));
    await this.vol.unlink(await ino(this.vol, parent(p)), base(p));
  }

  async rmdir(p: string): Promise<void> {
    fs.rmdirSync(path.join(this.host, p));
    await this.vol.rmdir(await ino(this.vol, parent(p)), base(p));
  }

  async mkdir(p: string): Promise<void> {
    fs.mkdirSync(path.join(this.host, p));
    await this.vol.mkdir(await ino(this.vol, parent(p)), base(p), 0o755, 0, 0);
  }
}

async function operations(m: Mirror, bs: number): Promise<void> {
  // Overwrites in the middle, across block boundaries.
  await m.write('big.bin', 3 * bs - 7, pseudoRandom('mid1', 5 * bs + 11));
  await m.write('f2049', 1000, pseudoRandom('mid2', 100));
  // Appends: 'one' grows out of the ICB, f2048 past its last block.
  await m.write('one', 1, pseudoRandom('app1', 9000));
  await m.write('f2048', 2048, pseudoRandom('app2', 3000));
  // Truncates: shrink inside a block, grow sparse, then write into the hole.
  await m.truncate('big.bin', 10 * bs + 5);
  await m.truncate('f2047', 600 * 1024 + 3);
  await m.write('f2047', 300 * 1024, pseudoRandom('hole', 1234));
  await m.truncate('many/entry-05-nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn', 0);
  // Write past the end leaves a hole that reads as zeros.
  await m.create('gap', Buffer.from('start'));
  await m.write('gap', 70 * 1024, Buffer.from('end'));
  // Renames: in place, across directories, over a file, a directory elsewhere, over an empty directory.
  await m.rename('f2049', 'f2049-renamed');
  await m.rename('a/b/sibling', 'with space/sibling moved');
  await m.rename('one', 'f2048');
  await m.rename('a/b/c', 'moved-c');
  await m.mkdir('empty target');
  await m.rename('a/empty dir', 'empty target');
  // Removals.
  await m.unlink('empty');
  await m.unlink('a/hardlink-to-f2049');
  await m.unlink('moved-c/d/deep.txt');
  await m.rmdir('moved-c/d');
}

describeIf('UDF write engine, operations', () => {
  const tmp = makeTempDir('write-ops');
  afterAll(() => { if (!process.env.PKTFS_KEEP_TMP) removeTempDir(tmp); });

  describe.each(SPECS.map((s) => [specId(s), s] as const))('%s', (id, spec) => {
    const host = path.join(tmp, `${id}-host`);
    let img = '';
    let before: UdfInfo;
    beforeAll(async () => {
      buildSourceTree(host, 300 * 1024 + 9);
      fs.linkSync(path.join(host, 'f2049'), path.join(host, 'a/hardlink-to-f2049'));
      img = makeImage(spec, tmp, id);
      before = udfinfo(img);
      const m = await openRw(img);
      try {
        const vol = writable(m);
        await putTree(vol, vol.rootIno, host);
        await operations(new Mirror(host, vol), spec.bs);
      } finally {
        await m.close();
      }
    });

    it('udfinfo: closed, counts agree with the host tree', () => {
      const info = udfinfo(img);
      expect(info.errors).toEqual([]);
      expect(info.fields.integrity).toBe('closed');
      const want = countTree(walkHost(host));
      expect(info.numFiles).toBe(before.numFiles + want.files);
      expect(info.numDirs).toBe(want.dirs);
    });

    it('reopens with the host tree', async () => {
      expect(await withImage(img, {}, (vol) => walkVolume(vol, { checkLookup: true }))).toEqual(walkHost(host));
    });

    it('udfclient reads back every file byte-identical', async () => {
      const out = path.join(tmp, `${id}-udfclient`);
      // udfclient cannot be given a non-ASCII name to fetch (see expectSameFiles).
      const top = (p: string) => /^[\x20-\x7e]+$/.test(p.split('/')[0]);
      await udfclientGetAll(img, spec.bs, fs.readdirSync(host).filter(top), out);
      expectSameFiles(walkHost(out), walkHost(host).filter((e) => top(e.path)));
    });
  });
});
