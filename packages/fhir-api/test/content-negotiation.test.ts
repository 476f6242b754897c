/**
 * Content negotiation and compression through HTTP (FHIR R4 http.html#mime-type): FHIR R4 JSON is
 * the only format, `_format` overrides Accept, anything else is 406 with an OperationOutcome; a
 * client that accepts gzip gets compressed Bundles (streamed ones too) with the same content.
 */
import { createServer, get, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { MARIA, MARIA_ACCOUNT, usCoreFixtures } from './us-core-fixtures.js';
import { createHarness, entryIds, type Harness } from './smart-harness.js';

let h: Harness;
let token: string;
// Over a socket with node:http, which (unlike supertest) hands over the bytes as sent.
let server: Server;

beforeAll(async () => {
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT]);
  token = await h.launch({ user: MARIA, pick: 'self:mom' });
  server = createServer(h.app as RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await h?.destroy();
});

/** GET /fhir/{path} with the token; the body's bytes as they came. */
const rawGet = (path: string, headers: Record<string, string>) =>
  new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const { port } = server.address() as AddressInfo;
    get({ host: '127.0.0.1', port, path: `/fhir/${path}`, headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });

describe('content negotiation', () => {
  test.each([
    ['application/fhir+json'],
    ['application/json'],
    ['application/fhir+json; fhirVersion=4.0'],
    ['*/*'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
  ])('Accept %s: FHIR JSON', async (accept) => {
    const res = await h.get(token, 'Patient/mom', { Accept: accept });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.body.id).toBe('mom');
  });

  test.each([
    ['Patient/mom', { Accept: 'application/fhir+xml' }],
    ['Observation?patient=mom', { Accept: 'application/fhir+xml, text/xml' }],
    ['Patient/mom', { Accept: 'application/fhir+json; fhirVersion=3.0' }],
    ['Observation?patient=mom&_format=xml', {}],
    ['Patient/mom?_format=text/turtle', { Accept: 'application/fhir+json' }],
    ['Patient/mom/$everything?_format=html', {}],
    ['metadata', { Accept: 'application/fhir+xml' }],
  ])('%s %j: 406 with an OperationOutcome', async (path, headers) => {
    const res = await h.get(token, path, headers as Record<string, string>);
    expect(res.status).toBe(406);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].details.coding[0].code).toBe('NOT_ACCEPTABLE');
    expect(res.body.issue[0].diagnostics).toContain('application/fhir+json');
  });

  test('_format for JSON overrides an Accept for XML', async () => {
    const res = await h.get(token, 'Observation?patient=mom&_format=json', { Accept: 'application/fhir+xml' });
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
    expect((await h.get(token, 'metadata?_format=application/fhir%2Bjson', { Accept: 'text/xml' })).status).toBe(200);
  });

  test('a refused format is refused before the token is looked at: no existence oracle, nothing logged', async () => {
    const res = await request(h.app).get('/fhir/Patient/someone-else').set('Accept', 'application/fhir+xml');
    expect(res.status).toBe(406);
  });

  test('SMART discovery is plain JSON for OAuth clients, whatever they accept', async () => {
    const res = await request(h.app).get('/fhir/.well-known/smart-configuration').set('Accept', 'text/html');
    expect(res.status).toBe(200);
    expect(res.body.authorization_endpoint).toBeDefined();
  });
});

describe('gzip', () => {
  // A page of the record (buffered, unlike the whole record): several kilobytes.
  const PAGE = 'Patient/mom/$everything?_count=100';

  test('a Bundle is compressed for a client that accepts gzip, with the same content', async () => {
    const plain = await h.get(token, PAGE, { 'Accept-Encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['vary']).toMatch(/Accept-Encoding/);

    expect(Buffer.byteLength(JSON.stringify(plain.body))).toBeGreaterThan(4096);
    const zipped = await rawGet(PAGE, { 'Accept-Encoding': 'gzip, deflate' });
    expect(zipped.headers['transfer-encoding']).toBeUndefined(); // buffered, with its length
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(zipped.headers['cache-control']).toBe('no-store');
    expect(zipped.headers['vary']).toMatch(/Accept-Encoding/);
    const body = JSON.parse(gunzipSync(zipped.body).toString('utf8'));
    expect(entryIds(body)).toEqual(entryIds(plain.body));
    expect(zipped.body.length).toBeLessThan(Buffer.byteLength(JSON.stringify(plain.body)));
  });

  test('refused gzip (q=0) and small bodies go uncompressed', async () => {
    const refused = await rawGet(PAGE, { 'Accept-Encoding': 'gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(refused.body.toString('utf8')).resourceType).toBe('Bundle');
    // An OperationOutcome of a few hundred bytes: gzip would not pay.
    const small = await h.get(token, 'Observation/nobody', { 'Accept-Encoding': 'gzip' });
    expect(small.status).toBe(404);
    expect(small.headers['content-encoding']).toBeUndefined();
  });

  test('$everything is streamed compressed, and decompresses to the same record', async () => {
    const plain = await h.get(token, 'Patient/mom/$everything', { 'Accept-Encoding': 'identity' });
    const zipped = await rawGet('Patient/mom/$everything', { 'Accept-Encoding': 'gzip' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['transfer-encoding']).toBe('chunked');
    expect(zipped.headers['content-length']).toBeUndefined();
    expect(entryIds(JSON.parse(gunzipSync(zipped.body).toString('utf8')))).toEqual(entryIds(plain.body));
    expect(entryIds(plain.body).length).toBeGreaterThan(10);
  });

  test('a read still answers 304 to its ETag', async () => {
    const first = await h.get(token, 'Patient/mom', { 'Accept-Encoding': 'gzip' });
    const etag = first.headers['etag']!;
    expect(etag).toMatch(/^W\//);
    const again = await h.get(token, 'Patient/mom', { 'Accept-Encoding': 'gzip', 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.headers['content-encoding']).toBeUndefined();
  });
});
