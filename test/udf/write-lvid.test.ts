/**
 * Unique IDs handed out from the LVID (ECMA-167 4/14.15, UDF 3.2.1.1): in
 * sequence, and past the reserved 0-15 when the low 32 bits wrap, as Linux does.
 */
import { LvidWriter } from '../../src/udf/write/lvid';
import type { Lvid } from '../../src/udf/codec/volume';
import type { Disc } from '../../src/udf/disc';

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
