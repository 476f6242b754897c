import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations, createTestDatabase, type TestDatabase } from '@patient-access/consent';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { parseSearch } from '../src/search/parse-search.js';
import type { Filter } from '../src/search/search-request.js';
import { compartmentScope, type AccessScope, type TypeAccess } from '../src/store/access-scope.js';
import { ResourceStore } from '../src/store/resource-store.js';
import { writeResources } from '../src/store/resource-writer.js';
import { fixtureResources, observation } from './fixtures.js';

let t: TestDatabase;
let store: ResourceStore;
const p1 = compartmentScope(['p1']);
const q = (type: string, query: string) => parseSearch(type, [...new URLSearchParams(query)]);
const ids = (r: { matches: { id: string }[] }) => r.matches.map((m) => m.id);

beforeAll(async () => {
  t = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
  store = new ResourceStore(t.db);
  await t.db.transaction((trx) => writeResources(trx, fixtureResources(), { now: new Date('2026-01-01T00:00:00Z') }));
});
afterAll(() => t.destroy());

describe('compartments', () => {
  test('a resource belongs to its subject', async () => {
    const rows = await t.db('resource').select('patient_id').where({ resource_type: 'Observation', id: 'o2-a' });
    expect(rows).toEqual([{ patient_id: 'p2' }]);
  });
  test('Provenance joins the compartments of its targets', async () => {
    const rows = await t.db('resource').select('patient_id').where({ resource_type: 'Provenance', id: 'prov1' });
    expect(rows).toEqual([{ patient_id: 'p1' }]);
  });
  test('shared resources have no patient', async () => {
    expect(await t.db('shared_resource').where({ resource_type: 'Medication' }).count({ n: '*' }).first()).toEqual({ n: expect.anything() });
    expect(await t.db('resource').where({ resource_type: 'Medication' }).first()).toBeUndefined();
  });
});

describe('read', () => {
  test('reads within the compartment', async () => {
    const r = await store.read('Observation', 'o1-00', p1);
    expect(JSON.parse(r!.json)).toMatchObject({ id: 'o1-00', meta: { versionId: '1' } });
  });
  test("another patient's resource is invisible", async () => {
    expect(await store.read('Observation', 'o2-a', p1)).toBeUndefined();
  });
  test('shared resources are readable', async () => {
    expect(await store.read('Medication', 'med1', p1)).toBeDefined();
  });
  test('a type the scope does not cover is invisible', async () => {
    const scope = { patientIds: ['p1'], forType: (type: string) => (type === 'Patient' ? { anyOf: [[]] } : undefined) };
    expect(await store.read('Observation', 'o1-00', scope)).toBeUndefined();
  });
});

describe('search by parameter type', () => {
  test.each([
    ['token with system', 'Observation', 'category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs', ['o1-vital']],
    ['token code only', 'Observation', 'code=8867-4', ['o1-vital']],
    ['token OR values', 'Observation', 'status=preliminary,amended', ['o1-prelim']],
    ['token :not', 'Observation', 'status:not=final', ['o1-prelim']],
    ['token system only', 'Patient', 'identifier=urn:oid:1.2.36.146.595.217.0.1|', ['p1']],
    ['reference Type/id', 'Observation', 'patient=Patient/p1&code=8867-4', ['o1-vital']],
    ['reference bare id', 'Observation', 'patient=p1&code=8867-4', ['o1-vital']],
    ['reference of other patient is empty', 'Observation', 'patient=p2', []],
    ['date eq day', 'Observation', 'date=2024-03-02', ['o1-01']],
    ['date gt', 'Observation', 'date=gt2024-03-11', ['o1-11', 'o1-prelim']],
    ['date lt', 'Observation', 'date=lt2024-01-01', ['o1-vital']],
    ['date ge and le', 'Observation', 'date=ge2024-03-02&date=le2024-03-03', ['o1-01', 'o1-02']],
    ['date eq exact instant', 'Observation', 'date=2024-03-02T10:00:00%2B00:00', ['o1-01']],
    ['string accent-insensitive prefix', 'Patient', 'name=nun', ['p1']],
    ['string family exact', 'Patient', 'family:exact=núñez', ['p1']],
    ['string contains', 'Patient', 'name:contains=ñe', ['p1']],
    ['_id', 'Observation', '_id=o1-00,o2-a', ['o1-00']],
    ['birthdate+name', 'Patient', 'birthdate=1980-05-01&name=ana', ['p1']],
  ])('%s', async (_label, type, query, expected) => {
    expect(ids(await store.search(q(type, query), p1))).toEqual(expected);
  });
});

