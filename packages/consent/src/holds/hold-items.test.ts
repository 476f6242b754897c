import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations } from '../migrations/index.js';
import { createReleaseHolds } from '../migrations/202611230002_create_release_holds.js';
import { accessPlan } from '../policy/access-plan.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { activeHoldExistsSql, activeHoldsAt, insertHoldItems, isHoldItemActive, listActiveHoldItems, listHoldItems, type HoldItem } from './hold-items.js';

const migrations = consentMigrations.includes(createReleaseHolds) ? consentMigrations : [...consentMigrations, createReleaseHolds];
const t = (iso: string) => new Date(`2026-06-${iso}Z`);

describe('isHoldItemActive (pure)', () => {
  const item: { heldFrom: Date; releaseAt: Date; releasedAt: Date | null } = { heldFrom: t('10T00:00:00'), releaseAt: t('20T00:00:00'), releasedAt: null };
  test.each<[string, { releasedAt?: Date | null }, string, boolean]>([
    ['before it starts', {}, '09T23:59:59', false],
    ['the instant it starts', {}, '10T00:00:00', true],
    ['during', {}, '15T00:00:00', true],
    ['the instant it ends (half-open)', {}, '20T00:00:00', false],
    ['after it ends', {}, '21T00:00:00', false],
    ['released earlier', { releasedAt: t('12T00:00:00') }, '15T00:00:00', false],
    ['released at exactly this instant', { releasedAt: t('15T00:00:00') }, '15T00:00:00', false],
    ['released later (time travel: still held then)', { releasedAt: t('16T00:00:00') }, '15T00:00:00', true],
  ])('%s', (_n, change, at, active) => {
    expect(isHoldItemActive({ ...item, ...change }, t(at))).toBe(active);
  });
});

