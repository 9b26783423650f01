/**
 * Symbolic link contents: ECMA-167 4/14.16 path components to a POSIX path.
 */
import { FsError } from '../errors';
import { translateName } from './cs0';

/** 4/14.16.1.1 component types. */
export const PC_ROOT_AGREED = 1;
export const PC_ROOT = 2;
export const PC_PARENT = 3;
export const PC_CURRENT = 4;
export const PC_NAME = 5;

/** A path component (4/14.16.1) decoded: componentType, componentFileVersionNum, componentIdent. */
export interface PathComponent {
  componentType: number;
  componentFileVersionNum: number;
  componentIdent: Uint8Array;
}

export function decodePathComponents(data: Buffer): PathComponent[] {
  const out: PathComponent[] = [];
  let p = 0;
  while (p < data.length) {
    if (p + 4 > data.length) throw new FsError('EIO', `symlink: path component at byte ${p} cut short`);
    /* 0 */ const componentType = data.readUInt8(p); // 4/14.16.1.1
    /* 1 */ const lengthComponentIdent = data.readUInt8(p + 1); // 4/14.16.1.2
    /* 2 */ const componentFileVersionNum = data.readUInt16LE(p + 2); // 4/14.16.1.3
    /* 4 */ const end = p + 4 + lengthComponentIdent; // 4/14.16.1.4 componentIdent
    if (end > data.length) throw new FsError('EIO', `symlink: component identifier at byte ${p} runs past the end`);
    out.push({ componentType, componentFileVersionNum, componentIdent: Uint8Array.prototype.slice.call(data, p + 4, end) });
    p = end;
  }
  return out;
}

/** The POSIX path the components spell. */
export function pathComponentsToPosix(components: PathComponent[]): string {
  let path = '';
  for (const c of components) {
    switch (c.componentType) {
      case PC_ROOT_AGREED:
        // A root agreed between originator and recipient: with an identifier nothing portable can be made of it.
        if (c.componentIdent.length === 0) path = '/';
        break;
      case PC_ROOT: path = '/'; break;
      case PC_PARENT: path += '../'; break;
      case PC_CURRENT: path += './'; break;
      case PC_NAME: path += `${translateName(c.componentIdent)}/`; break;
      default: throw new FsError('EIO', `symlink: unknown path component type ${c.componentType}`);
    }
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
