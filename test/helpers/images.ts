/**
 * UDF images built at test time with Debian's tools, and the fixtures made by
 * other writers in ../shared/fixtures/udf.
 *
 * What mkudffs 2.3 accepts (checked by hand, see MKUDFFS_REFUSED): every block size
 * on every media type; UDF 2.50/2.60 only on the VAT media (cdr, dvdr, bdr), so it
 * never makes a metadata partition; bdr needs >= 2.50; cdr/cdrw/dvdr/dvdrw need
 * >= 1.50; --space is refused with VAT. udfclient 0.8 fills plain and sparable images
 * but not VAT ones ("get lbs from virtual partition mapping not implemented"), so VAT
 * images stay empty. udfclient puts every FE and FID block in the first 1/1024 of the
 * partition (shifting that window at most 16 times), so images are sized at 65536
 * blocks: sparse files of 32 to 256 MiB, of which a few MiB are written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { pool, runAsync, run, udfinfo, xzDecompress } from './tools';
import { countTree, walkHost } from './tree';

export type Media = 'hd' | 'dvd' | 'dvdram' | 'dvdrw' | 'cdrw' | 'cdr' | 'dvdr' | 'bdr';
export type Space = 'unallocbitmap' | 'unalloctable' | 'freedbitmap' | 'freedtable';

export interface MatrixSpec {
  media: Media;
  rev: '1.02' | '1.50' | '2.00' | '2.01' | '2.50' | '2.60';
  bs: 512 | 1024 | 2048 | 4096;
  ad?: 'inicb' | 'short' | 'long';
  space?: Space;
  /** Further mkudffs options (--strategy=4096, --noefe, --closed). */
  extra?: string[];
  /** Size in blocks (default 65536, VAT 4096). */
  blocks?: number;
}

/** mkudffs 2.3's refusals, [media, revisions, message], kept here as documentation and tested. */
export const MKUDFFS_REFUSED: [Media, string[], RegExp][] = [
  ['hd', ['2.50', '2.60'], /above 2.01 is not currently supported/],
  ['dvd', ['2.50', '2.60'], /above 2.01 is not currently supported/],
  ['dvdram', ['2.50', '2.60'], /above 2.01 is not currently supported/],
  ['dvdrw', ['1.02', '2.50', '2.60'], /UDF revision/],
  ['cdrw', ['1.02', '2.50', '2.60'], /UDF revision/],
  ['cdr', ['1.02'], /At least UDF revision 1.50/],
  ['dvdr', ['1.02'], /At least UDF revision 1.50/],
  ['bdr', ['1.02', '1.50', '2.00', '2.01'], /At least UDF revision 2.50/],
];

/** VAT media: udfclient cannot write them from an image file, so they hold only the root. */
export const isVat = (m: Media): boolean => m === 'cdr' || m === 'dvdr' || m === 'bdr';

/**
 * Every value of every axis at least once, with the pairs that matter: each block size
 * on plain and sparable, each revision on plain, each space kind and AD kind on plain
 * and sparable, each VAT medium at its revisions.
 */
