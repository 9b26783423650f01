/**
 * The contents of the `.pktinfo` status files, as pure functions of a snapshot of
 * the mount's state. The formats are an interface (docs/pktinfo.md): version
 * PKTINFO_VERSION; later versions only add lines and JSON fields, and bump the
 * version when anything existing changes meaning.
 */
import { formatPacketInfo, type PacketDeviceStats } from '../packet';
import type { VolumeInfo } from '../udf/types';
import type { AnswerTimes, DirectReadStats } from './context';
import type { AttrCacheStats, FastOpenStats } from './fuse';
import type { FastSetattrStats } from './fast-setattr';
import type { WriteBehindStats } from './write-behind';

/** Format version of every file in `.pktinfo`; the `version` file holds it. */
export const PKTINFO_VERSION = 1;

/** How the mount was made, for the files that show it. */
export interface MountFacts {
  /** SOURCE as given to pktfs (image path, /dev/sr0, emu:...). */
  source: string;
  readOnly: boolean;
  /** Why the mount is read-only, in words; absent on a read-write mount. */
  readOnlyReason?: string;
  /** Where the packet size came from: `medium`, `option` (-o packet=) or `default`. */
  packetSource?: 'medium' | 'option' | 'default';
  /** The drive's medium (MMC profile name), when the source is a drive. */
  medium?: string;
  /** Time the mount was made. */
  mountedAt: Date;
}

/** Everything the files are generated from, taken at one moment. */
export interface PktinfoSnapshot {
  time: Date;
  mount: MountFacts;
  volume: VolumeInfo;
  /** Absent when the mount has no packet layer (never through the pktfs command). */
  packet?: PacketDeviceStats;
  /** The binding's read fast path; absent when the mount has none. */
  direct?: DirectReadStats;
  /** Flushes (close(2)) the binding answered itself; absent when it answers none. */
  fastFlushes?: number;
  /** The binding's attribute cache; absent when the binding has none. */
  attrCache?: AttrCacheStats;
  /** Per FUSE operation, requests answered after waiting in pktfs and how long they took. */
  answers?: Record<string, AnswerTimes>;
  /** Writes answered before they ran; absent when the mount answers none so. */
  writeBehind?: WriteBehindStats;
  /** The binding's fast open (open and release answered in the binding); absent when it has none. */
  fastOpen?: FastOpenStats;
  /** chmod, chown and utimens the binding answered itself (fast-setattr.ts); absent when it answers none. */
  fastSetattr?: FastSetattrStats;
}

const kb = (bytes: number): string => `${Math.floor(bytes / 1024)}kB`;
const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';
const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

// ---- version ------------------------------------------------------------------

export function versionFile(): string {
  return `${PKTINFO_VERSION}\n`;
}

// ---- volume, volume.json --------------------------------------------------------

/** Read-only from the mount on, or since (a sparable volume whose spares ran out). */
function readOnlyNow(s: PktinfoSnapshot): boolean {
  return s.mount.readOnly || !!s.volume.sparing?.exhausted;
}

export function volumeJson(s: PktinfoSnapshot): object {
  const v = s.volume;
  return {
    version: PKTINFO_VERSION,
    time: s.time.toISOString(),
    source: s.mount.source,
    label: v.label,
    volumeId: v.volumeId,
    volumeSetId: v.volumeSetId,
    uuid: v.uuid,
    applicationId: v.applicationId,
    publisherId: v.publisherId,
    revision: v.revision,
    minUdfReadRev: v.minUdfReadRev,
    minUdfWriteRev: v.minUdfWriteRev,
    maxUdfWriteRev: v.maxUdfWriteRev,
    blockSize: v.blockSize,
    session: v.session,
    sessions: v.sessions,
    partitions: v.partitions.map((p) => ({ ...p })),
    integrity: v.integrity,
    numFiles: v.numFiles,
    numDirs: v.numDirs,
    totalBlocks: v.totalBlocks,
    freeBlocks: v.freeBlocks,
    usedBlocks: v.totalBlocks - v.freeBlocks,
    freeBytes: v.freeBlocks * v.blockSize,
    readOnly: readOnlyNow(s),
    readOnlyReason: readOnlyNow(s) ? (s.mount.readOnlyReason ?? v.readOnlyReason ?? 'read-only mount') : null,
    warnings: [...v.warnings],
    sparing: sparingJson(s),
  };
}

