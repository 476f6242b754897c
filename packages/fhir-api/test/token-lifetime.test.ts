/**
 * Tokens at the edges of their lives, through the whole server: an access token past its `exp` is
 * refused with RFC 6750 invalid_token; a backend service (client_credentials, private_key_jwt,
 * registered by an administrator) gets system/ scopes and nothing else, cannot replay its client
 * assertion, and its token reads nothing from the Patient Access API, which serves patient
 * contexts only.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { registerClient } from '../../../scripts/src/admin/clients.js';
import { MARIA, MARIA_ACCOUNT, usCoreFixtures } from './us-core-fixtures.js';
import { config, createHarness, type Harness } from './smart-harness.js';

const TOKEN_ENDPOINT = `${config.issuerUrl}/token`;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TTL_SECONDS = 2;

let h: Harness;
let backend: { clientId: string; key: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]; kid: string };

beforeAll(async () => {
  // A two-second access token (the configured minimum is a minute; this test bypasses the validation on purpose).
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT], { config: { ...config, auth: { ...config.auth, accessTokenTtlSeconds: TTL_SECONDS } } });
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
  const { clientId } = await registerClient(h.tdb.db, { name: 'Backend', redirectUris: [], auth: 'jwks', jwks: { keys: [jwk] }, backend: true });
  backend = { clientId, key: privateKey, kid };
});
afterAll(() => h?.destroy());

const assertion = (o: { aud?: string; jti?: string; alg?: string } = {}) =>
  new SignJWT({})
    .setProtectedHeader({ alg: o.alg ?? 'ES384', kid: backend.kid, typ: 'JWT' })
    .setIssuer(backend.clientId)
    .setSubject(backend.clientId)
    .setAudience(o.aud ?? TOKEN_ENDPOINT)
    .setJti(o.jti ?? randomUUID())
    .setExpirationTime('4m')
    .sign(backend.key);

const clientCredentials = async (scope: string, jwt: string) =>
  request(h.app).post('/auth/token').type('form').send({ grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: jwt });

describe('an expired access token', () => {
  test('is refused with invalid_token once exp has passed, and says nothing about the data', async () => {
    const token = await h.launch({ user: MARIA, pick: 'self:mom' });
    expect((await h.get(token, 'Observation?patient=mom')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, (TTL_SECONDS + 1.2) * 1000));
    const res = await h.get(token, 'Observation?patient=mom');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).not.toMatch(/mom|Maria|hgb/i);
    expect((await h.get(token, 'Patient/mom')).status).toBe(401);
  });
});

describe('backend services (client_credentials with private_key_jwt)', () => {
  test('a signed assertion gets a bearer token with only the system scopes asked for', async () => {
    const res = await clientCredentials('system/*.rs patient/*.rs openid offline_access', await assertion());
    expect(res.status).toBe(200);
    expect(res.body.token_type).toMatch(/^bearer$/i);
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(res.body.scope).toBe('system/*.rs');
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.id_token).toBeUndefined();
    // No patient context: the Patient Access API serves none of it (no bulk export is offered).
    const read = await request(h.app).get('/fhir/Patient/mom').set('Authorization', `Bearer ${res.body.access_token}`);
    expect(read.status).toBe(401);
    expect(JSON.stringify(read.body)).not.toMatch(/Maria/);
  });

  test('a replayed assertion (same jti) is refused', async () => {
    const jwt = await assertion({ jti: randomUUID() });
    expect((await clientCredentials('system/*.rs', jwt)).status).toBe(200);
    const again = await clientCredentials('system/*.rs', jwt);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
  });

  test('an assertion for another audience is refused', async () => {
    const res = await clientCredentials('system/*.rs', await assertion({ aud: 'https://elsewhere.example/token' }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  test('an assertion signed with the wrong algorithm or key is refused', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: backend.kid })
      .setIssuer(backend.clientId)
      .setSubject(backend.clientId)
      .setAudience(TOKEN_ENDPOINT)
      .setJti(randomUUID())
      .setExpirationTime('4m')
      .sign(privateKey);
    expect((await clientCredentials('system/*.rs', forged)).body.error).toBe('invalid_client');
  });

  test('a person-facing client cannot use client_credentials', async () => {
    const reg = await request(h.app)
      .post('/auth/register')
      .send({ client_name: 'App', redirect_uris: ['http://localhost:9999/callback'], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'] });
    expect(reg.status).toBe(201);
    const res = await request(h.app)
      .post('/auth/token')
      .auth(reg.body.client_id, reg.body.client_secret)
      .type('form')
      .send({ grant_type: 'client_credentials', scope: 'system/*.rs' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect(res.body.error_description).toMatch(/grant type is not allowed/);
  });
});
