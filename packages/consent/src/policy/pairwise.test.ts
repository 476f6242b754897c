import { describe, expect, test } from '@jest/globals';
import { pairwise, uncoveredPairs, type Dimension } from './pairwise.js';

describe('pairwise', () => {
  const cases: [string, Dimension[], number][] = [
    ['three binary dimensions', [{ name: 'a', values: ['0', '1'] }, { name: 'b', values: ['0', '1'] }, { name: 'c', values: ['0', '1'] }], 6],
    ['two dimensions need the full product', [{ name: 'a', values: ['x', 'y', 'z'] }, { name: 'b', values: ['1', '2'] }], 6],
    ['mixed sizes', [{ name: 'a', values: ['1', '2', '3', '4'] }, { name: 'b', values: ['1', '2', '3'] }, { name: 'c', values: ['1', '2'] }, { name: 'd', values: ['1', '2', '3'] }], 16],
    ['one dimension lists its values', [{ name: 'a', values: ['1', '2', '3'] }], 3],
  ];
  test.each(cases)('%s: covers every pair in at most the expected rows', (_n, dims, maxRows) => {
    const rows = pairwise(dims);
    expect(uncoveredPairs(dims, rows)).toEqual([]);
    expect(rows.length).toBeLessThanOrEqual(maxRows);
    const [first, second] = dims.map((d) => d.values.length).sort((x, y) => y - x);
    expect(rows.length).toBeGreaterThanOrEqual(first! * (second ?? 1)); // no covering array can be smaller
  });

  test('far fewer rows than the full product for the decision matrix shape', () => {
    const sizes = [7, 6, 5, 5, 5, 3, 2, 2];
    const dims = sizes.map((n, i) => ({ name: `d${i}`, values: Array.from({ length: n }, (_, v) => String(v)) }));
    const rows = pairwise(dims);
    expect(uncoveredPairs(dims, rows)).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(42); // at least 7 × 6
    expect(rows.length).toBeLessThan(60);
  });

  test('deterministic', () => {
    const dims = [{ name: 'a', values: ['1', '2', '3'] }, { name: 'b', values: ['x', 'y'] }, { name: 'c', values: ['p', 'q', 'r'] }];
    expect(pairwise(dims)).toEqual(pairwise(dims));
  });

  test('uncoveredPairs names what is missing', () => {
    const dims = [{ name: 'a', values: ['1', '2'] }, { name: 'b', values: ['x', 'y'] }];
    expect(uncoveredPairs(dims, [{ a: '1', b: 'x' }, { a: '2', b: 'y' }])).toEqual(['a=1 & b=y', 'a=2 & b=x']);
  });

  test.each([
    [[{ name: 'a', values: [] }]],
    [[{ name: 'a', values: ['1', '1'] }]],
    [[{ name: 'a', values: ['1'] }, { name: 'a', values: ['2'] }]],
  ])('rejects malformed dimensions %j', (dims) => {
    expect(() => pairwise(dims)).toThrow();
  });
});
