/**
 * The write engine's node cache is bounded (issue 6: memory with 1,000,000 files): clean file
 * entries and directories beyond NODE_CACHE.limit are dropped between operations and read again
 * when needed. With a tiny limit, a tree ten times its size is written, synced, read back and
 * changed after its nodes were dropped; udfclient and udfinfo judge the result.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NODE_CACHE, WritableUdfVolume } from '../../src/udf/write/volume';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, walkHost } from '../helpers/tree';
import { expectSameFiles, makeImage, openRw, udfclientGetAll, writable } from './write-helpers';

const TOOLS = haveTools('mkudffs', 'udfclient', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('write-cache: mkudffs/udfclient/udfinfo missing, skipped');

describeIf('node cache bound', () => {
  let dir: string;
  const saved = NODE_CACHE.limit;
  beforeAll(() => { dir = makeTempDir('pktfs-wcache-'); NODE_CACHE.limit = 24; });
  afterAll(() => { NODE_CACHE.limit = saved; removeTempDir(dir); });

  it('drops clean nodes beyond the limit and reads them back intact', async () => {
    const img = makeImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir);
    const host = path.join(dir, 'host');
    const m = await openRw(img);
    const vol = writable(m);
    expect(vol).toBeInstanceOf(WritableUdfVolume);
    const cached = (): number => (vol as WritableUdfVolume).cachedNodes;
    const files: { d: string; name: string; ino: number; data: Buffer }[] = [];
    for (const d of ['a', 'b', 'c']) {
      const dino = await vol.mkdir(vol.rootIno, d, 0o755, 0, 0);
      fs.mkdirSync(path.join(host, d), { recursive: true });
      for (let i = 0; i < 80; i++) {
        const name = `f${i}`;
        // Small files stay in the ICB, every fifth one has its data in blocks.
        const data = pseudoRandom(`${d}/${name}`, i % 5 === 0 ? 5000 + i : 100 + i);
        const ino = await vol.create(dino, name, 0o644, 0, 0);
        await vol.write(ino, 0, data);
        files.push({ d, name, ino, data });
      }
    }
    await vol.sync();
    await vol.getattr(vol.rootIno);
    expect(cached()).toBeLessThanOrEqual(NODE_CACHE.limit);

    // Everything reads back (through lookups, so directories are loaded again too).
    for (const f of files) {
      const ino = await vol.lookup(await vol.lookup(vol.rootIno, f.d), f.name);
      expect(ino).toBe(f.ino);
      expect((await vol.getattr(ino)).size).toBe(f.data.length);
      expect(Buffer.compare(await vol.read(ino, 0, f.data.length), f.data)).toBe(0);
    }
    expect(cached()).toBeLessThanOrEqual(4 * NODE_CACHE.limit);

    // Changes to nodes that were dropped and loaded again: appends, a rename, an unlink.
    for (const f of files.filter((_, i) => i % 7 === 0)) {
      const more = pseudoRandom(`more ${f.d}/${f.name}`, 3000);
      await vol.write(f.ino, f.data.length, more);
      f.data = Buffer.concat([f.data, more]);
    }
    const movedRec = files.find((f) => f.d === 'a' && f.name === 'f1')!;
    await vol.rename(await vol.lookup(vol.rootIno, 'a'), 'f1', await vol.lookup(vol.rootIno, 'c'), 'moved');
    Object.assign(movedRec, { d: 'c', name: 'moved' });
    await vol.unlink(await vol.lookup(vol.rootIno, 'b'), 'f2');
    const kept = files.filter((f) => !(f.d === 'b' && f.name === 'f2'));
    await m.close();

    for (const f of kept) fs.writeFileSync(path.join(host, f.d, f.name), f.data);
    const out = path.join(dir, 'out');
    await udfclientGetAll(img, 2048, ['a', 'b', 'c'], out);
    expectSameFiles(walkHost(out), walkHost(host));
    const info = udfinfo(img);
    expect(info.errors).toEqual([]);
    expect(info.numFiles).toBe(kept.length);
    expect(info.numDirs).toBe(4);
  });
});
