/**
 * The two sign-in steps shared by the authorization pages and the portal pages: rate limits per
 * address and per account (RL-1), password then TOTP with lockout, and an access-log entry for
 * every success, failure and lockout (AUD-1), without secrets.
 */
import type { Context } from 'koa';
import {
  findAccountById,
  rateLimitKey,
  verifyPasswordLogin,
  verifyTotpLogin,
  type AccessLogEntry,
  type AccessLogWriter,
  type Account,
  type Database,
  type RateLimits,
} from '@patient-access/consent';

export interface SignInDeps {
  db: Database;
  now: () => Date;
  rateLimits?: RateLimits | undefined;
  accessLog?: AccessLogWriter | undefined;
}

export type StepResult =
  | { ok: true; account: Account; needsTotp: boolean }
  | { ok: false; reason: 'invalid-credentials' | 'locked' | 'inactive' | 'rate-limited'; retryAfterSeconds?: number };

/** Writes an authorization-server event to the access log, when one is configured. */
export async function logAuthEvent(deps: Pick<SignInDeps, 'accessLog'>, ctx: Context, entry: Omit<AccessLogEntry, 'requestId' | 'sourceAddress'>): Promise<void> {
  await deps.accessLog?.write({ ...entry, requestId: String(ctx.state['requestId'] ?? ''), sourceAddress: ctx.ip });
}

const actorOf = (a: Account) => ({ kind: a.fhirUser.startsWith('Practitioner/') ? ('staff' as const) : a.patientId ? ('patient' as const) : ('proxy' as const), id: a.id, fhirUser: a.fhirUser });

export async function passwordStep(deps: SignInDeps, ctx: Context, username: string, password: string): Promise<StepResult> {
  const name = username.trim().toLowerCase();
  if (deps.rateLimits) {
    const limit = await deps.rateLimits.consumeAll([
      { limiter: 'loginIp', key: ctx.ip },
      { limiter: 'loginAccount', key: rateLimitKey(name) },
    ]);
    if (!limit.allowed) {
      await logAuthEvent(deps, ctx, { patientId: '', actor: { kind: 'system' }, action: 'login.failed', outcome: 'denied', reason: 'rate_limited', exception: 'health_it_performance' });
      return { ok: false, reason: 'rate-limited', retryAfterSeconds: limit.retryAfterSeconds };
    }
  }
  const result = await verifyPasswordLogin(deps.db, name, password, deps.now());
  if (!result.ok) {
    await logAuthEvent(deps, ctx, {
      patientId: '',
      actor: { kind: 'system' },
      action: result.reason === 'locked' ? 'lockout' : 'login.failed',
      outcome: 'denied',
      reason: result.reason,
    });
    return result;
  }
  if (!result.needsTotp) await signedIn(deps, ctx, result.account);
  return result;
}

export async function codeStep(deps: SignInDeps, ctx: Context, accountId: string, code: string): Promise<StepResult> {
  if (deps.rateLimits) {
    const limit = await deps.rateLimits.consume('mfa', rateLimitKey(accountId));
    if (!limit.allowed) return { ok: false, reason: 'rate-limited', retryAfterSeconds: limit.retryAfterSeconds };
  }
  const account = await findAccountById(deps.db, accountId);
  const result = await verifyTotpLogin(deps.db, accountId, code, deps.now());
  if (!result.ok || !account) {
    await logAuthEvent(deps, ctx, {
      patientId: account?.patientId ?? '',
      actor: account ? actorOf(account) : { kind: 'system' },
      action: !result.ok && result.reason === 'locked' ? 'lockout' : 'login.failed',
      outcome: 'denied',
      reason: result.ok ? 'invalid-credentials' : result.reason,
    });
    return result.ok ? { ok: false, reason: 'invalid-credentials' } : result;
  }
  await signedIn(deps, ctx, account);
  return { ok: true, account, needsTotp: false };
}

async function signedIn(deps: SignInDeps, ctx: Context, account: Account): Promise<void> {
  // A completed sign-in clears the per-account counts: only consecutive failures should lock.
  await deps.rateLimits?.reset('loginAccount', rateLimitKey(account.username));
  await deps.rateLimits?.reset('mfa', rateLimitKey(account.id));
  await logAuthEvent(deps, ctx, { patientId: account.patientId ?? '', actor: actorOf(account), action: 'login', outcome: 'success' });
}

/** The page text for a failed step. */
export function stepMessage(result: Extract<StepResult, { ok: false }>, wrong: string): string {
  if (result.reason === 'rate-limited') return `Too many attempts. Try again in ${result.retryAfterSeconds ?? 60} seconds.`;
  if (result.reason === 'locked') return 'Too many attempts. Try again later.';
  return wrong;
}

export const stepStatus = (result: Extract<StepResult, { ok: false }>): number => (result.reason === 'rate-limited' || result.reason === 'locked' ? 429 : 401);
