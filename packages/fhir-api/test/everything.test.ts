/**
 * GET Patient/{id}/$everything: the token's own patient only (any other id is the 404 of a missing
 * one), everything visible in the compartment under the same per-type search access as a search,
 * plus the shared resources the shown resources reference; streamed whole, or paged with `_count`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { isCompartmentType } from '../src/search/registry.js';
import { MARIA, MARIA_ACCOUNT, READABLE, VITALS, obs, usCoreFixtures } from './us-core-fixtures.js';
import { createHarness, entryIds, FHIR, type Harness } from './smart-harness.js';

const MATEO = { username: 'mateo', password: 'soccer practice', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
/** More than two of the store's 500-row pages of one type. */
const VITAL_COUNT = 1201;
const vitals = Array.from({ length: VITAL_COUNT }, (_, i) => obs(`mom-vital-${String(i).padStart(4, '0')}`, 'mom', 'final', VITALS)) as Resource[];

let h: Harness;
let mom: string;
let narrow: string;
let teenProxy: string;
let teenSelf: string;

beforeAll(async () => {
  h = await createHarness([...usCoreFixtures(), ...vitals], [MARIA_ACCOUNT, { ...MATEO, fhirUser: 'Patient/teen', patientId: 'teen' }]);
  mom = await h.launch({ user: MARIA, pick: 'self:mom' });
  narrow = await h.launch({ user: MARIA, pick: 'self:mom', scope: 'launch/patient openid patient/Patient.rs patient/Observation.rs' });
  teenProxy = await h.launch({ user: MARIA, pick: 'teen' });
  teenSelf = await h.launch({ user: MATEO });
});
afterAll(() => h?.destroy());

interface Bundle {
  resourceType: string;
  type: string;
  link: { relation: string; url: string }[];
  entry?: { fullUrl: string; resource: { resourceType: string; id: string }; search: { mode: string } }[];
}

const everything = async (token: string, id: string, query = '', headers: Record<string, string> = {}) => {
  const res = await h.get(token, `Patient/${id}/$everything${query}`, headers);
  return { res, bundle: (res.status === 200 ? JSON.parse(res.text) : undefined) as Bundle };
};
const relative = (url: string) => {
  const u = new URL(url);
  return u.pathname.replace(/^\/fhir\//, '') + u.search;
};

describe('the own record, streamed', () => {
  let bundle: Bundle;
  beforeAll(async () => {
    const { res, bundle: b } = await everything(mom, 'mom');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(res.headers['cache-control']).toBe('no-store');
    bundle = b;
  });

  test('a searchset Bundle, Patient first, each resource once', () => {
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: `${FHIR}/Patient/mom/$everything` }] });
    expect(bundle.entry![0]).toMatchObject({ fullUrl: `${FHIR}/Patient/mom`, resource: { resourceType: 'Patient', id: 'mom' }, search: { mode: 'match' } });
    const all = entryIds(bundle);
    expect(new Set(all).size).toBe(all.length);
  });

  test('every visible resource of the compartment, thousands included', () => {
    const matches = entryIds(bundle, 'match');
    const compartment = Object.entries(READABLE).filter(([type]) => isCompartmentType(type)).map(([type, id]) => `${type}/${id}`);
    expect(matches).toEqual(expect.arrayContaining(compartment));
    expect(matches.filter((id) => id.startsWith('Observation/mom-vital-'))).toHaveLength(VITAL_COUNT);
    expect(matches).toHaveLength(compartment.length + VITAL_COUNT);
  });

  test('nothing of another patient, nothing unreleased', () => {
    const all = entryIds(bundle);
    for (const id of ['Patient/other', 'Observation/other-hgb', 'Provenance/other-prov', 'RelatedPerson/other-rp', 'MedicationRequest/other-mr', 'Medication/med-other', 'Observation/mom-prelim']) {
      expect(all).not.toContain(id);
    }
    expect(all.some((id) => id.includes('teen'))).toBe(false);
  });

  test('the shared resources the record references, and no others', () => {
    expect(entryIds(bundle, 'include')).toEqual(['Location/loc-1', 'Medication/med-1', 'Organization/org-1', 'Practitioner/prac-1', 'PractitionerRole/role-1']);
  });
});

