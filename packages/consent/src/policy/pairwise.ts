/**
 * A small deterministic all-pairs (pairwise) generator: every pair of values of every two
 * dimensions appears in at least one row. Greedy: each row starts from the first uncovered pair
 * in canonical order, then each other dimension takes the value that covers the most uncovered
 * pairs with the values already chosen (ties: the earliest value). No randomness, so the same
 * dimensions always give the same rows and a regenerated fixture diffs cleanly.
 */

export interface Dimension {
  readonly name: string;
  readonly values: readonly string[];
}

export type PairwiseRow = Record<string, string>;

function key(i: number, a: number, j: number, b: number): string {
  return i < j ? `${i}:${a}|${j}:${b}` : `${j}:${b}|${i}:${a}`;
}

function allPairKeys(dims: readonly Dimension[]): string[] {
  const keys: string[] = [];
  for (let i = 0; i < dims.length; i++)
    for (let j = i + 1; j < dims.length; j++)
      for (let a = 0; a < dims[i]!.values.length; a++) for (let b = 0; b < dims[j]!.values.length; b++) keys.push(key(i, a, j, b));
  return keys;
}

function checkDimensions(dims: readonly Dimension[]): void {
  const names = new Set<string>();
  for (const d of dims) {
    if (names.has(d.name)) throw new Error(`duplicate dimension "${d.name}"`);
    names.add(d.name);
    if (d.values.length === 0) throw new Error(`dimension "${d.name}" has no values`);
    if (new Set(d.values).size !== d.values.length) throw new Error(`dimension "${d.name}" repeats a value`);
  }
}

export function pairwise(dims: readonly Dimension[]): PairwiseRow[] {
  checkDimensions(dims);
  const order = allPairKeys(dims);
  const uncovered = new Set(order);
  const rows: PairwiseRow[] = [];
  if (dims.length === 1) return dims[0]!.values.map((v) => ({ [dims[0]!.name]: v }));
  while (uncovered.size > 0) {
    const seed = order.find((k) => uncovered.has(k))!;
    const [[i, a], [j, b]] = seed.split('|').map((p) => p.split(':').map(Number)) as [[number, number], [number, number]];
    const chosen: (number | undefined)[] = dims.map(() => undefined);
    chosen[i] = a;
    chosen[j] = b;
    for (let k = 0; k < dims.length; k++) {
      if (chosen[k] !== undefined) continue;
      let best = 0;
      let bestGain = -1;
      for (let v = 0; v < dims[k]!.values.length; v++) {
        let gain = 0;
        for (let s = 0; s < dims.length; s++) {
          const sv = chosen[s];
          if (s !== k && sv !== undefined && uncovered.has(key(k, v, s, sv))) gain++;
        }
        if (gain > bestGain) [best, bestGain] = [v, gain];
      }
      chosen[k] = best;
    }
    for (let x = 0; x < dims.length; x++) for (let y = x + 1; y < dims.length; y++) uncovered.delete(key(x, chosen[x]!, y, chosen[y]!));
    rows.push(Object.fromEntries(dims.map((d, n) => [d.name, d.values[chosen[n]!]!])));
  }
  return rows;
}

/** Pairs of values no row covers, as `dim=value & dim=value` (empty when the rows are complete). */
export function uncoveredPairs(dims: readonly Dimension[], rows: readonly PairwiseRow[]): string[] {
  const missing: string[] = [];
  for (let i = 0; i < dims.length; i++)
    for (let j = i + 1; j < dims.length; j++) {
      const di = dims[i]!;
      const dj = dims[j]!;
      const seen = new Set(rows.map((r) => `${r[di.name]}\u0000${r[dj.name]}`));
      for (const a of di.values) for (const b of dj.values) if (!seen.has(`${a}\u0000${b}`)) missing.push(`${di.name}=${a} & ${dj.name}=${b}`);
    }
  return missing;
}
