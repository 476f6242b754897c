/**
 * Input a client controls, through the real app and database: parameter names and type spellings
 * the access log cannot hold, dates outside the years the database takes, control characters,
 * edited paging cursors, request bodies (size, encoding, media type, field count, nesting),
 * unmatched paths and If-None-Match. Each is a clear 4xx OperationOutcome (never a 500), and every
 * request that returns or denies PHI leaves its access-log entry (AUD-1), committed before the
 * response; for a streamed $everything, one entry before the first byte and one naming what was sent.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type { AccessLogEntry } from '@patient-access/consent';
import { MARIA, MARIA_ACCOUNT, usCoreFixtures } from './us-core-fixtures.js';
import { config, createHarness, entryIds, type Harness } from './smart-harness.js';

let h: Harness;
let mom: string;

beforeAll(async () => {
  // Deployed behind one reverse proxy (TRUST_PROXY=1): the address is the hop that proxy saw.
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT], { config: { ...config, trustProxy: 1 } });
  mom = await h.launch({ user: MARIA, pick: 'self:mom' });
});
afterAll(() => h?.destroy());

interface LogRow {
  action: string;
  outcome: string;
  reason: string | null;
  resource_type: string | null;
  query_params: string[] | null;
  returned_ids: string[] | null;
  result_count: number | null;
  source_address: string | null;
  detail: unknown;
}

const codeOf = (res: request.Response) => (res.body as { issue?: { details?: { coding?: { code: string }[] } }[] })?.issue?.[0]?.details?.coding?.[0]?.code;
const detailOf = (row: LogRow) => (typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail) as Record<string, unknown> | null;
const newRequestId = () => `test-${randomUUID()}`;

/** The entries of one request (by its request id), in chain order; already committed unless `flush`. */
async function entriesOf(requestId: string, flush = true): Promise<LogRow[]> {
  if (flush) await h.accessLog.flush();
  return (await h.tdb.db('access_log').where({ patient_id: 'mom', request_id: requestId }).orderBy('seq')) as LogRow[];
}

async function getLogged(path: string, headers: Record<string, string> = {}): Promise<{ res: request.Response; rows: LogRow[] }> {
  const requestId = newRequestId();
  const res = await h.get(mom, path, { 'X-Request-Id': requestId, ...headers });
  return { res, rows: await entriesOf(requestId) };
}

/** Replaces the harness's access-log writer's `write` (the app calls it through the same object) for one test. */
async function withWrite(
  replacement: (entries: readonly AccessLogEntry[], original: (e: readonly AccessLogEntry[]) => Promise<void>) => Promise<void>,
  body: () => Promise<void>,
): Promise<void> {
  const original = h.accessLog.write;
  h.accessLog.write = (input) => replacement(Array.isArray(input) ? (input as readonly AccessLogEntry[]) : [input as AccessLogEntry], (e) => original.call(h.accessLog, e));
  try {
    await body();
  } finally {
    h.accessLog.write = original;
  }
}
const streamPhase = (entries: readonly AccessLogEntry[]) => entries.map((e) => e.detail?.['stream']).find((s) => s !== undefined);

