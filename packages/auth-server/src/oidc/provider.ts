/**
 * oidc-provider configured as a SMART App Launch 2.2 authorization server: `aud` must be the FHIR
 * base, PKCE S256 for every client, SMART scopes projected to read-only, JWT access tokens that
 * carry the app grant id and launch context, refresh tokens that rotate (reuse revokes the grant).
 */
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { authorizationInForce, findAccountById, type AppConfig, type Database } from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { proxyAllowed } from '../smart/proxy-age.js';
import { CLIENT_ASSERTION_ALGS } from '../smart/smart-configuration.js';
import { OIDC_SCOPES, grantableScopes } from '../smart/smart-scopes.js';
import { knexAdapterFactory } from './knex-adapter.js';
import { SIGNING_ALG, loadSigningKeys, serverSecret } from './signing-keys.js';
import { errorPage, noFraming } from '../interactions/views.js';
import { validateLaunchUri, validateRedirectUris } from './redirect-uris.js';

/** Routes through which anyone (not an administrator) writes client metadata. */
const OPEN_REGISTRATION_ROUTES = new Set(['registration', 'client_update']);

/** SMART App Launch (asymmetric client authentication): a client assertion's exp is at most five minutes ahead. */
export const MAX_CLIENT_ASSERTION_SECONDS = 300;

/** Whether any string in a JSON-like value holds a NUL (PostgreSQL text and jsonb cannot). */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v));
  return false;
}

export const ROUTES = {
  authorization: '/authorize',
  token: '/token',
  jwks: '/jwks',
  registration: '/register',
  introspection: '/token/introspection',
  revocation: '/token/revocation',
  userinfo: '/userinfo',
  end_session: '/logout',
} as const;

export interface ProviderDeps {
  config: AppConfig;
  db: Database;
  now: () => Date;
  /** Birth dates for the age rules (PRX-4). */
  describePatients(ids: string[]): Promise<Map<string, PatientSummary>>;
}

