/**
 * IB-1 end to end through HTTP (supertest, the whole server): the patient restricts a category
 * from one proxy or one app in the portal API; the FHIR API omits it from that reader's reads,
 * searches and counts on the very next request, never from the patient's own access; staff may
 * only record a restriction with the patient's request; ending it restores access at once.
 * (Setup follows scripts/src/server.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { decodeJwt } from 'jose';
import { authServerMigrations } from '@patient-access/auth-server';
import {
  OBSERVATION_CATEGORY_SYSTEM,
  consentMigrations,
  createAccessLogWriter,
  createAccount,
  createDelegation,
  createLogger,
  createRateLimits,
  createTestDatabase,
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
// Starts at the real time: oidc-provider stamps tokens with the system clock.
let clock = new Date();
const now = () => clock;

let tdb: TestDatabase;
let app: NonNullable<Parameters<typeof request.agent>[0]>;
let accessLog: AccessLogWriter;
let grandpaId: string;
let auntId: string;
const rateLimits = createRateLimits({
  redisUrl: process.env['REDIS_URL'],
  keyPrefix: `test-${randomBytes(4).toString('hex')}`,
  policies: { registration: { points: 1000, durationSeconds: 3600 } },
});

const MARIA = { username: 'maria', password: 'correct horse', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const GRANDPA = { username: 'grandpa', password: 'fishing trip', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const AUNT = { username: 'aunt.rosa', password: 'garden party', secret: 'ONSWG4TFORZWK4TUMVZXI2LOM5SGC3TB' };
const DOC = { username: 'dr.house', password: 'vicodin please', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };
type User = typeof MARIA;

const SOCIAL = { system: OBSERVATION_CATEGORY_SYSTEM, code: 'social-history' };
const category = (code: string) => ({ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code }] });
const obs = (id: string, code: string, loinc: string) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [category(code)],
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: 'Patient/mom' },
  effectiveDateTime: '2026-10-01',
});
const FIXTURE_RESOURCES = [
  { resourceType: 'Patient', id: 'mom', name: [{ given: ['Maria'], family: 'Lopez' }], birthDate: '1984-03-02' },
  obs('mom-smoking', 'social-history', '72166-2'),
  obs('mom-alcohol', 'social-history', '11331-6'),
  obs('mom-hgb', 'laboratory', '718-7'),
  obs('mom-bp', 'vital-signs', '85354-9'),
] as Resource[];

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  const db = tdb.db;
  await db.transaction((trx) => writeResources(trx, FIXTURE_RESOURCES, { fhirBaseUrl: FHIR }));
  await createAccount(db, { username: MARIA.username, displayName: 'Maria', password: MARIA.password, totpSecret: MARIA.secret, fhirUser: 'Patient/mom', patientId: 'mom' });
  grandpaId = (await createAccount(db, { username: GRANDPA.username, displayName: 'Grandpa', password: GRANDPA.password, totpSecret: GRANDPA.secret, fhirUser: 'RelatedPerson/rp-grandpa' })).id;
  auntId = (await createAccount(db, { username: AUNT.username, displayName: 'Aunt Rosa', password: AUNT.password, totpSecret: AUNT.secret, fhirUser: 'RelatedPerson/rp-aunt' })).id;
  await createAccount(db, { username: DOC.username, displayName: 'Dr House', password: DOC.password, totpSecret: DOC.secret, fhirUser: 'Practitioner/prac-9' });
  for (const proxy of [grandpaId, auntId]) await createDelegation(db, { patientId: 'mom', proxyAccountId: proxy, basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  app = (await createServerApp({ config, db, log: createLogger('silent', 'test'), now, rateLimits, accessLog: (accessLog = createAccessLogWriter(db)) })).callback();
});

afterAll(async () => {
  await accessLog?.close();
  await rateLimits.close();
  await tdb?.destroy();
});

async function register(agent: TestAgent, name = 'Test App'): Promise<string> {
  const res = await agent.post('/auth/register').send({ client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
  expect(res.status).toBe(201);
  return res.body.client_id as string;
}

/** Drives the browser part of the flow for `user` (each has one record: no picker); returns the redirect back to the app. */
async function authorize(agent: TestAgent, clientId: string, user: User, challenge: string, scope: string): Promise<URL> {
  const query = { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope, state: 'state-123', aud: FHIR, code_challenge: challenge, code_challenge_method: 'S256' };
  let res = await agent.get('/auth/authorize').query(query);
  const interaction = new URL(res.headers['location'] as string, 'http://localhost:8080').pathname;
  expect(interaction).toContain('/interaction/');
  await agent.get(interaction);
  res = await agent.post(`${interaction}/login`).type('form').send({ username: user.username, password: user.password });
  expect(res.text).toContain('Verification code');
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
  return new URL(res.headers['location'] as string);
}