async function poll<T>(read: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

describe('parameter names the access log cannot hold (AUD-1)', () => {
  test.each([
    ['non-ASCII', 'Observation?%C3%A9=1&category=laboratory'],
    ['a leading digit', 'Observation?1abc=1&category=laboratory'],
    ['a space', 'Observation?a%20b=1&category=laboratory'],
    ['130 characters', `Observation?${'a'.repeat(130)}=1&category=laboratory`],
    ['on the access log itself', 'AuditEvent?patient=mom&%C3%A9=1&category=laboratory'],
  ])('%s: answered leniently, and logged with the valid names and a count of the others', async (_, path) => {
    const { res, rows } = await getLogged(path);
    expect(res.status).toBe(200);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'search', outcome: 'success' });
    expect(rows[0]!.query_params).toEqual(path.startsWith('AuditEvent') ? ['patient', 'category'] : ['category']);
    expect(detailOf(rows[0]!)).toEqual({ unloggableParams: 1 });
  });

  test('strict handling refuses the unknown name, and the denial is logged', async () => {
    const { res, rows } = await getLogged('Observation?%C3%A9=1', { Prefer: 'handling=strict' });
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('UNSUPPORTED_SEARCH_PARAMETER');
    expect(rows).toMatchObject([{ action: 'denied', outcome: 'denied', reason: 'UNSUPPORTED_SEARCH_PARAMETER', resource_type: 'Observation' }]);
  });

  test('streamed $everything with such a name: both of its entries are written', async () => {
    const requestId = newRequestId();
    const res = await h.get(mom, 'Patient/mom/$everything?%C3%A9=1&_type=Patient,Condition', { 'X-Request-Id': requestId });
    expect(res.status).toBe(200);
    const rows = await poll(() => entriesOf(requestId), (r) => r.length >= 2);
    expect(rows.map((r) => [r.action, detailOf(r)])).toEqual([
      ['everything', { unloggableParams: 1, stream: 'started' }],
      ['everything', { unloggableParams: 1, stream: 'sent' }],
    ]);
    expect(rows.every((r) => JSON.stringify(r.query_params) === JSON.stringify(['_type']))).toBe(true);
    expect([...rows[1]!.returned_ids!].sort()).toEqual(entryIds(JSON.parse(res.text)));
  });

  test('an X-Forwarded-For the log cannot hold as an address leaves the address out, not the entry', async () => {
    const { res, rows } = await getLogged('Observation?category=laboratory', { 'X-Forwarded-For': 'not an address' });
    expect(res.status).toBe(200);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.source_address).toBeNull();
    expect(detailOf(rows[0]!)).toEqual({ sourceAddress: 'unloggable' });
  });

  test('behind one trusted proxy, the address is the one it saw, not what the client wrote before it', async () => {
    const { rows } = await getLogged('Observation?category=laboratory', { 'X-Forwarded-For': '203.0.113.7, 198.51.100.20' });
    expect(rows[0]!.source_address).toBe('198.51.100.20');
  });
});

describe('resource type spellings that are no type', () => {
  test.each(['observation', 'observation/x', 'Observation%2Fmom-hgb', 'Patient%2Fmom', 'Foo', 'Foo/x'])('GET %s: the 404 of an unknown type, and a logged denial', async (path) => {
    const { res, rows } = await getLogged(path);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(res.text).not.toContain('Maria');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'denied', outcome: 'denied', reason: 'NOT_FOUND' });
    // Only a spelling the log can hold is kept.
    expect(rows[0]!.resource_type).toBe(path.startsWith('Foo') ? 'Foo' : null);
  });
});