export async function createProvider({ config, db, now, describePatients }: ProviderDeps): Promise<Provider> {
  const fhirBase = config.fhirBaseUrl;
  const auth = config.auth;
  const keys = await loadSigningKeys(db, now());
  const cookieKeys = [await serverSecret(db, 'cookie-key-1')];

  const configuration: Configuration = {
    adapter: knexAdapterFactory(db, { now }),
    jwks: { keys: keys as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: cookieKeys,
      long: { signed: true, secure: auth.secureCookies, sameSite: auth.secureCookies ? 'none' : 'lax' },
      short: { signed: true, secure: auth.secureCookies, sameSite: 'lax' },
    },
    routes: ROUTES,
    scopes: OIDC_SCOPES,
    claims: {
      openid: ['sub'],
      fhirUser: ['fhirUser'],
      profile: ['name', 'preferred_username'],
    },
    // The id_token carries fhirUser itself (SMART): apps need not call userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    // SMART `authorize-post`: form POSTs to the authorization endpoint arrive cross-site, so the
    // session cookie must be SameSite=None, which browsers accept only when Secure (https).
    enableHttpPostMethods: auth.secureCookies,
    pkce: { required: () => true },
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    // SMART Backend Services / asymmetric client authentication: exp no more than five minutes
    // in the future (a long-lived assertion is a replayable credential). System clock, as the
    // provider's own exp check uses.
    async assertJwtClientAuthClaimsAndHeader(_ctx, claims) {
      if (typeof claims.exp !== 'number' || claims.exp > Math.floor(Date.now() / 1000) + MAX_CLIENT_ASSERTION_SECONDS + 5) {
        throw new errors.InvalidClientAuth(`client_assertion exp must be at most ${MAX_CLIENT_ASSERTION_SECONDS} seconds in the future`);
      }
    },
    enabledJWA: {
      clientAuthSigningAlgValues: CLIENT_ASSERTION_ALGS as NonNullable<Configuration['enabledJWA']>['clientAuthSigningAlgValues'],
      idTokenSigningAlgValues: [SIGNING_ALG],
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: SIGNING_ALG,
    },
    extraClientMetadata: {
      properties: ['software_id', 'software_version', 'launch_uri'],
      // Called once per extra property with the whole metadata: the checks run on the first key.
      validator(ctx, key, _value, metadata) {
        if (key !== 'software_id') return;
        // RFC 7591 §3.2.2: bad metadata is invalid_client_metadata, never a database error.
        if (containsNul(metadata)) throw new errors.InvalidClientMetadata('metadata must not contain NUL characters');
        validateRedirectUris(metadata);
        validateLaunchUri(metadata);
        // Backend services (system/ scopes) are registered by an administrator, not openly: on
        // registration and on every update through the registration access token alike.
        const grants = Array.isArray(metadata['grant_types']) ? (metadata['grant_types'] as unknown[]) : [];
        if (OPEN_REGISTRATION_ROUTES.has(String(ctx?.oidc?.route)) && grants.includes('client_credentials')) {
          throw new errors.InvalidClientMetadata('client_credentials clients are registered by an administrator');
        }
      },
    },
    extraParams: {
      // SMART: `aud` must name this FHIR server, or nothing is issued.
      aud(ctx: KoaContextWithOIDC, value: string | undefined) {
        if (ctx.oidc.route !== 'authorization') return;
        if (!value) throw new errors.InvalidRequest('aud is required: set it to the FHIR base URL');
        // Exactly the FHIR base, or it with one trailing slash: nothing else names this server.
        if (value !== fhirBase && value !== `${fhirBase}/`) throw new errors.InvalidRequest(`aud must be the FHIR base URL ${fhirBase}`);
        // Project the requested scopes to what a read-only server can grant, before any prompt sees
        // them. From the raw request: oidc-provider drops offline_access without prompt=consent
        // (an OpenID Connect rule SMART apps do not follow).
        const raw = (ctx.oidc.body?.['scope'] ?? ctx.query['scope'] ?? ctx.oidc.params!['scope']) as string | undefined;
        const refreshable = ctx.oidc.client?.grantTypeAllowed('refresh_token') ?? false;
        // system/ scopes belong to backend services (client_credentials), never to a person's grant.
        const scopes = grantableScopes(raw)
          .all.split(' ')
          .filter((s) => s && !s.startsWith('system/') && (refreshable || !s.endsWith('_access')));
        ctx.oidc.params!['scope'] = scopes.join(' ') || undefined;
      },
      launch(ctx: KoaContextWithOIDC, value: string | undefined) {
        if (ctx.oidc.route !== 'authorization') return;
        if (value !== undefined && !/^[A-Za-z0-9_-]{16,128}$/.test(value)) throw new errors.InvalidRequest('launch is not a launch value issued here');
      },
    },
    features: {
      devInteractions: { enabled: false },
      // Not offered: the SMART `aud` check (and our scope projection) read the authorization
      // request itself, so a pushed request could not be completed; discovery advertises only
      // what works.
      pushedAuthorizationRequests: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      // A public client may introspect or revoke only its own tokens; confidential clients (and
      // resource servers registered as such) may introspect any token presented to them.
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => fhirBase,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resource) {
          if (resource !== fhirBase) throw new errors.InvalidTarget();
          const granted = ctx.oidc.entities.Grant?.getResourceScope(fhirBase) ?? '';
          const backend = ctx.oidc.params?.['grant_type'] === 'client_credentials';
          // Backend services get system/ scopes only; people's grants never do.
          const requested = grantableScopes(`${ctx.oidc.params?.['scope'] ?? ''} ${granted}`).resource.filter((s) => s.startsWith('system/') === backend);
          return {
            scope: requested.join(' '),
            audience: fhirBase,
            accessTokenTTL: auth.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: SIGNING_ALG } },
          };
        },
      },
    },
    async findAccount(_ctx, sub) {
      const account = await findAccountById(db, sub);
      if (!account || account.status !== 'active') return undefined;
      return {
        accountId: account.id,
        claims: () => ({
          sub: account.id,
          fhirUser: `${fhirBase}/${account.fhirUser}`,
          name: account.displayName,
          preferred_username: account.username,
        }),
      };
    },
    // Every authorization asks again: the person picks whose record, and which scopes, each time.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    // Runs whenever an access token is minted (code exchange and every refresh): a grant that was
    // revoked, or whose account or delegation ended, gets nothing more (API-3, PRX-6).
    async extraTokenClaims(_ctx, token) {
      if (token.kind === 'ClientCredentials' || !token.grantId) return undefined;
      const covered = await authorizationInForce(db, token.grantId, now());
      if ('denied' in covered) throw new errors.InvalidGrant(`grant is no longer in force (${covered.denied})`);
      // PRX-4: age rules are re-evaluated at every issue and refresh (e.g. the child turned 18).
      const proxied = covered.grants.filter((g) => g.delegation).map((g) => g.grant.patientId);
      const births = proxied.length ? await describePatients(proxied) : new Map<string, PatientSummary>();
      const allowed = covered.grants.filter((g) => !g.delegation || proxyAllowed(g.delegation, births.get(g.grant.patientId)?.birthDate, now(), config.policy.ageRules));
      if (!allowed.length) throw new errors.InvalidGrant('proxy access to this patient has ended');
      const account = await findAccountById(db, allowed[0]!.grant.accountId);
      const fhirUser = account ? { fhirUser: `${fhirBase}/${account.fhirUser}` } : {};
      // A user-level authorization names no patient: the token lists each patient it still covers
      // with her own app grant, which the FHIR API checks on every request like any grant.
      if (covered.userLevel) return { ...fhirUser, grant_id: token.grantId, patient_grants: allowed.map((g) => ({ patient: g.grant.patientId, grant: g.grant.id })) };
      const grant = allowed[0]!.grant;
      return {
        patient: grant.patientId,
        ...(grant.encounterId ? { encounter: grant.encounterId } : {}),
        ...fhirUser,
        grant_id: grant.id,
      };
    },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || code.scopes.has('online_access')),
    // online_access refresh tokens end with the login session; offline_access ones outlive it.
    expiresWithSession: async (_ctx, code) => !code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: auth.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      ClientCredentials: Math.min(auth.accessTokenTtlSeconds, 300),
      IdToken: 3600,
      Interaction: 30 * 60,
      Session: auth.sessionTtlHours * 3600,
      Grant: auth.refreshTokenTtlDays * 86_400,
      // (g)(10)(v)(A): at least three months for offline access, renewed on every refresh.
      RefreshToken: (_ctx, token) => (token.scopes.has('offline_access') ? auth.refreshTokenTtlDays * 86_400 : auth.sessionTtlHours * 3600),
    },
    interactions: { url: (_ctx, interaction) => `${new URL(config.issuerUrl).pathname}/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      noFraming(ctx);
      ctx.body = errorPage(out.error ?? 'error', out.error_description ?? '');
    },
    clientBasedCORS: () => true,
  };

  // Forwarded headers: see proxyTrust (app.ts), which sets proxy and maxIpsCount from TRUST_PROXY.
  const provider = new Provider(config.issuerUrl, configuration);

  return provider;
}
