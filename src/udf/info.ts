/**
 * Volume identification as other tools show it: the UUID blkid derives from
 * the volume set identifier, the revision string, identifiers without the
 * leading '*' of an entity identifier (UDF 2.1.5.2).
 */
import { Regid, regidText } from './codec/primitives';

/**
 * blkid's UUID from the volume set identifier (UDF 2.2.2.5: its first 16
 * characters should be unique, the first 8 a hex time value): the first 16
 * UTF-8 bytes; all hex → lowercased; first 8 hex → those plus the hex of bytes
 * 8-11; otherwise the hex of bytes 0-7. Fewer than 8 bytes gives ''.
 */
export function uuidFromVolSetIdent(volSetIdent: string): string {
  const all = Buffer.from(volSetIdent, 'utf8');
  if (all.length < 8) return '';
  const b = Buffer.alloc(16);
  all.copy(b, 0, 0, Math.min(16, all.length));
  const isHex = (x: number) => (x >= 0x30 && x <= 0x39) || (x >= 0x41 && x <= 0x46) || (x >= 0x61 && x <= 0x66);
  let nonHex = 16;
  for (let i = 0; i < 16; i++) {
    if (!isHex(b[i])) {
      nonHex = i;
      break;
    }
  }
  if (nonHex < 8) return b.subarray(0, 8).toString('hex');
  const head = b.toString('latin1', 0, 8).toLowerCase();
  if (nonHex < 16) return head + b.subarray(8, 12).toString('hex');
  return b.toString('latin1', 0, 16).toLowerCase();
}

/** "2.01" from 0x0201. */
export function revisionText(rev: number): string {
  return `${rev >> 8}.${(rev & 0xff).toString(16).padStart(2, '0')}`;
}

/** An entity identifier's text without the leading '*' of UDF-defined identifiers, trailing spaces cut. */
export function identText(r: Regid): string {
  return regidText(r).replace(/^\*/, '').replace(/[\s\0]+$/, '');
}
