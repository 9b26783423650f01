/**
 * Where a fresh UDF volume's structures go, as pure arithmetic (no I/O): the
 * volume recognition sequence, anchors, main and reserve volume descriptor
 * sequences, the integrity sequence, sparing tables and sparing space, and the
 * partition. It follows the placement rules of mkudffs 2.3 (udftools'
 * split_space, re-derived and checked against `udfinfo` of mkudffs images in
 * test/udf/format-layout.test.ts), so a disc formatted by pktfs is laid out as
 * one formatted by mkudffs with the same --media-type:
 *
 *   - blocks 0 .. 32767 bytes reserved (ECMA-167 2/8.3.1: the system area)
 *   - VRS at byte 32768 (2/8.3.1), one descriptor per 2048 bytes or per block
 *   - anchors at 256, N-257 (when N >= 3072) and N-1 (ECMA-167 3/8.4.2.1, UDF 2.2.3)
 *   - MVDS at the first free aligned extent from 96, RVDS from (N-257+97) rounded
 *     down to 32, LVID extent from 128
 *   - sparable media: sparing table 1 after the MVDS, table 2 as late as it fits,
 *     1024 blocks of sparing space after the MVDS (UDF 2.2.9, 2.2.12)
 *   - the partition: the largest free extent after block 256, its start and
 *     length aligned to the packet, its length a multiple of 8 too (mkudffs 2.3
 *     does this so that the space bitmap ends on a whole byte).
 *
 * Media types smaller than 3072 blocks are refused (mkudffs lays them out
 * differently, with one anchor fewer, and nothing optical is that small).
 */
import { FsError } from '../../errors';

/** mkudffs's --media-type values pktfs formats, plus `bdre` (mkudffs has none; laid out as dvdram). */
export type FormatMediaType = 'hd' | 'dvd' | 'dvdram' | 'dvdrw' | 'cdrw' | 'bdre';
export const FORMAT_MEDIA_TYPES: readonly FormatMediaType[] = ['hd', 'dvd', 'dvdram', 'dvdrw', 'cdrw', 'bdre'];
/** Write-once media types of mkudffs (VAT), which pktfs does not format. */
export const WRITE_ONCE_MEDIA_TYPES = ['cdr', 'dvdr', 'bdr', 'worm'];

/** UDF revisions pktfs writes (BCD as in the LVID, UDF 2.2.6.4). */
export const FORMAT_REVISIONS = [0x0102, 0x0150, 0x0200, 0x0201];

export type AccessKind = 'read-only' | 'rewritable' | 'overwritable';

interface Sizing {
  /** Alignment of every extent, in blocks (the packet length for CD-RW/DVD-RW). */
  align: number;
  vds: number;
  lvid: number;
  sparable: boolean;
  access: AccessKind;
}

/** mkudffs 2.3's per-media sizing (defaults.c default_sizing, options.c). */
const SIZING: Record<FormatMediaType, Sizing> = {
  hd: { align: 1, vds: 16, lvid: 1, sparable: false, access: 'overwritable' },
  dvd: { align: 1, vds: 16, lvid: 1, sparable: false, access: 'read-only' },
  dvdram: { align: 1, vds: 16, lvid: 1, sparable: false, access: 'overwritable' },
  // BD-RE: the drive does its own defect management (spare areas set by FORMAT UNIT),
  // so a plain partition as on DVD-RAM. mkudffs has no BD-RE media type.
  bdre: { align: 1, vds: 16, lvid: 1, sparable: false, access: 'overwritable' },
  dvdrw: { align: 16, vds: 16, lvid: 16, sparable: true, access: 'overwritable' },
  cdrw: { align: 32, vds: 32, lvid: 32, sparable: true, access: 'rewritable' },
};

/** mkudffs: 5 blocks reserved per sparing table ("56+8*1024 bytes ~~ 5 blocks"), 1024 spare blocks. */
const SPARING_TABLE_BLOCKS = 5;
const SPARING_SPACE_BLOCKS = 1024;
const MIN_BLOCKS = 3072;
/** ECMA-167 3/10.10 / UDF 2.2.6: the integrity sequence extent holds at least 8 KiB on rewritable media. */
const MIN_LVID_BYTES = 8192;

export interface Extent {
  start: number;
  blocks: number;
}

export interface VolumeLayout {
  media: FormatMediaType;
  blockSize: number;
  /** Blocks on the medium (N). */
  blocks: number;
  access: AccessKind;
  /** Blocks of each volume structure descriptor in the VRS (BEA01, NSR0x, TEA01). */
  vrs: number[];
  anchors: number[];
  mvds: Extent;
  rvds: Extent;
  lvid: Extent;
  partition: Extent;
  /** Sparable media only. */
  sparing?: {
    /** UDF 2.2.9 packet length: 32, or 16 on DVD-RW from UDF 2.01 (2.00 errata DCN-5163 fixed it at 32 before). */
    packetLength: number;
    tables: number[];
    tableBlocks: number;
    space: Extent;
    /** Entries in each table: one per packet of sparing space. */
    entries: number;
  };
  /** Alignment of the partition and of what is allocated in it, in blocks. */
  align: number;
}

/** What of the medium is taken, as sorted, disjoint used extents. */
class Occupancy {
  private readonly used: Extent[] = [];
  constructor(readonly blocks: number) {}

  take(start: number, blocks: number): Extent {
    this.used.push({ start, blocks });
    this.used.sort((a, b) => a.start - b.start);
    return { start, blocks };
  }

