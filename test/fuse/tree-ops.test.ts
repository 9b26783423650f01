/**
 * The FUSE operations a tree copy sends per entry (issue 6: cp -a and tar x), through the ops
 * objects on a real read-write volume, without a mount: what each costs in calls and exceptions.
 */
import { OpsContext } from '../../src/fuse/context';
import type * as Context from '../../src/fuse/context';
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
      // (The directory on the way is looked up as ever; the missing name only asked with find.)
      expect(lookup.mock.calls.map((c) => c[1])).not.toContain('new');
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

describe('serve: the deadline of an operation', () => {
  afterEach(() => { jest.useRealTimers(); });

  it('answers ETIMEDOUT once after OP_TIMEOUT and drops the late answer, with no timer per operation', async () => {
    jest.useFakeTimers();
    // A fresh copy of the module: its sweep timer (real, from the tests above) is module state.
    let ctx!: typeof Context;
    jest.isolateModules(() => { ctx = require('../../src/fuse/context'); });
    const { OP_TIMEOUT, operationsInFlight, serve } = ctx;
    const said = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const setTimeoutSpy = jest.spyOn(global, 'setTimeout');
    const setIntervalSpy = jest.spyOn(global, 'setInterval');
    try {
      const answers: number[] = [];
      // 100 operations that answer at once: no timer each.
      for (let i = 0; i < 100; i++) serve((code) => answers.push(code), 'getattr', `/f${i}`, async () => [0]);
      await Promise.resolve();
      await Promise.resolve();
      expect(answers).toEqual(Array(100).fill(0));
      expect(setTimeoutSpy).not.toHaveBeenCalled();
      expect(setIntervalSpy.mock.calls.length).toBeLessThanOrEqual(1);
      expect(operationsInFlight()).toBe(0);
      // One that hangs (a drive that stopped answering).
      let finish!: () => void;
      const late: number[] = [];
      serve((code) => late.push(code), 'read', '/slow', () => new Promise((r) => { finish = () => r([4096]); }));
      await jest.advanceTimersByTimeAsync(OP_TIMEOUT.ms - OP_TIMEOUT.sweepMs);
      expect(late).toEqual([]);
      await jest.advanceTimersByTimeAsync(2 * OP_TIMEOUT.sweepMs);
      expect(late).toEqual([-110]);
      expect(said).toHaveBeenCalledWith(expect.stringMatching(/read \/slow: no answer after 12\d s, answered ETIMEDOUT/));
      finish();
      await jest.advanceTimersByTimeAsync(OP_TIMEOUT.sweepMs);
      expect(late).toEqual([-110]);
      expect(operationsInFlight()).toBe(0);
    } finally {
      setTimeoutSpy.mockRestore();
      setIntervalSpy.mockRestore();
      said.mockRestore();
    }
  });
});
