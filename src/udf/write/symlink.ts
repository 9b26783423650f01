/**
 * Symbolic link contents written as ECMA-167 4/14.16 path components: a
 * leading '/' is a root component (type 2), '..' a parent (3), '.' the
 * current directory (4), anything else a name (5) in CS0.
 */
import { FsError } from '../../errors';
import { PC_ROOT, PC_PARENT, PC_CURRENT, PC_NAME } from '../symlink';
import { nameToIdent } from './directory';

/** PATH_MAX of Linux, the terminating NUL included. */
const PATH_MAX = 4096;

export function encodePathComponents(target: string): Buffer {
  if (target.length === 0) throw new FsError('ENOENT', 'empty symlink target');
  const bytes = Buffer.byteLength(target, 'utf8');
  if (bytes >= PATH_MAX) throw new FsError('ENAMETOOLONG', `symlink target of ${bytes} bytes, at most ${PATH_MAX - 1}`);
  const parts: Buffer[] = [];
  const component = (type: number, ident: Uint8Array = new Uint8Array(0)): void => {
    const b = Buffer.alloc(4 + ident.length);
    b.writeUInt8(type, 0); // 4/14.16.1.1
    b.writeUInt8(ident.length, 1); // 4/14.16.1.2
    b.writeUInt16LE(0, 2); // 4/14.16.1.3 componentFileVersionNum
    b.set(ident, 4); // 4/14.16.1.4
    parts.push(b);
  };
  if (target.startsWith('/')) component(PC_ROOT);
  for (const name of target.split('/')) {
    if (name === '') continue;
    if (name === '..') component(PC_PARENT);
    else if (name === '.') component(PC_CURRENT);
    else component(PC_NAME, nameToIdent(name));
  }
  return Buffer.concat(parts);
}
