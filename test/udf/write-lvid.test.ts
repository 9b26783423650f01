/**
 * Unique IDs handed out from the LVID (ECMA-167 4/14.15, UDF 3.2.1.1): in
 * sequence, and past the reserved 0-15 when the low 32 bits wrap, as Linux does.
 */
import { LvidWriter } from '../../src/udf/write/lvid';
import type { Lvid } from '../../src/udf/codec/volume';
import type { Disc } from '../../src/udf/disc';
import { icbLongAd } from '../../src/udf/write/directory';

function writerAt(uniqueID: number): LvidWriter {
  return new LvidWriter({} as Disc, 0, { uniqueID } as Lvid, false);
}

describe('LVID unique IDs', () => {
  it('counts up from the recorded next ID', () => {
    const w = writerAt(16);
    expect([w.nextUniqueId(), w.nextUniqueId(), w.nextUniqueId()]).toEqual([16, 17, 18]);
    expect(w.lvid.uniqueID).toBe(19);
  });

  it('skips 0-15 of the low 32 bits when they wrap', () => {
    const w = writerAt(0x1fffffffe);
    expect(w.nextUniqueId()).toBe(0x1fffffffe);
    expect(w.nextUniqueId()).toBe(0x1ffffffff);
    expect(w.nextUniqueId()).toBe(0x200000010);
  });
});

describe('unique IDs in ICB long_ads (UDF 2.3.4.3)', () => {
  it('the implementation use holds the low 32 bits of the unique ID, little-endian, after two zero bytes', () => {
    const loc = { logicalBlockNum: 7, partitionReferenceNum: 0 };
    for (const id of [0, 16, 0x12345678, 0xfffffffe, 0x1ffffffff, 0x200000010, 2 ** 53 - 1]) {
      const want = Buffer.alloc(6);
      want.writeUInt32LE(Number(BigInt(id) & 0xffffffffn), 2);
      const ad = icbLongAd(loc, 2048, id);
      expect([id, Buffer.from(ad.implUse).toString('hex')]).toEqual([id, want.toString('hex')]);
      expect(ad.extLength).toBe(2048);
    }
  });
});
