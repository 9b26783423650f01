/**
 * One fsck pass over a UDF volume: mount it with the read path's own pieces
 * (recognize.ts, vds.ts, partmount.ts, icb.ts), check the descriptors outside
 * the tree (descriptors.ts), walk the whole directory tree from the root,
 * claiming every block a file entry, allocation extent, extent or system
 * structure uses, then look for file entries nothing points at (orphans) in the
 * blocks the space map calls used, and compare: space map, link counts, LVID.
 * The result is a list of problems, each with its repair when there is one.
 */
import createDebug from 'debug';
import type { BlockDevice } from '../../drive/types';
import { FsError } from '../../errors';
import { Disc } from '../disc';
import { findSessions, recognize, Recognized } from '../recognize';
import { readVolumeDescriptors, readLvid } from '../vds';
import { buildPartitions } from '../partmount';
import type { Partition } from '../partition';
import { Space, FileEntry, FileData, readFileEntry, fileData, readData, blockOfByte } from '../icb';
import { readFsd } from '../volume';
import { fidsIn } from '../dir';
import { inoOf, locOf } from '../attr';
import { translateName } from '../cs0';
import { decodePartitionHeader, Lvd, Lvid, Pd, LVID_INTEGRITY_OPEN, PD_ACCESS_READ_ONLY, PD_ACCESS_WRITE_ONCE } from '../codec/volume';
import { LbAddr, EXT_LENGTH_MASK, EXT_RECORDED_ALLOCATED, EXT_NOT_RECORDED_ALLOCATED, regidUdfRevision } from '../codec/primitives';
import { fid, Fid, Fsd, FT_DIRECTORY, FT_STREAMDIR, FID_DELETED, FID_DIRECTORY, FID_PARENT, ICB_STRATEGY_4096 } from '../codec/file';
import { TAG_FE, TAG_EFE, TAG_IE, TAG_TE, TAG_SBD, TAG_LVID, verifyTag } from '../codec/tag';
import { dateToTimestamp } from '../time';
import { PKTFS_IMP_IDENT } from '../write/ident';
import { loadSpaceMap, SpaceMap } from '../write/spacemap';
import { Allocator } from '../write/alloc';
import { Problem, problem } from './problem';
import { checkAnchors, checkVds, checkSparing } from './descriptors';
import * as fix from './repair';

const debug = createDebug('pktfs:udf:fsck');

/** Packet size assumed for allocation when the medium does not say (as write/mount.ts): 32 KiB. */
const DEFAULT_PACKET_BYTES = 32 << 10;
const MAX_DIR_BYTES = 256 << 20;
/** Block numbers named in a message before "..." */
const SHOW_BLOCKS = 8;

export interface Mounted {
  dev: BlockDevice;
  disc: Disc;
  rec: Recognized;
  lvd: Lvd;
  pds: Map<number, Pd>;
  space: Space;
  lvid?: Lvid;
  lvidBlock?: number;
  fsd: Fsd;
  warnings: string[];
}

/** Mount the last session the way openVolume does, keeping the pieces fsck needs. */
export async function mount(dev: BlockDevice): Promise<Mounted> {
  const warnings: string[] = [];
  // As openVolume: only a pressed or recordable disc (2048-byte blocks) can have several sessions,
  // and scanning for them reads the whole medium.
  let rec = await recognize(dev, { startSector: 0 }, dev.sectorCount * dev.sectorSize, {}).catch(() => undefined);
  const multi = !rec || (rec.blockSize === 2048 && [...(await readVolumeDescriptors(new Disc(dev, 2048), rec.anchor, []).catch(() => ({ pds: new Map<number, Pd>() }))).pds.values()]
    .some((p) => p.accessType === PD_ACCESS_READ_ONLY || p.accessType === PD_ACCESS_WRITE_ONCE));
  if (multi) {
    const sessions = await findSessions(dev);
    rec = await recognize(dev, sessions[sessions.length - 1], dev.sectorCount * dev.sectorSize, {});
  }
  if (!rec) throw new FsError('ENODEV', `no UDF anchor found on ${dev.description}`);
  const disc = new Disc(dev, rec.blockSize);
  const descs = await readVolumeDescriptors(disc, rec.anchor, warnings);
  const lvd = descs.lvd!;
  const space: Space = { disc, partitions: [] };
  await buildPartitions({ space, lvd, pds: descs.pds, lastBlock: rec.lastBlock, warnings });
  const lvids = lvd.integritySeqExt.extLength > 0 ? await readLvid(disc, lvd.integritySeqExt) : {};
  const fsdAd = lvd.logicalVolContentsUse;
  const fsd = await readFsd(space, fsdAd.extLocation, fsdAd.extLength & EXT_LENGTH_MASK);
  return { dev, disc, rec, lvd, pds: descs.pds, space, lvid: lvids.prevailing, lvidBlock: lvids.prevailingBlock, fsd, warnings };
}

