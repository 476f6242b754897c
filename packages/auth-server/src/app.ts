/**
 * The authorization server as one Koa application (oidc-provider is a Koa app): SMART discovery,
 * the interaction pages, the SMART additions to the token and introspection responses, and the
 * rule that revoking any token of a grant ends the grant and the app's access.
 */
import Router from '@koa/router';
import { decodeJwt, jwtVerify } from 'jose';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { Registry } from 'prom-client';
import {
  cors,
  authorizationInForce,
  patientGrantsOf,
  rateLimitHeaders,
  rateLimitKey,
  requestContext,
  revokeAppGrant,
  type AccessLogWriter,
  type AppConfig,
  type Database,
  type Logger,
  type RateLimits,
} from '@patient-access/consent';
import { logAuthEvent } from './interactions/sign-in.js';
import { interactionRouter, type PatientSummary } from './interactions/routes.js';
import { authorizePostAsGet } from './oidc/authorize-post.js';
import { ROUTES, createProvider } from './oidc/provider.js';
import { delegationApi } from './portal/delegation-api.js';
import { enrollRouter } from './portal/enroll-routes.js';
import { portalRouter } from './portal/portal-routes.js';
import { portalCookies } from './portal/portal-session.js';
import { publishedKeyResolver, serverSecret } from './oidc/signing-keys.js';
import { edge, errorSummary } from './edge.js';
import { proxyTrust } from './proxy-trust.js';
import { smartConfiguration } from './smart/smart-configuration.js';
import { OIDC_SCOPES } from './smart/smart-scopes.js';

export interface AuthServerDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  now?: () => Date;
  /** Prometheus registry shared with the FHIR API (one /metrics per process). */
  metrics?: Registry;
  rateLimits?: RateLimits;
  accessLog?: AccessLogWriter;
  describePatients(ids: string[]): Promise<Map<string, PatientSummary>>;
  /** Whether an Encounter with this id is in the patient's record (EHR launch with encounter). */
  encounterInRecord(patientId: string, encounterId: string): Promise<boolean>;
  /** Patients a practitioner has encounters with (the staff launch list). */
  patientsSeenBy(practitionerId: string): Promise<{ patientId: string; encounterIds: string[] }[]>;
}

export const SMART_STYLE = {
  color_background: '#f6f8fa',
  color_error: '#a40000',
  color_highlight: '#0b5cad',
  color_modal_backdrop: '',
  color_success: '#1a7f37',
  color_text: '#1b1b1b',
  dim_border_radius: '6px',
  dim_font_size: '16px',
  dim_spacing_size: '16px',
  font_family_body: 'system-ui, sans-serif',
  font_family_heading: 'system-ui, sans-serif',
};

export interface AuthServer {
  /** oidc-provider with our pages: mount under the issuer's path. */
  app: Provider;
  /** The portal's JSON API (/v1/portal/…): mount at the origin's root. */
  portalApi: Koa;
}

