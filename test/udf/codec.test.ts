/**
 * The on-disc codecs: tag verification and finalisation, CRC, decode → encode
 * giving the same bytes on real images (mkudffs, udfclient and the other
 * writers' fixtures), CS0 names, timestamps and blkid's UUID rule.
 */
import { join } from 'path';
import { crcItuT, finaliseTag, verifyTag, TAG_TD, TAG_PVD, TAG_LVD, TAG_PD, TAG_IUVD, TAG_USD, TAG_LVID, TAG_FSD, TAG_FE, TAG_EFE, TAG_FID, TAG_AVDP, tag } from '../../src/udf/codec/tag';
import { avdp, pvd, lvd, pd, iuvd, usd, td, lvid } from '../../src/udf/codec/volume';
import { fsd, fe, efe, fid } from '../../src/udf/codec/file';
import { decodeCs0, encodeCs0, decodeDstring, encodeDstring, translateName } from '../../src/udf/cs0';
import { timestampToDate, timestampToMs, dateToTimestamp, msToTimestamp } from '../../src/udf/time';
import { uuidFromVolSetIdent, revisionText } from '../../src/udf/info';
import { tempDir, removeDir, makeHostTree, fillWithUdfclient, mkudffs, readAt, fixture } from './volume-util';
import { crcItuT as bitwiseCrc } from '../helpers/tag';
import type { Codec } from '../../src/udf/codec/primitives';

describe('CRC and tags', () => {
  test('CRC-ITU-T of "123456789" is 0x31C3', () => {
    const b = Buffer.from('123456789');
    expect(crcItuT(b, 0, b.length)).toBe(0x31c3);
  });

  test('CRC-ITU-T taken eight bytes at a time is the bitwise CRC, for every start and length up to a block', () => {
    const b = Buffer.alloc(2048 + 16);
    let x = 12345;
    for (let i = 0; i < b.length; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= b.length; end += end < start + 40 ? 1 : 61) {
        expect([start, end, crcItuT(b, start, end)]).toEqual([start, end, bitwiseCrc(b, start, end)]);
      }
    }
    expect(crcItuT(b, 3, b.length)).toBe(bitwiseCrc(b, 3, b.length));
  });

  function td512(location: number): Buffer {
    const b = Buffer.alloc(512);
    b.fill(0x5a, 16, 100);
    finaliseTag(b, 0, { tagIdent: TAG_TD, descVersion: 3, tagSerialNum: 7, tagLocation: location, crcLength: 496 });
    return b;
  }

  test('finaliseTag produces a tag verifyTag accepts', () => {
    const t = verifyTag(td512(99), 0, { what: 'TD', location: 99, idents: [TAG_TD] });
    expect(t).toMatchObject({ tagIdent: TAG_TD, descVersion: 3, tagSerialNum: 7, descCRCLength: 496, tagLocation: 99 });
  });

  /** Re-sum the tag checksum after a test edits other tag bytes (3/7.2.3). */
  const resum = (b: Buffer) => {
    let sum = 0;
    for (let i = 0; i < 16; i++) if (i !== 4) sum += b[i];
    b[4] = sum & 0xff;
  };
  test.each([
    ['checksum', (b: Buffer) => { b[4] ^= 1; }, /checksum/],
    ['CRC', (b: Buffer) => { b[50] ^= 1; }, /CRC/],
    ['version', (b: Buffer) => { b[2] = 9; resum(b); }, /version/],
    ['location', (b: Buffer) => { b[12] = 98; resum(b); }, /location/],
    ['ident', (b: Buffer) => { b[0] = TAG_PVD; resum(b); }, /ident/],
    ['CRC length', (b: Buffer) => { b.writeUInt16LE(600, 10); resum(b); }, /CRC length/],
  ])('a bad %s is EIO', (_n, spoil, msg) => {
    const b = td512(99);
    spoil(b);
    expect(() => verifyTag(b, 0, { what: 'TD', location: 99, idents: [TAG_TD] })).toThrow(msg);
    try {
      verifyTag(b, 0, { what: 'TD', location: 99, idents: [TAG_TD] });
    } catch (e) {
      expect((e as { errno: string }).errno).toBe('EIO');
    }
  });
});

