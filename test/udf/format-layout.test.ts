/**
 * The formatter's layout against mkudffs 2.3's for the same --media-type,
 * revision, block size and size: udfinfo of both images, field by field and
 * extent by extent (VRS, MVDS, RVDS, LVID, anchors, sparing tables, sparing
 * space, partition), and our reader's view of the partition map (packet
 * length, sparing entries). The differences that remain are deliberate:
 *   - usedblocks: mkudffs also writes an empty system stream directory from UDF
 *     2.00 (one block) and, on sparable media, a "Non-Allocatable Space" entry
 *     (one block; a hidden file below 2.00, a system stream from 2.00) that
 *     lists nothing, since its sparing space lies outside the partition. pktfs
 *     writes neither, so it uses one block less for each.
 *   - numfiles: that hidden file counts as a file on mkudffs's 1.50 sparable media.
 *   - identifiers and times (application/implementation ids, uuid, dates).
 */
import * as path from 'path';
import { planLayout } from '../../src/udf/format';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools, pool } from '../helpers/tools';
import { withImage } from '../helpers/volume';
import { mkudffsImage, pktfsFormatImage, udfinfoView } from './format-helpers';
import type { FormatMediaType } from '../../src/udf/format';

const TOOLS = haveTools('mkudffs', 'udfinfo');
const describeIf = TOOLS ? describe : describe.skip;
if (!TOOLS) console.warn('format-layout: mkudffs/udfinfo missing, skipped');

interface Case { media: FormatMediaType; rev: string; bs: number; blocks: number; mk?: string }
const CASES: Case[] = [
  { media: 'hd', rev: '2.01', bs: 512, blocks: 40000 },
  { media: 'hd', rev: '1.50', bs: 2048, blocks: 40003 },
  { media: 'hd', rev: '2.00', bs: 4096, blocks: 40000 },
  { media: 'hd', rev: '1.02', bs: 1024, blocks: 9000 },
  { media: 'dvd', rev: '2.01', bs: 2048, blocks: 40000 },
  { media: 'dvdram', rev: '2.00', bs: 2048, blocks: 100000 },
  { media: 'dvdram', rev: '1.50', bs: 512, blocks: 5000 },
  { media: 'bdre', rev: '2.01', bs: 2048, blocks: 60000, mk: 'dvdram' },
  { media: 'dvdrw', rev: '1.50', bs: 2048, blocks: 40000 },
  { media: 'dvdrw', rev: '2.01', bs: 2048, blocks: 40003 },
  { media: 'dvdrw', rev: '2.01', bs: 4096, blocks: 40000 },
  { media: 'dvdrw', rev: '2.00', bs: 512, blocks: 65536 },
  { media: 'cdrw', rev: '2.01', bs: 2048, blocks: 295264 },
  { media: 'cdrw', rev: '2.00', bs: 2048, blocks: 5000 },
  { media: 'cdrw', rev: '1.50', bs: 512, blocks: 40000 },
  { media: 'cdrw', rev: '2.01', bs: 1024, blocks: 70001 },
  // the emulated drive's discs (src/drive/emu/media.ts)
  { media: 'dvdrw', rev: '2.01', bs: 2048, blocks: 2295104 },
  { media: 'dvdram', rev: '2.01', bs: 2048, blocks: 2236704 },
  { media: 'bdre', rev: '2.01', bs: 2048, blocks: 11826176, mk: 'dvdram' },
];
const caseId = (c: Case) => `${c.media} ${c.rev} b${c.bs} ${c.blocks}`;
const revOf = (s: string) => parseInt(s.replace('.', ''), 16);
const sparable = (m: string) => m === 'cdrw' || m === 'dvdrw';

describeIf('pktfs format lays volumes out as mkudffs does', () => {
  const tmp = makeTempDir('format-layout');
  afterAll(() => removeTempDir(tmp));
  const made = new Map<string, { ours: string; theirs: string }>();

  beforeAll(async () => {
    await pool(CASES, 4, async (c) => {
      const id = caseId(c).replace(/ /g, '_');
      const ours = path.join(tmp, `${id}.pktfs.img`);
      const theirs = path.join(tmp, `${id}.mkudffs.img`);
      await pktfsFormatImage(ours, c.blocks, { media: c.media, udfRev: revOf(c.rev), blockSize: c.bs });
      await mkudffsImage(theirs, c.blocks, c.mk ?? c.media, c.rev, c.bs);
      made.set(caseId(c), { ours, theirs });
    });
  }, 60_000);

  test.each(CASES.map((c) => [caseId(c), c] as const))('%s: udfinfo agrees', async (_id, c) => {
    const { ours, theirs } = made.get(caseId(c))!;
    const a = await udfinfoView(ours);
    const b = await udfinfoView(theirs);
    expect(a.status).toBe(0);
    expect(a.stderr).not.toMatch(/error|warning/i);
    expect(a.extents).toEqual(b.extents);
    for (const k of ['blocksize', 'blocks', 'udfrev', 'udfwriterev', 'integrity', 'accesstype', 'numdirs', 'behindblocks',
      'softwriteprotect', 'hardwriteprotect', 'label', 'lvid', 'vid', 'fsid']) {
      expect([k, a.fields[k]]).toEqual([k, b.fields[k]]);
    }
    const extra = (revOf(c.rev) >= 0x0200 ? 1 : 0) + (sparable(c.media) ? 1 : 0);
    expect(Number(a.fields.usedblocks)).toBe(Number(b.fields.usedblocks) - extra);
    expect(Number(a.fields.freeblocks)).toBe(Number(b.fields.freeblocks) + extra);
    const hiddenNas = sparable(c.media) && revOf(c.rev) < 0x0200 ? 1 : 0;
    expect(Number(a.fields.numfiles)).toBe(Number(b.fields.numfiles) - hiddenNas);
  });

  test.each(CASES.map((c) => [caseId(c), c] as const))('%s: same partition map and sparing tables', async (_id, c) => {
    const { ours, theirs } = made.get(caseId(c))!;
    const mine = await withImage(ours, {}, async (v) => v.info);
    const ref = await withImage(theirs, {}, async (v) => v.info);
    expect(mine.partitions).toEqual(ref.partitions);
    expect(mine.blockSize).toBe(c.bs);
    expect(mine.revision).toBe(c.rev);
    expect(mine.integrity).toBe('closed');
    expect(mine.warnings).toEqual([]);
    expect(mine.numDirs).toBe(1);
  });
});

describe('planLayout refuses what it cannot lay out', () => {
  test('too small', () => {
    expect(() => planLayout({ media: 'hd', blocks: 3000, blockSize: 2048, udfRev: 0x0201 })).toThrow(/too small/);
  });
  test('bad block size', () => {
    expect(() => planLayout({ media: 'hd', blocks: 40000, blockSize: 3000, udfRev: 0x0201 })).toThrow(/block size 3000/);
  });
  test('sparable packet length: 32 before UDF 2.01 (DCN-5163), the ECC block of 16 on DVD-RW from 2.01', () => {
    expect(planLayout({ media: 'dvdrw', blocks: 40000, blockSize: 2048, udfRev: 0x0200 }).sparing?.packetLength).toBe(32);
    expect(planLayout({ media: 'dvdrw', blocks: 40000, blockSize: 2048, udfRev: 0x0201 }).sparing?.packetLength).toBe(16);
    expect(planLayout({ media: 'cdrw', blocks: 40000, blockSize: 2048, udfRev: 0x0150 }).sparing?.packetLength).toBe(32);
  });
});
