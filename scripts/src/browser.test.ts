/**
 * The standalone launch in a real browser (Debian's chromium driven by playwright-core), the way a
 * person does it: register a public client, authorize with PKCE, sign in with password and TOTP
 * by the fields' labels, pick the child as proxy, untick one scope, then exchange the code,
 * refresh, introspect and revoke as the app would, and read the record through the FHIR API.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { authServerMigrations } from '@patient-access/auth-server';
import {
  consentMigrations,
  createAccessLogWriter,
  createAccount,
  createRateLimits,
  type AccessLogWriter,
  createDelegation,
  createLogger,
  createTestDatabase,
  loadConfig,
  totpAt,
  type TestDatabase,
} from '@patient-access/consent';
import { fhirApiMigrations, writeResources } from '@patient-access/fhir-api';
import { createServerApp } from './server.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const SECRET_2 = 'MZXW6YTBOI2DGNBVGY3TQOJQGEZDGNBV';
const SECRET_3 = 'ONSWG4TFOQQGC3DMEB3WC6JAMFZG6ZDF';
// The server's clock for sign-in codes; tokens still use the system clock.
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);
const REDIRECT = 'https://app.example/callback';
let tdb: TestDatabase;
let server: Server;
let browser: Browser;
let origin: string;
let fhirBase: string;
let accessLog: AccessLogWriter;
const rateLimits = createRateLimits({ keyPrefix: `browser-${randomBytes(4).toString('hex')}` });

beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  // Listen first: the public URLs (issuer, FHIR base) name the port.
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({ PUBLIC_URL: origin });
  fhirBase = config.fhirBaseUrl;
  await tdb.db.transaction((trx) =>
    writeResources(
      trx,
      [
        { resourceType: 'Patient', id: 'mom', name: [{ given: ['Maria'], family: 'Lopez' }], birthDate: '1984-03-02' },
        { resourceType: 'Patient', id: 'kid', name: [{ given: ['Sofia'], family: 'Lopez' }], birthDate: '2018-05-01' },
        { resourceType: 'Condition', id: 'kid-asthma', subject: { reference: 'Patient/kid' }, code: { text: 'asthma' } },
        {
          resourceType: 'Encounter',
          id: 'kid-visit',
          status: 'finished',
          class: { code: 'AMB' },
          subject: { reference: 'Patient/kid' },
          participant: [{ individual: { reference: 'Practitioner/prac-7' } }],
          period: { start: '2026-10-01T09:00:00Z', end: '2026-10-01T09:30:00Z' },
        },
      ],
      { fhirBaseUrl: fhirBase },
    ),
  );
  const mom = await createAccount(tdb.db, { username: 'maria', displayName: 'Maria', password: 'correct horse', totpSecret: SECRET, fhirUser: 'Patient/mom', patientId: 'mom' });
  await createAccount(tdb.db, { username: 'dr.who', displayName: 'Dr Who', password: 'tardis blue box', totpSecret: SECRET_3, fhirUser: 'Practitioner/prac-7' });
  // A second person, so the two tests need not wait for a fresh TOTP time step.
  await createAccount(tdb.db, { username: 'sofia', displayName: 'Sofia', password: 'sofia is eight', totpSecret: SECRET_2, fhirUser: 'Patient/kid', patientId: 'kid' });
  await createDelegation(tdb.db, { patientId: 'kid', proxyAccountId: mom.id, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  const app = await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'browser-test'), now, rateLimits, accessLog: (accessLog = createAccessLogWriter(tdb.db)) });
  server.on('request', app.callback());
  browser = await chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await accessLog?.close();
  await rateLimits.close();
  await new Promise((resolve) => server?.close(resolve));
  await tdb?.destroy();
});

const post = async (path: string, form: Record<string, string>) => {
  const res = await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Opens `url` in a fresh browser context; the app's redirect URI is captured, not served. */
async function openAt(url: URL): Promise<{ page: Page; callback: () => Promise<URL>; close: () => Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  let captured: URL | undefined;
  await page.route('https://app.example/**', async (route) => {
    captured = new URL(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>app</p>' });
  });
  await page.goto(url.href);
  return {
    page,
    callback: async () => {
      await page.waitForURL(/app\.example\/callback/);
      return captured!;
    },
    close: () => context.close(),
  };
}

/** Password then TOTP, finding the fields by their labels as a person (or a screen reader) would. */
async function signIn(page: Page, username: string, password: string, secret: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Verification code').fill(totpAt(secret, now()));
  await page.getByRole('button', { name: 'Verify' }).click();
}

test('standalone launch as a proxy, in Chromium', async () => {
  const registration = await fetch(`${origin}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Browser Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
  });
  expect(registration.status).toBe(201);
  const clientId = String(((await registration.json()) as { client_id: string }).client_id);
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${origin}/auth/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'launch/patient openid fhirUser offline_access patient/Patient.rs patient/Condition.rs patient/Observation.rs',
    state: 'browser-state',
    aud: fhirBase,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(k, v);
  }

  const { page, callback, close } = await openAt(authorize);
  await signIn(page, 'maria', 'correct horse', SECRET);
  await page.getByRole('heading', { name: 'Whose record?' }).waitFor();
  await page.getByLabel(/Sofia Lopez/).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  await page.getByLabel(/Results, vital signs and other observations/).uncheck();
  await page.getByRole('button', { name: 'Allow' }).click();
  const redirect = await callback();
  await close();

  expect(redirect.searchParams.get('state')).toBe('browser-state');
  const token = await post('/auth/token', { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
  expect(token.status).toBe(200);
  expect(token.body).toMatchObject({ token_type: 'Bearer', patient: 'kid', need_patient_banner: true });
  const scopes = String(token.body['scope']).split(' ');
  expect(scopes).toEqual(expect.arrayContaining(['launch/patient', 'openid', 'fhirUser', 'offline_access', 'patient/Patient.rs', 'patient/Condition.rs']));
  expect(scopes).not.toContain('patient/Observation.rs');
  expect(decodeJwt(String(token.body['id_token']))['fhirUser']).toBe(`${fhirBase}/Patient/mom`);

  const condition = await fetch(`${fhirBase}/Condition?patient=kid`, { headers: { authorization: `Bearer ${token.body['access_token']}` } });
  expect(condition.status).toBe(200);
  expect(((await condition.json()) as { total: number }).total).toBe(1);
  const observations = await fetch(`${fhirBase}/Observation?patient=kid`, { headers: { authorization: `Bearer ${token.body['access_token']}` } });
  expect(observations.status).toBe(403);

  const refreshed = await post('/auth/token', { grant_type: 'refresh_token', refresh_token: String(token.body['refresh_token']), client_id: clientId });
  expect(refreshed.status).toBe(200);
  const introspected = await post('/auth/token/introspection', { token: String(refreshed.body['access_token']), client_id: clientId });
  expect(introspected.body).toMatchObject({ active: true, patient: 'kid', client_id: clientId });
  const revoked = await fetch(`${origin}/auth/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: String(refreshed.body['refresh_token']), client_id: clientId }),
  });
  expect(revoked.status).toBe(200);
  const after = await post('/auth/token', { grant_type: 'refresh_token', refresh_token: String(refreshed.body['refresh_token']), client_id: clientId });
  expect(after.body['error']).toBe('invalid_grant');
});