interface Launched {
  token: string;
  clientId: string;
}

/** A complete launch by `user` with a newly registered app: register, authorize, exchange. */
async function launch(user: User, appName = 'Test App'): Promise<Launched> {
  const agent = request.agent(app);
  const clientId = await register(agent, appName);
  const { verifier, challenge } = pkce();
  const redirect = await authorize(agent, clientId, user, challenge, 'launch/patient openid fhirUser patient/*.rs');
  const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
  expect(res.status).toBe(200);
  expect(res.body.patient).toBe('mom');
  return { token: res.body.access_token as string, clientId };
}

/** Signs in to the portal (the session the JSON APIs use). */
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
const ALL = ['mom-alcohol', 'mom-bp', 'mom-hgb', 'mom-smoking'];
const NO_SOCIAL = ['mom-bp', 'mom-hgb'];

/** What one reader sees of mom's Observations: search ids, its total, _summary=count, and the category search's total. */
async function view(token: string) {
  const all = await fhir(token, 'Observation?patient=mom');
  expect(all.status).toBe(200);
  const count = await fhir(token, 'Observation?patient=mom&_summary=count');
  const social = await fhir(token, 'Observation?patient=mom&category=social-history');
  const socialCount = await fhir(token, 'Observation?patient=mom&category=social-history&_summary=count');
  const read = await fhir(token, 'Observation/mom-smoking');
  return { ids: ids(all.body), total: all.body.total, count: count.body.total, social: social.body.total, socialCount: socialCount.body.total, read: read.status };
}
const expectFull = (v: Awaited<ReturnType<typeof view>>) => expect(v).toEqual({ ids: ALL, total: 4, count: 4, social: 2, socialCount: 2, read: 200 });
const expectRestricted = (v: Awaited<ReturnType<typeof view>>) => expect(v).toEqual({ ids: NO_SOCIAL, total: 2, count: 2, social: 0, socialCount: 0, read: 404 });

