/**
 * What the crash harness demands of a surviving medium: it mounts (read-only
 * is fine while the LVID is open), the whole tree can be walked and read with
 * nothing but FsErrors for damaged files, every durable file reads back
 * exactly, and a volume whose LVID says closed is consistent enough to be
 * written again without harming anything (its space map covers every block
 * in use). The repair step (`pktfs fsck -y`) is one function, switched on by
 * itself once the CLI has the subcommand.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isFsError } from '../../src/errors';
import { openVolume } from '../../src/udf/volume';
import { isWritable, type Volume } from '../../src/udf/types';
import { readAll } from '../helpers/tree';
import { runAsync } from '../helpers/tools';
import { udfclientGetAll } from '../udf/write-helpers';
import type { Durable } from './workload';
import { BufferDevice } from './cutdev';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface CheckResult {
  /** What is wrong: an empty list is a pass. */
  problems: string[];
  integrity: string;
  /** Entries walked, and entries that gave an FsError (damage a repair must deal with). */
  walked: number;
  damaged: string[];
}

/** Not an FsError: a bug, whatever the medium holds. */
function foreign(e: unknown): string | undefined {
  if (isFsError(e)) return undefined;
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}` : String(e);
}

async function resolve(vol: Volume, p: string): Promise<number> {
  let ino = vol.rootIno;
  for (const c of p.split('/')) ino = await vol.lookup(ino, c);
  return ino;
}

/** Walk everything; FsErrors are damage, anything else a problem. */
async function walk(vol: Volume, res: CheckResult): Promise<void> {
  const seen = new Set<number>();
  const visit = async (ino: number, rel: string, depth: number): Promise<void> => {
    if (seen.has(ino) || depth > 64) {
      res.damaged.push(`${rel}: directory loop`);
      return;
    }
    seen.add(ino);
    let ents;
    try {
      ents = await vol.readdir(ino);
    } catch (e) {
      const f = foreign(e);
      if (f) res.problems.push(`readdir ${rel || '/'}: ${f}`); else res.damaged.push(`${rel || '/'}: ${(e as Error).message}`);
      return;
    }
    for (const ent of ents) {
      const p = rel ? `${rel}/${ent.name}` : ent.name;
      res.walked++;
      try {
        const a = await vol.getattr(ent.ino);
        if ((a.mode & S_IFMT) === S_IFDIR) await visit(ent.ino, p, depth + 1);
        else if ((a.mode & S_IFMT) === S_IFLNK) await vol.readlink(ent.ino);
        else await readAll(vol, ent.ino, a.size);
      } catch (e) {
        const f = foreign(e);
        // readAll's own size complaint is an Error too: a short file is damage, not a bug.
        if (f && !/read gave/.test(f)) res.problems.push(`${p}: ${f}`); else res.damaged.push(`${p}: ${(e as Error).message}`);
      }
    }
  };
  await visit(vol.rootIno, '', 0);
}

async function checkDurable(vol: Volume, durable: Durable[], res: CheckResult, when: string): Promise<void> {
  for (const d of durable) {
    try {
      const ino = await resolve(vol, d.path);
      const a = await vol.getattr(ino);
      const data = await readAll(vol, ino, a.size);
      if (data.length !== d.size || sha(data) !== d.sha256) res.problems.push(`${when}: ${d.how}'ed ${d.path}: ${data.length} bytes, wanted ${d.size} (other content)`);
    } catch (e) {
      res.problems.push(`${when}: ${d.how}'ed ${d.path}: ${(e as Error).message}`);
    }
  }
}

/**
 * Check a surviving medium image (not changed: the write test works on a copy): `durable` are the files that must be there.
 * When the LVID is closed the volume is also mounted read-write and written
 * (a file filling a few packets), then the durable files are read again.
 */
