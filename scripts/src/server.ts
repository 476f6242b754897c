/**
 * The composition root: one request handler serving the authorization server under the issuer's
 * path (default /auth) and the FHIR API under /fhir, as one process on one port.
 */
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

/** What node:http serves: `createServer(app.callback())`. */
export interface ServerApp {
  callback(): Handler;
  /** Stops the signing-key watch (the database stays open: its owner closes it). */
  close(): void;
}

export async function createServerApp({ config, db, log, now, keyCheckMs = 60_000, rateLimits, accessLog }: ServerDeps): Promise<ServerApp> {
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
  // Restrictions (IB-1) and harm holds (REL-2/3): before the /v1/portal catch-all.
  const controls = await recordControlApis({ config, db, log, ...(now ? { now } : {}), describePatients: (ids) => patientSummaries(db, ids) });
  // First match wins; the FHIR API takes the rest. Plain prefix dispatch rather than an outer Koa
  // application: each application already builds its own context, and a second one per request
  // cost the FHIR read path about 5 % of its CPU (scripts/bench/API-RESULTS.md).
  const controlsHandler = controls.app.callback();
  const mounts: Mount[] = [
    { prefix: new URL(config.issuerUrl).pathname, handle: (req, res) => authHandler(req, res), strip: true },
    ...controls.prefixes.map((prefix): Mount => ({ prefix, handle: controlsHandler, strip: false })),
    { prefix: '/v1/portal', handle: auth.portalApi.callback(), strip: false },
  ];
  const fhirHandler = fhir.callback();
  const handler: Handler = (req, res) => {
    const path = pathOf(req.url ?? '/');
    const mount = mounts.find((m) => path === m.prefix || path.startsWith(`${m.prefix}/`));
    if (mount?.strip) {
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
      req.url = (req.url ?? '/').slice(mount.prefix.length) || '/';
    }
    // Each handler is a Koa application (or oidc-provider's), which answers its own errors; this
    // catch only guards against one that rejects anyway (logged by class and message, never the URL).
    return (mount ?? { handle: fhirHandler }).handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? `${err.name}: ${err.message}` : typeof err }, 'request handler failed');
      if (res.headersSent) res.destroy();
      else {
        res.statusCode = 500;
        res.end();
      }
    });
  };
  return { callback: () => handler, close: () => clearInterval(keyWatch) };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Mount {
  prefix: string;
  handle: Handler;
  /** Hand the request on without the prefix (oidc-provider expects that), keeping the original as req.originalUrl. */
  strip: boolean;
}

/** The path of a request target (origin form, or the rare absolute form), as Koa's ctx.path reads it. */
function pathOf(url: string): string {
  if (!url.startsWith('/')) {
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  }
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
