/**
 * The FUSE operations a tree copy sends per entry (issue 6: cp -a and tar x), through the ops
 * objects on a real read-write volume, without a mount: what each costs in calls and exceptions.
 */
import { OpsContext } from '../../src/fuse/context';
import { attrOps } from '../../src/fuse/ops-attr';
import { writeOps } from '../../src/fuse/ops-write';
import { fileOps } from '../../src/fuse/ops-file';
import { FsError } from '../../src/errors';
import * as errno from '../../src/fuse/errno';
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { makeTempDir, removeTempDir } from '../helpers/tmp';
import { haveTools } from '../helpers/tools';
import { makeImage, openRw, type RwMount } from '../udf/write-helpers';

const describeIf = haveTools('mkudffs') ? describe : describe.skip;

type Answer = [number, unknown?];

describeIf('FUSE ops of a tree copy', () => {
  let tmp: string;
  let m: RwMount;
  let vol: WritableVolume;
  let ops: ReturnType<typeof writeOps> & ReturnType<typeof attrOps> & ReturnType<typeof fileOps>;
  const call = (name: string, ...args: unknown[]): Promise<Answer> => new Promise((resolve) => {
    (ops as unknown as Record<string, (...a: unknown[]) => void>)[name](...args, (code: number, value?: unknown) => resolve([code, value]));
  });

  beforeEach(async () => {
    tmp = makeTempDir('tree-ops');
    m = await openRw(makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks: 8192 }, tmp, 'ops'));
    if (!isWritable(m.vol)) throw new Error(`read-only: ${m.vol.info.readOnlyReason}`);
    vol = m.vol;
    const ctx = new OpsContext(vol, false);
    ops = { ...writeOps(ctx, vol, { uid: 0, gid: 0 }), ...attrOps(ctx), ...fileOps(ctx) };
  });

  afterEach(async () => {
    await m.close();
    removeTempDir(tmp);
  });

  it("a create's negative lookup (getattr of a name not there) answers ENOENT without an exception", async () => {
    expect((await call('mkdir', '/d', 0o755))[0]).toBe(0);
    const lookup = jest.spyOn(vol, 'lookup');
    // serve() maps a thrown error with toErrno; an answer returned as a code does not go there.
    const thrown = jest.spyOn(errno, 'toErrno');
    try {
      expect(await call('getattr', '/d/new')).toEqual([-2, undefined]);
      expect(await vol.find!(vol.rootIno, 'absent')).toBeUndefined();
      expect(lookup).not.toHaveBeenCalled();
      expect(thrown).not.toHaveBeenCalled();
      // A missing directory on the way is still an error; so is a name in a file.
      expect((await call('getattr', '/nodir/x'))[0]).toBe(-2);
      expect((await call('create', '/d/f', 0o644))[0]).toBe(0);
      expect((await call('getattr', '/d/f/x'))[0]).toBe(-20);
      expect(thrown).toHaveBeenCalled();
    } finally {
      lookup.mockRestore();
      thrown.mockRestore();
    }
    // What exists is found as before.
    const [code, st] = await call('getattr', '/d/f');
    expect(code).toBe(0);
    expect((st as { size: number }).size).toBe(0);
    await expect(vol.lookup(vol.rootIno, 'absent')).rejects.toBeInstanceOf(FsError);
  });
});
