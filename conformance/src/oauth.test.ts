import { createHash } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { authorizeUrl, clientAssertion, clientAuth, generateAssertionKeys, newPkce, registrationBody } from './oauth.js';
import { redactForm, redactSecret } from './http.js';

describe('OAuth client pieces', () => {
  test("PKCE: Inferno's verifier shape and the S256 challenge", () => {
    const { verifier, challenge } = newPkce();
    expect(verifier).toMatch(/^[0-9a-f-]{73}$/);
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
    expect(challenge).not.toContain('=');
  });
  test('the authorize URL keeps existing query parameters', () => {
    const url = new URL(authorizeUrl({ authorizationEndpoint: 'https://as/authorize?tenant=1', clientId: 'c', redirectUri: 'http://127.0.0.1/r', scope: 'openid fhirUser', state: 's', aud: 'https://fhir', pkce: { verifier: 'v', challenge: 'ch' } }));
    expect(Object.fromEntries(url.searchParams)).toEqual({
      tenant: '1', response_type: 'code', client_id: 'c', redirect_uri: 'http://127.0.0.1/r', scope: 'openid fhirUser', state: 's', aud: 'https://fhir', code_challenge: 'ch', code_challenge_method: 'S256',
    });
  });
  test('registration bodies per client type', () => {
    expect(registrationBody({ kind: 'public', name: 'n', redirectUri: 'r' })).toMatchObject({ token_endpoint_auth_method: 'none', redirect_uris: ['r'] });
    expect(registrationBody({ kind: 'symmetric', name: 'n', redirectUri: 'r', launchUri: 'l' })).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', launch_uri: 'l' });
  });
  test('client authentication: Basic for symmetric, client_id for public', async () => {
    expect(await clientAuth({ kind: 'public', clientId: 'p' }, 'https://as/token')).toEqual({ headers: {}, form: { client_id: 'p' } });
    const basic = await clientAuth({ kind: 'symmetric', clientId: 'a:b', clientSecret: 's' }, 'https://as/token');
    expect(Buffer.from(basic.headers['authorization']!.slice(6), 'base64').toString()).toBe('a%3Ab:s');
  });
  test('private_key_jwt assertions (RS384 and ES384) verify with the registered public keys', async () => {
    const keys = await generateAssertionKeys();
    expect(keys.jwks.keys.every((k) => k.d === undefined)).toBe(true);
    for (const alg of ['RS384', 'ES384'] as const) {
      const jwt = await clientAssertion('client-1', 'https://as/token', keys.privateKeys[alg]);
      const pub = keys.jwks.keys.find((k) => k.alg === alg)!;
      const { payload } = await jwtVerify(jwt, await importJWK(pub, alg), { audience: 'https://as/token', issuer: 'client-1', subject: 'client-1' });
      expect(payload.jti).toMatch(/^[0-9a-f]{64}$/);
      expect(decodeProtectedHeader(jwt)).toMatchObject({ alg, typ: 'JWT', kid: pub.kid });
    }
  });
  test('recorded requests shorten secrets', () => {
    expect(redactSecret('short')).toBe('…');
    expect(redactForm('grant_type=refresh_token&refresh_token=abcdefghijklmnopqrstuvwxyz')).toBe('grant_type=refresh_token&refresh_token=abcdefghij%E2%80%A6%2826+chars%29');
  });
});
