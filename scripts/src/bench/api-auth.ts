/**
 * Real access tokens for the API benchmark, from the running authorization server: registered apps
 * (public clients with PKCE, as an administrator registers them), then the standalone launch over
 * plain HTTP the way scripts/src/server.test.ts drives it: /auth/authorize, password and TOTP
 * sign-in, consent, and the code exchange at /auth/token. One sign-in per account; further apps for
 * the same person reuse the session and only consent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { totpAt, type Database } from '@patient-access/consent';
import { registerClient } from '../admin/clients.js';
import type { LoginAccount } from './api-dataset.js';

const REDIRECT = 'http://localhost:9999/callback';
const SCOPE = 'launch/patient openid fhirUser patient/*.rs';

export interface PatientToken {
  patientId: string;
  clientId: string;
  accessToken: string;
  scope: string;
}

/** Registers `count` public apps for the benchmark (fresh ones each run). */
export async function registerApps(db: Database, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await registerClient(db, { name: `API benchmark app ${i + 1}`, redirectUris: [REDIRECT], auth: 'none' })).clientId);
  }
  return ids;
}

/** Cookies by name and path, sent where their path matches (enough for one host over http). */
class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^max-age=0$/i.test(a.trim()) || (/^expires=/i.test(a.trim()) && Date.parse(a.trim().slice(8)) < Date.now()));
      const key = `${name}\0${path}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(path: string): string {
    return [...this.cookies.values()]
      .filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

/** A browser-like agent: manual redirects, cookies, requests always to `origin`. */
class Agent {
  readonly jar = new CookieJar();
  constructor(private readonly origin: string) {}

  async request(pathOrUrl: string, init: { method?: string; form?: string } = {}): Promise<{ res: Response; text: string; location: URL | undefined }> {
    const url = new URL(pathOrUrl, this.origin);
    const target = `${this.origin}${url.pathname}${url.search}`;
    const headers: Record<string, string> = { cookie: this.jar.header(url.pathname) };
    if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(target, { method: init.method ?? 'GET', headers, redirect: 'manual', ...(init.form !== undefined ? { body: init.form } : {}) });
    this.jar.store(res);
    const text = await res.text();
    const loc = res.headers.get('location');
    return { res, text, location: loc ? new URL(loc, this.origin) : undefined };
  }
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/**
 * Signs `account` in once and authorizes each of `clientIds` for its patient; returns one access
 * token per app. `origin` is the server's public origin (the issuer's and FHIR base's).
 */
export async function patientTokens(origin: string, account: LoginAccount, clientIds: readonly string[]): Promise<PatientToken[]> {
  const agent = new Agent(origin);
  const tokens: PatientToken[] = [];
  for (let i = 0, waited = 0; i < clientIds.length; i++) {
    const clientId = clientIds[i]!;
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: SCOPE,
      state: randomBytes(8).toString('hex'),
      aud: `${origin}/fhir`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    let step = await agent.request(`/auth/authorize?${query}`);
    let code: string | null = null;
    for (let hops = 0; hops < 20 && code === null; hops++) {
      if (step.location) {
        if (step.location.href.startsWith(REDIRECT)) {
          const error = step.location.searchParams.get('error');
          if (error) throw new Error(`authorize for ${account.username}: ${error} ${step.location.searchParams.get('error_description') ?? ''}`);
          code = step.location.searchParams.get('code');
          break;
        }
        step = await agent.request(step.location.href);
        continue;
      }
      const path = step.res.url ? new URL(step.res.url).pathname.replace(/\/$/, '') : '';
      if (step.text.includes('<label for="username">')) {
        step = await agent.request(`${path}/login`, { method: 'POST', form: new URLSearchParams({ username: account.username, password: account.password }).toString() });
        if (!step.text.includes('Verification code')) throw new Error(`sign-in of ${account.username} failed: HTTP ${step.res.status}`);
        step = await submitTotp(agent, path, account);
      } else if (step.text.includes('Allow access?')) {
        const offered = [...step.text.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]!.replace(/&#42;/g, '*').replace(/&amp;/g, '&'));
        const form = offered.map((s) => `scope=${encodeURIComponent(s)}`).join('&') + '&decision=allow';
        step = await agent.request(`${path}/consent`, { method: 'POST', form });
      } else if (step.text.includes('Whose record?')) {
        throw new Error(`${account.username} acts for other patients: the benchmark needs a patient's own account`);
      } else {
        throw new Error(`authorize for ${account.username}: unexpected HTTP ${step.res.status} at ${path}: ${step.text.slice(0, 200)}`);
      }
    }
    if (!code) throw new Error(`authorize for ${account.username}: no code`);
    const res = await fetch(`${origin}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier }).toString(),
    });
    const body = (await res.json()) as Record<string, unknown>;
    // The token endpoint's limit is per address (600 a minute): many apps' tokens wait it out, as a client would.
    if (res.status === 429 && waited++ < 3) {
      await new Promise((resolve) => setTimeout(resolve, (Number(res.headers.get('retry-after')) || 5) * 1000));
      i--; // the same app again, with a new code
      continue;
    }
    if (res.status !== 200 || typeof body['access_token'] !== 'string') throw new Error(`token exchange for ${account.username}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    if (body['patient'] !== account.patientId) throw new Error(`token for ${account.username} is for patient ${String(body['patient'])}`);
    tokens.push({ patientId: account.patientId, clientId, accessToken: body['access_token'], scope: String(body['scope']) });
  }
  return tokens;
}

/** The current TOTP code; a code already used (an earlier run in the same 30 s step) waits for the next one. */
async function submitTotp(agent: Agent, path: string, account: LoginAccount) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const step = await agent.request(`${path}/mfa`, { method: 'POST', form: new URLSearchParams({ code: totpAt(account.totpSecret, new Date()) }).toString() });
    if (!step.text.includes('Verification code')) return step;
    const wait = 30_000 - (Date.now() % 30_000) + 500;
    console.log(`[bench:api] TOTP code for ${account.username} refused; waiting ${Math.round(wait / 1000)} s for the next one`);
    await new Promise((r) => setTimeout(r, wait));
  }
  throw new Error(`TOTP step of ${account.username} failed twice`);
}
