/**
 * The FHIR API's Koa application: health, metrics, the CapabilityStatement and SMART discovery,
 * and the read-only FHIR routes behind the token pipeline. Anything else under /fhir denies.
 */
import Koa from 'koa';
import Router from '@koa/router';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { JWTVerifyGetKey } from 'jose';
import { auditEventsFor, cors, koaProxyOptions, rateLimitPolicyDocument, requestContext, type AccessLogWriter, type AppConfig, type Database, type Logger, type RateLimits } from '@patient-access/consent';
import { createAccessResolver } from '../access/token-access.js';
import { explainWithheld, WITHHELD_LOG_LIMIT, withheldItems } from '../access/withheld-reasons.js';
import { ResourceStore } from '../store/resource-store.js';
import { fhirRoutes } from './fhir-routes.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { errorBoundary } from './error-boundary.js';
import { capabilityStatement } from './capability.js';
import { compression } from './compression.js';
import { contentNegotiation } from './content-negotiation.js';

export interface FhirAppDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  metrics?: Registry;
  /** The SMART discovery document, served at the FHIR base too (SMART App Launch 2.2 §2.1). */
  smartConfiguration?: Record<string, unknown>;
  /** Keys that verify access tokens (the authorization server's JWKS). Without them, every PHI route denies. */
  tokenKeys?: JWTVerifyGetKey;
  now?: () => Date;
  rateLimits?: RateLimits;
  accessLog?: AccessLogWriter;
}

export function createFhirApp({ config, db, log, metrics = new Registry(), smartConfiguration, tokenKeys, now, rateLimits, accessLog }: FhirAppDeps): Koa {
  if (!metrics.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register: metrics });
  // X-Forwarded-For only from as many proxies as TRUST_PROXY says: the address keys unauthenticated rate limits and the access log.
  const app = new Koa(koaProxyOptions(config));
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
    ctx.body = capabilityStatement(config, tokenKeys !== undefined, rateLimits?.policies);
  });
  if (rateLimits) {
    // RL-1: the limits in force, published for app developers and testers (not PHI: cacheable).
    const published = rateLimitPolicyDocument(rateLimits.policies);
    router.get('/rate-limits', (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=300');
      ctx.body = published;
    });
  }
  if (smartConfiguration) {
    router.get('/fhir/.well-known/smart-configuration', (ctx) => {
      ctx.body = smartConfiguration;
    });
  }
  const store = new ResourceStore(db);
  const fhir = tokenKeys
    ? fhirRoutes({
        store,
        withheldFor: (token, type, filters, interaction, o) => explainWithheld(db, store, token, type, filters, interaction, o),
        withheldReasons: { limit: WITHHELD_LOG_LIMIT, explain: (token, rows) => withheldItems(db, token.plan, token.patientId, rows, token.at) },
        fhirBaseUrl: config.fhirBaseUrl,
        readAccessLog: (patientId, options) => auditEventsFor(db, patientId, options),
        resolveAccess: createAccessResolver({ db, keys: tokenKeys, issuer: config.issuerUrl, fhirBaseUrl: config.fhirBaseUrl, ageRules: config.policy.ageRules, releasePolicy: config.policy.releasePolicy, consentRequiredLabels: config.policy.consentRequiredLabels, ...(now ? { now } : {}) }),
        ...(rateLimits ? { rateLimits } : {}),
        ...(accessLog ? { accessLog } : {}),
      })
    : undefined;
  // Deny by default: without token keys no PHI route exists.
  const denyAll = new Router();
  denyAll.all('/fhir/{*path}', () => {
    throw new OperationOutcomeError('UNAUTHORIZED', 'A valid Bearer access token is required', {
      'WWW-Authenticate': 'Bearer error="invalid_token", error_description="A valid access token is required"',
    });
  });

  app.use(requestContext(log, metrics, 'fhir-api'));
  // Browser apps call the API with a Bearer token from any origin.
  app.use(cors({ methods: ['GET', 'POST'], exposeHeaders: ['ETag', 'Last-Modified', 'Location', 'X-Request-Id', 'Retry-After', 'WWW-Authenticate', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] }));
  app.use(compression());
  app.use(errorBoundary);
  // FHIR JSON only: other formats are refused before anything else is done (the SMART discovery
  // document, plain JSON for OAuth clients, is left to its own rules).
  app.use(async (ctx, next) => (ctx.path.startsWith('/fhir/') && !ctx.path.startsWith('/fhir/.well-known/') ? contentNegotiation(ctx, next) : next()));
  app.use(router.routes());
  app.use((fhir ?? denyAll).routes());
  // A path under /fhir that no route matches (an empty segment: `Observation//obs-1`) still gets
  // FHIR's 404, not Koa's text/plain one.
  app.use((ctx) => {
    if (ctx.path === '/fhir' || ctx.path.startsWith('/fhir/')) throw new OperationOutcomeError('NOT_FOUND', 'Not found');
  });
  return app;
}
