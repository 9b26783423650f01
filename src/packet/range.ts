/**
 * Packet arithmetic, with no I/O: which packets a byte range touches and how
 * much of each, and conversions between device sectors and packets.
 *
 * A packet is the unit a packet-writing drive accepts (CD-RW: 32 frames of
 * 2 KiB, DVD±RW: 16 frames). Packets are numbered from 0 and aligned to
 * byte 0 of the device. Everything here works in bytes first, so a 32 KiB
 * packet is the same packet whether the device has 512- or 2048-byte sectors.
 *
 * pktcdvd split a request at most once and crashed on a bio spanning more
 * than two packets (pali/udftools#55); explodeRange handles any number.
 */
import { FsError } from '../errors';

/** Bytes in one optical frame: the unit the mount's `-o packet=` option counts in. */
export const FRAME_BYTES = 2048;
/** Default packet: 16 frames of 2 KiB, as DVD±RW media are formatted (mkudffs --packetlen default). */
export const DEFAULT_PACKET_BYTES = 16 * FRAME_BYTES;

/** The part of one packet that a byte range covers. */
export interface PacketSpan {
  /** Packet number (byte offset / packet size). */
  packet: number;
  /** Bytes from the start of the packet to the start of the covered part. */
  skip: number;
  /** Bytes covered in this packet. */
  length: number;
  /** True when the range covers less than the whole packet. */
  partial: boolean;
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new FsError('EINVAL', `${name} ${v} is not an integer >= ${min}`);
}

/**
 * The packets touched by `length` bytes at `offset`, in ascending order; empty
 * for an empty range. The spans' lengths add up to `length`.
 */
export function explodeRange(offset: number, length: number, packetBytes: number): PacketSpan[] {
  checkCount('offset', offset, 0);
  checkCount('length', length, 0);
  checkCount('packet size', packetBytes, 1);
  const spans: PacketSpan[] = [];
  let pos = offset;
  const end = offset + length;
  while (pos < end) {
    const packet = Math.floor(pos / packetBytes);
    const skip = pos - packet * packetBytes;
    const len = Math.min(packetBytes - skip, end - pos);
    spans.push({ packet, skip, length: len, partial: len !== packetBytes });
    pos += len;
  }
  return spans;
}

/** Device sectors per packet; the packet must be a whole number of sectors. */
export function sectorsPerPacket(packetBytes: number, sectorSize: number): number {
  checkCount('packet size', packetBytes, 1);
  checkCount('sector size', sectorSize, 1);
  if (packetBytes % sectorSize !== 0) {
    throw new FsError('EINVAL', `packet of ${packetBytes} bytes is not a whole number of ${sectorSize}-byte sectors`);
  }
  return packetBytes / sectorSize;
}

/** The packet holding sector `lba`. */
export function packetOfSector(lba: number, perPacket: number): number {
  return Math.floor(lba / perPacket);
}

/** The first sector of `packet`. */
export function firstSectorOf(packet: number, perPacket: number): number {
  return packet * perPacket;
}

/** Number of packets on a device of `sectorCount` sectors, counting a partial last one. */
export function packetCount(sectorCount: number, perPacket: number): number {
  return Math.ceil(sectorCount / perPacket);
}

/**
 * Sectors of `packet` that exist on a device of `sectorCount` sectors: the
 * full packet, fewer for a partial last packet, 0 past the end.
 */
export function sectorsInPacket(packet: number, perPacket: number, sectorCount: number): number {
  const first = packet * perPacket;
  return Math.max(0, Math.min(perPacket, sectorCount - first));
}

/** A run of sectors: `count` sectors from `start`. */
export interface SectorRun {
  start: number;
  count: number;
}

/**
 * Runs of consecutive indices in [0, n) where `want(i)` holds, in ascending
 * order (used to coalesce cache misses into as few device reads as possible).
 */
export function runsWhere(n: number, want: (i: number) => boolean): SectorRun[] {
  const runs: SectorRun[] = [];
  let i = 0;
  while (i < n) {
    if (!want(i)) { i++; continue; }
    const start = i;
    while (i < n && want(i)) i++;
    runs.push({ start, count: i - start });
  }
  return runs;
}
