/**
 * `pktfs info` on image files made by mkudffs (and filled by udfclient): every value
 * the report shares with udfinfo and blkid agrees with them, in the text form and
 * in the JSON form; no volume, damage and a missing file give the documented statuses.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { INFO_EXIT } from '../../bin/info';
import { humanBytes, INFO_FORMAT } from '../../bin/info-report';
import { fixTag } from '../helpers/tag';
import { blkidProbe, haveTools, udfinfo } from '../helpers/tools';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { info, infoJson, makeTree, mkImage, row, type InfoImage, type MkSpec } from './info-helpers';

const TOOLS = haveTools('mkudffs', 'udfinfo', 'udfclient', 'blkid');
const SPECS: MkSpec[] = [
  { name: 'hd-201-b512', media: 'hd', rev: '2.01', bs: 512, blocks: 65536, fill: true },
  { name: 'cdrw-201-sparable', media: 'cdrw', rev: '2.01', bs: 2048, blocks: 65536, fill: true },
  { name: 'dvdrw-150-sparable', media: 'dvdrw', rev: '1.50', bs: 2048, blocks: 32768 },
  { name: 'bdr-250-vat', media: 'bdr', rev: '2.50', bs: 2048, blocks: 4096 },
  { name: 'dvdram-200-b1024', media: 'dvdram', rev: '2.00', bs: 1024, blocks: 32768 },
];

let dir: string;
let images: InfoImage[] = [];

beforeAll(async () => {
  if (!TOOLS) return;
  dir = makeTempDir('info');
  const tree = makeTree(dir);
  images = await Promise.all(SPECS.map((s) => mkImage(s, dir, tree)));
});

afterAll(() => removeTempDir(dir));

const maybe = TOOLS ? test : test.skip;
if (!TOOLS) test('skipped: mkudffs, udfinfo, udfclient or blkid missing', () => undefined);

describe.each(SPECS.map((s) => [s.name, s] as const))('%s', (name, spec) => {
  maybe('JSON values agree with udfinfo and blkid', async () => {
    const img = images.find((i) => i.name === name)!;
    const j = await infoJson(img.path);
    const u = udfinfo(img.path);
    const b = blkidProbe(img.path);
    expect(j.format).toBe(INFO_FORMAT);
    expect(j.drive).toBeNull();
    expect(j.image).toMatchObject({ path: img.path, kind: 'file', sizeBytes: fs.statSync(img.path).size, sectorSize: 512, writable: true });
    expect(j.volumeStatus).toBe('found');
    const v = j.volume;
    expect(v.label).toBe(u.fields.lvid);
    expect(v.volumeId).toBe(u.fields.vid);
    expect(v.volumeSetId).toBe(u.fields.fullvsid);
    expect(v.uuid).toBe(u.fields.uuid);
    expect(v.blockSize).toBe(u.blockSize);
    expect(v.blockSize).toBe(spec.bs);
    expect(v.files).toBe(u.numFiles);
    expect(v.directories).toBe(u.numDirs);
    expect(v.freeBlocks).toBe(u.freeBlocks);
    expect(v.usedBlocks).toBe(u.usedBlocks);
    expect(v.freeBytes).toBe(u.freeBlocks * u.blockSize);
    expect(v.minUdfReadRevision).toBe(u.fields.udfrev);
    expect(v.minUdfWriteRevision).toBe(u.fields.udfwriterev);
    expect(v.integrity).toBe(u.fields.integrity);
    // blkid
    expect(v.label).toBe(b.ID_FS_LOGICAL_VOLUME_ID);
    expect(v.uuid).toBe(b.ID_FS_UUID);
    expect(v.revision).toBe(b.ID_FS_VERSION);
    expect(v.blockSize).toBe(Number(b.ID_FS_BLOCK_SIZE));
    if (spec.fill) {
      expect(v.files).toBeGreaterThanOrEqual(3);
      expect(v.directories).toBe(3);
    }
  });

  maybe('the text report shows the same values', async () => {
    const img = images.find((i) => i.name === name)!;
    const r = await info(img.path);
    const u = udfinfo(img.path);
    expect(r.code).toBe(INFO_EXIT.OK);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Image\n/);
    expect(r.stdout).toMatch(/\nUDF volume\n/);
    expect(row(r.stdout, 'label')).toBe(u.fields.lvid);
    expect(row(r.stdout, 'block size')).toBe(`${u.blockSize} bytes`);
    expect(row(r.stdout, 'integrity')).toBe(u.fields.integrity);
    expect(row(r.stdout, 'revision')).toMatch(new RegExp(`minimum read ${u.fields.udfrev.replace('.', '\\.')},`));
    const dirs = u.numDirs === 1 ? '1 directory' : `${u.numDirs} directories`;
    expect(row(r.stdout, 'files')).toBe(`${u.numFiles} file${u.numFiles === 1 ? '' : 's'}, ${dirs}`);
    expect(row(r.stdout, 'space')).toContain(`${u.freeBlocks} blocks (${humanBytes(u.freeBlocks * u.blockSize)}) free`);
    expect(row(r.stdout, 'space')).toContain(`${u.usedBlocks} blocks (${humanBytes(u.usedBlocks * u.blockSize)}) used`);
  });
});

maybe('partitions: kinds and access types as udfinfo, sparing table usage where sparable', async () => {
  const get = async (name: string) => (await infoJson(images.find((i) => i.name === name)!.path)).volume;
  const cd = await get('cdrw-201-sparable');
  expect(udfinfo(images[1].path).fields.accesstype).toBe('rewritable');
  expect(cd.partitions).toHaveLength(1);
  expect(cd.partitions[0]).toMatchObject({ kind: 'sparable', accessType: 'rewritable', packetLength: 32, sparingUsed: 0 });
  expect(cd.partitions[0].sparingTotal).toBeGreaterThan(0);
  const text = (await info(images[1].path)).stdout;
  expect(row(text, 'partitions')).toMatch(/^0: sparable, partition 0, blocks \d+-\d+, rewritable, packets of 32, sparing table 0\/\d+ entries used$/);

  const dvd = await get('dvdrw-150-sparable');
  // UDF 2.2.9: a sparable partition's packet length is 32 whatever the medium
  expect(dvd.partitions[0]).toMatchObject({ kind: 'sparable', packetLength: 32 });

  const hd = await get('hd-201-b512');
  expect(hd.partitions).toEqual([expect.objectContaining({ kind: 'physical', accessType: 'overwritable', packetLength: null, sparingTotal: null })]);
  expect(udfinfo(images[0].path).fields.accesstype).toBe('overwritable');
  expect(hd.writable).toBe(true);
  expect(hd.readOnlyReason).toBeNull();

  const bd = await get('bdr-250-vat');
  expect(bd.partitions.map((p: { kind: string }) => p.kind)).toEqual(['physical', 'virtual']);
  expect(bd.partitions[0].accessType).toBe('write-once');
  expect(udfinfo(images[3].path).fields.accesstype).toBe('writeonce');
  expect(bd.writable).toBe(false);
  expect(bd.readOnlyReason).toMatch(/VAT/);
  const bdText = (await info(images[3].path)).stdout;
  expect(row(bdText, 'writable', 'Image')).toBe('yes');
  expect(row(bdText, 'writable', 'UDF volume')).toMatch(/^no: .*VAT/);
});

maybe('an image without a UDF volume: says so, status 0', async () => {
  const img = path.join(dir, 'zeros.img');
  fs.writeFileSync(img, Buffer.alloc(1 << 20));
  const r = await info(img);
  expect(r.code).toBe(INFO_EXIT.OK);
  expect(r.stdout).toMatch(/^Image\n {2}image: +.*zeros\.img\n {2}size: +1048576 bytes \(1 MiB\)\n/);
  expect(r.stdout).toMatch(/\nNo UDF volume: .*no UDF anchor/);
  const j = await infoJson(img);
  expect(j).toMatchObject({ volumeStatus: 'absent', volume: null, image: { sizeBytes: 1 << 20, sectors: 2048 } });
  expect(j.volumeMessage).toMatch(/anchor/);
});

maybe('a volume whose descriptors are destroyed: report printed, one error line, status 3', async () => {
  const src = images.find((i) => i.name === 'dvdrw-150-sparable')!;
  const img = path.join(dir, 'damaged.img');
  fs.copyFileSync(src.path, img);
  // Wipe both volume descriptor sequences (udfinfo: MVDS and RVDS); the anchors stay.
  const layout = execFileSync('udfinfo', [src.path], { encoding: 'utf8' });
  const fd = fs.openSync(img, 'r+');
  for (const seq of ['MVDS', 'RVDS']) {
    const m = new RegExp(`start=(\\d+), blocks=(\\d+), type=${seq}`).exec(layout);
    fs.writeSync(fd, Buffer.alloc(Number(m![2]) * 2048), 0, Number(m![2]) * 2048, Number(m![1]) * 2048);
  }
  fs.closeSync(fd);
  const r = await info(img);
  expect(r.code).toBe(INFO_EXIT.VOLUME);
  expect(r.stdout).toMatch(/^Image\n/);
  expect(r.stdout).toMatch(/\nUDF volume unreadable: /);
  expect(r.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^pktfs: .*damaged\.img: UDF volume unreadable: /)]);
});

maybe('a volume not closed properly: integrity open (udfinfo: opened), and a warning', async () => {
  // an image as mkudffs left it: one LVID in the integrity sequence (udfclient adds more)
  const src = images.find((i) => i.name === 'dvdram-200-b1024')!;
  const img = path.join(dir, 'open.img');
  fs.copyFileSync(src.path, img);
  const lvid = Number(/start=(\d+), blocks=\d+, type=LVID/.exec(execFileSync('udfinfo', [img], { encoding: 'utf8' }))![1]);
  const bs = 1024;
  const fd = fs.openSync(img, 'r+');
  const b = Buffer.alloc(bs);
  fs.readSync(fd, b, 0, bs, lvid * bs);
  b.writeUInt32LE(0, 28); // ECMA-167 3/10.10.3 Integrity Type: 0 open
  fixTag(b, 0);
  fs.writeSync(fd, b, 0, bs, lvid * bs);
  fs.closeSync(fd);
  expect(udfinfo(img).fields.integrity).toBe('opened');
  const r = await info(img);
  expect(r.code).toBe(INFO_EXIT.OK);
  expect(row(r.stdout, 'integrity', 'UDF volume')).toBe('open');
  expect(row(r.stdout, 'warnings', 'UDF volume')).toMatch(/open/);
  const j = await infoJson(img);
  expect(j.volume.integrity).toBe('open');
  expect(j.volume.warnings).toEqual([expect.stringMatching(/open/)]);
});

test('a source that does not exist: one line on stderr, status 2, nothing on stdout', async () => {
  const r = await info('/nonexistent/disc.img');
  expect(r).toEqual({ code: INFO_EXIT.SOURCE, stdout: '', stderr: 'pktfs: /nonexistent/disc.img: no such file or device\n' });
});

test('a directory is not a source', async () => {
  const r = await info('/tmp', true);
  expect(r.code).toBe(INFO_EXIT.SOURCE);
  expect(r.stderr).toBe('pktfs: /tmp: not a regular file or block device\n');
});

test('humanBytes', () => {
  expect([0, 1023, 1024, 1536, 64 << 10, 16 << 20, 4.7e9].map(humanBytes))
    .toEqual(['0 bytes', '1023 bytes', '1 KiB', '1.5 KiB', '64 KiB', '16 MiB', '4.4 GiB']);
});