  private isFree(start: number, blocks: number): boolean {
    if (start < 0 || start + blocks > this.blocks) return false;
    return this.used.every((u) => start + blocks <= u.start || u.start + u.blocks <= start);
  }

  /** The first aligned start at or after `from` where `blocks` free blocks fit. */
  next(from: number, blocks: number, align: number, what: string): Extent {
    for (let s = Math.ceil(from / align) * align; s + blocks <= this.blocks; s += align) {
      if (this.isFree(s, blocks)) return this.take(s, blocks);
    }
    throw new FsError('ENOSPC', `no room for the ${what} (${blocks} blocks) on a medium of ${this.blocks} blocks`);
  }

  /** The last aligned start where `blocks` free blocks fit. */
  last(blocks: number, align: number, what: string): Extent {
    for (let s = Math.floor((this.blocks - blocks) / align) * align; s >= 0; s -= align) {
      if (this.isFree(s, blocks)) return this.take(s, blocks);
    }
    throw new FsError('ENOSPC', `no room for the ${what} (${blocks} blocks) on a medium of ${this.blocks} blocks`);
  }

  /** Free extents (gaps between used ones) that start at or after `from`. */
  gapsFrom(from: number): Extent[] {
    const out: Extent[] = [];
    let pos = 0;
    for (const u of this.used) {
      if (u.start > pos) out.push({ start: pos, blocks: u.start - pos });
      pos = Math.max(pos, u.start + u.blocks);
    }
    if (pos < this.blocks) out.push({ start: pos, blocks: this.blocks - pos });
    return out.filter((g) => g.start >= from);
  }
}

export interface LayoutOptions {
  media: FormatMediaType;
  blocks: number;
  blockSize: number;
  udfRev: number;
}

export function planLayout(o: LayoutOptions): VolumeLayout {
  const z = SIZING[o.media];
  const bs = o.blockSize;
  if (![512, 1024, 2048, 4096].includes(bs)) throw new FsError('EINVAL', `block size ${bs}: use 512, 1024, 2048 or 4096`);
  if (o.blocks < MIN_BLOCKS) throw new FsError('ENOSPC', `${o.blocks} blocks is too small for a UDF volume (at least ${MIN_BLOCKS})`);
  if (o.blocks > 0xffffffff) throw new FsError('EFBIG', `${o.blocks} blocks is more than UDF can address (2^32)`);
  const n = o.blocks;
  const space = new Occupancy(n);
  space.take(0, Math.max(1, 32768 / bs)); // system area, 2/8.3.1
  // 2/8.4: each volume structure descriptor in its own sector of max(2048, bs) bytes
  const vrsStep = Math.max(1, 2048 / bs);
  const vrsStart = 32768 / bs;
  const vrs = [0, 1, 2].map((i) => vrsStart + i * vrsStep);
  space.take(vrsStart, bs >= 2048 ? 4 : (2048 * 3 + bs) / bs); // three descriptors and one empty sector
  const anchors = [256, n - 257, n - 1];
  for (const a of anchors) space.take(a, 1);

  const align = z.align;
  let lvidBlocks = z.lvid;
  if (z.access !== 'read-only' && lvidBlocks * bs < MIN_LVID_BYTES) lvidBlocks = Math.ceil(MIN_LVID_BYTES / bs);
  const mvds = space.next(96, z.vds, align, 'main volume descriptor sequence');
  const rvds = space.next(Math.floor((n - 257 + 97) / 32) * 32, z.vds, align, 'reserve volume descriptor sequence');
  const lvid = space.next(128, lvidBlocks, align, 'integrity sequence');

  let sparing: VolumeLayout['sparing'];
  if (z.sparable) {
    const t1 = space.next(mvds.start, SPARING_TABLE_BLOCKS, align, 'first sparing table');
    const t2 = space.last(SPARING_TABLE_BLOCKS, align, 'second sparing table');
    const sp = space.next(mvds.start, SPARING_SPACE_BLOCKS, align, 'sparing space');
    const packetLength = o.udfRev >= 0x0201 ? align : 32;
    sparing = {
      packetLength, tables: [t1.start, t2.start], tableBlocks: SPARING_TABLE_BLOCKS, space: sp,
      entries: SPARING_SPACE_BLOCKS / packetLength,
    };
  }

  // The partition: the largest free extent after the first anchor, aligned.
  const unit = Math.max(align, 8);
  let best: Extent = { start: 0, blocks: 0 };
  for (const g of space.gapsFrom(257)) {
    const start = Math.ceil(g.start / align) * align;
    const len = Math.floor((g.start + g.blocks - start) / unit) * unit;
    if (len > best.blocks) best = { start, blocks: len };
  }
  if (best.blocks < 64) throw new FsError('ENOSPC', `${n} blocks leave no room for a partition`);
  space.take(best.start, best.blocks);

  return {
    media: o.media, blockSize: bs, blocks: n, access: z.access, vrs, anchors, mvds, rvds, lvid,
    partition: best, sparing, align,
  };
}

export function isFormatMediaType(s: string): s is FormatMediaType {
  return (FORMAT_MEDIA_TYPES as readonly string[]).includes(s);
}

/** "2.01" → 0x0201; undefined when not a revision pktfs formats. */
export function parseUdfRevision(s: string): number | undefined {
  const m = /^([12])\.(\d\d)$/.exec(s) ?? /^0x0?([12])(\d\d)$/i.exec(s);
  if (!m) return undefined;
  const v = (Number(m[1]) << 8) | parseInt(m[2], 16);
  return FORMAT_REVISIONS.includes(v) ? v : undefined;
}
