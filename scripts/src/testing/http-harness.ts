/**
 * The whole server (auth server, portal APIs, FHIR API) on one test database, driven through HTTP
 * with supertest as a person and their apps would: register an app, sign in with password and
 * TOTP, pick a record, consent, exchange the code; sign in to the portal for the JSON APIs.
 * One database per test file (createHttpHarness in beforeAll, close in afterAll).
 */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { Resource } from '@medplum/fhirtypes';
import { authServerMigrations } from '@patient-access/auth-server';
import {
  consentMigrations,
  createAccessLogWriter,
  createAccount,
  createLogger,
  createRateLimits,
  createTestDatabase,
  loadConfig,
  totpAt,
  type AccessLogWriter,
  type AppConfig,
  type Database,
  type TestDatabase,
} from '@patient-access/consent';
import { fhirApiMigrations, writeResources } from '@patient-access/fhir-api';
import { createServerApp } from '../server.js';

export const REDIRECT = 'http://localhost:9999/callback';
const ORIGIN = 'http://localhost:8080';

export interface TestUser {
  username: string;
  password: string;
  secret: string;
}

export interface Launched {
  token: string;
  refreshToken?: string;
  clientId: string;
  patient: string;
}

export interface LaunchOptions {
  scope?: string;
  appName?: string;
  /** The picker's choice when the person may act for several records: `self:<patient id>` or `delegation:<id>`. */
  subject?: string;
}

export interface HttpHarness {
  readonly db: Database;
  readonly config: AppConfig;
  readonly fhirBase: string;
  readonly app: NonNullable<Parameters<typeof request.agent>[0]>;
  now(): Date;
  /** Moves the injected clock on (TOTP codes need a new 30-second step for each sign-in). */
  advance(ms: number): void;
  launch(user: TestUser, options?: LaunchOptions): Promise<Launched>;
  refresh(launched: Launched): Promise<request.Response>;
  portalLogin(user: TestUser): Promise<TestAgent>;
  fhir(token: string, path: string): request.Test;
  close(): Promise<void>;
}

/** An account for a test user, linked to `fhirUser` (and to the patient's record for a patient); returns its id. */
export async function createTestAccount(db: Database, u: TestUser, fhirUser: string, patientId?: string): Promise<string> {
  return (await createAccount(db, { username: u.username, displayName: u.username, password: u.password, totpSecret: u.secret, fhirUser, ...(patientId ? { patientId } : {}) })).id;
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

export async function createHttpHarness(options: { resources: Resource[]; setup?(db: Database): Promise<void>; env?: Record<string, string> }): Promise<HttpHarness> {
  const config = loadConfig({ PUBLIC_URL: ORIGIN, ...options.env });
  const fhirBase = config.fhirBaseUrl;
  // Starts at the real time: oidc-provider stamps tokens with the system clock.
  let clock = new Date();
  const now = () => clock;
  const tdb: TestDatabase = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  const rateLimits = createRateLimits({ redisUrl: process.env['REDIS_URL'], keyPrefix: `test-${randomBytes(4).toString('hex')}`, policies: { registration: { points: 1000, durationSeconds: 3600 } } });
  let accessLog: AccessLogWriter | undefined;
  const close = async () => {
    await accessLog?.close();
    await rateLimits.close();
    await tdb.destroy();
  };
  let app: HttpHarness['app'];
  try {
    await tdb.db.transaction((trx) => writeResources(trx, options.resources, { fhirBaseUrl: fhirBase }));
    await options.setup?.(tdb.db);
    accessLog = createAccessLogWriter(tdb.db);
    app = (await createServerApp({ config, db: tdb.db, log: createLogger('silent', 'test'), now, rateLimits, accessLog })).callback();
  } catch (err) {
    await close();
    throw err;
  }

  const follow = async (agent: TestAgent, res: request.Response, onInteraction?: (path: string) => void) => {
    while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
      const next = new URL(res.headers['location'] as string, ORIGIN);
      if (next.pathname.includes('/interaction/')) onInteraction?.(next.pathname.replace(/\/$/, ''));
      res = await agent.get(next.pathname + next.search);
    }
    return res;
  };

  const harness: HttpHarness = {
    db: tdb.db,
    config,
    fhirBase,
    app,
    now,
    advance(ms) {
      clock = new Date(clock.getTime() + ms);
    },
    async launch(user, o = {}) {
      const agent = request.agent(app);
      const reg = await agent
        .post('/auth/register')
        .send({ client_name: o.appName ?? 'Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
      expect(reg.status).toBe(201);
      const clientId = reg.body.client_id as string;
      const { verifier, challenge } = pkce();
      const scope = o.scope ?? 'launch/patient openid fhirUser offline_access patient/*.rs';
      let res = await agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope, state: 's', aud: fhirBase, code_challenge: challenge, code_challenge_method: 'S256' });
      let path = new URL(res.headers['location'] as string, ORIGIN).pathname;
      await agent.get(path);
      res = await agent.post(`${path}/login`).type('form').send({ username: user.username, password: user.password });
      harness.advance(60_000);
      res = await follow(agent, await agent.post(`${path}/mfa`).type('form').send({ code: totpAt(user.secret, now()) }), (p) => (path = p));
      if (res.text.includes('name="subject"')) {
        expect(o.subject).toBeDefined();
        res = await follow(agent, await agent.post(`${path}/select`).type('form').send({ subject: o.subject }), (p) => (path = p));
      }
      expect(res.text).toContain('Allow access?');
      const offered = [...res.text.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!.replace(/&#42;/g, '*'));
      res = await follow(agent, await agent.post(`${path}/consent`).type('form').send(offered.map((s) => `scope=${encodeURIComponent(s)}`).join('&') + '&decision=allow'));
      const code = new URL(res.headers['location'] as string).searchParams.get('code');
      const token = await agent.post('/auth/token').type('form').send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
      expect(token.status).toBe(200);
      return {
        token: token.body.access_token as string,
        clientId,
        patient: token.body.patient as string,
        ...(token.body.refresh_token ? { refreshToken: token.body.refresh_token as string } : {}),
      };
    },
    refresh(launched) {
      return request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: launched.refreshToken, client_id: launched.clientId });
    },
    async portalLogin(user) {
      const agent = request.agent(app);
      let res = await agent.post('/auth/portal/login?next=%2Fapps').type('form').send({ username: user.username, password: user.password });
      expect(res.text).toContain('Verification code');
      harness.advance(60_000);
      res = await agent.post('/auth/portal/mfa?next=%2Fapps').type('form').send({ code: totpAt(user.secret, now()) });
      expect(res.status).toBe(302);
      return agent;
    },
    fhir(token, path) {
      return request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`);
    },
    close,
  };
  return harness;
}
