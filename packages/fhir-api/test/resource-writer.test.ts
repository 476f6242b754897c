import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { consentMigrations, createTestDatabase, type TestDatabase } from '@patient-access/consent';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { extractSearchRows } from '../src/search/extract.js';
import { writeResources } from '../src/store/resource-writer.js';
import { observation, patient } from './fixtures.js';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
});
afterAll(() => t.destroy());

const write = (resources: Resource[], now = '2026-01-01T00:00:00Z') =>
  t.db.transaction((trx) => writeResources(trx, resources, { now: new Date(now) }));

async function rowsOf(type: string, id: string) {
  const resource = await t.db('resource').select('patient_id', 'version_id').where({ resource_type: type, id }).orderBy('patient_id');
  const index = async (table: string) =>
    (await t.db(table).select('patient_id').where({ resource_type: type, resource_id: id })).map((r: { patient_id: string }) => r.patient_id).sort();
  return { resource, token: await index('search_token'), date: await index('search_date'), string: await index('search_string') };
}

describe('batches larger than one insert statement', () => {
  test('every resource and every index row is stored', async () => {
    const batch = [patient('big', 'Large', 'Lot', '1970-01-01'), ...Array.from({ length: 450 }, (_, i) => observation(`big-${i}`, 'big', { date: `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z` }))];
    expect(await write(batch)).toEqual({ created: 451, updated: 0, unchanged: 0, unassigned: [] });
    const expected = { token: 0, date: 0, string: 0 };
    for (const r of batch) {
      const s = extractSearchRows(r);
      expected.token += s.tokens.length;
      expected.date += s.dates.length;
      expected.string += s.strings.length;
    }
    const count = async (table: string) => Number((await t.db(table).where({ patient_id: 'big' }).count({ n: '*' }).first())!.n);
    expect(await count('resource')).toBe(451);
    expect({ token: await count('search_token'), date: await count('search_date'), string: await count('search_string') }).toEqual(expected);
    const stored = await t.db('resource').select(t.db.raw('content::text as json')).where({ resource_type: 'Observation', id: 'big-449' }).first();
    expect(JSON.parse(stored.json)).toEqual({ ...batch[450], meta: { versionId: '1', lastUpdated: '2026-01-01T00:00:00.000Z' } });
    expect(await write(batch)).toEqual({ created: 0, updated: 0, unchanged: 451, unassigned: [] });
  });
});

