/**
 * Deciding at mount whether a volume can be written, and if so building the
 * writable volume. The refusals follow Linux fs/udf (super.c: domain flags,
 * partition access type and contents, space sets, LVID, revisions), each with
 * a sentence saying why, which becomes `info.readOnlyReason`.
 */
import createDebug from 'debug';
import type { BlockDevice } from '../../drive/types';
import type { VolumeInfo, UdfMountOptions } from '../types';
import type { Space, LocatedEntry } from '../icb';
import type { OwnerOptions } from '../attr';
import type { Lvd, Pd, Lvid } from '../codec/volume';
import type { Fsd } from '../codec/file';
import { ICB_FLAG_AD_MASK, ICB_FLAG_AD_SHORT, ICB_FLAG_AD_LONG } from '../codec/file';
import { Regid, regidText } from '../codec/primitives';
import { PD_ACCESS_REWRITABLE, PD_ACCESS_OVERWRITABLE, lvid as lvidCodec } from '../codec/volume';
import { revisionText } from '../info';
import { loadSpaceMap, spaceMapError, SpaceMap } from './spacemap';
import { LvidWriter, MAX_WRITE_REV } from './lvid';
import { WritableUdfVolume, EntryDefaults } from './volume';
import { SparingManager } from './sparing';
import type { Partition } from '../partition';
import { isRemappable } from '../../packet/remap';

const debug = createDebug('pktfs:udf:mount');

/** Packet size assumed when neither the medium nor the mount says: 32 KiB. */
const DEFAULT_PACKET_BYTES = 32 << 10;
/** UDF 2.1.5.3: domain identifier suffix byte 2, the domain flags. */
const DOMAIN_HARD_WRITE_PROTECT = 1;
const DOMAIN_SOFT_WRITE_PROTECT = 2;

export interface MountParts {
  dev: BlockDevice;
  space: Space;
  lvd: Lvd;
  pds: Map<number, Pd>;
  lvid?: Lvid;
  lvidBlock?: number;
  fileSet: Fsd;
  root: LocatedEntry;
  rootIno: number;
  info: VolumeInfo;
  owner: OwnerOptions;
  opts: UdfMountOptions;
}

function domainFlags(r: Regid): number {
  return r.identifierSuffix[2] ?? 0;
}

/** The reason the volume cannot be written (before looking at space), or undefined. */
function refusal(p: MountParts): string | undefined {
  if (p.info.readOnlyReason) return p.info.readOnlyReason;
  if (p.dev.readOnly) return 'the device is read-only';
  for (const [what, r] of [['logical volume', p.lvd.domainIdent], ['file set', p.fileSet.domainIdent]] as const) {
    if (domainFlags(r) & DOMAIN_HARD_WRITE_PROTECT) return `the ${what} is hard write-protected (domain identifier flag)`;
    if (domainFlags(r) & DOMAIN_SOFT_WRITE_PROTECT) return `the ${what} is soft write-protected (domain identifier flag)`;
  }
  if (!p.lvid || p.lvidBlock === undefined || !p.lvid.impUse) return 'the logical volume integrity descriptor is damaged or missing';
  if (p.info.integrity === 'open' && !p.opts.allowOpen) {
    return 'the volume was not closed properly after it was last written: check it with `pktfs fsck` (or mount with -o force to write all the same)';
  }
  // It is rewritten in place: it must fit its block (3/10.10: 80 bytes, 8 per partition, then the implementation use).
  const lvidBytes = lvidCodec.size + 8 * p.lvid.numOfPartitions + p.lvid.lengthOfImpUse;
  if (lvidBytes > p.space.disc.blockSize) return `the logical volume integrity descriptor claims ${lvidBytes} bytes, more than its block`;
  const minWrite = p.lvid.impUse.minUDFWriteRev;
  if (minWrite > MAX_WRITE_REV) return `writing the volume needs UDF ${revisionText(minWrite)}; pktfs writes UDF up to ${revisionText(MAX_WRITE_REV)}`;
  const parts = p.space.partitions.filter((x) => x);
  if (parts.length !== 1) return `the volume has ${parts.length} partitions; pktfs writes volumes with one`;
  const part = parts[0];
  if (part.kind !== 'physical' && part.kind !== 'sparable') return `${part.kind} partitions are not written`;
  const pd = p.pds.get(part.number);
  if (!pd) return `partition ${part.number} has no partition descriptor`;
  if (part.start + part.length > p.space.disc.blockCount) {
    return `the partition (blocks ${part.start}+${part.length}) runs past the end of the medium (${p.space.disc.blockCount} blocks)`;
  }
  if (pd.accessType !== PD_ACCESS_REWRITABLE && pd.accessType !== PD_ACCESS_OVERWRITABLE) {
    const names = ['unspecified', 'read-only', 'write-once', 'rewritable', 'overwritable', 'pseudo-overwritable'];
    return `the partition's access type is ${names[pd.accessType] ?? pd.accessType}`;
  }
  const contents = regidText(pd.partitionContents);
  if (contents !== '+NSR02' && contents !== '+NSR03') return `the partition holds "${contents}", not a UDF file system`;
  return undefined;
}

