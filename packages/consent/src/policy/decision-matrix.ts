/**
 * The decision matrix of issue 5 as data: its dimensions and how each named value becomes
 * concrete inputs. The reviewed rows live in decision-matrix.fixture.json; decide.ts must agree
 * with every row, and the FHIR API's SQL tests can replay the same rows through
 * `decisionMatrixCase` (store resources with these facts, query as this reader, compare).
 */
import type { AccessPlanInput, HoldKind } from './access-plan.js';
import type { Relationship } from './age-rules.js';
import type { ResourceFacts } from './decide.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM, type Coding } from './labels.js';
import { OBSERVATION_CATEGORY_SYSTEM } from './release-policy.js';
import type { Dimension } from './pairwise.js';

export const DECISION_MATRIX_DIMENSIONS: readonly Dimension[] = [
  { name: 'status', values: ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error'] },
  { name: 'label', values: ['none', 'N', 'R', 'V', 'R+HIV', 'PSY'] },
  { name: 'relationship', values: ['self', 'parent', 'guardian', 'caregiver', 'none'] },
  { name: 'age', values: ['under-12', '12-17', '18-plus', '12th-birthday', '18th-birthday'] },
  { name: 'hold', values: ['none', 'harm', 'data-quality', 'patient-delay', 'legal'] },
  { name: 'resource', values: ['Observation/laboratory', 'DiagnosticReport', 'Observation/vital-signs'] },
  { name: 'releasePreliminary', values: ['false', 'true'] },
  { name: 'referencesHidden', values: ['no', 'yes'] },
];

/** The instant every matrix row is decided at; birthdays below are relative to it. */
export const DECISION_MATRIX_AT = '2026-06-15T15:00:00.000Z';

export const DECISION_MATRIX_BIRTH_DATES: Readonly<Record<string, string>> = {
  'under-12': '2018-01-10', // 8
  '12-17': '2011-03-02', // 15
  '18-plus': '1990-07-04', // 35
  '12th-birthday': '2014-06-15', // 12 today
  '18th-birthday': '2008-06-15', // 18 today
};

const conf = (code: string): Coding => ({ system: CONFIDENTIALITY_SYSTEM, code });
const act = (code: string): Coding => ({ system: ACT_CODE_SYSTEM, code });

export const DECISION_MATRIX_LABELS: Readonly<Record<string, readonly Coding[]>> = {
  none: [],
  N: [conf('N')],
  R: [conf('R')],
  V: [conf('V')],
  'R+HIV': [act('HIV'), conf('R')],
  PSY: [act('PSY')], // a sensitivity code alone, without R
};

export const DECISION_MATRIX_RESOURCES: Readonly<Record<string, { resourceType: string; categories: readonly Coding[] }>> = {
  'Observation/laboratory': { resourceType: 'Observation', categories: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: 'laboratory' }] },
  DiagnosticReport: { resourceType: 'DiagnosticReport', categories: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] },
  'Observation/vital-signs': { resourceType: 'Observation', categories: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: 'vital-signs' }] },
};

export type DecisionMatrixInputs = Record<string, string>;

export interface DecisionMatrixRow {
  readonly case: number;
  readonly inputs: DecisionMatrixInputs;
  readonly expected: { readonly visible: boolean; readonly reason?: string };
}

function pick<T>(table: Readonly<Record<string, T>>, name: string, dim: string): T {
  const v = table[name];
  if (v === undefined) throw new Error(`decision matrix: unknown ${dim} "${name}"`);
  return v;
}

/** Concrete accessPlan input and resource facts for one row of the matrix. */
export function decisionMatrixCase(inputs: DecisionMatrixInputs): { plan: AccessPlanInput; facts: ResourceFacts } {
  const at = new Date(DECISION_MATRIX_AT);
  const rel = inputs['relationship'];
  let relationship: Relationship;
  if (rel === 'self') relationship = { kind: 'self' };
  else if (rel === 'none') relationship = { kind: 'none' };
  else if (rel === 'parent' || rel === 'guardian' || rel === 'caregiver')
    relationship = {
      kind: 'proxy',
      proxyAccountId: `acct-${rel}`,
      // Granted in 2020: before the majority of the patient who turns 18 today (that delegation
      // ends, whatever its basis), after that of the adult (a guardian or caregiver the adult chose).
      delegation: { basis: rel, status: 'active', accessLevel: 'full', startsAt: new Date('2020-01-01T00:00:00Z'), endsAt: null },
    };
  else throw new Error(`decision matrix: unknown relationship "${String(rel)}"`);
  const resource = pick(DECISION_MATRIX_RESOURCES, inputs['resource'] ?? '', 'resource');
  const hold = inputs['hold'];
  const releasePreliminary = inputs['releasePreliminary'];
  if (releasePreliminary !== 'true' && releasePreliminary !== 'false') throw new Error(`decision matrix: releasePreliminary "${String(releasePreliminary)}"`);
  return {
    plan: {
      relationship,
      patientBirthDate: pick(DECISION_MATRIX_BIRTH_DATES, inputs['age'] ?? '', 'age'),
      at,
      releasePolicy: { releasePreliminary: releasePreliminary === 'true' },
      // The matrix's labels and hidden targets are PRX-3's; IB-2 (consent-required labels) has its own table.
      consentRequiredLabels: [],
    },
    facts: {
      resourceType: resource.resourceType,
      status: inputs['status'],
      categories: resource.categories,
      securityLabels: pick(DECISION_MATRIX_LABELS, inputs['label'] ?? '', 'label'),
      activeHolds: hold === 'none' || hold === undefined ? [] : [{ kind: hold as HoldKind, ...(hold === 'harm' ? { harmType: 'life_or_physical_safety' as const } : {}) }],
      referencesHidden: inputs['referencesHidden'] === 'yes',
    },
  };
}
