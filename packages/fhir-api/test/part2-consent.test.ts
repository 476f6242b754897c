/**
 * IB-2 (45 CFR 171.202(b)) end to end through HTTP: a Condition labelled 42 CFR Part 2 is returned
 * to the patient, hidden from her proxies (read, search, count, $everything) together with what
 * would reveal it (the Encounter that names it as a diagnosis, its Provenance, the result of a
 * labelled report), and the access log names each withheld item with the reason
 * `consent-required` (exception privacy_precondition). Once the patient records her consent for
 * one proxy in the portal API, that proxy's token sees it on the very next request, another proxy
 * still does not; revoking hides it again at once. Only the patient may consent. Every consent
 * states when it expires (42 CFR 2.31(a)(6)); after that instant the proxy no longer sees the record,
 * with no write, and the patient may consent anew. CONSENT_REQUIRED_LABELS decides which labels these are.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { Resource } from '@medplum/fhirtypes';
import { createDelegation, findAccountByUsername, loadConfig, totpAt } from '@patient-access/consent';
import { createHarness, entryIds, type Harness, type User } from './smart-harness.js';

const PAT = { username: 'pat', password: 'long walks', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const CARER = { username: 'carer', password: 'school run', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const CARER2 = { username: 'carer2', password: 'skate park', secret: 'KRUGS4ZANFZSAYLVNZ2CAYLOMQQGC3TE' };
/** Another patient: her sign-ins move the harness clock without touching pat's record (or its access epoch). */
const OTHER = { username: 'other', password: 'quiet lane', secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' };

const PART2 = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' };
const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const LAB_REPORT = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] };
const subject = { reference: 'Patient/pat' };

const RESOURCES = [
  { resourceType: 'Patient', id: 'pat', birthDate: '1980-05-05' },
  { resourceType: 'Patient', id: 'other', birthDate: '1975-01-01' },
  { resourceType: 'Condition', id: 'c-sud', meta: { security: [PART2] }, code: { text: 'opioid use disorder' }, subject },
  { resourceType: 'Condition', id: 'c-flu', code: { text: 'influenza' }, subject },
  { resourceType: 'Encounter', id: 'enc-otp', status: 'finished', class: { code: 'AMB' }, subject, diagnosis: [{ condition: { reference: 'Condition/c-sud' } }, { condition: { reference: 'Condition/c-flu' } }] },
  { resourceType: 'Encounter', id: 'enc-gp', status: 'finished', class: { code: 'AMB' }, subject, diagnosis: [{ condition: { reference: 'Condition/c-flu' } }] },
  { resourceType: 'Provenance', id: 'prov-sud', target: [{ reference: 'Condition/c-sud' }, { reference: 'Patient/pat' }], recorded: '2026-01-01T00:00:00Z', agent: [{ who: { display: 'clinic' } }] },
  // The programme's toxicology panel: the report carries the label, its result does not.
  { resourceType: 'DiagnosticReport', id: 'dr-tox', meta: { security: [PART2] }, status: 'final', category: [LAB_REPORT], code: { text: 'tox' }, subject, result: [{ reference: 'Observation/o-tox' }] },
  { resourceType: 'Observation', id: 'o-tox', status: 'final', category: [LAB], code: { text: 'fentanyl' }, subject },
] as Resource[];

/** Everything that is, or would reveal, the Part 2 record. */
const HIDDEN = ['c-sud', 'enc-otp', 'prov-sud', 'dr-tox', 'o-tox'];

let h: Harness;
let carerId: string;
let carer2Id: string;
let patPortal: TestAgent;
let carerPortal: TestAgent;
let pat: string;
let carer: string;
let carer2: string;
/** The harness clock starts at the real time and moves a minute with each launch (smart-harness.ts): when it started, and the launches since. */
let harnessStarted: number;
let launches = 0;
const launch = (user: User) => {
  launches += 1;
  return h.launch({ user });
};
/** The harness clock now, within the few milliseconds createHarness took to read it. */
const harnessClock = () => harnessStarted + launches * 60_000;
/** A year ahead: well within the ten-year limit, whatever the harness clock. */
const FUTURE = new Date(Date.now() + 365 * 86_400_000).toISOString();

/** Signs in to the portal. Before any launch by `user`: the harness clock then has not moved past the real time, and each later sign-in uses a later TOTP step. */
async function portalLogin(user: User): Promise<TestAgent> {
  const agent = request.agent(h.app);
  let res = await agent.post('/auth/portal/login?next=%2Fapps').type('form').send({ username: user.username, password: user.password });
  expect(res.text).toContain('Verification code');
  res = await agent.post('/auth/portal/mfa?next=%2Fapps').type('form').send({ code: totpAt(user.secret, new Date()) });
  expect(res.status).toBe(302);
  return agent;
}

