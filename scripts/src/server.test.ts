/**
 * The standalone launch end to end through HTTP (supertest, no browser): open registration, PKCE
 * authorization with `aud`, password + TOTP, the proxy patient picker, consent with one scope
 * unticked, code exchange, refresh rotation and reuse detection, introspection and revocation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { authServerMigrations, rotateSigningKey } from '@patient-access/auth-server';
import {
  consentMigrations,
  createAccessLogWriter,
  createAccount,
  createRateLimits,
  verifyAccessLog,
  type AccessLogWriter,
  createDelegation,
  createLogger,
  createTestDatabase,
  endDelegation,
  loadConfig,
  totpAt,
  type TestDatabase,
} from '@patient-access/consent';
import { fhirApiMigrations, writeResources } from '@patient-access/fhir-api';
import type { Resource } from '@medplum/fhirtypes';
import { AdminError, createAccountFor } from './admin/accounts.js';
import { registerClient } from './admin/clients.js';
import { createServerApp } from './server.js';

const config = loadConfig({ PUBLIC_URL: 'http://localhost:8080' });
const FHIR = config.fhirBaseUrl;
const REDIRECT = 'http://localhost:9999/callback';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
// Starts at the real time: oidc-provider stamps tokens with the system clock.
let clock = new Date();
const now = () => clock;

let tdb: TestDatabase;
let app: NonNullable<Parameters<typeof request.agent>[0]>;
let delegationToChild: string;
let accessLog: AccessLogWriter;
// Generous registration limit: this file registers dozens of apps from one address. Keys are
// prefixed per run, so runs sharing a Redis do not share counts.
const rateLimits = createRateLimits({
  redisUrl: process.env['REDIS_URL'],
  keyPrefix: `test-${randomBytes(4).toString('hex')}`,
  policies: { registration: { points: 1000, durationSeconds: 3600 } },
});
let delegationToTeen: string;

/** Fifteen today: a parent proxy sees a limited record (PRX-3). */
function teenBirthDate(): string {
  const d = new Date();
  return `${d.getUTCFullYear() - 15}-01-01`;
}

