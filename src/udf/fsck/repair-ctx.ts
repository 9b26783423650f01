/**
 * What repairs share within one pass: the mounted volume, an allocator built
 * from the blocks the check found in use (so nothing a repair allocates can be
 * in use by anything), the counts the LVID will be given, and flags saying
 * which shared repairs (space map, LVID) must run at the end of the pass.
 */
import type { Space } from '../icb';
import type { Allocator } from '../write/alloc';
import type { WriteCtx } from '../write/node';
import type { Lvid } from '../codec/volume';

export interface RepairCtx {
  space: Space;
  /** Allocator over the computed map; undefined when the allocation could not be checked. */
  alloc?: Allocator;
  /** A write context over `alloc` for the write engine's directory and node functions. */
  wctx(): WriteCtx;
  /** The prevailing LVID (a copy repairs change) and where it is; undefined when there is none. */
  lvid?: Lvid;
  lvidBlock?: number;
  /** Directories a repair added (lost+found), on top of what the check counted. */
  addedDirs: number;
  /** Set when a repair allocated or freed blocks: the space map must be written. */
  spaceChanged: boolean;
  /** Set when a repair changed what the LVID records. */
  lvidChanged: boolean;
  /** Close the LVID at the end of the pass (the open-volume repair was accepted). */
  closeLvid: boolean;
}
