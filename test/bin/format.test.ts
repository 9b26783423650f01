/**
 * `pktfs format` on the emulated drive for every profile and on image files:
 * the disc is formatted as it needs, udfinfo and udfclient accept the volume
 * (udfclient writes files into it and reads them back), the drive's command log
 * shows only whole aligned packet writes where the medium needs them, write-once
 * discs are refused with status 3; an existing volume is kept unless confirmed;
 * bad invocations get status 1 and a one-line reason. Most cases run
 * formatCommand in-process; the built CLI is run for --help and the statuses.
 */
import * as fs from 'fs';
import * as path from 'path';
import { formatCommand, FORMAT_EXIT, type FormatCliOptions, type FormatIo } from '../../bin/format';
import { MEDIA } from '../../src/drive/emu/media';
import { openSource } from '../../src/drive/open';
import { openVolume, isWritable } from '../../src/udf';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, pool, runAsync, udfinfo } from '../helpers/tools';
import { withImage } from '../helpers/volume';
import { run as fuseRun } from '../fuse/helpers';
import { assertBuilt, pktfs } from './cli-helpers';

const TOOLS = haveTools('udfclient', 'udfinfo', 'mkudffs');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('format: udfclient/udfinfo/mkudffs missing, skipped');

const LABEL = 'PKTFS EMU';
const UUID = '0123456789abcdef';
const VOLNAME = `${UUID}${LABEL}:${LABEL}:${LABEL}:${LABEL}`;

interface Captured extends FormatIo { stdout: string; stderr: string }
function io(opts: Partial<FormatIo> = {}): Captured {
  const c: Captured = {
    stdout: '', stderr: '', isTTY: false, pollMs: 20, ...opts,
    out: (t) => { c.stdout += t; },
    err: (t) => { c.stderr += t; },
  };
  return c;
}

async function run(source: string, blocks: string | undefined, o: FormatCliOptions, c = io()): Promise<{ code: number; c: Captured }> {
  const code = await formatCommand(source, blocks, o, c);
  return { code, c };
}

interface LogLine { name: string; lba?: number; count?: number; sense?: string }
const readLog = (f: string): LogLine[] => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);

async function udfclient(img: string, script: string): Promise<string> {
  const r = await runAsync('udfclient', ['-W', '-b', '2048', img], script);
  const out = r.stdout + r.stderr;
  if (r.status !== 0 || /No space left|not implemented|bailing out|Invalid argument|No such file/.test(out)) {
    throw new Error(`udfclient on ${img} (status ${r.status}):\n${out.slice(-1500)}`);
  }
  return out;
}

const PROFILES = [
  { p: 'cdrw', media: 'cdrw', packet: 32, action: 'formatted (type 10h, packets of 32)', kind: 'sparable' },
  { p: 'dvdrw', media: 'dvdrw', packet: 16, action: 'formatted (type 15h, packets of 16)', kind: 'sparable' },
  { p: 'dvd+rw', media: 'dvdram', packet: 0, action: 'formatted (type 26h)', kind: 'plain' },
  { p: 'dvdram', media: 'dvdram', packet: 0, action: 'already formatted', kind: 'plain' },
  { p: 'bdre', media: 'bdre', packet: 0, action: 'formatted (type 30h)', kind: 'plain' },
] as const;

