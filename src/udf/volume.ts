/**
 * Mounting a UDF volume and serving it through the `Volume` interface:
 * session and anchor, volume descriptors, partitions, integrity, file set,
 * then inodes, directories, data and symlinks on demand, with caches.
 */
import createDebug from 'debug';
import { LRUCache } from 'lru-cache';
import type { BlockDevice } from '../drive/types';
import { FsError } from '../errors';
import type { Volume, VolumeInfo, Attr, AttrMs, DirEntry, DirectMap, UdfMountOptions, PartitionInfo, IntegrityState } from './types';
import { Disc } from './disc';
import { findSessions, recognize, Session } from './recognize';
import { readVolumeDescriptors, readLvid } from './vds';
import { buildPartitions } from './partmount';
import { Partition, accessTypeName } from './partition';
import { Space, LocatedEntry, FileData, readFileEntry, fileData, readData, readDataInto, directMapOf, blockOfByte, readPartBlock, recordedEnd, prefetchEntries, PREFETCH_ENTRIES } from './icb';
import { parseDirectory } from './dir';
import { decodePathComponents, pathComponentsToPosix } from './symlink';
import { entryToAttr, inoOf, locOf, OwnerOptions, S_IFMT, S_IFDIR, S_IFLNK, S_IFREG, typeBits } from './attr';
import { decodeDstring } from './cs0';
import { uuidFromVolSetIdent, revisionText, identText } from './info';
import { LbAddr, regidUdfRevision, regidText, EXT_LENGTH_MASK } from './codec/primitives';
import { fsd, Fsd } from './codec/file';
import { TAG_FSD, TAG_TD, verifyTag } from './codec/tag';
import { mountWritable } from './write/mount';
import { sparingInfo } from './write/sparing';
import { LVID_INTEGRITY_OPEN, LVID_INTEGRITY_CLOSE, PD_ACCESS_READ_ONLY, PD_ACCESS_WRITE_ONCE, Lvid } from './codec/volume';

const debug = createDebug('pktfs:udf:volume');

const MAX_FSD_BLOCKS = 256;
const MAX_DIR_BYTES = 256 << 20;
const MAX_SYMLINK_BYTES = 64 << 10;
const MAX_ANCESTRY = 4096;

interface Inode {
  ino: number;
  located: LocatedEntry;
  data: FileData;
  attr: Attr;
}

interface Directory {
  entries: DirEntry[];
  byName: Map<string, number>;
  dirs: Set<number>;
  /** Its entries' file entries were prefetched (the first listing). */
  prefetched?: boolean;
}

class UdfVolume implements Volume {
  private readonly inodes = new LRUCache<number, Inode>({ max: 8192 });
  private readonly dirs = new LRUCache<number, Directory>({ maxSize: 64 << 20, sizeCalculation: (d) => 64 + d.entries.length * 96 });
  /** Parent of each directory reached through a lookup or readdir, for catching loops in the tree. */
  private readonly parents = new Map<number, number>();

  constructor(
    private readonly space: Space,
    readonly info: VolumeInfo,
    readonly rootIno: number,
    private readonly owner: OwnerOptions,
    private readonly unhide: boolean,
  ) {}

  private async inode(ino: number): Promise<Inode> {
    const hit = this.inodes.get(ino);
    if (hit) return hit;
    if (!Number.isSafeInteger(ino) || ino < 1) throw new FsError('ENOENT', `inode ${ino} does not exist`);
    const loc = locOf(ino);
    // Inode numbers come from directory entries: one naming a partition that is not there is damaged.
    if (!this.space.partitions[loc.partitionReferenceNum]) throw new FsError('EIO', `inode ${ino}: its ICB is in partition ${loc.partitionReferenceNum}, which the volume does not have`);
    const what = `file entry of inode ${ino} (partition ${loc.partitionReferenceNum} block ${loc.logicalBlockNum})`;
    const located = await readFileEntry(this.space, loc, what);
    const data = await fileData(this.space, located, what);
    const attr = entryToAttr(ino, located.entry, this.space.disc.blockSize, this.owner);
    const node: Inode = { ino, located, data, attr };
    this.inodes.set(ino, node);
    return node;
  }