/** Decode and re-encode every descriptor of an image: the bytes must not change. */
function roundTripImage(img: string, bs: number): number {
  const size = require('fs').statSync(img).size;
  const blocks = Math.floor(size / bs);
  let checked = 0;
  const same = <T>(c: Codec<T>, b: Buffer, len: number) => {
    const out = Buffer.alloc(b.length);
    c.encode(c.decode(b, 0), out, 0);
    expect(out.subarray(0, len).equals(b.subarray(0, len))).toBe(true);
    checked++;
  };
  for (let blk = 0; blk < Math.min(blocks, 4096); blk++) {
    const b = readAt(img, blk * bs, bs);
    let t;
    try {
      t = verifyTag(b, 0, { what: 'scan', location: b.readUInt32LE(12) });
    } catch {
      continue;
    }
    const len = 16 + t.descCRCLength;
    switch (t.tagIdent) {
      case TAG_AVDP: same(avdp, b, 512); break;
      case TAG_PVD: same(pvd, b, 512); break;
      case TAG_LVD: same(lvd, b, 440 + b.readUInt32LE(264)); break;
      case TAG_PD: same(pd, b, 512); break;
      case TAG_IUVD: same(iuvd, b, 512); break;
      case TAG_USD: same(usd, b, 24 + 8 * b.readUInt32LE(20)); break;
      case TAG_TD: same(td, b, Math.min(len, 512)); break;
      case TAG_LVID: same(lvid, b, 80 + 8 * b.readUInt32LE(72) + b.readUInt32LE(76)); break;
      case TAG_FSD: same(fsd, b, 512); break;
      case TAG_FE: same(fe, b, 176 + b.readUInt32LE(168) + b.readUInt32LE(172)); break;
      case TAG_EFE: same(efe, b, 216 + b.readUInt32LE(208) + b.readUInt32LE(212)); break;
      case TAG_FID: {
        const f = fid.decode(b, 0);
        const n = fid.sizeOf(f.lengthOfImpUse, f.lengthFileIdent);
        const out = Buffer.alloc(bs);
        fid.encode(f, out, 0);
        expect(out.subarray(0, n).equals(b.subarray(0, n))).toBe(true);
        checked++;
        break;
      }
      default: break;
    }
  }
  return checked;
}

describe('decode → encode gives the same bytes', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => removeDir(dir));

  test('mkudffs image filled by udfclient', () => {
    const img = join(dir, 'rt.img');
    mkudffs(img, ['--media-type=hd', '--blocksize=2048'], 30000);
    fillWithUdfclient(img, 2048, makeHostTree(dir));
    expect(roundTripImage(img, 2048)).toBeGreaterThan(15);
  });

  test.each([
    ['udf-hdd-win7', 512], ['udf-hdd-macosx-2.60-4096', 4096], ['udf-cd-nero-6', 2048],
    ['udf-hdd-udfclient-0.7.7', 512], ['udf-bdr-2.60-nero', 2048], ['udf-cd-mkudfiso-20100208', 2048],
  ])('%s', (name, bs) => {
    const img = fixture(name, dir);
    if (!img) {
      console.log(`skipped: ../shared/fixtures/udf/${name}.img.xz not present`);
      return;
    }
    expect(roundTripImage(img, bs)).toBeGreaterThan(5);
  });
});

