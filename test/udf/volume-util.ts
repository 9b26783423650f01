/**
 * Helpers for the UDF layer's own tests: temporary images made with mkudffs and
 * filled with udfclient, a host tree to compare against, raw block patching.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync, openSync, readSync, writeSync, closeSync, copyFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { randomBytes } from 'crypto';
import { ImageDevice } from '../../src/drive/image';
import { openVolume } from '../../src/udf';
import type { Volume, UdfMountOptions } from '../../src/udf';

export function tempDir(prefix = 'pktfs-udf-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Host files written into images: relative path → content. */
export interface HostTree {
  dir: string;
  files: Map<string, Buffer>;
  dirs: string[];
}

/** A small tree with the sizes the issue asks for. */
export function makeHostTree(root: string): HostTree {
  const dir = join(root, 'tree');
  const files = new Map<string, Buffer>([
    ['empty', Buffer.alloc(0)],
    ['one', randomBytes(1)],
    ['f2047', randomBytes(2047)],
    ['sub/f2048', randomBytes(2048)],
    ['sub/deeper/f2049', randomBytes(2049)],
    ['sub/deeper/rand', randomBytes(3 * 1024 * 1024 + 123)],
    ['with space', Buffer.from('spaces\n')],
  ]);
  const dirs = ['sub', 'sub/deeper'];
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true });
  for (const [p, b] of files) writeFileSync(join(dir, p), b);
  return { dir, files, dirs };
}

/** The directory udfclient shows at its root for the logical volume. */
function udfclientVolumeDir(img: string, bs: number): string {
  const out = execFileSync('udfclient', ['-b', String(bs), img], { input: 'ls\nquit\n', stdio: ['pipe', 'pipe', 'ignore'] }).toString();
  const line = out.split('\n').find((l) => l.startsWith('d'));
  if (!line) throw new Error(`udfclient shows no volume in ${img}`);
  return line.trim().split(/\s+/).pop()!;
}

/**
 * Copy `tree` into the image with udfclient. Its `put` keeps the name given and
 * absolute `cd` paths are unreliable, so every directory is entered from the root step by step.
 * udfclient wants room: give it images of 40 MiB or more.
 */
export function fillWithUdfclient(img: string, bs: number, tree: HostTree): void {
  const vol = udfclientVolumeDir(img, bs);
  const enter = (d: string) => ['cd /', `cd ${vol}`, ...d.split('/').filter((x) => x).map((x) => `cd "${x}"`)];
  const lines: string[] = [];
  for (const d of tree.dirs) {
    const i = d.lastIndexOf('/');
    lines.push(...enter(i < 0 ? '' : d.slice(0, i)), `mkdir "${d.slice(i + 1)}"`);
  }
  const byDir = new Map<string, string[]>();
  for (const p of tree.files.keys()) {
    const i = p.lastIndexOf('/');
    const d = i < 0 ? '' : p.slice(0, i);
    byDir.set(d, [...(byDir.get(d) ?? []), p.slice(i + 1)]);
  }
  for (const [d, names] of byDir) {
    lines.push(...enter(d), `lcd ${join(tree.dir, d)}`);
    for (const n of names) lines.push(`put "${n}"`);
  }
  lines.push('quit', '');
  execFileSync('udfclient', ['-W', '-b', String(bs), img], { input: lines.join('\n'), stdio: ['pipe', 'ignore', 'ignore'], timeout: 60000 });
}

export function mkudffs(img: string, args: string[], blocks: number): void {
  execFileSync('mkudffs', [...args, '--new-file', img, String(blocks)], { stdio: 'ignore' });
}

export async function mount(img: string, opts: UdfMountOptions = {}): Promise<{ vol: Volume; dev: ImageDevice }> {
  const dev = await ImageDevice.open(img, { readOnly: true });
  try {
    return { vol: await openVolume(dev, opts), dev };
  } catch (e) {
    await dev.close();
    throw e;
  }
}

/** Inode of `path` ("a/b/c") from the root. */
export async function resolve(vol: Volume, path: string): Promise<number> {
  let ino = vol.rootIno;
  for (const part of path.split('/').filter((x) => x)) ino = await vol.lookup(ino, part);
  return ino;
}

/** Absolute byte offset of block `block` of partition `ref`, for physical partitions. */
export function partitionByte(vol: Volume, ref: number, block: number): number {
  const p = vol.info.partitions.find((x) => x.ref === ref);
  if (!p) throw new Error(`no partition ${ref}`);
  return (p.start + block) * vol.info.blockSize;
}

export function readAt(img: string, offset: number, length: number): Buffer {
  const fd = openSync(img, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

export function writeAt(img: string, offset: number, data: Buffer): void {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

export const FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'udf');

/** Decompress fixture `name` (without .img.xz) into `dir`; undefined when ../shared is absent. */
export function fixture(name: string, dir: string): string | undefined {
  const src = join(FIXTURES, `${name}.img.xz`);
  if (!existsSync(src)) return undefined;
  const dst = join(dir, `${name}.img`);
  if (!existsSync(dst)) writeFileSync(dst, execFileSync('xz', ['-dc', src], { maxBuffer: 1 << 30 }));
  return dst;
}

/** blkid's values for a fixture (`low-probe-<name>.expected`) as a map. */
export function fixtureExpected(name: string): Map<string, string> {
  const out = execFileSync('cat', [join(FIXTURES, `low-probe-${name}.expected`)]).toString();
  return new Map(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export function copyImage(src: string, dst: string): string {
  copyFileSync(src, dst);
  return dst;
}

/** udfinfo's key=value output. */
export function udfinfo(img: string, args: string[] = []): Map<string, string> {
  const out = execFileSync('udfinfo', [...args, img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return new Map(out.split('\n').filter((l) => /^[a-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
