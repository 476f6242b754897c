/**
 * Row tokens (search/row-tokens.ts): the encoding, the conditions built on it, and, on a whole
 * generated dataset, that the row's tokens agree with search_token: what the writer stores equals
 * what migration 202611280001 derives from the index, and every row-token condition selects
 * exactly the rows its search_token (EXISTS) form selects.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Knex } from 'knex';
import type { Resource } from '@medplum/fhirtypes';
import { consentMigrations, createTestDatabase, type TestDatabase } from '@patient-access/consent';
import { FILL_ROW_TOKENS } from '../src/migrations/202611280001_resource_row_tokens.js';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { filterSql } from '../src/search/filter-sql.js';
import { rowTokenCondition, rowTokens, rowTokensLiteral } from '../src/search/row-tokens.js';
import type { Filter } from '../src/search/search-request.js';
import { generateDataset } from '../src/seed/index.js';
import { writeResources } from '../src/store/resource-writer.js';

const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category';

describe('encoding', () => {
  test.each([
    ['a coding with a system', [{ param: 'category', system: LAB, code: 'laboratory' }], [`category|*|laboratory`, `category|${LAB}|laboratory`]],
    ['a code without a system', [{ param: 'status', system: null, code: 'final' }], ['status|*|final', 'status|final']],
    ['an empty system is a system', [{ param: 'status', system: '', code: 'final' }], ['status|*|final', 'status||final']],
    ['separators and * are escaped', [{ param: '_security', system: 'a|b*', code: '%|c' }], ['_security|*|%25%7Cc', '_security|a%7Cb%2A|%25%7Cc']],
    ['a reference', [{ param: 'patient', system: null, code: 'Patient/p1' }], ['patient|*|Patient/p1', 'patient|Patient/p1']],
    ['parameters not kept on the row are left out', [{ param: 'code', system: 'http://loinc.org', code: '1-8' }], []],
    ['duplicates once', [{ param: 'status', system: null, code: 'final' }, { param: 'status', system: null, code: 'final' }], ['status|*|final', 'status|final']],
  ])('%s', (_name, tokens, expected) => {
    expect(rowTokens(tokens)).toEqual(expected);
  });

  test('the array literal quotes and escapes every element', () => {
    expect(rowTokensLiteral([{ param: 'status', system: 'a"b\\c', code: 'x' }])).toBe('{"status|*|x","status|a\\"b\\\\c|x"}');
    expect(rowTokensLiteral([])).toBe('{}');
  });
});

describe('conditions', () => {
  const tok = (param: string, values: { system?: string | null; code?: string }[], not = false): Filter => ({ kind: 'token', param, values, ...(not ? { not } : {}) });
  test.each<[string, Filter, { sql: string; bindings: unknown[] } | undefined]>([
    ['system and code', tok('category', [{ system: LAB, code: 'laboratory' }]), { sql: 'r.row_tokens && ?::text[]', bindings: [`{"category|${LAB}|laboratory"}`] }],
    ['code in any system', tok('status', [{ code: 'final' }, { code: 'amended' }]), { sql: 'r.row_tokens && ?::text[]', bindings: ['{"status|*|final","status|*|amended"}'] }],
    ['no system (|code)', tok('category', [{ system: null, code: 'x' }]), { sql: 'r.row_tokens && ?::text[]', bindings: ['{"category|x"}'] }],
    ['negated', tok('status', [{ code: 'entered-in-error' }], true), { sql: 'not (r.row_tokens && ?::text[])', bindings: ['{"status|*|entered-in-error"}'] }],
    ['negated, no values: any row that has row tokens', tok('status', [], true), { sql: 'r.row_tokens is not null', bindings: [] }],
    ['no values', tok('status', []), { sql: 'false', bindings: [] }],
    ['a system without a code needs the index', tok('category', [{ system: LAB }]), undefined],
    ['a parameter not on the row needs the index', tok('code', [{ code: 'x' }]), undefined],
    ['a patient reference', { kind: 'reference', param: 'patient', values: ['Patient/p1'] }, { sql: 'r.row_tokens && ?::text[]', bindings: ['{"patient|Patient/p1"}'] }],
    ['another reference needs the index', { kind: 'reference', param: 'subject', values: ['Patient/p1'] }, undefined],
    ['not a token filter', { kind: 'id', values: ['x'] }, undefined],
    // A value from a v2 scope or a query can hold anything: it stays one element of the one parameter.
    ['quotes, backslashes and commas in a value', tok('category', [{ system: 'a"b', code: 'c\\d,e}' }]), { sql: 'r.row_tokens && ?::text[]', bindings: ['{"category|a\\"b|c\\\\d,e}"}'] }],
  ])('%s', (_name, filter, expected) => {
    expect(rowTokenCondition(filter)).toEqual(expected);
  });
});

describe('on a generated dataset', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
    const data = generateDataset({ patients: 6, resourcesPerPatient: 80 });
    const labelled: Resource = {
      resourceType: 'Observation',
      id: 'labelled-odd|*%',
      status: 'final',
      meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] },
      category: [{ coding: [{ system: LAB, code: 'laboratory' }, { code: 'no-system' }, { system: 'odd|sys*', code: 'a|b%' }] }],
      code: { text: 'x' },
      subject: { reference: `Patient/${data.patients[0]!.patientId}` },
    } as Resource;
    await t.db.transaction(async (trx) => {
      await writeResources(trx, data.shared);
      for (const p of data.patients) await writeResources(trx, p.resources);
      await writeResources(trx, [labelled]);
    });
  }, 120_000);
  afterAll(() => t?.destroy());

  test('the writer stores what the migration derives from search_token', async () => {
    const written = await t.db.raw('select patient_id, resource_type, id, row_tokens from resource order by 1, 2, 3');
    await t.db.raw('update resource set row_tokens = null');
    await t.db.raw(FILL_ROW_TOKENS);
    const derived = await t.db.raw('select patient_id, resource_type, id, row_tokens from resource order by 1, 2, 3');
    const sorted = (rows: { row_tokens: string[] }[]) => rows.map((r) => ({ ...r, row_tokens: [...r.row_tokens].sort() }));
    expect(written.rows.length).toBeGreaterThan(500);
    expect(written.rows.some((r: { row_tokens: string[] }) => r.row_tokens.some((x) => x.startsWith('_security|')))).toBe(true);
    expect(sorted(derived.rows)).toEqual(sorted(written.rows));
  });

  const filters: [string, string, Filter][] = [
    ['lab category', 'Observation', { kind: 'token', param: 'category', values: [{ system: LAB, code: 'laboratory' }] }],
    ['category code in any system', 'Observation', { kind: 'token', param: 'category', values: [{ code: 'vital-signs' }, { code: 'no-system' }] }],
    ['category without a system', 'Observation', { kind: 'token', param: 'category', values: [{ system: null, code: 'no-system' }] }],
    ['escaped system and code', 'Observation', { kind: 'token', param: 'category', values: [{ system: 'odd|sys*', code: 'a|b%' }] }],
    ['released statuses', 'DiagnosticReport', { kind: 'token', param: 'status', values: [{ code: 'final' }, { code: 'amended' }, { code: 'corrected' }] }],
    ['not entered-in-error', 'Observation', { kind: 'token', param: 'status', not: true, values: [{ code: 'entered-in-error' }] }],
    ['not labelled', 'Observation', { kind: 'token', param: '_security', not: true, values: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] }],
    ['condition category', 'Condition', { kind: 'token', param: 'category', values: [{ code: 'problem-list-item' }] }],
  ];
  test.each(filters)('%s: the row form selects what the index form selects', async (_name, type, filter) => {
    const run = async (onRow: boolean) => {
      const c = filterSql(filter, false, onRow);
      const { rows } = await t.db.raw(`select r.patient_id, r.id from resource r where r.resource_type = ? and ${c.sql} order by 1, 2`, [type, ...c.bindings] as Knex.RawBinding[]);
      return rows as { id: string }[];
    };
    expect(filterSql(filter, false, true).sql).toContain('row_tokens');
    const onRow = await run(true);
    expect(onRow).toEqual(await run(false));
    const total = Number((await t.db('resource').where('resource_type', type).count({ n: '*' }))[0]!.n);
    expect(onRow.length).toBeGreaterThan(0);
    expect(onRow.length).toBeLessThan(total);
  });

  test('a row without row tokens fails every row-token condition, negated or not', async () => {
    await t.db.raw("update resource set row_tokens = null where resource_type = 'Observation'");
    for (const [, type, filter] of filters.filter(([, type]) => type === 'Observation')) {
      const c = filterSql(filter, false, true);
      const { rows } = await t.db.raw(`select 1 from resource r where r.resource_type = ? and ${c.sql}`, [type, ...c.bindings] as Knex.RawBinding[]);
      expect(rows).toEqual([]);
    }
  });
});