describe('re-import', () => {
  test('key order and the server version metadata are not changes; anything else in meta is', async () => {
    const obs = observation('ro-1', 'rp-1', { status: 'preliminary' });
    await write([patient('rp-1', 'Re', 'Import', '1990-01-01'), obs]);
    const reordered = Object.fromEntries(Object.entries(obs).reverse()) as unknown as Resource;
    const withVersion = { ...obs, meta: { versionId: '9', lastUpdated: '2000-01-01T00:00:00Z' } } as Resource;
    expect(await write([reordered, withVersion])).toEqual({ created: 0, updated: 0, unchanged: 1, unassigned: [] });
    const tagged = { ...obs, meta: { versionId: '9', tag: [{ system: 'urn:test', code: 'x' }] } } as Resource;
    expect(await write([tagged])).toEqual({ created: 0, updated: 1, unchanged: 0, unassigned: [] });
    expect(await write([{ ...tagged, meta: { tag: [{ code: 'x', system: 'urn:test' }] } } as Resource])).toEqual({ created: 0, updated: 0, unchanged: 1, unassigned: [] });
    expect(await write([obs])).toEqual({ created: 0, updated: 1, unchanged: 0, unassigned: [] });
    expect((await rowsOf('Observation', 'ro-1')).resource).toEqual([{ patient_id: 'rp-1', version_id: 3 }]);
  });

  test('a resource moving to another compartment leaves no row behind in the old one', async () => {
    await write([observation('mv-1', 'mv-a'), observation('mv-keep', 'mv-a')]);
    expect(await write([observation('mv-1', 'mv-b'), observation('mv-keep', 'mv-a')])).toEqual({ created: 0, updated: 1, unchanged: 1, unassigned: [] });
    const rows = await rowsOf('Observation', 'mv-1');
    expect(rows.resource).toEqual([{ patient_id: 'mv-b', version_id: 2 }]);
    expect(new Set([...rows.token, ...rows.date])).toEqual(new Set(['mv-b']));
    expect((await rowsOf('Observation', 'mv-keep')).resource).toEqual([{ patient_id: 'mv-a', version_id: 1 }]);
  });

  test('a changed shared resource gets a new version and a new index', async () => {
    const dr = { resourceType: 'Practitioner', id: 'wr-dr', name: [{ family: 'Oldname', given: ['Pat'] }] } as Resource;
    await write([dr]);
    expect(await write([{ ...dr, name: [{ family: 'Newname', given: ['Pat'] }] } as Resource])).toEqual({ created: 0, updated: 1, unchanged: 0, unassigned: [] });
    const shared = await t.db('shared_resource').select('version_id').where({ resource_type: 'Practitioner', id: 'wr-dr' });
    expect(shared).toEqual([{ version_id: 2 }]);
    const names = await t.db('search_string').select('value').where({ resource_type: 'Practitioner', resource_id: 'wr-dr', param: 'name' });
    expect(names.map((n: { value: string }) => n.value).sort()).toEqual(['newname', 'pat']);
  });

  test('created, updated and unchanged in one batch; the last copy of a duplicate wins', async () => {
    await write([observation('mx-1', 'mx'), observation('mx-2', 'mx')]);
    const result = await write([
      observation('mx-1', 'mx'),
      observation('mx-2', 'mx', { status: 'amended' }),
      observation('mx-3', 'mx', { status: 'preliminary' }),
      observation('mx-3', 'mx', { status: 'final' }),
    ]);
    expect(result).toEqual({ created: 1, updated: 1, unchanged: 1, unassigned: [] });
    const statuses = await t.db('search_token').select('resource_id', 'code').where({ patient_id: 'mx', param: 'status' }).orderBy('resource_id');
    expect(statuses).toEqual([
      { resource_id: 'mx-1', code: 'final' },
      { resource_id: 'mx-2', code: 'amended' },
      { resource_id: 'mx-3', code: 'final' },
    ]);
  });
});

describe('compartments across batches', () => {
  test('a Provenance joins the compartments of targets stored by an earlier batch', async () => {
    await write([observation('pv-a', 'pv-1'), observation('pv-b', 'pv-2')]);
    await write([
      {
        resourceType: 'Provenance', id: 'pv-prov', recorded: '2024-03-01T10:00:00Z',
        target: [{ reference: 'Observation/pv-a' }, { reference: 'Observation/pv-b' }],
        agent: [{ who: { reference: 'Practitioner/dr1' } }],
      } as Resource,
    ]);
    const rows = await rowsOf('Provenance', 'pv-prov');
    expect(rows.resource).toEqual([{ patient_id: 'pv-1', version_id: 1 }, { patient_id: 'pv-2', version_id: 1 }]);
    expect(new Set(rows.token)).toEqual(new Set(['pv-1', 'pv-2']));
  });
});

describe('failures', () => {
  test('a statement failing in a later slice rolls the whole batch back and rejects', async () => {
    const batch = Array.from({ length: 320 }, (_, i) => observation(`bad-${i}`, 'bad'));
    // PostgreSQL refuses \u0000 in jsonb and text: the slice holding it fails.
    (batch[300] as { note?: unknown }).note = [{ text: 'nul \u0000 byte' }];
    await expect(write(batch)).rejects.toThrow();
    expect(await t.db('resource').where({ patient_id: 'bad' }).first()).toBeUndefined();
    expect(await t.db('search_token').where({ patient_id: 'bad' }).first()).toBeUndefined();
    expect(await write(batch.slice(0, 300))).toEqual({ created: 300, updated: 0, unchanged: 0, unassigned: [] });
  });
});