function partitionLine(p: VolumeInfo['partitions'][number]): string {
  const extra = p.kind === 'sparable'
    ? `, packets of ${p.packetLength ?? '?'} blocks, sparing ${p.sparingUsed ?? '?'}/${p.sparingTotal ?? '?'} used`
    : '';
  return `\t${p.ref}:\t\t\t${p.kind} (number ${p.number}, ${p.accessType}, blocks ${p.start}+${p.length}${extra})`;
}

export function volumeText(s: PktinfoSnapshot): string {
  const v = s.volume;
  const j = volumeJson(s) as { readOnlyReason: string | null; usedBlocks: number; freeBytes: number };
  return [
    `Volume on ${s.mount.source}:`,
    '',
    `\tlabel:\t\t\t${v.label}`,
    `\tvolume id:\t\t${v.volumeId}`,
    `\tvolume set id:\t\t${v.volumeSetId}`,
    `\tuuid:\t\t\t${v.uuid || '-'}`,
    `\tUDF revision:\t\t${v.revision}`,
    `\tblock size:\t\t${v.blockSize}`,
    `\tsession:\t\t${v.session} of ${v.sessions}`,
    `\tintegrity:\t\t${v.integrity}`,
    `\tfiles:\t\t\t${v.numFiles}`,
    `\tdirectories:\t\t${v.numDirs}`,
    `\ttotal blocks:\t\t${v.totalBlocks}`,
    `\tused blocks:\t\t${j.usedBlocks}`,
    `\tfree blocks:\t\t${v.freeBlocks} (${kb(j.freeBytes)})`,
    `\tmount:\t\t\t${readOnlyNow(s) ? `read-only: ${j.readOnlyReason}` : 'read-write'}`,
    '',
    'Partitions:',
    ...v.partitions.map(partitionLine),
    '',
    'Warnings:',
    ...(v.warnings.length ? v.warnings.map((w) => `\t${w}`) : ['\tnone']),
    '',
  ].join('\n');
}

// ---- info -----------------------------------------------------------------------

/** pktcdvd's `info` layout (formatPacketInfo), then the mount and a volume summary. */
export function infoText(s: PktinfoSnapshot, packet: PacketDeviceStats): string {
  const v = s.volume;
  return formatPacketInfo(packet) + [
    '',
    'Mount:',
    `\tsource:\t\t\t${s.mount.source}`,
    `\tmedium:\t\t\t${s.mount.medium ?? 'image or block device'}`,
    `\tpacket size from:\t${s.mount.packetSource ?? 'default'}`,
    `\tmode:\t\t\t${s.mount.readOnly ? 'read-only' : 'read-write'}`,
    `\tmounted:\t\t${s.mount.mountedAt.toISOString()}`,
    '',
    'Volume:',
    `\tlabel:\t\t\t${v.label}`,
    `\tUDF revision:\t\t${v.revision}`,
    `\tpartitions:\t\t${v.partitions.map((p) => p.kind).join(' ')}`,
    `\tintegrity:\t\t${v.integrity}`,
    `\tfree blocks:\t\t${v.freeBlocks} of ${v.totalBlocks}`,
    '',
  ].join('\n');
}

// ---- stats.json -----------------------------------------------------------------

export function statsJson(s: PktinfoSnapshot, packet: PacketDeviceStats): object {
  return {
    version: PKTINFO_VERSION,
    time: s.time.toISOString(),
    source: s.mount.source,
    readOnly: s.mount.readOnly,
    packetSource: s.mount.packetSource ?? 'default',
    medium: s.mount.medium ?? null,
    ...packet,
    directRead: s.direct ?? null,
    fastFlushes: s.fastFlushes ?? null,
    attrCache: s.attrCache ?? null,
    answers: s.answers ?? null,
    writeBehind: s.writeBehind ?? null,
    fastOpen: s.fastOpen ?? null,
    fastSetattr: s.fastSetattr ?? null,
  };
}

