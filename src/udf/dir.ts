/**
 * Directories: the file identifier descriptors (ECMA-167 4/14.4) of a
 * directory's data read as one stream, so FIDs that straddle block boundaries
 * parse like any other. Deleted entries are skipped, hidden ones unless asked,
 * names go through the OSTA rules (cs0.ts).
 */
import { FsError } from '../errors';
import { fid, Fid, FID_DELETED, FID_DIRECTORY, FID_HIDDEN, FID_PARENT } from './codec/file';
import { TAG_FID, verifyTag } from './codec/tag';
import type { LbAddr } from './codec/primitives';
import { EXT_LENGTH_MASK } from './codec/primitives';
import { translateName } from './cs0';

export interface RawDirEntry {
  name: string;
  icb: LbAddr;
  isDirectory: boolean;
  isParent: boolean;
}

/** A FID found in a directory's bytes: where it starts, how long it is, what it says. */
export interface FidAt {
  pos: number;
  size: number;
  fid: Fid;
}

/**
 * The FIDs in `data` (the directory's bytes), each checked (tag location,
 * checksum, CRC, length) before it is given out; the first bad one throws
 * FsError EIO. `blockOf(pos)` gives the partition block that byte `pos` of the
 * directory lies in; `what` names the directory in errors. The one FID walker
 * of the read path, the write engine (write/directory.ts) and fsck.
 */
export function* fidsIn(data: Buffer, blockOf: (pos: number) => number | undefined, what: string): Generator<FidAt> {
  let pos = 0;
  while (pos + fid.size <= data.length) {
    // Trailing zeros after the last FID (padding to the block) end the directory.
    if (data.readUInt16LE(pos) === 0 && data.readUInt32LE(pos + 12) === 0 && data[pos + 4] === 0) return;
    const location = blockOf(pos);
    if (location === undefined) throw new FsError('EIO', `${what}: FID at byte ${pos} outside the directory's extents`);
    verifyTag(data, pos, { what: `${what} FID at byte ${pos}`, location, idents: [TAG_FID] });
    const f = fid.decode(data, pos);
    const size = fid.sizeOf(f.lengthOfImpUse, f.lengthFileIdent);
    if (pos + size > data.length) throw new FsError('EIO', `${what}: FID at byte ${pos} runs past the end`);
    yield { pos, size, fid: f };
    pos += size;
  }
}

/** The entries of a directory as readers show them: deleted ones skipped, hidden ones unless asked. */
export function parseDirectory(
  data: Buffer,
  blockOf: (pos: number) => number | undefined,
  opts: { unhide?: boolean; what: string },
): RawDirEntry[] {
  const out: RawDirEntry[] = [];
  for (const { fid: f } of fidsIn(data, blockOf, opts.what)) {
    const c = f.fileCharacteristics;
    if (c & FID_DELETED) continue;
    if ((c & FID_HIDDEN) && !opts.unhide) continue;
    if ((f.icb.extLength & EXT_LENGTH_MASK) === 0 && !(c & FID_PARENT)) continue; // no ICB: nothing to show
    out.push({
      name: c & FID_PARENT ? '..' : translateName(f.fileIdent),
      icb: f.icb.extLocation,
      isDirectory: (c & FID_DIRECTORY) !== 0,
      isParent: (c & FID_PARENT) !== 0,
    });
  }
  return out;
}
