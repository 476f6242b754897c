/**
 * CORS for endpoints browser-based SMART apps call with a Bearer token (or none): any origin may
 * call, no cookies are ever allowed cross-origin (so `*` is safe), and preflights are answered
 * here without reaching the routes.
 */
import type { Middleware } from 'koa';

export interface CorsOptions {
  methods: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
}

export function cors(o: CorsOptions): Middleware {
  const allowHeaders = (o.allowHeaders ?? ['Authorization', 'Content-Type', 'Accept', 'Prefer', 'If-None-Match', 'X-Request-Id']).join(', ');
  const expose = (o.exposeHeaders ?? []).join(', ');
  return async (ctx, next) => {
    if (!ctx.get('Origin')) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.vary('Origin');
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
      ctx.set('Access-Control-Allow-Methods', o.methods.join(', '));
      ctx.set('Access-Control-Allow-Headers', allowHeaders);
      ctx.set('Access-Control-Max-Age', '3600');
      ctx.status = 204;
      return;
    }
    if (expose) ctx.set('Access-Control-Expose-Headers', expose);
    await next();
  };
}
