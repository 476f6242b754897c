/**
 * The whole server (authorization server + FHIR API, scripts/src/server.ts) on a fresh database,
 * and real access tokens obtained through it the way an app does: open registration, PKCE
 * authorization with password + TOTP, the proxy patient picker, consent, code exchange.
 * A minimal copy of the helpers in scripts/src/server.test.ts.
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
  type AccessLogWriter,
  createAccount,
  createRateLimits,
  createDelegation,
  createLogger,
  createTestDatabase,
  loadConfig,
  totpAt,
  type TestDatabase,
} from '@patient-access/consent';
import { createServerApp } from '../../../scripts/src/server.js';
import { fhirApiMigrations } from '../src/migrations/index.js';
import { writeResources } from '../src/store/resource-writer.js';

export const config = loadConfig({ PUBLIC_URL: 'http://localhost:8080' });
export const FHIR = config.fhirBaseUrl;
export const REDIRECT = 'http://localhost:9999/callback';

export interface User {
  username: string;
  password: string;
  secret: string;
}

export interface HarnessAccount extends User {
  fhirUser: string;
  patientId?: string;
  /** Patients this account is a parent proxy of. */
  parentOf?: string[];
}

export interface LaunchOptions {
  user: User;
  scope?: string;
  /** `self:<patient>` or the patient id of a delegation of this user. */
  pick?: string;
  /** A confidential client registered by an administrator (e.g. the portal); default: a new public client. */
  client?: { clientId: string; clientSecret: string };
  /** A user-level authorization's consent screen: the patient ids left ticked (default: all offered). */
  patients?: string[];
}

export interface Harness {
  tdb: TestDatabase;
  accessLog: AccessLogWriter;
  app: NonNullable<Parameters<typeof request.agent>[0]>;
  /** A complete launch; returns the access token. */
  launch(o: LaunchOptions): Promise<string>;
  /** The last launch's token response body (refresh_token, scope, patient...). */
  lastTokenResponse: Record<string, unknown>;
  /** The patient ids offered as checkboxes on the last consent screen (a user-level authorization). */
  lastOfferedPatients: string[];
  get(token: string, path: string, headers?: Record<string, string>): request.Test;
  destroy(): Promise<void>;
}

