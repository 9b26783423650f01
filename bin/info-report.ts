/**
 * The report of `pktfs info`: what was found (InfoReport), and its two forms,
 * the text for people and the JSON object of format "pktfs-info/1" whose
 * fields docs/cli.md lists (names and meanings are only ever added to).
 */
import type { DriveFacts, ImageFacts, SourceFacts } from '../src/drive/describe';
import type { PartitionInfo, VolumeInfo } from '../src/udf';

export const INFO_FORMAT = 'pktfs-info/1';

export type VolumeStatus = 'found' | 'absent' | 'unreadable';

export interface InfoReport {
  source: string;
  facts: SourceFacts;
  volumeStatus: VolumeStatus;
  /** Why there is no volume, or why it could not be read. */
  volumeMessage?: string;
  volume?: VolumeInfo;
}

// ---- numbers for people -----------------------------------------------------------------

/** 1536 → "1.5 KiB"; binary units, one decimal, bytes below 1 KiB. */
export function humanBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024) return `${n} bytes`;
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** 0x0201 → "2.01" (UDF revisions are BCD, UDF 2.1.4); 0 → "". */
export function udfRevision(rev: number): string {
  return rev ? `${rev >> 8}.${(rev & 0xff).toString(16).padStart(2, '0')}` : '';
}

function hex4(n: number): string {
  return `${n.toString(16).toUpperCase().padStart(4, '0')}h`;
}

function speedText(kBs: number, oneX: number): string {
  const x = oneX > 0 ? kBs / oneX : 0;
  return x >= 0.95 ? `${Number(x.toFixed(1))}x (${kBs} kB/s)` : `${kBs} kB/s`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function blocksText(blocks: number, blockSize: number): string {
  return `${blocks} blocks (${humanBytes(blocks * blockSize)})`;
}

// ---- text -------------------------------------------------------------------------------

type Row = [string, string];

function section(title: string, rows: Row[]): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  // a row with an empty key continues the one above it
  return [title, ...rows.map(([k, v]) => `  ${(k ? `${k}:` : '').padEnd(width)}${v}`)].join('\n');
}

function writableText(writable: boolean, reason: string | undefined): string {
  return writable ? 'yes' : `no: ${reason ?? 'unknown reason'}`;
}

function driveRows(f: DriveFacts): Row[] {
  const rows: Row[] = [
    ['drive', f.name],
    ['vendor', f.vendor || 'unknown'],
    ['model', f.model || 'unknown'],
    ['revision', f.revision || 'unknown'],
  ];
  if (f.medium === 'none') {
    rows.push(['disc', 'none']);
    rows.push(['writable', writableText(false, f.readOnlyReason)]);
    return rows;
  }
  rows.push(['profile', `${f.profileName} (${hex4(f.profile)})`]);
  const disc: string[] = [f.medium];
  if (f.discStatus) disc.push(`status ${f.discStatus}`);
  if (f.erasable !== undefined) disc.push(f.erasable ? 'erasable' : 'not erasable');
  if (f.sessions !== undefined && f.medium !== 'blank') disc.push(plural(f.sessions, 'session'));
  rows.push(['disc', disc.join(', ')]);
  const from = { track: 'from track information', blocking: 'drive\'s blocking factor', default: 'default for the medium' }[f.packetSource];
  const kind = f.fixedPackets ? 'fixed packets' : f.alignedWritesRequired ? 'whole packets required' : 'not fixed, the drive accepts partial writes';
  rows.push(['packet size', `${f.packetSize} sectors (${humanBytes(f.packetSize * f.sectorSize)}), ${kind} (${from})`]);
  const cap = f.capacitySectors > 0 ? `${f.capacitySectors} sectors of ${f.sectorSize} bytes (${humanBytes(f.capacitySectors * f.sectorSize)})` : 'none readable';
  const formatCap = f.formatCapacitySectors !== undefined && f.formatCapacitySectors !== f.capacitySectors
    ? `; ${f.formatCapacitySectors} sectors (${humanBytes(f.formatCapacitySectors * f.sectorSize)}) when formatted` : '';
  rows.push(['capacity', cap + formatCap]);
  const ws = f.writeSpeeds;
  rows.push(['write speeds', ws
    ? ws.supportedKBs.map((k) => speedText(k, f.oneXKBs)).join(', ') + (ws.currentKBs ? `; current ${speedText(ws.currentKBs, f.oneXKBs)}` : '')
    : 'unknown (the drive does not report them)']);
  rows.push(['defects', f.hardwareDefectManagement ? 'managed by the drive' : 'not managed by the drive']);
  rows.push(['writable', writableText(f.writable, f.readOnlyReason)]);
  return rows;
}