describe('patient= within the compartment', () => {
  // The store checks patient=Patient/{own id} row by row (a planner hint): it must still exclude a
  // resource that is in the compartment only as its performer.
  test('a resource in the compartment only through performer is not a patient= match', async () => {
    await t.db
      .transaction(async (trx) => {
        const performed = { ...observation('o2-by-p1', 'p2'), performer: [{ reference: 'Patient/p1' }] } as ReturnType<typeof observation>;
        await writeResources(trx, [performed], { now: new Date('2026-01-01T00:00:00Z') });
        const inTrx = new ResourceStore(trx);
        expect(ids(await inTrx.search(q('Observation', '_id=o2-by-p1'), p1))).toEqual(['o2-by-p1']);
        expect(ids(await inTrx.search(q('Observation', '_id=o2-by-p1&patient=p1'), p1))).toEqual([]);
        expect(ids(await inTrx.search(q('Observation', '_id=o2-by-p1&patient=Patient/p1'), p1))).toEqual([]);
        expect(ids(await inTrx.search(q('Observation', 'patient=p1&category=laboratory&_count=100'), p1))).not.toContain('o2-by-p1');
        throw new Error('rollback');
      })
      .catch((err: unknown) => {
        if (!(err instanceof Error) || err.message !== 'rollback') throw err;
      });
    expect(await store.read('Observation', 'o2-by-p1', p1)).toBeUndefined();
  });
});

describe('paging, counts and includes', () => {
  test('pages are stable and complete', async () => {
    const seen: string[] = [];
    let req = q('Observation', 'category=laboratory&_count=5');
    for (;;) {
      const page = await store.search(req, p1);
      expect(page.total).toBe(13);
      seen.push(...ids(page));
      if (!page.next) break;
      req = { ...req, cursor: page.next };
    }
    expect(seen).toHaveLength(13);
    expect(new Set(seen).size).toBe(13);
  });
  test('sorted paging by date descending', async () => {
    const first = await store.search(q('Observation', 'category=laboratory&_sort=-date&_count=2'), p1);
    expect(ids(first)).toEqual(['o1-prelim', 'o1-11']);
    const second = await store.search({ ...q('Observation', 'category=laboratory&_sort=-date&_count=2'), cursor: first.next! }, p1);
    expect(ids(second)).toEqual(['o1-10', 'o1-09']);
    // The count rides on the page's rows: every page carries the whole total.
    expect([first.total, second.total]).toEqual([13, 13]);
  });
  test('a cursor past the last page still reports the total', async () => {
    const keyset = await store.search({ ...q('Observation', 'category=laboratory&_count=5'), cursor: { afterId: 'zzz' } }, p1);
    const sorted = await store.search({ ...q('Observation', 'category=laboratory&_sort=-date&_count=5'), cursor: { offset: 500 } }, p1);
    expect([keyset.total, ids(keyset), sorted.total, ids(sorted)]).toEqual([13, [], 13, []]);
    const none = await store.search({ ...q('Observation', 'category=laboratory&_total=none&_count=5'), cursor: { afterId: 'o1-05' } }, p1);
    expect(none.total).toBeUndefined();
    expect(ids(none).every((id) => id > 'o1-05')).toBe(true);
  });
  test('_summary=count counts only the compartment', async () => {
    const r = await store.search(q('Observation', '_summary=count'), p1);
    expect(r).toEqual({ total: 14, matches: [], included: [] });
  });
  test('_include resolves shared targets', async () => {
    const r = await store.search(q('MedicationRequest', 'intent=order&_include=MedicationRequest:medication'), p1);
    expect(ids(r)).toEqual(['mr1']);
    expect(r.included.map((i) => `${i.resourceType}/${i.id}`)).toEqual(['Medication/med1']);
  });
  test('_revinclude=Provenance:target stays in the compartment', async () => {
    const r = await store.search(q('Observation', '_id=o1-00&_revinclude=Provenance:target'), p1);
    expect(r.included.map((i) => i.id)).toEqual(['prov1']);
    const other = await store.search(q('Observation', '_revinclude=Provenance:target'), p1);
    expect(other.included.map((i) => i.id)).not.toContain('prov2');
  });
  test('a multi-patient scope returns each resource once', async () => {
    const both = compartmentScope(['p1', 'p2']);
    const r = await store.search(q('Observation', '_count=100'), both);
    expect(r.total).toBe(15);
    expect(new Set(ids(r)).size).toBe(15);
  });
  test('per-type filters narrow every query (category-restricted scope)', async () => {
    const scope = {
      patientIds: ['p1'],
      forType: () => ({ anyOf: [[{ kind: 'token' as const, param: 'category', values: [{ code: 'vital-signs' }] }]] }),
    };
    expect(ids(await store.search(q('Observation', ''), scope))).toEqual(['o1-vital']);
    expect(await store.read('Observation', 'o1-00', scope)).toBeUndefined();
  });
});