describe('patient restrictions (IB-1) through the portal API and the FHIR API', () => {
  let maria: TestAgent;
  let momApp: Launched;
  let momOtherApp: Launched;
  let grandpa: Launched;
  let aunt: Launched;

  beforeAll(async () => {
    momApp = await launch(MARIA, 'Diary App');
    momOtherApp = await launch(MARIA, 'Fitness App');
    grandpa = await launch(GRANDPA);
    aunt = await launch(AUNT);
    maria = await portalLogin(MARIA);
  });

  test('the API needs a session, JSON, and lists whom the patient can name and the categories', async () => {
    expect((await request(app).get('/v1/portal/restrictions')).status).toBe(401);
    const form = await maria.post('/v1/portal/restrictions').type('form').send({ category: 'social-history' });
    expect(form.status).toBe(415);
    const list = await maria.get('/v1/portal/restrictions');
    expect(list.status).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.body.restrictions).toEqual([]);
    expect(list.body.recipients.proxies.map((p: { proxyAccountId: string }) => p.proxyAccountId).sort()).toEqual([grandpaId, auntId].sort());
    expect(list.body.recipients.apps.map((a: { clientId: string }) => a.clientId)).toEqual(expect.arrayContaining([momApp.clientId, momOtherApp.clientId, grandpa.clientId]));
    expect(list.body.categories).toEqual(expect.arrayContaining([expect.objectContaining({ ...SOCIAL, display: 'Social History' })]));
  });

  test('IB-1 (d): blocking proxy Q from social-history hides it from Q (search, total, _summary=count, read), not from the patient or another proxy; ending restores it', async () => {
    for (const t of [grandpa, aunt, momApp]) expectFull(await view(t.token));
    const created = await maria.post('/v1/portal/restrictions').send({ recipient: { kind: 'proxy', proxyAccountId: grandpaId }, resourceType: 'Observation', category: SOCIAL });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ patientId: 'mom', recipient: { kind: 'proxy', proxyAccountId: grandpaId }, source: 'patient', status: 'active', category: { ...SOCIAL, display: 'Social History' } });
    expect(created.body.requestedBy).toBeTruthy();
    expect(Date.parse(created.body.requestedAt)).not.toBeNaN();
    // Applies on the very next request: no new token needed.
    expectRestricted(await view(grandpa.token));
    expectFull(await view(aunt.token));
    expectFull(await view(momApp.token)); // never the patient's own access
    // Other categories are untouched for Q.
    expect(ids((await fhir(grandpa.token, 'Observation?patient=mom&category=laboratory')).body)).toEqual(['mom-hgb']);

    const duplicate = await maria.post('/v1/portal/restrictions').send({ recipient: { kind: 'proxy', proxyAccountId: grandpaId }, resourceType: 'Observation', category: SOCIAL });
    expect(duplicate.status).toBe(409);

    const ended = await maria.delete(`/v1/portal/restrictions/${created.body.id}`);
    expect(ended.status).toBe(204);
    expectFull(await view(grandpa.token));
    const list = await maria.get('/v1/portal/restrictions');
    expect(list.body.restrictions).toEqual([expect.objectContaining({ id: created.body.id, status: 'ended' })]);
    expect((await maria.delete(`/v1/portal/restrictions/${created.body.id}`)).status).toBe(409);
    expect((await maria.delete('/v1/portal/restrictions/no-such-id')).status).toBe(404);
    // AUD-1: made and ended by the patient, in the record's hash-chained log (not the refused attempts).
    const logged = (await tdb.db('access_log').where({ patient_id: 'mom' }).whereLike('action', 'restriction.%').orderBy('seq')) as { action: string; actor_kind: string; exception: string; detail: { restrictionId: string } }[];
    expect(logged.filter((r) => r.detail.restrictionId === created.body.id).map((r) => [r.action, r.actor_kind, r.exception])).toEqual([
      ['restriction.create', 'patient', 'privacy_individual_request'],
      ['restriction.end', 'patient', 'privacy_individual_request'],
    ]);
  });

  test('an app restriction hides the category from that app only (the same patient through another app still sees it)', async () => {
    const created = await maria.post('/v1/portal/restrictions').send({ recipient: { kind: 'app', clientId: momApp.clientId }, category: SOCIAL });
    expect(created.status).toBe(201);
    expect(created.body.resourceType).toBeNull();
    expectRestricted(await view(momApp.token));
    expectFull(await view(momOtherApp.token));
    expectFull(await view(grandpa.token));
    expect((await maria.delete(`/v1/portal/restrictions/${created.body.id}`)).status).toBe(204);
    expectFull(await view(momApp.token));
  });

  test('the connected-apps page shows the restrictions on each app', async () => {
    const created = await maria.post('/v1/portal/restrictions').send({ recipient: { kind: 'app', clientId: momOtherApp.clientId }, category: SOCIAL });
    expect(created.status).toBe(201);
    const page = await maria.get('/auth/apps');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Not shared with this app: Social History');
    expect((await maria.delete(`/v1/portal/restrictions/${created.body.id}`)).status).toBe(204);
    expect((await maria.get('/auth/apps')).text).not.toContain('Not shared with this app');
  });

  test.each<[string, Record<string, unknown>, number, string]>([
    ['a recipient who is not her proxy', { recipient: { kind: 'proxy', proxyAccountId: 'someone-else' }, category: SOCIAL }, 400, 'INVALID_RECIPIENT'],
    ['an app not connected to her record', { recipient: { kind: 'app', clientId: 'not-connected' }, category: SOCIAL }, 400, 'INVALID_RECIPIENT'],
    ['a category outside the allow-list', { recipient: { kind: 'app', clientId: 'x' }, category: { system: OBSERVATION_CATEGORY_SYSTEM, code: 'everything' } }, 400, 'category-not-allowed'],
    ['a category of recipients', { recipient: { kind: 'everyone' }, category: SOCIAL }, 400, 'recipient-invalid'],
    ['a type the category is not used on', { recipient: { kind: 'app', clientId: 'x' }, resourceType: 'Condition', category: SOCIAL }, 400, 'resource-type-invalid'],
    ['someone else\u2019s record', { patientId: 'other', recipient: { kind: 'app', clientId: 'x' }, category: SOCIAL }, 400, 'UNKNOWN_FIELD'],
  ])('the patient is refused %s', async (_name, body, status, code) => {
    const res = await maria.post('/v1/portal/restrictions').send(body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  test('a proxy cannot create or end restrictions on the record they act for', async () => {
    const proxy = await portalLogin(GRANDPA);
    const res = await proxy.post('/v1/portal/restrictions').send({ recipient: { kind: 'proxy', proxyAccountId: auntId }, category: SOCIAL });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('NOT_A_PATIENT');
    const mine = await maria.post('/v1/portal/restrictions').send({ recipient: { kind: 'proxy', proxyAccountId: auntId }, category: SOCIAL });
    expect(mine.status).toBe(201);
    expect((await proxy.delete(`/v1/portal/restrictions/${mine.body.id}`)).status).toBe(403);
    expectRestricted(await view(aunt.token));
    // Nor can the patient use the staff API.
    expect((await maria.post('/v1/staff/restrictions').send({ patientId: 'mom', patientRequestId: 'R-1', recipient: { kind: 'proxy', proxyAccountId: auntId }, category: SOCIAL })).status).toBe(403);
    expect((await maria.delete(`/v1/portal/restrictions/${mine.body.id}`)).status).toBe(204);
    expectFull(await view(aunt.token));
  });

  test('IB-1 (d): staff without a patient request id → 400; with one it is recorded as the patient\u2019s request and applies', async () => {
    const staff = await portalLogin(DOC);
    const body = { patientId: 'mom', recipient: { kind: 'proxy', proxyAccountId: grandpaId }, resourceType: 'Observation', category: SOCIAL };
    const refused = await staff.post('/v1/staff/restrictions').send(body);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'patient-request-required', rule: 'IB-1' });
    expect((await staff.post('/v1/staff/restrictions').send({ ...body, patientRequestId: '  ' })).status).toBe(400);
    expect((await staff.get('/v1/staff/restrictions?patient=mom')).body.restrictions.filter((r: { status: string }) => r.status === 'active')).toEqual([]);
    expectFull(await view(grandpa.token));
    expect((await staff.post('/v1/staff/restrictions').send({ ...body, patientId: 'nobody', patientRequestId: 'REQ-1' })).status).toBe(400);

    const recorded = await staff.post('/v1/staff/restrictions').send({ ...body, patientRequestId: 'REQ-2026-0042' });
    expect(recorded.status).toBe(201);
    expect(recorded.body).toMatchObject({ source: 'staff_on_patient_request', patientRequestId: 'REQ-2026-0042', status: 'active' });
    expectRestricted(await view(grandpa.token));
    expectFull(await view(momApp.token));
    // The patient sees it in her list and may end it.
    const list = await maria.get('/v1/portal/restrictions');
    expect(list.body.restrictions.map((r: { id: string }) => r.id)).toContain(recorded.body.id);
    expect((await maria.delete(`/v1/portal/restrictions/${recorded.body.id}`)).status).toBe(204);
    expectFull(await view(grandpa.token));
    expect(decodeJwt(grandpa.token)['patient']).toBe('mom');
  });
});

