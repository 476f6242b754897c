/**
 * The SMART JavaScript client (fhirclient 2.6.3, its browser bundle) completes a standalone launch
 * against the server in Chromium, as a real app page would: `FHIR.oauth2.authorize` discovers the
 * endpoints from {fhirBase}/.well-known/smart-configuration and sends the person to sign in with
 * PKCE (S256, required); the person signs in with password and TOTP, picks the child they are
 * proxy for and allows access; `FHIR.oauth2.ready` exchanges the code from the browser (CORS) and
 * the app reads the patient in context and searches Conditions through the FHIR API.
 * The app is served from its own origin (http://localhost:<port>), as a third-party app would be.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { chromium, type Browser } from 'playwright-core';
import { authServerMigrations } from '@patient-access/auth-server';
import {
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
import { createServerApp } from './server.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const BUNDLE = new URL('../test-fixtures/fhirclient/fhir-client.min.js', import.meta.url);

let tdb: TestDatabase;
let server: Server;
let appServer: Server;
let browser: Browser;
let accessLog: AccessLogWriter;
let fhirBase: string;
let origin: string;
let appOrigin: string;
const rateLimits = createRateLimits({ keyPrefix: `fhirclient-${randomBytes(4).toString('hex')}` });

/** The app: a launch page that starts the authorization, and a page that finishes it and reads. */
function appPages(clientId: string): Record<string, string> {
  const shell = (script: string) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fhirclient app</title><script src="/fhir-client.min.js"></script></head>` +
    `<body><main><h1>fhirclient app</h1><p id="status">working</p><pre id="out"></pre></main><script>${script}</script></body></html>`;
  return {
    '/launch.html': shell(`
      FHIR.oauth2.authorize({
        iss: ${JSON.stringify(fhirBase)},
        clientId: ${JSON.stringify(clientId)},
        scope: 'launch/patient openid fhirUser offline_access patient/Patient.rs patient/Condition.rs',
        redirectUri: '/index.html',
        pkceMode: 'required'
      }).catch(function (e) { document.getElementById('status').textContent = 'error: ' + e.message; });`),
    '/index.html': shell(`
      FHIR.oauth2.ready().then(function (client) {
        return Promise.all([client.patient.read(), client.request('Condition?patient=' + client.patient.id), Promise.resolve(client)]);
      }).then(function (r) {
        var client = r[2];
        document.getElementById('out').textContent = JSON.stringify({
          patientId: client.patient.id,
          name: r[0].name[0].given[0] + ' ' + r[0].name[0].family,
          conditions: (r[1].entry || []).map(function (e) { return e.resource.id; }),
          scope: client.state.tokenResponse.scope,
          hasRefreshToken: !!client.state.tokenResponse.refresh_token,
          needPatientBanner: client.state.tokenResponse.need_patient_banner,
          user: client.getFhirUser()
        });
        document.getElementById('status').textContent = 'done';
      }).catch(function (e) { document.getElementById('status').textContent = 'error: ' + e.message; });`),
  };
}

let pages: Record<string, string> = {};

beforeAll(async () => {
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
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
      ],
      { fhirBaseUrl: fhirBase },
    ),
  );
  const mom = await createAccount(tdb.db, { username: 'maria', displayName: 'Maria', password: 'correct horse', totpSecret: SECRET, fhirUser: 'Patient/mom', patientId: 'mom' });
  await createDelegation(tdb.db, { patientId: 'kid', proxyAccountId: mom.id, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
  const app = await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'fhirclient-test'), rateLimits, accessLog: (accessLog = createAccessLogWriter(tdb.db)) });
  server.on('request', app.callback());

  const bundle = await readFile(BUNDLE);
  appServer = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    if (path === '/fhir-client.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
      return;
    }
    const body = pages[path];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  // localhost, not 127.0.0.1: another origin than the server's, and a secure context (Web Crypto for PKCE).
  appOrigin = `http://localhost:${(appServer.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await accessLog?.close();
  await rateLimits.close();
  await new Promise((resolve) => appServer?.close(resolve));
  await new Promise((resolve) => server?.close(resolve));
  await tdb?.destroy();
});

test('fhirclient completes a standalone launch (PKCE S256) and reads the patient in context', async () => {
  const registration = await fetch(`${origin}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'fhirclient app', redirect_uris: [`${appOrigin}/index.html`], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
  });
  expect(registration.status).toBe(201);
  pages = appPages(((await registration.json()) as { client_id: string }).client_id);

  const context = await browser.newContext();
  const page = await context.newPage();
  const authorizeRequests: URL[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`${origin}/auth/authorize`)) authorizeRequests.push(new URL(r.url()));
  });
  await page.goto(`${appOrigin}/launch.html`);
  await page.getByLabel('Username').fill('maria');
  await page.getByLabel('Password').fill('correct horse');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Verification code').fill(totpAt(SECRET, new Date()));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { name: 'Whose record?' }).waitFor();
  await page.getByLabel(/Sofia Lopez/).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${appOrigin}/index.html*`);
  await page.locator('#status').filter({ hasText: /done|error/ }).waitFor({ timeout: 20_000 });
  const status = await page.locator('#status').textContent();
  const out = await page.locator('#out').textContent();
  await context.close();

  expect(status).toBe('done');
  // fhirclient discovered the endpoints and used PKCE S256 with aud = the FHIR base.
  const authorize = authorizeRequests[0]!;
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorize.searchParams.get('aud')).toBe(fhirBase);
  const result = JSON.parse(out ?? '{}') as Record<string, unknown>;
  expect(result).toMatchObject({ patientId: 'kid', name: 'Sofia Lopez', conditions: ['kid-asthma'], hasRefreshToken: true, needPatientBanner: true });
  expect(String(result['scope']).split(' ')).toEqual(expect.arrayContaining(['launch/patient', 'openid', 'fhirUser', 'patient/Patient.rs', 'patient/Condition.rs']));
  expect(String(result['user'])).toBe('Patient/mom');
});
