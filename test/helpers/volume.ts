/**
 * Mount an image file through the pktfs UDF layer the way bin/ does: ImageDevice
 * opened read-only, then openVolume. Kept apart from the other helpers so that
 * those can be tested before the reader exists.
 */
import { ImageDevice } from '../../src/drive/image';
import { openVolume } from '../../src/udf/volume';
import type { UdfMountOptions, Volume } from '../../src/udf/types';

/** The volume, whose close() also closes the image (openVolume leaves the device to its caller). */
export async function openImage(img: string, opts: UdfMountOptions = {}): Promise<Volume> {
  const dev = await ImageDevice.open(img, { readOnly: true });
  let vol: Volume;
  try {
    vol = await openVolume(dev, opts);
  } catch (e) {
    await dev.close();
    throw e;
  }
  const close = async (): Promise<void> => {
    try {
      await vol.close();
    } finally {
      await dev.close(); // a second close of a FileHandle is harmless
    }
  };
  return {
    info: vol.info,
    rootIno: vol.rootIno,
    lookup: (dir, name) => vol.lookup(dir, name),
    getattr: (ino) => vol.getattr(ino),
    readdir: (ino) => vol.readdir(ino),
    read: (ino, off, len) => vol.read(ino, off, len),
    readlink: (ino) => vol.readlink(ino),
    close,
  };
}

/** Open, run `fn`, close, whatever happens. */
export async function withImage<T>(img: string, opts: UdfMountOptions, fn: (v: Volume) => Promise<T>): Promise<T> {
  const vol = await openImage(img, opts);
  try {
    return await fn(vol);
  } finally {
    await vol.close();
  }
}