export async function createHarness(resources: Resource[], accounts: HarnessAccount[], o: { config?: typeof config } = {}): Promise<Harness> {
  // Starts at the real time: oidc-provider stamps tokens with the system clock.
  let clock = new Date();
  const now = () => clock;
  const tdb = await createTestDatabase([...consentMigrations, ...fhirApiMigrations, ...authServerMigrations]);
  await tdb.db.transaction((trx) => writeResources(trx, resources, { fhirBaseUrl: FHIR }));
  const delegations = new Map<string, string>();
  for (const a of accounts) {
    const account = await createAccount(tdb.db, {
      username: a.username,
      displayName: a.username,
      password: a.password,
      totpSecret: a.secret,
      fhirUser: a.fhirUser,
      ...(a.patientId ? { patientId: a.patientId } : {}),
    });
    for (const patientId of a.parentOf ?? []) {
      const id = await createDelegation(tdb.db, { patientId, proxyAccountId: account.id, basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
      delegations.set(`${a.username}/${patientId}`, id);
    }
  }
  // The contract tests make thousands of requests with one token: limits far above the defaults.
  const rateLimits = createRateLimits({
    keyPrefix: `harness-${Math.random().toString(36).slice(2)}`,
    policies: { registration: { points: 1000, durationSeconds: 3600 }, fhir: { points: 1_000_000, durationSeconds: 60 } },
  });
  const accessLog = createAccessLogWriter(tdb.db);
  const app = (await createServerApp({ config: o.config ?? config, db: tdb.db, log: createLogger('silent', 'test'), now, rateLimits, accessLog })).callback();

  async function authorize(agent: TestAgent, clientId: string, challenge: string, o: LaunchOptions): Promise<URL> {
    let res = await agent.get('/auth/authorize').query({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: o.scope ?? 'launch/patient openid fhirUser patient/*.rs',
      state: 'state-123',
      aud: FHIR,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const interaction = new URL(res.headers['location'] as string, 'http://localhost:8080').pathname;
    expect(interaction).toContain('/interaction/');
    await agent.get(interaction);
    res = await agent.post(`${interaction}/login`).type('form').send({ username: o.user.username, password: o.user.password });
    expect(res.text).toContain('Verification code');
    // Each sign-in needs a fresh code: a code already accepted is refused (replay).
    clock = new Date(clock.getTime() + 60_000);
    res = await agent.post(`${interaction}/mfa`).type('form').send({ code: totpAt(o.user.secret, now()) });
    let consentPath = interaction;
    while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
      const next = new URL(res.headers['location'] as string, 'http://localhost:8080');
      if (next.pathname.includes('/interaction/')) consentPath = next.pathname.replace(/\/$/, '');
      res = await agent.get(next.pathname + next.search);
    }
    if (res.text.includes('Whose record?')) {
      const pick = o.pick ?? '';
      const subject = pick.startsWith('self:') ? pick : `delegation:${delegations.get(`${o.user.username}/${pick}`)}`;
      res = await agent.post(`${consentPath}/select`).type('form').send({ subject });
    }
    expect(res.text).toContain('Allow access?');
    const offered = [...res.text.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!.replace(/&#42;/g, '*'));
    // A user-level authorization: whose records, as `self:<patient>` or `delegation:<id>` values.
    const patientOf = (value: string) => (value.startsWith('self:') ? value.slice(5) : [...delegations].find(([, id]) => `delegation:${id}` === value)?.[0].split('/')[1] ?? value);
    const offeredPatients = [...res.text.matchAll(/name="patient" value="([^"]+)" checked/g)].map((m) => m[1]!);
    harness.lastOfferedPatients = offeredPatients.map(patientOf);
    const ticked = offeredPatients.filter((v) => !o.patients || o.patients.includes(patientOf(v)));
    res = await agent
      .post(`${consentPath}/consent`)
      .type('form')
      .send([...offered.map((s) => `scope=${encodeURIComponent(s)}`), ...ticked.map((v) => `patient=${encodeURIComponent(v)}`)].join('&') + '&decision=allow');
    // The consent screen shown again with what is wrong (e.g. no one left ticked).
    const refusal = res.status === 200 ? /<p class="error" role="alert">([^<]*)<\/p>/.exec(res.text)?.[1] : undefined;
    if (refusal) throw new Error(`consent screen refused: ${refusal}`);
    while (res.status === 303 && !String(res.headers['location']).startsWith(REDIRECT)) {
      const next = new URL(res.headers['location'] as string, 'http://localhost:8080');
      res = await agent.get(next.pathname + next.search);
    }
    return new URL(res.headers['location'] as string);
  }

  const harness: Harness = {
    tdb,
    accessLog,
    app,
    lastTokenResponse: {},
    lastOfferedPatients: [],
    async launch(o) {
      const agent = request.agent(app);
      let clientId = o.client?.clientId;
      if (!clientId) {
        const reg = await agent
          .post('/auth/register')
          .send({ client_name: 'Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
        expect(reg.status).toBe(201);
        clientId = reg.body.client_id as string;
      }
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const redirect = await authorize(agent, clientId, challenge, o);
      const exchange = agent.post('/auth/token').type('form');
      if (o.client) exchange.auth(o.client.clientId, o.client.clientSecret);
      const res = await exchange.send({
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code'),
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        ...(o.client ? {} : { client_id: clientId }),
      });
      expect(res.status).toBe(200);
      harness.lastTokenResponse = res.body as Record<string, unknown>;
      return res.body.access_token as string;
    },
    get(token, path, headers = {}) {
      const r = request(app).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`);
      for (const [k, v] of Object.entries(headers)) r.set(k, v);
      return r;
    },
    destroy: async () => {
      await accessLog.close();
      await rateLimits.close();
      await tdb.destroy();
    },
  };
  return harness;
}

type BundleBody = { entry?: { resource: { resourceType: string; id: string }; search?: { mode: string } }[] };

/** `Type/id` of every entry, sorted. */
export const entryIds = (bundle: BundleBody, mode?: 'match' | 'include') =>
  (bundle.entry ?? [])
    .filter((e) => !mode || e.search?.mode === mode)
    .map((e) => `${e.resource.resourceType}/${e.resource.id}`)
    .sort();

/** Fifteen today: a parent proxy sees a limited record (PRX-3). */
export function teenBirthDate(): string {
  return `${new Date().getUTCFullYear() - 15}-01-01`;
}
