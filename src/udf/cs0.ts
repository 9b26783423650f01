/**
 * OSTA Compressed Unicode (UDF 2.1.1, CS0 of ECMA-167 1/7.2.12) to and from
 * JS strings, dstrings (1/7.2.12), and the UDF 2.60 6.7.1 rules that turn a
 * name a POSIX system cannot show into one it can.
 */
import { crcItuT } from './codec/tag';

/** UDF 2.1.1: compression IDs; 254/255 (UDF 2.50+) are the 8/16-bit forms too. */
export const CS0_8BIT = 8;
export const CS0_16BIT = 16;

/**
 * Characters of a CS0 d-string without length byte: first byte compression ID.
 * 8-bit characters are Latin-1 code points. Returns undefined for an unknown compression ID.
 */
export function decodeCs0(b: Uint8Array): string | undefined {
  if (b.length === 0) return '';
  const id = b[0];
  if (id === 8 || id === 254) return Buffer.from(b.subarray(1)).toString('latin1');
  if (id === 16 || id === 255) {
    const n = (b.length - 1) >> 1;
    const swapped = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) {
      swapped[2 * i] = b[2 + 2 * i];
      swapped[2 * i + 1] = b[1 + 2 * i];
    }
    return swapped.toString('utf16le');
  }
  return undefined;
}

/** Encode as CS0: 8-bit when every code unit fits in a byte, otherwise 16-bit big-endian UTF-16. */
export function encodeCs0(s: string): Uint8Array {
  let narrow = true;
  for (let i = 0; i < s.length && narrow; i++) if (s.charCodeAt(i) > 0xff) narrow = false;
  if (narrow) {
    // Byte by byte: Uint8Array.from of a concatenated Buffer cost ~30 µs a name (issue 6, every create).
    const out = new Uint8Array(1 + s.length);
    out[0] = CS0_8BIT;
    for (let i = 0; i < s.length; i++) out[1 + i] = s.charCodeAt(i);
    return out;
  }
  const le = Buffer.from(s, 'utf16le');
  const out = new Uint8Array(1 + le.length);
  out[0] = CS0_16BIT;
  for (let i = 0; i < le.length; i += 2) {
    out[1 + i] = le[i + 1];
    out[2 + i] = le[i];
  }
  return out;
}

/**
 * A dstring field (1/7.2.12): the last byte is the number of bytes used,
 * compression ID included. A length of 0 is the empty string; lengths past
 * the field are clamped as blkid does. Unknown compression IDs give ''.
 */
export function decodeDstring(field: Uint8Array): string {
  if (field.length === 0) return '';
  let len = field[field.length - 1];
  if (len === 0) return '';
  len = Math.min(len, field.length - 1);
  return decodeCs0(field.subarray(0, len)) ?? '';
}

/** A dstring field of `fieldLength` bytes holding `s`, cut to fit whole characters. */
export function encodeDstring(s: string, fieldLength: number): Uint8Array {
  let cs0 = encodeCs0(s);
  const max = fieldLength - 1;
  if (cs0.length > max) {
    const unit = cs0[0] === CS0_16BIT ? 2 : 1;
    cs0 = cs0.subarray(0, 1 + Math.floor((max - 1) / unit) * unit);
  }
  const out = new Uint8Array(fieldLength);
  out.set(cs0, 0);
  if (cs0.length > 1) out[fieldLength - 1] = cs0.length;
  return out;
}

/** NAME_MAX of Linux, in UTF-8 bytes. */
const NAME_MAX = 255;
const CRC_SUFFIX_LEN = 5; // "#XXXX"
const MAX_EXT = 5;

/**
 * Turn a file identifier into a name POSIX can show (UDF 2.60 6.7.1, the idea
 * of UDFTranslateName): '/', NUL and lone surrogates become '_' (a run of them one '_'); when
 * anything was replaced, the name is "." or "..", empty, or too long for
 * NAME_MAX, a '#' and four hex digits of the CRC of the identifier's bytes
 * are appended (before an extension of up to 5 characters, which is kept).
 */
export function translateName(fileIdent: Uint8Array): string {
  const decoded = decodeCs0(fileIdent);
  const crcHex = () => crcItuT(fileIdent, 1, fileIdent.length).toString(16).toUpperCase().padStart(4, '0');
  if (decoded === undefined) return `#${crcHex()}`;
  const chars = Array.from(decoded);
  let needsCrc = false;
  const clean: string[] = [];
  let lastIllegal = false;
  for (const c of chars) {
    // A lone surrogate (16-bit CS0 that is not UTF-16) has no UTF-8 form: a POSIX name cannot hold it.
    const illegal = c === '/' || c === '\0' || (c.length === 1 && c >= '\uD800' && c <= '\uDFFF');
    if (illegal) needsCrc = true;
    if (!illegal) clean.push(c);
    else if (!lastIllegal) clean.push('_');
    lastIllegal = illegal;
  }
  let name = clean.join('');
  if (name === '' || name === '.' || name === '..') needsCrc = true;
  if (Buffer.byteLength(name) > NAME_MAX) needsCrc = true;
  if (!needsCrc) return name;
  let ext = '';
  const dot = name.lastIndexOf('.');
  if (dot > 0 && name.length - dot - 1 <= MAX_EXT && name.length - dot > 1) {
    ext = name.slice(dot);
    name = name.slice(0, dot);
  }
  const room = NAME_MAX - CRC_SUFFIX_LEN - Buffer.byteLength(ext);
  while (Buffer.byteLength(name) > room) name = Array.from(name).slice(0, -1).join('');
  return `${name}#${crcHex()}${ext}`;
}