function entryDefaults(root: LocatedEntry): EntryDefaults {
  const e = root.entry;
  const form = e.icbTag.flags & ICB_FLAG_AD_MASK;
  return {
    kind: e.kind,
    descTag: { ...e.descTag },
    adForm: form === ICB_FLAG_AD_SHORT ? ICB_FLAG_AD_SHORT : ICB_FLAG_AD_LONG,
  };
}

/**
 * The writable volume, or a sentence saying why there is none (then the caller
 * mounts read-only and reports it as `info.readOnlyReason`).
 */
export async function mountWritable(p: MountParts): Promise<WritableUdfVolume | string> {
  const why = refusal(p);
  if (why) return why;
  const part = p.space.partitions.find((x) => x)!;
  const pd = p.pds.get(part.number)!;
  const bs = p.space.disc.blockSize;
  const packetBlocks = p.opts.packetBlocks
    ?? (part.kind === 'sparable' ? part.packetLength : Math.max(1, Math.floor(DEFAULT_PACKET_BYTES / bs)));
  let map: SpaceMap | string;
  try {
    // The medium's packets are counted from its first block, the allocator's from the partition's.
    map = await loadSpaceMap(p.space, part, pd, packetBlocks, part.start % packetBlocks);
  } catch (e) {
    map = spaceMapError(e);
  }
  if (typeof map === 'string') return map;
  const lvid = p.lvid!;
  const foundOpen = p.info.integrity === 'open';
  const writer = new LvidWriter(p.space.disc, p.lvidBlock!, lvid, foundOpen);
  debug('writable: partition %d (%s), %d blocks free, packet %d blocks', part.ref, part.kind, map.alloc.freeBlocks, packetBlocks);
  const sparing = sparingManager(p, part);
  return new WritableUdfVolume({
    space: p.space, info: p.info, rootIno: p.rootIno, owner: p.owner, unhide: !!p.opts.unhide,
    map, lvid: writer, defaults: entryDefaults(p.root),
    numFiles: lvid.impUse!.numFiles, numDirs: lvid.impUse!.numDirs, idleSettleMs: p.opts.idleSettleMs, sparing,
  });
}

/**
 * Defect management for a sparable partition, installed in the packet layer
 * beneath (UDF 2.2.12). Without a packet layer, or without a readable sparing
 * table, failed writes are reported as they are.
 */
function sparingManager(p: MountParts, part: Partition): SparingManager | undefined {
  if (part.kind !== 'sparable') return undefined;
  if (!part.table) {
    debug('sparable partition %d has no readable sparing table: defects will not be remapped', part.ref);
    return undefined;
  }
  if (!isRemappable(p.dev)) {
    debug('%s has no packet layer: defects will not be remapped', p.dev.description);
    return undefined;
  }
  const m = new SparingManager(p.space.disc, part, part.table, (s) => {
    p.info.sparing = s;
    const pi = p.info.partitions.find((x) => x.ref === part.ref);
    if (pi) pi.sparingUsed = s.used;
  });
  m.warn = (w) => p.info.warnings.push(w);
  m.install(p.dev);
  return m;
}
