/**
 * Damage done on purpose to UDF images for the fsck tests, one function per
 * kind, found and written with test/helpers/tag.ts only (never src/udf), so a
 * bug in the reader cannot hide the damage from the test.
 */
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { fixTag, findTags, fileEntryLayout, partitionExtent, readTag, tagChecksum, TAG_FE, TAG_EFE } from '../helpers/tag';

const TAG_FID = 257; // ECMA-167 4/14.4
const TAG_LVID = 9; // 3/10.10
const TAG_SBD = 264; // 4/14.12
const FID_DELETED = 4; // 4/14.4.3

export class Image {
  readonly buf: Buffer;
  readonly start: number;
  readonly length: number;

  constructor(readonly path: string, readonly bs: number) {
    this.buf = fs.readFileSync(path);
    ({ start: this.start, length: this.length } = partitionExtent(this.buf, bs));
  }

  /** Write back the blocks that changed (the image stays sparse). */
  save(): void {
    const fd = fs.openSync(this.path, 'r+');
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let off = 0; off < this.buf.length; off += chunk.length) {
        const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, this.buf.length - off), off);
        for (let b = 0; b < n; b += this.bs) {
          const mine = this.buf.subarray(off + b, off + b + this.bs);
          if (!mine.equals(chunk.subarray(b, b + this.bs))) fs.writeSync(fd, mine, 0, mine.length, off + b);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Byte offset of partition block `lbn`. */
  part(lbn: number): number {
    return (this.start + lbn) * this.bs;
  }

  /** Offsets of the FIDs (4/14.4) whose 8-bit CS0 name is `name`. */
  fids(name: string): number[] {
    const out: number[] = [];
    const want = Buffer.concat([Buffer.from([8]), Buffer.from(name, 'latin1')]);
    for (let off = this.part(0); off + 40 <= this.part(this.length); off += 4) {
      if (this.buf.readUInt16LE(off) !== TAG_FID || this.buf[off + 4] !== tagChecksum(this.buf, off)) continue;
      const lfi = this.buf[off + 19];
      const liu = this.buf.readUInt16LE(off + 36);
      if (lfi === want.length && this.buf.subarray(off + 38 + liu, off + 38 + liu + lfi).equals(want)) out.push(off);
    }
    return out;
  }

  fid(name: string): number {
    const f = this.fids(name);
    if (f.length !== 1) throw new Error(`${f.length} FIDs named ${name}`);
    return f[0];
  }

  /** The partition block a FID's ICB names (long_ad at 20: length, then lb_addr). */
  icbOf(fidOff: number): number {
    return this.buf.readUInt32LE(fidOff + 24);
  }

  /** Re-tag a FID, and the file entry around it when the directory is embedded in its ICB. */
  retagFid(fidOff: number): void {
    fixTag(this.buf, fidOff);
    this.retagHolder(fidOff);
  }

  /** Re-tag the file entry holding the FID at `fidOff` when the directory is embedded in its ICB. */
  retagHolder(fidOff: number): void {
    const blockStart = fidOff - (fidOff % this.bs);
    const ident = this.buf.readUInt16LE(blockStart);
    if (blockStart !== fidOff && (ident === TAG_FE || ident === TAG_EFE)) fixTag(this.buf, blockStart);
  }

  /** Offset of the file entry of the entry named `name`. */
  entryOf(name: string): number {
    return this.part(this.icbOf(this.fid(name)));
  }

  /** First extent of a file entry (short or long AD): partition block and length in bytes. */
  firstExtent(feOff: number): { block: number; length: number; adOff: number } {
    const l = fileEntryLayout(this.buf, feOff);
    if (l.adType !== 0 && l.adType !== 1) throw new Error(`file entry at ${feOff} has AD type ${l.adType}`);
    return { length: this.buf.readUInt32LE(l.adOffset) & 0x3fffffff, block: this.buf.readUInt32LE(l.adOffset + 4), adOff: l.adOffset };
  }

  /** The prevailing LVID: writers append to the integrity sequence, so the last valid one. */
  lvid(): number {
    const b = findTags(this.buf, this.bs, TAG_LVID).filter((x) => x < this.start).pop();
    if (b === undefined) throw new Error('no LVID');
    return b * this.bs;
  }

  sbd(): number {
    const b = findTags(this.buf, this.bs, TAG_SBD).find((x) => x >= this.start);
    if (b === undefined) throw new Error('no space bitmap');
    return b * this.bs;
  }

  /** Set (free) or clear (used) bit `block` of the space bitmap (4/14.12: bit set = free). */
  setFree(block: number, free: boolean): void {
    const o = this.sbd() + 24 + (block >> 3);
    if (free) this.buf[o] |= 1 << (block & 7); else this.buf[o] &= ~(1 << (block & 7));
  }

  isFree(block: number): boolean {
    return (this.buf[this.sbd() + 24 + (block >> 3)] & (1 << (block & 7))) !== 0;
  }
}