function imageRows(f: ImageFacts): Row[] {
  return [
    [f.kind === 'file' ? 'image' : 'block device', f.path],
    ['size', `${f.sizeBytes} bytes (${humanBytes(f.sizeBytes)})`],
    ['sector size', `${f.sectorSize} bytes, ${f.sectors} sectors`],
    ['writable', writableText(f.writable, f.readOnlyReason)],
  ];
}

function partitionText(p: PartitionInfo): string {
  const parts = [p.kind, `partition ${p.number}`];
  // a virtual partition lives inside the physical one listed with it (UDF 2.2.8)
  if (p.kind !== 'virtual') parts.push(`blocks ${p.start}-${p.start + p.length - 1}`);
  parts.push(p.accessType);
  if (p.packetLength !== undefined) parts.push(`packets of ${p.packetLength}`);
  if (p.sparingTotal !== undefined) parts.push(`sparing table ${p.sparingUsed ?? 0}/${p.sparingTotal} entries used`);
  return `${p.ref}: ${parts.join(', ')}`;
}

/** Why the volume cannot be written: the medium's reason first, then the volume's. */
function volumeReadOnlyReason(r: InfoReport): string | undefined {
  if (!r.facts.writable) return r.facts.readOnlyReason;
  return r.volume?.readOnlyReason;
}

function volumeRows(v: VolumeInfo, r: InfoReport): Row[] {
  const used = Math.max(0, v.totalBlocks - v.freeBlocks);
  const revs = [
    `minimum read ${udfRevision(v.minUdfReadRev) || '?'}`,
    `minimum write ${udfRevision(v.minUdfWriteRev) || '?'}`,
    `maximum write ${udfRevision(v.maxUdfWriteRev) || '?'}`,
  ].join(', ');
  const rows: Row[] = [
    ['label', v.label],
    ['volume id', v.volumeId],
    ['volume set id', v.volumeSetId],
    ['uuid', v.uuid || 'none'],
    ['revision', `${v.revision || 'unknown'} (${revs})`],
    ['block size', `${v.blockSize} bytes`],
    ['session', `${v.session} of ${v.sessions}`],
  ];
  v.partitions.forEach((p, i) => rows.push([i === 0 ? 'partitions' : '', partitionText(p)]));
  rows.push(['integrity', v.integrity]);
  rows.push(['files', `${plural(v.numFiles, 'file')}, ${plural(v.numDirs, 'directory', 'directories')}`]);
  rows.push(['space', `${blocksText(used, v.blockSize)} used, ${blocksText(v.freeBlocks, v.blockSize)} free, of ${blocksText(v.totalBlocks, v.blockSize)}`]);
  const reason = volumeReadOnlyReason(r);
  rows.push(['writable', writableText(reason === undefined, reason)]);
  if (v.warnings.length === 0) rows.push(['warnings', 'none']);
  v.warnings.forEach((w, i) => rows.push([i === 0 ? 'warnings' : '', w]));
  return rows;
}

export function formatInfoText(r: InfoReport): string {
  const out: string[] = [];
  out.push(r.facts.type === 'drive' ? section('Drive', driveRows(r.facts)) : section('Image', imageRows(r.facts)));
  if (r.volume) out.push(section('UDF volume', volumeRows(r.volume, r)));
  else if (r.volumeStatus === 'absent') out.push(`No UDF volume: ${r.volumeMessage}`);
  else out.push(`UDF volume unreadable: ${r.volumeMessage}`);
  return `${out.join('\n\n')}\n`;
}

