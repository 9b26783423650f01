/**
 * One fuzz case, in whatever thread runs it: pick an image and damage it by the
 * case's Rng, mount it with openVolume over the overlay, walk it. A case fails
 * when something other than an FsError escapes, when a call hangs, when the
 * walk breaks the Volume contract, or when the read path asks for a buffer or a
 * device read larger than any structure it could be reading.
 */
import { openVolume, isWritable } from '../../src/udf';
import { isFsError } from '../../src/errors';
import { Rng } from './rng';
import { Found, scanImage } from './scan';
import { BaseImage, Overlay, OverlayDevice } from './overlay';
import { Geometry, geometryOf, mutate } from './mutate';
import { DEFAULT_LIMITS, Failure, WalkLimits, exerciseWrites, walkVolume, withTimeout } from './walk';

export interface FuzzImage {
  name: string;
  path: string;
}

export interface LoadedImage extends FuzzImage {
  base: BaseImage;
  found: Found[];
  geometry: Geometry;
}

export function loadImage(img: FuzzImage): LoadedImage {
  const base = new BaseImage(img.path);
  const found = scanImage((off, len) => base.read(off, len), base.length);
  return { ...img, base, found, geometry: geometryOf(new Overlay(base), found) };
}

/** Bigger than any structure the read path has reason to read or allocate at once. */
export const MAX_ALLOC_BYTES = 32 << 20;

export interface CaseResult {
  index: number;
  image: string;
  mutation: string[];
  /** 'mounted' (then walked), or the errno openVolume answered. */
  mount: string;
  /** Mounted read-write (then written to after the walk). */
  rw: boolean;
  entries: number;
  errnos: Record<string, number>;
  /** One message per errno the walk met (walk.ts). */
  samples?: Record<string, string>;
  failures: string[];
  /** Time the case took (for the figures, never asserted). */
  ms: number;
}

/** The damaged image of case `index` (for replaying it, or for a tool that wants a file). */
export function caseImage(images: LoadedImage[], seed: number, index: number): { image: LoadedImage; overlay: Overlay; mutation: string[]; rw: boolean } {
  const rng = Rng.forCase(seed, index);
  // The many small fixtures of other writers are alike: the images built here, of every kind, come up more often.
  const weights = images.map((i) => (i.name.startsWith('udf-') ? 1 : 4));
  let r = rng.below(weights.reduce((a, b) => a + b, 0));
  let k = 0;
  while (r >= weights[k]) r -= weights[k++];
  const image = images[k];
  const overlay = new Overlay(image.base);
  const { log } = mutate(rng, overlay, image.found, image.geometry);
  // A quarter of the cases also go through the write engine.
  return { image, overlay, mutation: log, rw: rng.chance(0.25) };
}

/** Records allocations larger than MAX_ALLOC_BYTES made while `armed` (Buffer.alloc and friends). */
class AllocGuard {
  armed = false;
  hits: string[] = [];

  install(): void {
    const guard = this;
    for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
      const orig = Buffer[name] as (size: number, ...rest: unknown[]) => Buffer;
      (Buffer as unknown as Record<string, unknown>)[name] = function (this: unknown, size: number, ...rest: unknown[]): Buffer {
        if (guard.armed && size > MAX_ALLOC_BYTES) {
          guard.hits.push(`Buffer.${name}(${size})\n${new Error().stack?.split('\n').slice(2, 7).join('\n')}`);
          throw new RangeError(`fuzz guard: Buffer.${name}(${size})`);
        }
        return orig.call(Buffer, size, ...rest);
      };
    }
  }
}

const guard = new AllocGuard();
let installed = false;

export function runCase(images: LoadedImage[], seed: number, index: number, limits: WalkLimits = DEFAULT_LIMITS): Promise<CaseResult> {
  const { image, overlay, mutation, rw } = caseImage(images, seed, index);
  return runDamaged(image.name, overlay, mutation, index, limits, rw);
}

/** Mount and walk one damaged image (a fuzz case, or damage made by hand in a test). */
export async function runDamaged(name: string, overlay: Overlay, mutation: string[], index = -1, limits: WalkLimits = DEFAULT_LIMITS, rw = false): Promise<CaseResult> {
  if (!installed) {
    guard.install();
    installed = true;
  }
  const image = { name };
  const started = Date.now();
  const res: CaseResult = { index, image: image.name, mutation, mount: 'mounted', rw, entries: 0, errnos: {}, failures: [], ms: 0 };
  const hugeReads: number[] = [];
  const dev = new OverlayDevice(overlay, { maxReadBytes: MAX_ALLOC_BYTES, onHugeRead: (n) => hugeReads.push(n), writable: rw });
  guard.hits = [];
  guard.armed = true;
  try {
    let vol;
    try {
      vol = await withTimeout(openVolume(dev, { readWrite: rw }), limits.opTimeoutMs * 2, 'openVolume');
    } catch (e) {
      if (!isFsError(e)) throw e;
      res.mount = e.errno;
    }
    if (vol) {
      const w = await walkVolume(vol, limits);
      res.entries = w.entries;
      res.errnos = w.errnos;
      res.samples = w.samples;
      res.failures.push(...w.failures);
      if (isWritable(vol)) {
        const x = await exerciseWrites(vol, limits);
        for (const [k, v] of Object.entries(x.errnos)) res.errnos[k] = (res.errnos[k] ?? 0) + v;
        res.failures.push(...x.failures);
      }
      try {
        await withTimeout(vol.close(), limits.opTimeoutMs, 'close');
      } catch (e) {
        if (!isFsError(e)) throw e;
        res.errnos[e.errno] = (res.errnos[e.errno] ?? 0) + 1;
      }
    }
  } catch (e) {
    res.failures.push(e instanceof Failure ? e.message : `${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
  } finally {
    guard.armed = false;
  }
  for (const n of hugeReads) res.failures.push(`device read of ${n} bytes at once`);
  for (const h of guard.hits) res.failures.push(`allocation: ${h}`);
  res.ms = Date.now() - started;
  return res;
}
