/**
 * Authorization-server hardening, through HTTP as an attacker would drive it: revocation of
 * another client's tokens, grant revocation on code and refresh token reuse (and the app grant
 * with it), delegations ending, open registration limits, proxy headers, lockout, NUL bytes and
 * out-of-range dates, EHR launch subject, connected-apps narrowing, PAR, framing headers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Resource } from '@medplum/fhirtypes';
import { createDelegation, totpAt } from '@patient-access/consent';
import { registerClient } from './admin/clients.js';
import { REDIRECT, createHttpHarness, createTestAccount, type HttpHarness, type TestUser } from './testing/http-harness.js';

const ORIGIN = 'http://localhost:8080';
const MARIA: TestUser = { username: 'maria', password: 'correct horse', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const PAPA: TestUser = { username: 'papa', password: 'papa bear pass', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const LOCKY: TestUser = { username: 'locky', password: 'locky pass 1', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };
const RACY: TestUser = { username: 'racy', password: 'racy pass 1', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };

const category = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code }] });
const obs = (id: string, patient: string, cat: string): Resource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [category(cat)],
    code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-10-01',
  }) as Resource;

const RESOURCES: Resource[] = [
  { resourceType: 'Patient', id: 'mom', name: [{ given: ['Maria'], family: 'Lopez' }], birthDate: '1984-03-02' },
  { resourceType: 'Patient', id: 'dad', name: [{ given: ['Pablo'], family: 'Lopez' }], birthDate: '1982-03-02' },
  { resourceType: 'Patient', id: 'kid', name: [{ given: ['Sofia'], family: 'Lopez' }], birthDate: '2018-05-01' },
  obs('mom-lab', 'mom', 'laboratory'),
  obs('mom-vitals', 'mom', 'vital-signs'),
  obs('kid-lab', 'kid', 'laboratory'),
] as Resource[];

let h: HttpHarness;
let papaToKid: string;
let mariaToKid: string;

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

beforeAll(async () => {
  h = await createHttpHarness({
    resources: RESOURCES,
    async setup(db) {
      const maria = await createTestAccount(db, MARIA, 'Patient/mom', 'mom');
      const papa = await createTestAccount(db, PAPA, 'Patient/dad', 'dad');
      await createTestAccount(db, LOCKY, 'Patient/dad');
      await createTestAccount(db, RACY, 'Patient/dad');
      mariaToKid = await createDelegation(db, { patientId: 'kid', proxyAccountId: maria, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
      papaToKid = await createDelegation(db, { patientId: 'kid', proxyAccountId: papa, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
    },
  });
});

afterAll(async () => {
  await h?.close();
});

async function registerPublic(extra: Record<string, unknown> = {}): Promise<string> {
  const res = await request(h.app)
    .post('/auth/register')
    .send({ client_name: 'Hardening App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...extra });
  expect(res.status).toBe(201);
  return res.body.client_id as string;
}

/** Follows the interaction redirects; tells the caller the latest interaction path. */
async function follow(agent: TestAgent, res: request.Response, onInteraction?: (path: string) => void): Promise<request.Response> {
  while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
    const next = new URL(res.headers['location'] as string, ORIGIN);
    if (next.pathname.includes('/interaction/')) onInteraction?.(next.pathname.replace(/\/$/, ''));
    res = await agent.get(next.pathname + next.search);
  }
  return res;
}

interface Authorized {
  clientId: string;
  code: string;
  verifier: string;
}

