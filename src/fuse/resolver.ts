/**
 * Path → inode resolution for the path-based fuse-native API: walks the path one
 * component at a time with Volume.lookup, remembering resolved paths in a bounded cache
 * so a deep `ls -lR` does not repeat the directory walk for every entry.
 * Only successful lookups are cached; a read-only volume never changes underneath.
 */
import { LRUCache } from 'lru-cache';
import { FsError, isFsError } from '../errors';
import type { Volume } from '../udf/types';

export class PathResolver {
  private readonly cache: LRUCache<string, number>;
  /** Bumped by every forget(), so a lookup that overlapped one is not cached. */
  private generation = 0;
  /**
   * Every ancestor of every cached path (a superset once the LRU has dropped entries), so
   * that forget() of a path with nothing cached under it (create, unlink: almost every
   * call) is one delete instead of a scan of the whole cache (issue 6: it cost ~8192
   * string compares per created or removed file).
   */
  private ancestors = new Set<string>();

  constructor(private readonly volume: Volume, private readonly maxEntries = 8192) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  private noteAncestors(path: string): void {
    for (let cut = path.lastIndexOf('/'); cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
      const up = path.slice(0, cut);
      if (this.ancestors.has(up)) return;
      this.ancestors.add(up);
    }
  }

  /** Inode of an absolute path ('/', '/a/b'); FsError from the volume when a component is missing. */
  async resolve(path: string): Promise<number> {
    return (await this.locate(path, true))!;
  }

  /**
   * resolve, answering undefined when the last component is not there (Volume.find; a missing
   * directory on the way still throws ENOENT): a create's negative lookup costs no exception.
   */
  find(path: string): Promise<number | undefined> {
    return this.locate(path, false);
  }

  /** The inode of `path`; `strict`: a missing last component throws the volume's ENOENT, else is undefined. */
  private async locate(path: string, strict: boolean): Promise<number | undefined> {
    if (path === '/' || path === '') return this.volume.rootIno;
    const hit = this.cache.get(path);
    if (hit !== undefined) return hit;
    const cut = path.lastIndexOf('/');
    if (cut < 0) throw new FsError('EINVAL', `path ${path} is not absolute`);
    const gen = this.generation;
    const parent = await this.resolve(path.slice(0, cut) || '/');
    const name = path.slice(cut + 1);
    const ino = strict ? await this.volume.lookup(parent, name)
      : this.volume.find ? await this.volume.find(parent, name) : await this.lookupIfAny(parent, name);
    if (ino === undefined) return undefined;
    // A rename or unlink forgotten while the lookup ran may have made the answer stale: don't keep it.
    if (gen !== this.generation) return ino;
    this.cache.set(path, ino);
    if (this.ancestors.size > 2 * this.maxEntries) {
      // Mostly stale (their cached children are gone): rebuild from what is cached now.
      this.ancestors = new Set();
      for (const key of this.cache.keys()) this.noteAncestors(key);
    }
    this.noteAncestors(path);
    return ino;
  }

  /** A volume without find(): its lookup, ENOENT as undefined. */
  private async lookupIfAny(dirIno: number, name: string): Promise<number | undefined> {
    try {
      return await this.volume.lookup(dirIno, name);
    } catch (e) {
      if (isFsError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /** Forget a path and everything under it (for the write path: rename, unlink, rmdir). */
  forget(path: string): void {
    this.generation++;
    this.cache.delete(path);
    if (!this.ancestors.delete(path)) return;
    for (const key of this.cache.keys()) {
      if (key === path || key.startsWith(path + '/')) this.cache.delete(key);
    }
  }
}
