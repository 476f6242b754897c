/**
 * The conformance suite catches faults. The real server, seeded with the demo dataset, sits behind
 * a reverse proxy that can misconfigure the deployment on purpose: PKCE not enforced, `patient`
 * missing from the token response, a search parameter ignored, Cache-Control dropped. With no
 * fault every selected group passes; with each fault the tests that guard against it fail (and
 * the runner's exit status says so). A suite that passed either way would prove nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { authServerMigrations } from '@patient-access/auth-server';
import { consentMigrations, createAccessLogWriter, createLogger, createRateLimits, createTestDatabase, loadConfig, type TestDatabase } from '@patient-access/consent';
import { fhirApiMigrations } from '@patient-access/fhir-api';
import { startAppServer, type AppServer } from '../../conformance/src/app-server.js';
import { buildGroups, DEFAULT_US_CORE_PACKAGE } from '../../conformance/src/cli.js';
import { parseInputs, readInputsFile } from '../../conformance/src/config.js';
import { exitStatus, runGroups, type GroupResult } from '../../conformance/src/runner.js';
import { Suite } from '../../conformance/src/suite.js';
import { seedDemo } from './demo/seed-demo.js';
import { createServerApp } from './server.js';

type Fault = 'none' | 'pkce-not-enforced' | 'no-patient-in-token' | 'category-ignored' | 'no-cache-control';

/** The verifier the "PKCE not enforced" proxy substitutes for whatever the client sends. */
const PROXY_VERIFIER = 'proxy-verifier-0123456789-0123456789-0123456789';
const PROXY_CHALLENGE = createHash('sha256').update(PROXY_VERIFIER).digest('base64url');

let fault: Fault = 'none';
let tdb: TestDatabase;
let backend: Server;
let proxy: Server;
let appServer: AppServer;
let dataDir: string;
let closeServer: () => Promise<void>;
let proxyPort: number;
/** Where the proxy forwards to: the real server, once it listens. */
let targetPort = 0;

/** Rewrites a request on its way in (URL, form body), per fault. */
function mangleRequest(method: string, url: URL, body: Buffer, contentType: string | undefined): Buffer {
  if (fault === 'pkce-not-enforced') {
    if (url.pathname.endsWith('/auth/authorize') && url.searchParams.has('code_challenge')) url.searchParams.set('code_challenge', PROXY_CHALLENGE);
    if (method === 'POST' && url.pathname.endsWith('/auth/token') && contentType?.includes('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('grant_type') === 'authorization_code') {
        form.set('code_verifier', PROXY_VERIFIER);
        return Buffer.from(form.toString());
      }
    }
  }
  if (fault === 'category-ignored' && url.pathname.startsWith('/fhir/Observation')) url.searchParams.delete('category');
  return body;
}

/** Rewrites a response on its way out, per fault. */
function mangleResponse(url: URL, headers: Record<string, string | string[] | undefined>, body: Buffer): Buffer {
  if (fault === 'no-patient-in-token' && url.pathname.endsWith('/auth/token') && String(headers['content-type']).includes('json')) {
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    delete json['patient'];
    return Buffer.from(JSON.stringify(json));
  }
  if (fault === 'no-cache-control' && url.pathname.startsWith('/fhir/')) {
    delete headers['cache-control'];
    delete headers['pragma'];
  }
  return body;
}

async function startProxy(): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://localhost:${proxyPort}`);
      const body = mangleRequest(req.method ?? 'GET', url, Buffer.concat(chunks), req.headers['content-type']);
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers['accept-encoding']; // plain bodies, so responses can be rewritten
      const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: url.pathname + url.search, headers }, (up) => {
        const out: Buffer[] = [];
        up.on('data', (c: Buffer) => out.push(c));
        up.on('end', () => {
          const responseHeaders = { ...up.headers };
          const mangled = mangleResponse(url, responseHeaders, Buffer.concat(out));
          responseHeaders['content-length'] = String(mangled.length);
          delete responseHeaders['transfer-encoding'];
          res.writeHead(up.statusCode ?? 502, responseHeaders);
          res.end(mangled);
        });
      });
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