/** Damage and what the test expects fsck -n to name. */
export interface Damage {
  name: string;
  codes: string[];
  /** Paths whose contents the damage changes or moves (not compared afterwards). */
  touches: string[];
  apply(img: Image): void;
}

/** A byte of the first descriptor of the main VDS (3/8.4.2: main extent at 16 of the anchor at 256). */
export const vdsDamage: Damage = {
  name: 'bad CRC in the main VDS', codes: ['vds-damaged'], touches: [],
  apply: (img) => {
    const loc = img.buf.readUInt32LE(256 * img.bs + 20);
    img.buf[loc * img.bs + 100] ^= 0xff;
  },
};

export const linkCountDamage: Damage = {
  name: 'wrong link count', codes: ['link-count'], touches: [],
  apply: (img) => {
    const fe = img.entryOf('sibling');
    img.buf.writeUInt16LE(img.buf.readUInt16LE(fe + 48) + 2, fe + 48); // 4/14.9.6
    fixTag(img.buf, fe);
  },
};

/** The LVID's implementation use (UDF 2.2.6.4) starts after the free space and size tables. */
function lvidImpUse(img: Image): number {
  const l = img.lvid();
  return l + 80 + 8 * img.buf.readUInt32LE(l + 72);
}

export const lvidCountsDamage: Damage = {
  name: 'wrong LVID counts and free space', codes: ['lvid-counts', 'lvid-free'], touches: [],
  apply: (img) => {
    const l = img.lvid();
    const iu = lvidImpUse(img);
    img.buf.writeUInt32LE(img.buf.readUInt32LE(iu + 32) + 5, iu + 32);
    img.buf.writeUInt32LE(img.buf.readUInt32LE(iu + 36) + 1, iu + 36);
    img.buf.writeUInt32LE(img.buf.readUInt32LE(l + 80) - 7, l + 80); // 3/10.10.8
    fixTag(img.buf, l);
  },
};

export const lvidOpenDamage: Damage = {
  name: 'LVID left open', codes: ['lvid-open'], touches: [],
  apply: (img) => {
    const l = img.lvid();
    img.buf.writeUInt32LE(0, l + 28); // 3/10.10.3: open
    fixTag(img.buf, l);
  },
};

export const usedMarkedFreeDamage: Damage = {
  name: 'bitmap bits cleared for used blocks', codes: ['used-free'], touches: [],
  apply: (img) => {
    const x = img.firstExtent(img.entryOf('big.bin'));
    for (let b = x.block; b < x.block + 10; b++) img.setFree(b, true);
    fixTag(img.buf, img.sbd());
  },
};

export const unreachableDamage: Damage = {
  name: 'bitmap bits set for unreachable blocks', codes: ['unreachable'], touches: [],
  apply: (img) => {
    let marked = 0;
    for (let b = img.length - 40; b < img.length && marked < 5; b++) {
      if (img.isFree(b)) {
        img.setFree(b, false);
        marked++;
      }
    }
    if (marked < 5) throw new Error('no free blocks at the end of the partition');
    fixTag(img.buf, img.sbd());
  },
};