describe('CS0', () => {
  test('8-bit characters are Latin-1 code points', () => {
    expect(decodeCs0(Uint8Array.from([8, 0x63, 0x61, 0x66, 0xc3, 0xa9]))).toBe('cafÃ©');
    expect(decodeCs0(Uint8Array.from([8, 0xe9]))).toBe('é');
  });
  test('16-bit characters are big-endian UTF-16, surrogate pairs included', () => {
    expect(decodeCs0(Uint8Array.from([16, 0x00, 0x41, 0x04, 0x14]))).toBe('AД');
    expect(decodeCs0(Uint8Array.from([16, 0xd8, 0x3d, 0xde, 0x00]))).toBe('😀');
  });
  test('unknown compression IDs are refused', () => {
    expect(decodeCs0(Uint8Array.from([3, 0x41]))).toBeUndefined();
  });
  test('encode picks 8 bits when it can, 16 when it must, and round-trips', () => {
    expect(encodeCs0('abc')[0]).toBe(8);
    expect(encodeCs0('aД')[0]).toBe(16);
    for (const s of ['plain', 'é à', 'Дом', '😀x']) expect(decodeCs0(encodeCs0(s))).toBe(s);
    // 8-bit: every code unit up to 0xff as the byte itself, after the compression ID.
    const all = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('');
    expect(Buffer.from(encodeCs0(all))).toEqual(Buffer.concat([Buffer.from([8]), Buffer.from(all, 'latin1')]));
    expect(encodeCs0('abc')).toBeInstanceOf(Uint8Array);
  });
  test('dstrings carry their length in the last byte', () => {
    const f = encodeDstring('Label', 32);
    expect(f.length).toBe(32);
    expect(f[31]).toBe(6);
    expect(decodeDstring(f)).toBe('Label');
    expect(decodeDstring(new Uint8Array(32))).toBe('');
    expect(decodeDstring(encodeDstring('x'.repeat(100), 32))).toBe('x'.repeat(30));
  });
});