describe('the streamed $everything is on record before its first byte (AUD-1)', () => {
  const path = 'Patient/mom/$everything?_type=Patient,Condition,Encounter,Location';

  test('the response waits for the first entry; the second names what was sent', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let firstCommitted = false;
    const requestId = newRequestId();
    await withWrite(
      async (entries, original) => {
        if (streamPhase(entries) !== 'started') return original(entries);
        await gate;
        await original(entries);
        firstCommitted = true;
      },
      async () => {
        let answered = false;
        const pending = h.get(mom, path, { 'X-Request-Id': requestId }).then((res) => {
          answered = true;
          // The entry was committed before the response began.
          expect(firstCommitted).toBe(true);
          return res;
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(answered).toBe(false);
        expect(await entriesOf(requestId, false)).toEqual([]);
        release();
        const res = await pending;
        expect(res.status).toBe(200);
        const first = await entriesOf(requestId, false);
        expect(first[0]).toMatchObject({ action: 'everything', outcome: 'success', resource_type: 'Patient', query_params: ['_type'] });
        expect(first[0]!.returned_ids ?? []).toEqual([]);
        expect(detailOf(first[0]!)).toEqual({ stream: 'started' });
        const rows = await poll(() => entriesOf(requestId), (r) => r.length >= 2);
        expect(rows).toHaveLength(2);
        expect(detailOf(rows[1]!)).toEqual({ stream: 'sent' });
        const sent = entryIds(JSON.parse(res.text));
        expect([...rows[1]!.returned_ids!].sort()).toEqual(sent);
        expect(rows[1]!.result_count).toBe(sent.length);
        expect(sent).toEqual(expect.arrayContaining(['Patient/mom', 'Condition/mom-condition', 'Location/loc-1']));
      },
    );
  });

  test('a failed first write fails the request: 503, nothing of the record sent, nothing logged after', async () => {
    const requestId = newRequestId();
    let later = 0;
    await withWrite(
      async (entries, original) => {
        if (streamPhase(entries) === 'started') throw Object.assign(new Error('connection terminated'), { code: '57P01' });
        if (entries.some((e) => e.requestId === requestId)) later++;
        return original(entries);
      },
      async () => {
        const res = await h.get(mom, path, { 'X-Request-Id': requestId });
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
        expect(res.headers['retry-after']).toBe('5');
        expect(codeOf(res)).toBe('UPSTREAM_UNAVAILABLE');
        expect(res.text).not.toMatch(/Maria|mom-condition|"entry"/);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(later).toBe(0);
        expect(await entriesOf(requestId)).toEqual([]);
      },
    );
  });

  test('a failed second write leaves the complete response and the first entry', async () => {
    const requestId = newRequestId();
    let refused = 0;
    await withWrite(
      async (entries, original) => {
        if (streamPhase(entries) === 'sent') {
          refused++;
          throw new Error('connection terminated');
        }
        return original(entries);
      },
      async () => {
        const res = await h.get(mom, path, { 'X-Request-Id': requestId });
        expect(res.status).toBe(200);
        expect(entryIds(JSON.parse(res.text))).toEqual(expect.arrayContaining(['Patient/mom', 'Condition/mom-condition']));
        await poll(async () => refused, (n) => n > 0);
        expect(refused).toBe(1);
        const rows = await entriesOf(requestId);
        expect(rows.map((r) => detailOf(r))).toEqual([{ stream: 'started' }]);
      },
    );
  });

  test('a failed write of an ordinary read is a 503, not the data', async () => {
    await withWrite(
      async () => {
        throw new Error('connection terminated');
      },
      async () => {
        const res = await h.get(mom, 'Observation/mom-hgb');
        expect(res.status).toBe(503);
        expect(codeOf(res)).toBe('UPSTREAM_UNAVAILABLE');
        expect(res.text).not.toContain('mom-hgb"');
      },
    );
  });
});

describe('dates outside the years the database takes are 400', () => {
  test.each([
    'Observation?date=0000',
    'Observation?date=ge0000-01-01',
    'Observation?date=lt0000',
    'Observation?_lastUpdated=0000',
    'Observation?date=0001-01-01T00:00:00%2B14:00',
    'Observation?date=9999-12-31T23:00:00-14:00',
    'Observation?date=ap0001',
    'Observation?date=ap9999-12-31',
    'Observation?date=99999',
    'AuditEvent?patient=mom&date=0000',
    'Patient/mom/$everything?_since=0000',
    'Patient/mom/$everything?_since=0000&_count=5',
    'Patient/mom/$access-log?_since=0000',
    'Patient/mom/$access-log?_since=0000-06-01T00:00:00Z',
  ])('%s', async (path) => {
    const { res, rows } = await getLogged(path);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('INVALID_PARAMETER_VALUE');
    expect(rows).toMatchObject([{ action: 'denied', reason: 'INVALID_PARAMETER_VALUE' }]);
  });

  test.each([
    'Observation?date=0001',
    'Observation?date=gt0001-01-01',
    'Observation?date=le9999-12-31T23:59:59Z',
    'Observation?date=ap2026-10-01',
    'Observation?_lastUpdated=lt9999',
    'Patient/mom/$everything?_since=0001-01-01T00:00:00Z&_count=5',
    'Patient/mom/$access-log?_since=0001-01-01T00:00:00Z',
  ])('the edges themselves are searchable: %s', async (path) => {
    expect((await h.get(mom, path)).status).toBe(200);
  });
});

describe('control characters in values are 400', () => {
  test.each([
    'Observation?code=%00',
    'Observation?code=http://loinc.org|%00',
    'Observation?category=lab%01',
    'Patient?name=%00',
    'Patient?name:contains=a%00',
    'Observation?patient=Patient/mom%00',
    'AuditEvent?patient=mom&_tag:not=%00',
  ])('%s', async (path) => {
    const { res, rows } = await getLogged(path);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('INVALID_PARAMETER_VALUE');
    expect(rows).toMatchObject([{ action: 'denied' }]);
  });
});

describe('edited paging cursors are the 400 of a tampered cursor', () => {
  const cursorOf = (url: string) => new URL(url).searchParams.get('_cursor')!;
  const decode = (c: string) => JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
  const encode = (json: string) => Buffer.from(json).toString('base64url');
  const next = (body: { link: { relation: string; url: string }[] }) => body.link.find((l) => l.relation === 'next')!.url;

  test('search cursors: offsets out of range, keyset positions that are no id', async () => {
    // The grant binding, from a cursor the server made for this token ($everything's carries the same).
    const page = await h.get(mom, 'Patient/mom/$everything?_count=1');
    const g = JSON.stringify(decode(cursorOf(next(JSON.parse(page.text))))['g']);
    expect((await h.get(mom, `Observation?_sort=date&_count=1&_cursor=${encode(`{"offset":1,"g":${g}}`)}`)).status).toBe(200);
    const tampered = [
      `{"offset":1e300,"g":${g}}`,
      `{"offset":9223372036854775807,"g":${g}}`,
      `{"offset":99999999999999999999,"g":${g}}`,
      `{"offset":-1,"g":${g}}`,
      `{"offset":1.5,"g":${g}}`,
      `{"afterId":"\\u0000","g":${g}}`,
      `{"afterId":"a b","g":${g}}`,
      `{"afterId":"${'a'.repeat(200)}","g":${g}}`,
    ];
    for (const json of tampered) {
      const res = await h.get(mom, `Observation?_sort=date&_count=1&_cursor=${encode(json)}`);
      expect([json, res.status, codeOf(res)]).toEqual([json, 400, 'INVALID_PARAMETER_VALUE']);
    }
    // A position past the end is no error: an empty page.
    const far = await h.get(mom, `Observation?_sort=date&_count=1&_cursor=${encode(`{"offset":1000000,"g":${g}}`)}`);
    expect(far.status).toBe(200);
    expect(far.body.entry).toBeUndefined();
  });

  test('$everything cursors: a type outside the walk, an id that is no id', async () => {
    const page = await h.get(mom, 'Patient/mom/$everything?_count=1');
    expect(page.status).toBe(200);
    const real = decode(cursorOf(next(JSON.parse(page.text))));
    const g = JSON.stringify(real['g']);
    for (const json of [`{"t":"Observation","a":"\\u0000","g":${g}}`, `{"t":"Foo","a":"x","g":${g}}`, `{"t":"Observation","a":"a b","g":${g}}`, `{"t":"Observation","a":"${'a'.repeat(65)}","g":${g}}`]) {
      const res = await h.get(mom, `Patient/mom/$everything?_count=1&_cursor=${encode(json)}`);
      expect([json, res.status, codeOf(res)]).toEqual([json, 400, 'INVALID_PARAMETER_VALUE']);
    }
  });
});

describe('POST _search bodies', () => {
  const post = (path: string) => request(h.app).post(`/fhir/${path}`).set('Authorization', `Bearer ${mom}`);
  /** Through node:http: superagent re-chunks a Buffer body. */
  const gzipPost = async (path: string, body: Buffer): Promise<{ status: number; text: string }> => {
    const server = createServer(h.app as Parameters<typeof createServer>[1]).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir/${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${mom}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Encoding': 'gzip' },
        body,
      });
      return { status: res.status, text: await res.text() };
    } finally {
      server.close();
    }
  };

  test('a body over the limit is 413, as an OperationOutcome', async () => {
    const res = await post('Observation/_search').type('form').send(`code=${'a'.repeat(70 * 1024)}`);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(codeOf(res)).toBe('PAYLOAD_TOO_LARGE');
  });

  test('a body that is not what its Content-Encoding says is 400; an unknown encoding 415', async () => {
    const gz = await post('Observation/_search').type('form').set('Content-Encoding', 'gzip').send('code=zzz');
    expect(gz.status).toBe(400);
    expect(codeOf(gz)).toBe('INVALID_REQUEST');
    // A body that is gzip, as it says, is searched as usual.
    const real = await gzipPost('Observation/_search', gzipSync('code=zzz'));
    expect(real.status).toBe(200);
    expect(JSON.parse(real.text).total).toBe(0);
    const unknown = await post('Observation/_search').type('form').set('Content-Encoding', 'compress').send('code=zzz');
    expect(unknown.status).toBe(415);
    expect(codeOf(unknown)).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  test('more parameters than a search takes: 400 by POST and by GET alike, never a search on some of them', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => `a${i}=1`).join('&');
    const byPost = await post('Observation/_search').type('form').send(`${many}&code=zzz`);
    expect(byPost.status).toBe(400);
    expect(codeOf(byPost)).toBe('INVALID_SEARCH_PARAMETER');
    const byGet = await h.get(mom, `Observation?${Array.from({ length: 101 }, (_, i) => `a${i}=1`).join('&')}`);
    expect(byGet.status).toBe(400);
    expect(codeOf(byGet)).toBe('INVALID_SEARCH_PARAMETER');
    // At the limit: searched, every filter applied.
    const atLimit = await post('Observation/_search').type('form').send(`${Array.from({ length: 99 }, (_, i) => `a${i}=1`).join('&')}&code=zzz`);
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.total).toBe(0);
  });

  test('the body’s filters apply, as they do by GET', async () => {
    const get = await h.get(mom, 'Observation?code=zzz');
    const byPost = await post('Observation/_search').type('form').send('code=zzz');
    expect(get.body.total).toBe(0);
    expect(byPost.status).toBe(200);
    expect(byPost.body.total).toBe(0);
    const all = await h.get(mom, 'Observation');
    expect(all.body.total).toBeGreaterThan(0);
  });

  test.each([
    ['application/json', '{"code":"zzz"}'],
    ['text/plain', 'code=zzz'],
  ])('a %s body is 415, not a search on the query string alone', async (type, body) => {
    const res = await post('Observation/_search').set('Content-Type', type).send(body);
    expect(res.status).toBe(415);
    expect(codeOf(res)).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  test('no body at all: the query string is the search', async () => {
    const res = await post('Observation/_search?code=zzz');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
  });

  test.each(['code[a]=1', 'code[]=1', 'code[a][b]=1'])('nested form keys (%s) are 400 by POST and by GET', async (body) => {
    const byPost = await post('Observation/_search').type('form').send(body);
    expect(byPost.status).toBe(400);
    expect(codeOf(byPost)).toBe('INVALID_SEARCH_PARAMETER');
    const byGet = await h.get(mom, `Observation?${body}`);
    expect(byGet.status).toBe(400);
  });
});

