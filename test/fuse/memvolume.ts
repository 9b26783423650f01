/**
 * A Volume over a Map, for testing the FUSE layer without a UDF reader: a tree of
 * directories, files, symlinks and hard links, plus inodes that fail on purpose
 * (an FsError, as a damaged descriptor would, and a plain exception, as a bug would).
 */
import { constants as fsc } from 'fs';
import { FsError } from '../../src/errors';
import type { Attr, DirEntry, Volume, VolumeInfo } from '../../src/udf/types';

export type MemNode =
  | { kind: 'dir'; children: Record<string, MemNode> }
  | { kind: 'file'; data: Buffer }
  | { kind: 'symlink'; target: string }
  | { kind: 'broken'; errno: 'EIO' | 'EUCLEAN' }
  | { kind: 'bug' };

interface Inode {
  node: MemNode;
  entries?: DirEntry[];
  nlink: number;
}

const T = new Date('2024-03-01T12:34:56.789Z');

export function memInfo(over: Partial<VolumeInfo> = {}): VolumeInfo {
  return {
    label: 'MEMVOL', volumeId: 'MEMVOL', volumeSetId: 'set', applicationId: '', publisherId: '',
    uuid: '0123456789abcdef', revision: '2.01', minUdfReadRev: 0x201, minUdfWriteRev: 0x201,
    maxUdfWriteRev: 0x201, blockSize: 2048, session: 1, sessions: 1, partitions: [],
    integrity: 'closed', numFiles: 0, numDirs: 0, totalBlocks: 10000, freeBlocks: 7000, warnings: [],
    ...over,
  };
}

export class MemVolume implements Volume {
  readonly rootIno = 1;
  private readonly inodes = new Map<number, Inode>();
  private next = 2;
  /** Calls to lookup, to see the resolver's cache at work. */
  lookups = 0;

  constructor(root: MemNode, readonly info: VolumeInfo = memInfo()) {
    this.add(root, this.rootIno);
  }

  private readonly seen = new Map<MemNode, number>();

  /** The same node object placed twice in the tree is one inode with two links (a hard link). */
  private add(node: MemNode, ino = this.next++): number {
    const inode: Inode = { node, nlink: 1 };
    this.seen.set(node, ino);
    this.inodes.set(ino, inode);
    if (node.kind === 'dir') {
      inode.nlink = 2;
      inode.entries = Object.entries(node.children).map(([name, child]) => {
        const linked = this.seen.get(child);
        if (linked !== undefined) {
          this.inodes.get(linked)!.nlink++;
          return { name, ino: linked };
        }
        const c = this.add(child);
        if (child.kind === 'dir') inode.nlink++;
        return { name, ino: c };
      });
    }
    return ino;
  }

  private get(ino: number): Inode {
    const i = this.inodes.get(ino);
    if (!i) throw new FsError('ENOENT', `no inode ${ino}`);
    if (i.node.kind === 'broken') throw new FsError(i.node.errno, `inode ${ino} is damaged`);
    if (i.node.kind === 'bug') throw new TypeError(`inode ${ino}: simulated bug`);
    return i;
  }

  async lookup(dirIno: number, name: string): Promise<number> {
    this.lookups++;
    const d = this.get(dirIno);
    if (!d.entries) throw new FsError('ENOTDIR', `inode ${dirIno} is not a directory`);
    const e = d.entries.find((x) => x.name === name);
    if (!e) throw new FsError('ENOENT', `${name} not in directory ${dirIno}`);
    return e.ino;
  }

  async getattr(ino: number): Promise<Attr> {
    const i = this.get(ino);
    const n = i.node;
    const [mode, size] =
      n.kind === 'dir' ? [fsc.S_IFDIR | 0o755, 2048]
      : n.kind === 'file' ? [fsc.S_IFREG | 0o644, n.data.length]
      : n.kind === 'symlink' ? [fsc.S_IFLNK | 0o777, Buffer.byteLength(n.target)]
      : [0, 0];
    return { ino, mode, nlink: i.nlink, uid: 1234, gid: 5678, size, blocks: Math.ceil(size / 512), atime: T, mtime: T, ctime: T };
  }

  async readdir(dirIno: number): Promise<DirEntry[]> {
    const d = this.get(dirIno);
    if (!d.entries) throw new FsError('ENOTDIR', `inode ${dirIno} is not a directory`);
    return d.entries;
  }

  async read(ino: number, offset: number, length: number): Promise<Buffer> {
    const n = this.get(ino).node;
    if (n.kind !== 'file') throw new FsError('EISDIR', `inode ${ino} is not a file`);
    return n.data.subarray(offset, offset + length);
  }

  async readlink(ino: number): Promise<string> {
    const n = this.get(ino).node;
    if (n.kind !== 'symlink') throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
    return n.target;
  }

  async close(): Promise<void> {}
}
