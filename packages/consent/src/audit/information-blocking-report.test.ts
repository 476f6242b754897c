import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Knex } from 'knex';
import { consentMigrations } from '../migrations/index.js';
import { createAccessLog } from '../migrations/202611230003_create_access_log.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import type { AccessLogEntry } from './access-log-types.js';
import { appendAccessLog } from './access-log.js';
import { informationBlockingReport } from './information-blocking-report.js';

const migrations = consentMigrations.includes(createAccessLog) ? consentMigrations : [...consentMigrations, createAccessLog];
const T0 = new Date('2026-03-01T00:00:00.000Z');
const day = (d: number) => new Date(T0.getTime() + d * 86_400_000);

let tdb: TestDatabase;
let db: Knex;

const entry = (patientId: string, d: number, extra: Partial<AccessLogEntry>): AccessLogEntry => ({
  patientId,
  at: day(d),
  actor: { kind: 'proxy', id: 'acct-parent', fhirUser: 'RelatedPerson/rp-1' },
  client: { id: 'portal' },
  delegationId: 'del-1',
  action: 'search',
  outcome: 'success',
  requestId: `req-${patientId}-${d}`,
  ...extra,
});

beforeAll(async () => {
  tdb = await createTestDatabase(migrations);
  db = tdb.db;
  await appendAccessLog(db, [
    // AUD-1 (d): a parent proxy reads the teen's labs: confidential ones withheld as privacy_minor.
    entry('teen', 1, {
      returned: ['Observation/o1'],
      withheld: [
        { ref: 'Observation/o2', reason: 'proxy-age-limited' },
        { ref: 'Observation/o3', reason: 'proxy-age-limited' },
        { ref: 'DiagnosticReport/r1', reason: 'harm-hold' },
      ],
    }),
    entry('teen', 2, { withheld: [{ ref: 'DocumentReference/d1', reason: 'references-hidden' }] }),
    entry('elder', 3, { outcome: 'denied', reason: 'PROXY_SCOPE_EXCEEDED', exception: 'not_authorized', action: 'read' }),
    // A rate-limit refusal and a maintenance answer are denied requests under Health IT Performance (IB-5, RL-1).
    entry('', 4, { actor: { kind: 'app' }, outcome: 'denied', reason: 'rate_limited', exception: 'health_it_performance', action: 'denied', detail: { limiter: 'fhir' } }),
    entry('', 5, { actor: { kind: 'app' }, outcome: 'denied', reason: 'maintenance', exception: 'health_it_performance', action: 'denied' }),
    // Outside the period.
    entry('teen', 40, { withheld: [{ ref: 'Observation/o9', reason: 'patient-delay' }] }),
    entry('elder', 40, { outcome: 'denied', reason: 'rate_limited', exception: 'health_it_performance' }),
    // Plain successes are not in the report.
    entry('elder', 6, { returned: ['Observation/e1'] }),
  ]);
});
afterAll(async () => {
  await tdb?.destroy();
});

describe('informationBlockingReport', () => {
  test('lists every withheld item and denied request in the period with its exception code', async () => {
    const report = await informationBlockingReport(db, { from: day(0), to: day(30) });
    expect(report.withheld.map((w) => [w.patientId, w.ref, w.reason, w.exception])).toEqual([
      ['teen', 'Observation/o2', 'proxy-age-limited', 'privacy_minor'],
      ['teen', 'Observation/o3', 'proxy-age-limited', 'privacy_minor'],
      ['teen', 'DiagnosticReport/r1', 'harm-hold', 'preventing_harm'],
      ['teen', 'DocumentReference/d1', 'references-hidden', 'infeasibility_segmentation'],
    ]);
    expect(report.withheld[0]).toMatchObject({ requestId: 'req-teen-1', clientId: 'portal', delegationId: 'del-1', actorKind: 'proxy', recordedAt: day(1).toISOString() });
    expect(report.denied.map((d) => [d.patientId, d.action, d.reason, d.exception])).toEqual([
      ['elder', 'read', 'PROXY_SCOPE_EXCEEDED', 'not_authorized'],
      ['', 'denied', 'rate_limited', 'health_it_performance'],
      ['', 'denied', 'maintenance', 'health_it_performance'],
    ]);
    expect(report.counts.withheldByReason).toEqual([
      { reason: 'proxy-age-limited', exception: 'privacy_minor', count: 2 },
      { reason: 'harm-hold', exception: 'preventing_harm', count: 1 },
      { reason: 'references-hidden', exception: 'infeasibility_segmentation', count: 1 },
    ]);
    expect(report.counts.byException).toEqual([
      { exception: 'health_it_performance', withheld: 0, denied: 2 },
      { exception: 'privacy_minor', withheld: 2, denied: 0 },
      { exception: 'infeasibility_segmentation', withheld: 1, denied: 0 },
      { exception: 'not_authorized', withheld: 0, denied: 1 },
      { exception: 'preventing_harm', withheld: 1, denied: 0 },
    ]);
  });

  test.each<[string, number, number, number, number]>([
    ['the whole range', 0, 60, 5, 4],
    ['one day: from is inclusive, to exclusive', 1, 2, 3, 0],
    ['an empty period', 10, 20, 0, 0],
    ['the later entries only', 30, 60, 1, 1],
  ])('%s', async (_, from, to, withheld, denied) => {
    const report = await informationBlockingReport(db, { from: day(from), to: day(to) });
    expect([report.withheld.length, report.denied.length]).toEqual([withheld, denied]);
  });

  test('a period that ends before it starts is refused', async () => {
    await expect(informationBlockingReport(db, { from: day(2), to: day(1) })).rejects.toThrow(RangeError);
  });
});
