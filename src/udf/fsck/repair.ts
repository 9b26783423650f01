/**
 * The repairs fsck offers, one factory per kind. File entry fields are patched
 * in place (decode, change one field, encode, finaliseTag); directory changes
 * (removing an entry, pointing a parent entry, lost+found) and moving shared
 * blocks go through the write engine (write/node.ts, write/directory.ts) with
 * an allocator over the blocks the check found free, so nothing in use is
 * ever handed out. The space map and the LVID are written once, at the end of
 * the pass, by the caller (index.ts).
 */
import { FsError } from '../../errors';
import type { Space } from '../icb';
import { blockOfByte } from '../icb';
import type { LbAddr } from '../codec/primitives';
import { EXT_NOT_RECORDED_NOT_ALLOCATED } from '../codec/primitives';
import { fe, efe, Fe, Efe, FT_DIRECTORY, FID_PARENT, ICB_FLAG_AD_IN_ICB, ICB_FLAG_AD_MASK, ICB_FLAG_AD_SHORT, ICB_FLAG_AD_LONG, ICB_STRATEGY_4 } from '../codec/file';
import { TAG_FE, TAG_EFE, TAG_FID, verifyTag, finaliseTag } from '../codec/tag';
import { inoOf } from '../attr';
import { dateToTimestamp } from '../time';
import { readPartBlocks, writePartBlocks } from '../write/blockio';
import { loadNode, storeNode, storeRange, nodeFileData, WNode, AdForm, Run } from '../write/node';
import { loadDir, removeEntry, setParent, addEntry, newDir, icbLongAd, WDir } from '../write/directory';
import { PKTFS_IMP_IDENT } from '../write/ident';
import type { Lvid } from '../codec/volume';
import type { Node } from './check';
import type { Repair } from './problem';
import { STAGE_TREE, STAGE_ENTRIES, STAGE_SPACE, STAGE_LVID } from './problem';
import type { RepairCtx } from './repair-ctx';

export const LOST_AND_FOUND = 'lost+found';

/** 4/14.9.5: owner rwx plus change-attributes and delete, as the write engine sets them (0700). */
const LOST_FOUND_PERMISSIONS = 0x1c00 | 0x2000 | 0x4000;

export function readBlock(space: Space, loc: LbAddr): Promise<Buffer> {
  return readPartBlocks(space, loc.partitionReferenceNum, loc.logicalBlockNum, 1);
}

type EntryField = 'fileLinkCount' | 'informationLength' | 'logicalBlocksRecorded' | 'uniqueID';

/** Re-read the entry at `loc`, change `field`, re-tag it and write it back. */
async function patchEntry(space: Space, loc: LbAddr, change: (e: Fe | Efe) => void): Promise<void> {
  const buf = Buffer.from(await readBlock(space, loc));
  const t = verifyTag(buf, 0, { what: `file entry at block ${loc.logicalBlockNum}`, location: loc.logicalBlockNum, idents: [TAG_FE, TAG_EFE] });
  const e = t.tagIdent === TAG_FE ? fe.decode(buf, 0) : efe.decode(buf, 0);
  change(e);
  if (e.kind === 'fe') fe.encode(e, buf, 0); else efe.encode(e, buf, 0);
  finaliseTag(buf, 0, { tagIdent: t.tagIdent, descVersion: t.descVersion, tagSerialNum: t.tagSerialNum, tagLocation: loc.logicalBlockNum, crcLength: t.descCRCLength });
  await writePartBlocks(space, loc.partitionReferenceNum, loc.logicalBlockNum, buf);
}

export function setEntryField(n: Node, field: EntryField, value: number, safe: boolean): Repair {
  const names: Record<EntryField, string> = {
    fileLinkCount: 'link count', informationLength: 'information length', logicalBlocksRecorded: 'logical blocks recorded', uniqueID: 'unique ID',
  };
  return {
    stage: STAGE_ENTRIES, safe, describe: `set the ${names[field]} of ${n.path || '/'} to ${value}`,
    run: (r) => patchEntry(r.space, n.entryLoc, (e) => {
      // 4/14.17.11: without streams the object size is the information length.
      if (field === 'informationLength' && e.kind === 'efe' && e.objectSize === e.informationLength) e.objectSize = value;
      e[field] = value;
    }),
  };
}

