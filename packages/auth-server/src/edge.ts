/**
 * The authorization server's edge: bad bytes are refused before any handler sees them, and one
 * error boundary answers for our own pages (login, consent, picker, connected apps, launch,
 * enrollment). oidc-provider answers errors of its endpoints itself. Bad input is a 4xx, never a
 * 500; faults are logged through pino by class and code only, never a message, stack or URL
 * (they can quote request values: PHI, credentials).
 */
import type { Context, Middleware } from 'koa';
import type { Logger } from '@patient-access/consent';
import { ROUTES } from './oidc/provider.js';
import { errorPage, noFraming } from './interactions/views.js';

/** Endpoints that answer in JSON (OAuth errors) rather than with the HTML error page. */
const JSON_ROUTES: readonly string[] = [ROUTES.token, ROUTES.introspection, ROUTES.revocation, ROUTES.registration, ROUTES.userinfo, ROUTES.jwks];
const isJsonRoute = (path: string) => JSON_ROUTES.some((r) => path === r || path.startsWith(`${r}/`));

/** What may be logged about an error: its class and (database or OAuth) code. */
export function errorSummary(err: unknown): { type: string; code?: string } {
  const e = err as { name?: unknown; code?: unknown; error?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.error === 'string' ? e.error : undefined;
  return { type: typeof e?.name === 'string' ? e.name : typeof err, ...(code ? { code } : {}) };
}

function refuse(ctx: Context, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (isJsonRoute(ctx.path)) {
    ctx.body = { error, error_description: description };
    return;
  }
  ctx.type = 'html';
  noFraming(ctx);
  ctx.body = errorPage(error, description);
}

/** The 4xx status a client error carries (oidc-provider's statusCode, http-errors' or co-body's status). */
function clientStatus(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; status?: unknown } | null;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.status === 'number' ? e.status : undefined;
  return status !== undefined && status >= 400 && status < 500 ? status : undefined;
}

export function edge(log: Logger): Middleware {
  return async (ctx, next) => {
    // PostgreSQL text and jsonb cannot hold NUL: a request carrying one (path or query, e.g.
    // state=%00 at /authorize) is malformed. Form and JSON bodies are checked where they are read.
    if (/%00/i.test(ctx.url)) {
      refuse(ctx, 400, 'invalid_request', 'the request contains a NUL character');
      return;
    }
    try {
      await next();
    } catch (err) {
      const status = clientStatus(err);
      const requestLog = (ctx.state['log'] as Logger | undefined) ?? log;
      if (status !== undefined) {
        // e.g. an unknown or expired interaction (oidc-provider's SessionNotFound), a body the
        // form parser could not read: the HTML error page, and an info line without a stack.
        const e = err as { error?: unknown; error_description?: unknown; expose?: unknown };
        const error = typeof e.error === 'string' ? e.error : 'invalid_request';
        const description = typeof e.error_description === 'string' && e.expose !== false ? e.error_description : 'the request could not be processed';
        requestLog.info({ event: 'request.refused', status, err: errorSummary(err) }, 'request refused');
        refuse(ctx, status, error, description);
        return;
      }
      requestLog.error({ event: 'request.error', method: ctx.method, route: ctx['_matchedRoute'] ?? 'unmatched', err: errorSummary(err) }, 'request failed');
      refuse(ctx, 500, 'server_error', 'something went wrong on our side; try again later');
    }
  };
}
