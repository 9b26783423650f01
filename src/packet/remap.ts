/**
 * Defect management hooks of the packet layer. The packet layer knows which
 * write-out failed and how; where a bad packet may go instead is for the layer
 * above to say (on UDF, a sparable partition's sparing table, UDF 2.2.12).
 * This file classifies drive errors and defines the interface that layer
 * implements; PacketDevice calls it. Nothing here knows of UDF.
 */
import { isFsError, type FsError } from '../errors';
import { isScsiError, SenseKey } from '../drive/scsi/sense';

/**
 * Where a failed packet goes instead. Both calls are synchronous, so that no
 * read or write of the packet can slip in between the choice, the move of the
 * cached copy and the switch of the map above.
 */
export interface WriteRemapper {
  /**
   * The write-out of the packet at device sector `lba` (`sectors` long) failed
   * with a medium error. Return the first sector of a replacement packet of the
   * same size, or undefined to let the error stand. Must not redirect anything yet.
   */
  spareFor(lba: number, sectors: number, err: FsError): number | undefined;
  /**
   * The packet's cached copy now lives at `to` and is being written there.
   * From now on every read and write of the packet must be addressed to `to`.
   */
  remapped(from: number, to: number, err: FsError): void;
  /**
   * Optional: the packet at `lba` failed with a medium error and got no spare.
   * `dirty` lists the sectors (device sectors) whose new contents would be
   * lost. Return true when the layer above can do without them (a copy of
   * something it also keeps elsewhere): the packet layer then forgets its
   * cached copy, so reads see the disc again, and reports no error.
   */
  abandon?(lba: number, sectors: number, dirty: readonly number[], err: FsError): boolean;
}

/** A device that accepts a WriteRemapper (PacketDevice). */
export interface Remappable {
  setRemapper(remapper: WriteRemapper | null): void;
}

export function isRemappable(dev: unknown): dev is Remappable {
  return typeof (dev as Partial<Remappable> | null)?.setRemapper === 'function';
}

/** How a failed write-out is treated. */
export type WriteFailureKind =
  /** MEDIUM ERROR, WRITE ERROR (03/0C/xx): the packet's place on the disc is bad; it may be remapped. */
  | 'medium'
  /** MEDIUM ERROR, NO DEFECT SPARE LOCATION AVAILABLE (03/32/xx): the drive's own defect management ran out. */
  | 'drive-spares-exhausted'
  /** A WRITE ERROR the drive gives for another (earlier, cached) write: deferred, or naming a sector outside this one. Not remapped. */
  | 'medium-earlier'
  /** Anything else: reported as it is, never remapped. */
  | 'other';

/**
 * The kind of a write error from the device below (sense data travels as a
 * ScsiError). Given the write's sectors, a medium error is this write's only
 * when it is not deferred and its INFORMATION (the failing sector, when the
 * drive gives one) lies inside them: a drive with a write cache may report a
 * failure of an earlier write on a later command, and remapping the packet
 * at hand would then move the wrong one.
 */
export function writeFailureKind(e: unknown, lba?: number, sectors?: number): WriteFailureKind {
  if (!isScsiError(e)) return 'other';
  if (e.is(SenseKey.MEDIUM_ERROR, 0x0c)) {
    if (e.deferred) return 'medium-earlier';
    if (lba !== undefined && sectors !== undefined && e.information !== undefined
      && (e.information < lba || e.information >= lba + sectors)) return 'medium-earlier';
    return 'medium';
  }
  if (e.is(SenseKey.MEDIUM_ERROR, 0x32)) return 'drive-spares-exhausted';
  return 'other';
}

/** True for an error of the kind `writeFailureKind` calls 'medium' (a remappable write failure). */
export function isMediumWriteError(e: unknown): boolean {
  return isFsError(e) && writeFailureKind(e) === 'medium';
}
