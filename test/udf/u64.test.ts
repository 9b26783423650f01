/**
 * readU64/writeU64 in two 32-bit halves (issue 6: no BigInt per u64 field of a file entry)
 * give what the BigInt versions gave: the same bytes, the same numbers, clamping above 2^53,
 * and the same errors for what is not a safe unsigned integer or does not fit the buffer.
 */
import { putBytes, readU64, writeU64 } from '../../src/udf/codec/primitives';

function oldRead(buf: Buffer, off: number): number {
  const v = buf.readBigUInt64LE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}
function oldWrite(buf: Buffer, off: number, v: number): void {
  buf.writeBigUInt64LE(BigInt(v), off);
}
function outcome(f: () => unknown): unknown {
  try {
    return { value: f() };
  } catch (e) {
    return { error: (e as Error).constructor.name, code: (e as NodeJS.ErrnoException).code, message: (e as Error).message };
  }
}

const VALUES = [0, 1, 255, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, 2 ** 52, 2 ** 53 - 1, 123456789012345];

describe('u64 fields without BigInt', () => {
  it.each(VALUES)('writes and reads %d as before', (v) => {
    for (const off of [0, 3, 8]) {
      const a = Buffer.alloc(24, 0xee);
      const b = Buffer.alloc(24, 0xee);
      writeU64(a, off, v);
      oldWrite(b, off, v);
      expect(a).toEqual(b);
      expect(readU64(a, off)).toBe(v);
      expect(readU64(a, off)).toBe(oldRead(b, off));
    }
  });

  it('reads every high half as before, clamping past 2^53 - 1', () => {
    const buf = Buffer.alloc(8);
    for (const hi of [0, 1, 0x1ffffe, 0x1fffff, 0x200000, 0x200001, 0x7fffffff, 0xffffffff]) {
      for (const lo of [0, 1, 0x7fffffff, 0xffffffff]) {
        buf.writeUInt32LE(lo, 0);
        buf.writeUInt32LE(hi, 4);
        expect(readU64(buf, 0)).toBe(oldRead(buf, 0));
      }
    }
  });

  it('fails as before on what is not a safe unsigned integer, or past the buffer', () => {
    for (const v of [-1, 1.5, Number.NaN, Infinity, 2 ** 64, -0]) {
      const a = Buffer.alloc(8);
      const b = Buffer.alloc(8);
      expect(outcome(() => writeU64(a, 0, v))).toEqual(outcome(() => oldWrite(b, 0, v)));
      expect(a).toEqual(b);
    }
    // 2^53 and above (not safe) are written exactly, as BigInt did.
    const a = Buffer.alloc(8);
    const b = Buffer.alloc(8);
    writeU64(a, 0, 2 ** 60);
    oldWrite(b, 0, 2 ** 60);
    expect(a).toEqual(b);
    for (const off of [-1, 1, 4, 1.5, 8]) {
      const x = Buffer.alloc(8);
      const y = Buffer.alloc(8);
      expect(outcome(() => writeU64(x, off, 7))).toEqual(outcome(() => oldWrite(y, off, 7)));
      expect(x).toEqual(y);
      expect(outcome(() => readU64(x, off))).toEqual(outcome(() => oldRead(y, off)));
    }
  });
});

describe('putBytes of short fields byte by byte', () => {
  function oldPut(buf: Buffer, off: number, len: number, value: Uint8Array): void {
    buf.fill(0, off, off + len);
    buf.set(value.subarray(0, len), off);
  }
  it('writes what fill and set wrote, and fails where they failed', () => {
    const values = [new Uint8Array(0), Uint8Array.from([1, 2, 3]), Buffer.from('OSTA Compressed Unicode'), new Uint8Array(70).fill(9)];
    for (const v of values) {
      for (const len of [0, 1, 3, 6, 8, 23, 63, 64, 65]) {
        for (const off of [0, 5, 100 - len, 101 - len, -1]) {
          const a = Buffer.alloc(100, 0xaa);
          const b = Buffer.alloc(100, 0xaa);
          expect(outcome(() => putBytes(a, off, len, v))).toEqual(outcome(() => oldPut(b, off, len, v)));
          expect(a).toEqual(b);
        }
      }
    }
  });
});
