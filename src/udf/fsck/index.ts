/**
 * `fsck` of a UDF volume on a block device: passes of check (check.ts) and
 * repair until a pass finds nothing new to repair. Which problems are repaired
 * is the mode's business: none (-n), all (-y), the safe ones (-p), or the ones
 * the caller's `ask` says yes to. A repair's consequences (a link count after
 * moving an orphan) are found and repaired by the next pass; a problem left
 * once is not asked about again. The exit bits are e2fsck's.
 */
import createDebug from 'debug';
import type { BlockDevice } from '../../drive/types';
import { decodeDstring } from '../cs0';
import { Allocator } from '../write/alloc';
import { storeSpaceMap } from '../write/spacemap';
import { LvidWriter } from '../write/lvid';
import { LVID_INTEGRITY_OPEN } from '../codec/volume';
import { FsError } from '../../errors';
import { checkVolume, CheckResult } from './check';
import type { Problem } from './problem';
import type { RepairCtx } from './repair-ctx';
import { FSCK_EXIT } from './types';
import type { FsckOptions, FsckResult, ProblemReport } from './types';

export type { FsckOptions, FsckResult, ProblemReport, FsckMode, Answer, ProblemCode, FsckSummary } from './types';
export { FSCK_EXIT } from './types';

const debug = createDebug('pktfs:udf:fsck');

/** Passes before giving up on a volume whose repairs keep finding more. */
const MAX_PASSES = 6;

function signature(p: Problem): string {
  return `${p.code}:${p.message}`;
}

function repairCtx(res: CheckResult): RepairCtx {
  const a = res.alloc;
  const alloc = a ? new Allocator(Uint8Array.from(a.computedFree), a.total, a.packetBlocks) : undefined;
  return {
    space: res.mounted.space,
    alloc,
    wctx: () => {
      if (!alloc || a === undefined) throw new FsError('EROFS', 'the allocation of this volume is not checked, so nothing is allocated or freed');
      return { space: res.mounted.space, ref: a.ref, alloc, beforeWrite: async () => undefined };
    },
    lvid: res.mounted.lvid ? structuredClone(res.mounted.lvid) : undefined,
    lvidBlock: res.mounted.lvidBlock,
    addedDirs: 0,
    spaceChanged: false,
    lvidChanged: false,
    closeLvid: false,
  };
}

/** Write the space map and the LVID as the repairs of the pass left them. */
async function finishPass(res: CheckResult, r: RepairCtx, mayClose: boolean): Promise<void> {
  if (r.spaceChanged && r.alloc && res.alloc) {
    r.alloc.dirty = true;
    await storeSpaceMap(r.space, { ...res.alloc.map, alloc: r.alloc });
    if (r.lvid) r.lvid.freeSpaceTable[res.alloc.ref] = r.alloc.freeBlocks;
    r.lvidChanged = true;
  }
  if (r.lvidChanged && r.lvid && r.lvidBlock !== undefined) {
    const wasOpen = r.lvid.integrityType === LVID_INTEGRITY_OPEN;
    const writer = new LvidWriter(res.mounted.disc, r.lvidBlock, r.lvid, false);
    const free = new Map(r.lvid.freeSpaceTable.map((f, i) => [i, f] as [number, number]));
    await writer.close({ numFiles: r.lvid.impUse?.numFiles ?? 0, numDirs: r.lvid.impUse?.numDirs ?? 0, free }, wasOpen && !(r.closeLvid && mayClose));
  }
  await res.mounted.dev.flush();
}

/** Check (and, as the mode says, repair) the UDF volume on `dev`. Throws FsError when it cannot be checked at all. */
export async function fsck(dev: BlockDevice, opts: FsckOptions): Promise<FsckResult> {
  const reports: ProblemReport[] = [];
  const left = new Set<string>();
  let all = opts.mode === 'yes';
  let fixed = false;
  let res: CheckResult | undefined;
  let pass = 0;
  const log = opts.log ?? (() => undefined);
  for (pass = 1; ; pass++) {
    res = await checkVolume(dev, (d, t) => opts.progress?.(d, t, pass));
    const fresh = res.problems.filter((p) => !left.has(signature(p)));
    if (fresh.length === 0 || pass > MAX_PASSES) break;
    const accepted: Problem[] = [];
    let declined = res.problems.length > fresh.length;
    const report = (p: Problem, outcome: ProblemReport['outcome']): ProblemReport => {
      const r: ProblemReport = { code: p.code, message: p.message, fix: p.repair?.describe, safe: p.repair?.safe ?? false, pass, outcome };
      reports.push(r);
      return r;
    };
    // The volume is closed last, and only when nothing is left.
    const ordered = [...fresh.filter((p) => p.code !== 'lvid-open'), ...fresh.filter((p) => p.code === 'lvid-open')];
    const byProblem = new Map<Problem, ProblemReport>();
    for (const p of ordered) {
      log(`${p.code}: ${p.message}`);
      let yes = false;
      if (!p.repair || opts.mode === 'check') yes = false;
      else if (p.code === 'lvid-open' && declined) yes = false;
      else if (all) yes = true;
      else if (opts.mode === 'preen') yes = p.repair.safe;
      else if (opts.mode === 'ask' && opts.ask) {
        const a = await opts.ask({ code: p.code, message: p.message, fix: p.repair.describe });
        if (a === 'a') all = true;
        yes = a !== 'n';
      }
      const r = report(p, !p.repair ? 'unfixable' : 'declined');
      if (yes) {
        accepted.push(p);
        byProblem.set(p, r);
      } else {
        declined = true;
        left.add(signature(p));
        if (p.repair) log(`  not repaired (${p.repair.describe})`);
      }
    }
    if (accepted.length === 0) break;
    const ctx = repairCtx(res);
    const ran = new Set<string>();
    for (const p of [...accepted].sort((a, b) => a.repair!.stage - b.repair!.stage)) {
      const rep = byProblem.get(p)!;
      const key = p.repair!.key;
      try {
        if (!key || !ran.has(key)) await p.repair!.run(ctx);
        if (key) ran.add(key);
        rep.outcome = 'fixed';
        fixed = true;
        log(`  repaired: ${p.repair!.describe}`);
      } catch (e) {
        rep.outcome = 'failed';
        rep.error = (e as Error).message;
        left.add(signature(p));
        declined = true;
        log(`  repair failed: ${rep.error}`);
      }
    }
    await finishPass(res, ctx, !declined);
    debug('pass %d: %d problems, %d repaired', pass, fresh.length, accepted.length);
  }
  if (!res) throw new FsError('EIO', 'no pass ran');
  const leftNow = res.problems.length > 0;
  const m = res.mounted;
  const a = res.alloc;
  const summary = {
    label: decodeDstring(m.lvd.logicalVolIdent),
    blockSize: m.disc.blockSize,
    files: res.numFiles,
    dirs: res.numDirs,
    totalBlocks: a ? a.total : null,
    usedBlocks: a ? a.used : null,
    freeBlocks: a ? a.total - a.used : null,
    skipped: res.skipped,
  };
  return { exit: (fixed ? FSCK_EXIT.FIXED : 0) | (leftNow ? FSCK_EXIT.LEFT : 0), passes: pass, problems: reports, summary };
}
