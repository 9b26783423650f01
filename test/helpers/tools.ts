/**
 * Running and parsing the Debian tools that judge pktfs: udfinfo, blkid, 7zz,
 * mkudffs, udfclient, genisoimage, xz. Synchronous calls are fine in tests; the
 * async variants exist so that image builds (udfclient idles ~3 s per run) overlap.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';

/** Run a tool, return stdout; throw with stderr when it exits non-zero. */
export function run(cmd: string, args: string[], input?: string | Buffer): string {
  return execFileSync(cmd, args, { input, encoding: 'latin1', maxBuffer: 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface RunResult { status: number | null; stdout: string; stderr: string }

/** Run a tool asynchronously, feeding `input` on stdin; never rejects (look at status). */
export function runAsync(cmd: string, args: string[], input = '', timeoutMs = 120000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined); // tools that never read stdin close it early (EPIPE)
    child.stdin.end(input);
  });
}

/** Run async jobs with at most `limit` at once. */
export async function pool<T, R>(items: T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `key=value` lines (udfinfo, blkid -o udev); later keys do not override earlier ones. */
export function parseKeyValue(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (!(key in out)) out[key] = line.slice(eq + 1);
  }
  return out;
}

/** blkid's udev output escapes bytes as \xNN (a space is \x20); decode them as UTF-8. */
export function unescapeBlkid(value: string): string {
  const raw = Buffer.from(value, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const hex = raw.subarray(i + 2, i + 4).toString('latin1');
    if (raw[i] === 0x5c && raw[i + 1] === 0x78 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else bytes.push(raw[i]);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** blkid `*.expected` / `blkid -p -o udev` values with the \x escapes of *_ENC and *_ID keys decoded. */
export function parseBlkid(text: string): Record<string, string> {
  const raw = parseKeyValue(text);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = unescapeBlkid(v);
  return out;
}

/** blkid's low-level probe of an image (what the fixtures' .expected files were made with). */
export function blkidProbe(img: string): Record<string, string> {
  return parseBlkid(run('blkid', ['-p', '-o', 'udev', img]));
}

export interface UdfInfo {
  fields: Record<string, string>;
  blockSize: number;
  usedBlocks: number;
  freeBlocks: number;
  numFiles: number;
  numDirs: number;
  /** Lines udfinfo printed on stderr ("udfinfo: Error: ..."). */
  errors: string[];
}

/**
 * udfinfo's view of a volume. For a session other than the last, pass its first and
 * last block (udfinfo looks for the VAT at the last block).
 */
export function udfinfo(img: string, opts: { startBlock?: number; lastBlock?: number; blockSize?: number } = {}): UdfInfo {
  const args: string[] = [];
  if (opts.blockSize !== undefined) args.push(`--blocksize=${opts.blockSize}`);
  if (opts.startBlock !== undefined) args.push(`--startblock=${opts.startBlock}`);
  if (opts.lastBlock !== undefined) args.push(`--lastblock=${opts.lastBlock}`);
  const r = spawnSync('udfinfo', [...args, img], { encoding: 'utf8' });
  const fields = parseKeyValue(r.stdout);
  const num = (k: string): number => (k in fields ? Number(fields[k]) : NaN);
  return {
    fields,
    blockSize: num('blocksize'),
    usedBlocks: num('usedblocks'),
    freeBlocks: num('freeblocks'),
    numFiles: num('numfiles'),
    numDirs: num('numdirs'),
    errors: r.stderr.split('\n').filter((l) => /Error/.test(l)),
  };
}

export interface SevenZipEntry { path: string; folder: boolean; size: number }

/**
 * `7zz l -slt` of an image, or null when 7zz cannot open it (7-Zip reads plain and
 * metadata partitions at 512 and 2048-byte blocks; not sparable, not VAT).
 * Paths come back as UTF-8 exactly as 7zz prints them.
 */
export function sevenZipList(img: string): SevenZipEntry[] | null {
  const r = spawnSync('7zz', ['l', '-slt', '-sccUTF-8', img], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return null;
  const body = r.stdout.split('\n----------\n')[1];
  if (body === undefined) return null;
  const entries: SevenZipEntry[] = [];
  for (const block of body.split('\n\n')) {
    const kv = parseKeyValue(block.replace(/ = /g, '='));
    if (!('Path' in kv)) continue;
    entries.push({ path: kv.Path, folder: kv.Folder === '+', size: kv.Size === '' ? 0 : Number(kv.Size) });
  }
  return entries;
}

/** Decompress `src` (.xz) to `dst` without touching the original. */
export function xzDecompress(src: string, dst: string): void {
  fs.writeFileSync(dst, execFileSync('xz', ['-dc', src], { maxBuffer: 256 << 20 }));
}

/** True when every named tool is on PATH. */
export function haveTools(...names: string[]): boolean {
  return names.every((n) => spawnSync('sh', ['-c', `command -v ${n}`]).status === 0);
}
