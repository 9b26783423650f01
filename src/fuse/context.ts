/**
 * What every group of FUSE operations shares: the volume, the path resolver, the table
 * of open file handles, and `serve`, which runs an async operation and answers the
 * kernel with its result or with the errno its failure maps to.
 */
import type { Volume } from '../udf/types';
import { PathResolver } from './resolver';
import { toErrno } from './errno';

/** What an open file handle refers to. */
export interface OpenFile {
  ino: number;
  path: string;
}

export class OpsContext {
  readonly resolver: PathResolver;
  private readonly files = new Map<number, OpenFile>();
  private nextFh = 1;

  constructor(readonly volume: Volume, readonly readOnly: boolean) {
    this.resolver = new PathResolver(volume);
  }

  /** Remember an open file and give it a handle number (never 0, which fuse-native treats as none). */
  addFile(file: OpenFile): number {
    while (this.files.has(this.nextFh) || this.nextFh === 0) this.nextFh = (this.nextFh + 1) >>> 0;
    const fh = this.nextFh;
    this.nextFh = (this.nextFh + 1) >>> 0;
    this.files.set(fh, file);
    return fh;
  }

  file(fh: number): OpenFile | undefined {
    return this.files.get(fh);
  }

  removeFile(fh: number): void {
    this.files.delete(fh);
  }

  get openFiles(): number {
    return this.files.size;
  }
}

/**
 * fuse-native's callback: a result code (0, a byte count, or a negative errno) and maybe a value
 * (and for open and create, fuse_file_info flags after the handle: see PktfsFuse._op_open).
 */
export type FuseCb = (code: number, value?: unknown, extra?: number) => void;

/**
 * Run `work` and answer through `cb`: `[code, value, extra]` on success, the mapped errno on failure.
 * Never throws, so a failing operation can't take the process (and the mount) down.
 */
export function serve(cb: FuseCb, op: string, path: string, work: () => Promise<[number, unknown?, number?]>): void {
  work().then(
    ([code, value, extra]) => (extra !== undefined ? cb(code, value, extra) : value === undefined ? cb(code) : cb(code, value)),
    (e: unknown) => cb(toErrno(e, op, path)),
  );
}