beforeAll(async () => {
  // The proxy's port is the deployment's public address: reserve it first, then configure the server with it.
  proxy = await startProxy();
  proxyPort = (proxy.address() as AddressInfo).port;
  const config = loadConfig({ PUBLIC_URL: `http://localhost:${proxyPort}` });
  tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  dataDir = await mkdtemp(join(tmpdir(), 'conformance-faults-'));
  await seedDemo(tdb.db, { patients: 0, fhirBaseUrl: config.fhirBaseUrl, accountsFile: join(dataDir, 'demo-accounts.json') });
  const rateLimits = createRateLimits({ keyPrefix: `faults-${process.pid}`, policies: { registration: { points: 1000, durationSeconds: 3600 }, fhir: { points: 1_000_000, durationSeconds: 60 } } });
  const accessLog = createAccessLogWriter(tdb.db);
  const app = await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'test'), rateLimits, accessLog });
  backend = createServer(app.callback());
  await new Promise<void>((done) => backend.listen(0, '127.0.0.1', done));
  targetPort = (backend.address() as AddressInfo).port;
  closeServer = async () => {
    await accessLog.close();
    await rateLimits.close();
  };
  appServer = await startAppServer();
}, 180_000);

afterAll(async () => {
  await appServer?.close();
  await new Promise((done) => proxy?.close(done));
  await new Promise((done) => backend?.close(done));
  await closeServer?.();
  await tdb?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Runs the named groups of the suite against the proxied deployment, in a fresh Suite. */
async function run(groupIds: string[]): Promise<{ results: GroupResult[]; outcome: (id: string) => string | undefined; failed: string[] }> {
  const raw = await readInputsFile(join(dataDir, 'demo-accounts.json'));
  const inputs = parseInputs(raw, {
    fhirBaseUrl: `http://localhost:${proxyPort}/fhir`,
    usCorePackage: process.env['US_CORE_PACKAGE'] ?? DEFAULT_US_CORE_PACKAGE,
    app: { redirectUri: appServer.redirectUri, launchUri: appServer.launchUri, origin: appServer.origin },
  });
  const suite = new Suite(inputs, { chromiumPath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', headed: false, screenshots: false });
  try {
    const results = await runGroups(buildGroups(suite).filter((g) => groupIds.includes(g.id)));
    const tests = results.flatMap((g) => g.tests);
    expect(results.map((g) => g.id).sort()).toEqual([...groupIds].sort());
    return {
      results,
      outcome: (id) => tests.find((t) => t.id === id)?.outcome,
      failed: tests.filter((t) => t.outcome === 'fail').map((t) => t.id),
    };
  } finally {
    await suite.close();
  }
}

const GROUPS: Record<Exclude<Fault, 'none'>, string[]> = {
  'pkce-not-enforced': ['invalid-requests'],
  'no-patient-in-token': ['standalone-public'],
  'category-ignored': ['uscore-setup', 'uscore-observation-lab'],
  'no-cache-control': ['uscore-setup', 'no-store'],
};

describe('the conformance suite against a deliberately misconfigured deployment', () => {
  test('with no fault, the selected groups pass', async () => {
    fault = 'none';
    const { results, failed } = await run([...new Set(Object.values(GROUPS).flat())]);
    expect(failed).toEqual([]);
    expect(exitStatus(results)).toBe(0);
  }, 180_000);

  test('PKCE not enforced: the wrong, blank and missing verifier tests fail', async () => {
    fault = 'pkce-not-enforced';
    const { results, outcome } = await run(GROUPS['pkce-not-enforced']);
    for (const id of ['invalid-pkce-wrong', 'invalid-pkce-blank', 'invalid-pkce-missing', 'invalid-pkce-challenge']) expect([id, outcome(id)]).toEqual([id, 'fail']);
    expect(exitStatus(results)).not.toBe(0);
  }, 180_000);

  test('`patient` missing from the token response: the launch-context tests fail', async () => {
    fault = 'no-patient-in-token';
    const { results, failed } = await run(GROUPS['no-patient-in-token']);
    expect(failed).toEqual(expect.arrayContaining(['standalone-public-patient-context']));
    expect(exitStatus(results)).not.toBe(0);
  }, 180_000);

  test('a search parameter ignored (category): the category searches fail', async () => {
    fault = 'category-ignored';
    const { results, failed } = await run(GROUPS['category-ignored']);
    expect(failed).toEqual(expect.arrayContaining(['uscore-observation-lab-search-patient-category']));
    expect(exitStatus(results)).not.toBe(0);
  }, 180_000);

  test('Cache-Control missing on PHI: the no-store tests fail', async () => {
    fault = 'no-cache-control';
    const { results, outcome } = await run(GROUPS['no-cache-control']);
    expect(outcome('no-store-phi-responses')).toBe('fail');
    expect(outcome('no-store-error-responses')).toBe('fail');
    expect(exitStatus(results)).not.toBe(0);
  }, 180_000);
});
