/**
 * The url-encoded form parser of our pages, refusing a NUL anywhere in the body (PostgreSQL text
 * cannot hold one): 400 with the HTML error page (edge.ts), never a database error.
 */
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

export class BadFormError extends Error {
  readonly status = 400;
  readonly expose = true;
  readonly error = 'invalid_request';
  readonly error_description = 'the form contains a NUL character';
}

export function formBody(formLimit = '16kb'): Middleware {
  const parse = bodyParser({ enableTypes: ['form'], formLimit });
  return (ctx, next) =>
    parse(ctx, async () => {
      const raw = String((ctx.request as { rawBody?: unknown }).rawBody ?? '');
      if (/%00/i.test(raw) || raw.includes('\u0000')) throw new BadFormError('form contains NUL');
      await next();
    });
}
