/**
 * Harm holds through HTTP (REL-2, REL-3, PRX-5), the whole server: a signed-in clinician places
 * an individualized hold on named resources of one patient; the FHIR API hides them in the query
 * (read 404 like a missing id, search and counts without them); the patient asks for review; a
 * different clinician decides it; a lifted hold releases on the next request; the hold's record
 * keeps the trail (decided, review requested, reviewed, lifted). (Setup follows server.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { authServerMigrations } from '@patient-access/auth-server';
import {
  consentMigrations,
  createAccessLogWriter,
  createAccount,
  createDelegation,
  createLogger,
  createRateLimits,
  createTestDatabase,
  listHoldItems,
  loadConfig,
  totpAt,
  type AccessLogWriter,
  type TestDatabase,
} from '@patient-access/consent';
import { fhirApiMigrations, writeResources } from '@patient-access/fhir-api';
import type { Resource } from '@medplum/fhirtypes';
import { createServerApp } from './server.js';

const config = loadConfig({ PUBLIC_URL: 'http://localhost:8080' });
const FHIR = config.fhirBaseUrl;
const REDIRECT = 'http://localhost:9999/callback';
let clock = new Date();
const now = () => clock;
const DAY = 86_400_000;

let tdb: TestDatabase;
let app: NonNullable<Parameters<typeof request.agent>[0]>;
let accessLog: AccessLogWriter;
let mariaId: string;
const rateLimits = createRateLimits({
  redisUrl: process.env['REDIS_URL'],
  keyPrefix: `test-${randomBytes(4).toString('hex')}`,
  policies: { registration: { points: 1000, durationSeconds: 3600 } },
});

const MARIA = { username: 'maria', password: 'correct horse', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const GRANDPA = { username: 'grandpa', password: 'fishing trip', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const DOC = { username: 'dr.house', password: 'vicodin please', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };
const DOC2 = { username: 'dr.cuddy', password: 'dean of medicine', secret: 'MZXW6YTBOI3TEMRSGQ2DKNJWG44TQOJQ' };
type User = typeof MARIA;

const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const obs = (id: string, loinc: string) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [LAB],
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: 'Patient/mom' },
  effectiveDateTime: '2026-10-01',
});
const FIXTURE_RESOURCES = [
  { resourceType: 'Patient', id: 'mom', name: [{ given: ['Maria'], family: 'Lopez' }], birthDate: '1984-03-02' },
  obs('o1', '2160-0'),
  obs('o2', '718-7'),
  obs('o3', '2345-7'),
  obs('o4', '2951-2'),
] as Resource[];

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  const db = tdb.db;
  await db.transaction((trx) => writeResources(trx, FIXTURE_RESOURCES, { fhirBaseUrl: FHIR }));
  mariaId = (await createAccount(db, { username: MARIA.username, displayName: 'Maria', password: MARIA.password, totpSecret: MARIA.secret, fhirUser: 'Patient/mom', patientId: 'mom' })).id;
  const grandpa = await createAccount(db, { username: GRANDPA.username, displayName: 'Grandpa', password: GRANDPA.password, totpSecret: GRANDPA.secret, fhirUser: 'RelatedPerson/rp-grandpa' });
  await createAccount(db, { username: DOC.username, displayName: 'Dr House', password: DOC.password, totpSecret: DOC.secret, fhirUser: 'Practitioner/prac-9' });
  await createAccount(db, { username: DOC2.username, displayName: 'Dr Cuddy', password: DOC2.password, totpSecret: DOC2.secret, fhirUser: 'Practitioner/prac-2' });
  await createDelegation(db, { patientId: 'mom', proxyAccountId: grandpa.id, basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  app = (await createServerApp({ config, db, log: createLogger('silent', 'test'), now, rateLimits, accessLog: (accessLog = createAccessLogWriter(db)) })).callback();
});

afterAll(async () => {
  await accessLog?.close();
  await rateLimits.close();
  await tdb?.destroy();
});

/** A complete standalone launch by `user` (one record each: no picker); returns the access token. */
async function launch(user: User): Promise<string> {
  const agent = request.agent(app);
  const reg = await agent.post('/auth/register').send({ client_name: 'Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
  expect(reg.status).toBe(201);
  const clientId = reg.body.client_id as string;
  const { verifier, challenge } = pkce();
  const query = { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient openid fhirUser patient/*.rs', state: 's', aud: FHIR, code_challenge: challenge, code_challenge_method: 'S256' };
  let res = await agent.get('/auth/authorize').query(query);
  const interaction = new URL(res.headers['location'] as string, 'http://localhost:8080').pathname;
  await agent.get(interaction);
  res = await agent.post(`${interaction}/login`).type('form').send({ username: user.username, password: user.password });
  clock = new Date(clock.getTime() + 60_000);
  res = await agent.post(`${interaction}/mfa`).type('form').send({ code: totpAt(user.secret, now()) });
  let consentPath = interaction;
  while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
    const next = new URL(res.headers['location'] as string, 'http://localhost:8080');
    if (next.pathname.includes('/interaction/')) consentPath = next.pathname.replace(/\/$/, '');
    res = await agent.get(next.pathname + next.search);
  }
  expect(res.text).toContain('Allow access?');
  const offered = [...res.text.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!.replace(/&#42;/g, '*'));
  res = await agent.post(`${consentPath}/consent`).type('form').send(offered.map((s) => `scope=${encodeURIComponent(s)}`).join('&') + '&decision=allow');
  while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
    const next = new URL(res.headers['location'] as string, 'http://localhost:8080');
    res = await agent.get(next.pathname + next.search);
  }
  const code = new URL(res.headers['location'] as string).searchParams.get('code');
  const token = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
  expect(token.status).toBe(200);
  expect(token.body.patient).toBe('mom');
  return token.body.access_token as string;
}

async function portalLogin(user: User): Promise<TestAgent> {
  const agent = request.agent(app);
  let res = await agent.post('/auth/portal/login?next=%2Fapps').type('form').send({ username: user.username, password: user.password });
  expect(res.text).toContain('Verification code');
  clock = new Date(clock.getTime() + 60_000);
  res = await agent.post('/auth/portal/mfa?next=%2Fapps').type('form').send({ code: totpAt(user.secret, now()) });
  expect(res.status).toBe(302);
  return agent;
}

const fhir = (token: string, path: string) => request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`);
const ids = (bundle: { entry?: { resource: { id: string } }[] }) => (bundle.entry ?? []).map((e) => e.resource.id).sort();
/** The reader's view of mom's Observations: ids, total and _summary=count. */
async function seen(token: string) {
  const all = await fhir(token, 'Observation?patient=mom');
  const count = await fhir(token, 'Observation?patient=mom&_summary=count');
  expect(count.body.total).toBe(all.body.total);
  expect(all.body.total).toBe(ids(all.body).length);
  return ids(all.body);
}

const holdBody = (extra: Record<string, unknown> = {}) => ({
  patientId: 'mom',
  resources: [{ resourceType: 'Observation', resourceId: 'o1' }],
  decidedBy: 'Practitioner/prac-9',
  licenseAttestation: 'MD, CA A12345',
  relationshipBasis: 'current',
  harmType: 'life_or_physical_safety',
  reason: 'result reasonably likely to endanger the patient (documented in encounter E1)',
  expiresAt: new Date(clock.getTime() + 14 * DAY).toISOString(),
  ...extra,
});

describe('harm holds over HTTP (REL-2, REL-3, PRX-5)', () => {
  let maria: TestAgent;
  let doc: TestAgent;
  let doc2: TestAgent;
  let momToken: string;
  let grandpaToken: string;

  beforeAll(async () => {
    momToken = await launch(MARIA);
    grandpaToken = await launch(GRANDPA);
    maria = await portalLogin(MARIA);
    doc = await portalLogin(DOC);
    doc2 = await portalLogin(DOC2);
  });

  test('only a signed-in clinician may place a hold; JSON only', async () => {
    expect((await request(app).post('/v1/staff/harm-holds').send(holdBody())).status).toBe(401);
    const patient = await maria.post('/v1/staff/harm-holds').send(holdBody());
    expect(patient.status).toBe(403);
    expect(patient.body.error.code).toBe('STAFF_ONLY');
    expect((await doc.post('/v1/staff/harm-holds').type('form').send({ patientId: 'mom' })).status).toBe(415);
    // A clinician records their own determination, not a colleague's.
    const other = await doc.post('/v1/staff/harm-holds').send(holdBody({ decidedBy: 'Practitioner/prac-2' }));
    expect(other.status).toBe(403);
    expect(await seen(momToken)).toEqual(['o1', 'o2', 'o3', 'o4']);
  });

  test.each<[string, Record<string, unknown>]>([
    ['a test code instead of a patient and resources', { patientId: undefined, resources: undefined, scope: { code: 'LOINC 2160-0' } }],
    ['every creatinine result by code', { resources: undefined, code: 'http://loinc.org|2160-0' }],
    ['a category of a patient', { category: 'laboratory' }],
    ['no resources', { resources: [] }],
    ['a wildcard resource', { resources: [{ resourceType: 'Observation', resourceId: '*' }] }],
  ])('REL-2 (d)(2): %s → 400 "holds must name a patient and resources"', async (_name, change) => {
    const res = await doc.post('/v1/staff/harm-holds').send(holdBody(change));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'hold-scope-required', rule: 'REL-2' });
    expect(res.body.error.message).toContain('holds must name a patient and resources');
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['no practitioner id (REL-2 (d)(3))', { decidedBy: undefined }, 'practitioner-required'],
    ['a blank practitioner id', { decidedBy: '' }, 'practitioner-required'],
    ['emotional distress', { harmType: 'emotional_distress' }, 'harm-type-invalid'],
    ['no license attestation', { licenseAttestation: ' ' }, 'license-attestation-required'],
    ['no reason', { reason: '' }, 'reason-required'],
    ['no end', { expiresAt: undefined }, 'end-required'],
    ['an end that is not a date', { expiresAt: 'soon' }, 'end-required'],
  ])('a hold with %s → 400 %s', async (_name, change, code) => {
    const res = await doc.post('/v1/staff/harm-holds').send(holdBody(change));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
  });

  test('an unknown patient is refused', async () => {
    const res = await doc.post('/v1/staff/harm-holds').send(holdBody({ patientId: 'nobody' }));
    expect(res.status).toBe(400);
  });

  test('REL-2 (d)(1) and REL-3 (d): held O1 is 404 like a missing id and left out of search and counts; review by the decider is 409; another clinician lifts it and it shows on the next request; the trail is kept', async () => {
    expect(await seen(momToken)).toEqual(['o1', 'o2', 'o3', 'o4']);
    const placed = await doc.post('/v1/staff/harm-holds').send(holdBody());
    expect(placed.status).toBe(201);
    const hold = placed.body as { id: string };
    expect(placed.body).toMatchObject({ patientId: 'mom', status: 'active', decidedBy: 'Practitioner/prac-9', harmType: 'life_or_physical_safety', resources: [{ resourceType: 'Observation', resourceId: 'o1' }] });

    // (1) read → 404, the same body as an id that does not exist
    const held = await fhir(momToken, 'Observation/o1');
    const missing = await fhir(momToken, 'Observation/o-missing');
    expect(held.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(held.body).replaceAll('o1', 'ID')).toBe(JSON.stringify(missing.body).replaceAll('o-missing', 'ID'));
    // search omits O1, total and _summary=count exclude it; O2 (no hold) is still there
    expect(await seen(momToken)).toEqual(['o2', 'o3', 'o4']);
    expect(await seen(grandpaToken)).toEqual(['o2', 'o3', 'o4']); // a representative is bound too
    expect(ids((await fhir(momToken, 'Observation?patient=mom&code=http://loinc.org|2160-0')).body)).toEqual([]);

    // The patient sees that something is withheld and how to ask for review, not what.
    const mine = await maria.get('/v1/portal/harm-holds');
    expect(mine.status).toBe(200);
    expect(mine.body.holds).toEqual([expect.objectContaining({ id: hold.id, status: 'active', withheldResourceCount: 1, reviewRequestedAt: null })]);
    expect(JSON.stringify(mine.body)).not.toContain('o1');
    expect(JSON.stringify(mine.body)).not.toContain('endanger');

    // No review before the patient asks for one.
    const early = await doc2.post(`/v1/staff/harm-holds/${hold.id}/review`).send({ patientId: 'mom', outcome: 'lifted' });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('review-not-requested');

    // REL-3: the patient asks for review.
    clock = new Date(clock.getTime() + 60_000);
    expect((await request(app).post(`/v1/portal/harm-holds/${hold.id}/review-request`).send({})).status).toBe(401);
    const asked = await maria.post(`/v1/portal/harm-holds/${hold.id}/review-request`).send({});
    expect(asked.status).toBe(200);
    expect(Date.parse(asked.body.reviewRequestedAt)).not.toBeNaN();
    expect((await maria.post('/v1/portal/harm-holds/no-such-hold/review-request').send({})).status).toBe(404);

    // The clinician who decided may not review it (409); a patient may not review at all.
    const self = await doc.post(`/v1/staff/harm-holds/${hold.id}/review`).send({ patientId: 'mom', outcome: 'lifted' });
    expect(self.status).toBe(409);
    expect(self.body.error.code).toBe('reviewer-conflict');
    expect((await maria.post(`/v1/staff/harm-holds/${hold.id}/review`).send({ patientId: 'mom', outcome: 'lifted' })).status).toBe(403);
    expect(await seen(momToken)).toEqual(['o2', 'o3', 'o4']);

    // Another clinician lifts it: visible on the very next request.
    clock = new Date(clock.getTime() + 60_000);
    const lifted = await doc2.post(`/v1/staff/harm-holds/${hold.id}/review`).send({ patientId: 'mom', outcome: 'lifted', note: 'no danger after discussion' });
    expect(lifted.status).toBe(200);
    expect(lifted.body).toMatchObject({ status: 'lifted', reviewOutcome: 'lifted', reviewerId: 'Practitioner/prac-2' });
    expect((await fhir(momToken, 'Observation/o1')).status).toBe(200);
    expect(await seen(momToken)).toEqual(['o1', 'o2', 'o3', 'o4']);
    const again = await doc2.post(`/v1/staff/harm-holds/${hold.id}/review`).send({ patientId: 'mom', outcome: 'upheld' });
    expect(again.status).toBe(409);

    // The record shows the determination, the review request, the review and the lift.
    const trail = await doc.get(`/v1/staff/harm-holds/${hold.id}?patient=mom`);
    expect(trail.status).toBe(200);
    expect(trail.body).toMatchObject({
      decidedBy: 'Practitioner/prac-9',
      licenseAttestation: 'MD, CA A12345',
      relationshipBasis: 'current',
      reviewRequestedBy: mariaId,
      reviewerId: 'Practitioner/prac-2',
      reviewOutcome: 'lifted',
      reviewNote: 'no danger after discussion',
      liftedBy: 'Practitioner/prac-2',
      liftReason: 'review',
      status: 'lifted',
    });
    const t = (k: string) => Date.parse(trail.body[k] as string);
    expect(t('createdAt')).toBeLessThan(t('reviewRequestedAt'));
    expect(t('reviewRequestedAt')).toBeLessThan(t('reviewedAt'));
    expect(t('liftedAt')).toBe(t('reviewedAt'));
    const [item] = await listHoldItems(tdb.db, 'mom', { resourceType: 'Observation', resourceId: 'o1' });
    expect(item).toMatchObject({ kind: 'harm', sourceId: hold.id, releasedBy: 'Practitioner/prac-2', releaseReason: 'review-lifted' });
    expect((await doc.get(`/v1/staff/harm-holds/${hold.id}?patient=other`)).status).toBe(404);
  });

  test('an upheld review keeps the hold; the deciding clinician can still lift it early', async () => {
    const placed = await doc.post('/v1/staff/harm-holds').send(holdBody({ resources: [{ resourceType: 'Observation', resourceId: 'o2' }] }));
    expect(placed.status).toBe(201);
    expect((await maria.post(`/v1/portal/harm-holds/${placed.body.id}/review-request`)).status).toBe(200);
    const upheld = await doc2.post(`/v1/staff/harm-holds/${placed.body.id}/review`).send({ patientId: 'mom', outcome: 'upheld' });
    expect(upheld.status).toBe(200);
    expect(upheld.body).toMatchObject({ status: 'active', reviewOutcome: 'upheld' });
    expect(await seen(momToken)).toEqual(['o1', 'o3', 'o4']);
    expect((await doc.post(`/v1/staff/harm-holds/${placed.body.id}/lift`).send({ patientId: 'mom' })).status).toBe(400); // a reason is required
    const lifted = await doc.post(`/v1/staff/harm-holds/${placed.body.id}/lift`).send({ patientId: 'mom', reason: 'discussed in person' });
    expect(lifted.status).toBe(200);
    expect(lifted.body).toMatchObject({ status: 'lifted', liftedBy: 'Practitioner/prac-9' });
    expect(await seen(momToken)).toEqual(['o1', 'o2', 'o3', 'o4']);
    expect((await doc.get('/v1/staff/harm-holds?patient=mom')).body.holds).toHaveLength(2);
  });

  test('PRX-5: a substantial-harm hold withholds from the representative, not from the patient; the representative may ask for review', async () => {
    const placed = await doc.post('/v1/staff/harm-holds').send(holdBody({ harmType: 'substantial_harm', relationshipBasis: 'prior', resources: [{ resourceType: 'Observation', resourceId: 'o3' }] }));
    expect(placed.status).toBe(201);
    expect(await seen(grandpaToken)).toEqual(['o1', 'o2', 'o4']);
    expect((await fhir(grandpaToken, 'Observation/o3')).status).toBe(404);
    expect(await seen(momToken)).toEqual(['o1', 'o2', 'o3', 'o4']);
    // The patient is not withheld from, so it is not in her list; the representative sees it in theirs.
    expect((await maria.get('/v1/portal/harm-holds')).body.holds.map((h: { id: string }) => h.id)).not.toContain(placed.body.id);
    const grandpa = await portalLogin(GRANDPA);
    const list = await grandpa.get('/v1/portal/harm-holds?patient=mom');
    expect(list.body.holds.map((h: { id: string }) => h.id)).toEqual([placed.body.id]);
    expect((await grandpa.get('/v1/portal/harm-holds?patient=other')).status).toBe(404);
    const asked = await grandpa.post(`/v1/portal/harm-holds/${placed.body.id}/review-request`).send({ patientId: 'mom' });
    expect(asked.status).toBe(200);
    const trail = await doc2.get(`/v1/staff/harm-holds/${placed.body.id}?patient=mom`);
    expect(trail.body).toMatchObject({ harmType: 'substantial_harm', decidedBy: 'Practitioner/prac-9' });
    expect(trail.body.reviewRequestedBy).not.toBe(mariaId);
    const lifted = await doc2.post(`/v1/staff/harm-holds/${placed.body.id}/review`).send({ patientId: 'mom', outcome: 'lifted' });
    expect(lifted.body).toMatchObject({ reviewerId: 'Practitioner/prac-2', reviewOutcome: 'lifted' });
    expect(await seen(grandpaToken)).toEqual(['o1', 'o2', 'o3', 'o4']);
  });
});
