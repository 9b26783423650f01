/**
 * Counters of the packet layer, a superset of pktcdvd's debugfs `info` and
 * sysfs `stat/` files (packets started/ended, kB written, kB read, kB read
 * gather), plus a per-packet write count: how often each packet of the medium
 * was rewritten (CD-RW survives about 1000 overwrites, per the kernel's
 * packet-writing.rst).
 */

/** Traffic counters, in bytes and packets; reset by PacketDevice.resetStats(). */
export interface PacketCounters {
  /** Write-outs begun (pktcdvd `packets started`). */
  packetsStarted: number;
  /** Write-outs the device completed (pktcdvd `packets ended`). */
  packetsEnded: number;
  /** Write-outs that failed (gather read or write error). */
  packetsFailed: number;
  /** User data written into the layer (pktcdvd `written`). */
  bytesWritten: number;
  /** User data read from the layer (pktcdvd `read`). */
  bytesRead: number;
  /** Part of bytesRead served from cached packets without device I/O. */
  bytesReadFromCache: number;
  /** Read from the device to answer reads (cache misses). */
  bytesReadFromDevice: number;
  /** Read from the device to complete packets before writing them (pktcdvd `read gather`). */
  bytesReadGather: number;
  /** Written to the device (whole packets). */
  bytesDeviceWritten: number;
  /** Device writes issued by write-outs: a run of consecutive packets written together is one. */
  deviceWrites: number;
  /** Runs of packets whose device write failed and that were written again packet by packet. */
  runsRetried: number;
  /** Device reads issued ahead of a sequential reader, and the bytes they read (not in bytesReadFromDevice). */
  readAheads: number;
  bytesReadAhead: number;
  /** Of those, bytes in packets a reader then read, and bytes thrown away unread (the stream ended, or evicted). */
  bytesReadAheadUsed: number;
  bytesReadAheadDropped: number;
  /** Device reads of packets the filesystem asked for ahead of use (prefetch(): the entries of a listed directory), and their bytes (not in bytesReadFromDevice). */
  prefetches: number;
  bytesPrefetched: number;
}

export function zeroCounters(): PacketCounters {
  return {
    packetsStarted: 0,
    packetsEnded: 0,
    packetsFailed: 0,
    bytesWritten: 0,
    bytesRead: 0,
    bytesReadFromCache: 0,
    bytesReadFromDevice: 0,
    bytesReadGather: 0,
    bytesDeviceWritten: 0,
    deviceWrites: 0,
    runsRetried: 0,
    readAheads: 0,
    bytesReadAhead: 0,
    bytesReadAheadUsed: 0,
    bytesReadAheadDropped: 0,
    prefetches: 0,
    bytesPrefetched: 0,
  };
}

/** One bar of the wear histogram: how many packets were written between min and max times. */
export interface WearBucket {
  min: number;
  max: number;
  packets: number;
}

/** A packet and how many times it was written. */
export interface PacketWear {
  packet: number;
  writes: number;
}

/**
 * The `n` most-written packets, most writes first, lower packet number first on
 * ties. One pass with a small sorted list: the map may hold every packet of a disc.
 */
export function mostWritten(wear: ReadonlyMap<number, number>, n: number): PacketWear[] {
  const top: PacketWear[] = [];
  const before = (a: PacketWear, b: PacketWear): boolean => a.writes > b.writes || (a.writes === b.writes && a.packet < b.packet);
  for (const [packet, writes] of wear) {
    const item = { packet, writes };
    if (top.length === n && (n === 0 || !before(item, top[n - 1]))) continue;
    let i = top.length;
    while (i > 0 && before(item, top[i - 1])) i--;
    top.splice(i, 0, item);
    if (top.length > n) top.pop();
  }
  return top;
}

/**
 * Packets by write count in power-of-two buckets (1, 2-3, 4-7, 8-15, ...), up to
 * the bucket holding the highest count; packets never written are not counted.
 */
export function wearHistogram(wear: ReadonlyMap<number, number>): WearBucket[] {
  const buckets: WearBucket[] = [];
  for (const writes of wear.values()) {
    if (writes < 1) continue;
    const b = 31 - Math.clz32(writes); // floor(log2) for counts below 2^32
    while (buckets.length <= b) {
      const min = 2 ** buckets.length;
      buckets.push({ min, max: 2 * min - 1, packets: 0 });
    }
    buckets[b].packets++;
  }
  return buckets;
}

/** Writes beyond each packet's first: the rewrites a perfect streaming writer would avoid. */
export function packetRewrites(wear: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const writes of wear.values()) n += Math.max(0, writes - 1);
  return n;
}