export const doubleClaimDamage: Damage = {
  name: 'a block claimed twice', codes: ['double', 'unreachable'], touches: ['f2048'],
  apply: (img) => {
    const big = img.firstExtent(img.entryOf('big.bin'));
    const fe = img.entryOf('f2048');
    const own = img.firstExtent(fe);
    img.buf.writeUInt32LE(big.block, own.adOff + 4);
    fixTag(img.buf, fe);
  },
};

export const orphanDamage: Damage = {
  name: 'an orphan file entry', codes: ['orphan'], touches: ['f2049'],
  apply: (img) => {
    const f = img.fid('f2049');
    img.buf[f + 18] |= FID_DELETED;
    img.retagFid(f);
  },
};

export const loopDamage: Damage = {
  name: 'a directory loop', codes: ['loop', 'orphan'], touches: ['a/b/c', 'a/b/c/d', 'a/b/c/d/deep.txt'],
  apply: (img) => {
    const a = img.icbOf(img.fid('a'));
    const c = img.fid('c');
    img.buf.writeUInt32LE(a, c + 24);
    img.retagFid(c);
  },
};

/** Sparing table copies (UDF 2.2.12) as udfinfo lists them. */
export function sparingTables(path: string): number[] {
  const r = spawnSync('udfinfo', [path], { encoding: 'utf8' });
  return [...r.stdout.matchAll(/start=(\d+), blocks=\d+, type=STABLE/g)].map((m) => Number(m[1]));
}

export const sparingDamage: Damage = {
  name: 'sparing tables that disagree', codes: ['sparing'], touches: [],
  apply: (img) => {
    const copies = sparingTables(img.path);
    if (copies.length < 2) throw new Error(`${copies.length} sparing tables`);
    const off = copies[1] * img.bs;
    // The first map entry (at 56) remapped to somewhere else: both copies valid, not equal.
    img.buf.writeUInt32LE(img.buf.readUInt32LE(off + 60) + 1, off + 60);
    fixTag(img.buf, off);
    if (readTag(img.buf, off).tagLocation !== copies[1]) throw new Error('not a sparing table');
  },
};

/* ---- further kinds, on volumes written by pktfs (fsck-more.test.ts) */

/** The anchor at N-256 (3/8.4.2.1), N the last block of the image. */
export const anchorDamage: Damage = {
  name: 'a damaged anchor', codes: ['anchor'], touches: [],
  apply: (img) => {
    const last = img.buf.length / img.bs - 1;
    img.buf[(last - 256) * img.bs + 40] ^= 0xff;
  },
};

export const reserveVdsDamage: Damage = {
  name: 'bad CRC in the reserve VDS', codes: ['vds-damaged'], touches: [],
  apply: (img) => {
    const loc = img.buf.readUInt32LE(256 * img.bs + 28); // reserve extent at 24 of the anchor
    img.buf[loc * img.bs + 100] ^= 0xff;
  },
};

export const vdsDiffersDamage: Damage = {
  name: 'main and reserve VDS that differ', codes: ['vds-differs'], touches: [],
  apply: (img) => {
    const loc = img.buf.readUInt32LE(256 * img.bs + 28);
    img.buf[loc * img.bs + 100] ^= 0x01;
    fixTag(img.buf, loc * img.bs);
  },
};

/** u64 fields of FE (4/14.9) and EFE (4/14.17) at their offsets. */
function entryField(img: Image, fe: number, field: 'uniqueID' | 'recorded'): number {
  const extended = img.buf.readUInt16LE(fe) === TAG_EFE;
  return fe + (field === 'uniqueID' ? (extended ? 200 : 160) : (extended ? 72 : 64));
}

export const uniqueIdDamage: Damage = {
  name: 'two file entries with one unique ID', codes: ['unique-id'], touches: [],
  apply: (img) => {
    const a = img.entryOf('f2048');
    const b = img.entryOf('f2049');
    img.buf.writeBigUInt64LE(img.buf.readBigUInt64LE(entryField(img, b, 'uniqueID')), entryField(img, a, 'uniqueID'));
    fixTag(img.buf, a);
  },
};

export const lvidUniqueIdDamage: Damage = {
  name: 'the LVID next unique ID too low', codes: ['lvid-unique-id'], touches: [],
  apply: (img) => {
    const l = img.lvid();
    img.buf.writeBigUInt64LE(16n, l + 40); // 3/10.10.5, 4/14.15
    fixTag(img.buf, l);
  },
};