test('openid-client as the relying party: a confidential asymmetric client (private_key_jwt, ES384)', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'rp-key-1', alg: 'ES384', use: 'sig' };
  const registration = await fetch(`${origin}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'openid-client RP',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES384',
      jwks: { keys: [jwk] },
      grant_types: ['authorization_code', 'refresh_token'],
    }),
  });
  expect(registration.status).toBe(201);
  const clientId = String(((await registration.json()) as { client_id: string }).client_id);

  // Discovery, id_token validation and the client assertion are all openid-client's own code.
  const config = await oidc.discovery(new URL(`${origin}/auth`), clientId, { token_endpoint_auth_signing_alg: 'ES384' }, oidc.PrivateKeyJwt({ key: privateKey, kid: jwk.kid }), {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'launch/patient openid fhirUser patient/Patient.rs',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    aud: fhirBase,
  });

  const { page, callback, close } = await openAt(url);
  await signIn(page, 'sofia', 'sofia is eight', SECRET_2);
  // One record only: no picker.
  await page.getByRole('button', { name: 'Allow' }).click();
  const redirect = await callback();
  await close();

  const tokens = await oidc.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  expect(tokens.claims()?.['fhirUser']).toBe(`${fhirBase}/Patient/kid`);
  expect((tokens as unknown as Record<string, unknown>)['patient']).toBe('kid');
  const patient = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${fhirBase}/Patient/kid`), 'GET');
  expect(patient.status).toBe(200);
});

test('a clinician launches an app from the staff page (g10 scenario 3), in Chromium', async () => {
  const registration = await fetch(`${origin}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Chart App', redirect_uris: [REDIRECT], launch_uri: 'https://app.example/launch', token_endpoint_auth_method: 'none' }),
  });
  const clientId = String(((await registration.json()) as { client_id: string }).client_id);
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen: URL[] = [];
  await page.route('https://app.example/**', async (route) => {
    seen.push(new URL(route.request().url()));
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>app</p>' });
  });
  // The staff page asks to sign in first, then lists the clinician's patients.
  await page.goto(`${origin}/auth/launch`);
  await page.getByLabel('Username').fill('dr.who');
  await page.getByLabel('Password').fill('tardis blue box');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Verification code').fill(totpAt(SECRET_3, now()));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('button', { name: 'Launch Chart App for Sofia Lopez' }).click();
  await page.waitForURL(/app\.example\/launch/);
  const launchUrl = seen.at(-1)!;
  expect(launchUrl.searchParams.get('iss')).toBe(fhirBase);

  // The app, given iss and launch, starts the authorization; the clinician signs in to it.
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${origin}/auth/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'launch openid fhirUser user/*.rs',
    state: 'ehr',
    aud: fhirBase,
    launch: launchUrl.searchParams.get('launch')!,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(k, v);
  }
  await page.goto(authorize.href);
  // A fresh TOTP step: the code above was accepted once already.
  clockOffsetMs += 60_000;
  await signIn(page, 'dr.who', 'tardis blue box', SECRET_3);
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/app\.example\/callback/);
  const callback = seen.at(-1)!;
  await context.close();

  const token = await post('/auth/token', { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
  expect(token.status).toBe(200);
  expect(token.body).toMatchObject({ patient: 'kid', encounter: 'kid-visit', need_patient_banner: true });
  expect(String(token.body['smart_style_url'])).toMatch(/^http/);
  expect(decodeJwt(String(token.body['id_token']))['fhirUser']).toBe(`${fhirBase}/Practitioner/prac-7`);
  const encounter = await fetch(`${fhirBase}/Encounter/kid-visit`, { headers: { authorization: `Bearer ${token.body['access_token']}` } });
  expect(encounter.status).toBe(200);
  const other = await fetch(`${fhirBase}/Patient/mom`, { headers: { authorization: `Bearer ${token.body['access_token']}` } });
  expect(other.status).toBe(404);
});