export const MATRIX: MatrixSpec[] = [
  // Filled by udfclient (unallocated-space bitmap, the only kind udfclient writes to).
  { media: 'hd', rev: '2.01', bs: 512, ad: 'inicb' },
  { media: 'hd', rev: '1.02', bs: 2048, ad: 'short' },
  { media: 'hd', rev: '1.50', bs: 1024, ad: 'long' },
  { media: 'hd', rev: '2.00', bs: 4096, ad: 'inicb' },
  { media: 'hd', rev: '2.01', bs: 2048, ad: 'long', extra: ['--strategy=4096'] },
  { media: 'dvd', rev: '2.01', bs: 2048, ad: 'short', extra: ['--noefe'] },
  { media: 'dvdram', rev: '1.50', bs: 512, ad: 'short' },
  { media: 'dvdram', rev: '2.00', bs: 2048 },
  { media: 'dvdrw', rev: '1.50', bs: 2048, ad: 'inicb' },
  { media: 'dvdrw', rev: '2.01', bs: 4096, ad: 'short' },
  { media: 'cdrw', rev: '2.00', bs: 2048, ad: 'long' },
  { media: 'cdrw', rev: '2.01', bs: 1024, ad: 'inicb' },
  { media: 'cdrw', rev: '1.50', bs: 512, ad: 'short' },
  // Other space kinds: udfclient 0.8 segfaults writing to them, so they hold only the root.
  { media: 'hd', rev: '2.01', bs: 2048, space: 'unalloctable' },
  { media: 'hd', rev: '1.50', bs: 512, ad: 'long', space: 'freedbitmap' },
  { media: 'hd', rev: '2.00', bs: 1024, space: 'freedtable' },
  { media: 'cdrw', rev: '2.01', bs: 2048, space: 'unalloctable' },
  { media: 'dvdrw', rev: '2.00', bs: 2048, space: 'freedbitmap' },
  // VAT: empty (see above). mkudffs refuses --closed below 2048-byte blocks ("Too many blocks").
  { media: 'cdr', rev: '1.50', bs: 2048 },
  { media: 'cdr', rev: '2.60', bs: 512 },
  { media: 'cdr', rev: '2.01', bs: 1024 },
  { media: 'cdr', rev: '2.00', bs: 2048, extra: ['--closed'] },
  { media: 'dvdr', rev: '2.00', bs: 2048 },
  { media: 'dvdr', rev: '2.50', bs: 4096 },
  { media: 'bdr', rev: '2.50', bs: 2048 },
  { media: 'bdr', rev: '2.60', bs: 2048, extra: ['--closed'] },
];

/** Whether udfclient can fill this image (see the header). */
export const canFill = (s: MatrixSpec): boolean => !isVat(s.media) && (s.space ?? 'unallocbitmap') === 'unallocbitmap';

export function specId(s: MatrixSpec): string {
  return [s.media, s.rev, `b${s.bs}`, s.ad, s.space, ...(s.extra ?? []).map((e) => e.replace(/^--/, ''))]
    .filter(Boolean).join('-');
}

/** Identifiers given to mkudffs; udfclient names a volume `fullvsid:vid:lvid:fsid`. */
export const IDS = { uuid: '0123456789abcdef', vsid: 'PKTFS SET', vid: 'PKTFS VOL', lvid: 'pktfs test', fsid: 'PKTFS FS' };
const UDFCLIENT_VOLUME = `${IDS.uuid}${IDS.vsid}:${IDS.vid}:${IDS.lvid}:${IDS.fsid}`;

export interface BuiltImage {
  id: string;
  path: string;
  /** The host tree it holds (null for an empty volume). */
  source: string | null;
  /** Map from host names to the names the image holds. */
  mapName: (n: string) => string;
  blockSize: number;
  spec?: MatrixSpec;
}

function mkudffsArgs(s: MatrixSpec, img: string): string[] {
  const blocks = s.blocks ?? (isVat(s.media) ? 4096 : 65536);
  return [
    '--utf8', `--media-type=${s.media}`, `--udfrev=${s.rev}`, `--blocksize=${s.bs}`,
    ...(s.ad ? [`--ad=${s.ad}`] : []), ...(s.space ? [`--space=${s.space}`] : []), ...(s.extra ?? []),
    `--uuid=${IDS.uuid}`, `--vsid=${IDS.vsid}`, `--vid=${IDS.vid}`, `--lvid=${IDS.lvid}`, `--fsid=${IDS.fsid}`,
    img, String(blocks),
  ];
}

/** Put the top-level entries of `srcDir` on the volume with udfclient, driven through stdin. */
export async function udfclientPut(img: string, blockSize: number, srcDir: string): Promise<void> {
  const names = fs.readdirSync(srcDir).sort();
  const script = `cd "${UDFCLIENT_VOLUME}"\nlcd "${srcDir}"\nmput ${names.map((n) => `"${n}"`).join(' ')}\nquit\n`;
  const r = await runAsync('udfclient', ['-W', '-b', String(blockSize), img], script);
  if (r.status !== 0 || /No space left|not implemented|bailing out/.test(r.stdout + r.stderr)) {
    throw new Error(`udfclient failed on ${img} (status ${r.status}):\n${r.stderr.slice(-500)}\n${r.stdout.slice(-1500)}`);
  }
}

