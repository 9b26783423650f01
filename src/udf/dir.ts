/**
 * Directories: the file identifier descriptors (ECMA-167 4/14.4) of a
 * directory's data read as one stream, so FIDs that straddle block boundaries
 * parse like any other. Deleted entries are skipped, hidden ones unless asked,
 * names go through the OSTA rules (cs0.ts).
 */
import { FsError } from '../errors';
import { fid, FID_DELETED, FID_DIRECTORY, FID_HIDDEN, FID_PARENT } from './codec/file';
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

/**
 * Parse the FIDs in `data` (the directory's bytes). `blockOf(pos)` gives the
 * partition block that byte `pos` of the directory lies in, for checking the
 * tag location; `what` names the directory in errors.
 */
export function parseDirectory(
  data: Buffer,
  blockOf: (pos: number) => number | undefined,
  opts: { unhide?: boolean; what: string },
): RawDirEntry[] {
  const out: RawDirEntry[] = [];
  let pos = 0;
  while (pos + fid.size <= data.length) {
    // Trailing zeros after the last FID (padding to the block) end the directory.
    if (data.readUInt16LE(pos) === 0 && data.readUInt32LE(pos + 12) === 0 && data[pos + 4] === 0) break;
    const location = blockOf(pos);
    if (location === undefined) throw new FsError('EIO', `${opts.what}: FID at byte ${pos} outside the directory's extents`);
    verifyTag(data, pos, { what: `${opts.what} FID at byte ${pos}`, location, idents: [TAG_FID] });
    const f = fid.decode(data, pos);
    const size = fid.sizeOf(f.lengthOfImpUse, f.lengthFileIdent);
    if (pos + size > data.length) throw new FsError('EIO', `${opts.what}: FID at byte ${pos} runs past the end`);
    pos += size;
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