const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
const VITALS = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] };
const CONFIDENTIAL = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }];
const obs = (id: string, patient: string, status: string, category: unknown, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  id,
  status,
  category: [category],
  code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: '2026-10-01',
  ...extra,
});
const FIXTURE_RESOURCES = [
  obs('kid-hgb-final', 'kid', 'final', LAB),
  obs('kid-hgb-prelim', 'kid', 'preliminary', LAB),
  obs('kid-hgb-eie', 'kid', 'entered-in-error', LAB),
  obs('kid-weight', 'kid', 'preliminary', VITALS),
  obs('kid-bp', 'kid', 'final', VITALS),
  obs('mom-hgb', 'mom', 'final', LAB),
  obs('teen-sti', 'teen', 'final', LAB, { meta: { security: CONFIDENTIAL } }),
  obs('teen-hgb', 'teen', 'final', LAB),
  {
    resourceType: 'DiagnosticReport',
    id: 'teen-panel',
    status: 'final',
    code: { text: 'panel' },
    subject: { reference: 'Patient/teen' },
    result: [{ reference: 'Observation/teen-sti' }],
  },
  { resourceType: 'Immunization', id: 'teen-flu', status: 'completed', vaccineCode: { text: 'flu' }, patient: { reference: 'Patient/teen' }, occurrenceDateTime: '2026-10-01' },
  {
    resourceType: 'Encounter',
    id: 'kid-visit',
    status: 'finished',
    class: { code: 'AMB' },
    subject: { reference: 'Patient/kid' },
    participant: [{ individual: { reference: 'Practitioner/prac-9' } }],
    period: { start: '2026-10-01T09:00:00Z', end: '2026-10-01T09:30:00Z' },
  },
  { resourceType: 'Condition', id: 'kid-asthma', subject: { reference: 'Patient/kid' }, code: { text: 'asthma' } },
] as Resource[];

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  const db = tdb.db;
  await db.transaction((trx) =>
    writeResources(
      trx,
      [
        { resourceType: 'Patient', id: 'mom', name: [{ given: ['Maria'], family: 'Lopez' }], birthDate: '1984-03-02' },
        { resourceType: 'Patient', id: 'kid', name: [{ given: ['Sofia'], family: 'Lopez' }], birthDate: '2018-05-01' },
        { resourceType: 'Patient', id: 'other', name: [{ given: ['Nobody'], family: 'Else' }], birthDate: '1990-01-01' },
        { resourceType: 'Patient', id: 'teen', name: [{ given: ['Mateo'], family: 'Lopez' }], birthDate: teenBirthDate() },
        ...FIXTURE_RESOURCES,
      ],
      { fhirBaseUrl: FHIR },
    ),
  );
  const mom = await createAccount(db, { username: 'maria', displayName: 'Maria', password: 'correct horse', totpSecret: SECRET, fhirUser: 'Patient/mom', patientId: 'mom' });
  delegationToChild = await createDelegation(db, { patientId: 'kid', proxyAccountId: mom.id, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  await createAccount(db, { username: GRANDPA.username, displayName: 'Grandpa', password: GRANDPA.password, totpSecret: GRANDPA.secret, fhirUser: 'RelatedPerson/rp-grandpa' });
  await createAccount(db, { username: DOC.username, displayName: 'Dr House', password: DOC.password, totpSecret: DOC_SECRET, fhirUser: 'Practitioner/prac-9' });
  delegationToTeen = await createDelegation(db, { patientId: 'teen', proxyAccountId: mom.id, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  app = (await createServerApp({ config, db, log: createLogger('silent', 'test'), now, rateLimits, accessLog: accessLog = createAccessLogWriter(db) })).callback();
});

afterAll(async () => {
  await accessLog?.close();
  await rateLimits.close();
  await tdb?.destroy();
});

async function register(agent: TestAgent, extra: Record<string, unknown> = {}): Promise<string> {
  // (launch_uri makes the app launchable from the portal's EHR launch page)
  const res = await agent
    .post('/auth/register')
    .send({ client_name: 'Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...extra });
  expect(res.status).toBe(201);
  return res.body.client_id as string;
}

interface AuthorizeOptions {
  scope?: string;
  aud?: string;
  challenge?: string | null;
  method?: string;
  untick?: string[];
  /** Boxes to tick that the screen offers unticked (category scopes), or forged values. */
  tick?: string[];
  pick?: 'kid' | 'mom' | 'teen';
  /** Who signs in (default Maria, the parent). */
  user?: { username: string; password: string; secret: string };
  /** An EHR launch value: no picker, the launch names the patient. */
  launch?: string;
}

const MARIA = { username: 'maria', password: 'correct horse', secret: SECRET };
const DOC_SECRET = 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF';
const DOC = { username: 'dr.house', password: 'vicodin please', secret: DOC_SECRET };
const GRANDPA = { username: 'grandpa', password: 'fishing trip', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };

/** Drives the browser part of the flow with a cookie-keeping agent; returns the redirect back to the app. */
async function authorize(agent: TestAgent, clientId: string, o: AuthorizeOptions = {}): Promise<URL> {
  const { challenge } = pkce();
  const query: Record<string, string> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: o.scope ?? 'launch/patient openid fhirUser offline_access patient/*.rs',
    state: 'state-123',
    aud: o.aud ?? FHIR,
    ...(o.launch ? { launch: o.launch } : {}),
  };
  if (o.challenge !== null) {
    query['code_challenge'] = o.challenge ?? challenge;
    query['code_challenge_method'] = o.method ?? 'S256';
  }
  let res = await agent.get('/auth/authorize').query(query);
  let location = new URL(res.headers['location'] as string, 'http://localhost:8080');
  if (!location.pathname.includes('/interaction/')) return location;
  const interaction = location.pathname;

  res = await agent.get(interaction);
  expect(res.text).toContain('<label for="username">Username</label>');
  const user = o.user ?? MARIA;
  res = await agent.post(`${interaction}/login`).type('form').send({ username: user.username, password: user.password });
  expect(res.text).toContain('Verification code');
  // Each sign-in needs a fresh code: a code already accepted is refused (replay).
  clock = new Date(clock.getTime() + 60_000);
  res = await agent.post(`${interaction}/mfa`).type('form').send({ code: totpAt(user.secret, now()) });
  // Resume, then the consent interaction (a new interaction, with its own uid).
  let consentPath = interaction;
  while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
    const next = new URL(res.headers['location'] as string, 'http://localhost:8080');
    if (next.pathname.includes('/interaction/')) consentPath = next.pathname.replace(/\/$/, '');
    res = await agent.get(next.pathname + next.search);
  }
  if (res.status === 303) return new URL(res.headers['location'] as string);
  if (!o.launch && res.text.includes('Whose record?')) {
    expect(res.text).toContain('Sofia Lopez');
    expect(res.text).not.toContain('Nobody');
    const subject = o.pick === 'mom' ? 'self:mom' : o.pick === 'teen' ? `delegation:${delegationToTeen}` : `delegation:${delegationToChild}`;
    res = await agent.post(`${consentPath}/select`).type('form').send({ subject });
  }
  expect(res.text).toContain('Allow access?');
  const offered = [...res.text.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!.replace(/&#42;/g, '*'));
  const keep = [...offered.filter((s) => !(o.untick ?? []).includes(s)), ...(o.tick ?? [])];
  res = await agent.post(`${consentPath}/consent`).type('form').send(keep.map((s) => `scope=${encodeURIComponent(s)}`).join('&') + '&decision=allow');
  while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
    const next = new URL(res.headers['location'] as string, 'http://localhost:8080');
    res = await agent.get(next.pathname + next.search);
  }
  return new URL(res.headers['location'] as string);
}

describe('standalone launch', () => {
  let clientId: string;
  let tokens: Record<string, unknown>;
  let verifier: string;

  test('registration, login with TOTP, picker, consent, code exchange', async () => {
    const agent = request.agent(app);
    clientId = await register(agent);
    const p = pkce();
    verifier = p.verifier;
    const { challenge } = p;
    const redirect = await authorize(agent, clientId, { challenge });
    expect(redirect.searchParams.get('state')).toBe('state-123');
    const code = redirect.searchParams.get('code');
    expect(code).toBeTruthy();
    const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(res.status).toBe(200);
    tokens = res.body;
    expect(tokens).toMatchObject({ token_type: 'Bearer', patient: 'kid', need_patient_banner: true, expires_in: 3600 });
    expect(String(tokens['scope']).split(' ').sort()).toEqual(['fhirUser', 'launch/patient', 'offline_access', 'openid', 'patient/*.rs']);
    expect(typeof tokens['refresh_token']).toBe('string');
    expect(res.headers['cache-control']).toContain('no-store');
    expect(res.headers['pragma']).toBe('no-cache');
    const idToken = decodeJwt(String(tokens['id_token']));
    expect(idToken['fhirUser']).toBe(`${FHIR}/Patient/mom`);
    const access = decodeJwt(String(tokens['access_token']));
    expect(access).toMatchObject({ iss: config.issuerUrl, aud: FHIR, patient: 'kid', client_id: clientId, scope: 'patient/*.rs' });
    expect(typeof access['grant_id']).toBe('string');
  });

  test('introspection reports the SMART fields', async () => {
    const res = await request(app).post('/auth/token/introspection').type('form').send({ token: tokens['access_token'], client_id: clientId });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: true, client_id: clientId, patient: 'kid', fhirUser: `${FHIR}/Patient/mom`, token_type: 'Bearer' });
    // The same scopes the token response named (Inferno compares them).
    expect(String(res.body.scope).split(' ').sort()).toEqual(String(tokens['scope']).split(' ').sort());
  });

  test('refresh rotates; reusing a rotated refresh token revokes the family', async () => {
    const first = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens['refresh_token'], client_id: clientId });
    expect(first.status).toBe(200);
    expect(first.body.patient).toBe('kid');
    expect(first.body.refresh_token).not.toBe(tokens['refresh_token']);
    const reuse = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens['refresh_token'], client_id: clientId });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    const after = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: clientId });
    expect(after.body.error).toBe('invalid_grant');
  });
});