describe('unmatched paths and If-None-Match', () => {
  test.each(['Observation//mom-hgb', '/Observation', 'Observation/mom-hgb//x', ''])('GET /fhir/%s: a 404 OperationOutcome', async (path) => {
    const res = await h.get(mom, path);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(codeOf(res)).toBe('NOT_FOUND');
  });

  test('GET /fhir itself', async () => {
    const res = await request(h.app).get('/fhir');
    expect(res.status).toBe(404);
    expect(codeOf(res)).toBe('NOT_FOUND');
  });

  test('If-None-Match: *, lists, weak comparison (RFC 9110)', async () => {
    const first = await h.get(mom, 'Observation/mom-hgb');
    expect(first.status).toBe(200);
    const etag = first.headers['etag'] as string;
    expect(etag).toMatch(/^W\/"[^"]+"$/);
    const strong = etag.slice(2);
    const cases: [string, number][] = [
      ['*', 304],
      [etag, 304],
      [strong, 304],
      [`W/"nope", ${etag}`, 304],
      [`"nope",${strong}`, 304],
      [`W/"nope", W/"other"`, 200],
      ['W/"nope"', 200],
      ['garbage', 200],
      [`${etag} garbage`, 200],
    ];
    for (const [header, status] of cases) {
      const res = await h.get(mom, 'Observation/mom-hgb', { 'If-None-Match': header });
      expect([header, res.status]).toEqual([header, status]);
      if (status === 304) expect(res.headers['etag']).toBe(etag);
    }
    // `*` matches only what exists.
    expect((await h.get(mom, 'Observation/nope', { 'If-None-Match': '*' })).status).toBe(404);
  });
});
