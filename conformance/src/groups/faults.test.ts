/**
 * The suite catches faults: the same groups run against a small fake server, once behaving and once
 * misconfigured (plain PKCE advertised, Cache-Control missing on PHI, the patient search parameter
 * ignored so another patient's data leaks, a token response without Pragma, no RateLimit headers,
 * a published rate-limit policy other than the one in force), and the relevant
 * tests must pass in the first case and fail in the second.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parseInputs } from '../config.js';
import { runGroups, type GroupResult } from '../runner.js';
import { Suite } from '../suite.js';
import { tokenHeaderProblems } from '../tokens.js';
import { discoveryGroup } from './discovery.js';
import { crossPatientGroup, noStoreGroup } from './privacy.js';
import { rateLimitGroup } from './rate-limits.js';
import { newUsCoreState } from './uscore.js';

interface Faults {
  plainPkce?: boolean;
  noCacheControl?: boolean;
  ignorePatientParam?: boolean;
  noRateLimitHeaders?: boolean;
  stalePublishedPolicy?: boolean;
}

const DATA: Record<string, { resourceType: string; id: string; subject?: { reference: string } }[]> = {
  a: [
    { resourceType: 'Condition', id: 'ca1', subject: { reference: 'Patient/a' } },
    { resourceType: 'Condition', id: 'ca2', subject: { reference: 'Patient/a' } },
  ],
  b: [
    { resourceType: 'Condition', id: 'cb1', subject: { reference: 'Patient/b' } },
    { resourceType: 'Condition', id: 'cb2', subject: { reference: 'Patient/b' } },
  ],
};

function fakeServer(faults: Faults): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const base = `http://${req.headers.host}/fhir`;
    const patient = req.headers.authorization === 'Bearer token-a' ? 'a' : req.headers.authorization === 'Bearer token-b' ? 'b' : undefined;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const limits = faults.noRateLimitHeaders || !patient ? {} : { 'ratelimit-limit': '600', 'ratelimit-remaining': '599', 'ratelimit-reset': '60', 'ratelimit-policy': '600;w=60' };
      res.writeHead(status, { 'content-type': 'application/fhir+json', ...(faults.noCacheControl ? {} : { 'cache-control': 'no-store' }), ...limits, ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/fhir/.well-known/smart-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: `http://${req.headers.host}/auth`,
          jwks_uri: `http://${req.headers.host}/auth/jwks`,
          authorization_endpoint: `http://${req.headers.host}/auth/authorize`,
          token_endpoint: `http://${req.headers.host}/auth/token`,
          grant_types_supported: ['authorization_code'],
          code_challenge_methods_supported: faults.plainPkce ? ['S256', 'plain'] : ['S256'],
          capabilities: ['launch-standalone', 'sso-openid-connect'],
        }),
      );
      return;
    }
    if (url.pathname === '/fhir/metadata') {
      return send(200, { resourceType: 'CapabilityStatement', rest: [{ mode: 'server', documentation: `Rate limits: see http://${req.headers.host}/rate-limits.` }] });
    }
    if (url.pathname === '/rate-limits') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ limits: [{ limiter: 'fhir', per: 'client app and patient', limit: faults.stalePublishedPolicy ? 1200 : 600, windowSeconds: 60 }] }));
      return;
    }
    if (!patient) return send(401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
    const [, , type, id] = url.pathname.split('/');
    if (type === 'Patient' && id) return id === patient ? send(200, { resourceType: 'Patient', id }) : send(404, { resourceType: 'OperationOutcome', issue: [] });
    if (type === 'Condition' && id) {
      const found = DATA[patient]!.find((r) => r.id === id);
      return found ? send(200, found) : send(404, { resourceType: 'OperationOutcome', issue: [] });
    }
    if (type && !id) {
      const asked = url.searchParams.get('patient')?.split('/').pop();
      const who = faults.ignorePatientParam && asked ? asked : patient;
      const idParam = url.searchParams.get('_id');
      const resources = type === 'Patient' ? (idParam === patient ? [{ resourceType: 'Patient', id: patient }] : []) : (DATA[who] ?? []).filter((r) => r.resourceType === type && (!idParam || r.id === idParam));
      return send(200, { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: `${base}/${type}` }], entry: resources.map((r) => ({ resource: r })) });
    }
    send(404, { resourceType: 'OperationOutcome', issue: [] });
  });
}

async function runAgainst(faults: Faults): Promise<Map<string, GroupResult['tests'][number]>> {
  const server = fakeServer(faults);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const inputs = parseInputs(
      {
        fhirBaseUrl: `${origin}/fhir`,
        accounts: [
          { username: 'a', password: 'p', patientId: 'a', fhirUser: 'Patient/a' },
          { username: 'b', password: 'p', patientId: 'b', fhirUser: 'Patient/b' },
        ],
      },
      { usCorePackage: '/nonexistent.tgz', app: { redirectUri: 'http://127.0.0.1:1/r', launchUri: 'http://127.0.0.1:1/l', origin: 'http://127.0.0.1:1' } },
    );
    const suite = new Suite(inputs, { chromiumPath: '/nonexistent', headed: false, screenshots: false });
    const state = newUsCoreState();
    state.patients.push('a', 'b');
    state.tokens.set('a', 'token-a').set('b', 'token-b');
    suite.seen.set('a', DATA['a']!).set('b', DATA['b']!);
    const results = await runGroups([discoveryGroup(suite), noStoreGroup(suite, state), crossPatientGroup(suite, state), rateLimitGroup(suite, state)]);
    return new Map(results.flatMap((g) => g.tests).map((t) => [t.id, t]));
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('the suite catches faults', () => {
  let good: Map<string, GroupResult['tests'][number]>;
  let bad: Map<string, GroupResult['tests'][number]>;
  let stale: Map<string, GroupResult['tests'][number]>;
  beforeAll(async () => {
    good = await runAgainst({});
    bad = await runAgainst({ plainPkce: true, noCacheControl: true, ignorePatientParam: true, noRateLimitHeaders: true });
    stale = await runAgainst({ stalePublishedPolicy: true });
  });
  afterAll(() => undefined);

  test('PKCE plain advertised', () => {
    expect(good.get('discovery-required-fields')?.outcome).toBe('pass');
    expect(bad.get('discovery-required-fields')).toMatchObject({ outcome: 'fail', reason: expect.stringContaining('includes plain') });
  });

  test('Cache-Control missing on PHI', () => {
    expect(good.get('no-store-phi-responses')?.outcome).toBe('pass');
    expect(bad.get('no-store-phi-responses')).toMatchObject({ outcome: 'fail', reason: expect.stringContaining('cache-control is missing') });
    // the failure carries the exchanges behind it
    expect(bad.get('no-store-phi-responses')!.exchanges.length).toBeGreaterThan(0);
  });

  test('patient search parameter ignored: another patient’s data leaks', () => {
    expect(good.get('cross-patient-search-patient')?.outcome).toBe('pass');
    expect(bad.get('cross-patient-search-patient')).toMatchObject({ outcome: 'fail', reason: expect.stringMatching(/Condition\?patient=.* returned Condition\/c/) });
    expect(good.get('cross-patient-read-resources')?.outcome).toBe('pass');
  });

  test('token response without Pragma', () => {
    expect(tokenHeaderProblems(new Headers({ 'cache-control': 'no-store', pragma: 'no-cache' }))).toEqual([]);
    expect(tokenHeaderProblems(new Headers({ 'cache-control': 'no-store' }))).toEqual(['header pragma is missing (expected it to contain "no-cache")']);
  });

  test('RateLimit headers missing, or a published policy other than the one in force', () => {
    expect(good.get('rate-limit-headers')?.outcome).toBe('pass');
    expect(good.get('rate-limit-published')?.outcome).toBe('pass');
    expect(bad.get('rate-limit-headers')).toMatchObject({ outcome: 'fail', reason: expect.stringContaining('missing ratelimit-limit') });
    expect(stale.get('rate-limit-headers')?.outcome).toBe('pass');
    expect(stale.get('rate-limit-published')).toMatchObject({ outcome: 'fail', reason: expect.stringContaining('the published policy 1200 per 60 s') });
  });
});
