/**
 * Request id, access log line and HTTP metrics for every request. The logged path is the route
 * template (e.g. /fhir/:type/:id), never the concrete URL: ids and query values can be PHI.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from './logger.js';

const REQUEST_ID_RE = /^[A-Za-z0-9\-_.]{8,128}$/;

export function requestContext(log: Logger, registry: Registry, service: string): Middleware {
  // Several apps in one process share the registry: reuse the metrics the first one created.
  const duration =
    (registry.getSingleMetric('http_request_duration_seconds') as Histogram<'service' | 'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['service', 'method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const total =
    (registry.getSingleMetric('http_requests_total') as Counter<'service' | 'method' | 'route' | 'status'> | undefined) ??
    new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['service', 'method', 'route', 'status'],
    registers: [registry],
  });
  // Label values → the metrics' children: prom-client otherwise validates and hashes the label
  // object on every observation. Routes are templates and statuses a few codes, so this stays small.
  const children = new Map<string, { duration: ReturnType<typeof duration.labels>; total: ReturnType<typeof total.labels> }>();
  const metricsFor = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (!child) {
      child = { duration: duration.labels(service, method, route, status), total: total.labels(service, method, route, status) };
      if (children.size < 10_000) children.set(key, child);
    }
    return child;
  };
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    ctx.state['requestId'] = requestId;
    // The request's logger is made when something logs (at the default level, most requests log nothing).
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= log.child({ requestId })), enumerable: true, configurable: true });
    ctx.set('X-Request-Id', requestId);
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = (ctx.state['route'] as string | undefined) ?? (ctx['_matchedRoute'] as string | undefined) ?? 'unmatched';
      const metrics = metricsFor(ctx.method, route, String(ctx.status));
      metrics.duration.observe(seconds);
      metrics.total.inc();
      if (log.isLevelEnabled('info')) (ctx.state['log'] as Logger).info({ method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000) }, 'request');
    }
  };
}
