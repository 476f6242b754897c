/**
 * The reviewed decision matrix (issue 5): relationship × age band × security label × result
 * status × hold × resource × releasePreliminary × reference-to-hidden, pairwise. The fixture is
 * data under review; to regenerate it deliberately:
 *   WRITE_DECISION_MATRIX=1 node --experimental-vm-modules node_modules/jest/bin/jest.js packages/consent/src/policy/decision-matrix
 * Regeneration writes the expectations of `oracle` below, an independent plain restatement of
 * the rules over the named values, so decide.ts is checked against a second reading of them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { accessPlan } from './access-plan.js';
import { decideResource } from './decide.js';
import {
  DECISION_MATRIX_AT,
  DECISION_MATRIX_BIRTH_DATES,
  DECISION_MATRIX_DIMENSIONS,
  DECISION_MATRIX_LABELS,
  DECISION_MATRIX_RESOURCES,
  decisionMatrixCase,
  type DecisionMatrixInputs,
  type DecisionMatrixRow,
} from './decision-matrix.js';
import { pairwise, uncoveredPairs } from './pairwise.js';

const FIXTURE = new URL('./decision-matrix.fixture.json', import.meta.url);

interface Fixture {
  description: string;
  at: string;
  birthDates: Record<string, string>;
  securityLabels: typeof DECISION_MATRIX_LABELS;
  resources: typeof DECISION_MATRIX_RESOURCES;
  dimensions: typeof DECISION_MATRIX_DIMENSIONS;
  rows: DecisionMatrixRow[];
}

/** The rules restated by hand over the named values (PRX-1…4, REL-4, REL-7, REL-2…6). */
function oracle(c: DecisionMatrixInputs): { visible: boolean; reason?: string } {
  const no = (reason: string) => ({ visible: false, reason });
  if (c['relationship'] === 'none') return no('proxy-none');
  const adult = c['age'] === '18-plus' || c['age'] === '18th-birthday';
  const teen = c['age'] === '12-17' || c['age'] === '12th-birthday';
  // Parents lose access at majority; any proxy granted before it (every delegation here dates from 2020) too.
  if (c['relationship'] !== 'self' && adult && (c['relationship'] === 'parent' || c['age'] === '18th-birthday')) return no('proxy-age-majority');
  const limited = c['relationship'] !== 'self' && teen;
  if (c['status'] === 'entered-in-error') return no('entered-in-error');
  if (limited && ['R', 'V', 'R+HIV', 'PSY'].includes(c['label']!)) return no('proxy-age-limited');
  if (limited && c['referencesHidden'] === 'yes') return no('references-hidden');
  const isResult = c['resource'] !== 'Observation/vital-signs';
  const released = ['final', 'amended', 'corrected', ...(c['releasePreliminary'] === 'true' ? ['preliminary'] : [])];
  if (isResult && !released.includes(c['status']!)) return no('release-status');
  const holdReason: Record<string, string> = { harm: 'harm-hold', 'data-quality': 'data-quality-hold', 'patient-delay': 'patient-delay', legal: 'legal-hold' };
  if (c['hold'] !== 'none') return no(holdReason[c['hold']!]!);
  return { visible: true };
}

function buildFixture(): Fixture {
  const rows = pairwise(DECISION_MATRIX_DIMENSIONS).map((inputs, n) => ({ case: n + 1, inputs, expected: oracle(inputs) }));
  return {
    description:
      'Reviewed decision matrix for decideResource (issue 5). Each row: named inputs (see the mapping sections) and the expected decision. ' +
      'Generated pairwise by packages/consent/src/policy/pairwise.ts; regenerate only deliberately (see decision-matrix.test.ts) and review the diff.',
    at: DECISION_MATRIX_AT,
    birthDates: { ...DECISION_MATRIX_BIRTH_DATES },
    securityLabels: DECISION_MATRIX_LABELS,
    resources: DECISION_MATRIX_RESOURCES,
    dimensions: DECISION_MATRIX_DIMENSIONS,
    rows,
  };
}

/** One row per line, so a regenerated matrix reviews as a line diff. */
function serialize(f: Fixture): string {
  const { rows, ...head } = f;
  const body = rows.map((r) => `    ${JSON.stringify(r)}`).join(',\n');
  return JSON.stringify(head, null, 2).replace(/\n}$/, `,\n  "rows": [\n${body}\n  ]\n}\n`);
}

if (process.env['WRITE_DECISION_MATRIX'] === '1') writeFileSync(FIXTURE, serialize(buildFixture()));

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;

describe('decision matrix fixture', () => {
  test.each(fixture.rows.map((r) => [r.case, JSON.stringify(r.inputs), r] as const))('case %i %s', (_n, _label, row) => {
    const { plan, facts } = decisionMatrixCase(row.inputs);
    const decision = decideResource(accessPlan(plan), facts);
    expect(decision.visible ? { visible: true } : { visible: false, reason: decision.reason }).toEqual(row.expected);
  });

  test('covers every pair of values of every two dimensions (regenerate deliberately when a dimension changes)', () => {
    expect(fixture.dimensions).toEqual(DECISION_MATRIX_DIMENSIONS);
    for (const row of fixture.rows)
      for (const d of DECISION_MATRIX_DIMENSIONS) expect(d.values).toContain(row.inputs[d.name]);
    expect(uncoveredPairs(DECISION_MATRIX_DIMENSIONS, fixture.rows.map((r) => r.inputs))).toEqual([]);
  });

  test('the concrete values the names stand for are unchanged', () => {
    expect(fixture.at).toBe(DECISION_MATRIX_AT);
    expect(fixture.birthDates).toEqual(DECISION_MATRIX_BIRTH_DATES);
    expect(fixture.securityLabels).toEqual(DECISION_MATRIX_LABELS);
    expect(fixture.resources).toEqual(DECISION_MATRIX_RESOURCES);
  });

  test('the hand-written oracle agrees with the reviewed expectations', () => {
    for (const row of fixture.rows) expect([row.case, oracle(row.inputs)]).toEqual([row.case, row.expected]);
  });

  test('every reason the matrix can produce appears in it', () => {
    const reasons = new Set(fixture.rows.map((r) => r.expected.reason ?? 'visible'));
    expect([...reasons].sort()).toEqual(
      ['visible', 'proxy-none', 'proxy-age-majority', 'proxy-age-limited', 'references-hidden', 'entered-in-error', 'release-status', 'harm-hold', 'data-quality-hold', 'patient-delay', 'legal-hold'].sort(),
    );
  });
});
