/**
 * Nothing the API returns names a resource withheld from the reader, and no search finds
 * something by its reference to one (REL-2, REL-7, PRX-3): references to unreleased, held or
 * entered-in-error resources are removed from every resource shown (not only a report's
 * results), a search by reference to one matches nothing, a Provenance of withheld resources only
 * is itself withheld, a hold on a report holds its results, and a labelled report hides its
 * results from a limited proxy.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { insertHoldItems } from '@patient-access/consent';
import { createHarness, entryIds, type Harness } from './smart-harness.js';

const PAT = { username: 'pat', password: 'long walks', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const PARENT = { username: 'parent', password: 'school run', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const TEEN = { username: 'teen', password: 'skate park', secret: 'KRUGS4ZANFZSAYLVNZ2CAYLOMQQGC3TE' };

const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const VITALS = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] };
const LAB_REPORT = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] };
const code = { text: 'a test' };
const obs = (id: string, patient: string, status: string, extra: Record<string, unknown> = {}): Resource =>
  ({ resourceType: 'Observation', id, status, category: [LAB], code, subject: { reference: `Patient/${patient}` }, ...extra }) as Resource;
const report = (id: string, patient: string, results: string[], extra: Record<string, unknown> = {}): Resource =>
  ({ resourceType: 'DiagnosticReport', id, status: 'final', category: [LAB_REPORT], code, subject: { reference: `Patient/${patient}` }, result: results.map((r) => ({ reference: `Observation/${r}` })), ...extra }) as Resource;

/** Everything withheld from pat: unreleased, held, entered in error, or a result of a held report. */
const WITHHELD = ['o-prelim', 'o-held', 'o-eie', 'c-held', 'dr-held', 'o-inrep'];

const RESOURCES: Resource[] = [
  { resourceType: 'Patient', id: 'pat', birthDate: '1970-01-01' },
  { resourceType: 'Patient', id: 'teen', birthDate: `${new Date().getUTCFullYear() - 15}-01-01` },
  {
    resourceType: 'Encounter',
    id: 'enc-1',
    status: 'finished',
    class: { code: 'AMB' },
    subject: { reference: 'Patient/pat' },
    diagnosis: [{ condition: { reference: 'Condition/c-held' }, rank: 1 }, { condition: { reference: 'Condition/c-ok' }, rank: 2 }],
  } as Resource,
  { resourceType: 'Condition', id: 'c-ok', code, subject: { reference: 'Patient/pat' }, evidence: [{ code: [code], detail: [{ reference: 'Observation/o-held' }] }, { detail: [{ reference: 'Observation/o-prelim' }] }] } as Resource,
  obs('o-final', 'pat', 'final', { encounter: { reference: 'Encounter/enc-1' } }),
  obs('o-prelim', 'pat', 'preliminary'),
  obs('o-held', 'pat', 'final'),
  obs('o-eie', 'pat', 'entered-in-error', { category: [VITALS] }),
  obs('o-inrep', 'pat', 'final'),
  obs('o-panel', 'pat', 'final', { category: [VITALS], hasMember: [{ reference: 'Observation/o-final' }, { reference: 'Observation/o-prelim' }, { reference: 'Observation/o-eie' }] }),
  // Names the same targets as the panel: a page probes each target once for all its rows.
  obs('o-derived', 'pat', 'final', { category: [VITALS], derivedFrom: [{ reference: 'Observation/o-prelim' }, { reference: 'Observation/o-final' }, { reference: 'Observation/o-eie' }] }),
  report('dr-ok', 'pat', ['o-final', 'o-prelim', 'o-held']),
  report('dr-held', 'pat', ['o-inrep']),
  { resourceType: 'Condition', id: 'c-held', code, subject: { reference: 'Patient/pat' } } as Resource,
  { resourceType: 'Goal', id: 'g-1', lifecycleStatus: 'active', description: { text: 'a goal' }, subject: { reference: 'Patient/pat' }, addresses: [{ reference: 'Condition/c-held' }] } as Resource,
  {
    resourceType: 'MedicationRequest',
    id: 'mr-1',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: code,
    subject: { reference: 'Patient/pat' },
    encounter: { reference: 'Encounter/enc-1' },
    reasonReference: [{ reference: 'Condition/c-held', display: 'the held condition' }],
  } as Resource,
  { resourceType: 'Provenance', id: 'prov-mixed', target: [{ reference: 'Observation/o-final' }, { reference: 'Observation/o-prelim' }], recorded: '2026-01-01T00:00:00Z', agent: [{ who: { display: 'lab' } }] } as Resource,
  { resourceType: 'Provenance', id: 'prov-withheld', target: [{ reference: 'Observation/o-prelim' }, { reference: 'Observation/o-held' }], recorded: '2026-01-01T00:00:00Z', agent: [{ who: { display: 'lab' } }] } as Resource,
  // The teen's STI panel: the report carries the label, its result does not.
  report('t-dr', 'teen', ['t-obs'], { meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'STD' }] } }),
  obs('t-obs', 'teen', 'final'),
  obs('t-plain', 'teen', 'final'),
];

