/**
 * What the portal's and the clinicians' JSON APIs share: the signed-in account from the portal
 * session cookie (SameSite=Strict, refreshed on use like the pages), JSON-only bodies (a
 * cross-site form cannot send application/json with the cookie), `no-store`, and one error shape
 * `{ error: { code, message, rule? } }` for API errors and the stores' typed refusals.
 */
import type { Context, Middleware } from 'koa';
import { HoldValidationError, RestrictionValidationError, findAccountById, type Account, type Database } from '@patient-access/consent';
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
    } else if (err instanceof HoldValidationError || err instanceof RestrictionValidationError) {
      ctx.status = err.status;
      ctx.body = { error: { code: err.code, message: err.message, rule: err.rule } };
    } else if ((err as { status?: unknown; expose?: unknown }).expose === true && typeof (err as { status?: unknown }).status === 'number') {
      // Body parser errors (malformed JSON, too large): the client's fault, said plainly.
      ctx.status = (err as { status: number }).status;
      ctx.body = { error: { code: 'INVALID_BODY', message: 'The request body could not be read as JSON' } };
    } else {
      throw err;
    }
  }
};

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
  return typeof v === 'string' ? new Date(v) : new Date(Number.NaN);
}
