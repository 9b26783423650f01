/**
 * Running many fuzz cases: in a worker thread, so that a case that loops
 * forever (even synchronously) or eats the heap is caught by the watchdog here
 * and the run goes on with the next case. Used by test/fuzz and by
 * `npm run fuzz` (bench/fuzz/cli.ts).
 */
import { existsSync } from 'fs';
import path from 'path';
import { Worker } from 'worker_threads';
import type { CaseResult, FuzzImage } from './case';
import type { WorkerInput, WorkerMessage } from './worker';
import { DEFAULT_LIMITS, WalkLimits } from './walk';

export interface RunOptions {
  images: FuzzImage[];
  seed: number;
  /** Cases [first, first+cases). */
  cases: number;
  first?: number;
  limits?: WalkLimits;
  /** Wall-clock budget of one case before the worker is killed and the case called a hang. */
  caseTimeoutMs?: number;
  /** Heap of the worker; a case that exceeds it fails as unbounded memory. */
  heapMb?: number;
  onResult?: (r: CaseResult) => void;
  /** Another worker script (for testing the runner itself). */
  worker?: string;
}

export interface RunSummary {
  cases: number;
  failed: CaseResult[];
  mounted: number;
  entries: number;
  errnos: Record<string, number>;
  mountErrnos: Record<string, number>;
  structures: Record<string, number>;
}

/** The compiled worker: next to this file when it runs from dist/, else dist/ of the checkout (under ts-jest). */
export function workerPath(): string {
  const here = path.join(__dirname, 'worker.js');
  if (existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../dist/bench/fuzz/worker.js');
  if (!existsSync(built)) throw new Error(`${built} missing: build with npx tsc -p tsconfig.json`);
  return built;
}

export async function runFuzz(o: RunOptions): Promise<RunSummary> {
  const limits = o.limits ?? DEFAULT_LIMITS;
  // Generous: a loaded machine must not pass for a hang; a real loop still ends here.
  const caseTimeoutMs = o.caseTimeoutMs ?? 120000;
  const first = o.first ?? 0;
  const end = first + o.cases;
  const sum: RunSummary = { cases: 0, failed: [], mounted: 0, entries: 0, errnos: {}, mountErrnos: {}, structures: {} };
  const add = (r: CaseResult) => {
    sum.cases++;
    if (r.failures.length) sum.failed.push(r);
    if (r.mount === 'mounted') sum.mounted++;
    else sum.mountErrnos[r.mount] = (sum.mountErrnos[r.mount] ?? 0) + 1;
    sum.entries += r.entries;
    for (const [k, v] of Object.entries(r.errnos)) sum.errnos[k] = (sum.errnos[k] ?? 0) + v;
    o.onResult?.(r);
  };
  let next = first;
  while (next < end) {
    next = await new Promise<number>((resolve) => {
      const input: WorkerInput = { images: o.images, seed: o.seed, first: next, end, limits };
      const w = new Worker(o.worker ?? workerPath(), { workerData: input, resourceLimits: { maxOldGenerationSizeMb: o.heapMb ?? 512 } });
      let current = -1;
      let lastDone = next - 1;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const lost = (why: string) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        const index = current < 0 ? lastDone + 1 : current;
        add({ index, image: '?', mutation: [], mount: 'lost', rw: false, entries: 0, errnos: {}, failures: [why], ms: 0 });
        void w.terminate();
        resolve(index + 1);
      };
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') Object.assign(sum.structures, m.structures);
        else if (m.type === 'start') {
          current = m.index;
          if (timer) clearTimeout(timer);
          timer = setTimeout(() => lost(`hang: case ${m.index} still running after ${caseTimeoutMs} ms (worker killed)`), caseTimeoutMs);
        } else if (m.type === 'result') {
          if (timer) clearTimeout(timer);
          add(m.result);
          lastDone = m.result.index;
          current = -1;
        } else if (m.type === 'done') {
          settled = true;
          void w.terminate();
          resolve(end);
        }
      });
      w.on('error', (e) => lost(`worker died: ${e.name}: ${e.message}${'code' in e ? ` (${String((e as { code: unknown }).code)})` : ''}\n${e.stack}`));
      w.on('exit', (code) => {
        if (!settled) lost(`worker exited with code ${code}`);
      });
    });
  }
  return sum;
}
