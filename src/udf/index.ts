/**
 * Entry point of the UDF layer: find and mount a UDF volume on a block device.
 */
export type { Volume, VolumeInfo, Attr, DirEntry, UdfMountOptions, PartitionInfo, PartitionKind, IntegrityState, WritableVolume, SetAttr, SparingInfo } from './types';
export { isWritable } from './types';
export { openVolume } from './volume';
