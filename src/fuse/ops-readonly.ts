/**
 * On a read-only mount every operation that would change the volume answers EROFS
 * (ops-write.ts has them on a read-write one). Listing them (rather than leaving them
 * out) makes the kernel get EROFS, not ENOSYS, even where the `ro` flag is not set.
 */
import Fuse from 'fuse-native';
import type { FuseCb } from './context';

const WRITE_OPS = [
  'write', 'create', 'mkdir', 'unlink', 'rename', 'truncate', 'ftruncate', 'chmod', 'chown',
  'utimens', 'symlink', 'link', 'rmdir', 'mknod', 'setxattr', 'removexattr',
] as const;

export function readOnlyOps(): Record<(typeof WRITE_OPS)[number], (...args: unknown[]) => void> {
  const ops = {} as Record<(typeof WRITE_OPS)[number], (...args: unknown[]) => void>;
  for (const name of WRITE_OPS) {
    ops[name] = (...args: unknown[]) => {
      const cb = args[args.length - 1] as FuseCb;
      cb(Fuse.EROFS);
    };
  }
  return ops;
}
