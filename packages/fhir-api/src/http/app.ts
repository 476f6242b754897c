/**
 * The FHIR API's Koa application. Until token verification lands (issue: Patient Access API),
 * every PHI route denies: the only open routes are the CapabilityStatement and health checks.
 */
import Koa from 'koa';
import Router from '@koa/router';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { requestContext, type AppConfig, type Database, type Logger } from '@patient-access/consent';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { errorBoundary } from './error-boundary.js';
import { capabilityStatement } from './capability.js';

export interface FhirAppDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  metrics?: Registry;
  /** The SMART discovery document, served at the FHIR base too (SMART App Launch 2.2 §2.1). */
  smartConfiguration?: Record<string, unknown>;
}

export function createFhirApp({ config, db, log, metrics = new Registry(), smartConfiguration }: FhirAppDeps): Koa {
  if (!metrics.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register: metrics });
  const app = new Koa({ proxy: true });
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    await db.raw('select 1');
    ctx.body = { status: 'ready' };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  });
  router.get('/fhir/metadata', (ctx) => {
    ctx.type = 'application/fhir+json';
    ctx.body = capabilityStatement(config);
  });
  if (smartConfiguration) {
    router.get('/fhir/.well-known/smart-configuration', (ctx) => {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.body = smartConfiguration;
    });
  }
  // Deny by default: no PHI is served without a verified access token.
  router.all('/fhir/{*path}', () => {
    throw new OperationOutcomeError('UNAUTHORIZED', 'A valid Bearer access token is required', {
      'WWW-Authenticate': 'Bearer error="invalid_token", error_description="A valid access token is required"',
    });
  });

  app.use(requestContext(log, metrics, 'fhir-api'));
  app.use(errorBoundary);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