/** The LVID's next unique ID, advanced past the reserved 0-15 (UDF 3.2.1.1) when the low 32 bits wrap. */
function takeUniqueId(r: RepairCtx): number {
  if (!r.lvid) throw new FsError('EIO', 'no LVID to take a unique ID from');
  const id = r.lvid.uniqueID;
  let next = id + 1;
  if (next % 0x100000000 === 0) next += 16;
  r.lvid.uniqueID = next;
  r.lvidChanged = true;
  return id;
}

export function newUniqueId(n: Node): Repair {
  return {
    stage: STAGE_ENTRIES, safe: false, describe: `give ${n.path || '/'} a new unique ID`,
    run: async (r) => {
      const id = takeUniqueId(r);
      await patchEntry(r.space, n.entryLoc, (e) => { e.uniqueID = id; });
    },
  };
}

function adFormOf(n: Node): AdForm {
  const f = n.entry.icbTag.flags & ICB_FLAG_AD_MASK;
  return f === ICB_FLAG_AD_LONG ? ICB_FLAG_AD_LONG : ICB_FLAG_AD_SHORT;
}

async function loadDirOf(r: RepairCtx, n: { key: number; loc: LbAddr }, form: AdForm): Promise<WDir> {
  const w = await loadNode(r.space, n.key, n.loc, form);
  return loadDir(r.wctx(), w);
}

export function removeFid(dir: Node, pos: number, name: string): Repair {
  return {
    stage: STAGE_TREE, safe: false, describe: `remove the entry "${name}" from ${dir.path || '/'}`,
    run: async (r) => {
      const d = await loadDirOf(r, dir, adFormOf(dir));
      const slot = d.slots.find((s) => s.pos === pos);
      if (!slot) throw new FsError('EIO', `${dir.path || '/'}: no entry at byte ${pos} any more`);
      d.byName.set(slot.name, slot);
      await removeEntry(r.wctx(), d, slot.name);
      await storeNode(r.wctx(), d.node);
      r.spaceChanged = true;
    },
  };
}

export function setParentFid(n: Node, parent: Node): Repair {
  return {
    stage: STAGE_TREE, safe: false, describe: `point the parent entry of ${n.path || '/'} at ${parent.path || '/'}`,
    run: async (r) => {
      const d = await loadDirOf(r, n, adFormOf(n));
      await setParent(r.wctx(), d, icbLongAd(parent.loc, r.space.disc.blockSize, parent.entry.uniqueID));
      await storeNode(r.wctx(), d.node);
      r.spaceChanged = true;
    },
  };
}

/** A new, empty directory entry shaped like `like` (FE or EFE, tag version), in its own block near it. */
function newDirectoryNode(r: RepairCtx, like: WNode): WNode {
  const ctx = r.wctx();
  const [piece] = ctx.alloc.allocate(1, like.loc.logicalBlockNum + 1);
  const loc: LbAddr = { logicalBlockNum: piece.block, partitionReferenceNum: ctx.ref };
  const now = dateToTimestamp(new Date());
  const t = like.entry;
  const noAd = { extLength: 0, extLocation: { logicalBlockNum: 0, partitionReferenceNum: 0 }, implUse: new Uint8Array(6) };
  const common = {
    descTag: { ...t.descTag, tagIdent: t.kind === 'fe' ? TAG_FE : TAG_EFE, tagLocation: piece.block },
    icbTag: {
      priorRecordedNumDirectEntries: 0, strategyType: ICB_STRATEGY_4, strategyParameter: 0, numEntries: 1,
      fileType: FT_DIRECTORY, parentICBLocation: { logicalBlockNum: 0, partitionReferenceNum: 0 }, flags: ICB_FLAG_AD_IN_ICB,
    },
    uid: t.uid, gid: t.gid, permissions: LOST_FOUND_PERMISSIONS,
    fileLinkCount: 1, recordFormat: 0, recordDisplayAttr: 0, recordLength: 0,
    informationLength: 0, logicalBlocksRecorded: 0,
    accessTime: now, modificationTime: now, attrTime: now, checkpoint: 1,
    extendedAttrICB: noAd, impIdent: PKTFS_IMP_IDENT, uniqueID: takeUniqueId(r),
    lengthExtendedAttr: 0, lengthAllocDescs: 0, extendedAttr: new Uint8Array(0), allocDescs: new Uint8Array(0),
  };
  const entry: Fe | Efe = t.kind === 'fe'
    ? { kind: 'fe', ...common }
    : { kind: 'efe', ...common, objectSize: 0, createTime: now, streamDirectoryICB: noAd };
  return { ino: inoOf(loc), loc, entry, inline: Buffer.alloc(0), runs: [], size: 0, aeds: [], adForm: like.adForm, fresh: new Set(), dirty: true };
}

