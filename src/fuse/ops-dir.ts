/**
 * Directory operations: readdir. fuse-native's readdir is path based and answers the whole
 * listing at once, so a directory handle carries no state: there is no opendir or
 * releasedir, and libfuse answers those itself (the kernel opens only directories), instead
 * of two more hops to this thread for every listing (issue 6: a sixth of rm -rf's requests,
 * a quarter of find's).
 */
import { type FuseCb, type OpsContext, serve } from './context';

export function dirOps(ctx: OpsContext) {
  return {
    readdir(path: string, cb: FuseCb): void {
      serve(cb, 'readdir', path, async () => {
        const since = ctx.resolver.mark();
        const entries = await ctx.volume.readdir(await ctx.resolver.resolve(path));
        // The lookups of these names that usually follow are answered from the resolver.
        ctx.resolver.learn(path, entries, since);
        return [0, ['.', '..', ...entries.map((e) => e.name)]];
      });
    },
  };
}
