/**
 * The `.pktinfo` directory on a real mkudffs image filled by udfclient, stacked as
 * bin/serve.ts stacks it (image → PacketDevice → UDF volume) and mounted in this
 * process: every file read through the kernel (with Node and with cat), its JSON
 * checked against udfinfo and against what the test itself did; hidden, visible
 * and off; a `.pktinfo` on the disc shadowed with a warning; the flush control file.
 */
import { constants as fsc, promises as fsp } from 'fs';
import fs from 'fs';
import path from 'path';
import { openStack, closeStack, type Stack } from '../../bin/stack';
import { PktfsMount } from '../../src/fuse/mount';
import type { PktinfoSettings } from '../../src/fuse/pktinfo';
import { PKTINFO_FILES, PKTINFO_VERSION } from '../../src/fuse/pktinfo-files';
import { parseMountOptions, splitOptions } from '../../src/options';
import { IDS, buildMatrixImage, type BuiltImage } from '../helpers/images';
import { haveTools, udfinfo } from '../helpers/tools';
import { buildSourceTree, pseudoRandom } from '../helpers/tree';
import { removeDir, run, tempDir } from './helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient');
const maybe = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: mkudffs, udfinfo or udfclient missing', () => undefined);

let dir: string;
let image: BuiltImage;
const BIG = 700_000;

/** A mount of `img` through the whole stack, with these option words. */
interface Mounted {
  mnt: string;
  stack: Stack;
  mount: PktfsMount;
}
const mounts: Mounted[] = [];
let counter = 0;

async function mountImage(img: string, words: string[], readOnly = true): Promise<Mounted> {
  const opts = parseMountOptions(splitOptions(words));
  const stack = await openStack(img, { ...opts, readOnly });
  const mnt = path.join(dir, `mnt${++counter}`);
  fs.mkdirSync(mnt);
  const pktinfo: PktinfoSettings = { mode: opts.pktinfo, packets: stack.packets, mount: { source: img, ...stack.facts } };
  const mount = await PktfsMount.mount(stack.volume, mnt, { source: img, readOnly, pollMs: 200, pktinfo, writeBehind: opts.writeBehind });
  const m = { mnt, stack, mount };
  mounts.push(m);
  return m;
}

async function unmountAll(): Promise<void> {
  for (const m of mounts.splice(0)) {
    await m.mount.unmount().catch(() => undefined);
    await closeStack(m.stack).catch(() => undefined);
  }
}

const readJson = async (p: string): Promise<Record<string, any>> => JSON.parse(await fsp.readFile(p, 'utf8'));

beforeAll(async () => {
  dir = tempDir('pktinfo');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  buildSourceTree(src, BIG);
  // A directory the disc itself calls .pktinfo: ours must shadow it, with a warning.
  fs.mkdirSync(path.join(src, '.pktinfo'));
  fs.writeFileSync(path.join(src, '.pktinfo', 'ondisc.txt'), 'from the disc\n');
  image = await buildMatrixImage({ media: 'hd', rev: '2.01', bs: 2048 }, dir, src);
}, 120000);

afterAll(async () => {
  await unmountAll();
  if (dir) await removeDir(dir);
});