describe('consent narrows, refresh cannot widen, revocation is immediate', () => {
  test('an unticked scope is not granted', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, {
      challenge,
      scope: 'launch/patient openid fhirUser offline_access patient/Observation.rs patient/Condition.rs',
      untick: ['patient/Condition.rs'],
    });
    const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(String(res.body.scope).split(' ')).toContain('patient/Observation.rs');
    expect(String(res.body.scope).split(' ')).not.toContain('patient/Condition.rs');

    const widen = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: res.body.refresh_token, client_id: clientId, scope: 'patient/Condition.rs' });
    expect(widen.status).toBe(400);

    const revoke = await request(app).post('/auth/token/revocation').type('form').send({ token: res.body.access_token, client_id: clientId });
    expect(revoke.status).toBe(200);
    const introspect = await request(app).post('/auth/token/introspection').type('form').send({ token: res.body.access_token, client_id: clientId });
    expect(introspect.body).toEqual({ active: false });
  });

  test('more than twenty scopes, all approved, are all granted', async () => {
    const types = ['AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Coverage', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal', 'Immunization', 'Location', 'Medication', 'MedicationDispense', 'MedicationRequest', 'Observation', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole', 'Procedure', 'Provenance', 'RelatedPerson', 'ServiceRequest', 'Specimen'];
    const wanted = types.map((t) => `patient/${t}.rs`);
    const tokens = await launch({ pick: 'mom', scope: `launch/patient openid fhirUser offline_access ${wanted.join(' ')}` });
    expect(String(tokens['scope']).split(' ')).toEqual(expect.arrayContaining([...wanted, 'offline_access']));
  });

  test('granular selection: the consent screen offers category scopes for Condition and Observation; choosing them grants only them', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { challenge, verifier } = pkce();
    const scope = 'launch/patient openid fhirUser offline_access patient/Condition.rs patient/Observation.rs patient/Patient.rs';
    // The screen itself: the CCG's categories, offered unticked under their resource.
    const first = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope, state: 's', aud: FHIR, code_challenge: challenge, code_challenge_method: 'S256' });
    expect(first.status).toBe(303);
    const LAB_SCOPE = 'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
    const PROBLEMS = 'patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item';
    const redirect = await authorize(agent, clientId, {
      challenge,
      scope,
      pick: 'kid',
      untick: ['patient/Condition.rs', 'patient/Observation.rs'],
      // Two categories, and a forged scope the app never asked for (ignored).
      tick: [LAB_SCOPE, PROBLEMS, 'patient/Encounter.rs', 'patient/*.rs'],
    });
    const token = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(token.status).toBe(200);
    const granted = String(token.body.scope).split(' ');
    expect(granted).toEqual(expect.arrayContaining([LAB_SCOPE, PROBLEMS, 'patient/Patient.rs', 'offline_access']));
    expect(granted).not.toContain('patient/Condition.rs');
    expect(granted).not.toContain('patient/Observation.rs');
    expect(granted).not.toContain('patient/Encounter.rs');
    expect(granted).not.toContain('patient/*.rs');
    const get = (path: string) => request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token.body.access_token}`);
    // Laboratory results only (the child's vital signs are not shared), and problem-list conditions only.
    expect(ids((await get('Observation?patient=kid')).body)).toEqual(['Observation/kid-hgb-final']);
    expect((await get('Observation/kid-bp')).status).toBe(404);
    // kid-asthma carries no category: not a problem-list item.
    expect(ids((await get('Condition?patient=kid')).body)).toEqual([]);
    expect((await get('Encounter?patient=kid')).status).toBe(403);
  });

  test('granular selection: the screen lists the CCG categories as unticked choices', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { challenge } = pkce();
    let res = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient openid patient/Condition.rs patient/Observation.read', state: 's', aud: FHIR, code_challenge: challenge, code_challenge_method: 'S256' });
    const interaction = new URL(res.headers['location'] as string, 'http://localhost:8080').pathname;
    await agent.get(interaction);
    await agent.post(`${interaction}/login`).type('form').send({ username: MARIA.username, password: MARIA.password });
    clock = new Date(clock.getTime() + 60_000);
    res = await agent.post(`${interaction}/mfa`).type('form').send({ code: totpAt(MARIA.secret, now()) });
    while (res.status === 303) res = await agent.get(new URL(res.headers['location'] as string, 'http://localhost:8080').pathname);
    if (res.text.includes('Whose record?')) res = await agent.post(`${new URL(res.request.url).pathname.replace(/\/$/, '')}/select`).type('form').send({ subject: 'self:mom' });
    expect(res.text).toContain('Allow access?');
    const unticked = [...res.text.matchAll(/name="scope" value="([^"]+)">/g)].map((m) => m[1]!.split('|').pop());
    expect(unticked.sort()).toEqual(['clinical-test', 'encounter-diagnosis', 'health-concern', 'laboratory', 'problem-list-item', 'sdoh', 'social-history', 'survey', 'vital-signs']);
    // v1 .read offers v2 category scopes with the same read and search rights.
    expect(res.text).toContain('value="patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"');
  });

  test('authorize-post on plain http: a form POST is answered 303 to the same request as a GET, which then completes; other bodies are refused', async () => {
    expect((await request(app).get('/auth/.well-known/smart-configuration')).body.capabilities).toContain('authorize-post');
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { verifier, challenge } = pkce();
    const params = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'launch/patient openid patient/*.rs',
      state: 'post-state',
      aud: FHIR,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const posted = await agent.post('/auth/authorize').type('form').send(params);
    expect(posted.status).toBe(303);
    const get = new URL(String(posted.headers['location']));
    expect(`${get.origin}${get.pathname}`).toBe('http://localhost:8080/auth/authorize');
    expect(Object.fromEntries(get.searchParams)).toEqual(params);
    // The GET is an ordinary authorization request: sign in, consent, code, token.
    const redirect = await authorize(agent, clientId, { challenge, scope: params.scope, pick: 'mom' });
    const token = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(token.status).toBe(200);
    // The POST path runs the same checks: a bad aud is refused after the 303, as for a GET.
    const badAud = await agent.post('/auth/authorize').type('form').send({ ...params, aud: 'https://elsewhere.example/fhir' });
    const followed = await agent.get(new URL(String(badAud.headers['location']), 'http://localhost:8080').pathname + new URL(String(badAud.headers['location']), 'http://localhost:8080').search);
    expect(String(followed.headers['location'])).toContain('error=invalid_request');
    const json = await agent.post('/auth/authorize').send(params);
    expect(json.status).toBe(400);
    expect(json.body.error).toBe('invalid_request');
    const huge = await agent.post('/auth/authorize').type('form').send({ ...params, state: 'x'.repeat(20_000) });
    expect(huge.status).toBe(400);
  });

  test('authorize-post: on an https deployment the authorization endpoint accepts POST natively', async () => {
    const httpsConfig = loadConfig({ PUBLIC_URL: 'https://localhost:8443' });
    const secure = (await createServerApp({ config: httpsConfig, db: tdb.db, log: createLogger('silent', 'test'), now, rateLimits, accessLog })).callback();
    expect((await request(secure).get('/auth/.well-known/smart-configuration')).body.capabilities).toContain('authorize-post');
    const agent = request.agent(secure);
    const reg = await agent.post('/auth/register').send({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' });
    const { challenge } = pkce();
    const res = await agent.post('/auth/authorize').type('form').send({
      response_type: 'code',
      client_id: reg.body.client_id,
      redirect_uri: 'https://app.example/cb',
      scope: 'launch/patient openid patient/*.rs',
      state: 's',
      aud: httpsConfig.fhirBaseUrl,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect(res.status).toBe(303);
    expect(String(res.headers['location'])).toContain('/auth/interaction/');
  });

  test('write scopes are never granted; v1 scopes come back as v1', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, { challenge, scope: 'launch/patient openid patient/*.write patient/Observation.cruds patient/Condition.read' });
    const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(String(res.body.scope).split(' ').sort()).toEqual(['launch/patient', 'openid', 'patient/Condition.read', 'patient/Observation.rs']);
  });

  test('ending the delegation ends the app grant made under it (PRX-6)', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, { challenge });
    const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(res.body.patient).toBe('kid');
    const grantId = String(decodeJwt(res.body.access_token)['grant_id']);
    expect(grantId).toBeTruthy();
    const read = () => request(app).get('/fhir/Patient/kid').set('Authorization', `Bearer ${res.body.access_token}`);
    expect((await read()).status).toBe(200);
    expect(await endDelegation(tdb.db, 'kid', delegationToChild, 'suspended', 'clinician harm determination', now())).toBe(true);
    const denied = await read();
    expect(denied.status).toBe(403);
    expect(denied.body.issue[0].details.coding[0].code).toBe('PROXY_SCOPE_EXCEEDED');
    const refresh = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: res.body.refresh_token, client_id: clientId });
    expect(refresh.body.error).toBe('invalid_grant');
    const introspect = await request(app).post('/auth/token/introspection').type('form').send({ token: res.body.access_token, client_id: clientId });
    expect(introspect.body).toEqual({ active: false });
    // Restore for later tests.
    await tdb.db('proxy_delegation').where({ id: delegationToChild }).update({ status: 'active' });
  });
});

describe('authorization request errors', () => {
  const cases: [string, AuthorizeOptions, RegExp][] = [
    ['missing aud', { aud: '' }, /aud is required/],
    ['wrong aud', { aud: 'https://evil.example/fhir' }, /aud must be the FHIR base URL/],
    ['missing PKCE', { challenge: null }, /PKCE/],
    ['plain PKCE', { challenge: 'a'.repeat(43), method: 'plain' }, /code_challenge_method/],
  ];
  test.each(cases)('%s → invalid_request redirected with state', async (_name, options, description) => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const redirect = await authorize(agent, clientId, options);
    expect(redirect.origin + redirect.pathname).toBe(REDIRECT);
    expect(redirect.searchParams.get('error')).toBe('invalid_request');
    expect(redirect.searchParams.get('error_description')).toMatch(description);
    expect(redirect.searchParams.get('state')).toBe('state-123');
  });

  test('an unknown redirect_uri never redirects', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const res = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: 'https://evil.example/cb', scope: 'openid', aud: FHIR });
    expect(res.status).toBe(400);
    expect(res.headers['location']).toBeUndefined();
  });

  test('open registration cannot create a backend service (client_credentials) client', async () => {
    const res = await request(app).post('/auth/register').send({ redirect_uris: [REDIRECT], grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
  });

  test('system/ scopes are dropped from a person\'s authorization', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, { challenge, pick: 'mom', scope: 'launch/patient openid system/*.rs patient/Patient.rs' });
    const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(String(res.body.scope).split(' ').sort()).toEqual(['launch/patient', 'openid', 'patient/Patient.rs']);
  });

  test('registration refuses wildcard and plain-http redirect URIs', async () => {
    for (const uri of ['https://app.example/*', 'http://app.example/cb']) {
      const res = await request(app).post('/auth/register').send({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
    }
  });
});

describe('locked and suspended accounts', () => {
  test('five wrong passwords lock the account: the right one is refused until the lock ends', async () => {
    await createAccount(tdb.db, { username: 'locky', displayName: 'Locky', password: 'the right one', totpSecret: SECRET, fhirUser: 'Patient/teen', patientId: 'teen' });
    const agent = request.agent(app);
    const clientId = await register(agent);
    const { challenge } = pkce();
    const start = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid patient/*.rs', aud: FHIR, code_challenge: challenge, code_challenge_method: 'S256' });
    const interaction = new URL(start.headers['location'] as string, 'http://localhost:8080').pathname;
    await agent.get(interaction);
    for (let i = 0; i < 5; i++) expect((await agent.post(`${interaction}/login`).type('form').send({ username: 'locky', password: 'wrong' })).status).toBe(401);
    const locked = await agent.post(`${interaction}/login`).type('form').send({ username: 'locky', password: 'the right one' });
    expect(locked.status).toBe(429);
    expect(locked.text).toContain('Too many attempts');
  });

  test('a suspended account cannot sign in and its apps lose access at once', async () => {
    const tokens = await launch({ pick: 'mom', scope: 'launch/patient openid patient/Patient.rs' });
    await tdb.db('account').where({ username: 'maria' }).update({ status: 'suspended' });
    try {
      const read = await request(app).get('/fhir/Patient/mom').set('Authorization', `Bearer ${tokens['access_token']}`);
      expect(read.status).toBe(401);
    } finally {
      await tdb.db('account').where({ username: 'maria' }).update({ status: 'active' });
    }
  });
});

describe('CORS for browser apps', () => {
  test.each(['/auth/token', '/auth/token/introspection', '/auth/register', '/auth/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration', '/fhir/Observation', '/fhir/Patient/kid'])(
    'preflight %s',
    async (path) => {
      const res = await request(app).options(path).set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type');
      expect(res.status).toBe(204);
      expect(['*', 'https://app.example']).toContain(res.headers['access-control-allow-origin']);
    },
  );

  test('FHIR responses carry CORS headers and expose ETag', async () => {
    const res = await request(app).get('/fhir/Patient/kid').set('Origin', 'https://app.example');
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-expose-headers']).toContain('ETag');
  });
});

describe('discovery', () => {
  test('smart-configuration is served by the auth server and at the FHIR base, identically', async () => {
    const a = await request(app).get('/auth/.well-known/smart-configuration');
    const b = await request(app).get('/fhir/.well-known/smart-configuration');
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(a.body.code_challenge_methods_supported).toEqual(['S256']);
    expect(a.body.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'context-standalone-patient', 'permission-v2']));
    const oidc = await request(app).get('/auth/.well-known/openid-configuration');
    expect(oidc.body.issuer).toBe(config.issuerUrl);
    const jwks = await request(app).get('/auth/jwks');
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.body.keys[0].d).toBeUndefined();
  });
});

/** A complete launch: register, authorize, exchange; returns the token response. */
async function launch(o: AuthorizeOptions = {}): Promise<Record<string, string>> {
  const agent = request.agent(app);
  const clientId = await register(agent);
  const { verifier, challenge } = pkce();
  const redirect = await authorize(agent, clientId, { ...o, challenge });
  const res = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
  expect(res.status).toBe(200);
  return res.body as Record<string, string>;
}

const ids = (bundle: { entry?: { resource: { resourceType: string; id: string } }[] }) => (bundle.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();

describe('FHIR API behind the token (issue 4 pipeline)', () => {
  let kid: Record<string, string>;
  let teen: Record<string, string>;
  let mom: Record<string, string>;
  const get = (token: string, path: string) => request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    kid = await launch({ pick: 'kid' });
    teen = await launch({ pick: 'teen' });
    mom = await launch({ pick: 'mom', scope: 'launch/patient openid fhirUser patient/Observation.rs patient/Patient.rs' });
  });

  test('no token, a bad token, a token for another audience: 401 invalid_token', async () => {
    const none = await request(app).get('/fhir/Patient/kid');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('invalid_token');
    expect((await get('not.a.token', 'Patient/kid')).status).toBe(401);
    const forged = kid['access_token']!.slice(0, -4) + 'AAAA';
    expect((await get(forged, 'Patient/kid')).status).toBe(401);
  });

  test('read: own compartment 200 with no-store; other patients 404 with the same body as a missing id', async () => {
    const own = await get(kid['access_token']!, 'Patient/kid');
    expect(own.status).toBe(200);
    expect(own.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(own.text).id).toBe('kid');
    const other = await get(kid['access_token']!, 'Patient/other');
    const missing = await get(kid['access_token']!, 'Patient/does-not-exist');
    expect(other.status).toBe(404);
    expect(other.body.issue[0].details.coding).toEqual(missing.body.issue[0].details.coding);
    expect(JSON.stringify(other.body)).not.toContain('Nobody');
    expect((await get(kid['access_token']!, 'Observation/mom-hgb')).status).toBe(404);
  });

  test('search: released results only, entered-in-error never, non-result observations as recorded (REL-4, REL-7)', async () => {
    const res = await get(kid['access_token']!, 'Observation?patient=kid');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(ids(res.body)).toEqual(['Observation/kid-bp', 'Observation/kid-hgb-final', 'Observation/kid-weight']);
    expect((await get(kid['access_token']!, 'Observation/kid-hgb-prelim')).status).toBe(404);
    // Another patient's id in the search: nothing, not an error that confirms it exists.
    const cross = await get(kid['access_token']!, 'Observation?patient=mom');
    expect(cross.body.total).toBe(0);
  });

  test('a limited proxy (patient aged 12-17) sees nothing labelled, nor what references it (PRX-3)', async () => {
    const obsRes = await get(teen['access_token']!, 'Observation?patient=teen');
    expect(ids(obsRes.body)).toEqual(['Observation/teen-hgb']);
    expect((await get(teen['access_token']!, 'Observation/teen-sti')).status).toBe(404);
    const reports = await get(teen['access_token']!, 'DiagnosticReport?patient=teen');
    expect(reports.body.total).toBe(0);
    expect(ids(reports.body)).toEqual([]);
    expect(ids((await get(teen['access_token']!, 'Immunization?patient=teen')).body)).toEqual(['Immunization/teen-flu']);
    // The same records for the teen's own login would include both (covered by the policy matrix).
  });

  test('paging: next links work, and a cursor from another grant is refused', async () => {
    const first = await get(kid['access_token']!, 'Observation?patient=kid&_count=2');
    expect(first.body.entry).toHaveLength(2);
    const next = first.body.link.find((l: { relation: string }) => l.relation === 'next').url as string;
    const second = await request(app).get(new URL(next).pathname + new URL(next).search).set('Authorization', `Bearer ${kid['access_token']}`);
    expect(second.body.entry).toHaveLength(1);
    expect(second.body.link.find((l: { relation: string }) => l.relation === 'next')).toBeUndefined();
    const foreign = await request(app).get(new URL(next).pathname + new URL(next).search).set('Authorization', `Bearer ${teen['access_token']}`);
    expect(foreign.status).toBe(400);
  });

  test('POST _search returns what GET returns', async () => {
    const viaGet = await get(kid['access_token']!, 'Observation?patient=kid&category=laboratory');
    const viaPost = await request(app).post('/fhir/Observation/_search').set('Authorization', `Bearer ${kid['access_token']}`).type('form').send({ patient: 'kid', category: 'laboratory' });
    expect(viaPost.status).toBe(200);
    expect(ids(viaPost.body)).toEqual(ids(viaGet.body));
  });

  test('scopes: a type outside the granted scopes is 403 insufficient_scope', async () => {
    const res = await get(mom['access_token']!, 'Condition?patient=mom');
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('insufficient_scope');
    expect((await get(mom['access_token']!, 'Observation?patient=mom')).body.total).toBe(1);
  });

  test('writes are 405 whatever the token', async () => {
    const res = await request(app).put('/fhir/Patient/kid').set('Authorization', `Bearer ${kid['access_token']}`).send({});
    expect(res.status).toBe(405);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

/** Signs in to the authorization server's own pages (connected apps, EHR launch). */
async function portalLogin(agent: TestAgent, user: typeof MARIA, next: string): Promise<void> {
  let res = await agent.get(`/auth${next}`);
  expect(res.status).toBe(302);
  const login = new URL(res.headers['location'] as string, 'http://localhost:8080');
  expect(login.pathname).toBe('/auth/portal/login');
  res = await agent.post(login.pathname + login.search).type('form').send({ username: user.username, password: user.password });
  expect(res.text).toContain('Verification code');
  clock = new Date(clock.getTime() + 60_000);
  res = await agent.post(`/auth/portal/mfa?next=${encodeURIComponent(next)}`).type('form').send({ code: totpAt(user.secret, now()) });
  expect(res.status).toBe(302);
  expect(res.headers['location']).toBe(`/auth${next}`);
}

describe('EHR launch by a clinician (portal launch page)', () => {
  test('launch with patient and encounter; token carries both; the launch value works once', async () => {
    const agent = request.agent(app);
    const clientId = await register(agent, { launch_uri: 'https://app.example/launch' });
    await portalLogin(agent, DOC, '/launch');
    const page = await agent.get('/auth/launch');
    expect(page.text).toContain('<label for="patient">Patient id</label>');
    // The staff list: patients this practitioner has encounters with, latest encounter first.
    expect(page.text).toContain('Your patients');
    expect(page.text).toContain('Sofia Lopez');
    expect(page.text).toContain('name="encounter" value="kid-visit"');
    const bad = await agent.post('/auth/launch').type('form').send({ client_id: clientId, patient: 'kid', encounter: 'not-here' });
    expect(bad.status).toBe(400);
    const res = await agent.post('/auth/launch').type('form').send({ client_id: clientId, patient: 'kid', encounter: 'kid-visit' });
    expect(res.status).toBe(302);
    const target = new URL(res.headers['location'] as string);
    expect(target.origin + target.pathname).toBe('https://app.example/launch');
    expect(target.searchParams.get('iss')).toBe(FHIR);
    const launchValue = target.searchParams.get('launch')!;

    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, { challenge, launch: launchValue, user: DOC, scope: 'launch openid fhirUser user/*.rs' });
    const token = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: redirect.searchParams.get('code'), redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ patient: 'kid', encounter: 'kid-visit', need_patient_banner: true });
    expect(typeof token.body.smart_style_url).toBe('string');
    expect(decodeJwt(token.body.id_token)['fhirUser']).toBe(`${FHIR}/Practitioner/prac-9`);
    const fhir = (path: string) => request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token.body.access_token}`);
    expect((await fhir('Encounter/kid-visit')).status).toBe(200);
    expect((await fhir('Patient/mom')).status).toBe(404);

    const reused = await authorize(request.agent(app), clientId, { launch: launchValue, user: DOC, scope: 'launch openid user/*.rs' });
    expect(reused.searchParams.get('error')).toBe('invalid_request');
    expect(reused.searchParams.get('error_description')).toMatch(/already used/);

    // A launch value not used within its lifetime (5 minutes) is refused too.
    const fresh = await agent.post('/auth/launch').type('form').send({ client_id: clientId, patient: 'kid', encounter: 'kid-visit' });
    const staleValue = new URL(fresh.headers['location'] as string).searchParams.get('launch')!;
    clock = new Date(clock.getTime() + 10 * 60_000);
    const stale = await authorize(request.agent(app), clientId, { launch: staleValue, user: DOC, scope: 'launch openid user/*.rs' });
    expect(stale.searchParams.get('error')).toBe('invalid_request');
    expect(stale.searchParams.get('error_description')).toMatch(/expired/);
  });
});