describe("a first page tells what it withheld, in the page's own statement (AUD-1)", () => {
  const lab: Filter = { kind: 'token', param: 'category', values: [{ code: 'laboratory' }] };
  const notPrelim: Filter = { kind: 'token', param: 'status', not: true, values: [{ code: 'preliminary' }] };
  const scopes: TypeAccess = { anyOf: [[lab]] };
  // The token's scopes cover lab results; the plan also withholds preliminary ones.
  const split = (full: TypeAccess | undefined, scopesFor: TypeAccess | undefined = scopes): AccessScope => ({
    patientIds: ['p1'],
    forType: () => full,
    scopesFor: () => scopesFor,
  });
  const planned = split({ anyOf: [[lab]], allOf: [notPrelim] });
  const refs = (r: { withheld?: { ref: string }[] }) => r.withheld?.map((w) => w.ref);

  test.each([['_count=5'], ['_count=5&_sort=-date'], ['_count=2&_sort=-date&_total=none'], ['_count=100'], ['_id=o1-00,o1-prelim'], ['date=ge2024-03-10']])(
    '%s: the same page, total and next link as without the account, and the withheld match',
    async (query) => {
      const { withheld, ...page } = await store.search(q('Observation', query), planned, { withheldLimit: 10 });
      expect(page).toEqual(await store.search(q('Observation', query), planned));
      expect(withheld).toEqual([{ ref: 'Observation/o1-prelim', rowTokens: expect.arrayContaining([expect.stringMatching(/^status\|.*preliminary$/)]), inScope: true }]);
    },
  );
  test('a page with nothing visible still names what it withheld', async () => {
    const r = await store.search(q('Observation', '_id=o1-prelim'), planned, { withheldLimit: 10 });
    expect([r.total, ids(r), refs(r)]).toEqual([0, [], ['Observation/o1-prelim']]);
  });
  test('at most the limit, the first by id; what the scopes do not cover is not listed', async () => {
    const onlyPrelim = split({ anyOf: [[lab, { kind: 'token', param: 'status', values: [{ code: 'preliminary' }] }]] });
    const r = await store.search(q('Observation', ''), onlyPrelim, { withheldLimit: 3 });
    expect([r.total, ids(r), refs(r)]).toEqual([1, ['o1-prelim'], ['Observation/o1-00', 'Observation/o1-01', 'Observation/o1-02']]);
    expect(refs(await store.search(q('Observation', ''), onlyPrelim, { withheldLimit: 100 }))).toHaveLength(12);
  });
  test('nothing visible of the type: every match the scopes cover is withheld; scopes that cover nothing: nothing either way', async () => {
    expect(refs(await store.search(q('Observation', ''), split(undefined), { withheldLimit: 100 }))).toHaveLength(13);
    expect(await store.search(q('Observation', ''), { patientIds: ['p1'], forType: () => undefined, scopesFor: () => undefined }, { withheldLimit: 100 })).toEqual({ total: 0, matches: [], included: [], withheld: [] });
  });
  test('later pages, counts, shared types and scopes without scopesFor give no account', async () => {
    expect(await store.search({ ...q('Observation', '_count=5'), cursor: { afterId: 'o1-04' } }, planned, { withheldLimit: 10 })).not.toHaveProperty('withheld');
    expect(await store.search(q('Observation', '_summary=count'), planned, { withheldLimit: 10 })).toEqual({ total: 12, matches: [], included: [] });
    expect(await store.search(q('Medication', ''), planned, { withheldLimit: 10 })).not.toHaveProperty('withheld');
    expect(await store.search(q('Observation', ''), p1, { withheldLimit: 10 })).not.toHaveProperty('withheld');
  });
});

