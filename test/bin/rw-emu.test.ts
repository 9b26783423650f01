/**
 * Read-write mounts on the emulated drive, every rewritable profile (issue 3 section 5,
 * issue 4 section 6): `pktfs format`, mount, `cp -a` a tree, unmount; udfinfo and
 * udfclient then judge the image, and the drive's command log shows that every write
 * it received was a whole packet at a packet-aligned address, and that the copy wrote
 * its file data once. With defects injected where the copy writes, on CD-RW and DVD-RW,
 * the copy still succeeds, udfclient (which honours sparing tables) reads every file
 * back, and the sparing table records the remaps.
 */
import fs from 'fs';
import path from 'path';
import { haveTools, udfinfo } from '../helpers/tools';
import { pseudoRandom, walkHost } from '../helpers/tree';
import { expectSameFiles } from '../udf/write-helpers';
import { removeDir, run, tempDir } from '../fuse/helpers';
import { assertBuilt, pktfs, servingPid, waitGone } from './cli-helpers';
import { runAsync } from '../helpers/tools';

const TOOLS = haveTools('udfinfo', 'udfclient');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) test('skipped: udfinfo or udfclient missing', () => undefined);

const LABEL = 'PKTFS RW';
const UUID = '0123456789abcdef';
const VOLNAME = `${UUID}${LABEL}:${LABEL}:${LABEL}:${LABEL}`;

/** Profile, the packet size pktfs writes in (sectors), and whether the drive insists on it. */
const PROFILES = [
  { p: 'cdrw', packet: 32, strict: true },
  { p: 'dvdrw', packet: 16, strict: true },
  { p: 'dvd+rw', packet: 16, strict: false },
  { p: 'dvdram', packet: 16, strict: false },
  { p: 'bdre', packet: 32, strict: false },
] as const;

interface LogLine { op: number; name: string; lba?: number; count?: number; sense?: string }
const readLog = (f: string): LogLine[] => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
const writesOf = (log: LogLine[]): LogLine[] => log.filter((l) => /^WRITE/.test(l.name) && l.lba !== undefined);

function buildTree(dir: string): void {
  const file = (rel: string, data: Buffer | string): void => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
  };
  file('big.bin', pseudoRandom('emu-big', 5 * 1024 * 1024 + 17));
  file('one', 'x');
  for (let i = 0; i < 120; i++) file(`d${i % 7}/sub/f${i}`, pseudoRandom(`e${i}`, (i * 997) % 20000));
  fs.symlinkSync('d1/sub/f1', path.join(dir, 'link'));
}

async function mountCopyUnmount(source: string, src: string, mnt: string): Promise<void> {
  const r = await pktfs([source, mnt]);
  if (r.code !== 0) throw new Error(`pktfs ${source}: ${r.code} ${r.stderr}`);
  const pid = servingPid(mnt)!;
  const cp = await run('cp', ['-a', `${src}/.`, mnt], { timeout: 300000 });
  if (cp.code !== 0) throw new Error(`cp -a: ${cp.stderr}`);
  expect(walkHost(mnt)).toEqual(walkHost(src));
  const u = await run('umount', [mnt]);
  if (u.code !== 0) throw new Error(`umount: ${u.stderr}`);
  await waitGone(pid, 60000);
}

async function udfclientGet(img: string, names: string[], out: string): Promise<void> {
  fs.mkdirSync(out, { recursive: true });
  const script = `cd "${VOLNAME}"\nlcd "${out}"\n${names.map((n) => `mget "${n}"\n`).join('')}quit\n`;
  const r = await runAsync('udfclient', ['-b', '2048', img], script);
  if (r.status !== 0) throw new Error(`udfclient: ${r.stderr}`);
}

