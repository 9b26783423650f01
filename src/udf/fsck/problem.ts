/**
 * A problem as the checker finds it: the report fields plus, when fsck can
 * repair it, the repair itself. Repairs run in stages within a pass (raw
 * descriptor copies first, then tree changes that allocate, then file entry
 * fields, then the space map, then the LVID); a repair with a `key` runs once
 * however many problems share it (one bitmap rebuild for every wrong bit).
 */
import type { ProblemCode } from './types';
import type { RepairCtx } from './repair-ctx';

export const STAGE_DESCRIPTORS = 10;
export const STAGE_TREE = 20;
export const STAGE_ENTRIES = 30;
export const STAGE_SPACE = 40;
export const STAGE_LVID = 50;

export interface Repair {
  stage: number;
  /** What it does, for the question and the log ("rebuild the space bitmap"). */
  describe: string;
  /** Safe without asking (-p). */
  safe: boolean;
  /** Repairs sharing a key run once. */
  key?: string;
  run(r: RepairCtx): Promise<void>;
}

export interface Problem {
  code: ProblemCode;
  message: string;
  repair?: Repair;
}

export function problem(code: ProblemCode, message: string, repair?: Repair): Problem {
  return { code, message, repair };
}
