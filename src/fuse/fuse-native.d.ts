/**
 * Types for the parts of fuse-native (which ships none) that src/fuse/ uses,
 * including the private members PktfsFuse overrides (see node_modules/fuse-native/index.js).
 */
declare module 'fuse-native' {
  type Cb = (...args: any[]) => void;

  export interface FuseStat {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    nlink: number;
    ino: number;
    blocks: number;
    blksize: number;
    /** A Date, or milliseconds since the epoch (getStatArray takes either). */
    atime: Date | number;
    mtime: Date | number;
    ctime: Date | number;
  }

  export interface FuseStatfs {
    bsize: number;
    frsize: number;
    blocks: number;
    bfree: number;
    bavail: number;
    files: number;
    ffree: number;
    favail: number;
    fsid: number;
    flag: number;
    namemax: number;
  }

  /** Operation table; each callback takes a result code (0 or a negative errno) first. */
  export type FuseOps = Record<string, (...args: any[]) => void>;

  export interface FuseOpts {
    timeout?: number | false;
    force?: boolean;
    mkdir?: boolean;
    debug?: boolean;
    [key: string]: unknown;
  }

  class Fuse {
    constructor(mnt: string, ops: FuseOps, opts?: FuseOpts);
    readonly mnt: string;
    readonly opts: FuseOpts;
    /** Native fuse_thread_t the binding keeps its state in. */
    _thread: Buffer | null;
    readonly ops: FuseOps;
    _fuseOptions(): string;
    /** The op codes the ops given implement (with init, error and getattr), filled after _makeHandlerArray. */
    _implemented: Set<number>;
    /** Builds the dispatch table the binding calls, one handler per op code (called by the constructor). */
    _makeHandlerArray(): Array<((...args: any[]) => void) | undefined>;
    _op_getattr(signal: Cb, path: string): void;
    _op_fgetattr(signal: Cb, path: string, fd: number): void;
    _op_open(signal: Cb, path: string, flags: number): void;
    _op_create(signal: Cb, path: string, mode: number): void;
    _op_chmod(signal: Cb, ...args: any[]): void;
    _op_chown(signal: Cb, ...args: any[]): void;
    _op_utimens(signal: Cb, ...args: any[]): void;
    _op_truncate(signal: Cb, ...args: any[]): void;
    _op_ftruncate(signal: Cb, ...args: any[]): void;
    _op_mknod(signal: Cb, path: string, mode: number, dev: number): void;
    _op_mkdir(signal: Cb, path: string, mode: number): void;
    _op_symlink(signal: Cb, target: string, path: string): void;
    _op_link(signal: Cb, from: string, to: string): void;
    _op_unlink(signal: Cb, path: string): void;
    _op_rmdir(signal: Cb, path: string): void;
    _op_rename(signal: Cb, from: string, to: string): void;
    _close(cb: Cb): void;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    close(cb: (err: Error | null) => void): void;
    static [errno: string]: any;
  }
  export = Fuse;
}
