/**
 * The access log as AuditEvents (AUD-3): AuditEvent search and read, and Patient/$access-log.
 * After an app reads labs, the patient's log shows the app, the time and the resources; a parent
 * of a 15-year-old sees the apps and proxies that used the record but neither the adolescent's own
 * sessions nor the confidential resources anyone received (PRX-3); nobody reads another patient's
 * log, by search, by id or by paging; the token needs AuditEvent scope.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { MARIA, MARIA_ACCOUNT, usCoreFixtures } from './us-core-fixtures.js';
import { createHarness, type Harness } from './smart-harness.js';

const MATEO = { username: 'mateo', password: 'soccer practice', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };

interface AuditEventBody {
  resourceType: string;
  id: string;
  recorded: string;
  agent: { type?: { coding?: { code: string }[] }; who?: { reference?: string; identifier?: { value: string } }; name?: string; requestor: boolean }[];
  entity?: { what?: { reference?: string } }[];
  subtype?: { code: string }[];
}
type Bundle = { total?: number; entry?: { fullUrl: string; resource: AuditEventBody }[]; link: { relation: string; url: string }[] };

let h: Harness;
let mom: string;
let teenSelf: string;
let teenProxy: string;

beforeAll(async () => {
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT, { ...MATEO, fhirUser: 'Patient/teen', patientId: 'teen' }]);
  mom = await h.launch({ user: MARIA, pick: 'self:mom' });
  teenSelf = await h.launch({ user: MATEO });
  teenProxy = await h.launch({ user: MARIA, pick: 'teen' });
  // What the log will show: reads by the patient's app, the teenager's own and his parent's.
  expect((await h.get(mom, 'Observation?patient=mom&category=laboratory')).status).toBe(200);
  expect((await h.get(teenSelf, 'Observation?patient=teen')).status).toBe(200);
  expect((await h.get(teenSelf, 'Observation/teen-sti')).status).toBe(200);
  expect((await h.get(teenProxy, 'Observation?patient=teen')).status).toBe(200);
});
afterAll(() => h?.destroy());

const log = async (token: string, patient: string, query = '') => {
  await h.accessLog.flush();
  const res = await h.get(token, `Patient/${patient}/$access-log${query}`);
  return { res, bundle: res.body as Bundle, events: ((res.body as Bundle).entry ?? []).map((e) => e.resource) };
};
const refs = (events: AuditEventBody[]) => [...new Set(events.flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference).filter((r): r is string => !!r)))];
const actorKinds = (events: AuditEventBody[]) => [...new Set(events.map((e) => e.agent.find((a) => a.requestor)?.type?.coding?.[0]?.code))];

describe('the patient sees who accessed the record', () => {
  test('the app, the time and the resources it received', async () => {
    const { res, events } = await log(mom, 'mom');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(events.every((e) => e.resourceType === 'AuditEvent')).toBe(true);
    expect(refs(events)).toEqual(expect.arrayContaining(['Observation/mom-hgb']));
    // Newest first.
    const times = events.map((e) => Date.parse(e.recorded));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  test('paging with _count and a next link; _since narrows', async () => {
    const first = await log(mom, 'mom', '?_count=1');
    expect(first.events).toHaveLength(1);
    const next = first.bundle.link.find((l) => l.relation === 'next')!.url;
    const second = await h.get(mom, next.slice(next.indexOf('/fhir/') + 6));
    expect(second.status).toBe(200);
    expect((second.body as Bundle).entry![0]!.resource.recorded <= first.events[0]!.recorded).toBe(true);
    expect((await log(mom, 'mom', '?_since=2999-01-01')).events).toEqual([]);
    expect((await log(mom, 'mom', '?_since=yesterday')).res.status).toBe(400);
    expect((await log(mom, 'mom', '?_cursor=bogus')).res.status).toBe(400);
  });

  test('the adolescent sees his own sessions and his parent’s, with everything he received named', async () => {
    const { events } = await log(teenSelf, 'teen');
    expect(actorKinds(events)).toEqual(expect.arrayContaining(['PAT', 'AGNT']));
    expect(refs(events)).toEqual(expect.arrayContaining(['Observation/teen-sti', 'Observation/teen-hgb']));
  });
});

describe('a limited proxy (parent of a 15-year-old) learns nothing confidential from the log (PRX-3)', () => {
  test('no adolescent sessions, no confidential resource named', async () => {
    const { res, events } = await log(teenProxy, 'teen');
    expect(res.status).toBe(200);
    expect(events.length).toBeGreaterThan(0);
    expect(actorKinds(events)).not.toContain('PAT');
    expect(refs(events)).not.toContain('Observation/teen-sti');
    expect(JSON.stringify(res.body)).not.toContain('teen-sti');
  });
});

describe('denials', () => {
  test('another patient’s log is the 404 of a missing patient', async () => {
    const other = await h.get(mom, 'Patient/other/$access-log');
    const missing = await h.get(mom, 'Patient/nobody-here/$access-log');
    expect(other.status).toBe(404);
    expect(other.text.replaceAll('Patient/other', 'Patient/X')).toEqual(missing.text.replaceAll('Patient/nobody-here', 'Patient/X'));
    expect((await h.get(teenProxy, 'Patient/mom/$access-log')).status).toBe(404);
  });

  test('without AuditEvent search in scope: 403 insufficient_scope', async () => {
    const narrow = await h.launch({ user: MARIA, pick: 'self:mom', scope: 'launch/patient openid patient/Patient.rs patient/Observation.rs' });
    const res = await h.get(narrow, 'Patient/mom/$access-log');
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/insufficient_scope/);
  });

  test('without a token: 401', async () => {
    expect((await h.get('not-a-token', 'Patient/mom/$access-log')).status).toBe(401);
  });
});

/** AuditEvent search, following every next link; the ids in order. */
const searchAll = async (token: string, query: string) => {
  await h.accessLog.flush();
  const ids: string[] = [];
  let path: string | undefined = `AuditEvent?${query}`;
  let first: Bundle | undefined;
  for (let pages = 0; path && pages < 50; pages++) {
    const res = await h.get(token, path);
    expect([path, res.status]).toEqual([path, 200]);
    const bundle = res.body as Bundle;
    first ??= bundle;
    ids.push(...(bundle.entry ?? []).map((e) => e.resource.id));
    const next = bundle.link.find((l) => l.relation === 'next')?.url;
    path = next ? next.slice(next.indexOf('/fhir/') + 6) : undefined;
  }
  return { ids, first: first! };
};