describe('holds are evaluated at each request\'s instant', () => {
  // One TypeAccess object serves every request under a grant (its SQL is compiled once): the
  // hold's window must still be judged at each request's own time, and never without one.
  const held: TypeAccess = { anyOf: [[]], allOf: [{ kind: 'notHeld', holds: ['data-quality'], harmTypes: [] }] };
  const at = (iso: string): AccessScope => ({ patientIds: ['p1'], forType: () => held, at: new Date(iso) });

  beforeAll(async () => {
    await t.db('release_hold_item').insert({
      patient_id: 'p1', resource_type: 'Observation', resource_id: 'o1-00', kind: 'data-quality', source_id: 'dq-1',
      held_from: new Date('2026-03-01T00:00:00Z'), release_at: new Date('2026-03-02T00:00:00Z'),
    });
  });

  test('the same compiled access hides the result only inside the hold window', async () => {
    expect(await store.read('Observation', 'o1-00', at('2026-02-28T23:59:59Z'))).toBeDefined();
    expect(await store.read('Observation', 'o1-00', at('2026-03-01T12:00:00Z'))).toBeUndefined();
    expect(ids(await store.search(q('Observation', '_id=o1-00'), at('2026-03-01T12:00:00Z')))).toEqual([]);
    expect(await store.read('Observation', 'o1-00', at('2026-03-02T00:00:00Z'))).toBeDefined();
  });

  test('an access scope without an instant cannot run a time-dependent filter (fails closed)', async () => {
    await expect(store.read('Observation', 'o1-00', { patientIds: ['p1'], forType: () => held })).rejects.toThrow(/request time/);
  });
});

describe('re-import', () => {
  test('identical content keeps the version; changed content bumps it and reindexes', async () => {
    const same = await t.db.transaction((trx) => writeResources(trx, [observation('o1-prelim', 'p1', { status: 'preliminary', date: '2024-04-01' })]));
    expect(same).toEqual({ created: 0, updated: 0, unchanged: 1, unassigned: [] });
    const changed = await t.db.transaction((trx) => writeResources(trx, [observation('o1-prelim', 'p1', { status: 'final', date: '2024-04-01' })]));
    expect(changed).toEqual({ created: 0, updated: 1, unchanged: 0, unassigned: [] });
    const r = await store.read('Observation', 'o1-prelim', p1);
    expect(JSON.parse(r!.json).meta.versionId).toBe('2');
    expect(ids(await store.search(q('Observation', 'status=preliminary'), p1))).toEqual([]);
  });
});