describeIf('pktfs format on the emulated drive', () => {
  const tmp = makeTempDir('format-emu');
  afterAll(() => removeTempDir(tmp));
  const src = path.join(tmp, 'src');
  const results = new Map<string, { code: number; c: Captured; img: string; log: string; extents: string[] }>();
  const extents = async (f: string) => (await runAsync('udfinfo', [f])).stdout.split('\n').filter((l) => l.startsWith('start='));

  beforeAll(async () => {
    fs.mkdirSync(path.join(src, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(src, 'small.txt'), 'hello from udfclient\n');
    fs.writeFileSync(path.join(src, 'dir', 'big.bin'), Buffer.alloc(200_000, 0x5a));
    await pool([...PROFILES], 3, async (x) => {
      const img = path.join(tmp, `${x.p}.img`);
      const log = path.join(tmp, `${x.p}.log`);
      const r = await run(`emu:${x.p}:${img},log=${log}`, undefined, { label: LABEL, uuid: UUID });
      results.set(x.p, { ...r, img, log, extents: await extents(img) });
      if (r.code !== 0) return;
      await udfclient(img, `cd "${VOLNAME}"\nlcd "${src}"\nmput small.txt dir\nquit\n`);
    });
  }, 60_000);

  test.each(PROFILES.map((x) => [x.p, x] as const))('%s: formatted, accepted by udfinfo and udfclient', async (_p, x) => {
    const r = results.get(x.p)!;
    expect([r.code, r.c.stderr]).toEqual([0, '']);
    expect(r.c.stdout).toContain(`disc ${x.action}`);
    expect(r.c.stdout).toContain(`(${x.media} layout, 2048-byte blocks, ${MEDIA[x.p].sectors} blocks)`);
    const info = udfinfo(r.img);
    expect(info.errors).toEqual([]);
    expect(info.fields.integrity).toBe('closed');
    expect(info.fields.label).toBe(LABEL);
    expect([info.numFiles, info.numDirs]).toEqual([2, 2]);
    expect(info.fields.accesstype).toBe(x.p === 'cdrw' ? 'rewritable' : 'overwritable');
    if (x.kind === 'sparable') expect(r.c.stdout).toMatch(new RegExp(`sparable partition .* packets of ${x.p === 'cdrw' ? 32 : 16}`));
    // as formatted (before udfclient added to the integrity sequence), laid out as mkudffs lays out that medium
    const ref = path.join(tmp, `${x.p}-mkudffs.img`);
    const mk = await runAsync('mkudffs', [`--media-type=${x.media === 'bdre' ? 'dvdram' : x.media}`, '--new-file', ref, String(MEDIA[x.p].sectors)]);
    expect(mk.status).toBe(0);
    expect(r.extents).toEqual(await extents(ref));
    fs.rmSync(ref);
    const out = path.join(tmp, `out-${x.p}`);
    fs.mkdirSync(out);
    await udfclient(r.img, `cd "${VOLNAME}"\nlcd "${out}"\nmget small.txt dir\nquit\n`);
    expect(fs.readFileSync(path.join(out, 'small.txt'), 'utf8')).toBe('hello from udfclient\n');
    expect(fs.readFileSync(path.join(out, 'dir', 'big.bin')).equals(Buffer.alloc(200_000, 0x5a))).toBe(true);
  });

  test.each(PROFILES.map((x) => [x.p, x] as const))('%s: the command log shows the format and only whole aligned packet writes', (_p, x) => {
    const log = readLog(results.get(x.p)!.log);
    const writes = log.filter((l) => l.name === 'WRITE(10)');
    expect(writes.length).toBeGreaterThan(5);
    expect(log.filter((l) => l.name === 'WRITE(10)' && l.sense)).toEqual([]);
    // every profile gets whole ECC blocks at least; CD-RW and DVD-RW refuse anything else
    const packet = x.packet || 16;
    expect(writes.filter((w) => (w.lba ?? 0) % packet !== 0 || (w.count ?? 0) % packet !== 0)).toEqual([]);
    expect(log.some((l) => l.name === 'FORMAT UNIT')).toBe(x.action !== 'already formatted');
    if (x.p === 'cdrw') expect(log.some((l) => l.name === 'MODE SELECT(10)')).toBe(true); // write parameters: fixed packets
  });

  test.each(PROFILES.map((x) => [x.p, x] as const))('%s: our reader mounts it read-write through the drive', async (_p, x) => {
    const dev = await openSource(`emu:${x.p}:${results.get(x.p)!.img}`);
    try {
      const vol = await openVolume(dev, { readWrite: true });
      expect(vol.info.readOnlyReason).toBeUndefined();
      expect(isWritable(vol)).toBe(true);
      expect(vol.info.partitions.map((p) => p.kind)).toEqual([x.kind === 'sparable' ? 'sparable' : 'physical']);
      expect((await vol.readdir(vol.rootIno)).map((e) => e.name).sort()).toEqual(['dir', 'small.txt']);
      await vol.close();
    } finally {
      await dev.close();
    }
  });

  test.each(['cdr', 'dvdr', 'bdr'])('%s: refused as write-once, status 3, nothing written', async (p) => {
    const img = path.join(tmp, `${p}.img`);
    const log = path.join(tmp, `${p}.log`);
    const r = await run(`emu:${p}:${img},log=${log}`, undefined, {});
    expect(r.code).toBe(FORMAT_EXIT.MEDIUM);
    expect(r.c.stderr).toMatch(new RegExp(`^pktfs: emu ${p} .*: a ${p === 'bdr' ? 'BD-R' : p === 'cdr' ? 'CD-R' : 'DVD-R'}.* disc is not rewritable: it cannot be formatted for packet writing\\n$`));
    expect(r.c.stdout).toBe('');
    expect(readLog(log).filter((l) => l.name === 'WRITE(10)' || l.name === 'FORMAT UNIT' || l.name === 'BLANK')).toEqual([]);
  });

  test('a disc holding a volume is formatted only when confirmed', async () => {
    const img = path.join(tmp, 'again.img');
    expect((await run(`emu:cdrw:${img}`, undefined, { label: 'FIRST', quiet: true })).code).toBe(0);
    const refused = await run(`emu:cdrw:${img}`, undefined, { label: 'SECOND' });
    expect(refused.code).toBe(FORMAT_EXIT.REFUSED);
    expect(refused.c.stderr).toMatch(/holds a UDF 2.01 volume "FIRST" \(0 files, 1 directories\); pktfs format --force formats it anyway\n$/);
    const no = await run(`emu:cdrw:${img}`, undefined, { label: 'SECOND' }, io({ ask: async () => 'n' }));
    expect(no.code).toBe(FORMAT_EXIT.REFUSED);
    expect(udfinfo(img).fields.label).toBe('FIRST');
    let asked = '';
    const yes = await run(`emu:cdrw:${img}`, undefined, { label: 'SECOND', packet: '16' }, io({ ask: async (q) => { asked = q; return 'y'; } }));
    expect(asked).toMatch(/holds a UDF 2.01 volume "FIRST".*\[y\/N\] $/);
    expect(yes.code).toBe(0);
    expect(yes.c.stdout).toContain('disc blanked; formatted (type 10h, packets of 16)');
    expect(udfinfo(img).fields.label).toBe('SECOND');
    const forced = await run(`emu:cdrw:${img}`, undefined, { label: 'THIRD', force: true, quiet: true });
    expect([forced.code, forced.c.stdout, forced.c.stderr]).toEqual([0, '', '']);
    expect(udfinfo(img).fields.label).toBe('THIRD');
  });

  test('progress of a long format is shown as lines without a terminal', async () => {
    const img = path.join(tmp, 'slow.img');
    const r = await run(`emu:bdre:${img},formattime=400`, undefined, {}, io({ progressMs: 0 }));
    expect(r.code).toBe(0);
    expect(r.c.stderr).toMatch(/^pktfs: emu bdre .*: formatting the disc: \d+%$/m);
  });

  test('a write error while writing the volume: status 5, one line', async () => {
    const img = path.join(tmp, 'bad-sector.img');
    // block 100 lies in the main volume descriptor sequence (96-127)
    const r = await run(`emu:cdrw:${img},defects=100`, undefined, {});
    expect(r.code).toBe(FORMAT_EXIT.FAILED);
    expect(r.c.stderr).toMatch(/^pktfs: emu cdrw \S*bad-sector\.img: writing the volume failed: WRITE\(10\) failed: MEDIUM ERROR: WRITE ERROR \(03\/0c\/00\)\n$/);
    expect(r.c.stderr.split('\n').length).toBe(2);
  });

  test('a write-protected disc: status 3', async () => {
    const img = path.join(tmp, 'prot.img');
    const r = await run(`emu:bdre:${img},protect=yes`, undefined, {});
    expect(r.code).toBe(FORMAT_EXIT.MEDIUM);
    expect(r.c.stderr).toMatch(/^pktfs: emu bdre .*prot\.img: .*protect/i);
  });
});

describeIf('pktfs format on image files', () => {
  const tmp = makeTempDir('format-img');
  afterAll(() => removeTempDir(tmp));

  test('--new-file makes the image, as mkudffs --new-file would lay it out', async () => {
    const img = path.join(tmp, 'new.img');
    const r = await run(img, '40000', { newFile: true, mediaType: 'dvdrw', udfrev: '2.00', label: 'NEW' });
    expect([r.code, r.c.stderr]).toEqual([0, '']);
    expect(fs.statSync(img).size).toBe(40000 * 2048);
    const ref = path.join(tmp, 'ref.img');
    const mk = await runAsync('mkudffs', ['--media-type=dvdrw', '--udfrev=2.00', '--new-file', ref, '40000']);
    expect(mk.status).toBe(0);
    const lines = async (f: string) => (await runAsync('udfinfo', [f])).stdout.split('\n').filter((l) => l.startsWith('start='));
    expect(await lines(img)).toEqual(await lines(ref));
    expect(udfinfo(img).fields.udfrev).toBe('2.00');
    const tiny = path.join(tmp, 'tiny.img');
    const t = await run(tiny, '1000', { newFile: true });
    expect([t.code, t.c.stderr]).toEqual([FORMAT_EXIT.MEDIUM, `pktfs: ${tiny}: 1000 blocks is too small for a UDF volume (at least 3072)\n`]);
    expect(fs.existsSync(tiny)).toBe(false); // the new file is removed again
    const again = await run(img, '40000', { newFile: true });
    expect(again.code).toBe(FORMAT_EXIT.SOURCE);
    expect(again.c.stderr).toBe(`pktfs: ${img}: already exists (--new-file makes a new image)\n`);
    expect(udfinfo(img).fields.label).toBe('NEW'); // and it is left alone
  });

  test('an existing image: hd with 512-byte blocks by default, BLOCKS limits the volume, uid/gid/mode', async () => {
    const img = path.join(tmp, 'old.img');
    fs.writeFileSync(img, Buffer.alloc(0));
    fs.truncateSync(img, 16 << 20);
    const r = await run(img, '20000', { uid: '1000', gid: '-1', mode: '0700' });
    expect(r.code).toBe(0);
    const info = udfinfo(img);
    expect(info.fields.blocksize).toBe('512');
    const extents = (await runAsync('udfinfo', [img])).stdout.split('\n').filter((l) => l.startsWith('start='));
    // laid out for 20000 blocks, not for the file's 32768: the reserve sequence sits near block 20000
    expect(extents).toContain('start=19840, blocks=16, type=RVDS');
    expect(r.c.stdout).toBe(`${img}: UDF 2.01 volume "LinuxUDF" (hd layout, 512-byte blocks, 20000 blocks): partition of 19480 blocks at 257; 19473 blocks (9.5 MiB) free\n`);
    const root = await withImage(img, { uid: 4242, gid: 4343 }, async (v) => v.getattr(v.rootIno));
    expect([root.uid, root.gid, (root.mode & 0o7777).toString(8)]).toEqual([1000, 4343, '700']);
    const big = await run(img, '99999', { force: true });
    expect(big.code).toBe(FORMAT_EXIT.MEDIUM);
    expect(big.c.stderr).toMatch(/99999 blocks of 512 bytes do not fit/);
  });

  test('bad invocations: status 1, one line, nothing written', async () => {
    const img = path.join(tmp, 'bad.img');
    fs.writeFileSync(img, Buffer.alloc(1 << 20));
    const cases: [string, string | undefined, FormatCliOptions, RegExp][] = [
      [img, undefined, { mediaType: 'cdr' }, /--media-type=cdr: write-once media \(VAT\) are not formatted by pktfs/],
      [img, undefined, { mediaType: 'floppy' }, /--media-type=floppy: use one of hd, dvd, dvdram, dvdrw, cdrw, bdre/],
      [img, undefined, { udfrev: '2.50' }, /--udfrev=2.50: pktfs formats UDF 1.02, 1.50, 2.00 and 2.01/],
      [img, undefined, { blocksize: '1000' }, /--blocksize=1000/],
      [img, undefined, { mode: '999' }, /--mode=999/],
      [img, undefined, { uid: 'root' }, /--uid root/],
      [img, undefined, { uuid: 'short' }, /--uuid=short/],
      [img, undefined, { newFile: true }, /--new-file needs BLOCKS/],
      [img, undefined, { full: true }, /--full is for discs/],
      [img, undefined, { mediaType: 'cdrw', udfrev: '1.02' }, /needs UDF 1.50/],
      [`emu:cdrw:${path.join(tmp, 'x.img')}`, '1000', {}, /BLOCKS is for image files/],
      [`emu:cdrw:${path.join(tmp, 'x.img')}`, undefined, { blocksize: '512' }, /optical discs have 2048-byte blocks/],
      ['emu:floppy:/x.img', undefined, {}, /unknown profile "floppy"/],
      [`emu:dvdrw:${path.join(tmp, 'y.img')}`, undefined, { packet: '32' }, /--packet: only CD-RW discs .* DVD-RW/],
    ];
    for (const [s, b, o, re] of cases) {
      const r = await run(s, b, o);
      expect([r.code, r.c.stderr]).toEqual([FORMAT_EXIT.USAGE, expect.stringMatching(re)]);
      expect(r.c.stderr.split('\n').length).toBe(2);
    }
    expect(fs.readFileSync(img).every((b) => b === 0)).toBe(true);
    const small = await run(img, undefined, {});
    expect(small.code).toBe(FORMAT_EXIT.MEDIUM);
    expect(small.c.stderr).toMatch(/too small/);
    const missing = await run(path.join(tmp, 'nope.img'), undefined, {});
    expect([missing.code, missing.c.stderr]).toEqual([FORMAT_EXIT.SOURCE, `pktfs: ${path.join(tmp, 'nope.img')}: no such file or device\n`]);
  });

  test('a mounted image is not formatted: status 2, the volume stays', async () => {
    assertBuilt();
    const img = path.join(tmp, 'mounted.img');
    expect((await run(img, '20000', { newFile: true, label: 'MOUNTED', quiet: true })).code).toBe(0);
    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    const m = await pktfs([img, mnt]);
    expect([m.code, m.stderr]).toEqual([0, '']);
    try {
      const r = await run(img, undefined, { force: true, label: 'OTHER' });
      expect([r.code, r.c.stderr]).toEqual([FORMAT_EXIT.SOURCE, `pktfs: ${img}: mounted on ${mnt}; unmount it first\n`]);
    } finally {
      await fuseRun('umount', [mnt]);
    }
    expect(udfinfo(img).fields.label).toBe('MOUNTED');
  });

  test('the built CLI: --help answers, statuses reach the shell', async () => {
    assertBuilt();
    const help = await pktfs(['format', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: pktfs format \[options\] <source> \[blocks\]/);
    expect(help.stdout).toMatch(/--media-type <type>[\s\S]*--udfrev[\s\S]*--new-file[\s\S]*Exit status:/);
    const img = path.join(tmp, 'cli.img');
    const ok = await pktfs(['format', '--new-file', '-m', 'cdrw', '-l', 'CLI', img, '10000']);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(udfinfo(img).fields.label).toBe('CLI');
    const refused = await pktfs(['format', img]);
    expect(refused.code).toBe(FORMAT_EXIT.REFUSED);
    const unknown = await pktfs(['format', '--bogus', img]);
    expect(unknown.code).toBe(1);
  });
});
