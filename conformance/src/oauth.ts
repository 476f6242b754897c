/**
 * The suite as an OAuth client, the way Inferno is one (catalogue §2): PKCE S256 with a verifier of
 * two UUIDs, dynamic registration of public, confidential symmetric and asymmetric clients, client
 * authentication (body client_id, HTTP Basic, private_key_jwt with RS384 or ES384), token requests.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { HttpClient, HttpResponse } from './http.js';
import { jsonObject } from './http.js';

export type ClientKind = 'public' | 'symmetric' | 'asymmetric';
export type AssertionAlg = 'RS384' | 'ES384';

export interface Client {
  kind: ClientKind;
  clientId: string;
  clientSecret?: string;
  /** private_key_jwt keys by algorithm. */
  privateKeys?: Partial<Record<AssertionAlg, JWK>>;
  /** Which algorithm this client signs assertions with (asymmetric). */
  alg?: AssertionAlg;
  name?: string;
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Inferno's verifier: two UUIDs joined with `-` (73 characters). */
export function newPkce(): Pkce {
  const verifier = `${randomUUID()}-${randomUUID()}`;
  return { verifier, challenge: s256(verifier) };
}

export interface AsymmetricKeys {
  /** Private JWKs (with kid and alg), one per algorithm. */
  privateKeys: Record<AssertionAlg, JWK>;
  /** The public JWKS to register. */
  jwks: { keys: JWK[] };
}

export async function generateAssertionKeys(): Promise<AsymmetricKeys> {
  const privateKeys = {} as Record<AssertionAlg, JWK>;
  const publicKeys: JWK[] = [];
  for (const alg of ['RS384', 'ES384'] as const) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 2048 } : {}) });
    const kid = `conformance-${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`;
    privateKeys[alg] = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
    publicKeys.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig', key_ops: ['verify'] });
  }
  return { privateKeys, jwks: { keys: publicKeys } };
}

export interface RegistrationRequest {
  kind: ClientKind;
  name: string;
  redirectUri: string;
  launchUri?: string;
  jwks?: { keys: JWK[] };
}

export function registrationBody(r: RegistrationRequest): Record<string, unknown> {
  return {
    client_name: r.name,
    redirect_uris: [r.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: r.kind === 'public' ? 'none' : r.kind === 'symmetric' ? 'client_secret_basic' : 'private_key_jwt',
    ...(r.launchUri ? { launch_uri: r.launchUri } : {}),
    ...(r.jwks ? { jwks: r.jwks } : {}),
  };
}

export async function registerClient(http: HttpClient, registrationEndpoint: string, r: RegistrationRequest): Promise<{ client?: Client; res: HttpResponse }> {
  let keys: AsymmetricKeys | undefined;
  if (r.kind === 'asymmetric' && !r.jwks) keys = await generateAssertionKeys();
  const res = await http.post(registrationEndpoint, { json: registrationBody({ ...r, ...(keys ? { jwks: keys.jwks } : {}) }), headers: { accept: 'application/json' } });
  const body = jsonObject(res);
  if ((res.status !== 201 && res.status !== 200) || typeof body?.['client_id'] !== 'string') return { res };
  return {
    res,
    client: {
      kind: r.kind,
      clientId: body['client_id'],
      name: r.name,
      ...(typeof body['client_secret'] === 'string' ? { clientSecret: body['client_secret'] } : {}),
      ...(keys ? { privateKeys: keys.privateKeys, alg: 'RS384' as const } : {}),
    },
  };
}

/** A client_assertion JWT (Inferno's shape: iss = sub = client_id, aud = token URL, exp +5 min, jti 64 hex). */
export async function clientAssertion(clientId: string, tokenEndpoint: string, key: JWK, overrides: { aud?: string; expSeconds?: number } = {}): Promise<string> {
  const alg = key.alg as AssertionAlg;
  const signingKey = await importJWK(key, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: key.kid!, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(overrides.aud ?? tokenEndpoint)
    .setIssuedAt(now)
    .setExpirationTime(now + (overrides.expSeconds ?? 300))
    .setJti(randomBytes(32).toString('hex'))
    .sign(signingKey);
}

export interface ClientAuth {
  headers: Record<string, string>;
  form: Record<string, string>;
}

/** Client authentication for a token, introspection or revocation request. */
export async function clientAuth(client: Client, tokenEndpoint: string, alg?: AssertionAlg): Promise<ClientAuth> {
  switch (client.kind) {
    case 'public':
      return { headers: {}, form: { client_id: client.clientId } };
    case 'symmetric':
      return {
        headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`).toString('base64')}` },
        form: {},
      };
    case 'asymmetric': {
      const key = client.privateKeys?.[alg ?? client.alg ?? 'RS384'];
      if (!key) throw new Error(`client ${client.clientId} has no ${alg ?? client.alg} key`);
      return {
        headers: {},
        form: {
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await clientAssertion(client.clientId, tokenEndpoint, key),
        },
      };
    }
  }
}

export interface AuthorizeParams {
  authorizationEndpoint: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  aud: string;
  pkce?: Pkce;
  launch?: string;
  extra?: Record<string, string>;
}

export function authorizeParams(p: AuthorizeParams): Record<string, string> {
  return {
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: p.redirectUri,
    scope: p.scope,
    state: p.state,
    aud: p.aud,
    ...(p.launch ? { launch: p.launch } : {}),
    ...(p.pkce ? { code_challenge: p.pkce.challenge, code_challenge_method: 'S256' } : {}),
    ...(p.extra ?? {}),
  };
}

/** The authorize URL, keeping any query the endpoint already has. */
export function authorizeUrl(p: AuthorizeParams): string {
  const url = new URL(p.authorizationEndpoint);
  for (const [k, v] of Object.entries(authorizeParams(p))) url.searchParams.set(k, v);
  return url.href;
}

export interface TokenRequestOptions {
  client: Client;
  tokenEndpoint: string;
  origin?: string;
  alg?: AssertionAlg;
  /** Replace or remove (undefined) fields of the body after client authentication is added. */
  override?: Record<string, string | undefined>;
  /** Replace the client authentication headers (e.g. a bad Basic credential). */
  headers?: Record<string, string>;
}

export async function tokenRequest(http: HttpClient, body: Record<string, string | undefined>, o: TokenRequestOptions): Promise<HttpResponse> {
  const auth = await clientAuth(o.client, o.tokenEndpoint, o.alg);
  const form: Record<string, string | undefined> = { ...body, ...auth.form, ...(o.override ?? {}) };
  for (const [k, v] of Object.entries(o.override ?? {})) if (v === undefined) delete form[k];
  return http.post(o.tokenEndpoint, {
    form,
    headers: { accept: 'application/json', ...auth.headers, ...(o.origin ? { origin: o.origin } : {}), ...(o.headers ?? {}) },
  });
}

export function exchangeCode(
  http: HttpClient,
  code: string,
  redirectUri: string,
  verifier: string | undefined,
  o: TokenRequestOptions,
): Promise<HttpResponse> {
  return tokenRequest(http, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, ...(verifier !== undefined ? { code_verifier: verifier } : {}) }, o);
}

export function refreshToken(http: HttpClient, refresh: string, scope: string | undefined, o: TokenRequestOptions): Promise<HttpResponse> {
  return tokenRequest(http, { grant_type: 'refresh_token', refresh_token: refresh, ...(scope ? { scope } : {}) }, o);
}
