/**
 * The composition root: one Koa application serving the authorization server under the issuer's
 * path (default /auth) and the FHIR API under /fhir, as one process on one port.
 */
import Koa, { type Middleware } from 'koa';
import { Registry } from 'prom-client';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createAuthServer, publishedKeyResolver, recordControlApis, signingKeyFingerprint, smartConfiguration } from '@patient-access/auth-server';
import type { AccessLogWriter, AppConfig, Database, Logger, RateLimits } from '@patient-access/consent';
import { ResourceStore, compartmentScope, createFhirApp, patientSummaries, patientsSeenBy } from '@patient-access/fhir-api';

export interface ServerDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  now?: () => Date;
  /** How often to look for rotated signing keys. */
  keyCheckMs?: number;
  rateLimits: RateLimits;
  accessLog: AccessLogWriter;
}

export async function createServerApp({ config, db, log, now, keyCheckMs = 60_000, rateLimits, accessLog }: ServerDeps): Promise<Koa> {
  const metrics = new Registry();
  const store = new ResourceStore(db);
  const buildAuth = () =>
    createAuthServer({
      config,
      db,
      log,
      metrics,
      rateLimits,
      accessLog,
      ...(now ? { now } : {}),
      describePatients: (ids) => patientSummaries(db, ids),
      encounterInRecord: async (patientId, encounterId) => (await store.read('Encounter', encounterId, compartmentScope([patientId]))) !== undefined,
      patientsSeenBy: (practitionerId) => patientsSeenBy(db, practitionerId),
    });
  const auth = await buildAuth();
  const fhir = createFhirApp({
    config,
    db,
    log,
    metrics,
    smartConfiguration: smartConfiguration(config),
    // Same database as the authorization server: verify with its published keys directly.
    tokenKeys: publishedKeyResolver(db),
    rateLimits,
    accessLog,
    ...(now ? { now } : {}),
  });
  const root = new Koa({ proxy: true });
  // oidc-provider fixes its keys when built: after a key rotation publishes or activates a key,
  // build a new one and hand it the following requests (all state is in the database).
  let authHandler = auth.app.callback();
  let fingerprint = await signingKeyFingerprint(db);
  const keyWatch = setInterval(() => {
    void (async () => {
      const current = await signingKeyFingerprint(db);
      if (current === fingerprint) return;
      authHandler = (await buildAuth()).app.callback();
      fingerprint = current;
      log.info({ event: 'signing-keys.reloaded' }, 'signing keys changed; authorization server rebuilt');
    })().catch((err: unknown) => log.warn({ err: String(err) }, 'signing key check failed'));
  }, keyCheckMs);
  keyWatch.unref();
  root.use(mountAt(new URL(config.issuerUrl).pathname, (req, res) => authHandler(req, res)));
  // Restrictions (IB-1) and harm holds (REL-2/3): before the /v1/portal catch-all.
  const controls = await recordControlApis({ config, db, log, ...(now ? { now } : {}), describePatients: (ids) => patientSummaries(db, ids) });
  for (const prefix of controls.prefixes) root.use(mountAt(prefix, controls.app, false));
  root.use(mountAt('/v1/portal', auth.portalApi, false));
  root.use(mountAt('', fhir));
  return root;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Hands requests under `prefix` to `app`, by default with the prefix stripped (oidc-provider expects that). */
function mountAt(prefix: string, app: Koa | Handler, strip = true): Middleware {
  const handle = typeof app === 'function' ? app : app.callback();
  return async (ctx, next) => {
    if (prefix && ctx.path !== prefix && !ctx.path.startsWith(`${prefix}/`)) return next();
    ctx.respond = false;
    const req = ctx.req as typeof ctx.req & { originalUrl?: string };
    req.originalUrl = ctx.originalUrl;
    if (strip) req.url = ctx.url.slice(prefix.length) || '/';
    await handle(req, ctx.res);
  };
}