describeIf('read-write on the emulated drive', () => {
  let tmp: string;
  let src: string;
  beforeAll(() => {
    assertBuilt();
    tmp = tempDir('rw-emu');
    src = path.join(tmp, 'src');
    buildTree(src);
  });
  afterAll(async () => {
    if (tmp && !process.env.PKTFS_KEEP_TMP) await removeDir(tmp);
  });

  test.each(PROFILES.map((x) => [x.p, x] as const))('%s: format, cp -a, unmount; judged by udfinfo, udfclient and the drive log', async (p, x) => {
    const img = path.join(tmp, `${p}.img`);
    const log = path.join(tmp, `${p}.log`);
    const mnt = path.join(tmp, `${p}-mnt`);
    fs.mkdirSync(mnt);
    const f = await pktfs(['format', '-q', '-y', '-l', LABEL, '-u', UUID, `emu:${p}:${img},size=96m`]);
    expect(f).toMatchObject({ code: 0, stderr: '' });
    await mountCopyUnmount(`emu:${p}:${img},log=${log}`, src, mnt);

    const writes = writesOf(readLog(log));
    expect(writes.length).toBeGreaterThan(0);
    // Only whole packets at packet-aligned addresses (the partial last packet of the disc aside);
    // consecutive packets written out together go as one WRITE.
    const sectors = fs.statSync(img).size / 2048;
    const bad = writes.filter((w) => w.lba! % x.packet !== 0 || (w.count! % x.packet !== 0 && w.lba! + w.count! !== sectors));
    expect(bad).toEqual([]);
    expect(writes.filter((w) => w.sense)).toEqual([]);
    // Each packet is written as often as the copy needs: file data once; the packets holding
    // the integrity descriptor, the space bitmap and entries a few times (open, settle, close).
    const perPacket = new Map<number, number>();
    for (const w of writes) {
      for (let at = w.lba!; at < w.lba! + w.count!; at += x.packet) perPacket.set(at, (perPacket.get(at) ?? 0) + 1);
    }
    expect(writes.some((w) => w.count! > x.packet)).toBe(true);
    const counts = [...perPacket.values()];
    const once = counts.filter((n) => n === 1).length;
    // big.bin's packets (its first and last may share with entries written again later).
    const dataPackets = Math.floor((5 * 1024 * 1024) / (x.packet * 2048)) - 2;
    expect(once).toBeGreaterThanOrEqual(dataPackets);
    // Packets of entries and small files are written when full, then again when their entries
    // settle (sizes, times): at most twice that, and never more than half of all packets twice.
    expect(counts.filter((n) => n > 1).length).toBeLessThanOrEqual(Math.ceil(counts.length / 2));
    expect(Math.max(...counts)).toBeLessThanOrEqual(6);

    const u = udfinfo(img);
    expect(u.fields.integrity).toBe('closed');
    expect(u.errors).toEqual([]);
    const out = path.join(tmp, `${p}-udfclient`);
    await udfclientGet(img, fs.readdirSync(src), out);
    expectSameFiles(walkHost(out), walkHost(src));
  }, 300000);

  test.each([['cdrw', 32], ['dvdrw', 16]] as const)('%s with defects where the copy writes: remapped into the sparing area', async (p, packet) => {
    const img = path.join(tmp, `${p}-defects.img`);
    const mnt = path.join(tmp, `${p}-defects-mnt`);
    fs.mkdirSync(mnt);
    const f = await pktfs(['format', '-q', '-y', '-l', LABEL, '-u', UUID, `emu:${p}:${img},size=96m`]);
    expect(f).toMatchObject({ code: 0, stderr: '' });
    // Where the volume's free space starts: the first data the copy writes goes there.
    const info = JSON.parse((await pktfs(['info', '--json', `emu:${p}:${img}`])).stdout) as {
      volume: { partitions: { start: number; sparingUsed: number }[] };
    };
    const start = info.volume.partitions[0].start;
    const defects = [start + 4 * packet + 3, start + 20 * packet, start + 40 * packet + packet - 1].join('+');
    await mountCopyUnmount(`emu:${p}:${img},defects=${defects}`, src, mnt);

    const after = JSON.parse((await pktfs(['info', '--json', `emu:${p}:${img}`])).stdout) as typeof info;
    expect(after.volume.partitions[0].sparingUsed).toBeGreaterThanOrEqual(1);
    expect(udfinfo(img).fields.integrity).toBe('closed');
    const out = path.join(tmp, `${p}-defects-udfclient`);
    await udfclientGet(img, fs.readdirSync(src), out);
    expectSameFiles(walkHost(out), walkHost(src));
    // And pktfs reads it back through the map.
    const r = await pktfs(['-o', 'ro', `emu:${p}:${img}`, mnt]);
    expect(r.code).toBe(0);
    const pid = servingPid(mnt)!;
    try {
      expect(walkHost(mnt)).toEqual(walkHost(src));
    } finally {
      await run('umount', [mnt]);
      await waitGone(pid, 60000);
    }
  }, 300000);
});