describe('a restriction hides what would reveal the restricted resources too (plan rule 4), and matches categories fail-closed', () => {
  let maria: TestAgent;
  let grandpa: Launched;
  let aunt: Launched;

  beforeAll(async () => {
    await tdb.db.transaction((trx) =>
      writeResources(
        trx,
        [
          // Social history recorded without a system: the restriction must still catch it.
          { ...obs('mom-diet', 'social-history', '81663-7'), category: [{ coding: [{ code: 'social-history' }] }] },
          { resourceType: 'Provenance', id: 'mom-smoking-prov', target: [{ reference: 'Observation/mom-smoking' }, { reference: 'Patient/mom' }], recorded: '2026-10-01T00:00:00Z', agent: [{ who: { reference: 'Practitioner/prac-9' } }] },
          { resourceType: 'Condition', id: 'mom-smoker', subject: { reference: 'Patient/mom' }, code: { text: 'tobacco user' }, evidence: [{ detail: [{ reference: 'Observation/mom-smoking' }] }] },
          { resourceType: 'Condition', id: 'mom-asthma', subject: { reference: 'Patient/mom' }, code: { text: 'asthma' } },
        ] as Resource[],
        { fhirBaseUrl: FHIR },
      ),
    );
    grandpa = await launch(GRANDPA);
    aunt = await launch(AUNT);
    maria = await portalLogin(MARIA);
  });

  test('the restricted proxy gets neither the system-less social history nor what points at restricted resources', async () => {
    const created = await maria.post('/v1/portal/restrictions').send({ recipient: { kind: 'proxy', proxyAccountId: grandpaId }, category: SOCIAL });
    expect(created.status).toBe(201);
    expect((await fhir(grandpa.token, 'Observation/mom-diet')).status).toBe(404);
    expect(ids((await fhir(grandpa.token, 'Observation?patient=mom')).body)).toEqual(['mom-bp', 'mom-hgb']);
    expect(ids((await fhir(grandpa.token, 'Condition?patient=mom')).body)).toEqual(['mom-asthma']);
    expect((await fhir(grandpa.token, 'Condition/mom-smoker')).status).toBe(404);
    expect(ids((await fhir(grandpa.token, 'Provenance?patient=mom')).body)).toEqual([]);
    // Another proxy and the patient's own app see all of it.
    expect((await fhir(aunt.token, 'Observation/mom-diet')).status).toBe(200);
    expect(ids((await fhir(aunt.token, 'Condition?patient=mom')).body)).toEqual(['mom-asthma', 'mom-smoker']);
    expect(ids((await fhir(aunt.token, 'Provenance?patient=mom')).body)).toEqual(['mom-smoking-prov']);
    expect((await maria.delete(`/v1/portal/restrictions/${created.body.id}`)).status).toBe(204);
    expect(ids((await fhir(grandpa.token, 'Condition?patient=mom')).body)).toEqual(['mom-asthma', 'mom-smoker']);
  });
});
