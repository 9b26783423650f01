/**
 * The packet layer's statistics as text, laid out like pktcdvd's debugfs
 * `info` file (Settings / Statistics / Queue state, tab-separated) so users of
 * the old driver find the same lines, plus the cache and media wear. The
 * machine-readable form is PacketDevice.stats() itself (plain JSON).
 */
import type { PacketDeviceStats } from './device';

const kb = (bytes: number): string => `${Math.floor(bytes / 1024)}kB`;

export function formatPacketInfo(s: PacketDeviceStats): string {
  const hist = s.wearHistogram
    .map((b) => `${b.min === b.max ? b.min : `${b.min}-${b.max}`}:${b.packets}`).join(' ');
  const top = s.mostWritten.map((w) => `${w.packet}x${w.writes}`).join(' ');
  return [
    `Packet writer on ${s.device}:`,
    '',
    'Settings:',
    `\tpacket size:\t\t${kb(s.packetBytes)}`,
    `\tsector size:\t\t${s.sectorSize}`,
    `\tsectors per packet:\t${s.sectorsPerPacket}`,
    `\tpackets on device:\t${s.packetCount}`,
    `\tcache size:\t\t${kb(s.cacheBytes)}`,
    `\tdirty limit:\t\t${kb(s.dirtyLimitBytes)}`,
    `\tidle flush:\t\t${s.flushDelayMs === null ? 'off' : `${s.flushDelayMs}ms`}`,
    '',
    'Statistics:',
    `\tpackets started:\t${s.packetsStarted}`,
    `\tpackets ended:\t\t${s.packetsEnded}`,
    `\tpackets failed:\t\t${s.packetsFailed}`,
    `\twritten:\t\t${kb(s.bytesWritten)}`,
    `\tread gather:\t\t${kb(s.bytesReadGather)}`,
    `\tread:\t\t\t${kb(s.bytesRead)}`,
    `\tread from cache:\t${kb(s.bytesReadFromCache)}`,
    `\tread from device:\t${kb(s.bytesReadFromDevice)}`,
    `\twritten to device:\t${kb(s.bytesDeviceWritten)}`,
    `\twrite amplification:\t${s.writeAmplification.toFixed(3)}`,
    '',
    'Queue state:',
    `\tpackets queued:\t\t${s.queueSize}`,
    `\tstate:\t\t\tclean:${s.states.clean} dirty:${s.states.dirty} gathering:${s.states.gathering} writing:${s.states.writing}`,
    `\tcached:\t\t\t${s.cachedPackets} packets, ${kb(s.cachedBytes)}`,
    `\tpending error:\t\t${s.pendingError ?? 'none'}`,
    '',
    'Wear:',
    `\tpackets written:\t${s.packetsWrittenDistinct}`,
    `\tpacket rewrites:\t${s.packetRewrites}`,
    `\tmost writes:\t\t${s.maxPacketWrites}`,
    `\tmost written:\t\t${top || 'none'}`,
    `\thistogram:\t\t${hist || 'none'}`,
    '',
  ].join('\n');
}
