/**
 * Structure-aware damage for one fuzz case: fields of the descriptors the scan
 * found (lengths, locations, counts, allocation descriptors and their types,
 * FID lengths, name bytes and compression IDs, strategy and file types), then
 * the tags that cover the change fixed up (CRC, then checksum) so the damage
 * gets past the tag check; and random byte flips left without fix-up.
 * Everything is chosen by the case's Rng, so a case is its (seed, index).
 */
import { Rng } from './rng';
import { Found } from './scan';
import { Overlay } from './overlay';

/** [offset from the tag, width in bytes] of the fields worth damaging, per structure kind. */
const FIELDS: Record<string, [number, number][]> = {
  avdp: [[16, 4], [20, 4], [24, 4], [28, 4]],
  pvd: [[16, 4], [20, 4], [55, 1], [56, 2], [58, 2], [199, 1]],
  vdp: [[16, 4], [20, 4], [24, 4]],
  iuvd: [[16, 4], [21, 1], [51, 1]],
  pd: [[16, 4], [20, 2], [22, 2], [25, 1], [56, 4], [60, 4], [64, 4], [68, 4], [80, 4], [84, 4], [88, 4], [92, 4], [184, 4], [188, 4], [192, 4]],
  lvd: [
    [16, 4], [211, 1], [212, 4], [248, 4], [252, 4], [256, 2], [264, 4], [268, 4], [432, 4], [436, 4],
    // partition maps: type, length, type 1 fields, type 2 identifier and its fields
    [440, 1], [441, 1], [442, 2], [444, 2], [446, 1], [447, 1], [453, 1], [476, 2], [478, 2], [480, 2], [480, 4], [482, 1],
    [484, 4], [488, 4], [492, 4], [496, 2], [498, 1], [504, 1], [505, 1],
  ],
  usd: [[16, 4], [20, 4], [24, 4], [28, 4]],
  td: [[16, 4]],
  lvid: [[28, 4], [32, 4], [36, 4], [40, 8], [72, 4], [76, 4], [80, 4], [84, 4], [88, 4]],
  fsd: [[28, 2], [40, 4], [44, 4], [400, 4], [404, 4], [408, 2], [440, 2], [448, 4], [452, 4], [456, 2], [464, 4], [468, 4], [472, 2]],
  fid: [[16, 2], [18, 1], [19, 1], [20, 4], [24, 4], [28, 2], [36, 2]],
  aed: [[16, 4], [20, 4]],
  ie: [[20, 2], [27, 1], [34, 2], [36, 4], [40, 4], [44, 2]],
  fe: [[16, 4], [20, 2], [22, 2], [24, 2], [27, 1], [28, 4], [32, 2], [34, 2], [36, 4], [44, 4], [48, 2], [56, 8], [64, 8], [112, 4], [116, 4], [168, 4], [172, 4]],
  efe: [[16, 4], [20, 2], [22, 2], [24, 2], [27, 1], [28, 4], [32, 2], [34, 2], [36, 4], [44, 4], [48, 2], [56, 8], [64, 8], [72, 8], [136, 4], [140, 4], [152, 4], [156, 4], [160, 2], [208, 4], [212, 4]],
  sbd: [[16, 4], [20, 4]],
  use: [[20, 2], [34, 2], [36, 4]],
  sparing: [[48, 2], [52, 4], [56, 4], [60, 4], [64, 4], [68, 4]],
  vat: [[0, 2], [2, 2], [136, 4], [140, 4], [144, 2], [152, 4], [156, 4], [160, 4], [0, 4], [4, 4], [8, 4]],
  pmap1: [[0, 1], [1, 1], [2, 2], [4, 2]],
  'pmap-sparable': [[0, 1], [1, 1], [36, 2], [38, 2], [40, 2], [42, 1], [44, 4], [48, 4], [52, 4], [5, 1]],
  'pmap-virtual': [[0, 1], [1, 1], [36, 2], [38, 2], [5, 1]],
  'pmap-metadata': [[0, 1], [1, 1], [38, 2], [40, 4], [44, 4], [48, 4], [52, 4], [56, 2], [58, 1], [5, 1]],
  pmap: [[0, 1], [1, 1], [2, 2], [4, 2]],
  tag: [[0, 2], [2, 2], [6, 2], [10, 2], [12, 4]],
};

