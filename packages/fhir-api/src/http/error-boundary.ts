/**
 * The FHIR API's single error handler: OperationOutcomeError → its status and body; a client
 * error from the HTTP plumbing (body too large, unsupported or corrupt content encoding) → its
 * 4xx as an OperationOutcome; a database outage → 503; anything else → 500 with no internals
 * (the cause is logged with the request id).
 */
import type { Middleware } from 'koa';
import { OperationOutcomeError, fromHttpError, outcome } from '../outcomes/operation-outcome.js';

const DB_DOWN = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', '57P01', '57P03', '08006', '08001', '53300']);

export const errorBoundary: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    let e: OperationOutcomeError;
    const clientError = err instanceof OperationOutcomeError ? err : (fromHttpError(err) ?? fromDecodeError(err));
    if (clientError) {
      e = clientError;
    } else if (isDatabaseUnavailable(err)) {
      e = new OperationOutcomeError('UPSTREAM_UNAVAILABLE', 'The service is temporarily unavailable; retry later', { 'Retry-After': '5' });
      ctx.state['log']?.warn({ err: errorSummary(err) }, 'database unavailable');
    } else {
      e = new OperationOutcomeError('INTERNAL_ERROR', 'An unexpected error occurred');
      ctx.state['log']?.error({ err: errorSummary(err) }, 'unhandled error');
    }
    ctx.status = e.status;
    ctx.set(e.headers);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/fhir+json';
    ctx.body = e.toOutcome();
  }
};

/** zlib's errors inflating a request body that says gzip or deflate but is not: the client's fault. */
function fromDecodeError(err: unknown): OperationOutcomeError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return undefined;
  return new OperationOutcomeError('INVALID_REQUEST', 'The request body does not match its Content-Encoding');
}

function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  const message = (err as Error)?.message ?? '';
  return (code !== undefined && DB_DOWN.has(code)) || /Knex: Timeout acquiring a connection/.test(message);
}

/** Logs the error class and message but not values that might echo request data. */
function errorSummary(err: unknown): { type: string; message: string; stack?: string } {
  const e = err as Error;
  return { type: e?.name ?? typeof err, message: e?.message ?? String(err), ...(e?.stack ? { stack: e.stack } : {}) };
}
