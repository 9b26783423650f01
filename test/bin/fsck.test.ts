/**
 * `pktfs fsck` as a command: modes (-n, -y, -p, asking, no terminal), the
 * documented exit statuses, the text and JSON reports, and repairs on the
 * emulated CD-RW drive, which refuses anything but whole aligned packets.
 * Volumes are written by the pktfs write engine and damaged with
 * test/udf/fsck-damage.ts; udfinfo judges the repaired ones.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { fsckCommand, FSCK_EXIT, FSCK_FORMAT, type FsckFlags, type FsckIO } from '../../bin/fsck';
import { MatrixSpec } from '../helpers/images';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, udfinfo } from '../helpers/tools';
import { buildSourceTree } from '../helpers/tree';
import { makeImage, openRw, putTree, writable } from '../udf/write-helpers';
import { Image, duplicateNameDamage, linkCountDamage, lvidCountsDamage, lvidOpenDamage, orphanDamage } from '../udf/fsck-damage';
import { assertBuilt, pktfs } from './cli-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo');
const maybe = TOOLS ? test : test.skip;
if (!TOOLS) test('skipped: mkudffs or udfinfo missing', () => undefined);

jest.setTimeout(60000);

let dir: string;
const base: Record<string, string> = {};

async function filled(spec: MatrixSpec, name: string, src: string): Promise<string> {
  const img = makeImage(spec, dir, name);
  const m = await openRw(img);
  try {
    const vol = writable(m);
    await putTree(vol, vol.rootIno, src);
  } finally {
    await m.close();
  }
  return img;
}

beforeAll(async () => {
  dir = makeTempDir('fsck-cli');
  if (!TOOLS) return;
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  buildSourceTree(src, 100000);
  base.hd = await filled({ media: 'hd', rev: '2.01', bs: 2048 }, 'hd', src);
  base.cdrw = await filled({ media: 'cdrw', rev: '2.01', bs: 2048, ad: 'long' }, 'cdrw', src);
});
afterAll(() => removeTempDir(dir));

let n = 0;
function copyOf(which: string, damage: ((img: Image) => void)[] = []): string {
  const img = path.join(dir, `${which}-${n++}.img`);
  fs.copyFileSync(base[which], img);
  const image = new Image(img, 2048);
  for (const d of damage) d(image);
  image.save();
  return img;
}

interface Run { code: number; out: string; err: string; asked: string[] }

async function run(source: string, flags: FsckFlags, opts: { interactive?: boolean; answers?: string[]; progress?: NodeJS.WritableStream; mountinfo?: string } = {}): Promise<Run> {
  const r: Run = { code: -1, out: '', err: '', asked: [] };
  const answers = [...(opts.answers ?? [])];
  const io: FsckIO = {
    out: (t) => { r.out += t; },
    err: (t) => { r.err += t; },
    interactive: !!opts.interactive,
    progress: opts.progress,
    ask: async (q) => { r.asked.push(q); return answers.shift(); },
    mountinfo: async () => opts.mountinfo ?? '',
  };
  r.code = await fsckCommand(source, flags, io);
  return r;
}

maybe('a clean volume: exit 0, "clean", its counts and free space as udfinfo says', async () => {
  const img = copyOf('hd');
  const r = await run(img, { n: true });
  expect(r).toMatchObject({ code: FSCK_EXIT.CLEAN, err: '' });
  const info = udfinfo(img);
  expect(r.out).toContain(`${img}: "pktfs test": clean\n`);
  expect(r.out).toContain(`${info.numFiles} files, ${info.numDirs} directories, `);
  expect(r.out).toContain(`(${info.freeBlocks} free, 2048 bytes each)`);
});

maybe('no flag and no terminal: checks only, says so, exits 4 naming the problem and leaves the image as it was', async () => {
  const img = copyOf('hd', [linkCountDamage.apply]);
  const before = fs.readFileSync(img);
  const r = await run(img, {});
  expect(r.code).toBe(FSCK_EXIT.LEFT);
  expect(r.err).toBe('pktfs fsck: no terminal to ask on without -y or -p: checking only, as with -n\n');
  expect(r.out).toMatch(/^link-count: \/a\/b\/sibling \(block \d+\): link count 3, 1 entry points at it\n {2}not repaired \(set the link count of \/a\/b\/sibling to 1\)\n/);
  expect(r.out).toContain('problems left (1 problem: 0 repaired, 1 left)');
  expect(fs.readFileSync(img).equals(before)).toBe(true);
});

maybe('-y repairs (exit 1), a second run is clean (exit 0), udfinfo agrees', async () => {
  const img = copyOf('hd', [linkCountDamage.apply, lvidOpenDamage.apply, orphanDamage.apply]);
  const r = await run(img, { y: true });
  expect(r.code).toBe(FSCK_EXIT.FIXED);
  expect(r.out).toContain('repaired: move it to /lost+found');
  expect(r.out).toContain('repaired: mark the volume closed');
  const again = await run(img, { n: true, verbose: true });
  expect(again.code).toBe(FSCK_EXIT.CLEAN);
  expect(again.out).toContain('1 pass\n');
  const info = udfinfo(img);
  expect(info.fields.integrity).toBe('closed');
  expect(again.out).toContain(`${info.numFiles} files, ${info.numDirs} directories, `);
});

maybe('-p repairs the safe problem and leaves the other: exit 5; the volume stays open meanwhile', async () => {
  const img = copyOf('hd', [lvidCountsDamage.apply, lvidOpenDamage.apply, orphanDamage.apply]);
  const r = await run(img, { p: true });
  expect(r.code).toBe(FSCK_EXIT.FIXED | FSCK_EXIT.LEFT);
  const left = JSON.parse((await run(img, { n: true, json: true })).out) as { problems: { code: string }[] };
  expect(left.problems.map((p) => p.code).sort()).toEqual(['lvid-open', 'orphan']);
});

maybe('asking on a terminal: a bad answer is asked again, "y" repairs, end of input is "no"', async () => {
  const img = copyOf('hd', [linkCountDamage.apply]);
  const r = await run(img, {}, { interactive: true, answers: ['maybe', 'y'] });
  expect(r.code).toBe(FSCK_EXIT.FIXED);
  expect(r.asked).toHaveLength(2);
  expect(r.out).toMatch(/^link-count: \/a\/b\/sibling \(block \d+\): link count 3, 1 entry points at it\n {2}repaired: set the link count/);
  expect(r.asked[0]).toBe('  Set the link count of /a/b/sibling to 1? (y = yes, n = no, a = yes to all) ');
  const img2 = copyOf('hd', [linkCountDamage.apply]);
  const r2 = await run(img2, {}, { interactive: true, answers: [] });
  expect(r2.code).toBe(FSCK_EXIT.LEFT);
  // What cannot be repaired is printed, and not asked about.
  const img3 = copyOf('hd', [duplicateNameDamage.apply]);
  const r3 = await run(img3, {}, { interactive: true, answers: [] });
  expect({ code: r3.code, asked: r3.asked }).toEqual({ code: FSCK_EXIT.LEFT, asked: [] });
  expect(r3.out).toMatch(/^name: directory \/: two entries named "f2047"\n/);
});

maybe('a progress bar on a terminal, none with --json', async () => {
  const img = copyOf('hd');
  const tty = () => {
    const s = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; text: string };
    s.isTTY = true;
    s.columns = 80;
    s.text = '';
    s.on('data', (d: Buffer) => { s.text += d.toString(); });
    return s;
  };
  const a = tty();
  expect((await run(img, { n: true }, { progress: a })).code).toBe(FSCK_EXIT.CLEAN);
  expect(a.text).toMatch(/pass 1 \|[█░]+\| \d+\/\d+ entries/);
  const b = tty();
  await run(img, { n: true, json: true }, { progress: b });
  expect(b.text).toBe('');
});

maybe('--json: one object in the documented format', async () => {
  const img = copyOf('hd', [linkCountDamage.apply]);
  const r = await run(img, { n: true, json: true });
  expect(r.code).toBe(FSCK_EXIT.LEFT);
  const j = JSON.parse(r.out);
  expect(j).toMatchObject({
    format: FSCK_FORMAT, source: img, mode: 'check', exit: 4, passes: 1,
    problems: [{ code: 'link-count', fix: 'set the link count of /a/b/sibling to 1', safe: true, pass: 1, outcome: 'declined' }],
    summary: { label: 'pktfs test', blockSize: 2048, skipped: [] },
  });
  const info = udfinfo(img);
  expect(j.summary).toMatchObject({ files: info.numFiles, dirs: info.numDirs, freeBlocks: info.freeBlocks });
});

maybe('a volume pktfs has mounted: repairs refused (8), checking warns', async () => {
  const img = copyOf('hd', [linkCountDamage.apply]);
  const mountinfo = `36 25 0:44 / /mnt/a\\040b rw,nosuid,nodev,relatime - fuse.pktfs ${img} rw,user_id=0,group_id=0\n`;
  const y = await run(img, { y: true }, { mountinfo });
  expect(y).toMatchObject({ code: FSCK_EXIT.OPERATIONAL, err: `pktfs fsck: ${img} is mounted on /mnt/a b: unmount it first, or check only with -n\n` });
  const emu = await run(`emu:cdrw:${img}`, { p: true }, { mountinfo });
  expect(emu.code).toBe(FSCK_EXIT.OPERATIONAL);
  const n = await run(img, { n: true }, { mountinfo });
  expect(n.code).toBe(FSCK_EXIT.LEFT);
  expect(n.err).toBe(`pktfs fsck: ${img} is mounted on /mnt/a b: what is found may be half written\n`);
  // Another file system of that source (not pktfs) is not our mount.
  const other = await run(img, { y: true }, { mountinfo: mountinfo.replace('fuse.pktfs', 'fuse.fuse2fs') });
  expect(other.code).toBe(FSCK_EXIT.FIXED);
});

maybe('usage and operational errors: 16 and 8', async () => {
  expect((await run('x.img', { n: true, y: true })).code).toBe(FSCK_EXIT.USAGE);
  expect((await run('emu:nosuch:/tmp/x', { n: true })).code).toBe(FSCK_EXIT.USAGE);
  const missing = await run(path.join(dir, 'missing.img'), { n: true });
  expect(missing).toMatchObject({ code: FSCK_EXIT.OPERATIONAL, err: expect.stringMatching(/no such file/) });
  const zeros = path.join(dir, 'zeros.img');
  fs.writeFileSync(zeros, Buffer.alloc(1 << 20));
  const notUdf = await run(zeros, { n: true });
  expect(notUdf).toMatchObject({ code: FSCK_EXIT.OPERATIONAL, err: expect.stringMatching(/no UDF anchor/) });
});

maybe('on the emulated CD-RW: repaired through the packet layer, only whole aligned packets written', async () => {
  const img = copyOf('cdrw', [linkCountDamage.apply, lvidOpenDamage.apply]);
  const log = path.join(dir, 'emu.log');
  const r = await run(`emu:cdrw:${img},log=${log}`, { y: true });
  expect(r.code).toBe(FSCK_EXIT.FIXED);
  const writes = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { name: string; lba?: number; count?: number; sense?: string })
    .filter((c) => c.name.startsWith('WRITE'));
  expect(writes.length).toBeGreaterThan(0);
  for (const w of writes) expect({ lba: w.lba! % 32, count: w.count! % 32, sense: w.sense }).toEqual({ lba: 0, count: 0, sense: undefined });
  expect((await run(`emu:cdrw:${img}`, { n: true })).code).toBe(FSCK_EXIT.CLEAN);
  expect(udfinfo(img).fields.integrity).toBe('closed');
});

maybe('the built pktfs has the subcommand: help, and the usage status', async () => {
  assertBuilt();
  const help = await pktfs(['fsck', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/Usage: pktfs fsck \[options\] <source>/);
  expect(help.stdout).toContain('8   operational error');
  expect((await pktfs(['fsck', '--nosuch', 'x'])).code).toBe(FSCK_EXIT.USAGE);
  const clean = await pktfs(['fsck', '-n', copyOf('hd')]);
  expect(clean.code).toBe(FSCK_EXIT.CLEAN);
});