/** How often each kind is aimed at, relative to 1: what the reader follows on every mount or walk weighs more. */
const WEIGHT: Record<string, number> = {
  fe: 8, efe: 8, fid: 8, aed: 4, pmap1: 2, 'pmap-sparable': 6, 'pmap-virtual': 4, 'pmap-metadata': 6, ie: 2, fsd: 4, lvd: 6, pd: 4, avdp: 3, lvid: 3, sparing: 4, vat: 4, pvd: 1, vdp: 1, sbd: 1, use: 1,
};

/** What a value can be set to, given the image's geometry. */
export interface Geometry {
  blockSize: number;
  /** Absolute block of the first partition (0 when unknown). */
  partitionStart: number;
  blocks: number;
}

export function geometryOf(img: Overlay, found: Found[]): Geometry {
  const lvd = found.find((f) => f.kind === 'lvd');
  const pd = found.find((f) => f.kind === 'pd');
  const bs = lvd ? readField(img, lvd.off + 212, 4) : 2048;
  const blockSize = [512, 1024, 2048, 4096].includes(bs) ? bs : 2048;
  return { blockSize, partitionStart: pd ? readField(img, pd.off + 188, 4) : 0, blocks: Math.floor(img.length / blockSize) };
}

const MAX: Record<number, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff, 8: Number.MAX_SAFE_INTEGER };

function readField(img: Overlay, off: number, w: number): number {
  const b = img.read(off, w);
  if (b.length < w) return 0;
  return w === 1 ? b[0] : w === 2 ? b.readUInt16LE(0) : w === 4 ? b.readUInt32LE(0) : Number(b.readBigUInt64LE(0) & 0x1fffffffffffffn);
}

function writeField(img: Overlay, off: number, w: number, v: number): void {
  const b = Buffer.alloc(w);
  const max = MAX[w];
  const x = ((v % (max + 1)) + (max + 1)) % (max + 1);
  if (w === 1) b[0] = x;
  else if (w === 2) b.writeUInt16LE(x);
  else if (w === 4) b.writeUInt32LE(x >>> 0);
  else b.writeBigUInt64LE(BigInt(Math.floor(x)));
  img.write(off, b);
}

/** A value for a field of width `w` now holding `cur`: edge values, neighbours, block numbers of other structures. */
function pickValue(rng: Rng, w: number, cur: number, g: Geometry, found: Found[]): number {
  const max = MAX[w];
  const other = (): number => {
    const f = rng.pick(found);
    const abs = Math.floor(f.off / g.blockSize);
    return rng.chance(0.5) ? abs : abs - g.partitionStart;
  };
  switch (rng.below(14)) {
    case 0: return 0;
    case 1: return max;
    case 2: return cur + 1;
    case 3: return cur - 1;
    case 4: return cur + rng.below(64) - 32;
    case 5: return w === 8 ? rng.u32() * 0x100000 + rng.u32() : rng.u32() % (max + 1);
    case 6: return cur ^ (1 << rng.below(Math.min(31, w * 8)));
    case 7: return 2 ** rng.below(w * 8);
    case 8: return rng.pick([0x7fffffff, 0x80000000, 0x3fffffff, 0x40000000, 0xc0000000, 0xfffffff0, 0xfffffffe, 0x10000]) % (max + 1);
    case 9: return g.blockSize * rng.below(8);
    case 10: return g.blocks + rng.below(4) - 2;
    case 11: return other();
    case 12: return cur * 2 + 1;
    default: return w === 8 ? rng.pick([2 ** 42, 2 ** 53 - 1, 2 ** 40 + 1, 0x40000000 * 3]) : cur * 16;
  }
}

/** The allocation descriptors of an FE/EFE/AED/USE: where they are and how long each is. */
function adArea(img: Overlay, s: Found): { start: number; len: number; step: number } | undefined {
  const rd = (o: number, w: number) => readField(img, s.off + o, w);
  if (s.kind === 'fe' || s.kind === 'efe') {
    const fixed = s.kind === 'fe' ? 176 : 216;
    const form = rd(34, 2) & 7;
    if (form === 3) return undefined;
    return { start: s.off + fixed + rd(fixed - 8, 4), len: rd(fixed - 4, 4), step: form === 0 ? 8 : form === 1 ? 16 : 20 };
  }
  if (s.kind === 'aed') return { start: s.off + 24, len: rd(20, 4), step: 8 };
  if (s.kind === 'use') return { start: s.off + 40, len: rd(36, 4), step: 8 };
  return undefined;
}