/** A file entry reached by the walk (or found as an orphan). */
export interface Node {
  key: number;
  /** The ICB as directory entries name it, and where its (newest) entry is recorded. */
  loc: LbAddr;
  entryLoc: LbAddr;
  entry: FileEntry;
  data: FileData;
  isDir: boolean;
  path: string;
  owner: number;
  /** Directory whose entry led here (the root: itself); undefined for an orphan nothing points at. */
  reachedFrom?: number;
  /** Where the directory's parent entry points. */
  parentFid?: number;
  orphan: boolean;
  /** In a stream directory (the file set's system streams, or a file's named streams): not counted in the LVID. */
  system: boolean;
  /** A stream directory itself: named by an ICB field (4/14.1.22, 4/14.17.21), not by a directory entry. */
  streamRoot: boolean;
}

export interface CheckResult {
  mounted: Mounted;
  problems: Problem[];
  nodes: Map<number, Node>;
  numFiles: number;
  numDirs: number;
  /** Allocation as checked: blocks, blocks in use; undefined when not checked. */
  alloc?: { total: number; used: number; ref: number; map: SpaceMap; computedFree: Uint8Array; packetBlocks: number };
  skipped: string[];
  rootKey: number;
}

/** Who uses each block of the data partition: an index into `names`, -1 for nobody. */
class Claims {
  readonly owner: Int32Array;
  readonly names: string[] = [];
  /** Blocks a second owner claimed: second owner → blocks and first owners. */
  readonly doubles = new Map<number, { blocks: number[]; first: Set<number> }>();
  readonly outside: string[] = [];
  used = 0;

  constructor(readonly ref: number, readonly length: number) {
    this.owner = new Int32Array(length).fill(-1);
  }

  newOwner(name: string): number {
    this.names.push(name);
    return this.names.length - 1;
  }

  claim(who: number, ref: number, block: number, count: number): void {
    if (ref !== this.ref) return;
    for (let b = block; b < block + count; b++) {
      if (b < 0 || b >= this.length) {
        this.outside.push(`${this.names[who]}: block ${b} outside the partition (${this.length} blocks)`);
        return;
      }
      const o = this.owner[b];
      if (o === -1) {
        this.owner[b] = who;
        this.used++;
      } else if (o !== who) {
        let d = this.doubles.get(who);
        if (!d) this.doubles.set(who, (d = { blocks: [], first: new Set() }));
        d.blocks.push(b);
        d.first.add(o);
      }
    }
  }
}

function listBlocks(blocks: number[]): string {
  const shown = blocks.slice(0, SHOW_BLOCKS).join(', ');
  return blocks.length > SHOW_BLOCKS ? `${shown}, ...` : shown;
}

interface FidSlot {
  pos: number;
  fid: Fid;
  name: string;
}

/** The FIDs of a directory's bytes; stops at the first bad one and says where. */
function parseFids(bytes: Buffer, data: FileData, bs: number, what: string): { slots: FidSlot[]; error?: string } {
  const slots: FidSlot[] = [];
  try {
    for (const { pos, fid: f } of fidsIn(bytes, (p) => blockOfByte(data, p, bs), what)) {
      slots.push({ pos, fid: f, name: f.fileCharacteristics & FID_PARENT ? '..' : translateName(f.fileIdent) });
    }
  } catch (e) {
    return { slots, error: (e as Error).message };
  }
  return { slots };
}

/** Recorded blocks of a file (4/14.9.11): its recorded extents and its allocation extent descriptors. */
function recordedBlocks(data: FileData, bs: number): number {
  if (data.kind === 'inline') return 0;
  return data.extents.reduce((n, x) => n + (x.type === EXT_RECORDED_ALLOCATED ? Math.ceil(x.length / bs) : 0), 0) + (data.aeds?.length ?? 0);
}

