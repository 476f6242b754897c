/**
 * Patient/$access-log (AUD-3): after an app reads labs, the patient's log shows the app, the time
 * and the resources; a parent of a 15-year-old sees the apps and proxies that used the record but
 * neither the adolescent's own sessions nor the confidential resources anyone received (PRX-3);
 * nobody reads another patient's log; the token needs AuditEvent search scope.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { MARIA, MARIA_ACCOUNT, usCoreFixtures } from './us-core-fixtures.js';
import { createHarness, type Harness } from './smart-harness.js';

const MATEO = { username: 'mateo', password: 'soccer practice', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };

interface AuditEventBody {
  resourceType: string;
  recorded: string;
  agent: { type?: { coding?: { code: string }[] }; who?: { reference?: string; identifier?: { value: string } }; name?: string; requestor: boolean }[];
  entity?: { what?: { reference?: string } }[];
  subtype?: { code: string }[];
}
type Bundle = { entry?: { resource: AuditEventBody }[]; link: { relation: string; url: string }[] };

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
