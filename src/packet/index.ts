/**
 * The packet layer: turns any reads and writes into whole, aligned packet
 * writes on the drive below, with a packet cache, read gather and write-back.
 * Knows nothing of UDF; talks only to a BlockDevice.
 */
export {
  PacketDevice, DEFAULT_CACHE_BYTES, DEFAULT_FLUSH_DELAY_MS,
  type PacketDeviceOptions, type PacketDeviceStats, type PacketRemap,
} from './device';
export type { PacketState } from './entry';
export {
  explodeRange, sectorsPerPacket, packetOfSector, firstSectorOf, packetCount, sectorsInPacket,
  DEFAULT_PACKET_BYTES, FRAME_BYTES, type PacketSpan,
} from './range';
export { mostWritten, wearHistogram, packetRewrites, type PacketWear, type WearBucket } from './stats';
export { formatPacketInfo } from './info';
export { writeFailureKind, isMediumWriteError, isRemappable, type WriteRemapper, type WriteFailureKind, type Remappable } from './remap';