/**
 * A space bitmap (4/14.12) to write in place of a damaged one: every block
 * free, the size the partition header gives; undefined for a table.
 */
function blankBitmap(m: Mounted, part: Partition, pd: Pd, packetBlocks: number): SpaceMap | undefined {
  const h = decodePartitionHeader(pd.partitionContentsUse);
  if (h.unallocSpaceBitmap.extLength === 0) return undefined;
  const bs = m.disc.blockSize;
  const numOfBits = part.length;
  const numOfBytes = Math.ceil(numOfBits / 8);
  const blocks = Math.ceil(h.unallocSpaceBitmap.extLength / bs);
  if (24 + numOfBytes > blocks * bs) return undefined;
  const bitmap = new Uint8Array(numOfBytes).fill(0xff);
  if (numOfBits % 8) bitmap[numOfBytes - 1] = (1 << (numOfBits % 8)) - 1;
  const t = m.lvd.descTag;
  const descTag = { tagIdent: TAG_SBD, descVersion: t.descVersion, tagChecksum: 0, tagSerialNum: t.tagSerialNum, descCRC: 0, descCRCLength: Math.min(8 + numOfBytes, 0xffff), tagLocation: h.unallocSpaceBitmap.extPosition };
  return {
    kind: 'bitmap', ref: part.ref, at: h.unallocSpaceBitmap.extPosition, blocks,
    sbd: { descTag, numOfBits, numOfBytes, bitmap },
    alloc: new Allocator(Uint8Array.from(bitmap), numOfBits, packetBlocks),
  };
}

/** Why the LVID at `block` is unusable. */
async function lvidError(disc: Disc, block: number): Promise<string> {
  try {
    verifyTag(await disc.readBlock(block), 0, { what: 'LVID', location: block, idents: [TAG_LVID] });
    return `the one at block ${block} is not followed as the sequence says`;
  } catch (e) {
    return (e as Error).message;
  }
}

/** An LVID with what the check found (see repair.ts rebuildLvid), marked open until the pass closes it. */
function newLvid(m: Mounted, a: NonNullable<CheckResult['alloc']>, numFiles: number, numDirs: number, nextUid: number): Lvid {
  const rev = regidUdfRevision(m.lvd.domainIdent) || 0x0201;
  const n = m.lvd.partitionMaps.length;
  const freeSpaceTable = new Array<number>(n).fill(0xffffffff);
  const sizeTable = new Array<number>(n).fill(0xffffffff);
  freeSpaceTable[a.ref] = a.total - a.used;
  sizeTable[a.ref] = a.total;
  const t = m.lvd.descTag;
  return {
    descTag: { tagIdent: TAG_LVID, descVersion: t.descVersion, tagChecksum: 0, tagSerialNum: t.tagSerialNum, descCRC: 0, descCRCLength: 0, tagLocation: 0 },
    recordingDateAndTime: dateToTimestamp(new Date()),
    integrityType: LVID_INTEGRITY_OPEN,
    nextIntegrityExt: { extLength: 0, extLocation: 0 },
    uniqueID: Math.max(16, nextUid),
    numOfPartitions: n,
    lengthOfImpUse: LVID_IMP_USE_BYTES,
    freeSpaceTable,
    sizeTable,
    impUse: { impIdent: PKTFS_IMP_IDENT, numFiles, numDirs, minUDFReadRev: rev, minUDFWriteRev: rev, maxUDFWriteRev: rev, impUse: new Uint8Array(0) },
    rawImpUse: new Uint8Array(LVID_IMP_USE_BYTES),
  };
}

/** UDF 2.2.6.4: the implementation use area up to the maximum write revision. */
const LVID_IMP_USE_BYTES = 46;

