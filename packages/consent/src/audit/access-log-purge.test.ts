import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Knex } from 'knex';
import { consentMigrations } from '../migrations/index.js';
import { createAccessLog } from '../migrations/202611230003_create_access_log.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import type { AccessLogEntry } from './access-log-types.js';
import { accessLogRecords, appendAccessLog, verifyAccessLog } from './access-log.js';
import { AccessLogRetentionError, purgeAccessLog, retentionCutoff, validateAccessLogRetention } from './access-log-purge.js';

const migrations = consentMigrations.includes(createAccessLog) ? consentMigrations : [...consentMigrations, createAccessLog];
// The table's trigger compares with the database clock, so the rows are dated from the real now.
const NOW = new Date();
const DAY = 86_400_000;
const yearsAgo = (years: number, days = 0) => new Date(retentionCutoff(NOW, years).getTime() - days * DAY);

let tdb: TestDatabase;
let db: Knex;

beforeAll(async () => {
  tdb = await createTestDatabase(migrations);
  db = tdb.db;
});
afterAll(async () => {
  await tdb?.destroy();
});

const entry = (patientId: string, at: Date): AccessLogEntry => ({
  patientId,
  at,
  actor: { kind: 'app', id: 'client-a' },
  client: { id: 'client-a' },
  action: 'read',
  outcome: 'success',
  returned: [`Observation/${at.getTime()}`],
});

const seqs = async (patientId: string) => (await accessLogRecords(db, patientId)).map((r) => r.seq);

describe('retention configuration (AUD-4)', () => {
  test.each<[number, boolean]>([
    [5, false],
    [6, true],
    [10, true],
    [6.5, false],
    [Number.NaN, false],
    [0, false],
  ])('%p years valid: %p', (years, valid) => {
    if (valid) expect(() => validateAccessLogRetention(years)).not.toThrow();
    else expect(() => validateAccessLogRetention(years)).toThrow(AccessLogRetentionError);
  });

  test('a purge with a retention under 6 years is refused', async () => {
    await expect(purgeAccessLog(db, { retentionYears: 5, now: NOW })).rejects.toThrow(/AUD-4/);
  });
});

describe('purgeAccessLog', () => {
  beforeAll(async () => {
    await appendAccessLog(db, [
      // A: old rows, then younger ones.
      entry('pa', yearsAgo(12)),
      entry('pa', yearsAgo(11)),
      entry('pa', yearsAgo(10, 1)),
      entry('pa', yearsAgo(9)),
      entry('pa', yearsAgo(1)),
      // B: every row old: the whole chain goes, its head stays.
      entry('pb', yearsAgo(11)),
      entry('pb', yearsAgo(11)),
      // C: a row recorded out of time order stops the purge at it (no holes, no younger row removed).
      entry('pc', yearsAgo(11)),
      entry('pc', yearsAgo(2)),
      entry('pc', yearsAgo(11)),
      // D: nothing old.
      entry('pd', yearsAgo(0, 3)),
    ]);
  });

  test('an olderThan within the retention is refused and removes nothing', async () => {
    await expect(purgeAccessLog(db, { olderThan: yearsAgo(9), now: NOW })).rejects.toBeInstanceOf(AccessLogRetentionError);
    expect(await seqs('pa')).toEqual([1, 2, 3, 4, 5]);
  });

  test('an earlier olderThan removes only rows before it', async () => {
    const result = await purgeAccessLog(db, { olderThan: yearsAgo(11, 30), now: NOW });
    expect(result).toMatchObject({ purgedRows: 1, chains: 1, skipped: [] });
    expect(await seqs('pa')).toEqual([2, 3, 4, 5]);
    expect(await verifyAccessLog(db)).toEqual([]);
  });

  test('the default cutoff removes rows past 10 years and leaves a 9-year-old row (AUD-4)', async () => {
    const result = await purgeAccessLog(db, { now: NOW, batchSize: 2 });
    expect(result.cutoff).toEqual(yearsAgo(10));
    expect(result).toMatchObject({ purgedRows: 5, chains: 3, skipped: [] });
    expect(await seqs('pa')).toEqual([4, 5]);
    expect(await seqs('pb')).toEqual([]);
    expect(await seqs('pc')).toEqual([2, 3]);
    expect(await seqs('pd')).toEqual([1]);
    // AUD-4: every chain still verifies from its checkpoint.
    expect(await verifyAccessLog(db)).toEqual([]);
    const checkpoints = (await db('access_log_checkpoint').select('patient_id').max({ through: 'through_seq' }).groupBy('patient_id').orderBy('patient_id')) as {
      patient_id: string;
      through: string | number;
    }[];
    expect(checkpoints.map((c) => [c.patient_id, Number(c.through)])).toEqual([
      ['pa', 3],
      ['pb', 2],
      ['pc', 1],
    ]);
  });

  test('each purge is logged (AUD-4)', async () => {
    const logged = (await accessLogRecords(db, '')).filter((r) => r.action === 'audit.purge');
    expect(logged.map((r) => r.detail)).toEqual([
      expect.objectContaining({ purged_rows: 1, chains: 1, retention_years: 10 }),
      expect.objectContaining({ purged_rows: 5, chains: 3, retention_years: 10 }),
    ]);
    expect(logged.every((r) => r.actorKind === 'system' && r.actorId === 'access-log-purge')).toBe(true);
  });

  test('a second run removes nothing; appends continue the purged chains', async () => {
    expect(await purgeAccessLog(db, { now: NOW })).toMatchObject({ purgedRows: 0, chains: 0 });
    await appendAccessLog(db, [entry('pb', NOW), entry('pa', NOW)]);
    expect(await seqs('pb')).toEqual([3]);
    expect(await seqs('pa')).toEqual([4, 5, 6]);
    expect(await verifyAccessLog(db)).toEqual([]);
  });

  test('a shorter configured retention (still at least 6 years) purges more', async () => {
    await appendAccessLog(db, [entry('pe', yearsAgo(7)), entry('pe', yearsAgo(6, 10)), entry('pe', yearsAgo(5))]);
    expect(await purgeAccessLog(db, { now: NOW, retentionYears: 6 })).toMatchObject({ chains: 2 }); // pe, and pa's 9-year-old row
    expect(await seqs('pe')).toEqual([3]);
    expect(await seqs('pa')).toEqual([5, 6]);
    expect(await verifyAccessLog(db)).toEqual([]);
  });
});
