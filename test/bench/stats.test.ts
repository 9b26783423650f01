/** The benchmark's arithmetic: medians, spread, ratios oriented so that > 1 favours pktfs, goals. */
import { compare, formatTable, goalMet, makeRow, median, spread } from '../../bench/stats';

test('median and spread', () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNaN();
  expect(spread([90, 100, 110])).toBeCloseTo(0.2);
  expect(spread([5])).toBe(0);
});

test('ratios: rates divide by the reference, times are divided into it; goals judge the ratio', () => {
  const rows = compare([
    makeRow({ scenario: 's', case: 'write', target: 'ref', unit: 'MB/s', samples: [100, 90, 110], higherIsBetter: true }),
    makeRow({ scenario: 's', case: 'write', target: 'pktfs', unit: 'MB/s', samples: [50, 60, 40], higherIsBetter: true,
      reference: 'ref', goal: { kind: 'atLeast', target: 1, text: '>= 1' } }),
    makeRow({ scenario: 's', case: 'copy', target: 'ref', unit: 's', samples: [2], higherIsBetter: false }),
    makeRow({ scenario: 's', case: 'copy', target: 'pktfs', unit: 's', samples: [1], higherIsBetter: false,
      reference: 'ref', goal: { kind: 'atLeast', target: 1, text: '>= 1' } }),
    makeRow({ scenario: 's', case: 'wa', target: 'pktfs', unit: 'x', samples: [1.01], higherIsBetter: false,
      goal: { kind: 'below', target: 1.02, text: '< 1.02' } }),
  ]);
  expect(rows[1].ratio).toBeCloseTo(0.5);
  expect(rows[1].met).toBe(false);
  expect(rows[3].ratio).toBeCloseTo(2);
  expect(rows[3].met).toBe(true);
  expect(rows[4].met).toBe(true);
  expect(goalMet({ kind: 'below', target: 1.02, text: '' }, NaN)).toBe(false);
  const table = formatTable(rows).split('\n');
  expect(table).toHaveLength(7);
  expect(table[3]).toMatch(/pktfs .*0\.500 vs ref .*NO$/);
});