export async function createAuthServer(deps: AuthServerDeps): Promise<AuthServer> {
  const { config, db, log } = deps;
  const now = deps.now ?? (() => new Date());
  const provider = await createProvider({ config, db, now, describePatients: deps.describePatients });
  const localKeys = publishedKeyResolver(db);
  // The issuer URL is the one public name of this server: URLs oidc-provider derives from the
  // request (the token endpoint as a client assertion's audience, redirects) use it too.
  // X-Forwarded-For only as far as TRUST_PROXY says (RL-1 limits and AUD-1 source addresses).
  provider.use(proxyTrust(provider, config.issuerUrl, config.trustProxy));
  provider.use(requestContext(log, deps.metrics ?? new Registry(), 'auth-server'));
  provider.use(edge(log));
  // oidc-provider answers its endpoints' errors itself and reports its own faults as events: log
  // them through pino by class and code only (messages and stacks can quote request values).
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    log.error({ event: 'oidc.server_error', route: ctx?.oidc?.route, err: errorSummary(err) }, 'authorization server error');
  });
  // Koa's own report (errors after the response started): through pino, never its stderr stack print.
  (provider as unknown as import('node:events').EventEmitter).on('error', (err: unknown) => log.error({ event: 'http.error', err: errorSummary(err) }, 'request failed'));
  // RL-1: token requests per address, open registration per address; answered before the provider.
  provider.use(async (ctx, next) => {
    const limiter = ctx.method !== 'POST' ? undefined : ctx.path === ROUTES.token ? 'token' : ctx.path === ROUTES.registration ? 'registration' : undefined;
    if (limiter && deps.rateLimits) {
      const result = await deps.rateLimits.consume(limiter, rateLimitKey(ctx.ip));
      ctx.set(rateLimitHeaders(result));
      if (!result.allowed) {
        ctx.status = 429;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: 'temporarily_unavailable', error_description: 'too many requests; retry after the time in Retry-After' };
        return;
      }
    }
    await next();
  });
  // SMART authorize-post where oidc-provider cannot take POSTs itself (no secure cookies).
  if (!config.auth.secureCookies) provider.use(authorizePostAsGet(ROUTES.authorization, `${config.issuerUrl}${ROUTES.authorization}`));
  provider.use(async (ctx, next) => {
    await next();
    // Label oidc-provider's endpoints by name; our pages are labelled by their route templates.
    if (ctx.oidc?.route) ctx.state['route'] = `oidc:${ctx.oidc.route}`;
  });

  /** Our JWT access token's claims if it is one, signed by us, for this FHIR base and unexpired. */
  const verifyAccessToken = async (token: string) => {
    try {
      const { payload } = await jwtVerify(token, localKeys, { issuer: config.issuerUrl, audience: config.fhirBaseUrl, typ: 'at+jwt' });
      return payload;
    } catch {
      return undefined;
    }
  };

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || !ctx.oidc) return;
    const body = ctx.body as Record<string, unknown> | undefined;

    // RFC 6749 §5.1: token responses are not cached (Pragma for HTTP/1.0 caches).
    if (ctx.path === ROUTES.token) ctx.set('Pragma', 'no-cache');
    // RFC 6749 §5.2: a client using a grant type it is not registered for is `unauthorized_client`
    // (oidc-provider says invalid_request).
    if (ctx.path === ROUTES.token && ctx.status === 400 && body?.['error'] === 'invalid_request' && /grant type is not allowed/.test(String(body['error_description']))) {
      body['error'] = 'unauthorized_client';
    }
    if (ctx.path === ROUTES.token && ctx.status === 200 && typeof body?.['access_token'] === 'string') {
      // SMART: `scope` lists everything granted, not only the access token's resource scopes.
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
      const oidcScopes = [...(source?.scopes ?? [])].filter((s) => OIDC_SCOPES.includes(s));
      body['scope'] = [...oidcScopes, ...String(body['scope'] ?? '').split(' ')].filter(Boolean).join(' ');
      // SMART launch context travels in the token response body.
      const claims = decodeJwt(body['access_token']);
      if (typeof claims['patient'] === 'string') {
        body['patient'] = claims['patient'];
        if (typeof claims['encounter'] === 'string') body['encounter'] = claims['encounter'];
        body['need_patient_banner'] = true;
        body['smart_style_url'] = `${config.issuerUrl}/smart-style.json`;
      }
      log.info({ event: 'token.issued', grantType: ctx.oidc.params?.['grant_type'], clientId: ctx.oidc.client?.clientId }, 'token issued');
      if (typeof claims['grant_id'] === 'string') {
        // In the log of each patient the token covers (a user-level token covers several).
        const covered = typeof claims['patient'] === 'string' ? [{ patient: claims['patient'], grant: claims['grant_id'] }] : patientGrantsOf(claims);
        for (const { patient, grant } of covered.length ? covered : [{ patient: '', grant: claims['grant_id'] }]) {
          await logAuthEvent(deps, ctx, {
            patientId: patient,
            actor: { kind: 'app', id: String(claims['client_id']) },
            ...(patient ? { onBehalfOf: patient } : {}),
            client: { id: String(claims['client_id']) },
            scopes: String(body['scope'] ?? ''),
            grantId: grant,
            action: ctx.oidc.params?.['grant_type'] === 'refresh_token' ? 'token.refresh' : 'token.issue',
            outcome: 'success',
          });
        }
      }
    }

    // oidc-provider refuses to introspect or revoke JWT access tokens (it does not store them);
    // the client is authenticated by then, so we answer for our own JWTs here.
    const jwtRefused = body?.['error'] === 'unsupported_token_type' && ctx.oidc.client !== undefined;
    const token = String(ctx.oidc.params?.['token'] ?? '');

    if (ctx.path === ROUTES.introspection && body) {
      if (jwtRefused) {
        ctx.status = 200;
        ctx.body = await introspectAccessToken(token, ctx.oidc.client!);
      } else if (body['active'] === true) {
        // A refresh token whose grant was revoked (app, account or delegation) is inactive.
        const grantId = ctx.oidc.entities.RefreshToken?.grantId;
        if (grantId && 'denied' in (await authorizationInForce(db, grantId, now()))) ctx.body = { active: false };
      }
    }

    if (ctx.path === ROUTES.revocation && (ctx.status === 200 || jwtRefused)) {
      if (jwtRefused) {
        const claims = await verifyAccessToken(token);
        const grantId = claims?.['grant_id'];
        // Revoking an access token ends its grant: the app's access and refresh tokens stop at once.
        if (typeof grantId === 'string' && claims?.['client_id'] === ctx.oidc.client!.clientId) {
          await revokeAppGrant(db, grantId, 'access token revoked by the client', now());
          await provider.Grant.adapter.revokeByGrantId?.(grantId);
        }
        ctx.status = 200;
        ctx.body = '';
      }
      // A refresh token's grant (and, through the adapter's revokeByGrantId, its app grant) is
      // revoked by the provider only when the token was issued to the caller. RFC 7009 §2.1: a
      // token of another client is not revoked; a public client still gets 200 and nothing changes.
      const refresh = ctx.oidc.entities.RefreshToken;
      const foreign = refresh !== undefined && refresh.clientId !== ctx.oidc.client?.clientId;
      log.info({ event: foreign ? 'token.revoke.refused' : 'token.revoked', clientId: ctx.oidc.client?.clientId }, foreign ? 'token of another client not revoked' : 'token revoked');
      await logAuthEvent(deps, ctx, {
        patientId: '',
        actor: { kind: 'app', id: String(ctx.oidc.client?.clientId ?? '') },
        action: 'token.revoke',
        ...(foreign ? { outcome: 'denied' as const, reason: 'token-of-another-client' } : { outcome: 'success' as const }),
      });
    }

    if (ctx.path === ROUTES.registration && ctx.status === 201 && typeof body?.['client_id'] === 'string') {
      await logAuthEvent(deps, ctx, { patientId: '', actor: { kind: 'app', id: body['client_id'] }, client: { id: body['client_id'] }, action: 'registration', outcome: 'success' });
    }
  });

  async function introspectAccessToken(token: string, client: { clientId: string; clientAuthMethod: string }): Promise<Record<string, unknown>> {
    const claims = await verifyAccessToken(token);
    const grantId = claims?.['grant_id'];
    if (!claims || typeof grantId !== 'string') return { active: false };
    // Public clients may introspect only their own tokens.
    if (client.clientAuthMethod === 'none' && claims['client_id'] !== client.clientId) return { active: false };
    if ('denied' in (await authorizationInForce(db, grantId, now()))) return { active: false };
    // The scope the token response named: the grant's OpenID/launch scopes and the token's resource scopes.
    const grant = await provider.Grant.find(grantId);
    const scope = [...(grant?.getOIDCScope().split(' ') ?? []), ...String(claims['scope'] ?? '').split(' ')].filter(Boolean).join(' ');
    return {
      active: true,
      scope,
      client_id: claims['client_id'],
      exp: claims.exp,
      iat: claims.iat,
      sub: claims.sub,
      iss: claims.iss,
      aud: claims.aud,
      fhirUser: claims['fhirUser'],
      patient: claims['patient'],
      ...(claims['encounter'] ? { encounter: claims['encounter'] } : {}),
      token_type: 'Bearer',
    };
  }

  // oidc-provider leaves registration and our discovery document to us: browser apps register too.
  const openCors = cors({ methods: ['GET', 'POST'], allowHeaders: ['Authorization', 'Content-Type', 'Accept'] });
  provider.use(async (ctx, next) => (ctx.path === ROUTES.registration || ctx.path.startsWith('/.well-known/smart') || ctx.path === '/smart-style.json' ? openCors(ctx, next) : next()));
  const extras = new Router();
  extras.get('/.well-known/smart-configuration', (ctx) => {
    ctx.body = smartConfiguration(config);
  });
  extras.get('/smart-style.json', (ctx) => {
    ctx.body = SMART_STYLE;
  });
  const interactions = interactionRouter({ ...deps, provider, now });
  const cookies = portalCookies(await serverSecret(db, 'portal-session-key'), config.auth.secureCookies);
  const portal = portalRouter({ ...deps, provider, now, cookies });
  provider.use(extras.routes());
  provider.use(interactions.routes());
  provider.use(portal.routes());
  provider.use(enrollRouter({ config, db, log, now }).routes());
  return { app: provider, portalApi: delegationApi({ config, db, log, now, cookies, describePatients: deps.describePatients }) };
}