describe('AuditEvent search is the access log (GET AuditEvent?patient=…)', () => {
  test('the same entries as $access-log, newest first, with a total and full URLs', async () => {
    const viaOperation = await log(mom, 'mom', '?_count=500');
    const res = await h.get(mom, 'AuditEvent?patient=mom&_count=500');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const bundle = res.body as Bundle;
    const ids = bundle.entry!.map((e) => e.resource.id);
    // The search itself (and the operation's read) come after: compare what both show of the older entries.
    expect(ids.slice(-viaOperation.events.length + 1)).toEqual(viaOperation.events.slice(1).map((e) => e.id).slice(-(viaOperation.events.length - 1)));
    expect(bundle.total).toBe(ids.length);
    expect(bundle.entry![0]!.fullUrl).toBe(`http://localhost:8080/fhir/AuditEvent/${ids[0]}`);
    expect(refs(bundle.entry!.map((e) => e.resource))).toEqual(expect.arrayContaining(['Observation/mom-hgb']));
    // Without the patient parameter: the token's own patient's log.
    expect((await h.get(mom, 'AuditEvent?_count=500')).body.total).toBeGreaterThanOrEqual(ids.length);
  });

  test('paging through next links visits every entry once; _sort=date turns the order around', async () => {
    const all = await searchAll(mom, 'patient=Patient/mom&_count=500&date=le2999-01-01');
    const paged = await searchAll(mom, 'patient=Patient/mom&_count=2&date=le2999-01-01');
    // The paged walk's own searches are newer than the snapshot of `all`: compare the entries both saw.
    expect(paged.ids.filter((id) => all.ids.includes(id))).toEqual(all.ids);
    expect(new Set(paged.ids).size).toBe(paged.ids.length);
    const oldestFirst = await searchAll(mom, 'patient=mom&_sort=date&_count=3');
    expect(oldestFirst.ids.filter((id) => all.ids.includes(id))).toEqual([...all.ids].reverse());
  });

  test('date, _lastUpdated, _id, _summary=count, _total=none and _elements', async () => {
    const { events } = await log(mom, 'mom', '?_count=500');
    const newest = events[0]!;
    expect((await searchAll(mom, 'patient=mom&date=lt2000-01-01')).ids).toEqual([]);
    expect((await searchAll(mom, 'patient=mom&date=gt2999')).ids).toEqual([]);
    expect((await searchAll(mom, `patient=mom&date=le${encodeURIComponent(newest.recorded)}&date=ge${encodeURIComponent(newest.recorded)}`)).ids).toContain(newest.id);
    expect((await searchAll(mom, '_lastUpdated=lt2000-01-01')).ids).toEqual([]);
    const byId = await h.get(mom, `AuditEvent?_id=${newest.id},no-such-entry`);
    expect((byId.body as Bundle).entry!.map((e) => e.resource.id)).toEqual([newest.id]);
    expect((byId.body as Bundle).total).toBe(1);
    const counted = await h.get(mom, 'AuditEvent?patient=mom&_summary=count');
    expect(counted.body.total).toBeGreaterThan(3);
    expect(counted.body.entry).toBeUndefined();
    const noTotal = await h.get(mom, 'AuditEvent?patient=mom&_total=none&_count=1');
    expect(noTotal.body.total).toBeUndefined();
    const subset = await h.get(mom, 'AuditEvent?patient=mom&_elements=recorded&_count=1');
    expect(Object.keys(subset.body.entry[0].resource).sort()).toEqual(['id', 'meta', 'recorded', 'resourceType']);
    expect((await h.get(mom, 'AuditEvent?_tag=x')).body.total).toBe(0);
    expect((await h.get(mom, 'AuditEvent?date=yesterday')).status).toBe(400);
  });

  test('POST _search answers as GET does', async () => {
    await h.accessLog.flush();
    const viaPost = await request(h.app).post('/fhir/AuditEvent/_search').set('Authorization', `Bearer ${mom}`).type('form').send({ patient: 'mom', date: 'lt2000-01-01' });
    expect(viaPost.status).toBe(200);
    expect(viaPost.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
  });

  test('an imported AuditEvent is stored, not served: the access log is the only AuditEvent here', async () => {
    expect((await h.get(mom, 'AuditEvent/mom-audit')).status).toBe(404);
    expect((await searchAll(mom, 'patient=mom&_count=500')).ids).not.toContain('mom-audit');
    const everything = await h.get(mom, 'Patient/mom/$everything');
    expect(everything.text).not.toContain('"resourceType":"AuditEvent"');
  });
});

describe('GET AuditEvent/{id}', () => {
  test('an entry of the token\'s own log', async () => {
    const { events } = await log(mom, 'mom');
    const res = await h.get(mom, `AuditEvent/${events[0]!.id}`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual(events[0]);
  });

  test('another patient\'s entry, a forged id, the old form of an own entry\'s id and a missing one give the same 404', async () => {
    const teenEvent = (await log(teenSelf, 'teen')).events[0]!;
    const own = (await log(mom, 'mom')).events[1]!;
    expect(own.id).toMatch(/^[0-9a-f]{32}$/);
    expect((await h.get(mom, `AuditEvent/${own.id}`)).status).toBe(200);
    // Ids used to be `{seq}-{first 16 hex digits of the hash}`: no longer an id of anything.
    const { seq } = (await h.tdb.db('access_log').where({ patient_id: 'mom' }).whereRaw('left(hash, 32) = ?', [own.id]).first('seq')) as { seq: string | number };
    const oldForm = `${Number(seq)}-${own.id.slice(0, 16)}`;
    const ids = [teenEvent.id, `${'0'.repeat(31)}1`, oldForm, `${own.id}-${'0'.repeat(16)}`, 'nothing-here'];
    const answers = await Promise.all(ids.map((id) => h.get(mom, `AuditEvent/${id}`)));
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(404);
      expect(res.text.replace(/AuditEvent\/[^ "]+/g, 'AuditEvent/X')).toEqual(answers[0]!.text.replace(/AuditEvent\/[^ "]+/g, 'AuditEvent/X'));
      expect([i, res.text.includes('teen')]).toEqual([i, false]);
    }
  });

  test('the old form of id finds nothing by _id either', async () => {
    const own = (await log(mom, 'mom')).events[1]!;
    const { seq } = (await h.tdb.db('access_log').where({ patient_id: 'mom' }).whereRaw('left(hash, 32) = ?', [own.id]).first('seq')) as { seq: string | number };
    const res = await h.get(mom, `AuditEvent?_id=${Number(seq)}-${own.id.slice(0, 16)}`);
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
    expect((await h.get(mom, `AuditEvent?_id=${own.id}`)).body.total).toBe(1);
  });

  test('a limited proxy cannot read the adolescent\'s own sessions by id either (PRX-3)', async () => {
    const own = (await log(teenSelf, 'teen')).events.find((e) => e.agent.some((a) => a.requestor && a.type?.coding?.[0]?.code === 'PAT'))!;
    expect(own).toBeDefined();
    expect((await h.get(teenSelf, `AuditEvent/${own.id}`)).status).toBe(200);
    expect((await h.get(teenProxy, `AuditEvent/${own.id}`)).status).toBe(404);
    const proxyView = await searchAll(teenProxy, 'patient=teen&_count=500');
    expect(proxyView.ids).not.toContain(own.id);
    expect(JSON.stringify(proxyView.first)).not.toContain('teen-sti');
  });
});

/** The JSON inside a base64url cursor. */
const decoded = (cursor: string): unknown => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
const cursorOf = (url: string, name: string) => new URL(url).searchParams.get(name)!;

describe('a limited proxy learns nothing of the entries its view leaves out, from ids or paging (PRX-3)', () => {
  beforeAll(async () => {
    // Parent and adolescent take turns, so the parent's view has gaps between its entries.
    for (const token of [teenSelf, teenProxy, teenSelf, teenSelf, teenProxy, teenSelf, teenProxy]) expect((await h.get(token, 'Observation?patient=teen')).status).toBe(200);
    await h.accessLog.flush();
  });

  /** The entries the proxy's view shows, by chain position (which the client must not learn). */
  const positions = async (ids: string[]) => {
    const rows = (await h.tdb.db('access_log').where({ patient_id: 'teen' }).select('seq', 'hash')) as { seq: string | number; hash: string }[];
    return ids.map((id) => Number(rows.find((r) => r.hash.startsWith(id))!.seq));
  };

  test('AuditEvent search: ids are entry hashes, cursors carry only the last id shown and the grant', async () => {
    const pages: Bundle[] = [];
    let path: string | undefined = 'AuditEvent?patient=teen&_sort=date&_count=1';
    while (path && pages.length < 200) {
      const res = await h.get(teenProxy, path);
      expect([path, res.status]).toEqual([path, 200]);
      pages.push(res.body as Bundle);
      const next = (res.body as Bundle).link.find((l) => l.relation === 'next')?.url;
      path = next ? next.slice(next.indexOf('/fhir/') + 6) : undefined;
    }
    const ids = pages.flatMap((b) => (b.entry ?? []).map((e) => e.resource.id));
    expect(ids.length).toBeGreaterThan(3);
    // The premise: the adolescent's own sessions fall between the entries the parent sees.
    const seqs = await positions(ids);
    expect(seqs.some((seq, i) => i > 0 && seq > seqs[i - 1]! + 1)).toBe(true);
    // Not numbers, not a place in the chain or the view: 32 hex digits, the entry's own.
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const teenIds = (await searchAll(teenSelf, 'patient=teen&_count=500')).ids;
    expect(ids.every((id) => teenIds.includes(id))).toBe(true);
    for (const b of pages) {
      for (const e of b.entry ?? []) {
        expect(e.fullUrl).toBe(`http://localhost:8080/fhir/AuditEvent/${e.resource.id}`);
        expect((e.resource as { meta?: unknown }).meta).toBeUndefined();
      }
      const next = b.link.find((l) => l.relation === 'next')?.url;
      if (!next) continue;
      const cursor = decoded(cursorOf(next, '_cursor')) as Record<string, unknown>;
      expect(Object.keys(cursor).sort()).toEqual(['afterId', 'g']);
      expect(cursor['afterId']).toBe(b.entry![b.entry!.length - 1]!.resource.id);
    }
  });

  test('$access-log: the same ids; its cursor carries only the last id shown and the grant', async () => {
    const first = await log(teenProxy, 'teen', '?_count=2');
    const next = first.bundle.link.find((l) => l.relation === 'next')!.url;
    for (const e of first.events) expect(e.id).toMatch(/^[0-9a-f]{32}$/);
    const cursor = decoded(cursorOf(next, '_cursor')) as Record<string, unknown>;
    expect(Object.keys(cursor).sort()).toEqual(['c', 'g']);
    expect(cursor['c']).toBe(first.events[1]!.id);
    const second = await h.get(teenProxy, next.slice(next.indexOf('/fhir/') + 6));
    expect(second.status).toBe(200);
    const secondIds = ((second.body as Bundle).entry ?? []).map((e) => e.resource.id);
    expect(secondIds.length).toBeGreaterThan(0);
    expect(secondIds.some((id) => first.events.some((e) => e.id === id))).toBe(false);
    // Bound to the grant: the adolescent's token cannot follow the parent's link, nor the parent a forged one.
    expect((await h.get(teenSelf, next.slice(next.indexOf('/fhir/') + 6))).status).toBe(400);
    expect((await log(teenProxy, 'teen', `?_cursor=${Buffer.from('s5').toString('base64url')}`)).res.status).toBe(400);
  });

  test('a cursor naming one of the adolescent\'s own sessions is refused like an unknown one', async () => {
    const own = (await searchAll(teenSelf, 'patient=teen&_count=500')).first.entry!.map((e) => e.resource).find((e) => e.agent.some((a) => a.requestor && a.type?.coding?.[0]?.code === 'PAT'))!;
    expect(own).toBeDefined();
    const first = await h.get(teenProxy, 'AuditEvent?patient=teen&_count=1');
    const next = (first.body as Bundle).link.find((l) => l.relation === 'next')!.url;
    const { g } = decoded(cursorOf(next, '_cursor')) as { g: string };
    const forge = (afterId: string) => Buffer.from(JSON.stringify({ afterId, g })).toString('base64url');
    const hidden = await h.get(teenProxy, `AuditEvent?patient=teen&_count=1&_cursor=${forge(own.id)}`);
    const unknown = await h.get(teenProxy, `AuditEvent?patient=teen&_count=1&_cursor=${forge('0'.repeat(32))}`);
    expect(hidden.status).toBe(400);
    expect(hidden.text).toEqual(unknown.text);
    const opHidden = await log(teenProxy, 'teen', `?_cursor=${Buffer.from(JSON.stringify({ c: own.id, g })).toString('base64url')}`);
    const opUnknown = await log(teenProxy, 'teen', `?_cursor=${Buffer.from(JSON.stringify({ c: '0'.repeat(32), g })).toString('base64url')}`);
    expect(opHidden.res.status).toBe(400);
    expect(opHidden.res.text).toEqual(opUnknown.res.text);
  });
});

describe('AuditEvent denials', () => {
  test('searching another patient\'s log finds nothing, as for a patient that does not exist', async () => {
    const other = await h.get(mom, 'AuditEvent?patient=teen');
    const missing = await h.get(mom, 'AuditEvent?patient=nobody-here');
    expect(other.status).toBe(200);
    expect(other.body.total).toBe(0);
    expect(other.body.entry).toBeUndefined();
    expect(missing.body.total).toBe(0);
  });

  test('a paging cursor of another token is refused', async () => {
    const first = await h.get(mom, 'AuditEvent?patient=mom&_count=1');
    const next = (first.body as Bundle).link.find((l) => l.relation === 'next')!.url;
    const res = await h.get(teenSelf, next.slice(next.indexOf('/fhir/') + 6));
    expect(res.status).toBe(400);
  });

  test('without AuditEvent scope, or with only a query-parameter AuditEvent scope: 403', async () => {
    const narrow = await h.launch({ user: MARIA, pick: 'self:mom', scope: 'launch/patient openid patient/Patient.rs patient/Observation.rs' });
    expect((await h.get(narrow, 'AuditEvent?patient=mom')).status).toBe(403);
    const { events } = await log(mom, 'mom');
    expect((await h.get(narrow, `AuditEvent/${events[0]!.id}`)).status).toBe(403);
    const constrained = await h.launch({ user: MARIA, pick: 'self:mom', scope: 'launch/patient openid patient/AuditEvent.rs?date=ge2000-01-01' });
    const res = await h.get(constrained, 'AuditEvent?patient=mom');
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/insufficient_scope/);
    expect((await h.get(constrained, 'Patient/mom/$access-log')).status).toBe(403);
  });
});
