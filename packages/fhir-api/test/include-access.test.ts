/**
 * _include and _revinclude never widen access: they run through the same access filters as the
 * search itself, so they cannot reach another patient's compartment, an unreleased result, a
 * resource type outside the token's scopes, or what a limited proxy may not see (PRX-3).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { LAB, MARIA, MARIA_ACCOUNT, obs, usCoreFixtures } from './us-core-fixtures.js';
import { createHarness, entryIds, FHIR, type Harness } from './smart-harness.js';
import { writeResources } from '../src/store/resource-writer.js';

const MATEO = { username: 'mateo', password: 'soccer practice', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };

let h: Harness;
let mom: string;
let narrow: string;
let teenProxy: string;
let teenSelf: string;

beforeAll(async () => {
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT, { ...MATEO, fhirUser: 'Patient/teen', patientId: 'teen' }]);
  mom = await h.launch({ user: MARIA, pick: 'self:mom' });
  narrow = await h.launch({ user: MARIA, pick: 'self:mom', scope: 'launch/patient openid patient/MedicationRequest.rs patient/DiagnosticReport.rs patient/CareTeam.rs' });
  teenProxy = await h.launch({ user: MARIA, pick: 'teen' });
  teenSelf = await h.launch({ user: MATEO });
});
afterAll(() => h?.destroy());

const search = async (token: string, path: string) => {
  const res = await h.get(token, path);
  expect([path, res.status]).toEqual([path, 200]);
  return { matches: entryIds(res.body, 'match'), included: entryIds(res.body, 'include'), total: res.body.total as number };
};

describe('includes stay in the patient compartment', () => {
  test('_include does not follow references into another compartment, nor to unreleased results', async () => {
    const reports = await search(mom, 'DiagnosticReport?patient=mom&_include=DiagnosticReport:result');
    expect(reports.matches).toEqual(['DiagnosticReport/mom-report']);
    // mom-report also points at Observation/other-hgb (another patient) and mom-prelim (not released).
    expect(reports.included).toEqual(['Observation/mom-hgb']);
    const team = await search(mom, 'CareTeam?_include=CareTeam:participant');
    expect(team.included).toEqual(['Patient/mom', 'Practitioner/prac-1', 'PractitionerRole/role-1', 'RelatedPerson/mom-rp']);
    expect((await search(mom, 'CareTeam?_include=CareTeam:participant:Patient')).included).toEqual(['Patient/mom']);
    expect((await search(mom, 'CareTeam?_include=CareTeam:participant:RelatedPerson')).included).toEqual(['RelatedPerson/mom-rp']);
    const meds = await search(mom, 'MedicationRequest?_include=MedicationRequest:medication');
    expect(meds.matches).toEqual(['MedicationRequest/mom-mr']);
    expect(meds.included).toEqual(['Medication/med-1']);
  });

  test('naming another patient gets nothing, included or not', async () => {
    for (const path of [
      'MedicationRequest?_id=other-mr&_include=MedicationRequest:medication',
      'MedicationRequest?patient=other&_include=MedicationRequest:medication',
      'Observation?_id=other-hgb&_revinclude=Provenance:target',
      'Observation?patient=other&_revinclude=Provenance:target',
      'Patient?_id=other&_revinclude=Provenance:target',
    ]) {
      const r = await search(mom, path);
      expect([path, r.total, r.matches, r.included]).toEqual([path, 0, [], []]);
    }
  });

  test('_revinclude=Provenance:target returns only the provenance of what matched', async () => {
    const r = await search(mom, 'Observation?_revinclude=Provenance:target');
    expect(r.matches).toEqual(['Observation/mom-hgb']);
    expect(r.included).toEqual(['Provenance/mom-prov']);
    expect((await search(mom, 'Patient?_revinclude=Provenance:target')).included).toEqual(['Provenance/mom-prov']);
    expect((await search(mom, 'Condition?_revinclude=Provenance:target')).included).toEqual([]);
  });

  test('every page carries the includes of its own matches', async () => {
    const first = await h.get(mom, 'CareTeam?_include=CareTeam:participant:Practitioner&_count=1');
    expect(entryIds(first.body, 'include')).toEqual(['Practitioner/prac-1']);
  });
});

describe('includes never widen the token’s scopes', () => {
  test('types outside the granted scopes are not included', async () => {
    const meds = await search(narrow, 'MedicationRequest?_include=MedicationRequest:medication');
    expect(meds.matches).toEqual(['MedicationRequest/mom-mr']);
    expect(meds.included).toEqual([]);
    expect((await search(narrow, 'DiagnosticReport?_include=DiagnosticReport:result')).included).toEqual([]);
    expect((await search(narrow, 'CareTeam?_include=CareTeam:participant')).included).toEqual([]);
    expect((await search(narrow, 'DiagnosticReport?_revinclude=Provenance:target')).included).toEqual([]);
    // And the type itself stays forbidden.
    expect((await h.get(narrow, 'Medication/med-1')).status).toBe(403);
  });
});

describe('a limited proxy (parent of a 15-year-old) never gets labelled data through includes (PRX-3)', () => {
  test('_include of results', async () => {
    const proxy = await search(teenProxy, 'DiagnosticReport?_include=DiagnosticReport:result');
    // teen-panel points at the confidential result: hidden, and so is the result.
    expect(proxy.matches).toEqual(['DiagnosticReport/teen-cbc']);
    expect(proxy.included).toEqual(['Observation/teen-hgb']);
    // The teenager himself sees both (the filter hides, not the data's absence).
    const own = await search(teenSelf, 'DiagnosticReport?_include=DiagnosticReport:result');
    expect(own.matches).toEqual(['DiagnosticReport/teen-cbc', 'DiagnosticReport/teen-panel']);
    expect(own.included).toEqual(['Observation/teen-hgb', 'Observation/teen-sti']);
  });

  test('_revinclude of provenance', async () => {
    const proxy = await search(teenProxy, 'Patient?_revinclude=Provenance:target');
    expect(proxy.matches).toEqual(['Patient/teen']);
    expect(proxy.included).toEqual(['Provenance/teen-prov']);
    const proxyObs = await search(teenProxy, 'Observation?_revinclude=Provenance:target');
    expect(proxyObs.matches).toEqual(['Observation/teen-hgb']);
    expect(proxyObs.included).toEqual(['Provenance/teen-prov']);
    const own = await search(teenSelf, 'Patient?_revinclude=Provenance:target');
    expect(own.included).toEqual(['Provenance/teen-prov', 'Provenance/teen-prov-labelled']);
    expect((await search(teenSelf, 'Observation?_revinclude=Provenance:target')).included).toEqual(['Provenance/teen-prov', 'Provenance/teen-prov-sti']);
  });

  test('a hidden encounter does not reveal where it took place', async () => {
    expect((await search(teenProxy, 'Encounter?_include=Encounter:location')).included).toEqual([]);
    expect((await search(teenSelf, 'Encounter?_include=Encounter:location')).included).toEqual(['Location/loc-1']);
  });

  test('the labelled resources cannot be named directly either', async () => {
    for (const path of ['Observation?_id=teen-sti&_revinclude=Provenance:target', 'DiagnosticReport?_id=teen-panel&_include=DiagnosticReport:result']) {
      const r = await search(teenProxy, path);
      expect([path, r.matches, r.included]).toEqual([path, [], []]);
    }
  });
});

describe('grammar', () => {
  test('an unadvertised include is refused even in lenient mode (it would silently drop data)', async () => {
    const res = await h.get(mom, 'Observation?_include=Observation:patient');
    expect(res.status).toBe(400);
    expect(res.body.issue[0].details.coding[0].code).toBe('UNSUPPORTED_SEARCH_PARAMETER');
    expect((await h.get(mom, 'Patient?_revinclude=Observation:patient')).status).toBe(400);
    expect((await h.get(mom, 'Observation?_include=MedicationRequest:medication')).status).toBe(400);
  });

  test('_include:iterate of an advertised value is accepted', async () => {
    expect((await search(mom, 'MedicationRequest?_include:iterate=MedicationRequest:medication')).included).toEqual(['Medication/med-1']);
  });
});

describe('a report never names a result the reader may not see (REL-7)', () => {
  const resultRefs = (body: { result?: { reference: string }[] }) => (body.result ?? []).map((r) => r.reference);

  test('read, search and $everything drop references to unreleased and foreign Observations', async () => {
    const read = await h.get(mom, 'DiagnosticReport/mom-report');
    expect(read.status).toBe(200);
    // mom-prelim is preliminary (not released), other-hgb is another patient's.
    expect(resultRefs(read.body)).toEqual(['Observation/mom-hgb']);
    // The representation changes when a result is released without a new version: no validator to go stale.
    expect(read.headers['etag']).toBeUndefined();
    const searched = await h.get(mom, 'DiagnosticReport?patient=mom&_include=DiagnosticReport:result');
    const report = searched.body.entry.find((e: { resource: { id: string } }) => e.resource.id === 'mom-report').resource;
    expect(resultRefs(report)).toEqual(['Observation/mom-hgb']);
    const everything = await h.get(mom, 'Patient/mom/$everything');
    const inEverything = everything.body.entry.find((e: { resource: { resourceType: string; id: string } }) => e.resource.resourceType === 'DiagnosticReport' && e.resource.id === 'mom-report').resource;
    expect(resultRefs(inEverything)).toEqual(['Observation/mom-hgb']);
    expect((await h.get(mom, 'Observation/mom-prelim')).status).toBe(404);
  });

  test('without Observation scope the released results are still listed', async () => {
    const read = await h.get(narrow, 'DiagnosticReport/mom-report');
    expect(resultRefs(read.body)).toEqual(['Observation/mom-hgb']);
  });

  test('a limited proxy does not learn of the confidential result; the teenager does', async () => {
    expect(resultRefs((await h.get(teenSelf, 'DiagnosticReport/teen-panel')).body)).toEqual(['Observation/teen-hgb', 'Observation/teen-sti']);
    expect(resultRefs((await h.get(teenSelf, 'DiagnosticReport/teen-cbc')).body)).toEqual(['Observation/teen-hgb']);
    // An unredacted report keeps its validator.
    expect((await h.get(teenSelf, 'DiagnosticReport/teen-cbc')).headers['etag']).toBe('W/"1"');
  });

  test('once the result is amended to a released status it appears, in the report and the include', async () => {
    const amended = { ...obs('mom-prelim', 'mom', 'amended', LAB) };
    await h.tdb.db.transaction((trx) => writeResources(trx, [amended], { fhirBaseUrl: FHIR }));
    expect((await h.get(mom, 'Observation/mom-prelim')).status).toBe(200);
    expect(resultRefs((await h.get(mom, 'DiagnosticReport/mom-report')).body)).toEqual(['Observation/mom-hgb', 'Observation/mom-prelim']);
    const reports = await search(mom, 'DiagnosticReport?patient=mom&_include=DiagnosticReport:result');
    expect(reports.included).toEqual(['Observation/mom-hgb', 'Observation/mom-prelim']);
    expect((await h.get(mom, 'Observation?patient=mom&category=laboratory&_summary=count')).body.total).toBe(2);
  });
});
