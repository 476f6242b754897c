import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { consentMigrations, createTestDatabase, type TestDatabase } from '@patient-access/consent';
import { importPath } from '../src/import/importer.js';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { parseSearch } from '../src/search/parse-search.js';
import { compartmentScope } from '../src/store/access-scope.js';
import { ResourceStore } from '../src/store/resource-store.js';

const fixtures = (p: string) => fileURLToPath(new URL(`./import-fixtures/${p}`, import.meta.url));
const PATIENT = '7a1d0000-0000-4000-8000-0000000000a1';
let t: TestDatabase;
let store: ResourceStore;

beforeAll(async () => {
  t = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
  store = new ResourceStore(t.db);
});
afterAll(() => t.destroy());

describe('Synthea-style transaction bundles', () => {
  test('imports shared resources first, resolves urn:uuid and conditional references, keeps given ids', async () => {
    const report = await importPath(t.db, fixtures('synthea'));
    expect(report.problems).toEqual([]);
    expect(report.byType).toEqual({ Practitioner: 1, Organization: 1, Patient: 2, Encounter: 1, Observation: 1 });
    expect(report.created).toBe(6);
    const enc = await store.search(parseSearch('Encounter', [['patient', PATIENT]]), compartmentScope([PATIENT]));
    const body = JSON.parse(enc.matches[0]!.json);
    expect(body.subject.reference).toBe(`Patient/${PATIENT}`);
    expect(body.participant[0].individual.reference).toBe('Practitioner/b0f1c3a4-0000-4000-8000-000000000001');
    expect(body.serviceProvider.reference).toBe('Organization/b0f1c3a4-0000-4000-8000-000000000002');
    expect(await store.read('Patient', '85', compartmentScope(['85']))).toBeDefined();
  });

  test('importing the same data again changes nothing', async () => {
    const before = await t.db('resource').select('resource_type', 'id', 'version_id').orderBy(['resource_type', 'id']);
    const report = await importPath(t.db, fixtures('synthea'));
    expect(report).toMatchObject({ created: 0, updated: 0, unchanged: 6, problems: [] });
    expect(await t.db('resource').select('resource_type', 'id', 'version_id').orderBy(['resource_type', 'id'])).toEqual(before);
  });
});

describe('ndjson', () => {
  test('valid lines are imported, bad lines reported with their line number', async () => {
    const report = await importPath(t.db, fixtures('ndjson'));
    expect(report.resources).toBe(2);
    expect(report.problems).toEqual([
      expect.objectContaining({ location: 'line 2', message: expect.stringContaining('not valid JSON') }),
      expect.objectContaining({ location: 'line 3', message: expect.stringContaining('Observation.code') }),
    ]);
    const obs = await store.search(parseSearch('Observation', [['patient', '85']]), compartmentScope(['85']));
    expect(obs.matches.map((m) => m.id)).toEqual(['nd-1', 'nd-3']);
  });
});

describe('invalid bundles', () => {
  test('a bundle with one invalid entry is not imported at all', async () => {
    const report = await importPath(t.db, fixtures('bad'));
    expect(report.resources).toBe(0);
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ location: 'entry 1', message: expect.stringContaining('Observation.code') }),
        expect.objectContaining({ location: 'file', message: expect.stringContaining('all or nothing') }),
      ]),
    );
    expect(await t.db('resource').where({ id: 'aaaa0000-0000-4000-8000-000000000001' }).first()).toBeUndefined();
  });
});
