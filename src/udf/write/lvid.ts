/**
 * The logical volume integrity descriptor on a read-write mount (ECMA-167
 * 3/10.10, UDF 2.2.6): marked open on the disc, and flushed, before any other
 * write; closed at unmount with the file and directory counts, free space,
 * next unique ID and revisions. A volume found open at mount stays open (as
 * Linux's udf_close_lvid does): something else left it inconsistent.
 * Unique IDs (UDF 3.2.1.1): 0-15 are reserved, so the low 32 bits skip them on wrap.
 */
import createDebug from 'debug';
import type { Disc } from '../disc';
import { Lvid, lvid as lvidCodec, LVID_INTEGRITY_OPEN, LVID_INTEGRITY_CLOSE } from '../codec/volume';
import { TAG_LVID, finaliseTag } from '../codec/tag';
import { dateToTimestamp } from '../time';
import { PKTFS_IMP_IDENT } from './ident';

const debug = createDebug('pktfs:udf:lvid');

/** Linux's UDF_MAX_WRITE_VERSION: what pktfs writes. */
export const MAX_WRITE_REV = 0x0201;

export class LvidWriter {
  private openOnDisc = false;

  constructor(
    private readonly disc: Disc,
    readonly block: number,
    readonly lvid: Lvid,
    /** Found open at mount: never mark closed. */
    readonly foundOpen: boolean,
  ) {}

  get isOpenOnDisc(): boolean {
    return this.openOnDisc;
  }

  /** The next unique ID (4/14.15), advanced past the reserved 0-15 when the low 32 bits wrap. */
  nextUniqueId(): number {
    const id = this.lvid.uniqueID;
    let next = id + 1;
    if (next % 0x100000000 === 0) next += 16;
    this.lvid.uniqueID = next;
    return id;
  }

  private async write(integrityType: number): Promise<void> {
    const l = this.lvid;
    l.integrityType = integrityType;
    l.recordingDateAndTime = dateToTimestamp(new Date());
    if (l.impUse) l.impUse.impIdent = PKTFS_IMP_IDENT;
    const size = lvidCodec.size + 8 * l.numOfPartitions + l.lengthOfImpUse;
    const buf = Buffer.alloc(Math.ceil(size / this.disc.blockSize) * this.disc.blockSize);
    lvidCodec.encode(l, buf, 0);
    finaliseTag(buf, 0, { tagIdent: TAG_LVID, descVersion: l.descTag.descVersion, tagSerialNum: l.descTag.tagSerialNum, tagLocation: this.block, crcLength: size - 16 });
    await this.disc.writeBlocks(this.block, buf, 'metadata');
    await this.disc.dev.flush();
    debug('LVID at %d written %s', this.block, integrityType === LVID_INTEGRITY_OPEN ? 'open' : 'closed');
  }

  /** Mark the volume open on the disc (once per mount) before anything else is written. */
  async markOpen(): Promise<void> {
    if (this.openOnDisc) return;
    await this.write(LVID_INTEGRITY_OPEN);
    this.openOnDisc = true;
  }

  /**
   * Record counts and free space; close unless the volume was found open (or
   * `stayOpen`). Once closed, the next markOpen() marks it open again.
   */
  async close(counts: { numFiles: number; numDirs: number; free: Map<number, number> }, stayOpen = false): Promise<void> {
    const l = this.lvid;
    for (const [ref, n] of counts.free) if (ref < l.freeSpaceTable.length) l.freeSpaceTable[ref] = n;
    if (l.impUse) {
      l.impUse.numFiles = counts.numFiles;
      l.impUse.numDirs = counts.numDirs;
      if (l.impUse.maxUDFWriteRev < MAX_WRITE_REV) l.impUse.maxUDFWriteRev = MAX_WRITE_REV;
    }
    const open = this.foundOpen || stayOpen;
    await this.write(open ? LVID_INTEGRITY_OPEN : LVID_INTEGRITY_CLOSE);
    this.openOnDisc = open;
  }
}