describe('only the own patient', () => {
  test('any other id is 404 with the body of an id that does not exist', async () => {
    const other = await everything(mom, 'other');
    const missing = await everything(mom, 'nobody-here');
    expect(other.res.status).toBe(404);
    expect(missing.res.status).toBe(404);
    expect(JSON.stringify(other.res.body).replaceAll('other', 'ID')).toBe(JSON.stringify(missing.res.body).replaceAll('nobody-here', 'ID'));
    // The same answer as reading it.
    const read = await h.get(mom, 'Patient/other');
    expect(other.res.body).toEqual(read.body);
    expect((await everything(mom, 'teen')).res.status).toBe(404);
    expect((await everything(teenProxy, 'mom')).res.status).toBe(404);
    expect((await everything(mom, 'bad id!')).res.status).toBe(404);
  });

  test('the operation name may be percent-encoded', async () => {
    const res = await h.get(mom, 'Patient/mom/%24everything?_type=Patient');
    expect(res.status).toBe(200);
    expect(entryIds(JSON.parse(res.text))).toEqual(['Patient/mom']);
  });

  test('without a token: 401', async () => {
    const res = await h.get('not-a-token', 'Patient/mom/$everything');
    expect(res.status).toBe(401);
  });
});

describe('the same access as a search', () => {
  test('a limited proxy gets no labelled resource, nothing that points at one, nor what only those reference', async () => {
    const { bundle } = await everything(teenProxy, 'teen');
    expect(entryIds(bundle, 'match')).toEqual(['DiagnosticReport/teen-cbc', 'Observation/teen-hgb', 'Patient/teen', 'Provenance/teen-prov']);
    // Location/loc-1 (only the hidden encounter's) and Organization/org-1 (only teen-prov-sti's) stay out.
    expect(entryIds(bundle, 'include')).toEqual(['Practitioner/prac-1']);
    const own = await everything(teenSelf, 'teen');
    expect(entryIds(own.bundle, 'match')).toEqual([
      'Condition/teen-confidential',
      'DiagnosticReport/teen-cbc',
      'DiagnosticReport/teen-panel',
      'Encounter/teen-clinic',
      'Observation/teen-hgb',
      'Observation/teen-sti',
      'Patient/teen',
      'Provenance/teen-prov',
      'Provenance/teen-prov-labelled',
      'Provenance/teen-prov-sti',
    ]);
    expect(entryIds(own.bundle, 'include')).toEqual(['Location/loc-1', 'Organization/org-1', 'Practitioner/prac-1']);
  });

  test('only the types the scopes grant', async () => {
    const { bundle } = await everything(narrow, 'mom');
    const types = new Set(entryIds(bundle).map((id) => id.split('/')[0]));
    expect([...types].sort()).toEqual(['Observation', 'Patient']);
  });

  test('a token that may not search Patient is refused', async () => {
    const noPatient = await h.launch({ user: MARIA, pick: 'self:mom', scope: 'launch/patient openid patient/Observation.rs' });
    expect((await everything(noPatient, 'mom')).res.status).toBe(403);
  });
});

