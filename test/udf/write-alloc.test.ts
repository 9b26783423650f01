/**
 * The block allocator on its own: contiguous runs from a goal, packets that
 * are partly used filled before new ones are opened, whole free packets for
 * large allocations, just-freed packets used last, all-or-nothing ENOSPC,
 * double frees caught.
 */
import { Allocator, PARTLY_INDEX } from '../../src/udf/write/alloc';

/** A map of `n` blocks, all free except `used`. */
function map(n: number, used: number[] = [], packet = 8, phase = 0): Allocator {
  const free = new Uint8Array(Math.ceil(n / 8));
  for (let b = 0; b < n; b++) if (!used.includes(b)) free[b >> 3] |= 1 << (b & 7);
  return new Allocator(free, n, packet, phase);
}

describe('Allocator', () => {
  it('counts free blocks and per-packet use the same a byte or a bit at a time', () => {
    let x = 7;
    for (const [n, packet] of [[1003, 16], [1003, 5], [4096, 32], [13, 8]]) {
      const used: number[] = [];
      for (let b = 0; b < n; b++) if (((x = (x * 1103515245 + 12345) % 2147483648) >> 16) % 3 === 0) used.push(b);
      const a = map(n, used, packet);
      expect(a.freeBlocks).toBe(n - used.length);
      // The usage counts steer a small allocation into the first partly used packet.
      const firstPartly = Array.from({ length: Math.ceil(n / packet) }, (_, pk) => pk).find((pk) => {
        const size = Math.min(packet, n - pk * packet);
        const u = used.filter((b) => Math.floor(b / packet) === pk).length;
        return u > 0 && u < size;
      })!;
      const [got] = a.allocate(1, undefined);
      expect(Math.floor(got.block / packet)).toBe(firstPartly);
    }
  });

  it('counts packets as the medium does when the partition does not start one (a phase), a byte or a bit at a time', () => {
    let x = 11;
    for (const [n, packet, phase] of [[1003, 16, 1], [1003, 16, 9], [4096, 32, 5], [1003, 5, 2], [13, 8, 3], [600, 16, 15]]) {
      const used: number[] = [];
      for (let b = 0; b < n; b++) if (((x = (x * 1103515245 + 12345) % 2147483648) >> 16) % 3 === 0) used.push(b);
      const a = map(n, used, packet, phase);
      expect(a.freeBlocks).toBe(n - used.length);
      const pkOf = (b: number) => Math.floor((b + phase) / packet);
      const firstPartly = Array.from({ length: pkOf(n - 1) + 1 }, (_, pk) => pk).find((pk) => {
        const size = Math.min(n, (pk + 1) * packet - phase) - Math.max(0, pk * packet - phase);
        const u = used.filter((b) => pkOf(b) === pk).length;
        return u > 0 && u < size;
      })!;
      const [got] = a.allocate(1, undefined);
      expect(a.packetOf(got.block)).toBe(pkOf(got.block));
      expect(pkOf(got.block)).toBe(firstPartly);
      expect(a.packetEnd(got.block)).toBe(Math.min(n, (pkOf(got.block) + 1) * packet - phase));
    }
    // Blocks 15..29 used: with the medium's packets starting at partition block 15 (phase 1) that
    // is one packet with a block free (30); counted from block 0, two partly used packets, the first at 0.
    const used = Array.from({ length: 15 }, (_, i) => 15 + i);
    expect(map(64, used, 16, 1).allocate(1, undefined)).toEqual([{ block: 30, count: 1 }]);
    expect(map(64, used, 16, 0).allocate(1, undefined)).toEqual([{ block: 0, count: 1 }]);
    // A run that starts a packet, when asked for.
    expect(map(64, [], 16, 1).allocateRun(3, 2, undefined, undefined, true)).toEqual({ block: 15, count: 3 });
  });

  it('takes a contiguous run at the goal', () => {
    const a = map(64);
    expect(a.allocate(5, 10)).toEqual([{ block: 10, count: 5 }]);
    expect(a.freeBlocks).toBe(59);
    expect(a.dirty).toBe(true);
  });

  it('fills a partly used packet before opening an empty one', () => {
    // Packets of 8: packet 2 (blocks 16-23) has blocks 16-18 used; everything else is free.
    const a = map(64, [16, 17, 18]);
    expect(a.allocate(1)).toEqual([{ block: 19, count: 1 }]);
    expect(a.allocate(2)).toEqual([{ block: 20, count: 2 }]);
  });

  it('gives a large allocation whole free packets', () => {
    const a = map(64, [0, 1, 2, 16]);
    expect(a.allocate(8)).toEqual([{ block: 8, count: 8 }]);
    expect(a.allocate(8)).toEqual([{ block: 24, count: 8 }]);
  });

  it('uses just-freed packets last', () => {
    const a = map(32, [], 8);
    a.allocate(32, 0);
    a.release(0, 8); // packet 0 freed during this mount
    a.release(12, 2, false); // blocks of packet 1 freed without wear tracking (a rollback)
    expect(a.allocate(1)).toEqual([{ block: 12, count: 1 }]);
    expect(a.allocate(1)).toEqual([{ block: 13, count: 1 }]);
    // Only the just-freed packet is left: held back until the entries that freed it are recorded...
    expect(() => a.allocate(1)).toThrow(expect.objectContaining({ errno: 'ENOSPC' }));
    expect(a.freeBlocks).toBe(8);
    // ...then it is used rather than failing.
    a.commitFreed();
    expect(a.allocate(1)).toEqual([{ block: 0, count: 1 }]);
  });

  it('splits across runs when no run is long enough', () => {
    const a = map(16, [4, 5, 6, 7, 12, 13, 14, 15], 1);
    expect(a.allocate(8, 0)).toEqual([{ block: 0, count: 4 }, { block: 8, count: 4 }]);
  });

  it('is all or nothing on ENOSPC', () => {
    const a = map(16, [0, 1]);
    expect(() => a.allocate(15)).toThrow(expect.objectContaining({ errno: 'ENOSPC' }));
    expect(a.freeBlocks).toBe(14);
  });

  it('keeps reserved blocks for their owner, looking past packets with nothing else free', () => {
    // Packets of 8: packet 0 has 0-3 used and 4-7 kept for owner 7; packet 1 is free.
    const a = map(32, [0, 1, 2, 3]);
    a.reserve(4, 4, 7);
    expect(a.allocate(1, 4)).toEqual([{ block: 8, count: 1 }]); // not the kept block at the goal
    expect(a.allocate(2, 4, 7)).toEqual([{ block: 4, count: 2 }]); // the owner takes its own
    expect(a.runLength(6, 4, 7)).toBe(2);
    expect(a.runLength(6, 4)).toBe(0);
  });

  it('gives reservations up when nothing else is free, and forgets an owner\'s', () => {
    const a = map(16, []);
    a.reserve(8, 8, 1);
    expect(a.allocate(8)).toEqual([{ block: 0, count: 8 }]);
    expect(a.allocate(2)).toEqual([{ block: 8, count: 2 }]); // only kept blocks are left
    a.reserve(10, 6, 2);
    a.unreserve(2);
    expect(a.allocate(1, 12)).toEqual([{ block: 12, count: 1 }]);
  });

  it('finds a contiguous run for allocateRun, or none', () => {
    const a = map(32, [3, 9, 20]);
    expect(a.allocateRun(8, 0)).toEqual({ block: 10, count: 8 });
    expect(a.allocateRun(12, 0)).toBeUndefined();
    expect(a.allocateRun(5, 0)).toEqual({ block: 4, count: 5 });
  });

  it('catches a double free and frees outside the map', () => {
    const a = map(16);
    expect(() => a.release(3, 1)).toThrow(expect.objectContaining({ errno: 'EIO' }));
    a.allocate(1, 3);
    a.release(3, 1);
    expect(() => a.release(20, 1)).toThrow(expect.objectContaining({ errno: 'EIO' }));
  });
});

