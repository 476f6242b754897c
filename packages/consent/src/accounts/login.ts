/**
 * Password and second-factor checks with lockout. Unknown usernames cost the same scrypt work as
 * known ones and get the same answer, so the login form cannot be used to find accounts.
 */
import type { Knex } from 'knex';
import type { Account } from './account-store.js';
import { hashPassword, verifyPassword } from './password.js';
import { matchTotpStep } from './totp.js';

export interface LockoutPolicy {
  /** Consecutive failures (password or code) before the account locks. */
  maxFailures: number;
  lockMinutes: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { maxFailures: 5, lockMinutes: 15 };

export type LoginFailure = 'invalid-credentials' | 'locked' | 'inactive';
export type LoginResult = { ok: true; account: Account; needsTotp: boolean } | { ok: false; reason: LoginFailure };

interface AccountRow {
  id: string;
  username: string;
  display_name: string;
  password_hash: string;
  totp_secret: string | null;
  totp_last_step: string | number | null;
  fhir_user: string;
  patient_id: string | null;
  status: Account['status'];
  failed_attempts: number;
  locked_until: Date | string | null;
}

let dummyHash: Promise<string> | undefined;

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  fhirUser: r.fhir_user,
  patientId: r.patient_id,
  status: r.status,
});

export async function findAccountById(db: Knex, id: string): Promise<Account | undefined> {
  const row = (await db('account').where({ id }).first()) as AccountRow | undefined;
  return row && toAccount(row);
}

export async function findAccountByUsername(db: Knex, username: string): Promise<Account | undefined> {
  const row = (await db('account').where({ username: username.trim().toLowerCase() }).first()) as AccountRow | undefined;
  return row && toAccount(row);
}

export async function verifyPasswordLogin(db: Knex, username: string, password: string, at: Date, policy = DEFAULT_LOCKOUT): Promise<LoginResult> {
  const row = (await db('account').where({ username: username.trim().toLowerCase() }).first()) as AccountRow | undefined;
  if (!row) {
    dummyHash ??= hashPassword('not a real password');
    await verifyPassword(password, await dummyHash);
    return { ok: false, reason: 'invalid-credentials' };
  }
  if (isLocked(row, at)) return { ok: false, reason: 'locked' };
  if (!(await verifyPassword(password, row.password_hash))) {
    await recordFailure(db, row, at, policy);
    return { ok: false, reason: 'invalid-credentials' };
  }
  if (row.status !== 'active') return { ok: false, reason: 'inactive' };
  if (row.totp_secret === null) await db('account').where({ id: row.id }).update({ failed_attempts: 0 });
  return { ok: true, account: toAccount(row), needsTotp: row.totp_secret !== null };
}

/** Checks a TOTP code once: a code (time step) already accepted is refused, so it cannot be replayed. */
export async function verifyTotpLogin(db: Knex, accountId: string, code: string, at: Date, policy = DEFAULT_LOCKOUT): Promise<{ ok: true } | { ok: false; reason: LoginFailure }> {
  const row = (await db('account').where({ id: accountId }).first()) as AccountRow | undefined;
  if (!row || row.totp_secret === null) return { ok: false, reason: 'invalid-credentials' };
  if (isLocked(row, at)) return { ok: false, reason: 'locked' };
  if (row.status !== 'active') return { ok: false, reason: 'inactive' };
  const step = matchTotpStep(row.totp_secret, code.trim(), at);
  const lastStep = row.totp_last_step === null ? -1 : Number(row.totp_last_step);
  if (step === null || step <= lastStep) {
    await recordFailure(db, row, at, policy);
    return { ok: false, reason: 'invalid-credentials' };
  }
  // Conditional update: two concurrent submissions of the same code cannot both succeed.
  const updated = await db('account')
    .where({ id: row.id })
    .andWhere((q) => q.whereNull('totp_last_step').orWhere('totp_last_step', '<', step))
    .update({ totp_last_step: step, failed_attempts: 0, locked_until: null });
  return updated === 1 ? { ok: true } : { ok: false, reason: 'invalid-credentials' };
}

function isLocked(row: AccountRow, at: Date): boolean {
  return row.locked_until !== null && new Date(row.locked_until) > at;
}

async function recordFailure(db: Knex, row: AccountRow, at: Date, policy: LockoutPolicy): Promise<void> {
  const failures = row.failed_attempts + 1;
  const lock = failures >= policy.maxFailures;
  await db('account')
    .where({ id: row.id })
    .update({ failed_attempts: lock ? 0 : failures, locked_until: lock ? new Date(at.getTime() + policy.lockMinutes * 60_000) : row.locked_until });
}
