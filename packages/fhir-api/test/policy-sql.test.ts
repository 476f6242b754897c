/**
 * The consent package's reviewed decision matrix, replayed through the SQL the FHIR API runs:
 * for every row, the resource is written to a real database (with its holds and, where the row
 * says so, a reference to a labelled resource) and read back through the access filters. The
 * SQL must agree with `decideResource` on every row: the policy is specified once and enforced
 * in the query.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import {
  accessPlan,
  consentMigrations,
  createTestDatabase,
  decideResource,
  decisionMatrixCase,
  insertHoldItems,
  parseScopes,
  DECISION_MATRIX_AT,
  type DecisionMatrixRow,
  type TestDatabase,
} from '@patient-access/consent';
import { accessScope } from '../src/access/access-filters.js';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { ResourceStore } from '../src/store/resource-store.js';
import { writeResources } from '../src/store/resource-writer.js';

const fixture = JSON.parse(readFileSync(new URL('../../consent/src/policy/decision-matrix.fixture.json', import.meta.url), 'utf8')) as { rows: DecisionMatrixRow[] };
const at = new Date(DECISION_MATRIX_AT);
const HIDDEN_TARGET_LABEL = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }];

let tdb: TestDatabase;

/**
 * Every status (including none) with every kind of category, for both result types: the release
 * filters are an OR of alternatives with REL-4 folded into them (access-filters.ts), so the
 * matrix's pairwise rows alone would not catch a branch that lets entered-in-error through.
 */
const CATEGORY_SYSTEM = { Observation: 'http://terminology.hl7.org/CodeSystem/observation-category', DiagnosticReport: 'http://terminology.hl7.org/CodeSystem/v2-0074' };
const STATUS_CATEGORY_CASES = (['Observation', 'DiagnosticReport'] as const).flatMap((type) =>
  [undefined, 'registered', 'preliminary', 'partial', 'final', 'amended', 'corrected', 'appended', 'cancelled', 'entered-in-error', 'unknown'].flatMap((status) =>
    [[], type === 'Observation' ? ['laboratory'] : ['LAB'], type === 'Observation' ? ['vital-signs'] : ['RAD'], type === 'Observation' ? ['vital-signs', 'laboratory'] : ['RAD', 'LAB']].map((codes, i) => {
      // Each set of codes with its system, and recorded without one (a producer's omission must not release it).
      return [true, false].map((withSystem) => {
        const categories: { system?: string; code: string }[] = codes.map((code) => (withSystem ? { system: CATEGORY_SYSTEM[type], code } : { code }));
        const id = `sc-${type === 'Observation' ? 'o' : 'd'}-${status ?? 'none'}-${i}${withSystem ? '' : '-nosys'}`;
        const resource = {
          resourceType: type,
          id,
          ...(status ? { status } : {}),
          category: categories.map((c) => ({ coding: [c] })),
          code: { text: 'tested thing' },
          subject: { reference: 'Patient/sc' },
        } as Resource;
        return { type, id, status, categories, resource };
      });
    }),
  ).flat(),
);

/**
 * A limited proxy (the parent of a 15-year-old) against security labels in every form a producer
 * records them: the current system, the pre-R4 `hl7.org/fhir/v3/…` one, none at all, or another
 * system's code of the same spelling; on the resource itself and on a resource it references.
 */
const LABEL_SYSTEMS = [
  'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  'http://hl7.org/fhir/v3/Confidentiality',
  'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  'http://hl7.org/fhir/v3/ActCode',
  'http://example.org/local-labels',
  undefined,
];
const LABEL_CASES = LABEL_SYSTEMS.flatMap((system, s) =>
  ['R', 'V', 'N', 'HIV', 'STD', 'TBOO', 'GDIS', 'PSY', 'MH', 'HTEST'].flatMap((code) =>
    (['self', 'target'] as const).map((where) => ({ id: `lb-${s}-${code}-${where}`, label: { ...(system ? { system } : {}), code }, where })),
  ),
);
const LABEL_PATIENT_BIRTH = '2011-03-02';
const LIMITED_PARENT = {
  relationship: { kind: 'proxy', proxyAccountId: 'acct-parent', delegation: { basis: 'parent', status: 'active', accessLevel: 'full', startsAt: new Date('2015-01-01T00:00:00Z') } },
  patientBirthDate: LABEL_PATIENT_BIRTH,
  at,
} as const;

beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
  const resources: Resource[] = [];
  for (const row of fixture.rows) {
    const { plan, facts } = decisionMatrixCase(row.inputs);
    const patient = `m${row.case}`;
    resources.push({ resourceType: 'Patient', id: patient, ...(plan.patientBirthDate ? { birthDate: plan.patientBirthDate } : {}) });
    const refersTo = facts.referencesHidden ? [{ reference: `Observation/t${row.case}` }] : [];
    if (facts.referencesHidden) {
      resources.push({
        resourceType: 'Observation',
        id: `t${row.case}`,
        meta: { security: HIDDEN_TARGET_LABEL },
        status: 'final',
        code: { text: 'target' },
        subject: { reference: `Patient/${patient}` },
      });
    }
    const common = {
      id: `r${row.case}`,
      ...(facts.securityLabels?.length ? { meta: { security: facts.securityLabels.map((l) => ({ system: l.system!, code: l.code })) } } : {}),
      status: facts.status,
      category: (facts.categories ?? []).map((c) => ({ coding: [{ system: c.system!, code: c.code }] })),
      code: { text: 'tested thing' },
      subject: { reference: `Patient/${patient}` },
    };
    resources.push(
      (facts.resourceType === 'DiagnosticReport'
        ? { resourceType: 'DiagnosticReport', ...common, result: refersTo }
        : { resourceType: 'Observation', ...common, hasMember: refersTo }) as Resource,
    );
  }
  resources.push({ resourceType: 'Patient', id: 'sc' }, ...STATUS_CATEGORY_CASES.map((c) => c.resource));
  resources.push({ resourceType: 'Patient', id: 'lb', birthDate: LABEL_PATIENT_BIRTH });
  for (const c of LABEL_CASES) {
    const labelled = { meta: { security: [c.label] } };
    if (c.where === 'target') {
      resources.push({ resourceType: 'Condition', id: `${c.id}-t`, ...labelled, code: { text: 'target' }, subject: { reference: 'Patient/lb' } } as Resource);
    }
    resources.push({
      resourceType: 'Condition',
      id: c.id,
      ...(c.where === 'self' ? labelled : {}),
      code: { text: 'tested thing' },
      subject: { reference: 'Patient/lb' },
      ...(c.where === 'target' ? { evidence: [{ detail: [{ reference: `Condition/${c.id}-t` }] }] } : {}),
    } as Resource);
  }
  await tdb.db.transaction((trx) => writeResources(trx, resources, { fhirBaseUrl: 'http://localhost:8080/fhir' }));
  for (const row of fixture.rows) {
    const { facts } = decisionMatrixCase(row.inputs);
    await insertHoldItems(
      tdb.db,
      `m${row.case}`,
      (facts.activeHolds ?? []).map((h) => ({
        resourceType: facts.resourceType,
        resourceId: `r${row.case}`,
        kind: h.kind,
        sourceId: `hold-${row.case}`,
        ...(h.harmType ? { harmType: h.harmType } : {}),
        heldFrom: new Date(at.getTime() - 86_400_000),
        releaseAt: new Date(at.getTime() + 86_400_000),
      })),
    );
  }
});

afterAll(async () => {
  await tdb?.destroy();
});

describe('decision matrix through SQL', () => {
  test.each(fixture.rows.map((row) => ({ name: `case ${row.case}: ${JSON.stringify(row.inputs)}`, row })))('$name', async ({ row }) => {
    const { plan: input, facts } = decisionMatrixCase(row.inputs);
    const plan = accessPlan(input);
    let visible = false;
    if (plan.level !== 'none') {
      const scope = accessScope({ patientId: `m${row.case}`, scopes: parseScopes('patient/*.rs').scopes, contexts: ['patient', 'user'], plan, at }, 'read');
      visible = (await new ResourceStore(tdb.db).read(facts.resourceType, `r${row.case}`, scope)) !== undefined;
    }
    expect({ case: row.case, visible }).toEqual({ case: row.case, visible: row.expected.visible });
  });
});

describe('status × category through SQL, for both release policies', () => {
  test.each(STATUS_CATEGORY_CASES.flatMap((c) => [false, true].map((releasePreliminary) => ({ ...c, releasePreliminary }))))(
    '$id (releasePreliminary: $releasePreliminary)',
    async ({ type, id, status, categories, releasePreliminary }) => {
      const plan = accessPlan({ relationship: { kind: 'self' }, at, releasePolicy: { releasePreliminary } });
      if (plan.level === 'none') throw new Error('a patient always sees their own record');
      const expected = decideResource(plan, { resourceType: type, ...(status ? { status } : {}), categories }).visible;
      const scope = accessScope({ patientId: 'sc', scopes: parseScopes('patient/*.rs').scopes, contexts: ['patient', 'user'], plan, at }, 'read');
      const visible = (await new ResourceStore(tdb.db).read(type, id, scope)) !== undefined;
      expect({ id, visible }).toEqual({ id, visible: expected });
    },
  );
});

describe('security labels in every recorded form, for a limited proxy (PRX-3)', () => {
  test.each(LABEL_CASES)('$id', async ({ id, label, where }) => {
    const plan = accessPlan(LIMITED_PARENT);
    if (plan.level !== 'limited') throw new Error(`expected a limited plan, got ${plan.level}`);
    const facts = where === 'self' ? { resourceType: 'Condition', securityLabels: [label] } : { resourceType: 'Condition', referencesHidden: decideResource(plan, { resourceType: 'Condition', securityLabels: [label] }).visible === false };
    const expected = decideResource(plan, facts).visible;
    const scope = accessScope({ patientId: 'lb', scopes: parseScopes('patient/*.rs').scopes, contexts: ['patient', 'user'], plan, at }, 'read');
    const visible = (await new ResourceStore(tdb.db).read('Condition', id, scope)) !== undefined;
    expect({ id, visible }).toEqual({ id, visible: expected });
  });

  test('a label without a system, or under the pre-R4 system, hides; a foreign system with the same code does not', () => {
    const plan = accessPlan(LIMITED_PARENT);
    const visibleWith = (label: { system?: string; code: string }) => decideResource(plan, { resourceType: 'Condition', securityLabels: [label] }).visible;
    expect(visibleWith({ code: 'R' })).toBe(false);
    expect(visibleWith({ system: 'http://hl7.org/fhir/v3/Confidentiality', code: 'R' })).toBe(false);
    expect(visibleWith({ system: 'http://hl7.org/fhir/v3/ActCode', code: 'TBOO' })).toBe(false);
    expect(visibleWith({ system: 'http://example.org/local-labels', code: 'R' })).toBe(true);
    expect(visibleWith({ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' })).toBe(true);
  });
});
