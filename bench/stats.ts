/**
 * Pure helpers of the benchmark: medians, spread, ratios against a reference and the goal check.
 * No I/O here, so test/bench/stats.test.ts can check them without mounting anything.
 */

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Spread of a sample as (max - min) / median, e.g. 0.08 for 8 %; 0 for one sample. */
export function spread(xs: number[]): number {
  if (xs.length < 2) return 0;
  const med = median(xs);
  return med === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / Math.abs(med);
}

/** A goal on a ratio or a value: `atLeast` (ratio ≥ target) or `below` (value < target). */
export interface Goal {
  kind: 'atLeast' | 'below';
  target: number;
  /** What the goal is, in words, for the table: "pktfs/fuse2fs >= 1.0". */
  text: string;
}

export function goalMet(goal: Goal, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  return goal.kind === 'atLeast' ? value >= goal.target : value < goal.target;
}

/**
 * One line of the results: a measured quantity for one target, its samples, and (when it is
 * compared) the ratio of its median to the reference line's median, oriented so that higher is
 * better for pktfs (for times and other lower-is-better units the ratio is ref/this).
 */
export interface Row {
  scenario: string;
  case: string;
  target: string;
  unit: string;
  samples: number[];
  median: number;
  spread: number;
  /** Higher numbers are better (MB/s, ops/s) or lower ones (seconds, MB, amplification). */
  higherIsBetter: boolean;
  reference?: string;
  ratio?: number;
  goal?: Goal;
  /** The goal's verdict on `ratio` (or on `median` when there is no reference). */
  met?: boolean;
  note?: string;
}

export function makeRow(r: Omit<Row, 'median' | 'spread'>): Row {
  return { ...r, median: median(r.samples), spread: spread(r.samples) };
}

/** Ratio of `row` to `ref`, higher is better for the row: this/ref for rates, ref/this for costs. */
export function ratioTo(row: Row, ref: Row): number {
  if (row.higherIsBetter) return row.median / ref.median;
  return ref.median / row.median;
}

/** Fills in ratio and verdict of every row that names a reference in the same scenario and case. */
export function compare(rows: Row[]): Row[] {
  for (const row of rows) {
    if (row.reference) {
      const ref = rows.find((r) => r.scenario === row.scenario && r.case === row.case && r.target === row.reference);
      if (ref) row.ratio = ratioTo(row, ref);
    }
    if (row.goal) row.met = goalMet(row.goal, row.reference ? row.ratio ?? NaN : row.median);
  }
  return rows;
}

function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** The table printed at the end of a run. */
export function formatTable(rows: Row[]): string {
  const head = ['scenario', 'case', 'target', 'median', 'unit', 'spread', 'n', 'ratio', 'goal', 'met'];
  const body = rows.map((r) => [
    r.scenario, r.case, r.target, fmt(r.median), r.unit, `${(r.spread * 100).toFixed(0)}%`, String(r.samples.length),
    r.ratio === undefined ? '' : `${fmt(r.ratio)} vs ${r.reference}`,
    r.goal?.text ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 3 || i === 5 || i === 6 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
