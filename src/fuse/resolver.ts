/**
 * Path → inode resolution for the path-based fuse-native API: walks the path one
 * component at a time with Volume.lookup, remembering resolved paths in a bounded cache
 * so a deep `ls -lR` does not repeat the directory walk for every entry.
 * Only successful lookups are cached; a read-only volume never changes underneath.
 */
import { LRUCache } from 'lru-cache';
import { FsError } from '../errors';
import type { Volume } from '../udf/types';

export class PathResolver {
  private readonly cache: LRUCache<string, number>;
  /** Bumped by every forget(), so a lookup that overlapped one is not cached. */
  private generation = 0;

  constructor(private readonly volume: Volume, maxEntries = 8192) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  /** Inode of an absolute path ('/', '/a/b'); FsError from the volume when a component is missing. */
  async resolve(path: string): Promise<number> {
    if (path === '/' || path === '') return this.volume.rootIno;
    const hit = this.cache.get(path);
    if (hit !== undefined) return hit;
    const cut = path.lastIndexOf('/');
    if (cut < 0) throw new FsError('EINVAL', `path ${path} is not absolute`);
    const gen = this.generation;
    const parent = await this.resolve(path.slice(0, cut) || '/');
    const ino = await this.volume.lookup(parent, path.slice(cut + 1));
    // A rename or unlink forgotten while the lookup ran may have made the answer stale: don't keep it.
    if (gen === this.generation) this.cache.set(path, ino);
    return ino;
  }

  /** Forget a path and everything under it (for the write path: rename, unlink, rmdir). */
  forget(path: string): void {
    this.generation++;
    for (const key of this.cache.keys()) {
      if (key === path || key.startsWith(path + '/')) this.cache.delete(key);
    }
  }
}
