/**
 * The path resolver against a change that lands while a lookup is under way
 * (what 16 workers renaming and unlinking in one directory do all the time):
 * the answer of a lookup that overlapped a forget() is used once, not cached,
 * so the path does not go on naming the inode it no longer names.
 */
import { FsError } from '../../src/errors';
import { PathResolver } from '../../src/fuse/resolver';
import type { Volume } from '../../src/udf/types';

test('a lookup overlapping an unlink is not cached', async () => {
  const names = new Map<string, number>([['x', 42]]);
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  const vol = {
    rootIno: 1,
    lookup: async (_dir: number, name: string) => {
      // The volume answers now; the answer reaches the resolver later (after the unlink ran).
      const ino = names.get(name);
      if (gate) await gate;
      if (ino === undefined) throw new FsError('ENOENT', `${name} not found`);
      return ino;
    },
  } as unknown as Volume;
  const r = new PathResolver(vol);
  gate = new Promise<void>((res) => (release = res));
  const slow = r.resolve('/x'); // looks up while x still exists
  await new Promise((res) => setImmediate(res));
  // The unlink: forget, then the change lands.
  r.forget('/x');
  names.delete('x');
  release();
  expect(await slow).toBe(42);
  gate = undefined;
  await expect(r.resolve('/x')).rejects.toThrow(/not found/);
});