describe('connected apps (management_endpoint)', () => {
  test('the patient sees apps on her record and revokes one; the app loses access at once', async () => {
    const tokens = await launch({ pick: 'mom', scope: 'launch/patient openid patient/*.rs' });
    const read = () => request(app).get('/fhir/Patient/mom').set('Authorization', `Bearer ${tokens['access_token']}`);
    expect((await read()).status).toBe(200);
    const agent = request.agent(app);
    await portalLogin(agent, MARIA, '/apps');
    const page = await agent.get('/auth/apps');
    expect(page.status).toBe(200);
    const grantId = String(decodeJwt(tokens['access_token']!)['grant_id']);
    expect(page.text).toContain(`/auth/apps/${grantId}/revoke`);
    expect((await tdb.db('app_grant').where({ id: grantId }).first('last_used_at')).last_used_at).not.toBeNull();
    const revoke = await agent.post(`/auth/apps/${grantId}/revoke`);
    expect(revoke.status).toBe(302);
    expect((await read()).status).toBe(401);
    // AUD-1: the revocation is in the record's hash-chained log, by the patient.
    const logged = (await tdb.db('access_log').where({ patient_id: 'mom', grant_id: grantId, action: 'token.revoke' })) as { actor_kind: string; detail: Record<string, string> }[];
    expect(logged.map((r) => [r.actor_kind, r.detail])).toEqual([['patient', { change: 'revoked', via: 'connected-apps' }]]);
    // Someone else's grant id cannot be revoked through this page.
    expect((await agent.post('/auth/apps/not-a-grant/revoke')).status).toBe(404);
  });

  test('the person narrows what an app may read: tokens already issued and refreshes lose it at once, and it never widens', async () => {
    const tokens = await launch({ pick: 'kid', scope: 'launch/patient openid offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs' });
    const token = tokens['access_token']!;
    const get = (path: string, t = token) => request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${t}`);
    expect((await get('Condition?patient=kid')).status).toBe(200);
    const grantId = String(decodeJwt(token)['grant_id']);
    const clientId = String(decodeJwt(token)['client_id']);
    const agent = request.agent(app);
    await portalLogin(agent, MARIA, '/apps');
    const page = await agent.get('/auth/apps');
    expect(page.text).toContain(`action="/auth/apps/${grantId}/scopes"`);
    expect(page.text).toMatch(/<input type="checkbox" name="scope" id="[^"]+" value="patient\/Condition\.rs" checked> <label for="[^"]+">Conditions/);
    const narrow = (scopes: string[]) => agent.post(`/auth/apps/${grantId}/scopes`).type('form').send(scopes.map((x) => `scope=${encodeURIComponent(x)}`).join('&'));
    // Widening and emptying are refused; the grant is unchanged.
    expect((await narrow(['patient/*.rs'])).status).toBe(400);
    expect((await narrow(['patient/Patient.rs', 'patient/Encounter.rs'])).status).toBe(400);
    expect((await narrow([])).status).toBe(400);
    expect((await get('Condition?patient=kid')).status).toBe(200);
    // Unticking Conditions.
    expect((await narrow(['patient/Patient.rs', 'patient/Observation.rs'])).status).toBe(302);
    const denied = await get('Condition?patient=kid');
    expect(denied.status).toBe(403);
    expect(denied.headers['www-authenticate']).toMatch(/insufficient_scope/);
    expect((await get('Observation?patient=kid')).status).toBe(200);
    expect((await tdb.db('app_grant').where({ id: grantId }).first('scope')).scope).toBe('launch/patient openid offline_access patient/Patient.rs patient/Observation.rs');
    // A refresh gets the narrowed scopes, and asking for the old ones back does not widen them.
    const refreshed = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens['refresh_token'], client_id: clientId });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope.split(' ')).not.toContain('patient/Condition.rs');
    expect((await get('Condition?patient=kid', refreshed.body.access_token)).status).toBe(403);
    const asking = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, client_id: clientId, scope: 'patient/Condition.rs patient/Observation.rs' });
    expect(asking.body.scope ?? '').not.toContain('patient/Condition.rs');
  });

  test('without a session the pages ask to sign in', async () => {
    const res = await request(app).get('/auth/apps');
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('/auth/portal/login?next=%2Fapps');
  });
});

describe('portal proxy delegation API (PORTAL-US-012/013, PRX-6)', () => {
  test('a patient grants a caregiver, who launches an app; revoking ends access on the next request', async () => {
    const portal = request.agent(app);
    expect((await portal.get('/v1/portal/proxy/delegations')).status).toBe(401);
    await portalLogin(portal, MARIA, '/apps');
    const form = await portal.post('/v1/portal/proxy/delegations').type('form').send({ proxyUsername: 'grandpa' });
    expect(form.status).toBe(415);
    const created = await portal.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'grandpa', basis: 'caregiver' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ patientId: 'mom', basis: 'caregiver', status: 'active' });
    const duplicate = await portal.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'grandpa' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('DELEGATION_ALREADY_EXISTS');
    const unknown = await portal.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'nobody-here' });
    expect(unknown.body.error.code).toBe('INVALID_PROXY');
    const claim = await portal.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'dr.house', basis: 'poa' });
    expect(claim.body.status).toBe('requested');
    const list = await portal.get('/v1/portal/proxy/delegations');
    expect(list.body.onMyRecord.map((d: { id: string }) => d.id)).toContain(created.body.id);

    // Grandpa acts for one patient only: no picker, straight to consent.
    const tokens = await launch({ user: GRANDPA, scope: 'launch/patient openid fhirUser patient/*.rs' });
    expect(tokens['patient']).toBe('mom');
    const read = () => request(app).get('/fhir/Patient/mom').set('Authorization', `Bearer ${tokens['access_token']}`);
    expect((await read()).status).toBe(200);

    expect((await portal.delete(`/v1/portal/proxy/delegations/${created.body.id}`)).status).toBe(204);
    const denied = await read();
    expect(denied.status).toBe(403);
    expect(denied.body.issue[0].details.coding[0].code).toBe('PROXY_SCOPE_EXCEEDED');
    // Without a portal session nothing can be revoked.
    expect((await request.agent(app).delete(`/v1/portal/proxy/delegations/${claim.body.id}`)).status).toBe(401);
  });
});

describe('age rules over time (PRX-4)', () => {
  test("on the child's 18th birthday the parent's refresh fails and the API denies", async () => {
    const tokens = await launch({ pick: 'kid', scope: 'launch/patient openid offline_access patient/*.rs' });
    const saved = clock;
    try {
      clock = new Date('2036-05-01T12:00:00Z');
      const refresh = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens['refresh_token'], client_id: String(decodeJwt(tokens['access_token']!)['client_id']) });
      expect(refresh.body.error).toBe('invalid_grant');
      const read = await request(app).get('/fhir/Patient/kid').set('Authorization', `Bearer ${tokens['access_token']}`);
      expect(read.status).toBe(403);
      expect(read.body.issue[0].details.coding[0].code).toBe('PROXY_SCOPE_EXCEEDED');
    } finally {
      clock = saved;
    }
  });
});

describe('age rules over time, whatever the basis (PRX-4)', () => {
  test("a caregiver granted while the patient was a minor loses access on the 18th birthday; the day before, access is limited", async () => {
    const aunt = { username: 'aunt', password: 'knitting club', secret: 'KRUGS4ZANFZSAYLVNZ2CAYLOMQQGC3TE' };
    const account = await createAccount(tdb.db, { username: aunt.username, displayName: 'Aunt', password: aunt.password, totpSecret: aunt.secret, fhirUser: 'RelatedPerson/rp-aunt' });
    await createDelegation(tdb.db, { patientId: 'kid', proxyAccountId: account.id, basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2021-01-01') });
    const tokens = await launch({ user: aunt, scope: 'launch/patient openid offline_access patient/*.rs' });
    expect(tokens['patient']).toBe('kid');
    const clientId = String(decodeJwt(tokens['access_token']!)['client_id']);
    const saved = clock;
    try {
      clock = new Date('2036-04-30T12:00:00Z');
      expect((await request(app).get('/fhir/Patient/kid').set('Authorization', `Bearer ${tokens['access_token']}`)).status).toBe(200);
      clock = new Date('2036-05-01T12:00:00Z');
      const refresh = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens['refresh_token'], client_id: clientId });
      expect(refresh.body.error).toBe('invalid_grant');
      const read = await request(app).get('/fhir/Patient/kid').set('Authorization', `Bearer ${tokens['access_token']}`);
      expect(read.status).toBe(403);
      expect(read.body.issue[0].details.coding[0].code).toBe('PROXY_SCOPE_EXCEEDED');
    } finally {
      clock = saved;
    }
  });
});

describe('confidential clients', () => {
  const tokenUrl = () => `${config.issuerUrl}/token`;

  test('client_secret_basic: the code exchange needs the secret', async () => {
    const agent = request.agent(app);
    const reg = await agent.post('/auth/register').send({ client_name: 'Secret App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'] });
    expect(reg.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = reg.body as { client_id: string; client_secret: string };
    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, { challenge, pick: 'mom' });
    const form = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const wrong = await agent.post('/auth/token').auth(clientId, 'not-the-secret').type('form').send(form);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    const right = await agent.post('/auth/token').auth(clientId, secret).type('form').send(form);
    expect(right.status).toBe(200);
    expect(right.body.patient).toBe('mom');
  });

  test.each(['RS384', 'ES384'] as const)('private_key_jwt with %s; replayed, mis-addressed and wrong-alg assertions are refused', async (alg) => {
    const { publicKey, privateKey } = await generateKeyPair(alg);
    const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg, use: 'sig' };
    const agent = request.agent(app);
    const reg = await agent
      .post('/auth/register')
      .send({ client_name: `Asymmetric ${alg}`, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: alg, jwks: { keys: [jwk] }, grant_types: ['authorization_code', 'refresh_token'] });
    expect(reg.status).toBe(201);
    const clientId = reg.body.client_id as string;
    const assertion = (overrides: { aud?: string; jti?: string } = {}) =>
      new SignJWT({})
        .setProtectedHeader({ alg, kid: jwk.kid })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(overrides.aud ?? tokenUrl())
        .setJti(overrides.jti ?? randomBytes(16).toString('hex'))
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const { verifier, challenge } = pkce();
    const redirect = await authorize(agent, clientId, { challenge, pick: 'mom' });
    const base = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' };
    const misaddressed = await agent.post('/auth/token').type('form').send({ ...base, client_assertion: await assertion({ aud: 'https://elsewhere.example/token' }) });
    expect(misaddressed.body.error).toBe('invalid_client');
    const jti = randomBytes(16).toString('hex');
    const ok = await agent.post('/auth/token').type('form').send({ ...base, client_assertion: await assertion({ jti }) });
    expect(ok.status).toBe(200);
    const replay = await agent.post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: ok.body.refresh_token ?? 'x', client_assertion_type: base.client_assertion_type, client_assertion: await assertion({ jti }) });
    expect(replay.body.error).toBe('invalid_client');
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(clientId).setSubject(clientId).setAudience(tokenUrl()).setJti('h1').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode('a'.repeat(32)));
    const wrongAlg = await agent.post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x', client_assertion_type: base.client_assertion_type, client_assertion: hmac });
    expect(wrongAlg.body.error).toBe('invalid_client');
  });
});

describe('admin CLI: accounts for imported records (issue 7)', () => {
  test('unknown ids and duplicates are refused with a clear message', async () => {
    await expect(createAccountFor(tdb.db, config, { subject: { kind: 'patient', patientId: 'no-such' } })).rejects.toThrow('Patient/no-such is not in the store');
    await expect(createAccountFor(tdb.db, config, { subject: { kind: 'patient', patientId: 'mom' } })).rejects.toThrow('Patient/mom already has an account ("maria")');
    await expect(createAccountFor(tdb.db, config, { subject: { kind: 'practitioner', practitionerId: 'nope' } })).rejects.toBeInstanceOf(AdminError);
    await expect(
      createAccountFor(tdb.db, config, { subject: { kind: 'related-person', relatedPersonId: 'rp-x', actsFor: 'other', basis: 'parent' } }),
    ).rejects.toThrow('RelatedPerson/rp-x is not in the record of Patient/other');
  });

  test('an enrollment link sets password and authenticator once; then the person launches an app', async () => {
    const created = await createAccountFor(tdb.db, config, { subject: { kind: 'patient', patientId: 'other' }, username: 'nobody.else' });
    expect(created.enrollmentUrl).toMatch(/\/auth\/enroll\?token=/);
    const link = new URL(created.enrollmentUrl!);
    const agent = request.agent(app);
    const page = await agent.get(link.pathname + link.search);
    expect(page.status).toBe(200);
    const secret = /name="secret" value="([A-Z2-7]{32})"/.exec(page.text)![1]!;
    const token = link.searchParams.get('token')!;
    const weak = await agent.post('/auth/enroll').type('form').send({ token, secret, password: 'short', code: totpAt(secret, now()) });
    expect(weak.status).toBe(400);
    const done = await agent.post('/auth/enroll').type('form').send({ token, secret, password: 'a long enough passphrase', code: totpAt(secret, now()) });
    expect(done.status).toBe(200);
    const again = await agent.post('/auth/enroll').type('form').send({ token, secret, password: 'a long enough passphrase', code: totpAt(secret, now()) });
    expect(again.status).toBe(400);
    const tokens = await launch({ user: { username: 'nobody.else', password: 'a long enough passphrase', secret }, scope: 'launch/patient openid patient/*.rs' });
    expect(tokens['patient']).toBe('other');
  });

  test('a backend service client is registered by the administrator, not openly', async () => {
    await expect(registerClient(tdb.db, { name: 'Bulk', redirectUris: [], auth: 'none', backend: true })).rejects.toThrow('private_key_jwt');
    const { clientId, clientSecret } = await registerClient(tdb.db, { name: 'Portal', redirectUris: [REDIRECT], auth: 'secret', launchUri: 'https://portal.example/launch' });
    expect(clientSecret).toBeTruthy();
    const found = await request(app).post('/auth/token').auth(clientId, clientSecret!).type('form').send({ grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT, code_verifier: 'a'.repeat(43) });
    expect(found.body.error).toBe('invalid_grant');
  });
});

describe('signing key rotation', () => {
  test('a rotated key is published and signs; tokens signed by the old key keep working until they expire', async () => {
    const before = await launch({ pick: 'mom', scope: 'launch/patient openid patient/Patient.rs' });
    const oldKid = JSON.parse(Buffer.from(before['access_token']!.split('.')[0]!, 'base64url').toString()).kid as string;
    const server = await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'test'), now, keyCheckMs: 50, rateLimits, accessLog });
    const rotating = server.callback();
    try {
      await rotateSigningKey(tdb.db, { publishForSeconds: 0 });
      await new Promise((r) => setTimeout(r, 400));
      const jwks = await request(rotating).get('/auth/jwks');
      const kids = (jwks.body.keys as { kid: string }[]).map((k) => k.kid);
      expect(kids).toHaveLength(2);
      expect(kids[0]).not.toBe(oldKid);
      expect(kids).toContain(oldKid);
      const read = await request(rotating).get('/fhir/Patient/mom').set('Authorization', `Bearer ${before['access_token']}`);
      expect(read.status).toBe(200);
    } finally {
      // Its key watch would otherwise keep asking the database after the test's pool is gone.
      server.close();
    }
  });
});

describe('rate limits and the access log (RL-1, AUD-1)', () => {
  test('open registration is limited per address, with Retry-After', async () => {
    const tight = createRateLimits({ keyPrefix: `tight-${randomBytes(4).toString('hex')}`, policies: { registration: { points: 2, durationSeconds: 3600 } } });
    try {
      const limited = (await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'test'), now, rateLimits: tight, accessLog })).callback();
      const body = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' };
      expect((await request(limited).post('/auth/register').send(body)).status).toBe(201);
      expect((await request(limited).post('/auth/register').send(body)).status).toBe(201);
      const third = await request(limited).post('/auth/register').send(body);
      expect(third.status).toBe(429);
      expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await tight.close();
    }
  });

  test('the FHIR API limits each app per patient and refused tokens per address, and publishes the policy it enforces', async () => {
    const tight = createRateLimits({
      keyPrefix: `tight-${randomBytes(4).toString('hex')}`,
      policies: { fhir: { points: 150, durationSeconds: 60 }, fhirUnauthenticated: { points: 3, durationSeconds: 60 } },
    });
    const server = await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'test'), now, rateLimits: tight, accessLog });
    try {
      const limited = server.callback();
      // Published: the numbers in force, for every limiter in use, at the documented URL and in the CapabilityStatement.
      const policy = await request(limited).get('/rate-limits').expect(200);
      expect(policy.headers['cache-control']).toBe('public, max-age=300');
      const limits = policy.body.limits as { limiter: string; limit: number; windowSeconds: number }[];
      expect(limits.find((l) => l.limiter === 'fhir')).toMatchObject({ limit: 150, windowSeconds: 60, per: 'client app and patient' });
      expect(limits.find((l) => l.limiter === 'fhirUnauthenticated')).toMatchObject({ limit: 3, windowSeconds: 60, per: 'client address' });
      expect(limits.map((l) => l.limiter)).not.toContain('fhirBackend');
      const metadata = await request(limited).get('/fhir/metadata').expect(200);
      expect(metadata.body.rest[0].documentation).toContain('150 requests per 60 s per client app and patient');
      expect(metadata.body.rest[0].documentation).toContain(`${config.publicUrl}/rate-limits`);

      const tokens = await launch({ pick: 'mom', scope: 'launch/patient openid patient/*.rs' });
      const auth = { Authorization: `Bearer ${tokens['access_token']}` };
      const first = await request(limited).get('/fhir/Patient/mom').set(auth).expect(200);
      expect(first.headers['ratelimit-policy']).toBe('150;w=60');
      expect(first.headers['ratelimit-remaining']).toBe('149');
      for (let i = 1; i < 150; i++) expect((await request(limited).get('/fhir/Patient/mom').set(auth)).status).toBe(200);
      const over = await request(limited).get('/fhir/Patient/mom').set(auth);
      expect(over.status).toBe(429);
      expect(over.body.issue[0].details.coding[0].code).toBe('RATE_LIMITED');
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(over.headers['ratelimit-remaining']).toBe('0');

      // Forged tokens count against the address, with requests that carry none.
      const forged = { Authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln' };
      expect((await request(limited).get('/fhir/Patient/mom').set(forged)).status).toBe(401);
      expect((await request(limited).get('/fhir/Patient/mom').set(forged)).status).toBe(401);
      expect((await request(limited).get('/fhir/Patient/mom')).status).toBe(401);
      const refused = await request(limited).get('/fhir/Patient/mom').set(forged);
      expect(refused.status).toBe(429);
      expect(refused.body.issue[0].details.coding[0].code).toBe('RATE_LIMITED');
    } finally {
      server.close();
      await tight.close();
    }
  });

  test('reads, searches, denials and sign-ins are logged with ids only, and the chain verifies', async () => {
    const tokens = await launch({ pick: 'kid', scope: 'launch/patient openid patient/*.rs' });
    const auth = { Authorization: `Bearer ${tokens['access_token']}` };
    await request(app).get('/fhir/Observation?patient=kid&category=laboratory').set(auth);
    await request(app).get('/fhir/Patient/other').set(auth);
    await request(app).post('/auth/interaction/none/login').type('form').send({ username: 'maria', password: 'wrong' });
    await accessLog.flush();
    const rows = (await tdb.db('access_log').where({ patient_id: 'kid' }).orderBy('seq')) as Record<string, unknown>[];
    const clientId = String(decodeJwt(tokens['access_token']!)['client_id']);
    const search = rows.find((r) => r['action'] === 'search' && r['client_id'] === clientId);
    expect(search).toMatchObject({ outcome: 'success', resource_type: 'Observation', actor_kind: 'proxy', client_id: clientId });
    expect(JSON.stringify(search)).toContain('Observation/kid-hgb-final');
    // Parameter names, never their values.
    expect(JSON.stringify(search)).not.toContain('laboratory');
    const denied = rows.find((r) => r['action'] === 'denied');
    expect(denied).toMatchObject({ outcome: 'denied', reason: 'NOT_FOUND' });
    expect(rows.some((r) => r['action'] === 'consent')).toBe(true);
    expect(rows.some((r) => r['action'] === 'token.issue')).toBe(true);
    expect(await verifyAccessLog(tdb.db)).toEqual([]);
  });
});