export async function checkImage(img: Buffer, sectorSize: number, durable: Durable[]): Promise<CheckResult> {
  const res: CheckResult = { problems: [], integrity: '?', walked: 0, damaged: [] };
  let vol: Volume;
  try {
    vol = await openVolume(new BufferDevice(img, sectorSize), {});
  } catch (e) {
    res.problems.push(`does not mount: ${foreign(e) ?? (e as Error).message}`);
    return res;
  }
  res.integrity = vol.info.integrity;
  await walk(vol, res);
  await checkDurable(vol, durable, res, 'read-only');
  await vol.close();
  if (res.integrity !== 'closed' || res.problems.length) return res;
  // Closed: the disc claims to be consistent, so writing on it must not hurt what is there.
  const dev = new BufferDevice(Buffer.from(img), sectorSize);
  try {
    const rw = await openVolume(dev, { readWrite: true });
    if (!isWritable(rw)) {
      res.problems.push(`closed volume mounts read-only: ${rw.info.readOnlyReason}`);
      return res;
    }
    const free = rw.info.freeBlocks;
    if (free < 128) {
      // A full disc: nothing to write with (the full-disc tests cover ENOSPC).
      await rw.close();
      return res;
    }
    const ino = await rw.create(rw.rootIno, 'after-crash', 0o644, 0, 0);
    const fill = Buffer.alloc(Math.min(256 * 1024, Math.max(0, free - 64) * 2048), 0xa5);
    await rw.write(ino, 0, fill);
    await rw.close();
    const again = await openVolume(dev, {});
    await checkDurable(again, durable, res, 'after writing on the closed volume');
    const got = await readAll(again, await resolve(again, 'after-crash'), fill.length);
    if (!got.equals(fill)) res.problems.push('the file written after the crash reads back wrong');
    await again.close();
  } catch (e) {
    res.problems.push(`writing on the closed volume: ${foreign(e) ?? (e as Error).message}`);
  }
  return res;
}

/** udfinfo and udfclient on an image file: udfinfo must read it and udfclient fetch the durable files intact. */
export async function judgeWithTools(imgPath: string, blockSize: number, durable: Durable[]): Promise<string[]> {
  const problems: string[] = [];
  const info = await runAsync('udfinfo', [imgPath]);
  if (info.status !== 0) problems.push(`udfinfo exited ${info.status}: ${info.stderr.trim().slice(-300)}`);
  if (!durable.length) return problems;
  const out = fs.mkdtempSync(`${imgPath}.get-`);
  try {
    await udfclientGetAll(imgPath, blockSize, [...new Set(durable.map((d) => d.path.split('/')[0]))], out);
  } catch (e) {
    problems.push((e as Error).message);
  }
  for (const d of durable) {
    const f = path.join(out, d.path);
    if (!fs.existsSync(f)) problems.push(`udfclient did not fetch ${d.path}`);
    else if (sha(fs.readFileSync(f)) !== d.sha256) problems.push(`udfclient read ${d.path} differently`);
  }
  fs.rmSync(out, { recursive: true, force: true });
  return problems;
}

/** The CLI whose fsck repairs (PKTFS_FSCK_CLI: another build, e.g. of the fsck branch before the merge). */
const PKTFS = process.env.PKTFS_FSCK_CLI ?? path.join(__dirname, '../../dist/bin/pktfs.js');
let fsckKnown: boolean | undefined;

/** Whether the built CLI has `pktfs fsck` (it lands from another branch). */
export async function haveFsck(): Promise<boolean> {
  if (fsckKnown === undefined) {
    const r = await runAsync(process.execPath, [PKTFS, 'fsck', '--help']);
    fsckKnown = r.status === 0 && /^Usage: pktfs fsck/m.test(r.stdout);
  }
  return fsckKnown;
}

/**
 * The repair step: `pktfs fsck -y IMG` when the CLI has it, else nothing.
 * Returns the exit status (e2fsck codes: 0 clean, 1 corrected, 2 corrected and reboot; 4+ left errors), or null when skipped.
 */
export async function repair(imgPath: string): Promise<number | null> {
  if (!(await haveFsck())) return null;
  const r = await runAsync(process.execPath, [PKTFS, 'fsck', '-y', imgPath]);
  return r.status;
}
