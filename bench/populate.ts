/**
 * Fill a UDF image with empty files through pktfs's own write engine (no FUSE), for the scale
 * scenarios that measure a *full* volume (mount time, memory) rather than how fast it was filled:
 * a million files through the kernel and fuse-native take over ten minutes, here about a minute.
 * The result is judged like any other pktfs volume: `udfinfo` reads its counts.
 */
import { defaultMountOptions } from '../src/options';
import { openStack, closeStack } from '../bin/stack';
import { isWritable } from '../src/udf/types';

export interface PopulateResult {
  files: number;
  dirs: number;
  secs: number;
}

/** `files` empty files named f0.. in directories d0.. of `perDir` each, under the root of `image`. */
export async function populate(image: string, files: number, perDir = 1000): Promise<PopulateResult> {
  const t0 = performance.now();
  const opts = defaultMountOptions();
  // Settle only at the end: the idle timer has nothing to do while this runs flat out.
  opts.udf.idleSettleMs = Infinity;
  const stack = await openStack(image, opts);
  const vol = stack.volume;
  if (!isWritable(vol)) {
    await closeStack(stack);
    throw new Error(`${image} mounted read-only: ${vol.info.readOnlyReason ?? 'no reason given'}`);
  }
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let dirs = 0;
  try {
    for (let done = 0; done < files; dirs++) {
      const dir = await vol.mkdir(vol.rootIno, `d${dirs}`, 0o755, uid, gid);
      const n = Math.min(perDir, files - done);
      for (let i = 0; i < n; i++) await vol.create(dir, `f${i}`, 0o644, uid, gid);
      done += n;
    }
  } finally {
    await closeStack(stack);
  }
  return { files, dirs, secs: (performance.now() - t0) / 1000 };
}