  async getattr(ino: number): Promise<Attr> {
    return { ...(await this.inode(ino)).attr };
  }

  /** getattr of a cached inode without a promise; undefined when it must be read. */
  attrNow(ino: number): AttrMs | undefined {
    const a = this.inodes.get(ino)?.attr;
    if (!a) return undefined;
    return {
      ino: a.ino, mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size, blocks: a.blocks,
      atimeMs: a.atime.getTime(), mtimeMs: a.mtime.getTime(), ctimeMs: a.ctime.getTime(),
    };
  }

  private async directory(dirIno: number): Promise<Directory> {
    const hit = this.dirs.get(dirIno);
    if (hit) return hit;
    const node = await this.inode(dirIno);
    if ((node.attr.mode & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', `inode ${dirIno} is not a directory`);
    // Past its recorded extents a directory reads as zeros, which end the FIDs: not worth a buffer.
    const size = recordedEnd(node.data, node.attr.size);
    if (size > MAX_DIR_BYTES || size > this.space.disc.byteSize) {
      throw new FsError('EIO', `directory ${dirIno} claims ${size} recorded bytes on a medium of ${this.space.disc.byteSize}`);
    }
    const bytes = await readData(this.space, node.data, size, 0, size);
    const bs = this.space.disc.blockSize;
    const raw = parseDirectory(bytes, (pos) => blockOfByte(node.data, pos, bs), { unhide: this.unhide, what: `directory ${dirIno}` });
    const dir: Directory = { entries: [], byName: new Map(), dirs: new Set() };
    for (const r of raw) {
      if (r.isParent || dir.byName.has(r.name)) continue;
      const ino = inoOf(r.icb);
      dir.entries.push({ name: r.name, ino });
      dir.byName.set(r.name, ino);
      if (r.isDirectory) dir.dirs.add(ino);
    }
    this.dirs.set(dirIno, dir);
    debug('directory %d: %d entries', dirIno, dir.entries.length);
    return dir;
  }

  /** Whether `ino` is `dirIno` or one of its known ancestors: an entry leading there would loop. */
  private isAncestor(ino: number, dirIno: number): boolean {
    let cur: number | undefined = dirIno;
    for (let i = 0; cur !== undefined && i < MAX_ANCESTRY; i++) {
      if (cur === ino) return true;
      if (cur === this.rootIno) return false;
      cur = this.parents.get(cur);
    }
    return false;
  }

  async lookup(dirIno: number, name: string): Promise<number> {
    const ino = await this.find(dirIno, name);
    if (ino === undefined) throw new FsError('ENOENT', `${name} not in directory ${dirIno}`);
    return ino;
  }

  async find(dirIno: number, name: string): Promise<number | undefined> {
    const dir = await this.directory(dirIno);
    const ino = dir.byName.get(name);
    if (ino === undefined) return undefined;
    if (dir.dirs.has(ino)) {
      if (ino === this.rootIno || this.isAncestor(ino, dirIno)) {
        throw new FsError('ELOOP', `directory ${dirIno} entry ${name} points back to its ancestor ${ino}`);
      }
      if (!this.parents.has(ino)) this.parents.set(ino, dirIno);
    }
    return ino;
  }

  async readdir(dirIno: number): Promise<DirEntry[]> {
    const dir = await this.directory(dirIno);
    if (!dir.prefetched) {
      // A listing is followed by a stat of every entry (find, ls -l): see PREFETCH_ENTRIES.
      dir.prefetched = true;
      prefetchEntries(this.space, dir.entries.filter((e) => !this.inodes.has(e.ino)).map((e) => locOf(e.ino)), PREFETCH_ENTRIES.limit);
    }
    for (const ino of dir.dirs) if (!this.parents.has(ino) && ino !== this.rootIno && !this.isAncestor(ino, dirIno)) this.parents.set(ino, dirIno);
    return dir.entries.map((e) => ({ ...e }));
  }

  async read(ino: number, offset: number, length: number): Promise<Buffer> {
    const node = await this.inode(ino);
    if ((node.attr.mode & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', `inode ${ino} is a directory`);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) throw new FsError('EINVAL', `read of ${length} bytes at ${offset}`);
    return readData(this.space, node.data, node.attr.size, offset, length);
  }

  async readInto(ino: number, offset: number, length: number, into: Buffer): Promise<number> {
    const node = await this.inode(ino);
    if ((node.attr.mode & S_IFMT) === S_IFDIR) throw new FsError('EISDIR', `inode ${ino} is a directory`);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) throw new FsError('EINVAL', `read of ${length} bytes at ${offset}`);
    return readDataInto(this.space, node.data, node.attr.size, offset, length, into);
  }

  async directMap(ino: number): Promise<DirectMap | undefined> {
    const node = await this.inode(ino);
    if ((node.attr.mode & S_IFMT) !== S_IFREG) return undefined;
    return directMapOf(this.space, node.data, node.attr.size);
  }

  async readlink(ino: number): Promise<string> {
    const node = await this.inode(ino);
    if ((node.attr.mode & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
    if (node.attr.size > MAX_SYMLINK_BYTES) throw new FsError('EIO', `symlink ${ino} is ${node.attr.size} bytes`);
    const bytes = await readData(this.space, node.data, node.attr.size, 0, node.attr.size);
    return pathComponentsToPosix(decodePathComponents(bytes));
  }

  async close(): Promise<void> {
    this.inodes.clear();
    this.dirs.clear();
  }
}

/** The file set descriptor the LVD points to (4/14.1), following nextExt; the last valid one prevails. */
export async function readFsd(space: Space, at: LbAddr, length: number): Promise<Fsd> {
  let best: Fsd | undefined;
  let loc = at;
  let count = Math.max(1, Math.ceil(length / space.disc.blockSize));
  const seen = new Set<string>();
  for (let i = 0, total = 0; i < count && total < MAX_FSD_BLOCKS; i++, total++) {
    const block = loc.logicalBlockNum + i;
    const key = `${loc.partitionReferenceNum}:${block}`;
    if (seen.has(key)) break;
    seen.add(key);
    let buf: Buffer;
    let ident: number;
    try {
      buf = await readPartBlock(space, loc.partitionReferenceNum, block);
      ident = verifyTag(buf, 0, { what: 'file set descriptor', location: block, idents: [TAG_FSD, TAG_TD] }).tagIdent;
    } catch (e) {
      if (best) break;
      throw e;
    }
    if (ident === TAG_TD) break;
    const f = fsd.decode(buf, 0);
    if (!best || f.fileSetNum >= best.fileSetNum) best = f;
    const nextLen = f.nextExt.extLength & EXT_LENGTH_MASK;
    if (nextLen > 0) {
      loc = f.nextExt.extLocation;
      count = Math.ceil(nextLen / space.disc.blockSize);
      i = -1;
    }
  }
  if (!best) throw new FsError('EIO', `no file set descriptor at partition ${at.partitionReferenceNum} block ${at.logicalBlockNum}`);
  return best;
}

function integrityOf(l: Lvid | undefined): IntegrityState {
  if (!l) return 'none';
  return l.integrityType === LVID_INTEGRITY_CLOSE ? 'closed' : l.integrityType === LVID_INTEGRITY_OPEN ? 'open' : 'open';
}

function partitionInfo(p: Partition): PartitionInfo {
  const base = { ref: p.ref, kind: p.kind, number: p.number, start: p.start, length: p.length, accessType: accessTypeName(p.accessType) };
  if (p.kind === 'sparable') {
    return { ...base, packetLength: p.packetLength, sparingUsed: p.remap.size, sparingTotal: p.entries.length };
  }
  return base;
}

/**
 * The sessions to choose from. Scanning the medium for sessions reads all of
 * it, so it is done only where several sessions can be: 2048-byte blocks and a
 * read-only or write-once partition in the first session (pressed and
 * recordable discs), or when a session other than the first is asked for.
 */
async function sessionsOf(dev: BlockDevice, opts: UdfMountOptions): Promise<Session[]> {
  const single: Session[] = [{ startSector: 0 }];
  if (opts.session === undefined) {
    try {
      const rec = await recognize(dev, single[0], dev.sectorCount * dev.sectorSize, opts);
      if (rec.blockSize !== 2048) return single;
      const descs = await readVolumeDescriptors(new Disc(dev, rec.blockSize), rec.anchor, []);
      const sequential = [...descs.pds.values()].some((p) => p.accessType === PD_ACCESS_READ_ONLY || p.accessType === PD_ACCESS_WRITE_ONCE);
      if (!sequential) return single;
    } catch {
      // no volume in the first session: look for later ones
    }
  }
  return findSessions(dev);
}

/** Find and mount the UDF volume on `dev` (read-only). */
export async function openVolume(dev: BlockDevice, opts: UdfMountOptions = {}): Promise<Volume> {
  const warnings: string[] = [];
  const sessions = await sessionsOf(dev, opts);
  const index = opts.session === undefined ? sessions.length - 1 : opts.session - 1;
  if (index < 0 || index >= sessions.length) {
    throw new FsError('EINVAL', `session ${opts.session} requested, ${sessions.length} found on ${dev.description}`);
  }
  const session = sessions[index];
  const endByte = index + 1 < sessions.length ? sessions[index + 1].startSector * 2048 : dev.sectorCount * dev.sectorSize;
  const rec = await recognize(dev, session, endByte, opts);
  if (!rec.vrsFound) warnings.push('no volume recognition sequence with NSR02/NSR03; mounted from the anchor alone');
  const bs = rec.blockSize;
  const disc = new Disc(dev, bs);
  const descs = await readVolumeDescriptors(disc, rec.anchor, warnings);
  const lvd = descs.lvd!;
  if (lvd.logicalBlockSize !== bs) warnings.push(`LVD logical block size ${lvd.logicalBlockSize} differs from the detected ${bs}`);

  const space: Space = { disc, partitions: [] };
  await buildPartitions({ space, lvd, pds: descs.pds, lastBlock: rec.lastBlock, warnings });

  const lvids = lvd.integritySeqExt.extLength > 0 ? await readLvid(disc, lvd.integritySeqExt) : {};
  const lvid = lvids.prevailing;
  // UDF 6.10: on VAT media the VAT, not the LVID, records the closed state; udfinfo says "closed" as well.
  const hasVat = space.partitions.some((p) => p?.kind === 'virtual');
  const integrity = hasVat ? 'closed' : integrityOf(lvid);
  if (integrity === 'open') warnings.push('volume is marked open (not cleanly closed): mounted all the same');

  const fsdAd = lvd.logicalVolContentsUse;
  const fileSet = await readFsd(space, fsdAd.extLocation, fsdAd.extLength & EXT_LENGTH_MASK);
  const rootLoc = fileSet.rootDirectoryICB.extLocation;
  const rootIno = inoOf(rootLoc);
  const root = await readFileEntry(space, rootLoc, 'root directory');
  if (typeBits(root.entry.icbTag.fileType) !== S_IFDIR) throw new FsError('EIO', `root ICB at block ${rootLoc.logicalBlockNum} is not a directory`);

  const virtual = space.partitions.find((p) => p.kind === 'virtual');
  const vat = virtual?.kind === 'virtual' ? virtual.vat : undefined;
  const iu = lvid?.impUse;
  // Space: the partition holding the data (the type 1 / sparable one), as udfinfo reports it.
  const dataPart = space.partitions.find((p) => p && (p.kind === 'physical' || p.kind === 'sparable'));
  let freeBlocks = 0;
  if (virtual?.kind === 'virtual') {
    // Write-once: everything after the VAT is free (as udfinfo counts it).
    freeBlocks = Math.max(0, virtual.underlying.length - (virtual.vatBlock + 1 - virtual.underlying.start));
  } else if (dataPart && lvid) {
    const f = lvid.freeSpaceTable[dataPart.ref];
    freeBlocks = f === undefined || f === 0xffffffff ? 0 : f;
  }
  const domainRev = regidText(lvd.domainIdent) === '*OSTA UDF Compliant' ? regidUdfRevision(lvd.domainIdent) : 0;
  const minRead = iu?.minUDFReadRev || vat?.minUDFReadRev || domainRev;
  // blkid's ID_FS_VERSION: the largest of the LVD domain revision and the first LVID's minimum read/write revisions.
  const firstIu = lvids.first?.impUse;
  const revision = Math.max(domainRev, firstIu?.minUDFReadRev ?? 0, firstIu?.minUDFWriteRev ?? 0);
  const volSetIdent = descs.pvd ? decodeDstring(descs.pvd.volSetIdent) : '';
  const readOnlyReason = virtual ? 'virtual (VAT) partition: write-once medium'
    : space.partitions.some((p) => p.kind === 'metadata') ? 'metadata partition writing is not supported yet'
      : undefined;

  const info: VolumeInfo = {
    label: decodeDstring(lvd.logicalVolIdent),
    volumeId: descs.pvd ? decodeDstring(descs.pvd.volIdent) : '',
    volumeSetId: volSetIdent,
    applicationId: descs.pvd ? identText(descs.pvd.appIdent) || identText(descs.pvd.impIdent) : '',
    publisherId: descs.iuvd ? decodeDstring(descs.iuvd.lvInfo1) : '',
    uuid: uuidFromVolSetIdent(volSetIdent),
    revision: revision ? revisionText(revision) : '',
    minUdfReadRev: minRead,
    minUdfWriteRev: iu?.minUDFWriteRev || vat?.minUDFWriteRev || 0,
    maxUdfWriteRev: iu?.maxUDFWriteRev || vat?.maxUDFWriteRev || 0,
    blockSize: bs,
    session: index + 1,
    sessions: sessions.length,
    partitions: space.partitions.filter((p) => p).map(partitionInfo),
    integrity,
    numFiles: vat?.numFiles ?? iu?.numFiles ?? 0,
    numDirs: vat?.numDirs ?? iu?.numDirs ?? 0,
    totalBlocks: dataPart?.length ?? 0,
    freeBlocks,
    readOnlyReason,
    warnings,
  };
  const sparable = space.partitions.find((p) => p?.kind === 'sparable');
  if (sparable?.kind === 'sparable') info.sparing = sparingInfo(sparable);
  for (const w of warnings) debug('warning: %s', w);
  debug('mounted %s: "%s", block size %d, session %d/%d, root ino %d', dev.description, info.label, bs, info.session, info.sessions, rootIno);
  const owner: OwnerOptions = {
    uid: opts.uid ?? process.getuid?.() ?? 0,
    gid: opts.gid ?? process.getgid?.() ?? 0,
    umask: opts.umask ?? 0,
  };
  const reader = new UdfVolume(space, info, rootIno, owner, !!opts.unhide);
  if (!opts.readWrite) return reader;
  const writable = await mountWritable({
    dev, space, lvd, pds: descs.pds, lvid, lvidBlock: lvids.prevailingBlock, fileSet, root, rootIno, info, owner, opts,
  });
  if (typeof writable !== 'string') return writable;
  info.readOnlyReason = writable;
  debug('mounted read-only: %s', writable);
  return reader;
}

