import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations } from '../migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { createAccount } from './account-store.js';
import { DEFAULT_LOCKOUT, verifyPasswordLogin } from './login.js';

let tdb: TestDatabase;
const at = new Date('2026-11-01T10:00:00Z');

beforeAll(async () => {
  tdb = await createTestDatabase(consentMigrations);
});

/** A login through a second copy of the module: what a second server process would do. */
async function verifyPasswordLoginIn(db: typeof tdb.db, username: string) {
  const fresh = (await import(`./login.js?instance=${Math.random()}`)) as typeof import('./login.js');
  expect(fresh.verifyPasswordLogin).not.toBe(verifyPasswordLogin);
  return fresh.verifyPasswordLogin(db, username, 'wrong', at);
}

afterAll(async () => {
  await tdb?.destroy();
});

describe('lockout', () => {
  test('concurrent wrong passwords are all counted: the account locks (no lost updates)', async () => {
    await createAccount(tdb.db, { username: 'racer', displayName: 'Racer', password: 'the right one', fhirUser: 'Patient/p1', patientId: 'p1' });
    const results = await Promise.all(Array.from({ length: 8 }, () => verifyPasswordLogin(tdb.db, 'racer', 'wrong', at)));
    expect(results.every((r) => !r.ok)).toBe(true);
    const right = await verifyPasswordLogin(tdb.db, 'racer', 'the right one', at);
    expect(right).toMatchObject({ ok: false, reason: 'locked' });
    const row = (await tdb.db('account').where({ username: 'racer' }).first('locked_until', 'failed_attempts')) as { locked_until: Date | string; failed_attempts: number };
    expect(new Date(row.locked_until).getTime()).toBe(at.getTime() + DEFAULT_LOCKOUT.lockMinutes * 60_000);
    // 8 failures: the 5th locked and restarted the count, so 3 remain.
    expect(row.failed_attempts).toBe(3);
  });

  test('an unknown username and a real one answer identically, lockout and Retry-After included', async () => {
    await createAccount(tdb.db, { username: 'realname', displayName: 'Real', password: 'the right one', fhirUser: 'Patient/p2', patientId: 'p2' });
    const answers = async (username: string) => {
      const out = [];
      for (let i = 0; i < DEFAULT_LOCKOUT.maxFailures + 2; i++) out.push(await verifyPasswordLogin(tdb.db, username, 'wrong', at));
      return out;
    };
    const real = await answers('RealName ');
    const unknown = await answers('No-Such-Name');
    expect(unknown).toEqual(real);
    expect(real.slice(0, DEFAULT_LOCKOUT.maxFailures).every((r) => !r.ok && r.reason === 'invalid-credentials')).toBe(true);
    expect(real.at(-1)).toEqual({ ok: false, reason: 'locked', retryAfterSeconds: DEFAULT_LOCKOUT.lockMinutes * 60 });
    // The lock ends for both at the same time.
    const later = new Date(at.getTime() + DEFAULT_LOCKOUT.lockMinutes * 60_000 + 1000);
    expect(await verifyPasswordLogin(tdb.db, 'no-such-name', 'wrong', later)).toEqual(await verifyPasswordLogin(tdb.db, 'realname', 'wrong', later));
  });

  test('an unknown name\'s failures are counted in the database, so every instance locks it at the same failure', async () => {
    const hash = createHash('sha256').update('ghost').digest('base64url');
    for (let i = 0; i < DEFAULT_LOCKOUT.maxFailures - 1; i++) await verifyPasswordLogin(tdb.db, ' Ghost', 'wrong', at);
    // Only a hash of the name is kept.
    const row = (await tdb.db('unknown_login_failure').where({ name_hash: hash }).first()) as { failures: number; locked_until: Date | null };
    expect([row.failures, row.locked_until]).toEqual([DEFAULT_LOCKOUT.maxFailures - 1, null]);
    expect(await tdb.db('unknown_login_failure').where({ name_hash: 'ghost' }).first()).toBeUndefined();
    // Another instance (nothing shared but the database) sees the same count: its failure locks.
    const other = await verifyPasswordLoginIn(tdb.db, 'ghost');
    expect(other).toEqual({ ok: false, reason: 'invalid-credentials' });
    expect(await verifyPasswordLogin(tdb.db, 'ghost', 'wrong', at)).toEqual({ ok: false, reason: 'locked', retryAfterSeconds: DEFAULT_LOCKOUT.lockMinutes * 60 });
  });

  test('concurrent failures on an unknown name are all counted, as on an account', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => verifyPasswordLogin(tdb.db, 'no-racer', 'wrong', at)));
    expect(results.every((r) => !r.ok)).toBe(true);
    const row = (await tdb.db('unknown_login_failure').where({ name_hash: createHash('sha256').update('no-racer').digest('base64url') }).first()) as { failures: number; locked_until: Date | string };
    expect(new Date(row.locked_until).getTime()).toBe(at.getTime() + DEFAULT_LOCKOUT.lockMinutes * 60_000);
    expect(row.failures).toBe(3);
  });

  test('a username with NUL is an unknown username, not a database error', async () => {
    expect(await verifyPasswordLogin(tdb.db, 'maria\u0000', 'x', at)).toEqual({ ok: false, reason: 'invalid-credentials' });
  });
});