maybe('.pktinfo on a read-only mount (hidden, the default)', () => {
  let m: Mounted;
  let info: string;
  beforeAll(async () => {
    m = await mountImage(image.path, []);
    info = path.join(m.mnt, '.pktinfo');
  });
  afterAll(unmountAll);

  test('hidden from the root listing (ls -a, readdir) but reachable: stat, ls', async () => {
    const ls = await run('ls', ['-a', m.mnt]);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split('\n')).not.toContain('.pktinfo');
    expect(ls.stdout.split('\n')).toContain('big.bin');
    expect(await fsp.readdir(m.mnt)).not.toContain('.pktinfo');
    const st = await fsp.stat(info);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o555);
    const inner = await run('ls', ['-a', info]);
    expect(inner.stdout.split('\n').filter(Boolean).sort()).toEqual(['.', '..', ...PKTINFO_FILES.map((f) => f.name)].sort());
  });

  test('the disc\'s own .pktinfo is shadowed, with a warning at mount', async () => {
    expect(m.mount.warnings.join('\n')).toMatch(/volume's own \/\.pktinfo is hidden by pktfs's status directory .*pktinfo=off/);
    await expect(fsp.stat(path.join(info, 'ondisc.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('every file reads; sizes in stat match what read gives; modes', async () => {
    for (const f of PKTINFO_FILES) {
      const p = path.join(info, f.name);
      const st = await fsp.stat(p);
      expect(st.isFile()).toBe(true);
      expect(st.mode & 0o777).toBe(f.control ? 0o200 : 0o444);
      const data = await fsp.readFile(p, 'utf8');
      if (f.control) expect(data).toBe('');
      else expect(data.length).toBeGreaterThan(0);
      // Through cat too: it reads up to the size the kernel has, so a wrong size cuts the output.
      const cat = await run('cat', [p]);
      expect(cat.code).toBe(0);
      if (f.name.endsWith('.json')) expect(() => JSON.parse(cat.stdout)).not.toThrow();
    }
    expect(await fsp.readFile(path.join(info, 'version'), 'utf8')).toBe(`${PKTINFO_VERSION}\n`);
  });

  test('volume.json agrees with udfinfo and mkudffs\'s arguments; volume says the same in words', async () => {
    const v = await readJson(path.join(info, 'volume.json'));
    const u = udfinfo(image.path);
    expect(v).toMatchObject({
      version: PKTINFO_VERSION,
      label: IDS.lvid,
      revision: '2.01',
      blockSize: 2048,
      integrity: 'closed',
      freeBlocks: u.freeBlocks,
      usedBlocks: u.usedBlocks,
      numFiles: u.numFiles,
      numDirs: u.numDirs,
      readOnly: true,
      source: image.path,
    });
    expect(v.freeBytes).toBe(u.freeBlocks * 2048);
    expect(v.partitions.map((p: { kind: string }) => p.kind)).toEqual(['physical']);
    expect(typeof v.readOnlyReason).toBe('string');
    expect(Array.isArray(v.warnings)).toBe(true);
    const text = await fsp.readFile(path.join(info, 'volume'), 'utf8');
    expect(text).toContain(`\tlabel:\t\t\t${IDS.lvid}\n`);
    expect(text).toContain(`\tfree blocks:\t\t${u.freeBlocks} `);
    expect(text).toMatch(/\tintegrity:\t\tclosed\n/);
    expect(text).toMatch(/\t0:\t\t\tphysical \(number \d+, /);
  });

  test('stats.json: bytes read (by the packet layer, or by the binding from the image) grow by at least a file read through the mount; info shows the same counters', async () => {
    const before = await readJson(path.join(info, 'stats.json'));
    expect(before).toMatchObject({
      version: PKTINFO_VERSION, packetBytes: 32768, sectorSize: 512, sectorsPerPacket: 64, cacheBytes: 16 << 20,
      flushDelayMs: 1000, packetSource: 'default', readOnly: true, queueSize: 0, packetsStarted: 0, kbWritten: 0,
    });
    const data = await fsp.readFile(path.join(m.mnt, 'big.bin'));
    expect(data.equals(pseudoRandom('big', BIG))).toBe(true);
    // cat, not Node: cat reads up to the size the kernel last heard of, which must be this snapshot's.
    const cat = await run('cat', [path.join(info, 'stats.json')]);
    const after = JSON.parse(cat.stdout);
    // The file sits unchanged in the image: the binding reads it from there (src/fuse/context.ts, DirectReads).
    expect(after.bytesRead - before.bytesRead + after.directRead.bytes - before.directRead.bytes).toBeGreaterThanOrEqual(BIG);
    expect(after.directRead.bytes - before.directRead.bytes).toBeGreaterThan(0);
    expect(after.kbRead).toBe(Math.floor(after.bytesRead / 1024));
    expect(after.cachedPackets).toBeGreaterThan(0);
    // The text file is generated afresh: its kB read is at least the JSON's.
    const text = await fsp.readFile(path.join(info, 'info'), 'utf8');
    const kb = Number(/\n\tread:\t\t\t(\d+)kB\n/.exec(text)?.[1]);
    expect(kb).toBeGreaterThanOrEqual(after.kbRead);
    for (const line of ['Settings:', 'Statistics:', 'Queue state:', '\tpacket size:\t\t32kB', '\tpackets started:\t0', 'Volume:', '\tUDF revision:\t\t2.01']) {
      expect(text).toContain(line);
    }
  });

  test('a file held open keeps its snapshot; fstat and read agree; a new open sees new numbers', async () => {
    const p = path.join(info, 'stats.json');
    const fh = await fsp.open(p, 'r');
    const size = (await fh.stat()).size;
    await fsp.readFile(path.join(m.mnt, 'f2049'));
    await fsp.readFile(path.join(m.mnt, 'a/b/sibling'));
    expect((await fh.stat()).size).toBe(size);
    const held = JSON.parse((await fh.readFile()).toString('utf8'));
    await fh.close();
    const fresh = await readJson(p);
    expect(fresh.bytesRead).toBeGreaterThan(held.bytesRead);
  });

  test('cache and wear: settings, use, and a read-only mount has written nothing', async () => {
    const cache = await fsp.readFile(path.join(info, 'cache'), 'utf8');
    expect(cache).toContain('\tcache size:\t\t16384kB (512 packets)');
    expect(cache).toMatch(/\tcached:\t\t\t\d+ packets, \d+kB/);
    const wear = await readJson(path.join(info, 'wear.json'));
    expect(wear).toMatchObject({ version: PKTINFO_VERSION, packetBytes: 32768, packetsWritten: 0, packetRewrites: 0, mostWritten: [], histogram: [] });
    expect(wear.packetCount).toBe(Math.ceil(fs.statSync(image.path).size / 32768));
    expect(await fsp.readFile(path.join(info, 'wear'), 'utf8')).toContain('\tpackets written:\t0 of ');
  });

  test('nothing in .pktinfo can be changed; on a read-only mount flush answers EROFS', async () => {
    await expect(fsp.writeFile(path.join(info, 'flush'), '1\n')).rejects.toMatchObject({ code: 'EROFS' });
    await expect(fsp.unlink(path.join(info, 'info'))).rejects.toMatchObject({ code: 'EROFS' });
    const sh = await run('sh', ['-c', `echo 1 > '${info}/flush'`]);
    expect(sh.code).not.toBe(0);
    expect(sh.stderr).toMatch(/Read-only file system/);
  });
});

maybe('.pktinfo visible, off, and the flush control file on a writable mount', () => {
  afterEach(unmountAll);

  test('pktinfo=visible lists it in the root; stat still works', async () => {
    const m = await mountImage(image.path, ['pktinfo=visible']);
    const names = (await run('ls', ['-a', m.mnt])).stdout.split('\n');
    expect(names.filter((n) => n === '.pktinfo')).toHaveLength(1);
    expect((await fsp.stat(path.join(m.mnt, '.pktinfo'))).isDirectory()).toBe(true);
  });

  test('pktinfo=off: no status directory; the disc\'s own .pktinfo shows, and no warning', async () => {
    const m = await mountImage(image.path, ['pktinfo=off']);
    expect(m.mount.warnings).toEqual([]);
    expect(await fsp.readFile(path.join(m.mnt, '.pktinfo', 'ondisc.txt'), 'utf8')).toBe('from the disc\n');
    await expect(fsp.stat(path.join(m.mnt, '.pktinfo', 'stats.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('packet=, cache=, flush= reach the packet layer and show in stats.json', async () => {
    const m = await mountImage(image.path, ['packet=4,cache=256K,flush=off']);
    const s = await readJson(path.join(m.mnt, '.pktinfo', 'stats.json'));
    expect(s).toMatchObject({ packetBytes: 8192, sectorsPerPacket: 16, cacheBytes: 262144, flushDelayMs: null, packetSource: 'option' });
    // A cache far smaller than the file: reads still come back whole.
    expect((await fsp.readFile(path.join(m.mnt, 'big.bin'))).equals(pseudoRandom('big', BIG))).toBe(true);
    const after = await readJson(path.join(m.mnt, '.pktinfo', 'stats.json'));
    expect(after.cachedBytes).toBeLessThanOrEqual(262144);
  });

  test('stats.json answers: the requests pktfs answered after waiting, per operation, with their times', async () => {
    const copy = path.join(dir, 'answers.img');
    fs.copyFileSync(image.path, copy);
    // Writes answered before they run (write-behind.ts) are answered at once, not counted here.
    const m = await mountImage(copy, ['write_behind=off'], false);
    const stats = path.join(m.mnt, '.pktinfo', 'stats.json');
    type Answers = Record<string, { count: number; meanUs: number; maxUs: number }>;
    const before = (await readJson(stats)).answers as Answers;
    for (let i = 0; i < 5; i++) await fsp.writeFile(path.join(m.mnt, `answered${i}`), `file ${i}\n`);
    await fsp.mkdir(path.join(m.mnt, 'answered-dir'));
    const after = (await readJson(stats)).answers as Answers;
    const grew = (op: string): number => after[op].count - (before[op]?.count ?? 0);
    expect(grew('create')).toBe(5);
    expect(grew('write')).toBe(5);
    expect(grew('mkdir')).toBe(1);
    for (const a of Object.values(after)) {
      expect(Number.isInteger(a.meanUs) && Number.isInteger(a.maxUs)).toBe(true);
      expect(a.maxUs).toBeGreaterThanOrEqual(a.meanUs);
    }
    // Busiest first: by total time (count x mean, up to rounding).
    const totals = Object.values(after).map((a) => a.count * a.meanUs);
    for (let i = 1; i < totals.length; i++) expect(totals[i]).toBeLessThanOrEqual(totals[i - 1] + after[Object.keys(after)[i]].count);
  });

  test('writing to flush writes every dirty packet and flushes the device before it returns', async () => {
    const copy = path.join(dir, 'writable.img');
    fs.copyFileSync(image.path, copy);
    // Only the flush file needs a writable mount: the volume stays as read-only as ever.
    const m = await mountImage(copy, ['flush=off'], false);
    const info = path.join(m.mnt, '.pktinfo');
    // Dirty part of one packet in the last (free) part of the image, straight through the packet layer.
    const lba = m.stack.packets.sectorCount - 200;
    const bytes = pseudoRandom('dirty', 1024);
    await m.stack.packets.write(lba, bytes);
    const before = await readJson(path.join(info, 'stats.json'));
    expect(before).toMatchObject({ queueSize: 1, packetsEnded: 0, states: { dirty: 1 } });
    expect(fs.readFileSync(copy).subarray(lba * 512, lba * 512 + 1024).equals(bytes)).toBe(false);

    const sh = await run('sh', ['-c', `echo now > '${info}/flush'`]);
    expect(sh).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readFileSync(copy).subarray(lba * 512, lba * 512 + 1024).equals(bytes)).toBe(true);
    const after = await readJson(path.join(info, 'stats.json'));
    expect(after).toMatchObject({ queueSize: 0, packetsStarted: 1, packetsEnded: 1, kbDeviceWritten: 32, packetsWrittenDistinct: 1 });
    const wear = await readJson(path.join(info, 'wear.json'));
    const packet = Math.floor(lba / 64);
    expect(wear.mostWritten).toEqual([{ packet, writes: 1, firstSector: packet * 64 }]);
    expect(wear.histogram).toEqual([{ min: 1, max: 1, packets: 1 }]);

    // Status files stay read-only, and the tree inside can't change.
    await expect(fsp.writeFile(path.join(info, 'stats.json'), 'x')).rejects.toMatchObject({ code: 'EACCES' });
    await expect(fsp.unlink(path.join(info, 'info'))).rejects.toMatchObject({ code: 'EPERM' });
    await expect(fsp.mkdir(path.join(info, 'x'))).rejects.toMatchObject({ code: 'EPERM' });
    await expect(fsp.access(path.join(info, 'flush'), fsc.W_OK)).resolves.toBeUndefined();
  });
});
