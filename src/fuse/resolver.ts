/**
 * Path → inode resolution for the path-based fuse-native API: walks the path one
 * component at a time with Volume.lookup, remembering resolved paths in a bounded cache
 * so a deep `ls -lR` does not repeat the directory walk for every entry.
 * Only successful lookups are cached; a read-only volume never changes underneath.
 */
import { LRUCache } from 'lru-cache';
import { FsError, isFsError } from '../errors';
import type { Volume } from '../udf/types';

/** The parent of an absolute path as the index keys it ('/a' → '', '/a/b' → '/a'). */
function up(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

/** Listings longer than this teach the resolver nothing (they would push out what it caches: big directories). */
export const LEARN_MAX = 1024;

export class PathResolver {
  private readonly cache: LRUCache<string, number>;
  /** Bumped by every forget(), so a lookup that overlapped one is not cached. */
  private generation = 0;
  /**
   * Every cached path and every ancestor of one, as a tree: a path → the paths one component
   * below it that are cached or lead to cached ones (a superset once the LRU has dropped
   * entries). forget() of a path visits what lies under it and nothing else: a scan of the
   * whole cache for every removed directory cost `rm -rf` ~8192 string compares per rmdir,
   * a quarter of its time (issue 6), and before that one for every created or removed file.
   */
  private below = new Map<string, Set<string>>();
  /** Paths in `below`'s sets; past 4x the cache's size the index is rebuilt from the cache. */
  private links = 0;

  constructor(private readonly volume: Volume, private readonly maxEntries = 8192) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  /** Link `path` and its ancestors into the index (every path in it is linked up to the root). */
  private note(path: string): void {
    for (let child = path; child !== '';) {
      const parent = up(child);
      let set = this.below.get(parent);
      const linked = set !== undefined;
      if (!set) this.below.set(parent, (set = new Set()));
      if (set.has(child)) return;
      set.add(child);
      this.links++;
      if (linked) return;
      child = parent;
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

  /** A mark to hand to learn(): a forget() after it makes what was read before it stale. */
  mark(): number {
    return this.generation;
  }

  /**
   * Remember the entries a listing of directory `dir` found (at most LEARN_MAX of them), as
   * lookups would have: the lookup of every entry that follows a listing (find, ls -l, rm -rf)
   * then costs no trip through the volume (issue 6). `since`: mark() taken before the listing;
   * after a forget() since then, the listing may be stale and nothing is kept.
   */
  learn(dir: string, entries: readonly { name: string; ino: number }[], since: number): void {
    if (since !== this.generation || entries.length > LEARN_MAX) return;
    const base = dir === '/' ? '' : dir;
    for (const e of entries) {
      const p = `${base}/${e.name}`;
      if (this.cache.has(p)) continue;
      this.cache.set(p, e.ino);
      this.note(p);
    }
    if (this.links > 4 * this.maxEntries) this.rebuild();
  }

  /** Rebuild the path index from what is cached now (it is mostly stale: their cached paths are gone). */
  private rebuild(): void {
    this.below = new Map();
    this.links = 0;
    for (const key of this.cache.keys()) this.note(key);
  }

  /** The inode of `path` when known without a lookup (the root, or cached); else undefined. */
  cached(path: string): number | undefined {
    if (path === '/' || path === '') return this.volume.rootIno;
    return this.cache.get(path);
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
    if (this.links > 4 * this.maxEntries) this.rebuild();
    this.note(path);
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
    const parentSet = this.below.get(up(path));
    if (parentSet?.delete(path)) this.links--;
    const under = this.below.get(path);
    if (!under) return;
    this.below.delete(path);
    const todo = [under];
    for (let set = todo.pop(); set; set = todo.pop()) {
      for (const p of set) {
        this.links--;
        this.cache.delete(p);
        const next = this.below.get(p);
        if (next) {
          this.below.delete(p);
          todo.push(next);
        }
      }
    }
  }
}