// ---- sparing ----------------------------------------------------------------------

/** Media whose drive does its own defect management (MMC profile names). */
const HARDWARE_DEFECT_MANAGED = /^(DVD-RAM|BD-RE|CD-MRW|DVD\+MRW)/i;

type DefectManagement = 'sparing' | 'drive' | 'none';

function defectManagement(s: PktinfoSnapshot): DefectManagement {
  if (s.volume.sparing) return 'sparing';
  if (s.mount.medium && HARDWARE_DEFECT_MANAGED.test(s.mount.medium)) return 'drive';
  return 'none';
}

/** The `sparing` field of volume.json: the sparable partition's defect management, or null. */
export function sparingJson(s: PktinfoSnapshot): object | null {
  const sp = s.volume.sparing;
  if (!sp) return null;
  return { ...sp, tableLocations: [...sp.tableLocations], map: sp.map.map((m) => ({ ...m })) };
}

export function sparingText(s: PktinfoSnapshot): string {
  const sp = s.volume.sparing;
  const p = s.packet;
  const dm = defectManagement(s);
  const lines = [`Defect management on ${s.mount.source}:`, ''];
  if (dm === 'sparing' && sp) {
    lines.push(
      `	managed by:		pktfs (sparable partition ${sp.partition}, UDF 2.2.12)`,
      `	packet length:		${sp.packetLength} blocks`,
      `	spare packets:		${sp.total}`,
      `	spares used:		${sp.used}`,
      `	spares left:		${sp.free}`,
      `	spares defective:	${sp.defective}`,
      `	remapped this mount:	${sp.remappedThisMount}`,
      `	table sequence:		${sp.sequenceNum ?? 'no readable table'}`,
      `	table copies at:	${sp.tableLocations.join(' ') || 'none'}`,
      `	state:			${sp.exhausted ? 'no spare left: read-only' : 'ok'}`,
      '',
      'Map (original packet, first block in the partition; spare, absolute block):',
      ...(sp.map.length ? sp.map.map((m) => `	${m.original}	${m.mapped}`) : ['	none']),
    );
  } else if (dm === 'drive') {
    lines.push(`	managed by:		the drive (${s.mount.medium})`);
    if (p) lines.push(`	drive spares:		${p.driveSparesExhausted ? 'used up (03/32/00): the disc is worn out' : 'no error reported'}`);
  } else {
    lines.push('	managed by:		nothing (no sparable partition, no drive defect management)');
  }
  if (p) {
    lines.push(
      '',
      'Packet layer:',
      `	medium write errors:	${p.mediumWriteErrors}`,
      `	packets remapped:	${p.remaps.length}`,
      `	last write error:	${p.lastWriteError ?? 'none'}`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

// ---- cache ----------------------------------------------------------------------

export function cacheText(p: PacketDeviceStats): string {
  return [
    `Packet cache on ${p.device}:`,
    '',
    'Settings:',
    `\tcache size:\t\t${kb(p.cacheBytes)} (${Math.floor(p.cacheBytes / p.packetBytes)} packets)`,
    `\tdirty limit:\t\t${kb(p.dirtyLimitBytes)}`,
    `\tpacket size:\t\t${kb(p.packetBytes)}`,
    `\tidle flush:\t\t${p.flushDelayMs === null ? 'off' : `${p.flushDelayMs}ms`}`,
    `\tread-ahead:\t\t${p.readAheadLimitBytes ? kb(p.readAheadLimitBytes) : 'off'}`,
    '',
    'Use:',
    `\tcached:\t\t\t${p.cachedPackets} packets, ${kb(p.cachedBytes)} (${pct(p.cachedBytes, p.cacheBytes)})`,
    `\tdirty or in flight:\t${kb(p.activeBytes)}`,
    `\tstate:\t\t\tclean:${p.states.clean} dirty:${p.states.dirty} gathering:${p.states.gathering} writing:${p.states.writing}`,
    `\tread:\t\t\t${kb(p.bytesRead)}`,
    `\tread from cache:\t${kb(p.bytesReadFromCache)} (${pct(p.bytesReadFromCache, p.bytesRead)})`,
    `\tread from device:\t${kb(p.bytesReadFromDevice)}`,
    `\tread ahead:\t\t${kb(p.bytesReadAhead)} in ${p.readAheads} reads, used ${kb(p.bytesReadAheadUsed)}, dropped ${kb(p.bytesReadAheadDropped)}`,
    '',
  ].join('\n');
}

// ---- wear, wear.json ------------------------------------------------------------

export function wearJson(s: PktinfoSnapshot, p: PacketDeviceStats): object {
  return {
    version: PKTINFO_VERSION,
    time: s.time.toISOString(),
    packetBytes: p.packetBytes,
    sectorsPerPacket: p.sectorsPerPacket,
    sectorSize: p.sectorSize,
    packetCount: p.packetCount,
    packetsWritten: p.packetsWrittenDistinct,
    packetRewrites: p.packetRewrites,
    rewritesWithinFlushDelay: p.rewritesWithinFlushDelay,
    maxPacketWrites: p.maxPacketWrites,
    mostWritten: p.mostWritten.map((w) => ({ ...w, firstSector: w.packet * p.sectorsPerPacket })),
    histogram: p.wearHistogram.map((b) => ({ ...b })),
  };
}

export function wearText(p: PacketDeviceStats): string {
  const bucket = (min: number, max: number): string => (min === max ? `${min}` : `${min}-${max}`);
  return [
    `Media wear on ${p.device} (writes since mount):`,
    '',
    `\tpackets written:\t${p.packetsWrittenDistinct} of ${p.packetCount}`,
    `\tpacket rewrites:\t${p.packetRewrites}`,
    `\trewrites within flush:\t${p.rewritesWithinFlushDelay}`,
    `\tmost writes:\t\t${p.maxPacketWrites}`,
    '',
    'Most written (packet, writes, first sector):',
    ...(p.mostWritten.length
      ? p.mostWritten.map((w) => `\t${w.packet}\t${w.writes}\t${w.packet * p.sectorsPerPacket}`)
      : ['\tnone']),
    '',
    'Histogram (writes, packets):',
    ...(p.wearHistogram.length ? p.wearHistogram.map((b) => `\t${bucket(b.min, b.max)}\t${b.packets}`) : ['\tnone']),
    '',
  ].join('\n');
}

// ---- the directory --------------------------------------------------------------

/** A file of `.pktinfo`: its name, whether it needs the packet layer, and its contents. */
export interface PktinfoFileSpec {
  name: string;
  /** Only present when the mount has a packet layer. */
  needsPacket: boolean;
  /** The control file: write-only, empty when read. */
  control?: boolean;
  render(s: PktinfoSnapshot): string;
}

const withPacket = (f: (s: PktinfoSnapshot, p: PacketDeviceStats) => string) => (s: PktinfoSnapshot): string => f(s, s.packet!);

/** In the order `ls -f` shows them. */
export const PKTINFO_FILES: PktinfoFileSpec[] = [
  { name: 'version', needsPacket: false, render: versionFile },
  { name: 'info', needsPacket: true, render: withPacket(infoText) },
  { name: 'stats.json', needsPacket: true, render: withPacket((s, p) => json(statsJson(s, p))) },
  { name: 'volume', needsPacket: false, render: volumeText },
  { name: 'volume.json', needsPacket: false, render: (s) => json(volumeJson(s)) },
  { name: 'cache', needsPacket: true, render: withPacket((_s, p) => cacheText(p)) },
  { name: 'wear', needsPacket: true, render: withPacket((_s, p) => wearText(p)) },
  { name: 'wear.json', needsPacket: true, render: withPacket((s, p) => json(wearJson(s, p))) },
  { name: 'flush', needsPacket: false, control: true, render: () => '' },
  { name: 'sparing', needsPacket: false, render: sparingText },
];