describe('release_hold_item on a real database', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(migrations);
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  test('every PHI table and index starts with patient_id', async () => {
    const tables = ['harm_hold', 'data_quality_hold', 'patient_delay_preference', 'release_hold_item'];
    const { rows } = (await tdb.db.raw(`select tablename, indexname, indexdef from pg_indexes where tablename in (${tables.map(() => '?').join(',')})`, tables)) as {
      rows: { tablename: string; indexname: string; indexdef: string }[];
    };
    expect(new Set(rows.map((r) => r.tablename))).toEqual(new Set(tables));
    for (const r of rows) expect([r.indexname, /\(patient_id[,)]/.test(r.indexdef)]).toEqual([r.indexname, true]);
  });

  const P = 'pat-items';
  const base = { heldFrom: t('10T00:00:00'), releaseAt: t('20T00:00:00') };
  beforeAll(async () => {
    await insertHoldItems(tdb.db, P, [
      { resourceType: 'Observation', resourceId: 'o-harm', kind: 'harm', sourceId: 'h1', harmType: 'life_or_physical_safety', ...base },
      { resourceType: 'Observation', resourceId: 'o-rep', kind: 'harm', sourceId: 'h2', harmType: 'substantial_harm', ...base },
      { resourceType: 'Observation', resourceId: 'o-dq', kind: 'data-quality', sourceId: 'd1', heldFrom: t('12T00:00:00'), releaseAt: t('14T00:00:00') },
      { resourceType: 'DiagnosticReport', resourceId: 'r-delay', kind: 'patient-delay', sourceId: 'p1', condition: 'after_duration', ...base },
      { resourceType: 'DiagnosticReport', resourceId: 'r-legal', kind: 'legal', sourceId: 'l1', condition: 'until_discussed', ...base },
    ]);
    await tdb.db('release_hold_item').where({ patient_id: P, source_id: 'l1' }).update({ released_at: t('15T00:00:00'), released_by: 'Practitioner/x', release_reason: 'discussed' });
    // Another patient's identical resource key must never leak in.
    await insertHoldItems(tdb.db, 'pat-other', [{ resourceType: 'Observation', resourceId: 'o-clean', kind: 'harm', sourceId: 'h9', harmType: 'life_or_physical_safety', ...base }]);
  });

  test('re-inserting an item keeps its original window', async () => {
    const n = await insertHoldItems(tdb.db, P, [{ resourceType: 'Observation', resourceId: 'o-harm', kind: 'harm', sourceId: 'h1', harmType: 'life_or_physical_safety', heldFrom: t('18T00:00:00'), releaseAt: t('30T00:00:00') }]);
    expect(n).toBe(0);
    const [item] = await listHoldItems(tdb.db, P, { resourceType: 'Observation', resourceId: 'o-harm' });
    expect(item!.releaseAt).toEqual(t('20T00:00:00'));
  });

  test('the SQL predicate selects exactly what the pure predicate does, at every instant', async () => {
    const all = await listHoldItems(tdb.db, P);
    for (const at of ['09T00:00:00', '10T00:00:00', '12T00:00:00', '13T12:00:00', '14T00:00:00', '15T00:00:00', '16T00:00:00', '19T23:59:59', '20T00:00:00']) {
      const sql = (await listActiveHoldItems(tdb.db, P, t(at))).map((i) => `${i.resourceId}/${i.sourceId}`);
      const pure = all.filter((i) => isHoldItemActive(i, t(at))).map((i) => `${i.resourceId}/${i.sourceId}`);
      expect([at, sql]).toEqual([at, pure]);
    }
  });

  test('activeHoldExistsSql against resource rows matches decideResource facts for the patient and a proxy', async () => {
    const at = t('13T00:00:00');
    const all = await listHoldItems(tdb.db, P);
    const resources = [
      ['Observation', 'o-harm'],
      ['Observation', 'o-rep'],
      ['Observation', 'o-dq'],
      ['Observation', 'o-clean'],
      ['DiagnosticReport', 'r-delay'],
      ['DiagnosticReport', 'r-legal'],
    ] as const;
    for (const relationship of [
      { kind: 'self' as const },
      { kind: 'proxy' as const, proxyAccountId: 'a', delegation: { basis: 'caregiver' as const, status: 'active' as const, accessLevel: 'full' as const, startsAt: t('01T00:00:00') } },
    ]) {
      const plan = accessPlan({ relationship, patientBirthDate: '1980-01-01', at });
      if (plan.level === 'none') throw new Error('unexpected');
      const held = activeHoldExistsSql({ kinds: plan.holds, harmTypes: plan.harmTypes, at });
      const values = resources.map(() => '(?, ?, ?)').join(', ');
      const { rows } = (await tdb.db.raw(`with r(patient_id, resource_type, id) as (values ${values}) select r.id from r where ${held.sql} order by r.id`, [
        ...resources.flatMap(([type, id]) => [P, type, id]),
        ...held.bindings,
      ])) as { rows: { id: string }[] };
      const expected = resources
        .filter(([resourceType, resourceId]) =>
          activeHoldsAt(all as HoldItem[], { resourceType, resourceId }, at).some((h) => plan.holds.includes(h.kind) && (h.kind !== 'harm' || plan.harmTypes.includes(h.harmType!))),
        )
        .map(([, id]) => id)
        .sort();
      expect([relationship.kind, rows.map((r) => r.id)]).toEqual([relationship.kind, expected]);
    }
  });

  test('the substantial-harm hold binds the proxy only, the released legal hold nobody', async () => {
    const at = t('16T00:00:00');
    const held = (harmTypes: ('life_or_physical_safety' | 'substantial_harm')[]) => activeHoldExistsSql({ kinds: ['harm', 'data-quality', 'patient-delay', 'legal'], harmTypes, at });
    const keys = [
      ['Observation', 'o-harm'],
      ['Observation', 'o-rep'],
      ['DiagnosticReport', 'r-legal'],
      ['DiagnosticReport', 'r-delay'],
    ];
    const run = async (f: ReturnType<typeof held>) =>
      (
        (await tdb.db.raw(`with r(patient_id, resource_type, id) as (values ${keys.map(() => '(?, ?, ?)').join(', ')}) select r.id from r where ${f.sql} order by r.id`, [
          ...keys.flatMap(([type, id]) => [P, type!, id!]),
          ...f.bindings,
        ])) as { rows: { id: string }[] }
      ).rows.map((r) => r.id);
    expect(await run(held(['life_or_physical_safety']))).toEqual(['o-harm', 'r-delay']);
    expect(await run(held(['life_or_physical_safety', 'substantial_harm']))).toEqual(['o-harm', 'o-rep', 'r-delay']);
    expect(activeHoldExistsSql({ kinds: [], harmTypes: [], at }).sql).toBe('false');
  });

  test('the migration rolls back and re-applies cleanly', async () => {
    await tdb.db
      .transaction(async (trx) => {
        await createReleaseHolds.down(trx);
        await createReleaseHolds.up(trx);
        throw new Error('rollback');
      })
      .catch((err: Error) => expect(err.message).toBe('rollback'));
    expect(await listHoldItems(tdb.db, P)).toHaveLength(5);
  });

  test('the table refuses a hold without an end or a harm item without a harm type', async () => {
    await expect(
      tdb.db('release_hold_item').insert({ patient_id: P, resource_type: 'Observation', resource_id: 'x', kind: 'harm', source_id: 's', held_from: t('10T00:00:00'), release_at: t('10T00:00:00'), harm_type: 'life_or_physical_safety' }),
    ).rejects.toThrow();
    await expect(
      tdb.db('release_hold_item').insert({ patient_id: P, resource_type: 'Observation', resource_id: 'x', kind: 'harm', source_id: 's', held_from: t('10T00:00:00'), release_at: t('11T00:00:00') }),
    ).rejects.toThrow();
  });
});