// ---- JSON (pktfs-info/1, docs/cli.md) ---------------------------------------------------

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function driveJson(f: DriveFacts): Record<string, unknown> {
  return {
    name: f.name,
    vendor: f.vendor,
    model: f.model,
    revision: f.revision,
    profile: f.profile,
    profileName: f.profileName,
    supportedProfiles: f.supportedProfiles,
    medium: f.medium,
    discStatus: orNull(f.discStatus),
    erasable: orNull(f.erasable),
    sessions: orNull(f.sessions),
    packetSize: f.packetSize,
    packetSource: f.packetSource,
    fixedPackets: f.fixedPackets,
    alignedWritesRequired: f.alignedWritesRequired,
    hardwareDefectManagement: f.hardwareDefectManagement,
    sectorSize: f.sectorSize,
    capacitySectors: f.capacitySectors,
    capacityBytes: f.capacitySectors * f.sectorSize,
    formatCapacitySectors: orNull(f.formatCapacitySectors),
    writeSpeedsKBs: f.writeSpeeds ? f.writeSpeeds.supportedKBs : null,
    currentWriteSpeedKBs: orNull(f.writeSpeeds?.currentKBs),
    writable: f.writable,
    readOnlyReason: orNull(f.readOnlyReason),
  };
}

function imageJson(f: ImageFacts): Record<string, unknown> {
  return {
    path: f.path,
    kind: f.kind,
    sizeBytes: f.sizeBytes,
    sectorSize: f.sectorSize,
    sectors: f.sectors,
    writable: f.writable,
    readOnlyReason: orNull(f.readOnlyReason),
  };
}

function volumeJson(v: VolumeInfo, r: InfoReport): Record<string, unknown> {
  const used = Math.max(0, v.totalBlocks - v.freeBlocks);
  const reason = volumeReadOnlyReason(r);
  return {
    label: v.label,
    volumeId: v.volumeId,
    volumeSetId: v.volumeSetId,
    uuid: v.uuid,
    applicationId: v.applicationId,
    publisherId: v.publisherId,
    revision: v.revision,
    minUdfReadRevision: udfRevision(v.minUdfReadRev),
    minUdfWriteRevision: udfRevision(v.minUdfWriteRev),
    maxUdfWriteRevision: udfRevision(v.maxUdfWriteRev),
    blockSize: v.blockSize,
    session: v.session,
    sessions: v.sessions,
    partitions: v.partitions.map((p) => ({
      ref: p.ref,
      number: p.number,
      kind: p.kind,
      accessType: p.accessType,
      start: p.start,
      length: p.length,
      packetLength: orNull(p.packetLength),
      sparingUsed: orNull(p.sparingUsed),
      sparingTotal: orNull(p.sparingTotal),
    })),
    integrity: v.integrity,
    files: v.numFiles,
    directories: v.numDirs,
    totalBlocks: v.totalBlocks,
    usedBlocks: used,
    freeBlocks: v.freeBlocks,
    totalBytes: v.totalBlocks * v.blockSize,
    usedBytes: used * v.blockSize,
    freeBytes: v.freeBlocks * v.blockSize,
    writable: reason === undefined,
    readOnlyReason: orNull(reason),
    warnings: v.warnings,
  };
}

export function infoJson(r: InfoReport): Record<string, unknown> {
  return {
    format: INFO_FORMAT,
    source: r.source,
    drive: r.facts.type === 'drive' ? driveJson(r.facts) : null,
    image: r.facts.type === 'image' ? imageJson(r.facts) : null,
    volumeStatus: r.volumeStatus,
    volumeMessage: orNull(r.volumeMessage),
    volume: r.volume ? volumeJson(r.volume, r) : null,
  };
}