/**
 * Make one matrix image in `dir`; fill it from `srcDir` unless it is VAT. Checks with
 * udfinfo that udfclient really put the whole tree there.
 */
export async function buildMatrixImage(s: MatrixSpec, dir: string, srcDir: string): Promise<BuiltImage> {
  const id = specId(s);
  const img = path.join(dir, `${id}.img`);
  const mk = await runAsync('mkudffs', mkudffsArgs(s, img));
  if (mk.status !== 0) throw new Error(`mkudffs ${id}: ${mk.stderr}`);
  const built: BuiltImage = { id, path: img, source: null, mapName: (n) => n, blockSize: s.bs, spec: s };
  if (!canFill(s)) return built;
  await udfclientPut(img, s.bs, srcDir);
  // udfclient's LVID file count is sometimes one too high on sparable media; the tree
  // itself is checked through the reader, this only catches a fill that stopped early.
  const want = countTree(walkHost(srcDir));
  const got = udfinfo(img);
  if (got.numFiles < want.files || got.numDirs !== want.dirs) {
    throw new Error(`udfclient left ${id} with ${got.numFiles} files/${got.numDirs} dirs, want ${want.files}/${want.dirs}`);
  }
  return { ...built, source: srcDir, mapName: (n) => Buffer.from(n, 'utf8').toString('latin1') };
}

/** Build many images, a few at a time (udfclient mostly waits). */
export function buildMatrix(specs: MatrixSpec[], dir: string, srcDir: string): Promise<BuiltImage[]> {
  return pool(specs, 4, (s) => buildMatrixImage(s, dir, srcDir));
}

/** A genisoimage UDF 1.02 bridge image (ISO 9660 + Rock Ridge + Joliet + UDF) of `srcDir`. */
export function buildGenisoImage(dir: string, srcDir: string, label = 'PKTFS_GENISO'): BuiltImage {
  const img = path.join(dir, 'genisoimage-udf.img');
  run('genisoimage', ['-udf', '-R', '-J', '-quiet', '-input-charset', 'utf-8', '-V', label, '-o', img, srcDir]);
  return { id: 'genisoimage-udf102', path: img, source: srcDir, mapName: (n) => n, blockSize: 2048 };
}

/** ../shared relative to the repository root, or null when this checkout has none. */
export function sharedFixturesDir(): string | null {
  const dir = path.resolve(__dirname, '../../../shared/fixtures/udf');
  return fs.existsSync(dir) ? dir : null;
}

export interface FixtureSession {
  /** 1-based session number as `-o session=` counts. */
  number: number;
  /** First and last block (2048-byte) of the session. */
  start: number;
  end?: number;
  expected: Record<string, string>;
}

export interface Fixture {
  name: string;
  xz: string;
  /** One entry for a single-session image; one per session otherwise. */
  sessions: FixtureSession[];
}

/**
 * The fixtures and their blkid expectations. A multi-session image is named
 * `udf-multi-S1-S2-S3-WRITER` and its expectations `low-probe-udf-multi-WRITER-S`.
 */
export function listFixtures(dir: string, parse: (text: string) => Record<string, string>): Fixture[] {
  const read = (f: string): Record<string, string> => parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const out: Fixture[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.img.xz')).sort()) {
    const name = f.replace(/\.img\.xz$/, '');
    const multi = /^udf-multi-([\d-]+)-([a-z]+)$/.exec(name);
    if (multi) {
      const starts = multi[1].split('-').map(Number);
      const sessions = starts.map((start, i) => ({
        number: i + 1, start, end: i + 1 < starts.length ? starts[i + 1] - 1 : undefined,
        expected: read(`low-probe-udf-multi-${multi[2]}-${start}.expected`),
      }));
      out.push({ name, xz: path.join(dir, f), sessions });
    } else {
      out.push({ name, xz: path.join(dir, f), sessions: [{ number: 1, start: 0, expected: read(`low-probe-${name}.expected`) }] });
    }
  }
  return out;
}

/** Decompress a fixture into `dir` (never in place) and return the image path. */
export function decompressFixture(f: Fixture, dir: string): string {
  const img = path.join(dir, `${f.name}.img`);
  if (!fs.existsSync(img)) xzDecompress(f.xz, img);
  return img;
}
