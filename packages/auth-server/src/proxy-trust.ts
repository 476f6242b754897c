/**
 * Which request headers name the client: the public origin (host and scheme) always comes from
 * configuration, never from the request, and X-Forwarded-For only as far as TRUST_PROXY says.
 * Per-address rate limits (RL-1: sign-in, token, registration) and the access log's source
 * address (AUD-1) read `ctx.ip`; trusting a client-written X-Forwarded-For would let anyone
 * choose theirs.
 */
import type Koa from 'koa';
import type { Middleware } from 'koa';

/**
 * Sets `app` to take the client address from the last `trustProxy` X-Forwarded-For entries (Koa's
 * maxIpsCount), or from the socket when no proxy is trusted; returns the middleware, which must
 * run before anything reads `ctx.ip`, `ctx.host` or `ctx.protocol`.
 */
export function proxyTrust(app: Koa, publicUrl: string, trustProxy: number): Middleware {
  const origin = new URL(publicUrl);
  // proxy = true so Koa reads the X-Forwarded-Host/Proto set below (from configuration: secure
  // cookies behind a TLS-terminating proxy need ctx.secure); the client address is bounded below.
  app.proxy = true;
  app.maxIpsCount = trustProxy;
  return async (ctx, next) => {
    const headers = ctx.req.headers;
    headers['x-forwarded-host'] = origin.host;
    headers['x-forwarded-proto'] = origin.protocol.slice(0, -1);
    if (trustProxy === 0) delete headers['x-forwarded-for'];
    await next();
  };
}
