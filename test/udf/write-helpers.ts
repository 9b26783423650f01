/**
 * Helpers for the write tests: a fresh mkudffs image, a read-write mount of
 * it through openVolume, putting a host tree on it through the WritableVolume
 * API, and reading the whole volume back with udfclient (`mget` of every
 * top-level entry) so another implementation judges what pktfs wrote.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageDevice } from '../../src/drive/image';
import { openVolume } from '../../src/udf/volume';
import type { UdfMountOptions, Volume, WritableVolume } from '../../src/udf/types';
import { isWritable } from '../../src/udf/types';
import { IDS, MatrixSpec, specId, udfclientPut } from '../helpers/images';
import { run, runAsync } from '../helpers/tools';
import { pseudoRandom, type TreeEntry } from '../helpers/tree';

/** udfclient names a volume `fullvsid:vid:lvid:fsid`. */
export const UDFCLIENT_VOLUME = `${IDS.uuid}${IDS.vsid}:${IDS.vid}:${IDS.lvid}:${IDS.fsid}`;

/** An empty mkudffs image for `s` in `dir` (synchronous: mkudffs is quick). */
export function makeImage(s: MatrixSpec, dir: string, name = specId(s)): string {
  const img = path.join(dir, `${name}.img`);
  run('mkudffs', [
    '--utf8', `--media-type=${s.media}`, `--udfrev=${s.rev}`, `--blocksize=${s.bs}`,
    ...(s.ad ? [`--ad=${s.ad}`] : []), ...(s.space ? [`--space=${s.space}`] : []), ...(s.extra ?? []),
    `--uuid=${IDS.uuid}`, `--vsid=${IDS.vsid}`, `--vid=${IDS.vid}`, `--lvid=${IDS.lvid}`, `--fsid=${IDS.fsid}`,
    img, String(s.blocks ?? 16384),
  ]);
  return img;
}

export interface RwMount {
  vol: Volume;
  dev: ImageDevice;
  close(): Promise<void>;
}

/** Open an image read-write; `vol` may still be read-only (then `vol.info.readOnlyReason` says why). */
export async function openRw(img: string, opts: UdfMountOptions = {}): Promise<RwMount> {
  const dev = await ImageDevice.open(img, {});
  const vol = await openVolume(dev, { ...opts, readWrite: true });
  return { vol, dev, close: async () => { try { await vol.close(); } finally { await dev.close(); } } };
}

/** The writable volume of a mount, or a failed expectation naming the reason. */
export function writable(m: RwMount): WritableVolume {
  if (!isWritable(m.vol)) throw new Error(`mounted read-only: ${m.vol.info.readOnlyReason}`);
  return m.vol;
}

/** Copy a host tree (files, directories, symlinks; hard links kept as links) into `dirIno`. */
export async function putTree(vol: WritableVolume, dirIno: number, hostDir: string, chunk = 65536, seen = new Map<number, number>()): Promise<void> {
  for (const name of fs.readdirSync(hostDir).sort()) {
    const abs = path.join(hostDir, name);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) {
      await vol.symlink(dirIno, name, fs.readlinkSync(abs), 0, 0);
    } else if (st.isDirectory()) {
      const ino = await vol.mkdir(dirIno, name, 0o755, 0, 0);
      await putTree(vol, ino, abs, chunk, seen);
    } else {
      const linked = st.nlink > 1 ? seen.get(st.ino) : undefined;
      if (linked !== undefined) {
        await vol.link(linked, dirIno, name);
        continue;
      }
      const ino = await vol.create(dirIno, name, 0o644, 0, 0);
      if (st.nlink > 1) seen.set(st.ino, ino);
      const data = fs.readFileSync(abs);
      for (let off = 0; off < data.length; off += chunk) await vol.write(ino, off, data.subarray(off, off + chunk));
    }
  }
}

/** Read the whole volume into `outDir` with udfclient; returns its output for diagnosis. */
export async function udfclientGetAll(img: string, bs: number, names: string[], outDir: string): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  const q = (n: string) => `"${n}"`;
  const script = `cd ${q(UDFCLIENT_VOLUME)}\nlcd ${q(outDir)}\n${names.map((n) => `mget ${q(n)}\n`).join('')}quit\n`;
  const r = await runAsync('udfclient', ['-b', String(bs), img], script);
  if (r.status !== 0) throw new Error(`udfclient exited ${r.status}: ${r.stderr.slice(-500)}`);
  return r.stdout + r.stderr;
}

const ascii = (p: string) => /^[\x20-\x7e]*$/.test(p);

/**
 * udfclient's extraction `got` against the host tree `want`: every regular file
 * with the same bytes. udfclient shows 8-bit CS0 characters above 0x7E as '_'
 * plus a CRC (UDF 6.7.1 style), so non-ASCII paths are matched by content only.
 */
export function expectSameFiles(got: TreeEntry[], want: TreeEntry[]): void {
  const files = (t: TreeEntry[]) => t.filter((e) => e.type === 'file');
  const key = (e: TreeEntry) => [e.path, e.size, e.sha256];
  const wantAscii = files(want).filter((e) => ascii(e.path));
  const paths = new Set(wantAscii.map((e) => e.path));
  expect(files(got).filter((e) => paths.has(e.path)).map(key)).toEqual(wantAscii.map(key));
  // udfclient fetches a symlink as a plain file of its path components: not compared.
  const links = new Set(want.filter((e) => e.type === 'symlink').map((e) => e.path));
  const rest = (t: TreeEntry[]) => files(t).filter((e) => !paths.has(e.path) && !links.has(e.path)).map((e) => e.sha256).sort();
  expect(rest(got)).toEqual(rest(want));
}

/**
 * Files of every kind a read path must get right, put on `img` (2048-byte blocks) in `dir`:
 * big.bin and small.txt (100 bytes, in its entry) by udfclient; by pktfs's writer, frag.bin and
 * other.bin written in turns (several extents each) and sparse.bin (a hole, then 4 KiB).
 * Returns their contents by name.
 */
export async function putReadFixtures(img: string, dir: string): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  files['big.bin'] = pseudoRandom('big', 600 * 1024 + 123);
  files['small.txt'] = pseudoRandom('small', 100);
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(src, name), data);
  await udfclientPut(img, 2048, src);
  const m = await openRw(img);
  const vol = writable(m);
  const a = await vol.create(vol.rootIno, 'frag.bin', 0o644, 0, 0);
  const b = await vol.create(vol.rootIno, 'other.bin', 0o644, 0, 0);
  files['frag.bin'] = pseudoRandom('frag', 96 * 1024 + 5);
  files['other.bin'] = pseudoRandom('other', 96 * 1024);
  for (let off = 0; off < 96 * 1024; off += 6144) {
    await vol.write(a, off, files['frag.bin'].subarray(off, off + 6144));
    await vol.write(b, off, files['other.bin'].subarray(off, off + 6144));
  }
  await vol.write(a, 96 * 1024, files['frag.bin'].subarray(96 * 1024));
  const s = await vol.create(vol.rootIno, 'sparse.bin', 0o644, 0, 0);
  files['sparse.bin'] = Buffer.alloc(300_000 + 4096);
  pseudoRandom('tail', 4096).copy(files['sparse.bin'], 300_000);
  await vol.write(s, 300_000, files['sparse.bin'].subarray(300_000));
  await m.close();
  return files;
}