describe('names POSIX cannot show (UDF 2.60 6.7.1)', () => {
  const name = (s: string) => translateName(encodeCs0(s));
  test('ordinary names pass unchanged', () => {
    expect(name('hello world.txt')).toBe('hello world.txt');
    expect(name('é')).toBe('é');
  });
  test("'/' and NUL become '_' with a CRC suffix, a run of them one '_'", () => {
    expect(name('a/b')).toMatch(/^a_b#[0-9A-F]{4}$/);
    expect(name('a//\0b')).toMatch(/^a_b#[0-9A-F]{4}$/);
    expect(name('a/b')).not.toBe(name('a\0b'));
  });
  test("'.' and '..' get a CRC suffix", () => {
    expect(name('.')).toMatch(/^\.#[0-9A-F]{4}$/);
    expect(name('..')).toMatch(/^\.\.#[0-9A-F]{4}$/);
  });
  test('the extension is kept after the CRC', () => {
    expect(name('x/y.txt')).toMatch(/^x_y#[0-9A-F]{4}\.txt$/);
  });
  test('names over 255 UTF-8 bytes are cut to fit with a CRC', () => {
    const long = 'Д'.repeat(200);
    const n = name(long);
    expect(Buffer.byteLength(n)).toBeLessThanOrEqual(255);
    expect(n).toMatch(/#[0-9A-F]{4}$/);
  });
});

describe('timestamps (ECMA-167 1/7.3)', () => {
  const ts = (typeAndTimezone: number, hour: number) => ({
    typeAndTimezone, year: 2020, month: 2, day: 29, hour, minute: 30, second: 15,
    centiseconds: 25, hundredsOfMicroseconds: 0, microseconds: 0,
  });
  test('local time with an offset east of UTC', () => {
    expect(timestampToDate(ts((1 << 12) | 60, 12)).toISOString()).toBe('2020-02-29T11:30:15.250Z');
  });
  test('negative offsets are 12-bit two\'s complement', () => {
    expect(timestampToDate(ts((1 << 12) | (0x1000 - 300), 12)).toISOString()).toBe('2020-02-29T17:30:15.250Z');
  });
  test('an unspecified offset (-2047) reads as UTC', () => {
    expect(timestampToDate(ts((1 << 12) | (0x1000 - 2047), 12)).toISOString()).toBe('2020-02-29T12:30:15.250Z');
  });
  test('Date → timestamp → Date keeps the millisecond', () => {
    const d = new Date('2024-07-01T23:59:58.120Z');
    expect(timestampToDate(dateToTimestamp(d, 120)).getTime()).toBe(d.getTime());
    expect(dateToTimestamp(d, 120).hour).toBe(1);
  });
  test('the calendar arithmetic gives what Date gives, over the whole range of Date and any offset', () => {
    // The fields as Date's own UTC getters give them (what dateToTimestamp did before, issue 6).
    const byDate = (ms: number, off: number) => {
      const l = new Date(ms + off * 60000);
      const m = ((ms % 1000) + 1000) % 1000;
      return [l.getUTCFullYear(), l.getUTCMonth() + 1, l.getUTCDate(), l.getUTCHours(), l.getUTCMinutes(), l.getUTCSeconds(), Math.floor(m / 10), (m % 10) * 10];
    };
    const fields = (t: ReturnType<typeof msToTimestamp>) => [t.year, t.month, t.day, t.hour, t.minute, t.second, t.centiseconds, t.hundredsOfMicroseconds];
    let x = 99;
    const rand = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    const edges = [0, -1, 1, 999, -999, -1000, 86399999, -86400000, 951782400000 /* 2000-02-29 */, 4107542400000 /* 2100-03-01 */,
      -62135596800000 /* year 1 */, -62167219200001 /* before year 0 */, 253402300799999 /* 9999-12-31 */, 8.64e15 - 86400000, -8.64e15 + 86400000];
    const samples = [...edges, ...Array.from({ length: 4000 }, (_, i) => Math.round((rand() * 2 - 1) * (i < 2000 ? 4.2e12 : 8.6e15)))];
    for (const ms of samples) {
      for (const off of [0, 60, -300, 840, -720]) {
        const t = msToTimestamp(ms, off);
        expect([ms, off, ...fields(t)]).toEqual([ms, off, ...byDate(ms, off)]);
        expect(t.typeAndTimezone).toBe((1 << 12) | (off & 0x0fff));
        expect(dateToTimestamp(new Date(ms), off)).toEqual(t);
        // And back (years 0-99 included, which Date.UTC alone reads as 1900-1999).
        expect([ms, off, timestampToMs(t)]).toEqual([ms, off, ms]);
      }
    }
  });
});

describe('identifiers', () => {
  test('UUID from the volume set identifier as blkid derives it', () => {
    expect(uuidFromVolSetIdent('5906e052003d522aLinuxUDF')).toBe('5906e052003d522a');
    expect(uuidFromVolSetIdent('3B4A858DC4B57A72')).toBe('3b4a858dc4b57a72');
    expect(uuidFromVolSetIdent('20c624ac')).toBe('20c624ac00000000');
    expect(uuidFromVolSetIdent('103A3B3B UDF Volume Set')).toBe('103a3b3b20554446');
    expect(uuidFromVolSetIdent('LinuxUDF')).toBe('4c696e7578554446');
    expect(uuidFromVolSetIdent('short')).toBe('');
  });
  test('revision text is the BCD-like hex form', () => {
    expect(revisionText(0x0201)).toBe('2.01');
    expect(revisionText(0x0150)).toBe('1.50');
    expect(revisionText(0x0260)).toBe('2.60');
  });
  test('tag codec round-trips', () => {
    const b = Buffer.alloc(16);
    const t = { tagIdent: 5, descVersion: 2, tagChecksum: 9, tagSerialNum: 3, descCRC: 0xbeef, descCRCLength: 496, tagLocation: 1234 };
    tag.encode(t, b, 0);
    expect(tag.decode(b, 0)).toEqual(t);
  });
});
