import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('absolute references', () => {
  test("another entry's absolute fullUrl is that entry; another server's patient is never one of ours, whatever its id", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-import-abs-'));
    const EHR = 'https://ehr.example.org/fhir';
    const put = (resource: { resourceType: string; id: string }) => ({ fullUrl: `${EHR}/${resource.resourceType}/${resource.id}`, resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
    await writeFile(
      join(dir, 'export.json'),
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          put({ resourceType: 'Patient', id: 'ext-1' }),
          put({ resourceType: 'Observation', id: 'ext-obs-1', status: 'final', code: { text: 'x' }, subject: { reference: `${EHR}/Patient/ext-1/_history/4` } } as never),
          // Patient/85 exists here (the Synthea fixture), but this is another server's Patient/85.
          put({ resourceType: 'Observation', id: 'ext-obs-foreign', status: 'final', code: { text: 'y' }, subject: { reference: 'https://other.example.net/fhir/Patient/85' } } as never),
        ],
      }),
    );
    try {
      const report = await importPath(t.db, dir, { fhirBaseUrl: 'https://api.example.com/fhir' });
      expect(report.problems).toEqual([]);
      const own = await store.read('Observation', 'ext-obs-1', compartmentScope(['ext-1']));
      expect(JSON.parse(own!.json).subject.reference).toBe('Patient/ext-1');
      expect(await store.read('Observation', 'ext-obs-foreign', compartmentScope(['85']))).toBeUndefined();
      const found = await store.search(parseSearch('Observation', [['patient', '85']]), compartmentScope(['85']));
      expect(found.matches.map((m) => m.id)).not.toContain('ext-obs-foreign');
      // Stored, in nobody's compartment: shown to no patient.
      expect(await t.db('resource').where({ resource_type: 'Observation', id: 'ext-obs-foreign' }).pluck('patient_id')).toEqual(['']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('--source-base: the exporting system\'s absolute references', () => {
  test('are stored relative and file resources in the patient\'s compartment only when the base is declared', async () => {
    const SOURCE = 'https://ehr.example.org/fhir/R4';
    const obs = (id: string) => ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: `${SOURCE}/Patient/src-85` } });
    const dir = await mkdtemp(join(tmpdir(), 'pa-import-src-'));
    try {
      await writeFile(join(dir, 'Observation.ndjson'), `${JSON.stringify(obs('src-undeclared'))}\n`);
      const undeclared = await importPath(t.db, dir);
      expect(undeclared.problems).toEqual([]);
      // Stored in no one's compartment: the report says so, with the resource.
      expect(undeclared.unassigned).toEqual({ count: 1, examples: ['Observation/src-undeclared'] });
      expect(await store.read('Observation', 'src-undeclared', compartmentScope(['src-85']))).toBeUndefined();

      await writeFile(join(dir, 'Observation.ndjson'), `${JSON.stringify(obs('src-ndjson'))}\n`);
      await writeFile(join(dir, 'bundle.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs('src-bundle') }] }));
      const report = await importPath(t.db, dir, { sourceBaseUrls: [`${SOURCE}/`] });
      expect(report.problems).toEqual([]);
      expect(report.unassigned).toEqual({ count: 0, examples: [] });
      for (const id of ['src-ndjson', 'src-bundle']) {
        const found = await store.read('Observation', id, compartmentScope(['src-85']));
        expect(JSON.parse(found!.json).subject.reference).toBe('Patient/src-85');
      }
      // A base that only starts the same way is not the declared one.
      await writeFile(join(dir, 'Observation.ndjson'), `${JSON.stringify({ ...obs('src-lookalike'), subject: { reference: `${SOURCE}-test/Patient/src-85` } })}\n`);
      await rm(join(dir, 'bundle.json'));
      await importPath(t.db, dir, { sourceBaseUrls: [SOURCE] });
      expect(await store.read('Observation', 'src-lookalike', compartmentScope(['src-85']))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