describe('Allocator: data apart from metadata (issue 6, disc wear)', () => {
  it('entries and file data interleaved by the caller land in packets of their own', () => {
    const a = map(1024, [], 16);
    const kindOf = new Map<number, string>();
    const note = (pieces: { block: number; count: number }[], kind: string) => {
      for (const p of pieces) {
        for (let b = p.block; b < p.block + p.count; b++) {
          const pk = Math.floor(b / 16);
          expect(kindOf.get(pk) ?? kind).toBe(kind);
          kindOf.set(pk, kind);
        }
      }
    };
    let dataEnd = -1;
    for (let f = 0; f < 40; f++) {
      const [fe] = a.allocate(1, 1, undefined, 'meta');
      note([fe], 'meta');
      // A file's first data block is looked for next to its entry (node.ts): it goes on after the last file's data instead.
      const data = a.allocate(1 + (f % 3), fe.block + 1, undefined, 'data');
      note(data, 'data');
      if (dataEnd >= 0) expect(data[0].block).toBe(dataEnd);
      dataEnd = data[data.length - 1].block + data[data.length - 1].count;
    }
    expect([...kindOf.values()].filter((k) => k === 'meta')).toHaveLength(3); // 40 entries in 16-block packets
  });

  it('directory runs keep to metadata packets; without a kind anything goes, as before', () => {
    const a = map(256, [], 16);
    const [d] = a.allocate(4, 0, undefined, 'data'); // packet 0 is data now
    const run = a.allocateRun(6, d.block + d.count, 99, 'meta');
    expect(Math.floor(run!.block / 16)).toBe(1);
    expect(a.allocate(2, d.block + d.count)).toEqual([{ block: d.block + d.count, count: 2 }]);
  });

  it('a nearly full map gives blocks of the other kind rather than ENOSPC', () => {
    const a = map(32, [], 16);
    a.allocate(8, 0, undefined, 'data');
    a.allocate(16, 16, undefined, 'meta');
    // Eight free blocks left, all in the data packet: an entry still gets one.
    const [fe] = a.allocate(1, 20, undefined, 'meta');
    expect(fe.block).toBeLessThan(16);
    expect(a.freeBlocks).toBe(7);
  });

  describe('the index of partly used packets (issue 6)', () => {
    const saved = PARTLY_INDEX.max;
    afterEach(() => { PARTLY_INDEX.max = saved; });

    it('finds the partly used packet far from the goal without looking at the full ones between', () => {
      // 1000 full packets of 16, then one with a block in use: an entry allocated near block 0.
      const examined = (max: number): { got: number; looked: number } => {
        PARTLY_INDEX.max = max;
        const free = new Uint8Array(16 * 2000 / 8).fill(0xff);
        free.fill(0, 0, 16 * 1000 / 8);
        free[16 * 1000 / 8] = 0xfe;
        const a = new Allocator(free, 16 * 2000, 16);
        const [got] = a.allocate(1, 5, undefined, 'meta');
        return { got: got.block, looked: a.packetsExamined };
      };
      const linear = examined(0);
      const indexed = examined(256);
      expect(indexed.got).toBe(16 * 1000 + 1);
      expect(linear.got).toBe(indexed.got);
      expect(linear.looked).toBeGreaterThanOrEqual(1000);
      expect(indexed.looked).toBeLessThanOrEqual(2);
    });

    it('chooses exactly what looking at every packet chooses, through allocations, frees and reservations', () => {
      const run = (max: number): string[] => {
        PARTLY_INDEX.max = max;
        const a = map(4096, [3, 70, 71, 500, 2047], 16);
        const out: string[] = [];
        const live: { block: number; count: number }[] = [];
        let x = 12345;
        const rnd = (n: number): number => ((x = (x * 1103515245 + 12345) % 2147483648) >> 8) % n;
        for (let step = 0; step < 3000; step++) {
          const r = rnd(10);
          try {
            if (r < 5 || live.length === 0) {
              const kind = rnd(3) === 0 ? undefined : rnd(2) === 0 ? 'meta' as const : 'data' as const;
              const goal = rnd(4) === 0 ? undefined : rnd(4096);
              const pieces = a.allocate(1 + rnd(r === 0 ? 40 : 6), goal, rnd(5) === 0 ? 7 : undefined, kind);
              live.push(...pieces);
              out.push(JSON.stringify(pieces));
            } else if (r < 8) {
              const [p] = live.splice(rnd(live.length), 1);
              a.release(p.block, p.count, rnd(2) === 0);
              out.push(`free ${p.block}+${p.count}`);
            } else if (r === 8) {
              const b = rnd(4096);
              a.reserve(b, 1 + rnd(20), 7);
              out.push(`reserve ${b}`);
            } else {
              a.commitFreed();
              a.unreserve(7);
              out.push('commit');
            }
          } catch (e) {
            out.push(String((e as Error).message));
          }
        }
        out.push(`free ${a.freeBlocks}`);
        return out;
      };
      expect(run(256)).toEqual(run(0));
    });
  });
});
