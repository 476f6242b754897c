/**
 * One-time enrollment for accounts an administrator creates for existing records: the link's
 * token is stored only as a hash, works once, and expires; enrolling sets the password and the
 * authenticator secret and activates the account.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { hashPassword } from './password.js';
import { matchTotpStep } from './totp.js';

export const ENROLLMENT_TTL_HOURS = 72;
export const MIN_PASSWORD_LENGTH = 12;

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

export async function createEnrollment(db: Knex, accountId: string, at = new Date()): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db('account_enrollment').insert({ account_id: accountId, token_hash: hash(token), expires_at: new Date(at.getTime() + ENROLLMENT_TTL_HOURS * 3_600_000) });
  return token;
}

/** The pending account an unused, unexpired token belongs to. */
export async function enrollmentAccount(db: Knex, token: string, at = new Date()): Promise<{ accountId: string; username: string } | undefined> {
  const row = (await db('account_enrollment as e')
    .join('account as a', 'a.id', 'e.account_id')
    .where('e.token_hash', hash(token))
    .whereNull('e.used_at')
    .where('e.expires_at', '>', at)
    .where('a.status', 'pending')
    .first('a.id', 'a.username')) as { id: string; username: string } | undefined;
  return row && { accountId: row.id, username: row.username };
}

export type EnrollmentProblem = 'invalid-link' | 'weak-password' | 'wrong-code';

/** Completes enrollment: the code proves the person's authenticator holds `totpSecret`. */
export async function completeEnrollment(
  db: Knex,
  input: { token: string; password: string; totpSecret: string; code: string },
  at = new Date(),
): Promise<{ ok: true; accountId: string } | { ok: false; problem: EnrollmentProblem }> {
  const found = await enrollmentAccount(db, input.token, at);
  if (!found) return { ok: false, problem: 'invalid-link' };
  if (input.password.length < MIN_PASSWORD_LENGTH || input.password.toLowerCase().includes(found.username.toLowerCase())) return { ok: false, problem: 'weak-password' };
  const step = matchTotpStep(input.totpSecret, input.code.trim(), at);
  if (step === null) return { ok: false, problem: 'wrong-code' };
  const passwordHash = await hashPassword(input.password);
  const done = await db.transaction(async (trx) => {
    const used = await trx('account_enrollment').where({ token_hash: hash(input.token) }).whereNull('used_at').update({ used_at: at });
    if (used !== 1) return false;
    await trx('account').where({ id: found.accountId, status: 'pending' }).update({ password_hash: passwordHash, totp_secret: input.totpSecret, totp_last_step: step, status: 'active' });
    return true;
  });
  return done ? { ok: true, accountId: found.accountId } : { ok: false, problem: 'invalid-link' };
}
