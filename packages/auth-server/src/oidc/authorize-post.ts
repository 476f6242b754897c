/**
 * SMART `authorize-post` on deployments without secure cookies. oidc-provider accepts POST at the
 * authorization endpoint only with SameSite=None session cookies, which browsers take only over
 * https. Elsewhere a form POST is answered with 303 See Other to the same endpoint carrying the
 * parameters as a query string: the browser continues with a GET and the flow is the same as a GET
 * authorization request (every check, PKCE and `aud` included, runs then). Only url-encoded form
 * bodies up to 16 KiB are accepted; anything else is an OAuth invalid_request without a redirect
 * (the redirect_uri is not validated yet, so nothing may be sent to it).
 */
import type { Context, Next } from 'koa';

const LIMIT = 16 * 1024;

class BodyError extends Error {}

async function readForm(ctx: Context): Promise<URLSearchParams> {
  const type = ctx.get('Content-Type').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new BodyError('the authorization request must be a form (application/x-www-form-urlencoded)');
  const declared = Number(ctx.get('Content-Length') || '0');
  if (declared > LIMIT) throw new BodyError('the authorization request is too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMIT) throw new BodyError('the authorization request is too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** `authorizationPath` as the provider sees it; `publicUrl` the endpoint's public address (behind the mount). */
export function authorizePostAsGet(authorizationPath: string, publicUrl: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method !== 'POST' || ctx.path !== authorizationPath) return next();
    ctx.set('Cache-Control', 'no-store');
    let form: URLSearchParams;
    try {
      form = await readForm(ctx);
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: err.message };
      return;
    }
    // Merge with any query parameters, the form's values last (it is the request's body).
    const query = new URLSearchParams(ctx.querystring);
    for (const key of new Set(form.keys())) query.delete(key);
    for (const [key, value] of form) query.append(key, value);
    ctx.redirect(`${publicUrl}?${query.toString()}`);
    ctx.status = 303;
  };
}
