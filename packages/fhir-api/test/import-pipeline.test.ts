import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consentMigrations, createTestDatabase, type TestDatabase } from '@patient-access/consent';
import { importPath, type ImportReport } from '../src/import/importer.js';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { observation, patient } from './fixtures.js';

// Large enough for several batches (1,000 lines each), so that checking one overlaps writing another.
const LINES = 2600;
let t: TestDatabase;
let folder: string;

beforeAll(async () => {
  t = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
  folder = await mkdtemp(join(tmpdir(), 'pa-import-pipeline-'));
  await writeFile(join(folder, 'Patient.ndjson'), ['pp-1', 'pp-2'].map((id) => JSON.stringify(patient(id, 'Pipe', 'Line', '1980-01-01'))).join('\n') + '\n');
  const lines: string[] = [];
  for (let n = 1; n <= LINES; n++) {
    const line = (() => {
      switch (n) {
        case 5:
          return '{"resourceType": "Observation", "id": ';
        case 1500:
          return JSON.stringify({ ...observation('obs-1500', 'pp-1'), code: undefined });
        case 2100:
          return JSON.stringify(observation('bad id!', 'pp-1'));
        case 2200:
          return '   ';
        case 2500:
          return JSON.stringify(observation('obs-10', 'pp-2', { status: 'amended' })); // same id as line 10: the later line wins
        default:
          return JSON.stringify(observation(`obs-${n}`, n % 2 ? 'pp-1' : 'pp-2', { date: `2024-01-01T00:00:${String(n % 60).padStart(2, '0')}Z` }));
      }
    })();
    lines.push(line);
  }
  await writeFile(join(folder, 'Observation.ndjson'), lines.join('\n') + '\n');
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
  await t.destroy();
});

async function importFresh(): Promise<ImportReport> {
  await t.db.raw('truncate resource, shared_resource, search_token, search_date, search_string');
  return importPath(t.db, folder, { now: new Date('2026-01-01T00:00:00Z') });
}

async function state() {
  return {
    resources: await t.db('resource').select('patient_id', 'resource_type', 'id', 'version_id').orderBy(['resource_type', 'id', 'patient_id']),
    tokens: Number((await t.db('search_token').count({ n: '*' }).first())!.n),
    dates: Number((await t.db('search_date').count({ n: '*' }).first())!.n),
  };
}

describe('ndjson import pipeline', () => {
  let first: ImportReport;

  test('every valid line stored, every bad one reported with its line, in order', async () => {
    first = await importFresh();
    expect(first.problems.map((p) => [p.file.endsWith('Observation.ndjson'), p.location])).toEqual([
      [true, 'line 5'],
      [true, 'line 1500'],
      [true, 'line 2100'],
    ]);
    expect(first.problems[0]!.message).toMatch(/^not valid JSON/);
    expect(first.problems[1]!.message).toMatch(/Observation\.code/);
    expect(first.problems[2]!.message).toMatch(/id/);
    // 2 patients + 2,600 lines - 3 bad - 1 blank; line 2500 repeats obs-10.
    expect(first.resources).toBe(2 + LINES - 4);
    expect(first).toMatchObject({ created: 2 + LINES - 5, updated: 1, unchanged: 0 });
    const row = await t.db('resource').select('patient_id', t.db.raw('content::text as json')).where({ resource_type: 'Observation', id: 'obs-10' });
    expect(row).toHaveLength(1);
    expect(row[0].patient_id).toBe('pp-2');
    expect(JSON.parse(row[0].json).status).toBe('amended');
  });

  test('importing into an empty store again: the same report and the same stored state', async () => {
    const before = await state();
    const again = await importFresh();
    expect({ ...again, seconds: 0 }).toEqual({ ...first, seconds: 0 });
    expect(await state()).toEqual(before);
  });

  test('importing the same files again changes nothing but the resource given twice', async () => {
    const without = (s: Awaited<ReturnType<typeof state>>) => s.resources.filter((r: { id: string }) => r.id !== 'obs-10');
    const before = await state();
    const again = await importPath(t.db, folder);
    // obs-10 is in two batches with different content: each write makes a new version, as before.
    expect(again).toMatchObject({ created: 0, updated: 2, unchanged: 2 + LINES - 6 });
    expect(again.problems).toHaveLength(3);
    const after = await state();
    expect(without(after)).toEqual(without(before));
    expect({ tokens: after.tokens, dates: after.dates }).toEqual({ tokens: before.tokens, dates: before.dates });
  });
});
