/**
 * Directory operations: opendir, readdir, releasedir. fuse-native's readdir is path based
 * and answers the whole listing at once, so a directory handle carries no state.
 */
import { constants as fsc } from 'fs';
import { FsError } from '../errors';
import { type FuseCb, type OpsContext, serve } from './context';

export function dirOps(ctx: OpsContext) {
  return {
    opendir(path: string, flags: number, cb: FuseCb): void {
      serve(cb, 'opendir', path, async () => {
        const attr = await ctx.volume.getattr(await ctx.resolver.resolve(path));
        if ((attr.mode & fsc.S_IFMT) !== fsc.S_IFDIR) throw new FsError('ENOTDIR', `${path} is not a directory`);
        return [0, 0];
      });
    },

    readdir(path: string, cb: FuseCb): void {
      serve(cb, 'readdir', path, async () => {
        const entries = await ctx.volume.readdir(await ctx.resolver.resolve(path));
        return [0, ['.', '..', ...entries.map((e) => e.name)]];
      });
    },

    releasedir(path: string, fh: number, cb: FuseCb): void {
      cb(0);
    },
  };
}
