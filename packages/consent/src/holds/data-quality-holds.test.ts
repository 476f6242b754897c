import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations } from '../migrations/index.js';
import { createReleaseHolds } from '../migrations/202611230002_create_release_holds.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { DATA_QUALITY_MAX_HOURS, liftDataQualityHold, placeDataQualityHold, validateDataQualityHold, type NewDataQualityHold } from './data-quality-holds.js';
import { HoldValidationError } from './errors.js';
import { listActiveHoldItems } from './hold-items.js';

const migrations = consentMigrations.includes(createReleaseHolds) ? consentMigrations : [...consentMigrations, createReleaseHolds];
const T0 = new Date('2026-06-15T12:00:00Z');
const later = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);
const DR = { resourceType: 'DiagnosticReport', resourceId: 'dr-mismatch' };
const valid = (patientId: string, extra: Partial<NewDataQualityHold> = {}): NewDataQualityHold => ({
  patientId,
  resources: [DR],
  problem: 'mismatched_patient',
  reason: 'report filed to the wrong patient (ticket HIM-42)',
  placedBy: 'staff:him-clerk-7',
  at: T0,
  ...extra,
});

describe('validateDataQualityHold (REL-4)', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['no patient', { patientId: '' }, 'hold-scope-required'],
    ['no records', { resources: [] }, 'hold-scope-required'],
    ['by category', { category: 'laboratory' }, 'hold-scope-required'],
    ['unknown problem', { problem: 'looks odd' }, 'invalid-input'],
    ['no reason', { reason: ' ' }, 'reason-required'],
    ['expiry before start', { expiresAt: later(-1) }, 'invalid-window'],
    ['longer than the maximum', { expiresAt: later(DATA_QUALITY_MAX_HOURS + 1) }, 'invalid-window'],
  ])('%s → %s', (_n, change, code) => {
    expect(() => validateDataQualityHold({ ...valid('p'), ...change } as NewDataQualityHold)).toThrow(HoldValidationError);
    try {
      validateDataQualityHold({ ...valid('p'), ...change } as NewDataQualityHold);
    } catch (err) {
      expect([(err as HoldValidationError).code, (err as HoldValidationError).rule]).toEqual([code, 'REL-4']);
    }
  });

  test('expires after 7 days unless told otherwise', () => {
    expect(validateDataQualityHold(valid('p')).expiresAt).toEqual(later(7 * 24));
    expect(validateDataQualityHold(valid('p', { expiresAt: later(DATA_QUALITY_MAX_HOURS) })).expiresAt).toEqual(later(DATA_QUALITY_MAX_HOURS));
  });
});

describe('data-quality holds on a real database', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(migrations);
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  test('REL-4 (d): a mismatched report is hidden, then released when fixed', async () => {
    const hold = await placeDataQualityHold(tdb.db, valid('pat-dq'));
    expect(hold).toMatchObject({ resources: [DR], status: 'active', expiresAt: later(7 * 24) });
    expect((await listActiveHoldItems(tdb.db, 'pat-dq', later(1))).map((i) => [i.kind, i.resourceId])).toEqual([['data-quality', 'dr-mismatch']]);
    const lifted = await liftDataQualityHold(tdb.db, { patientId: 'pat-dq', holdId: hold.id, liftedBy: 'staff:him-clerk-7', reason: 'fixed', at: later(2) });
    expect(lifted).toMatchObject({ status: 'lifted', liftReason: 'fixed', liftedAt: later(2) });
    expect(await listActiveHoldItems(tdb.db, 'pat-dq', later(2))).toEqual([]);
    await expect(liftDataQualityHold(tdb.db, { patientId: 'pat-dq', holdId: hold.id, liftedBy: 'x', reason: 'fixed', at: later(3) })).rejects.toMatchObject({ code: 'hold-not-active', status: 409 });
  });

  test('expires on its own', async () => {
    await placeDataQualityHold(tdb.db, valid('pat-exp', { expiresAt: later(48) }));
    expect(await listActiveHoldItems(tdb.db, 'pat-exp', later(47))).toHaveLength(1);
    expect(await listActiveHoldItems(tdb.db, 'pat-exp', later(48))).toEqual([]);
  });

  test('unknown hold → not-found', async () => {
    await expect(liftDataQualityHold(tdb.db, { patientId: 'pat-dq', holdId: 'nope', liftedBy: 'x', reason: 'fixed', at: later(1) })).rejects.toMatchObject({ code: 'not-found', status: 404 });
  });
});
