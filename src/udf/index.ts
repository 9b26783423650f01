/**
 * Entry point of the UDF layer: find and mount a UDF volume on a block device.
 */
export type { Volume, VolumeInfo, Attr, DirEntry, UdfMountOptions, PartitionInfo, PartitionKind, IntegrityState } from './types';
export { openVolume } from './volume';