/** Recompute CRC then checksum of the tag at `off` over its recorded CRC length (clipped to the image). */
export function fixTag(img: Overlay, off: number): void {
  const head = img.read(off, 16);
  if (head.length < 16) return;
  const crcLen = head.readUInt16LE(10);
  const body = img.read(off + 16, crcLen);
  let crc = 0;
  for (const b of body) {
    crc ^= b << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  head.writeUInt16LE(crc, 8);
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += head[i];
  head[4] = sum & 0xff;
  img.write(off, head);
}

/** Fix every tag whose descriptor covers bytes [off, off+len): innermost (a FID) before outer (its FE). */
function fixCovering(img: Overlay, found: Found[], off: number, len: number): void {
  const covering = found.filter((f) => f.kind !== 'vat' && !f.kind.startsWith('pmap') && f.off <= off + len && off < f.off + Math.max(f.len, 16));
  covering.sort((a, b) => a.len - b.len);
  for (const f of covering) fixTag(img, f.off);
}

export interface Mutation {
  /** One line per change, for the failure report. */
  log: string[];
}

/**
 * Damage `img` (its Overlay) with 1-3 changes chosen by `rng`. `found` is the
 * scan of the pristine image.
 */
export function mutate(rng: Rng, img: Overlay, found: Found[], g: Geometry): Mutation {
  const log: string[] = [];
  const n = 1 + (rng.chance(0.4) ? rng.below(3) : 0);
  // Rare kinds matter as much as the many FIDs: pick a kind first (by weight), then one of its structures.
  const kinds = [...new Set(found.map((f) => f.kind))];
  const total = kinds.reduce((t, k) => t + (WEIGHT[k] ?? 1), 0);
  for (let i = 0; i < n; i++) {
    let r = rng.below(total);
    let kind = kinds[0];
    for (const k of kinds) {
      r -= WEIGHT[k] ?? 1;
      if (r < 0) {
        kind = k;
        break;
      }
    }
    const pool = found.filter((f) => f.kind === kind);
    const s = rng.pick(pool);
    const op = rng.below(100);
    if (op < 50) {
      const [o, w] = rng.pick(FIELDS[s.kind] ?? FIELDS.tag);
      const cur = readField(img, s.off + o, w);
      const v = pickValue(rng, w, cur, g, found);
      writeField(img, s.off + o, w, v);
      log.push(`${s.kind}@${s.off}+${o}/${w}: ${cur} -> ${readField(img, s.off + o, w)}`);
      fixCovering(img, found, s.off + o, w);
    } else if (op < 68) {
      const area = adArea(img, s);
      if (!area || area.len < 8) {
        const [o, w] = rng.pick(FIELDS.tag);
        writeField(img, s.off + o, w, pickValue(rng, w, readField(img, s.off + o, w), g, found));
        log.push(`${s.kind}@${s.off} tag +${o}/${w}`);
        fixCovering(img, found, s.off, 16);
        continue;
      }
      const k = rng.below(Math.max(1, Math.floor(Math.min(area.len, 4096) / area.step)));
      const at = area.start + k * area.step;
      const sub = rng.below(4);
      if (sub === 0) {
        // extent type (top two bits), length kept
        const cur = readField(img, at, 4);
        const v = ((rng.below(4) << 30) | (cur & 0x3fffffff)) >>> 0;
        writeField(img, at, 4, v);
        log.push(`${s.kind}@${s.off} AD ${k} type ${cur >>> 30} -> ${v >>> 30}`);
      } else if (sub === 1) {
        const cur = readField(img, at, 4);
        const len = pickValue(rng, 4, cur & 0x3fffffff, g, found) & 0x3fffffff;
        writeField(img, at, 4, ((cur & 0xc0000000) | len) >>> 0);
        log.push(`${s.kind}@${s.off} AD ${k} length ${cur & 0x3fffffff} -> ${len}`);
      } else if (sub === 2) {
        const posOff = area.step === 20 ? 12 : 4;
        const cur = readField(img, at + posOff, 4);
        const v = pickValue(rng, 4, cur, g, found);
        writeField(img, at + posOff, 4, v);
        log.push(`${s.kind}@${s.off} AD ${k} position ${cur} -> ${readField(img, at + posOff, 4)}`);
      } else {
        const refOff = area.step === 20 ? 16 : 8;
        const v = area.step === 8 ? rng.u32() : rng.pick([0, 1, 2, 3, 0xffff]);
        writeField(img, at + refOff, area.step === 8 ? 4 : 2, v);
        log.push(`${s.kind}@${s.off} AD ${k} ${area.step === 8 ? 'next AD length' : 'partition'} -> ${v}`);
      }
      fixCovering(img, found, at, area.step);
    } else if (op < 78 && s.kind === 'fid') {
      const lIu = readField(img, s.off + 36, 2);
      const lFi = readField(img, s.off + 19, 1);
      const name = s.off + 38 + lIu;
      const sub = rng.below(5);
      if (sub === 4 && lFi >= 3) {
        // 16-bit CS0 with a surrogate half where a character starts: not UTF-16
        writeField(img, name, 1, 16);
        const at = name + 1 + 2 * rng.below(Math.floor((lFi - 1) / 2));
        writeField(img, at, 1, 0xd8 + rng.below(8));
        log.push(`fid@${s.off} 16-bit name with a surrogate half at ${at - name}`);
      } else if (sub === 0 || lFi < 2) {
        const v = rng.pick([0, 1, 7, 8, 16, 254, 255, rng.below(256)]);
        writeField(img, name, 1, v);
        log.push(`fid@${s.off} compression id -> ${v}`);
      } else if (sub === 1) {
        const at = name + 1 + rng.below(lFi - 1);
        const v = rng.pick([0x2f, 0x00, 0x2e, 0xff, 0x80, rng.below(256)]);
        writeField(img, at, 1, v);
        log.push(`fid@${s.off} name byte ${at - name} -> ${v}`);
      } else if (sub === 2) {
        // the whole name "/" or "." or ".." or NULs, same length
        const fill = rng.pick([0x2f, 0x2e, 0x00]);
        img.write(name + 1, Buffer.alloc(lFi - 1, fill));
        log.push(`fid@${s.off} name filled with ${fill}`);
      } else {
        const v = rng.pick([0, 1, 255, lFi + 4, lFi - 1, rng.below(256)]);
        writeField(img, s.off + 19, 1, v);
        log.push(`fid@${s.off} L_FI ${lFi} -> ${v}`);
      }
      fixCovering(img, found, s.off, 38 + lIu + lFi + 8);
    } else if (op < 84 && !s.kind.startsWith('pmap') && s.kind !== 'vat') {
      // A whole descriptor copied over another of the same kind, its tag location kept: consistent but wrong.
      const t = rng.pick(pool);
      if (t === s) continue;
      const loc = readField(img, t.off + 12, 4);
      const copy = img.read(s.off, Math.min(s.len, g.blockSize));
      img.write(t.off, copy);
      writeField(img, t.off + 12, 4, loc);
      log.push(`${s.kind}@${s.off} copied over @${t.off}`);
      fixCovering(img, found, t.off, copy.length);
    } else if (op < 94) {
      const k = 1 + rng.below(8);
      const span = Math.max(16, s.len);
      for (let j = 0; j < k; j++) {
        const at = s.off + rng.below(span);
        writeField(img, at, 1, readField(img, at, 1) ^ (1 + rng.below(255)));
      }
      log.push(`${s.kind}@${s.off}: ${k} bytes flipped, no fix-up`);
    } else {
      // anywhere recorded, no fix-up
      const near = rng.pick(found).off + rng.below(4096) - 2048;
      const at = Math.max(0, Math.min(img.length - 1, near));
      writeField(img, at, 1, readField(img, at, 1) ^ (1 + rng.below(255)));
      log.push(`byte ${at} flipped, no fix-up`);
    }
  }
  return { log };
}
