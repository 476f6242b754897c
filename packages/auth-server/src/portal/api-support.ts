/**
 * What the portal's and the clinicians' JSON APIs share: the signed-in account from the portal
 * session cookie (SameSite=Strict, refreshed on use like the pages), JSON-only bodies (a
 * cross-site form cannot send application/json with the cookie), `no-store`, and one error shape
 * `{ error: { code, message, rule? } }` for API errors and the stores' typed refusals.
 */
import type { Context, Middleware } from 'koa';
import { RuleError, findAccountById, type Account, type Database, type Logger } from '@patient-access/consent';
import { PORTAL_IDLE_SECONDS, type PortalCookies } from './portal-session.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Maps ApiError and the stores' validation errors to JSON; anything else propagates (500). */
export const jsonErrors: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (err) {
    if (err instanceof ApiError) {
      ctx.status = err.status;
      ctx.body = { error: { code: err.code, message: err.message } };
    } else if (err instanceof RuleError) {
      // Every store's typed refusal (holds, restrictions, delegations, disclosure consents).
      ctx.status = err.status;
      ctx.body = { error: { code: err.code, message: err.message, rule: err.rule } };
    } else if (clientErrorStatus(err) !== undefined) {
      // Body parser errors (malformed JSON, too large; co-body sets a 4xx status without `expose`):
      // the client's fault, said plainly, and logged without a stack (nothing went wrong here).
      const status = clientErrorStatus(err)!;
      ctx.status = status;
      ctx.body =
        status === 413
          ? { error: { code: 'BODY_TOO_LARGE', message: 'The request body is too large' } }
          : status === 415
            ? { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send application/json' } }
            : { error: { code: 'INVALID_BODY', message: 'The request body could not be read as JSON' } };
      (ctx.state['log'] as Logger | undefined)?.info({ event: 'api.bad-request', status }, 'request body refused');
    } else {
      throw err;
    }
  }
};

/** The 4xx status of an error thrown by a parser or by Koa for the client's request, if it is one. */
function clientErrorStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * The outermost error boundary of a JSON API: anything that escapes jsonErrors is a fault here,
 * logged through pino by class and database error code only (messages can quote request values,
 * i.e. PHI), and answered in the API's shape. Replaces Koa's default stack printing to stderr.
 */
export function unexpectedErrors(log: Logger): Middleware {
  return async (ctx, next) => {
    // Inner handlers (jsonErrors' info line) log through the same logger.
    if (!ctx.state['log']) ctx.state['log'] = log;
    try {
      await next();
    } catch (err) {
      const e = err as { name?: unknown; code?: unknown };
      ((ctx.state['log'] as Logger | undefined) ?? log).error(
        { event: 'api.error', err: { type: typeof e?.name === 'string' ? e.name : typeof err, ...(typeof e?.code === 'string' ? { code: e.code } : {}) }, route: ctx['_matchedRoute'] ?? 'unmatched', method: ctx.method },
        'request failed',
      );
      ctx.status = 500;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: { code: 'INTERNAL_ERROR', message: 'Something went wrong on our side; try again later' } };
    }
  };
}

/** PostgreSQL cannot store years past 9999 as we write them, nor compare text holding NUL. */
const LATEST = Date.parse('+010000-01-01T00:00:00Z');
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');

/** A JSON string usable as a database key or text: present, and without NUL (else undefined). */
export function textField(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && !v.includes('\u0000') ? v : undefined;
}

export interface SessionDeps {
  db: Database;
  now: () => Date;
  cookies: PortalCookies;
}

/** The active account signed in to the portal (401 otherwise); refreshes the idle timer. */
export async function signedInAccount(deps: SessionDeps, ctx: Context): Promise<Account> {
  const id = deps.cookies.session.read(ctx, 'session', deps.now());
  const account = id ? await findAccountById(deps.db, id) : undefined;
  if (!account || account.status !== 'active') throw new ApiError(401, 'NOT_SIGNED_IN', 'Sign in to the portal first');
  deps.cookies.session.write(ctx, account.id, 'session', PORTAL_IDLE_SECONDS, deps.now());
  return account;
}

/** A signed-in clinician (an account that is a Practitioner), as on the staff launch page. */
export async function signedInPractitioner(deps: SessionDeps, ctx: Context): Promise<Account & { fhirUser: `Practitioner/${string}` }> {
  const account = await signedInAccount(deps, ctx);
  if (!account.fhirUser.startsWith('Practitioner/')) throw new ApiError(403, 'STAFF_ONLY', 'Only a signed-in clinician may do this');
  return account as Account & { fhirUser: `Practitioner/${string}` };
}

/** The JSON body of a POST; 415 for anything but application/json (CSRF: no cross-site forms). */
export function jsonBody(ctx: Context): Record<string, unknown> {
  if (!ctx.is('application/json')) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json');
  const body = (ctx.request as { body?: unknown }).body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'INVALID_BODY', 'Send a JSON object');
  return body as Record<string, unknown>;
}

/** An ISO date-time from a JSON field (an invalid value becomes an invalid Date for the store to refuse). */
export function dateField(v: unknown): Date | undefined {
  if (v === undefined || v === null) return undefined;
  const d = typeof v === 'string' ? new Date(v) : new Date(Number.NaN);
  // Out of the database's range (e.g. +275760-09-13): invalid, so it is refused (400), not a 500.
  return d.getTime() >= LATEST || d.getTime() < EARLIEST ? new Date(Number.NaN) : d;
}
