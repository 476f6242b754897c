/**
 * Password and second-factor checks with lockout. Unknown usernames cost the same scrypt work as
 * known ones and get the same answer, lockout included (failures are counted per normalized
 * username for names without an account too, in the database like the accounts' own, so every
 * instance agrees), so the login form cannot be used to find accounts.
 */
import { createHash } from 'node:crypto';
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
export type LoginResult = { ok: true; account: Account; needsTotp: boolean } | { ok: false; reason: LoginFailure; retryAfterSeconds?: number };

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

/** Usernames are compared trimmed and lower-cased; one with NUL cannot exist (PostgreSQL text). */
const normalize = (username: string) => username.trim().toLowerCase();
const impossible = (value: string) => value.includes('\u0000');

export async function findAccountById(db: Knex, id: string): Promise<Account | undefined> {
  if (impossible(id)) return undefined;
  const row = (await db('account').where({ id }).first()) as AccountRow | undefined;
  return row && toAccount(row);
}

export async function findAccountByUsername(db: Knex, username: string): Promise<Account | undefined> {
  const name = normalize(username);
  if (impossible(name)) return undefined;
  const row = (await db('account').where({ username: name }).first()) as AccountRow | undefined;
  return row && toAccount(row);
}

/** The same scrypt work as a real check, for answers that must not be faster than one. */
async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('not a real password');
  await verifyPassword(password, await dummyHash);
}

const lockedResult = (until: Date, at: Date): LoginResult => ({ ok: false, reason: 'locked', retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - at.getTime()) / 1000)) });

export async function verifyPasswordLogin(db: Knex, username: string, password: string, at: Date, policy = DEFAULT_LOCKOUT): Promise<LoginResult> {
  const name = normalize(username);
  const row = impossible(name) ? undefined : ((await db('account').where({ username: name }).first()) as AccountRow | undefined);
  if (!row) {
    // Failures on a name without an account lock it like an account's: the same steps (read the
    // lock, the scrypt work, count), so the same answers at the same times, concurrency included.
    const key = nameKey(name);
    const prior = (await db('unknown_login_failure').where({ name_hash: key }).first('locked_until')) as Pick<AccountRow, 'locked_until'> | undefined;
    await burnPasswordCheck(password);
    if (prior && isLocked(prior, at)) return lockedResult(new Date(prior.locked_until!), at);
    await recordUnknownNameFailure(db, key, at, policy);
    return { ok: false, reason: 'invalid-credentials' };
  }
  if (isLocked(row, at)) {
    await burnPasswordCheck(password);
    return lockedResult(new Date(row.locked_until!), at);
  }
  if (!(await verifyPassword(password, row.password_hash))) {
    await recordFailure(db, row.id, at, policy);
    return { ok: false, reason: 'invalid-credentials' };
  }
  // A lock taken by concurrent failures while this password was being checked still holds.
  const current = (await db('account').where({ id: row.id }).first('locked_until')) as Pick<AccountRow, 'locked_until'> | undefined;
  if (current && isLocked(current, at)) return lockedResult(new Date(current.locked_until!), at);
  if (row.status !== 'active') return { ok: false, reason: 'inactive' };
  if (row.totp_secret === null) await db('account').where({ id: row.id }).update({ failed_attempts: 0 });
  return { ok: true, account: toAccount(row), needsTotp: row.totp_secret !== null };
}

/** Checks a TOTP code once: a code (time step) already accepted is refused, so it cannot be replayed. */
export async function verifyTotpLogin(db: Knex, accountId: string, code: string, at: Date, policy = DEFAULT_LOCKOUT): Promise<{ ok: true } | { ok: false; reason: LoginFailure; retryAfterSeconds?: number }> {
  if (impossible(accountId)) return { ok: false, reason: 'invalid-credentials' };
  const row = (await db('account').where({ id: accountId }).first()) as AccountRow | undefined;
  if (!row || row.totp_secret === null) return { ok: false, reason: 'invalid-credentials' };
  if (isLocked(row, at)) return lockedResult(new Date(row.locked_until!), at) as { ok: false; reason: LoginFailure; retryAfterSeconds: number };
  if (row.status !== 'active') return { ok: false, reason: 'inactive' };
  const step = matchTotpStep(row.totp_secret, code.trim(), at);
  const lastStep = row.totp_last_step === null ? -1 : Number(row.totp_last_step);
  if (step === null || step <= lastStep) {
    await recordFailure(db, row.id, at, policy);
    return { ok: false, reason: 'invalid-credentials' };
  }
  // Conditional update: two concurrent submissions of the same code cannot both succeed, and a
  // lock taken meanwhile by concurrent failures still holds.
  const updated = await db('account')
    .where({ id: row.id })
    .andWhere((q) => q.whereNull('totp_last_step').orWhere('totp_last_step', '<', step))
    .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<=', at))
    .update({ totp_last_step: step, failed_attempts: 0, locked_until: null });
  return updated === 1 ? { ok: true } : { ok: false, reason: 'invalid-credentials' };
}

function isLocked(row: Pick<AccountRow, 'locked_until'>, at: Date): boolean {
  return row.locked_until !== null && new Date(row.locked_until) > at;
}

/**
 * One failure, counted in the database in one statement (a read-then-write would let concurrent
 * wrong passwords overwrite each other's counts and never reach the lockout). The failure that
 * reaches the limit locks the account and starts the count again.
 */
async function recordFailure(db: Knex, accountId: string, at: Date, policy: LockoutPolicy): Promise<void> {
  const lockUntil = new Date(at.getTime() + policy.lockMinutes * 60_000);
  await db('account')
    .where({ id: accountId })
    .update({
      failed_attempts: db.raw('case when failed_attempts + 1 >= ? then 0 else failed_attempts + 1 end', [policy.maxFailures]),
      locked_until: db.raw('case when failed_attempts + 1 >= ? then ?::timestamptz else locked_until end', [policy.maxFailures, lockUntil]),
    });
}

/** Rows of unknown names untouched this long are dropped (a count older than that is forgotten). */
const UNKNOWN_NAME_RETENTION_MS = 30 * 86_400_000;

const nameKey = (name: string) => createHash('sha256').update(name).digest('base64url');

/**
 * One failure for a username without an account, counted in the database exactly as an account's
 * (recordFailure: one statement, the failure that reaches the limit locks and restarts the count),
 * so every instance sees the same count.
 */
async function recordUnknownNameFailure(db: Knex, key: string, at: Date, policy: LockoutPolicy): Promise<void> {
  const lockUntil = new Date(at.getTime() + policy.lockMinutes * 60_000);
  await db.raw(
    `insert into unknown_login_failure as u (name_hash, failures, locked_until, updated_at)
     values (:key, case when 1 >= :max then 0 else 1 end, case when 1 >= :max then :lockUntil::timestamptz end, :at)
     on conflict (name_hash) do update set
       failures = case when u.failures + 1 >= :max then 0 else u.failures + 1 end,
       locked_until = case when u.failures + 1 >= :max then :lockUntil::timestamptz else u.locked_until end,
       updated_at = :at`,
    { key, max: policy.maxFailures, lockUntil, at },
  );
  // One in a hundred failures sweeps the old rows (an index range scan): the table stays small without a timer.
  if (Math.random() < 0.01) await db('unknown_login_failure').where('updated_at', '<', new Date(at.getTime() - UNKNOWN_NAME_RETENTION_MS)).delete();
}