/** Register, authorize as `user` (picking `subject` if asked), consent to everything offered; the code. */
async function authorizeCode(user: TestUser, o: { subject?: string; scope?: string; clientId?: string; launch?: string; onPicker?: (agent: TestAgent, path: string) => Promise<request.Response> } = {}): Promise<Authorized> {
  const agent = request.agent(h.app);
  const clientId = o.clientId ?? (await registerPublic());
  const { verifier, challenge } = pkce();
  const query = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: o.scope ?? 'launch/patient openid fhirUser offline_access patient/*.rs',
    state: 's',
    aud: h.fhirBase,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(o.launch ? { launch: o.launch } : {}),
  };
  let res = await agent.get('/auth/authorize').query(query);
  let path = new URL(res.headers['location'] as string, ORIGIN).pathname;
  await agent.get(path);
  res = await agent.post(`${path}/login`).type('form').send({ username: user.username, password: user.password });
  h.advance(60_000);
  res = await follow(agent, await agent.post(`${path}/mfa`).type('form').send({ code: totpAt(user.secret, h.now()) }), (p) => (path = p));
  if (o.onPicker) res = await follow(agent, await o.onPicker(agent, path), (p) => (path = p));
  else if (res.text.includes('name="subject"')) res = await follow(agent, await agent.post(`${path}/select`).type('form').send({ subject: o.subject }), (p) => (path = p));
  expect(res.text).toContain('Allow access?');
  const offered = [...res.text.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!.replace(/&#42;/g, '*'));
  res = await follow(agent, await agent.post(`${path}/consent`).type('form').send(offered.map((s) => `scope=${encodeURIComponent(s)}`).join('&') + '&decision=allow'));
  const code = new URL(res.headers['location'] as string).searchParams.get('code');
  expect(code).toBeTruthy();
  return { clientId, code: code!, verifier };
}

const authorizeQuery = (clientId: string, extra: Record<string, string>) => ({
  response_type: 'code',
  client_id: clientId,
  redirect_uri: REDIRECT,
  scope: 'openid patient/*.rs',
  state: 's',
  aud: h.fhirBase,
  code_challenge: pkce().challenge,
  code_challenge_method: 'S256',
  ...extra,
});
const exchange = (a: Authorized) =>
  request(h.app).post('/auth/token').type('form').send({ grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT, client_id: a.clientId, code_verifier: a.verifier });
const refreshWith = (clientId: string, refreshToken: string) => request(h.app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
const introspect = (clientId: string, token: string) => request(h.app).post('/auth/token/introspection').type('form').send({ token, client_id: clientId });
const grantStatus = async (grantId: string) => ((await h.db('app_grant').where({ id: grantId }).first('status')) as { status: string } | undefined)?.status;
const grantIdOf = (accessToken: string) => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')).grant_id as string;

describe('1. revocation: only the client a token was issued to can revoke it (RFC 7009 §2.1)', () => {
  test("a public client presenting another app's refresh token gets 200 and nothing is revoked", async () => {
    const a = await h.launch(MARIA, { subject: 'self:mom' });
    const b = await registerPublic();
    const res = await request(h.app).post('/auth/token/revocation').type('form').send({ token: a.refreshToken, token_type_hint: 'refresh_token', client_id: b });
    expect(res.status).toBe(200);
    expect(await grantStatus(grantIdOf(a.token))).toBe('active');
    expect((await h.fhir(a.token, 'Patient/mom')).status).toBe(200);
    expect((await introspect(a.clientId, a.refreshToken!)).body.active).toBe(true);
    expect((await h.refresh(a)).status).toBe(200);
  });

  test('the owning client revoking its refresh token ends the grant and the app grant', async () => {
    const a = await h.launch(MARIA, { subject: 'self:mom' });
    const res = await request(h.app).post('/auth/token/revocation').type('form').send({ token: a.refreshToken, client_id: a.clientId });
    expect(res.status).toBe(200);
    expect(await grantStatus(grantIdOf(a.token))).toBe('revoked');
    expect((await h.fhir(a.token, 'Patient/mom')).status).toBe(401);
  });
});

describe('2. grant revocations by the provider end the app grant; ended app grants end refresh tokens', () => {
  test('reusing an authorization code revokes the grant: the first access token stops working', async () => {
    const a = await authorizeCode(MARIA, { subject: 'self:mom' });
    const first = await exchange(a);
    expect(first.status).toBe(200);
    expect((await h.fhir(first.body.access_token, 'Patient/mom')).status).toBe(200);
    const replay = await exchange(a);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(await grantStatus(grantIdOf(first.body.access_token))).toBe('revoked');
    expect(((await h.db('app_grant').where({ id: grantIdOf(first.body.access_token) }).first('status_reason')) as { status_reason: string }).status_reason).toBe('authorization code reused');
    expect((await h.fhir(first.body.access_token, 'Patient/mom')).status).toBe(401);
    expect((await introspect(a.clientId, first.body.access_token)).body).toEqual({ active: false });
    expect((await refreshWith(a.clientId, first.body.refresh_token)).body.error).toBe('invalid_grant');
  });

  test('reusing a rotated refresh token revokes the grant and the connected-apps page no longer lists it', async () => {
    const a = await h.launch(MARIA, { subject: 'self:mom', appName: 'Reused Refresh App' });
    const rotated = await h.refresh(a);
    expect(rotated.status).toBe(200);
    const reuse = await h.refresh(a);
    expect(reuse.body.error).toBe('invalid_grant');
    for (const token of [a.token, rotated.body.access_token as string]) {
      expect((await h.fhir(token, 'Patient/mom')).status).toBe(401);
      expect((await introspect(a.clientId, token)).body).toEqual({ active: false });
    }
    expect(await grantStatus(grantIdOf(a.token))).toBe('revoked');
    const portal = await h.portalLogin(MARIA);
    expect((await portal.get('/auth/apps')).text).not.toContain('Reused Refresh App');
  });

  test("ending a delegation: the proxy's refresh token introspects inactive and cannot be used (PRX-6)", async () => {
    const a = await h.launch(PAPA, { subject: `delegation:${papaToKid}` });
    expect(a.patient).toBe('kid');
    expect((await introspect(a.clientId, a.refreshToken!)).body.active).toBe(true);
    const portal = await h.portalLogin(PAPA);
    expect((await portal.delete(`/v1/portal/proxy/delegations/${papaToKid}`)).status).toBe(204);
    expect((await introspect(a.clientId, a.refreshToken!)).body).toEqual({ active: false });
    const refreshed = await h.refresh(a);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });
});

describe('3. open registration never yields a backend (client_credentials) client', () => {
  test('PUT on the registration (client_update) refuses client_credentials like POST does', async () => {
    const reg = await request(h.app).post('/auth/register').send({ client_name: 'sneaky', redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    expect(reg.status).toBe(201);
    const post = await request(h.app).post('/auth/register').send({ client_name: 'sneaky', redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'] });
    expect(post.status).toBe(400);
    const put = await request(h.app)
      .put(new URL(reg.body.registration_client_uri as string).pathname)
      .set('Authorization', `Bearer ${reg.body.registration_access_token}`)
      .send({
        client_id: reg.body.client_id,
        client_secret: reg.body.client_secret,
        client_name: 'sneaky',
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: ['https://a.example/cb'],
        grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      });
    expect(put.status).toBe(400);
    expect(put.body).toEqual({ error: 'invalid_client_metadata', error_description: post.body.error_description });
    const token = await request(h.app).post('/auth/token').auth(reg.body.client_id, reg.body.client_secret).type('form').send({ grant_type: 'client_credentials', scope: 'system/*.rs' });
    expect(token.status).toBe(400);
    expect(token.body.error).toBe('unauthorized_client');
  });
});

describe('4. X-Forwarded-For is ignored unless TRUST_PROXY says a proxy is in front', () => {
  test('with TRUST_PROXY unset, the access log records the socket address, not the header', async () => {
    const res = await request(h.app).post('/auth/register').set('X-Forwarded-For', '203.0.113.77').send({ client_name: 'xff', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(201);
    const row = (await h.db('access_log').where({ action: 'registration', client_id: res.body.client_id }).first('source_address')) as { source_address: string };
    expect(row.source_address).not.toContain('203.0.113.77');
    expect(row.source_address).toMatch(/127\.0\.0\.1|::1/);
  });
});

describe('7. launch_uri follows the redirect_uris rules, on registration and update', () => {
  test.each(['javascript:alert(document.cookie)', 'http://app.example/launch', 'data:text/html,hi', 'not a url', 'https://user:pw@app.example/launch'])('%s is refused', async (launchUri) => {
    const res = await request(h.app).post('/auth/register').send({ client_name: 'bad launch', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', launch_uri: launchUri });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_client_metadata');
  });

  test('https and loopback http are accepted; an update to javascript: is refused; the launch page lists only safe URIs', async () => {
    for (const ok of ['https://app.example/launch', 'http://localhost:9999/launch', 'http://127.0.0.1:9999/launch']) {
      const res = await request(h.app).post('/auth/register').send({ client_name: 'good launch', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', launch_uri: ok });
      expect(res.status).toBe(201);
    }
    const reg = await request(h.app).post('/auth/register').send({ client_name: 'Turncoat', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', launch_uri: 'https://turncoat.example/launch' });
    const put = await request(h.app)
      .put(new URL(reg.body.registration_client_uri as string).pathname)
      .set('Authorization', `Bearer ${reg.body.registration_access_token}`)
      .send({ client_id: reg.body.client_id, client_name: 'Turncoat', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', launch_uri: 'javascript:alert(1)' });
    expect(put.status).toBe(400);
    expect(put.body.error).toBe('invalid_client_metadata');
    // Even a row written before this rule is not offered as a launch target.
    await h.db('oidc_payload').insert({ kind: 'Client', id: 'legacy-bad-launch', payload: JSON.stringify({ client_id: 'legacy-bad-launch', client_name: 'Legacy Evil', launch_uri: 'javascript:alert(1)' }) });
    const portal = await h.portalLogin(MARIA);
    const page = await portal.get('/auth/launch');
    expect(page.text).toContain('Turncoat');
    expect(page.text).not.toContain('Legacy Evil');
  });
});

describe('10. discovery advertises only what works', () => {
  test('pushed authorization requests are not offered', async () => {
    const meta = await request(h.app).get('/auth/.well-known/openid-configuration');
    expect(meta.body.pushed_authorization_request_endpoint).toBeUndefined();
    const smart = await request(h.app).get('/fhir/.well-known/smart-configuration');
    expect(JSON.stringify(smart.body)).not.toContain('pushed_authorization');
    const clientId = await registerPublic();
    const par = await request(h.app).post('/auth/request').type('form').send({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', aud: h.fhirBase });
    expect(par.status).toBe(404);
  });
});

describe('6. lockout does not reveal which usernames exist', () => {
  test('after five failures a real and an unknown username both get 429 with Retry-After, identically', async () => {
    const attempt = async (username: string) => {
      const agent = request.agent(h.app);
      const clientId = await registerPublic();
      const { challenge } = pkce();
      const start = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid patient/*.rs', aud: h.fhirBase, code_challenge: challenge, code_challenge_method: 'S256' });
      const path = new URL(start.headers['location'] as string, ORIGIN).pathname;
      await agent.get(path);
      const out: { status: number; retryAfter: unknown; text: string }[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await agent.post(`${path}/login`).type('form').send({ username, password: 'wrong password' });
        out.push({ status: res.status, retryAfter: res.headers['retry-after'] !== undefined, text: res.text.replace(/\/interaction\/[^/"]+/g, '/interaction/X') });
      }
      return out;
    };
    const real = await attempt(LOCKY.username);
    const unknown = await attempt('no-such-person');
    expect(real.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429]);
    expect(unknown).toEqual(real);
    expect(real[5]!.retryAfter).toBe(true);
  });
});

describe('5. concurrent wrong passwords still reach the lockout', () => {
  test('parallel wrong passwords through the portal sign-in lock the account', async () => {
    const tries = await Promise.all(Array.from({ length: 6 }, () => request(h.app).post('/auth/portal/login?next=%2Fapps').type('form').send({ username: RACY.username, password: 'wrong password' })));
    expect(tries.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    const right = await request(h.app).post('/auth/portal/login?next=%2Fapps').type('form').send({ username: RACY.username, password: RACY.password });
    expect(right.status).toBe(429);
    expect(right.headers['retry-after']).toBeDefined();
  });
});

describe('8. narrowing to a category scope survives refresh (API-4)', () => {
  test('narrow to laboratory → refresh → the token carries the category scope: lab readable, vital signs not', async () => {
    const LAB = 'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
    const a = await h.launch(MARIA, { subject: 'self:mom', scope: 'launch/patient openid fhirUser offline_access patient/Observation.rs' });
    const grantId = grantIdOf(a.token);
    const portal = await h.portalLogin(MARIA);
    const narrowed = await portal.post(`/auth/apps/${grantId}/scopes`).type('form').send(`scope=${encodeURIComponent(LAB)}`);
    expect(narrowed.status).toBe(302);
    const refreshed = await h.refresh(a);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope.split(' ')).toContain(LAB);
    expect(refreshed.body.scope.split(' ')).not.toContain('patient/Observation.rs');
    const token = refreshed.body.access_token as string;
    expect((await h.fhir(token, 'Observation/mom-lab')).status).toBe(200);
    // Outside the granted category: not readable (the API answers a read it may not show as not found).
    expect([403, 404]).toContain((await h.fhir(token, 'Observation/mom-vitals')).status);
    const search = await h.fhir(token, 'Observation?patient=mom');
    expect(search.status).toBe(200);
    expect((search.body.entry as { resource: { id: string } }[]).map((e) => e.resource.id)).toEqual(['mom-lab']);
    // And again: the rotated refresh token carries it too.
    const again = await h.refresh({ ...a, refreshToken: refreshed.body.refresh_token });
    expect(again.body.scope.split(' ')).toContain(LAB);
  });
});

describe('9. an EHR launch fixes the patient', () => {
  test('/select cannot override the launched patient; the launch is consumed once', async () => {
    const clientId = await registerPublic({ launch_uri: 'https://ehr-app.example/launch' });
    const portal = await h.portalLogin(MARIA);
    const launched = await portal.post('/auth/launch').type('form').send({ client_id: clientId, patient: 'kid' });
    expect(launched.status).toBe(302);
    const launch = new URL(launched.headers['location'] as string).searchParams.get('launch')!;
    let override: request.Response | undefined;
    const a = await authorizeCode(MARIA, {
      clientId,
      launch,
      scope: 'launch openid fhirUser patient/*.rs',
      async onPicker(agent, path) {
        override = await agent.post(`${path}/select`).type('form').send({ subject: 'self:mom' });
        return agent.get(path);
      },
    });
    expect(override!.status).toBe(400);
    expect(override!.headers['content-type']).toMatch(/text\/html/);
    const token = await exchange(a);
    expect(token.status).toBe(200);
    expect(token.body.patient).toBe('kid');
    const used = (await h.db('launch_context').where({ id: launch }).first('used_at')) as { used_at: unknown };
    expect(used.used_at).not.toBeNull();
    // The same launch value again: refused (already used), never a fall-back to the picker.
    const agent = request.agent(h.app);
    const { challenge } = pkce();
    let res = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch openid patient/*.rs', state: 's', aud: h.fhirBase, code_challenge: challenge, code_challenge_method: 'S256', launch });
    let path = new URL(res.headers['location'] as string, ORIGIN).pathname;
    await agent.get(path);
    await agent.post(`${path}/login`).type('form').send({ username: MARIA.username, password: MARIA.password });
    h.advance(60_000);
    res = await follow(agent, await agent.post(`${path}/mfa`).type('form').send({ code: totpAt(MARIA.secret, h.now()) }), (p) => (path = p));
    const back = new URL(res.headers['location'] as string);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('code')).toBeNull();
  });
});

describe('11. NUL bytes and out-of-range dates are 4xx at the edges, never 500', () => {
  test.each(['state', 'nonce', 'login_hint', 'ui_locales'])('authorize with %s containing NUL: 400 HTML error page', async (param) => {
    const clientId = await registerPublic();
    const res = await request(h.app).get('/auth/authorize').query(authorizeQuery(clientId, { [param]: 'a\u0000b' }));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('invalid_request');
  });

  test.each(['client_name', 'software_id', 'logo_uri', 'launch_uri', 'redirect_uris'])('registration with NUL in %s: 400 invalid_client_metadata (POST and PUT)', async (field) => {
    const value = field === 'redirect_uris' ? ['http://localhost:9999/cb\u0000'] : field.endsWith('uri') ? 'https://app.example/x\u0000' : 'a\u0000b';
    const post = await request(h.app).post('/auth/register').send({ client_name: 'nul', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', [field]: value });
    expect(post.status).toBe(400);
    expect(post.body.error).toBe('invalid_client_metadata');
    const reg = await request(h.app).post('/auth/register').send({ client_name: 'nul', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const put = await request(h.app)
      .put(new URL(reg.body.registration_client_uri as string).pathname)
      .set('Authorization', `Bearer ${reg.body.registration_access_token}`)
      .send({ client_id: reg.body.client_id, client_name: 'nul', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', [field]: value });
    expect(put.status).toBe(400);
    expect(put.body.error).toBe('invalid_client_metadata');
  });

  test('token, introspection and revocation with NUL values: OAuth errors, no 500', async () => {
    const clientId = await registerPublic();
    const token = (body: Record<string, string>) => request(h.app).post('/auth/token').type('form').send(body);
    const code = await token({ grant_type: 'authorization_code', code: 'a\u0000', redirect_uri: REDIRECT, client_id: clientId, code_verifier: 'x'.repeat(43) });
    expect(code.status).toBe(400);
    expect(code.body.error).toBe('invalid_grant');
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: 'a\u0000', client_id: clientId });
    expect(refresh.body.error).toBe('invalid_grant');
    const client = await token({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'a\u0000' });
    expect(client.status).toBe(401);
    expect(client.body.error).toBe('invalid_client');
    const intro = await request(h.app).post('/auth/token/introspection').type('form').send({ token: 'a\u0000', client_id: clientId });
    expect(intro.status).toBe(200);
    expect(intro.body).toEqual({ active: false });
    const revoke = await request(h.app).post('/auth/token/revocation').type('form').send({ token: 'a\u0000', client_id: clientId });
    expect(revoke.status).toBe(200);
    const query = await request(h.app).post('/auth/token?x=%00').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x', client_id: clientId });
    expect(query.status).toBe(400);
    expect(query.body.error).toBe('invalid_request');
  });

  test('sign-in with NUL in the username: 400 HTML error page (interaction and portal)', async () => {
    const clientId = await registerPublic();
    const agent = request.agent(h.app);
    const start = await agent.get('/auth/authorize').query(authorizeQuery(clientId, {}));
    const path = new URL(start.headers['location'] as string, ORIGIN).pathname;
    await agent.get(path);
    const login = await agent.post(`${path}/login`).type('form').send({ username: 'maria\u0000', password: 'x' });
    expect(login.status).toBe(400);
    expect(login.headers['content-type']).toMatch(/text\/html/);
    const portal = await request(h.app).post('/auth/portal/login?next=%2Fapps').type('form').send({ username: 'maria\u0000', password: 'x' });
    expect(portal.status).toBe(400);
    expect(portal.headers['content-type']).toMatch(/text\/html/);
  });

  test('the delegation API: NUL usernames, ids and far dates, malformed JSON: 4xx in its JSON shape', async () => {
    const portal = await h.portalLogin(MARIA);
    const nul = await portal.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'papa\u0000' });
    expect(nul.status).toBe(400);
    expect(nul.body.error.code).toBe('INVALID_PROXY');
    const nulId = await portal.post('/v1/portal/proxy/delegations').send({ proxyAccountId: '\u0000' });
    expect(nulId.body.error.code).toBe('INVALID_PROXY');
    const far = await portal.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'papa', endsAt: '+275760-09-13T00:00:00.000Z' });
    expect(far.status).toBe(400);
    expect(far.body.error.code).toBe('INVALID_END');
    const bad = await portal.post('/v1/portal/proxy/delegations').set('Content-Type', 'application/json').send('{bad');
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/json/);
    expect(bad.body.error.code).toBe('INVALID_BODY');
    const del = await portal.delete('/v1/portal/proxy/delegations/%00');
    expect(del.status).toBe(404);
    expect(del.body.error.code).toBe('DELEGATION_NOT_FOUND');
    // The delegation to Maria's child is untouched by all of this.
    expect((await h.db('proxy_delegation').where({ id: mariaToKid }).first('status')).status).toBe('active');
  });
});

describe('12. hardening', () => {
  test('an unknown or expired interaction is the HTML error page, not text/plain', async () => {
    const res = await request(h.app).get('/auth/interaction/no-such-interaction');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('Authorization error');
  });

  test('login, picker, consent, connected-apps, launch and enrollment pages cannot be framed', async () => {
    const framed = (res: request.Response) => {
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    };
    const clientId = await registerPublic();
    const agent = request.agent(h.app);
    const start = await agent.get('/auth/authorize').query(authorizeQuery(clientId, {}));
    let path = new URL(start.headers['location'] as string, ORIGIN).pathname;
    framed(await agent.get(path));
    framed(await agent.post(`${path}/login`).type('form').send({ username: MARIA.username, password: MARIA.password }));
    h.advance(60_000);
    const picker = await follow(agent, await agent.post(`${path}/mfa`).type('form').send({ code: totpAt(MARIA.secret, h.now()) }), (p) => (path = p));
    expect(picker.text).toContain('name="subject"');
    framed(picker);
    const consent = await agent.post(`${path}/select`).type('form').send({ subject: 'self:mom' });
    expect(consent.text).toContain('Allow access?');
    framed(consent);
    const portal = await h.portalLogin(MARIA);
    framed(await portal.get('/auth/apps'));
    framed(await portal.get('/auth/launch'));
    framed(await request(h.app).get('/auth/portal/login'));
    framed(await request(h.app).get('/auth/enroll?token=nope'));
  });

  test('aud: the FHIR base or it with one trailing slash; more slashes are refused', async () => {
    const clientId = await registerPublic();
    const ok = await request(h.app).get('/auth/authorize').query(authorizeQuery(clientId, { aud: `${h.fhirBase}/` }));
    expect(new URL(ok.headers['location'] as string, ORIGIN).pathname).toContain('/interaction/');
    const slashes = await request(h.app).get('/auth/authorize').query(authorizeQuery(clientId, { aud: `${h.fhirBase}///` }));
    const back = new URL(slashes.headers['location'] as string, ORIGIN);
    expect(back.pathname).not.toContain('/interaction/');
    expect(back.searchParams.get('error')).toBe('invalid_request');
  });

  test('private_key_jwt: an assertion expiring more than five minutes ahead is refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS384');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'backend-1', alg: 'RS384', use: 'sig' };
    const { clientId } = await registerClient(h.db, { name: 'Backend', redirectUris: [], auth: 'jwks', jwks: { keys: [jwk] }, backend: true });
    const assertion = (expiresIn: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS384', kid: jwk.kid })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(`${ORIGIN}/auth/token`)
        .setJti(randomBytes(16).toString('hex'))
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(privateKey);
    const token = async (expiresIn: string) =>
      request(h.app)
        .post('/auth/token')
        .type('form')
        .send({ grant_type: 'client_credentials', scope: 'system/Patient.rs', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(expiresIn) });
    const long = await token('1h');
    expect(long.status).toBe(401);
    expect(long.body.error).toBe('invalid_client');
    const ok = await token('4m');
    expect(ok.status).toBe(200);
  });
});
