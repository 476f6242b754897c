/**
 * The composition root: one Koa application serving the authorization server under the issuer's
 * path (default /auth) and the FHIR API under /fhir, as one process on one port.
 */
import Koa, { type Middleware } from 'koa';
import { Registry } from 'prom-client';
import { createAuthServer, publishedKeyResolver, smartConfiguration } from '@patient-access/auth-server';
import type { AppConfig, Database, Logger } from '@patient-access/consent';
import { ResourceStore, compartmentScope, createFhirApp, patientSummaries } from '@patient-access/fhir-api';

export interface ServerDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  now?: () => Date;
}

export async function createServerApp({ config, db, log, now }: ServerDeps): Promise<Koa> {
  const metrics = new Registry();
  const store = new ResourceStore(db);
  const auth = await createAuthServer({
    config,
    db,
    log,
    metrics,
    ...(now ? { now } : {}),
    describePatients: (ids) => patientSummaries(db, ids),
    encounterInRecord: async (patientId, encounterId) => (await store.read('Encounter', encounterId, compartmentScope([patientId]))) !== undefined,
  });
  const fhir = createFhirApp({
    config,
    db,
    log,
    metrics,
    smartConfiguration: smartConfiguration(config),
    // Same database as the authorization server: verify with its published keys directly.
    tokenKeys: publishedKeyResolver(db),
    ...(now ? { now } : {}),
  });
  const root = new Koa({ proxy: true });
  root.use(mountAt(new URL(config.issuerUrl).pathname, auth.app));
  root.use(mountAt('/v1/portal', auth.portalApi, false));
  root.use(mountAt('', fhir));
  return root;
}

/** Hands requests under `prefix` to `app`, by default with the prefix stripped (oidc-provider expects that). */
function mountAt(prefix: string, app: Koa, strip = true): Middleware {
  const handle = app.callback();
  return async (ctx, next) => {
    if (prefix && ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) return next();
    ctx.respond = false;
    const req = ctx.req as typeof ctx.req & { originalUrl?: string };
    req.originalUrl = ctx.originalUrl;
    if (strip) req.url = ctx.url.slice(prefix.length) || '/';
    await handle(req, ctx.res);
  };
}