let h: Harness;
let pat: string;
let parent: string;
let teen: string;

beforeAll(async () => {
  h = await createHarness(RESOURCES, [
    { ...PAT, fhirUser: 'Patient/pat', patientId: 'pat' },
    { ...PARENT, fhirUser: 'RelatedPerson/rp-parent', parentOf: ['teen'] },
    { ...TEEN, fhirUser: 'Patient/teen', patientId: 'teen' },
  ]);
  const day = 86_400_000;
  const hold = (resourceType: string, resourceId: string) => ({
    resourceType,
    resourceId,
    kind: 'harm' as const,
    harmType: 'life_or_physical_safety' as const,
    sourceId: `hold-${resourceId}`,
    heldFrom: new Date(Date.now() - day),
    releaseAt: new Date(Date.now() + 30 * day),
  });
  await insertHoldItems(h.tdb.db, 'pat', [hold('Observation', 'o-held'), hold('Condition', 'c-held'), hold('DiagnosticReport', 'dr-held')]);
  pat = await h.launch({ user: PAT });
  parent = await h.launch({ user: PARENT, pick: 'teen' });
  teen = await h.launch({ user: TEEN });
});
afterAll(() => h?.destroy());

const ok = async (token: string, path: string) => {
  const res = await h.get(token, path);
  expect([path, res.status]).toEqual([path, 200]);
  return res.body as Record<string, unknown> & { total?: number };
};
const namesWithheld = (body: unknown) => WITHHELD.filter((id) => JSON.stringify(body).includes(`/${id}"`));

describe('references to withheld resources are removed from what is shown', () => {
  test('a single reference goes with its element, a listed one from its list; an emptied list goes too', async () => {
    const mr = await ok(pat, 'MedicationRequest/mr-1');
    expect(mr['reasonReference']).toBeUndefined();
    expect(mr['encounter']).toEqual({ reference: 'Encounter/enc-1' });
    const goal = await ok(pat, 'Goal/g-1');
    expect(goal['addresses']).toBeUndefined();
    expect(goal['description']).toEqual({ text: 'a goal' });
    // A list entry about a withheld resource goes whole; one that says more keeps the rest.
    const enc = await ok(pat, 'Encounter/enc-1');
    expect(enc['diagnosis']).toEqual([{ condition: { reference: 'Condition/c-ok' }, rank: 2 }]);
    const condition = await ok(pat, 'Condition/c-ok');
    expect(condition['evidence']).toEqual([{ code: [code] }]);
    const panel = await ok(pat, 'Observation/o-panel');
    expect(panel['hasMember']).toEqual([{ reference: 'Observation/o-final' }]);
    // A redacted resource carries no ETag: releasing a result changes it without a new version.
    expect((await h.get(pat, 'Goal/g-1')).headers['etag']).toBeUndefined();
    expect((await h.get(pat, 'Patient/pat')).headers['etag']).toBeDefined();
  });

  test('searches, includes and $everything name nothing withheld', async () => {
    for (const path of [
      'MedicationRequest?patient=pat',
      'Goal?patient=pat',
      'Observation?patient=pat',
      'DiagnosticReport?patient=pat&_include=DiagnosticReport:result',
      'Observation?patient=pat&_revinclude=Provenance:target',
      'Provenance',
      'Patient/pat/$everything',
    ]) {
      expect([path, namesWithheld(await ok(pat, path))]).toEqual([path, []]);
    }
    const reports = await ok(pat, 'DiagnosticReport?patient=pat');
    expect(entryIds(reports as never)).toEqual(['DiagnosticReport/dr-ok']);
    // Rows of one page naming the same withheld and visible targets: each row loses exactly the withheld ones.
    const page = (await ok(pat, 'Observation?patient=pat&_count=50')) as { entry: { resource: Record<string, unknown> }[] };
    const byId = new Map(page.entry.map((e) => [e.resource['id'], e.resource]));
    expect([byId.get('o-panel')?.['hasMember'], byId.get('o-derived')?.['derivedFrom']]).toEqual([[{ reference: 'Observation/o-final' }], [{ reference: 'Observation/o-final' }]]);
    expect(byId.get('o-final')?.['encounter']).toEqual({ reference: 'Encounter/enc-1' });
  });
});