beforeAll(async () => {
  harnessStarted = Date.now();
  h = await createHarness(RESOURCES, [
    { ...PAT, fhirUser: 'Patient/pat', patientId: 'pat' },
    { ...CARER, fhirUser: 'RelatedPerson/rp-carer' },
    { ...CARER2, fhirUser: 'RelatedPerson/rp-carer2' },
    { ...OTHER, fhirUser: 'Patient/other', patientId: 'other' },
  ]);
  carerId = (await findAccountByUsername(h.tdb.db, CARER.username))!.id;
  carer2Id = (await findAccountByUsername(h.tdb.db, CARER2.username))!.id;
  for (const proxyAccountId of [carerId, carer2Id])
    await createDelegation(h.tdb.db, { patientId: 'pat', proxyAccountId, basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  patPortal = await portalLogin(PAT);
  carerPortal = await portalLogin(CARER);
  pat = await launch(PAT);
  carer = await launch(CARER);
  carer2 = await launch(CARER2);
});
afterAll(() => h?.destroy());

const ok = async (token: string, path: string) => {
  const res = await h.get(token, path);
  expect([path, res.status]).toEqual([path, 200]);
  return res.body as Record<string, unknown> & { total?: number };
};
const namesHidden = (body: unknown) => HIDDEN.filter((id) => JSON.stringify(body).includes(id));

/** What one reader sees of the Part 2 record and what would reveal it. */
async function view(token: string) {
  return {
    conditions: entryIds((await ok(token, 'Condition?patient=pat')) as never),
    count: (await ok(token, 'Condition?patient=pat&_summary=count')).total,
    read: (await h.get(token, 'Condition/c-sud')).status,
    encounters: entryIds((await ok(token, 'Encounter?patient=pat')) as never),
    encounter: (await h.get(token, 'Encounter/enc-otp')).status,
    provenance: entryIds((await ok(token, 'Provenance?target=Condition/c-sud')) as never),
    labs: entryIds((await ok(token, 'DiagnosticReport?patient=pat&_include=DiagnosticReport:result')) as never),
    everything: namesHidden(await ok(token, 'Patient/pat/$everything')),
  };
}
const VISIBLE = {
  conditions: ['Condition/c-flu', 'Condition/c-sud'],
  count: 2,
  read: 200,
  encounters: ['Encounter/enc-gp', 'Encounter/enc-otp'],
  encounter: 200,
  provenance: ['Provenance/prov-sud'],
  labs: ['DiagnosticReport/dr-tox', 'Observation/o-tox'],
  everything: HIDDEN,
};
const WITHHELD = { conditions: ['Condition/c-flu'], count: 1, read: 404, encounters: ['Encounter/enc-gp'], encounter: 404, provenance: [], labs: [], everything: [] };

const logged = async (token: string, path: string) => {
  const requestId = randomUUID();
  const res = await h.get(token, path, { 'X-Request-Id': requestId });
  const [row] = (await h.tdb.db('access_log').where({ request_id: requestId })) as { withheld: { ref: string; reason: string; exception: string }[] | string }[];
  const withheld = typeof row!.withheld === 'string' ? (JSON.parse(row!.withheld) as { ref: string; reason: string; exception: string }[]) : row!.withheld;
  return { status: res.status, withheld: withheld.map((w) => [w.ref, w.reason, w.exception]) };
};

describe('IB-2: Part 2 records and a proxy without the patient\u2019s consent', () => {
  test('IB-2 (d): returned to the patient, with the Encounter that names it', async () => {
    expect(await view(pat)).toEqual(VISIBLE);
    const enc = await ok(pat, 'Encounter/enc-otp');
    expect(enc['diagnosis']).toEqual([{ condition: { reference: 'Condition/c-sud' } }, { condition: { reference: 'Condition/c-flu' } }]);
    expect((await logged(pat, 'Condition?patient=pat')).withheld).toEqual([]);
  });

  test('IB-2 (d): hidden from a proxy with no recorded consent, and nothing shown reveals it', async () => {
    expect(await view(carer)).toEqual(WITHHELD);
    expect(await view(carer2)).toEqual(WITHHELD);
    // The same 404 as a resource that does not exist.
    const [hidden, absent] = [await h.get(carer, 'Condition/c-sud'), await h.get(carer, 'Condition/no-such')];
    expect(JSON.stringify(hidden.body).replaceAll('c-sud', 'X')).toEqual(JSON.stringify(absent.body).replaceAll('no-such', 'X'));
    const enc = await ok(carer, 'Encounter/enc-gp');
    expect(enc['diagnosis']).toEqual([{ condition: { reference: 'Condition/c-flu' } }]);
  });

  test('the access log names each withheld item with the precondition reason (AUD-1)', async () => {
    expect(await logged(carer, 'Condition?patient=pat')).toEqual({ status: 200, withheld: [['Condition/c-sud', 'consent-required', 'privacy_precondition']] });
    expect(await logged(carer, 'Condition/c-sud')).toEqual({ status: 404, withheld: [['Condition/c-sud', 'consent-required', 'privacy_precondition']] });
    // Hidden only because it names the Part 2 Condition: the same reason.
    expect(await logged(carer, 'Encounter/enc-otp')).toEqual({ status: 404, withheld: [['Encounter/enc-otp', 'consent-required', 'privacy_precondition']] });
    expect((await logged(carer, 'Observation?patient=pat')).withheld).toEqual([['Observation/o-tox', 'consent-required', 'privacy_precondition']]);
    // A Provenance could also be one of withheld targets only: named as a reference to a hidden resource.
    expect((await logged(carer, 'Provenance?patient=pat')).withheld).toEqual([['Provenance/prov-sud', 'references-hidden', 'infeasibility_segmentation']]);
  });
});

describe('the portal API: the patient records and revokes her consent, which applies at once', () => {
  test('the API needs a session and JSON, lists her proxies and the labels, and is the patient\u2019s alone', async () => {
    expect((await request(h.app).get('/v1/portal/disclosure-consents')).status).toBe(401);
    expect((await patPortal.post('/v1/portal/disclosure-consents').type('form').send({ proxyAccountId: carerId })).status).toBe(415);
    const list = await patPortal.get('/v1/portal/disclosure-consents');
    expect(list.status).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.body.consents).toEqual([]);
    expect(list.body.recipients.proxies.map((p: { proxyAccountId: string }) => p.proxyAccountId).sort()).toEqual([carerId, carer2Id].sort());
    expect(list.body.labels).toEqual([PART2]);
    // A proxy cannot consent to its own access, nor see the patient's consents.
    const own = await carerPortal.post('/v1/portal/disclosure-consents').send({ recipient: { kind: 'proxy', proxyAccountId: carerId }, expiresAt: FUTURE });
    expect([own.status, own.body.error.code]).toEqual([403, 'NOT_A_PATIENT']);
    expect((await carerPortal.get('/v1/portal/disclosure-consents')).status).toBe(403);
    expect(await view(carer)).toEqual(WITHHELD);
  });

  test.each<[string, Record<string, unknown>, number, string]>([
    ['someone who is not her proxy', { recipient: { kind: 'proxy', proxyAccountId: 'someone-else' }, expiresAt: FUTURE }, 400, 'INVALID_RECIPIENT'],
    ['an app', { recipient: { kind: 'app', clientId: 'x' }, expiresAt: FUTURE }, 400, 'recipient-invalid'],
    ['no recipient', { expiresAt: FUTURE }, 400, 'recipient-invalid'],
    ['a label that needs no consent', { recipient: { kind: 'proxy', proxyAccountId: 'x' }, label: { system: PART2.system, code: 'SUD' }, expiresAt: FUTURE }, 400, 'label-not-consent-required'],
    ['someone else\u2019s record', { patientId: 'other', recipient: { kind: 'proxy', proxyAccountId: 'x' }, expiresAt: FUTURE }, 400, 'UNKNOWN_FIELD'],
  ])('the patient is refused %s', async (_name, body, status, code) => {
    const res = await patPortal.post('/v1/portal/disclosure-consents').send(body);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
  });

  // 42 CFR 2.31(a)(6): the consent states when it expires, as an unambiguous future instant, at most ten years ahead.
  test.each<[string, unknown, string]>([
    ['no expiry', undefined, 'expiry-required'],
    ['a null expiry', null, 'expiry-required'],
    ['a bare date', FUTURE.slice(0, 10), 'expiry-invalid'],
    ['a date-time without a time zone', FUTURE.slice(0, 19), 'expiry-invalid'],
    ['a day that does not exist', '2031-02-30T00:00:00Z', 'expiry-invalid'],
    ['a number', Date.parse(FUTURE), 'expiry-invalid'],
    ['an expiry in the past', '2020-01-01T00:00:00Z', 'expiry-invalid'],
    ['an expiry more than ten years ahead', new Date(Date.now() + 11 * 365 * 86_400_000).toISOString(), 'expiry-invalid'],
  ])('the patient is refused a consent with %s', async (_name, expiresAt, code) => {
    const res = await patPortal.post('/v1/portal/disclosure-consents').send({ recipient: { kind: 'proxy', proxyAccountId: carerId }, ...(expiresAt === undefined ? {} : { expiresAt }) });
    expect([res.status, res.body.error.code, res.body.error.rule]).toEqual([400, code, 'IB-2']);
    expect(JSON.stringify(res.body)).not.toContain(carerId); // the refusal names no one
  });

  test('IB-2 (d): visible to that proxy after the consent is recorded, at once; not to another proxy; hidden again once revoked', async () => {
    const expiresAt = FUTURE.replace(/\.\d+Z$/, '-07:00');
    const created = await patPortal.post('/v1/portal/disclosure-consents').send({ recipient: { kind: 'proxy', proxyAccountId: carerId }, label: PART2, expiresAt, evidence: 'signed-form-0042' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      patientId: 'pat',
      recipient: { kind: 'proxy', proxyAccountId: carerId },
      label: PART2,
      evidence: 'signed-form-0042',
      expiresAt: new Date(expiresAt).toISOString(),
      status: 'active',
      revokedAt: null,
    });
    expect(Date.parse(created.body.grantedAt)).not.toBeNaN();
    // The same token, the very next request.
    expect(await view(carer)).toEqual(VISIBLE);
    expect((await ok(carer, 'Encounter/enc-otp'))['diagnosis']).toEqual([{ condition: { reference: 'Condition/c-sud' } }, { condition: { reference: 'Condition/c-flu' } }]);
    expect((await logged(carer, 'Condition?patient=pat')).withheld).toEqual([]);
    expect(await view(carer2)).toEqual(WITHHELD);
    expect(await view(pat)).toEqual(VISIBLE);

    const duplicate = await patPortal.post('/v1/portal/disclosure-consents').send({ recipient: { kind: 'proxy', proxyAccountId: carerId }, expiresAt: FUTURE });
    expect([duplicate.status, duplicate.body.error.code]).toEqual([409, 'duplicate']);
    // Only the patient revokes.
    expect((await carerPortal.delete(`/v1/portal/disclosure-consents/${created.body.id}`)).status).toBe(403);

    expect((await patPortal.delete(`/v1/portal/disclosure-consents/${created.body.id}`)).status).toBe(204);
    expect(await view(carer)).toEqual(WITHHELD);
    expect(await view(pat)).toEqual(VISIBLE);
    const list = await patPortal.get('/v1/portal/disclosure-consents');
    expect(list.body.consents).toEqual([expect.objectContaining({ id: created.body.id, status: 'revoked' })]);
    expect(Date.parse(list.body.consents[0].revokedAt)).not.toBeNaN();
    const again = await patPortal.delete(`/v1/portal/disclosure-consents/${created.body.id}`);
    expect([again.status, again.body.error.code]).toEqual([409, 'already-revoked']);
    const unknown = await patPortal.delete('/v1/portal/disclosure-consents/no-such-id');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not-found']);
    expect(JSON.stringify(unknown.body)).not.toContain('no-such-id');

    // AUD-1: given and revoked by the patient, in the record's hash-chained log.
    const rows = (await h.tdb.db('access_log').where({ patient_id: 'pat' }).whereLike('action', 'disclosure-consent.%').orderBy('seq')) as { action: string; actor_kind: string; exception: string }[];
    expect(rows.map((r) => [r.action, r.actor_kind, r.exception])).toEqual([
      ['disclosure-consent.grant', 'patient', 'privacy_precondition'],
      ['disclosure-consent.revoke', 'patient', 'privacy_precondition'],
    ]);
  });
});

describe('42 CFR 2.31(a)(6): a consent counts until it expires', () => {
  test('the proxy sees the Part 2 record while the consent is in force, not once it has expired; the patient may then consent anew', async () => {
    // Half a minute past the harness clock: the next launch moves the clock a minute, past it.
    const expiresAt = new Date(harnessClock() + 30_000).toISOString();
    const created = await patPortal.post('/v1/portal/disclosure-consents').send({ recipient: { kind: 'proxy', proxyAccountId: carerId }, expiresAt });
    expect([created.status, created.body.expiresAt, created.body.status]).toEqual([201, expiresAt, 'active']);
    const ahead = Date.parse(expiresAt) - Date.parse(created.body.grantedAt as string);
    expect(ahead > 0 && ahead < 60_000).toBe(true); // the clock estimate held
    expect(await view(carer)).toEqual(VISIBLE);

    const epoch = async () => String(((await h.tdb.db('access_epoch').where({ patient_id: 'pat' }).first()) as { epoch: string | number }).epoch);
    const epochBefore = await epoch();
    await launch(OTHER); // another patient signs in to an app: the harness clock moves a minute, past the expiry
    // Nothing on pat's record changed (the same access epoch, so the same remembered request context):
    // the plan, recomputed at each proxy request at its own instant, no longer counts the consent.
    expect(await epoch()).toBe(epochBefore);
    expect(await view(carer)).toEqual(WITHHELD);
    expect(await epoch()).toBe(epochBefore);
    expect(await logged(carer, 'Condition?patient=pat')).toEqual({ status: 200, withheld: [['Condition/c-sud', 'consent-required', 'privacy_precondition']] });
    expect(await view(carer2)).toEqual(WITHHELD);
    expect(await view(pat)).toEqual(VISIBLE);

    const list = await patPortal.get('/v1/portal/disclosure-consents');
    expect(list.body.consents.find((c: { id: string }) => c.id === created.body.id)).toMatchObject({ status: 'expired', expiresAt, revokedAt: null });
    // Nothing left to revoke.
    const revoke = await patPortal.delete(`/v1/portal/disclosure-consents/${created.body.id}`);
    expect([revoke.status, revoke.body.error.code]).toEqual([409, 'expired']);

    // An expired consent does not block a new one for the same proxy and label.
    const renewed = await patPortal.post('/v1/portal/disclosure-consents').send({ recipient: { kind: 'proxy', proxyAccountId: carerId }, expiresAt: FUTURE });
    expect([renewed.status, renewed.body.status]).toEqual([201, 'active']);
    expect(await view(carer)).toEqual(VISIBLE);
    expect((await patPortal.delete(`/v1/portal/disclosure-consents/${renewed.body.id}`)).status).toBe(204);
    expect(await view(carer)).toEqual(WITHHELD);
  });
});

describe('CONSENT_REQUIRED_LABELS reaches the FHIR API', () => {
  const STATE_LAW = { system: 'urn:oid:2.16.840.1.113883.3.1', code: 'STATE-CONSENT' };
  const LABELLED = [
    { resourceType: 'Patient', id: 'pat', birthDate: '1980-05-05' },
    { resourceType: 'Condition', id: 'c-sud', meta: { security: [PART2] }, code: { text: 'opioid use disorder' }, subject },
    { resourceType: 'Condition', id: 'c-state', meta: { security: [STATE_LAW] }, code: { text: 'state-protected' }, subject },
    { resourceType: 'Condition', id: 'c-flu', code: { text: 'influenza' }, subject },
  ] as Resource[];

  /** The Conditions the patient's caregiver (no consent recorded) sees in a deployment with this setting. */
  async function caregiverSees(setting: string): Promise<{ policy: unknown; conditions: string[]; read: number[] }> {
    const config = loadConfig({ PUBLIC_URL: 'http://localhost:8080', CONSENT_REQUIRED_LABELS: setting });
    const d = await createHarness(LABELLED, [{ ...CARER, fhirUser: 'RelatedPerson/rp-carer' }], { config });
    try {
      const proxyAccountId = (await findAccountByUsername(d.tdb.db, CARER.username))!.id;
      await createDelegation(d.tdb.db, { patientId: 'pat', proxyAccountId, basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
      const token = await d.launch({ user: CARER });
      const search = await d.get(token, 'Condition?patient=pat');
      expect(search.status).toBe(200);
      const read = [(await d.get(token, 'Condition/c-sud')).status, (await d.get(token, 'Condition/c-state')).status];
      return { policy: config.policy.consentRequiredLabels, conditions: entryIds(search.body as never), read };
    } finally {
      await d.destroy();
    }
  }

  test('`none`: a proxy without any consent sees the Part 2 Condition', async () => {
    expect(await caregiverSees('none')).toEqual({ policy: [], conditions: ['Condition/c-flu', 'Condition/c-state', 'Condition/c-sud'], read: [200, 200] });
  });

  test('a state-law label instead of Part 2: that label needs the consent, Part 2 no longer does', async () => {
    expect(await caregiverSees(`${STATE_LAW.system}|${STATE_LAW.code}`)).toEqual({ policy: [STATE_LAW], conditions: ['Condition/c-flu', 'Condition/c-sud'], read: [200, 404] });
  });
});
