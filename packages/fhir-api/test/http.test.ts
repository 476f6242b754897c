import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type { Server } from 'node:http';
import { consentMigrations, createLogger, createTestDatabase, loadConfig, type TestDatabase } from '@patient-access/consent';
import { createFhirApp } from '../src/http/app.js';
import { fhirApiMigrations } from '../src/migrations/index.js';

let t: TestDatabase;
let server: Server;

beforeAll(async () => {
  t = await createTestDatabase([...consentMigrations, ...fhirApiMigrations]);
  const app = createFhirApp({ config: loadConfig({}), db: t.db, log: createLogger('silent', 'test') });
  server = app.listen(0);
});
afterAll(async () => {
  server.close();
  await t.destroy();
});

describe('FHIR API before token verification lands', () => {
  test('CapabilityStatement is public and advertises no resource it cannot serve', async () => {
    const res = await request(server).get('/fhir/metadata').expect(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
    // Without token keys no resource route exists, so none is advertised.
    expect(res.body.rest[0].resource).toEqual([]);
  });

  test.each(['/fhir/Patient/pat-parent', '/fhir/Observation?patient=pat-parent', '/fhir/Patient/does-not-exist'])(
    '%s is denied with 401 and the same body whether or not it exists',
    async (path) => {
      const res = await request(server).get(path).expect(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.issue[0].details.coding[0].code).toBe('UNAUTHORIZED');
      expect(JSON.stringify(res.body)).not.toContain('pat-parent');
    },
  );

  test('request ids are echoed or generated', async () => {
    const res = await request(server).get('/healthz').set('X-Request-Id', 'abc12345-test').expect(200);
    expect(res.headers['x-request-id']).toBe('abc12345-test');
    const gen = await request(server).get('/healthz');
    expect(gen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('readiness checks the database; metrics are exposed', async () => {
    await request(server).get('/readyz').expect(200, { status: 'ready' });
    const m = await request(server).get('/metrics').expect(200);
    expect(m.text).toContain('http_requests_total');
  });
});