/** lost+found in the root, made when missing. */
async function lostAndFound(r: RepairCtx, root: Node): Promise<WDir> {
  const ctx = r.wctx();
  const bs = r.space.disc.blockSize;
  const rootDir = await loadDirOf(r, root, adFormOf(root));
  const slot = rootDir.byName.get(LOST_AND_FOUND);
  if (slot) {
    const loc = slot.fid.icb.extLocation;
    const w = await loadNode(r.space, inoOf(loc), loc, rootDir.node.adForm);
    if (w.entry.icbTag.fileType !== FT_DIRECTORY) throw new FsError('EEXIST', `/${LOST_AND_FOUND} exists and is not a directory`);
    return loadDir(ctx, w);
  }
  const w = newDirectoryNode(r, rootDir.node);
  const tagFrom = rootDir.slots[0]?.fid.descTag ?? rootDir.node.entry.descTag;
  const d = newDir(ctx, w, tagFrom, icbLongAd(rootDir.node.loc, bs, rootDir.node.entry.uniqueID));
  await storeNode(ctx, w);
  await addEntry(ctx, rootDir, LOST_AND_FOUND, icbLongAd(w.loc, bs, w.entry.uniqueID), true);
  rootDir.node.entry.fileLinkCount++;
  await storeNode(ctx, rootDir.node);
  r.addedDirs++;
  if (r.lvid?.impUse) r.lvid.impUse.numDirs++;
  r.lvidChanged = true;
  return d;
}

export function attachOrphans(orphans: Node[], root: Node): Repair {
  return {
    stage: STAGE_TREE, safe: false, describe: `move ${orphans.length === 1 ? 'it' : 'them'} to /${LOST_AND_FOUND}`,
    run: async (r) => {
      const ctx = r.wctx();
      const bs = r.space.disc.blockSize;
      const lf = await lostAndFound(r, root);
      for (const o of orphans) {
        let name = `#${o.loc.logicalBlockNum}`;
        for (let i = 1; lf.byName.has(name); i++) name = `#${o.loc.logicalBlockNum}.${i}`;
        await addEntry(ctx, lf, name, icbLongAd(o.loc, bs, o.entry.uniqueID), o.isDir);
        if (o.isDir) {
          const d = await loadDirOf(r, o, adFormOf(o));
          if (d.slots.some((s) => s.fid.fileCharacteristics & FID_PARENT)) {
            await setParent(ctx, d, icbLongAd(lf.node.loc, bs, lf.node.entry.uniqueID));
            await storeNode(ctx, d.node);
          }
          lf.node.entry.fileLinkCount++;
        }
      }
      await storeNode(ctx, lf.node);
      r.spaceChanged = true;
    },
  };
}

/** Re-tag every FID of a directory for where it now lies (4/14.4: the tag location is the FID's block) and write it. */
async function rewriteDirectory(r: RepairCtx, d: WDir): Promise<void> {
  const bs = r.space.disc.blockSize;
  const data = nodeFileData(d.node, bs);
  for (const s of d.slots) {
    const location = blockOfByte(data, s.pos, bs);
    if (location === undefined) throw new FsError('EIO', `directory ${d.node.ino}: no block for byte ${s.pos}`);
    const t = s.fid.descTag;
    finaliseTag(d.bytes, s.pos, { tagIdent: TAG_FID, descVersion: t.descVersion, tagSerialNum: t.tagSerialNum, tagLocation: location, crcLength: s.size - 16 });
  }
  await storeRange(r.wctx(), d.node, 0, d.bytes);
}

