/**
 * Formatting: a fresh UDF volume on a BlockDevice, laid out as mkudffs lays out
 * the same media type. Knows nothing of MMC (blanking and formatting the
 * medium itself is src/drive/mmc/prepare.ts).
 */
export { formatVolume, type FormatOptions, type FormatResult } from './volume';
export {
  planLayout, isFormatMediaType, parseUdfRevision, FORMAT_MEDIA_TYPES, WRITE_ONCE_MEDIA_TYPES, FORMAT_REVISIONS,
  type FormatMediaType, type VolumeLayout, type Extent,
} from './layout';