describe('a search by reference to a withheld resource finds nothing', () => {
  test.each([
    ['DiagnosticReport?result=Observation/o-held', []],
    ['DiagnosticReport?result=Observation/o-prelim', []],
    ['DiagnosticReport?result=Observation/o-held,Observation/o-final', ['DiagnosticReport/dr-ok']],
    ['Provenance?target=Observation/o-prelim', []],
    ['Provenance?target=Observation/o-final', ['Provenance/prov-mixed']],
    ['Provenance?target=Observation/o-held&_summary=count', []],
  ])('%s', async (path, expected) => {
    const body = await ok(pat, path);
    expect(entryIds(body as never)).toEqual(expected);
    expect(body.total).toBe(expected.length);
  });
});

describe('Provenance and reports', () => {
  test('a Provenance of withheld resources only is withheld; one of some visible resources names those only', async () => {
    expect((await h.get(pat, 'Provenance/prov-withheld')).status).toBe(404);
    const prov = await ok(pat, 'Provenance/prov-mixed');
    expect(prov['target']).toEqual([{ reference: 'Observation/o-final' }]);
    expect((await ok(pat, 'Provenance?_summary=count')).total).toBe(1);
  });

  test("a hold on a report holds its results: they would tell what it says (REL-2)", async () => {
    expect((await h.get(pat, 'DiagnosticReport/dr-held')).status).toBe(404);
    expect((await h.get(pat, 'Observation/o-inrep')).status).toBe(404);
    const labs = await ok(pat, 'Observation?patient=pat&category=laboratory');
    expect(entryIds(labs as never)).toEqual(['Observation/o-final']);
  });

  test("a labelled report hides its unlabelled results from a teen's parent, not from the teen (PRX-3)", async () => {
    for (const path of ['DiagnosticReport/t-dr', 'Observation/t-obs']) expect([path, (await h.get(parent, path)).status]).toEqual([path, 404]);
    expect(entryIds((await ok(parent, 'Observation?patient=teen')) as never)).toEqual(['Observation/t-plain']);
    expect(entryIds((await ok(teen, 'Observation?patient=teen')) as never)).toEqual(['Observation/t-obs', 'Observation/t-plain']);
    expect((await h.get(teen, 'DiagnosticReport/t-dr')).status).toBe(200);
  });
});

