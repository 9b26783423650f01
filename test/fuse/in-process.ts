/**
 * pktfs mounted inside the test's own process (the volume and a PktfsMount, no CLI), for tests
 * that reach into the volume (a failure injected into it) or into the binding. Trap: a FileHandle
 * on such a mount must never be closed by the garbage collector (its FLUSH goes to the very
 * thread that must answer it); use raw descriptors for closes expected to fail.
 */
import fs from 'fs';
import path from 'path';
import { openStack, closeStack, type Stack } from '../../bin/stack';
import { PktfsMount, type MountSettings } from '../../src/fuse/mount';
import { parseMountOptions, splitOptions } from '../../src/options';
import { isWritable, type WritableVolume } from '../../src/udf/types';
import { makeImage } from '../udf/write-helpers';

export interface InProcessMount {
  img: string;
  mnt: string;
  stack: Stack;
  vol: WritableVolume;
  mount: PktfsMount;
}

/** The in-process mounts of one test file, in directory `dir()`; unmountAll() for its afterAll. */
export class InProcessMounts {
  private counter = 0;
  private readonly live: InProcessMount[] = [];

  constructor(private readonly dir: () => string) {}

  /** A fresh hd image (UDF 2.01, 2048-byte blocks) of `blocks` blocks made by mkudffs. */
  newImage(blocks: number): string {
    return makeImage({ media: 'hd', rev: '2.01', bs: 2048, blocks }, this.dir(), `disc${++this.counter}`);
  }

  /** Mount `img` read-write with the -o words `words`, and `settings` over what they give. */
  async mount(img: string, words: string[], settings: Partial<MountSettings> = {}): Promise<InProcessMount> {
    const opts = parseMountOptions(splitOptions(words));
    const stack = await openStack(img, { ...opts, readOnly: false });
    const vol = stack.volume;
    if (!isWritable(vol)) throw new Error('not writable');
    const mnt = path.join(this.dir(), `mnt${++this.counter}`);
    fs.mkdirSync(mnt);
    const mount = await PktfsMount.mount(vol, mnt, {
      source: img, readOnly: false, pollMs: 200, writeBehind: opts.writeBehind, fastSetattr: opts.fastSetattr,
      pktinfo: { mode: opts.pktinfo, packets: stack.packets, mount: { source: img, ...stack.facts } },
      ...settings,
    });
    const m = { img, mnt, stack, vol, mount };
    this.live.push(m);
    return m;
  }

  async unmount(m: InProcessMount): Promise<void> {
    this.live.splice(this.live.indexOf(m), 1);
    await m.mount.unmount();
    await closeStack(m.stack);
  }

  /** What a failed test left mounted. */
  async unmountAll(): Promise<void> {
    for (const m of this.live.splice(0)) {
      await m.mount.unmount().catch(() => undefined);
      await closeStack(m.stack).catch(() => undefined);
    }
  }
}
