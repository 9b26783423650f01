/**
 * Worker thread of the fuzz runner: loads the images once, then runs the cases
 * it is told, posting a message before each case (so a hang is pinned on it)
 * and its result after.
 */
import { parentPort, workerData } from 'worker_threads';
import { FuzzImage, loadImage, runCase } from './case';
import type { WalkLimits } from './walk';

export interface WorkerInput {
  images: FuzzImage[];
  seed: number;
  first: number;
  end: number;
  limits: WalkLimits;
}

export type WorkerMessage =
  | { type: 'ready'; structures: Record<string, number> }
  | { type: 'start'; index: number }
  | { type: 'result'; result: import('./case').CaseResult }
  | { type: 'done' };

async function main(): Promise<void> {
  const input = workerData as WorkerInput;
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  const images = input.images.map(loadImage);
  const structures: Record<string, number> = {};
  for (const img of images) for (const f of img.found) structures[f.kind] = (structures[f.kind] ?? 0) + 1;
  post({ type: 'ready', structures });
  for (let i = input.first; i < input.end; i++) {
    post({ type: 'start', index: i });
    post({ type: 'result', result: await runCase(images, input.seed, i, input.limits) });
  }
  post({ type: 'done' });
}

void main();