/** Give the file its own copy of the blocks it shares with another (as e2fsck clones them). */
export function cloneBlocks(n: Node, blocks: number[]): Repair {
  return {
    stage: STAGE_TREE, safe: false, describe: `copy the shared blocks of ${n.path || '/'} to new blocks`,
    run: async (r) => {
      const ctx = r.wctx();
      const shared = new Set(blocks);
      // A directory is read (FIDs and all) before its blocks move, then written to the new ones.
      const dir = n.isDir ? await loadDirOf(r, n, adFormOf(n)) : undefined;
      const w = dir?.node ?? await loadNode(r.space, n.key, n.loc, adFormOf(n));
      if (w.inline) throw new FsError('EIO', `${n.path || '/'}: data in the ICB shares no blocks`);
      const runs: Run[] = [];
      for (const run of w.runs) {
        let overlaps = false;
        if (run.type !== EXT_NOT_RECORDED_NOT_ALLOCATED) for (let b = run.block; b < run.block + run.count && !overlaps; b++) overlaps = shared.has(b);
        if (!overlaps) {
          runs.push(run);
          continue;
        }
        const pieces = ctx.alloc.allocate(run.count, run.block + run.count);
        let done = 0;
        for (const p of pieces) {
          const data = await readPartBlocks(r.space, run.ref, run.block + done, p.count);
          await writePartBlocks(r.space, ctx.ref, p.block, data);
          runs.push({ count: p.count, type: run.type, ref: ctx.ref, block: p.block });
          done += p.count;
        }
      }
      w.runs = runs;
      w.dirty = true;
      if (dir) await rewriteDirectory(r, dir);
      await storeNode(ctx, w);
      r.spaceChanged = true;
    },
  };
}

export function rebuildSpaceMap(safe: boolean): Repair {
  return {
    stage: STAGE_SPACE, safe, key: 'space-map', describe: 'rebuild the space map from the blocks in use',
    run: async (r) => { r.spaceChanged = true; },
  };
}

export function lvidCounts(files: number, dirs: number): Repair {
  return {
    stage: STAGE_LVID, safe: true, describe: `record ${files} files and ${dirs} directories in the LVID`,
    run: async (r) => {
      if (!r.lvid?.impUse) throw new FsError('EIO', 'the LVID has no implementation use area for counts');
      r.lvid.impUse.numFiles = files;
      r.lvid.impUse.numDirs = dirs + r.addedDirs;
      r.lvidChanged = true;
    },
  };
}

export function lvidFree(ref: number, free: number): Repair {
  return {
    stage: STAGE_LVID, safe: true, describe: `record ${free} free blocks in the LVID`,
    run: async (r) => {
      r.lvid!.freeSpaceTable[ref] = free;
      r.lvidChanged = true;
    },
  };
}

export function lvidUniqueId(next: number): Repair {
  return {
    stage: STAGE_LVID, safe: true, describe: `set the LVID's next unique ID to ${next}`,
    run: async (r) => {
      r.lvid!.uniqueID = Math.max(r.lvid!.uniqueID, next);
      r.lvidChanged = true;
    },
  };
}

export function lvidClose(): Repair {
  return {
    stage: STAGE_LVID + 1, safe: true, describe: 'mark the volume closed',
    run: async (r) => {
      r.closeLvid = true;
      r.lvidChanged = true;
    },
  };
}

/**
 * A new LVID in place of a damaged one (3/10.10, UDF 2.2.6): the counts, free
 * space and next unique ID the check found, the partition sizes, and the
 * domain's revision as the minimum and maximum (what the LVID said is lost).
 */
export function rebuildLvid(block: number, make: () => Lvid): Repair {
  return {
    stage: STAGE_LVID - 1, safe: false, describe: `write a new LVID at block ${block} from what the check found`,
    run: async (r) => {
      r.lvid = make();
      r.lvidBlock = block;
      r.closeLvid = true;
      r.lvidChanged = true;
    },
  };
}
