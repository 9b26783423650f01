/**
 * For the `pktfs info` tests: small mkudffs images of several media types, some
 * filled by udfclient, and running the command in-process with its output caught.
 */
import * as fs from 'fs';
import * as path from 'path';
import { infoCommand } from '../../bin/info';
import { IDS, udfclientPut } from '../helpers/images';
import { runAsync } from '../helpers/tools';

export interface InfoImage {
  name: string;
  path: string;
  media: string;
}

export interface MkSpec {
  name: string;
  media: 'hd' | 'cdrw' | 'dvdrw' | 'bdr' | 'dvdram';
  rev: string;
  bs: number;
  blocks: number;
  /** Put the small test tree on it with udfclient (not VAT media). */
  fill?: boolean;
}

/** A tree of 3 files in 3 directories (counting the root), for udfclient to copy. */
export function makeTree(dir: string): string {
  const root = path.join(dir, 'tree');
  fs.mkdirSync(path.join(root, 'sub', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(root, 'sub', 'b.bin'), Buffer.alloc(100_000, 7));
  fs.writeFileSync(path.join(root, 'sub', 'deeper', 'c.txt'), 'c\n');
  return root;
}

export async function mkImage(s: MkSpec, dir: string, tree: string): Promise<InfoImage> {
  const img = path.join(dir, `${s.name}.img`);
  const r = await runAsync('mkudffs', [
    '--utf8', `--media-type=${s.media}`, `--udfrev=${s.rev}`, `--blocksize=${s.bs}`,
    `--uuid=${IDS.uuid}`, `--vsid=${IDS.vsid}`, `--vid=${IDS.vid}`, `--lvid=${IDS.lvid}`, `--fsid=${IDS.fsid}`,
    img, String(s.blocks),
  ]);
  if (r.status !== 0) throw new Error(`mkudffs ${s.name}: ${r.stderr}`);
  if (s.fill) await udfclientPut(img, s.bs, tree);
  return { name: s.name, path: img, media: s.media };
}

export interface InfoRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `pktfs info [--json] SOURCE` in this process. */
export async function info(source: string, json = false): Promise<InfoRun> {
  let stdout = '';
  let stderr = '';
  const code = await infoCommand(source, { json }, { out: (t) => { stdout += t; }, err: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

/** `pktfs info --json SOURCE`, parsed; fails the test when the command did not succeed. */
export async function infoJson(source: string): Promise<Record<string, any>> {
  const r = await info(source, true);
  if (r.code !== 0) throw new Error(`pktfs info ${source}: status ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/**
 * The value of a `key: value` row of the text report ("  packet size:  32 sectors ..."),
 * in the section titled `section` ("Drive", "Image", "UDF volume") when given.
 */
export function row(text: string, key: string, section?: string): string | undefined {
  let body = text;
  if (section !== undefined) {
    const at = text.indexOf(`${section}\n`);
    if (at < 0) return undefined;
    body = text.slice(at).split('\n\n')[0];
  }
  const m = new RegExp(`^  ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: +(.*)$`, 'm').exec(body);
  return m?.[1];
}
