/** Packet arithmetic: explodeRange swept over packet sizes and ranges, and the sector/packet helpers. */
import {
  explodeRange, firstSectorOf, packetCount, packetOfSector, runsWhere, sectorsInPacket, sectorsPerPacket,
  DEFAULT_PACKET_BYTES, type PacketSpan,
} from '../../src/packet/range';
import { isFsError } from '../../src/errors';

/** The obvious answer, one byte at a time. */
function bruteForce(offset: number, length: number, packetBytes: number): PacketSpan[] {
  const spans: PacketSpan[] = [];
  for (let b = offset; b < offset + length; b++) {
    const packet = Math.floor(b / packetBytes);
    const last = spans[spans.length - 1];
    if (last && last.packet === packet) last.length++;
    else spans.push({ packet, skip: b - packet * packetBytes, length: 1, partial: true });
  }
  for (const s of spans) s.partial = s.length !== packetBytes;
  return spans;
}

describe('explodeRange', () => {
  const sectorSizes = [512, 2048];
  const packetSectors = [1, 16, 32];
  for (const ss of sectorSizes) {
    for (const n of packetSectors) {
      const P = n * ss;
      // [name, offset, length]; the packet count follows from where the range starts and ends
      const cases: [string, number, number][] = [
        ['empty', 3 * P, 0],
        ['empty at 0', 0, 0],
        ['one sector at start', 0, ss],
        ['inside one packet', 5 * P + (n > 1 ? ss : 0), n > 2 ? 2 * ss : ss],
        ['crossing one boundary', 2 * P - ss, 2 * ss],
        ['spanning many', P - ss, 7 * P + 2 * ss],
        ['exactly aligned, one', 4 * P, P],
        ['exactly aligned, many', 4 * P, 5 * P],
        ['aligned start, ragged end', 0, 3 * P + ss],
        ['ragged start, aligned end', ss, 3 * P - ss],
        ['far out', 1e6 * P + ss, 2 * P],
      ];
      for (const [name, offset, length] of cases) {
        test(`${ss}-byte sectors, ${n}-sector packets: ${name}`, () => {
          const spans = explodeRange(offset, length, P);
          const packets = length === 0 ? 0 : Math.ceil((offset + length) / P) - Math.floor(offset / P);
          if (length > 0) {
            expect(spans[0].packet).toBe(Math.floor(offset / P));
            expect(spans[0].skip).toBe(offset % P);
          }
          expect(spans).toHaveLength(packets);
          expect(spans.reduce((s, x) => s + x.length, 0)).toBe(length);
          if (length <= 64 * P) expect(spans).toEqual(bruteForce(offset, length, P));
          for (const s of spans) {
            expect(s.skip + s.length).toBeLessThanOrEqual(P);
            expect(s.partial).toBe(s.length !== P);
          }
        });
      }
    }
  }

  test('byte-granular ranges match the brute force answer', () => {
    for (const P of [1, 3, 512, 2048]) {
      for (const offset of [0, 1, P - 1, P, P + 1, 5 * P - 1]) {
        for (const length of [0, 1, P - 1, P, P + 1, 3 * P + 2]) {
          expect(explodeRange(offset, length, P)).toEqual(bruteForce(offset, length, P));
        }
      }
    }
  });

  test('names the packet, the skip and partial for a concrete case', () => {
    // 32 KiB packets; 10 KiB at 30 KiB: 2 KiB at the end of packet 0, 8 KiB at the start of packet 1.
    expect(explodeRange(30 * 1024, 10 * 1024, DEFAULT_PACKET_BYTES)).toEqual([
      { packet: 0, skip: 30 * 1024, length: 2048, partial: true },
      { packet: 1, skip: 0, length: 8192, partial: true },
    ]);
  });

  test('rejects negative, fractional and zero sizes with EINVAL', () => {
    for (const [o, l, p] of [[-1, 1, 512], [0, -1, 512], [0.5, 1, 512], [0, 1, 0], [0, 1, NaN]]) {
      let err: unknown;
      try { explodeRange(o, l, p); } catch (e) { err = e; }
      expect(isFsError(err, 'EINVAL')).toBe(true);
    }
  });
});

describe('sector and packet helpers', () => {
  test('sectorsPerPacket thinks in bytes', () => {
    expect(sectorsPerPacket(DEFAULT_PACKET_BYTES, 2048)).toBe(16);
    expect(sectorsPerPacket(DEFAULT_PACKET_BYTES, 512)).toBe(64);
    expect(() => sectorsPerPacket(3000, 2048)).toThrow(/whole number/);
    expect(() => sectorsPerPacket(1024, 2048)).toThrow(/whole number/);
  });

  test('packetOfSector and firstSectorOf are inverse on packet starts', () => {
    for (const spp of [1, 16, 64]) {
      for (const p of [0, 1, 7, 1000]) {
        expect(packetOfSector(firstSectorOf(p, spp), spp)).toBe(p);
        expect(packetOfSector(firstSectorOf(p, spp) + spp - 1, spp)).toBe(p);
        expect(packetOfSector(firstSectorOf(p, spp) + spp, spp)).toBe(p + 1);
      }
    }
  });

  test('a partial last packet holds only the sectors that exist', () => {
    expect(packetCount(53, 16)).toBe(4);
    expect(packetCount(48, 16)).toBe(3);
    expect(sectorsInPacket(2, 16, 53)).toBe(16);
    expect(sectorsInPacket(3, 16, 53)).toBe(5);
    expect(sectorsInPacket(4, 16, 53)).toBe(0);
  });

  test('runsWhere coalesces consecutive indices', () => {
    const bits = [0, 1, 1, 0, 0, 1, 0, 1, 1, 1];
    expect(runsWhere(bits.length, (i) => bits[i] === 1)).toEqual([
      { start: 1, count: 2 }, { start: 5, count: 1 }, { start: 7, count: 3 },
    ]);
    expect(runsWhere(4, () => false)).toEqual([]);
    expect(runsWhere(4, () => true)).toEqual([{ start: 0, count: 4 }]);
  });
});