export const recordedDamage: Damage = {
  name: 'wrong logical blocks recorded', codes: ['size'], touches: [],
  apply: (img) => {
    const fe = img.entryOf('sibling');
    const o = entryField(img, fe, 'recorded');
    img.buf.writeBigUInt64LE(img.buf.readBigUInt64LE(o) + 3n, o);
    fixTag(img.buf, fe);
  },
};

export const sizeDamage: Damage = {
  name: 'an information length beyond the allocation', codes: ['size'], touches: [],
  apply: (img) => {
    const fe = img.entryOf('one');
    img.buf.writeBigUInt64LE(5000n, fe + 56); // 4/14.9.10; the one byte is in the ICB
    fixTag(img.buf, fe);
  },
};

/** The first FID of a directory embedded in its ICB: its parent entry (4/14.4.3). */
function parentFidOf(img: Image, dirName: string): number {
  const fe = img.entryOf(dirName);
  const l = fileEntryLayout(img.buf, fe);
  if (l.adType !== 3) throw new Error(`${dirName} is not embedded in its ICB`);
  return l.adOffset;
}

export const parentDamage: Damage = {
  name: 'a parent entry pointing elsewhere', codes: ['parent', 'link-count'], touches: [],
  apply: (img) => {
    const root = img.icbOf(parentFidOf(img, 'a'));
    const p = parentFidOf(img, 'c');
    img.buf.writeUInt32LE(root, p + 24);
    img.retagFid(p);
  },
};

export const spaceMapDamage: Damage = {
  name: 'a damaged space bitmap', codes: ['space-map'], touches: [],
  apply: (img) => {
    img.buf[img.sbd() + 4] ^= 0xff; // the tag checksum
  },
};

export const duplicateNameDamage: Damage = {
  name: 'two entries with one name', codes: ['name'], touches: ['f2048'],
  apply: (img) => {
    const f = img.fid('f2048');
    const at = f + 38 + img.buf.readUInt16LE(f + 36) + 5; // the last character of "\x08f2048"
    img.buf[at] = '7'.charCodeAt(0);
    img.retagFid(f);
  },
};

export const entryTagDamage: Damage = {
  name: 'a file entry with a bad CRC', codes: ['tag'], touches: ['f2049'],
  apply: (img) => {
    const fe = img.entryOf('f2049');
    img.buf[fe + 100] ^= 0xff;
  },
};

export const lvidTagDamage: Damage = {
  name: 'a damaged LVID', codes: ['lvid-damaged'], touches: [],
  apply: (img) => {
    img.buf[img.lvid() + 100] ^= 0xff; // inside the implementation use: the CRC no longer matches
  },
};

export const extentDamage: Damage = {
  name: 'an extent outside the partition', codes: ['extent', 'unreachable', 'lvid-free'], touches: ['f2048'],
  apply: (img) => {
    const fe = img.entryOf('f2048');
    img.buf.writeUInt32LE(img.length + 100, img.firstExtent(fe).adOff + 4);
    fixTag(img.buf, fe);
  },
};

export const fidDamage: Damage = {
  name: 'a damaged FID', codes: ['fid', 'orphan'], touches: [],
  apply: (img) => {
    const f = img.fid(`entry-05-${'n'.repeat(35)}`);
    img.buf[f + 30] ^= 0xff; // inside the ICB address: the FID's CRC no longer matches,
    img.retagHolder(f); // while the file entry holding the directory stays good
  },
};

/** For a volume with a file `zfile` entered before a directory `zdir` whose FIDs fill more than its ICB. */
export const doubleDirDamage: Damage = {
  name: "a file claiming a directory's block", codes: ['double', 'unreachable'], touches: ['zfile'],
  apply: (img) => {
    const dir = img.firstExtent(img.entryOf('zdir'));
    const fe = img.entryOf('zfile');
    img.buf.writeUInt32LE(dir.block, img.firstExtent(fe).adOff + 4);
    fixTag(img.buf, fe);
  },
};