describe('paging and parameters', () => {
  test('_count pages through the same record; the next link is bound to the grant', async () => {
    const streamed = entryIds((await everything(mom, 'mom')).bundle, 'match');
    const paged: string[] = [];
    let { res, bundle } = await everything(mom, 'mom', '?_count=400');
    let pages = 1;
    let nextUrl: string | undefined;
    for (;;) {
      expect(res.status).toBe(200);
      expect(bundle.entry!.filter((e) => e.search.mode === 'match').length).toBeLessThanOrEqual(400);
      paged.push(...entryIds(bundle, 'match'));
      nextUrl = bundle.link.find((l) => l.relation === 'next')?.url;
      if (!nextUrl) break;
      expect(nextUrl).toContain('_count=400');
      if (pages === 1) {
        // Another grant (even the same user's) cannot use the cursor.
        expect((await h.get(narrow, relative(nextUrl))).status).toBe(400);
        expect((await h.get(mom, relative(nextUrl).replace(/_cursor=[^&]+/, '_cursor=eyJ0IjoiT2JzZXJ2YXRpb24ifQ'))).status).toBe(400);
      }
      res = await h.get(mom, relative(nextUrl));
      bundle = JSON.parse(res.text) as Bundle;
      pages++;
    }
    expect(pages).toBe(Math.ceil(streamed.length / 400));
    expect(paged.sort()).toEqual(streamed);
  });

  test('_type and _since narrow; invalid values are 400', async () => {
    const typed = await everything(mom, 'mom', '?_type=Condition,Encounter');
    expect(entryIds(typed.bundle, 'match')).toEqual(['Condition/mom-condition', 'Encounter/mom-enc']);
    expect(typed.bundle.link[0]!.url).toBe(`${FHIR}/Patient/mom/$everything?_type=Condition%2CEncounter`);
    expect((await everything(mom, 'mom', '?_type=Claim')).res.status).toBe(400);
    const future = await everything(mom, 'mom', '?_since=2999-01-01T00:00:00Z');
    expect(future.res.status).toBe(200);
    expect(future.bundle.entry).toBeUndefined();
    expect(entryIds((await everything(mom, 'mom', '?_since=2000-01-01T00:00:00Z&_type=Patient')).bundle)).toEqual(['Patient/mom']);
    expect((await everything(mom, 'mom', '?_since=yesterday')).res.status).toBe(400);
    expect((await everything(mom, 'mom', '?_count=0')).res.status).toBe(400);
    expect((await everything(mom, 'mom', '?_count=5&_count=6')).res.status).toBe(400);
  });

  test('unknown parameters: 400 when strict, ignored (and left out of the self link) when lenient', async () => {
    const strict = await everything(mom, 'mom', '?start=2020-01-01', { Prefer: 'handling=strict' });
    expect(strict.res.status).toBe(400);
    const lenient = await everything(mom, 'mom', '?start=2020-01-01&_type=Patient');
    expect(lenient.res.status).toBe(200);
    expect(lenient.bundle.link[0]!.url).toBe(`${FHIR}/Patient/mom/$everything?_type=Patient`);
  });
});

describe('the access log names what $everything sent (AUD-1)', () => {
  const entriesOf = async (requestId: string) => {
    await h.accessLog.flush();
    return (await h.tdb.db('access_log').where({ patient_id: 'mom', action: 'everything', request_id: requestId })) as { returned_ids: string[]; result_count: number }[];
  };

  test('streamed: an entry before the first byte, then one with every id sent, shared resources included', async () => {
    const { res, bundle } = await everything(mom, 'mom', '?_type=Condition,Encounter,Location');
    // The first entry (no ids) is committed before the response; the second is written when the
    // stream ends, after the response: wait for it (input-hardening.test.ts tests the order).
    let all: Awaited<ReturnType<typeof entriesOf>> = [];
    for (let i = 0; i < 50 && all.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      all = await entriesOf(res.headers['x-request-id'] as string);
    }
    expect(all).toHaveLength(2);
    const rows = all.filter((r) => r.returned_ids?.length);
    expect(rows).toHaveLength(1);
    expect([...rows[0]!.returned_ids].sort()).toEqual(entryIds(bundle));
    expect(rows[0]!.result_count).toBe(entryIds(bundle).length);
    expect(rows[0]!.returned_ids).toEqual(expect.arrayContaining(['Condition/mom-condition', 'Encounter/mom-enc', 'Location/loc-1']));
  });

  test('paged: each page’s entry names that page’s ids', async () => {
    const { res, bundle } = await everything(mom, 'mom', '?_count=3&_type=Condition,Encounter,Immunization,Procedure');
    const rows = await entriesOf(res.headers['x-request-id'] as string);
    expect(rows).toHaveLength(1);
    expect([...rows[0]!.returned_ids].sort()).toEqual(entryIds(bundle));
  });
});