describe('the access log names what was withheld, and why (AUD-1)', () => {
  const logged = async (token: string, path: string) => {
    const requestId = randomUUID();
    const res = await h.get(token, path, { 'X-Request-Id': requestId });
    const [row] = (await h.tdb.db('access_log').where({ request_id: requestId })) as { action: string; withheld: { ref: string; reason: string; exception: string }[] | string }[];
    const withheld = typeof row!.withheld === 'string' ? (JSON.parse(row!.withheld) as { ref: string; reason: string; exception: string }[]) : row!.withheld;
    return { status: res.status, action: row!.action, withheld: withheld.map((w) => [w.ref, w.reason, w.exception]) };
  };

  test('a search: every match its scopes cover that the plan left out, with reason and exception', async () => {
    const { action, withheld } = await logged(pat, 'Observation?patient=pat');
    expect(action).toBe('search');
    expect(withheld).toEqual([
      ['Observation/o-eie', 'entered-in-error', 'preventing_harm'],
      ['Observation/o-held', 'harm-hold', 'preventing_harm'],
      ['Observation/o-inrep', 'harm-hold', 'preventing_harm'],
      ['Observation/o-prelim', 'release-status', 'not_yet_final'],
    ]);
    // The next pages name what they returned; the first one named what was withheld.
    expect((await logged(pat, 'Observation?patient=pat&_count=1')).withheld).toHaveLength(4);
    // Sorted, without a total, counted, or with nothing visible: the same account.
    for (const query of ['_sort=-_lastUpdated&_total=none', '_summary=count']) expect((await logged(pat, `Observation?patient=pat&${query}`)).withheld).toEqual(withheld);
    expect((await logged(pat, 'Observation?patient=pat&_id=o-held,o-prelim')).withheld).toEqual([
      ['Observation/o-held', 'harm-hold', 'preventing_harm'],
      ['Observation/o-prelim', 'release-status', 'not_yet_final'],
    ]);
  });

  test('$everything names what the record withheld once: on the entry before the first byte, or on the first page', async () => {
    const expected = [
      ['Condition/c-held', 'harm-hold'],
      ['DiagnosticReport/dr-held', 'harm-hold'],
      ['Observation/o-eie', 'entered-in-error'],
      ['Observation/o-held', 'harm-hold'],
      ['Observation/o-inrep', 'harm-hold'],
      ['Observation/o-prelim', 'release-status'],
      ['Provenance/prov-withheld', 'references-hidden'],
    ];
    const entries = async (requestId: string, n: number) => {
      for (let i = 0; i < 100; i++) {
        const rows = (await h.tdb.db('access_log').where({ request_id: requestId }).orderBy('seq')) as { withheld: { ref: string; reason: string }[] | string }[];
        if (rows.length >= n) return rows.map((r) => (typeof r.withheld === 'string' ? (JSON.parse(r.withheld) as { ref: string; reason: string }[]) : r.withheld).map((w) => [w.ref, w.reason]));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`fewer than ${n} entries for ${requestId}`);
    };
    const streamed = randomUUID();
    expect((await h.get(pat, 'Patient/pat/$everything', { 'X-Request-Id': streamed })).status).toBe(200);
    expect(await entries(streamed, 2)).toEqual([expected, []]);

    const first = randomUUID();
    const page = await h.get(pat, 'Patient/pat/$everything?_count=2', { 'X-Request-Id': first });
    expect(await entries(first, 1)).toEqual([expected]);
    const next = new URL((page.body as { link: { relation: string; url: string }[] }).link.find((l) => l.relation === 'next')!.url);
    const later = randomUUID();
    expect((await h.get(pat, `Patient/pat/$everything${next.search}`, { 'X-Request-Id': later })).status).toBe(200);
    expect(await entries(later, 1)).toEqual([[]]);
    // Asked for one type: what was withheld of that type.
    const conditions = randomUUID();
    await h.get(pat, 'Patient/pat/$everything?_type=Condition', { 'X-Request-Id': conditions });
    expect(await entries(conditions, 2)).toEqual([[['Condition/c-held', 'harm-hold']], []]);
  });

  test("a read refused for a resource of the record says why; another patient's resource is not the record's", async () => {
    expect(await logged(pat, 'Condition/c-held')).toEqual({ status: 404, action: 'denied', withheld: [['Condition/c-held', 'harm-hold', 'preventing_harm']] });
    expect(await logged(pat, 'Observation/t-obs')).toEqual({ status: 404, action: 'denied', withheld: [] });
    expect(await logged(pat, 'Observation/no-such')).toEqual({ status: 404, action: 'denied', withheld: [] });
  });

  test("a teen's parent: the labelled report and the result that would reveal it, as the minor's privacy", async () => {
    const { withheld } = await logged(parent, 'Observation?patient=teen');
    expect(withheld).toEqual([['Observation/t-obs', 'proxy-age-limited', 'privacy_minor']]);
    expect((await logged(parent, 'DiagnosticReport/t-dr')).withheld).toEqual([['DiagnosticReport/t-dr', 'proxy-age-limited', 'privacy_minor']]);
    // The teen's own search withholds nothing.
    expect((await logged(teen, 'Observation?patient=teen')).withheld).toEqual([]);
  });
});