/** Run every check once. `progress(done, estimate)` is called as entries are checked. */
export async function checkVolume(dev: BlockDevice, progress: (done: number, total: number) => void = () => undefined): Promise<CheckResult> {
  const m = await mount(dev);
  const problems: Problem[] = [];
  const skipped: string[] = [];
  const { disc, space } = m;
  const bs = disc.blockSize;

  // A pressed disc (3/10.5.7 access type read-only) cannot be repaired; what differs between its
  // descriptor copies, or its lack of an integrity sequence, does not stop it being read: a note.
  const readOnlyMedium = [...m.pds.values()].every((p) => p.accessType === PD_ACCESS_READ_ONLY);
  problems.push(...await checkAnchors(disc, m.rec));
  for (const p of await checkVds(disc, m.rec)) {
    if (readOnlyMedium && p.code === 'vds-differs') skipped.push(`descriptors (read-only medium): ${p.message}`);
    else problems.push(p);
  }
  problems.push(...await checkSparing(disc, m.lvd));
  for (const w of m.warnings) debug('mount warning: %s', w);

  // Allocation is checked on volumes with one type 1 or sparable partition and an unallocated space map.
  const parts = space.partitions.filter((p) => p);
  let claims: Claims | undefined;
  let map: SpaceMap | undefined;
  let dataPart: Partition | undefined;
  let mapDamaged = false;
  const hasVat = parts.some((p) => p.kind === 'virtual');
  if (parts.length !== 1 || (parts[0].kind !== 'physical' && parts[0].kind !== 'sparable')) {
    skipped.push(`allocation: ${parts.map((p) => p.kind).join(' + ')} partitions are not checked`);
  } else {
    dataPart = parts[0];
    const pd = m.pds.get(dataPart.number)!;
    const packetBlocks = dataPart.kind === 'sparable' ? dataPart.packetLength : Math.max(1, Math.floor(DEFAULT_PACKET_BYTES / bs));
    try {
      const loaded = await loadSpaceMap(space, dataPart, pd, packetBlocks);
      if (typeof loaded === 'string') skipped.push(`allocation: ${loaded}`);
      else map = loaded;
    } catch (e) {
      map = blankBitmap(m, dataPart, pd, packetBlocks);
      const why = `the space map cannot be read: ${(e as Error).message}`;
      if (map) {
        mapDamaged = true;
        problems.push(problem('space-map', `${why}; a new bitmap marks used only what the tree reaches (file entries no entry points at cannot be told from deleted ones, and are not kept)`, fix.rebuildSpaceMap(false)));
      } else {
        problems.push(problem('space-map', why));
      }
    }
    if (map) {
      claims = new Claims(dataPart.ref, map.alloc.numBits);
      const sys = claims.newOwner('the space map');
      const h = decodePartitionHeader(pd.partitionContentsUse);
      if (h.unallocSpaceBitmap.extLength > 0) claims.claim(sys, dataPart.ref, h.unallocSpaceBitmap.extPosition, Math.ceil(h.unallocSpaceBitmap.extLength / bs));
      if (h.unallocSpaceTable.extLength > 0) claims.claim(sys, dataPart.ref, h.unallocSpaceTable.extPosition, Math.max(1, Math.ceil(h.unallocSpaceTable.extLength / bs)));
      const fsdOwner = claims.newOwner('the file set descriptor');
      const fsdAd = m.lvd.logicalVolContentsUse;
      claims.claim(fsdOwner, fsdAd.extLocation.partitionReferenceNum, fsdAd.extLocation.logicalBlockNum, Math.max(1, Math.ceil((fsdAd.extLength & EXT_LENGTH_MASK) / bs)));
    }
  }

  // ---- the tree
  const nodes = new Map<number, Node>();
  const refs = new Map<number, number>();
  const uniqueIds = new Map<number, number>();
  const unreadable = new Set<number>();
  let ambiguous = false;
  let done = 0;
  const estimate = (m.lvid?.impUse ? m.lvid.impUse.numFiles + m.lvid.impUse.numDirs : 0) || 1;
  const addRef = (key: number) => refs.set(key, (refs.get(key) ?? 0) + 1);

  const streams: { loc: LbAddr; path: string }[] = [];
  /** Direct entries whose next block may belong to their ICB; looked at once everything else is claimed. */
  const icbTails: { owner: number; loc: LbAddr; strategy4096: boolean }[] = [];
  const visit = async (loc: LbAddr, path: string, orphan: boolean, system = false): Promise<Node | undefined> => {
    const key = inoOf(loc);
    const seen = nodes.get(key);
    if (seen) return seen;
    const what = `${path || '/'} (block ${loc.logicalBlockNum})`;
    let entry: FileEntry;
    let data: FileData;
    let entryLoc: LbAddr;
    try {
      const located = await readFileEntry(space, loc, what);
      entry = located.entry;
      entryLoc = located.loc;
      data = await fileData(space, located, what);
    } catch (e) {
      if (!unreadable.has(key)) problems.push(problem('tag', (e as Error).message));
      unreadable.add(key);
      ambiguous = true;
      return undefined;
    }
    done++;
    if (done % 64 === 0) progress(done, Math.max(estimate, done));
    const isDir = entry.icbTag.fileType === FT_DIRECTORY || entry.icbTag.fileType === FT_STREAMDIR;
    const owner = claims ? claims.newOwner(`${orphan ? 'orphan ' : ''}${path || '/'}`) : -1;
    const node: Node = { key, loc, entryLoc, entry, data, isDir, path, owner, orphan, system, streamRoot: false };
    nodes.set(key, node);
    if (entry.kind === 'efe' && (entry.streamDirectoryICB.extLength & EXT_LENGTH_MASK) > 0) {
      streams.push({ loc: entry.streamDirectoryICB.extLocation, path: `${path}:streams` });
    }
    if (claims) {
      claims.claim(owner, loc.partitionReferenceNum, loc.logicalBlockNum, 1);
      if (entryLoc.logicalBlockNum !== loc.logicalBlockNum) claims.claim(owner, entryLoc.partitionReferenceNum, entryLoc.logicalBlockNum, 1);
      icbTails.push({ owner, loc: entryLoc, strategy4096: entry.icbTag.strategyType === ICB_STRATEGY_4096 });
      if (data.kind === 'extents') {
        for (const a of data.aeds ?? []) claims.claim(owner, a.partitionReferenceNum, a.logicalBlockNum, 1);
        for (const x of data.extents) {
          if (x.type === EXT_RECORDED_ALLOCATED || x.type === EXT_NOT_RECORDED_ALLOCATED) claims.claim(owner, x.ref, x.block, Math.ceil(x.length / bs));
        }
      }
    }
    // Sizes against allocation (4/14.9.10, 4/14.9.11).
    const size = entry.informationLength;
    const allocated = data.kind === 'inline' ? entry.lengthAllocDescs : data.extents.reduce((n, x) => n + x.length, 0);
    if (size > allocated) {
      problems.push(problem('size', `${what}: information length ${size} beyond the ${allocated} bytes allocated`, fix.setEntryField(node, 'informationLength', allocated, false)));
    }
    const recorded = recordedBlocks(data, bs);
    if (entry.logicalBlocksRecorded !== recorded) {
      problems.push(problem('size', `${what}: ${entry.logicalBlocksRecorded} logical blocks recorded, ${recorded} found`, fix.setEntryField(node, 'logicalBlocksRecorded', recorded, true)));
    }
    if (entry.uniqueID !== 0) {
      const other = uniqueIds.get(entry.uniqueID);
      if (other !== undefined) {
        problems.push(problem('unique-id', `${what}: unique ID ${entry.uniqueID} is also that of ${nodes.get(other)?.path || '/'}`, fix.newUniqueId(node)));
      } else uniqueIds.set(entry.uniqueID, key);
    }
    return node;
  };

  const rootLoc = m.fsd.rootDirectoryICB.extLocation;
  const rootKey = inoOf(rootLoc);
  const root = await visit(rootLoc, '', false);
  if (!root) throw new FsError('EIO', 'the root directory cannot be read: nothing to check');
  if (!root.isDir) throw new FsError('EIO', `the root ICB at block ${rootLoc.logicalBlockNum} is not a directory`);
  root.reachedFrom = root.key;

  const walk = async (start: Node): Promise<void> => {
    const stack: Node[] = [start];
    while (stack.length) {
      const dir = stack.pop()!;
      const what = `directory ${dir.path || '/'}`;
      const size = dir.entry.informationLength;
      if (size > MAX_DIR_BYTES) {
        problems.push(problem('fid', `${what} claims ${size} bytes`));
        ambiguous = true;
        continue;
      }
      let bytes: Buffer;
      try {
        bytes = await readData(space, dir.data, size, 0, size);
      } catch (e) {
        problems.push(problem('fid', `${what}: ${(e as Error).message}`));
        ambiguous = true;
        continue;
      }
      const { slots, error } = parseFids(bytes, dir.data, bs, what);
      if (error) {
        problems.push(problem('fid', error));
        ambiguous = true;
      }
      const names = new Set<string>();
      for (const s of slots) {
        const c = s.fid.fileCharacteristics;
        if (c & FID_DELETED) continue;
        if ((s.fid.icb.extLength & EXT_LENGTH_MASK) === 0) continue;
        const target = s.fid.icb.extLocation;
        if (c & FID_PARENT) {
          dir.parentFid = inoOf(target);
          // A stream directory's parent entry names the file it belongs to: not a link (UDF 3.3.5.1).
          if (!dir.streamRoot) addRef(inoOf(target));
          continue;
        }
        const cid = s.fid.fileIdent[0];
        if (s.fid.lengthFileIdent === 0) problems.push(problem('name', `${what}: entry at byte ${s.pos} has no name`));
        // OSTA CS0 (UDF 2.1.2): compression ID 8 or 16, and 16 means whole UTF-16 units.
        else if ((cid !== 8 && cid !== 16) || (cid === 16 && s.fid.lengthFileIdent % 2 !== 1)) {
          problems.push(problem('name', `${what}: entry at byte ${s.pos} ("${s.name}") has a name of ${s.fid.lengthFileIdent} bytes with compression ID ${cid}`));
        } else if (names.has(s.name)) problems.push(problem('name', `${what}: two entries named "${s.name}"`));
        names.add(s.name);
        const childPath = `${dir.path}/${s.name}`;
        const child = await visit(target, childPath, dir.orphan, dir.system);
        if (!child) continue;
        if (((c & FID_DIRECTORY) !== 0) !== child.isDir) {
          problems.push(problem('fid', `${what}: entry "${s.name}" ${child.isDir ? 'lacks' : 'has'} the directory flag, but its file entry is ${child.isDir ? '' : 'not '}a directory`));
        }
        if (child.isDir) {
          if (child.reachedFrom !== undefined) {
            problems.push(problem('loop', `${what}: entry "${s.name}" leads to directory ${child.path || '/'}, already reached (a loop or a second link to a directory)`, fix.removeFid(dir, s.pos, s.name)));
            continue;
          }
          child.reachedFrom = dir.key;
          child.orphan = dir.orphan;
          child.path = childPath;
          stack.push(child);
        } else if (child.orphan && !dir.orphan) {
          child.orphan = false;
        }
        // A file found as an orphan and then named by an orphan directory belongs to it.
        if (child.reachedFrom === undefined) child.reachedFrom = dir.key;
        addRef(child.key);
      }
    }
  };
  await walk(root);
  // Stream directories: the file set's system streams (UDF 3.3.7), and named streams of files.
  const fsdStreams = m.fsd.streamDirectoryICB;
  if ((fsdStreams.extLength & EXT_LENGTH_MASK) > 0) streams.unshift({ loc: fsdStreams.extLocation, path: ':system-streams' });
  while (streams.length) {
    const s = streams.shift()!;
    const n = await visit(s.loc, s.path, false, true);
    if (!n || n.streamRoot) continue;
    n.streamRoot = true;
    n.reachedFrom = n.key;
    if (n.isDir) await walk(n);
  }

  // Strategy 4096 (4/A.5): the block after the direct entry is kept for the ICB's next entry (an
  // unrecorded block, or an indirect entry); writers also leave a terminal entry (4/14.8) there when
  // they rewrite an ICB elsewhere. Such a block, marked used and claimed by nothing else, is the ICB's.
  const claimTails = async (): Promise<void> => {
    if (!claims || !map) return;
    for (const t of icbTails.splice(0)) {
      const next = t.loc.logicalBlockNum + 1;
      if (t.loc.partitionReferenceNum !== claims.ref || next >= claims.length || claims.owner[next] !== -1 || map.alloc.isFree(next)) continue;
      const buf = await fix.readBlock(space, { partitionReferenceNum: t.loc.partitionReferenceNum, logicalBlockNum: next });
      let mine = t.strategy4096 && buf.every((x) => x === 0);
      try {
        verifyTag(buf, 0, { what: 'ICB', location: next, idents: [TAG_IE, TAG_TE] });
        mine = true;
      } catch {
        // not part of this ICB
      }
      if (mine) claims.claim(t.owner, t.loc.partitionReferenceNum, next, 1);
    }
  };
  await claimTails();

  // ---- orphans: file entries in blocks the space map calls used that nothing reached
  const orphans: Node[] = [];
  if (claims && map && dataPart) {
    const candidates: number[] = [];
    for (let b = 0; b < claims.length; b++) if (claims.owner[b] === -1 && !map.alloc.isFree(b)) candidates.push(b);
    for (const b of candidates) {
      if (claims.owner[b] !== -1) continue; // claimed by an orphan found before
      const loc: LbAddr = { partitionReferenceNum: dataPart.ref, logicalBlockNum: b };
      let buf: Buffer;
      try {
        buf = await fix.readBlock(space, loc);
        verifyTag(buf, 0, { what: 'orphan candidate', location: b, idents: [TAG_FE, TAG_EFE] });
      } catch {
        continue;
      }
      const n = await visit(loc, `#${b}`, true);
      if (!n) continue;
      orphans.push(n);
      if (n.isDir) await walk(n);
    }
  }
  await claimTails();
  const topOrphans = orphans.filter((n) => n.reachedFrom === undefined);
  if (topOrphans.length) {
    const shown = topOrphans.slice(0, SHOW_BLOCKS).map((n) => `block ${n.loc.logicalBlockNum} (${n.isDir ? 'directory' : 'file'})`).join(', ');
    problems.push(problem('orphan', `${topOrphans.length} file entr${topOrphans.length === 1 ? 'y' : 'ies'} with no directory entry: ${shown}${topOrphans.length > SHOW_BLOCKS ? ', ...' : ''}`, fix.attachOrphans(topOrphans, root)));
  }

  // ---- parent entries (4/14.4.3: the parent FID names the directory holding this one)
  for (const n of nodes.values()) {
    if (!n.isDir || n.reachedFrom === undefined || n.streamRoot) continue;
    if (n.parentFid !== n.reachedFrom) {
      const parent = nodes.get(n.reachedFrom)!;
      const now = n.parentFid === undefined ? 'is missing' : `points at block ${locOf(n.parentFid).logicalBlockNum}`;
      problems.push(problem('parent', `directory ${n.path || '/'}: the parent entry ${now}, not at ${parent.path || '/'} (block ${parent.loc.logicalBlockNum})`, n.parentFid === undefined ? undefined : fix.setParentFid(n, parent)));
    }
  }

  // ---- link counts (4/14.9.6): the FIDs pointing at each entry, parent entries included
  if (!ambiguous) {
    for (const n of nodes.values()) {
      if (n.orphan && n.reachedFrom === undefined) continue; // counted again once it is in lost+found
      if (n.streamRoot) continue;
      const want = refs.get(n.key) ?? 0;
      if (n.entry.fileLinkCount !== want) {
        problems.push(problem('link-count', `${n.path || '/'} (block ${n.loc.logicalBlockNum}): link count ${n.entry.fileLinkCount}, ${want} entr${want === 1 ? 'y points' : 'ies point'} at it`, fix.setEntryField(n, 'fileLinkCount', want, true)));
      }
    }
  }

  let numFiles = 0;
  let numDirs = 0;
  let maxUid = 0;
  for (const n of nodes.values()) {
    if (!n.system) {
      if (n.isDir) numDirs++; else numFiles++;
    }
    maxUid = Math.max(maxUid, n.entry.uniqueID);
  }

  // ---- allocation
  let allocResult: CheckResult['alloc'];
  if (claims && map && dataPart) {
    for (const o of claims.outside) problems.push(problem('extent', o));
    const usedFree: number[] = [];
    const unreachable: number[] = [];
    const computedFree = new Uint8Array(Math.ceil(claims.length / 8));
    for (let b = 0; b < claims.length; b++) {
      const mine = claims.owner[b] !== -1;
      const marked = !map.alloc.isFree(b);
      if (mine && !marked) usedFree.push(b);
      if (!mine && marked) unreachable.push(b);
      // Unambiguous: free what nothing uses. Otherwise free only what both say is free.
      const free = !mine && (!ambiguous || !marked);
      if (free) computedFree[b >> 3] |= 1 << (b & 7);
    }
    const doubles = [...claims.doubles.entries()];
    const rebuild = fix.rebuildSpaceMap(!ambiguous && doubles.length === 0);
    if (usedFree.length && !mapDamaged) {
      problems.push(problem('used-free', `${usedFree.length} block${usedFree.length === 1 ? '' : 's'} in use marked free in the space map: ${listBlocks(usedFree)}`, rebuild));
    }
    if (unreachable.length) {
      problems.push(problem('unreachable', `${unreachable.length} block${unreachable.length === 1 ? '' : 's'} marked used that nothing reaches: ${listBlocks(unreachable)}`, ambiguous ? undefined : rebuild));
    }
    for (const [who, d] of doubles) {
      const node = [...nodes.values()].find((n) => n.owner === who);
      const firsts = [...d.first].map((o) => claims!.names[o]).join(', ');
      problems.push(problem('double', `${d.blocks.length} block${d.blocks.length === 1 ? '' : 's'} of ${claims.names[who]} also belong${d.blocks.length === 1 ? 's' : ''} to ${firsts}: ${listBlocks(d.blocks)}`, node && node.data.kind === 'extents' ? fix.cloneBlocks(node, d.blocks) : undefined));
    }
    allocResult = { total: claims.length, used: claims.used, ref: dataPart.ref, map, computedFree, packetBlocks: map.alloc.packetBlocks };
  }

  // ---- the LVID (UDF 2.2.6); on VAT media the VAT, not the LVID, says what it records (UDF 6.10)
  if (hasVat) {
    skipped.push('integrity: VAT media record their state in the VAT');
  } else if (readOnlyMedium && !m.lvid) {
    skipped.push('integrity: read-only medium without a logical volume integrity descriptor');
  } else if (!m.lvid || m.lvidBlock === undefined) {
    const seq = m.lvd.integritySeqExt;
    const canRebuild = seq.extLength >= bs && allocResult && !ambiguous && parts.length === 1;
    const why = seq.extLength >= bs ? await lvidError(disc, seq.extLocation) : 'the LVD names no integrity sequence';
    problems.push(problem('lvid-damaged', `no usable logical volume integrity descriptor: ${why}`, canRebuild
      ? fix.rebuildLvid(seq.extLocation, () => newLvid(m, allocResult!, numFiles, numDirs, maxUid + 1)) : undefined));
  } else {
    const l = m.lvid;
    if (l.impUse && (l.impUse.numFiles !== numFiles || l.impUse.numDirs !== numDirs)) {
      // With part of the tree unreadable the true counts are not known: nothing to set them to.
      problems.push(problem('lvid-counts', `the LVID records ${l.impUse.numFiles} files and ${l.impUse.numDirs} directories, the tree has ${numFiles} and ${numDirs}`, ambiguous ? undefined : fix.lvidCounts(numFiles, numDirs)));
    }
    if (allocResult) {
      const free = allocResult.total - allocResult.used;
      const recorded = l.freeSpaceTable[allocResult.ref];
      if (recorded !== undefined && recorded !== free) {
        problems.push(problem('lvid-free', `the LVID records ${recorded} free blocks, the partition has ${free}`, ambiguous ? undefined : fix.lvidFree(allocResult.ref, free)));
      }
    }
    if (l.uniqueID <= maxUid) {
      problems.push(problem('lvid-unique-id', `the LVID's next unique ID ${l.uniqueID} is not above ${maxUid}, in use`, fix.lvidUniqueId(maxUid + 1)));
    }
    if (l.integrityType === LVID_INTEGRITY_OPEN) {
      problems.push(problem('lvid-open', 'the volume is marked open: it was not closed cleanly', fix.lvidClose()));
    }
  }
  // A pressed or write-once medium is not rewritten in place (UDF 6.10: VAT media are appended to).
  const sequential = hasVat || [...m.pds.values()].some((p) => p.accessType === PD_ACCESS_READ_ONLY || p.accessType === PD_ACCESS_WRITE_ONCE);
  if (sequential && problems.some((p) => p.repair)) {
    for (const p of problems) p.repair = undefined;
    skipped.push('repairs: the medium is read-only or write-once, so nothing is repaired in place');
  }
  debug('pass: %d problems, %d files, %d dirs', problems.length, numFiles, numDirs);
  progress(done, done);
  return { mounted: m, problems, nodes, numFiles, numDirs, alloc: allocResult, skipped, rootKey };
}
