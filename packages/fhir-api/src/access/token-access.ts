/**
 * The access pipeline every PHI route runs first: verify the Bearer token (signature, issuer,
 * audience = this FHIR base, expiry), confirm its grant is still in force (API-3: read on every
 * request unless grantCacheMs is set), then evaluate the access plan for the patient now (age rules, delegation,
 * release policy, the patient's restrictions: PRX-1…6, REL-1…8, IB-1). Any failure is one 401
 * that says nothing about the data.
 */
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Knex } from 'knex';
import {
  accessPlan,
  intersectScopes,
  parseScopes,
  touchAppGrant,
  type AgeRules,
  type GrantInForce,
  type GrantedPlan,
  type ReleasePolicy,
  type Relationship,
  type Scope,
  type ScopeContext,
} from '@patient-access/consent';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { loadRequestContext, type RequestContext } from './request-context.js';

export interface TokenAccess {
  patientId: string;
  clientId: string;
  grantId: string;
  /** The person who approved the app: the patient, their proxy, or a clinician. */
  accountId: string;
  delegationId: string | undefined;
  actorKind: 'patient' | 'proxy' | 'staff';
  fhirUser: string | undefined;
  scopes: readonly Scope[];
  contexts: readonly ScopeContext[];
  plan: GrantedPlan;
  at: Date;
}

export interface AccessResolverOptions {
  db: Knex;
  keys: JWTVerifyGetKey;
  issuer: string;
  fhirBaseUrl: string;
  now?: () => Date;
  ageRules?: AgeRules;
  releasePolicy?: ReleasePolicy;
  /**
   * How long a request context (grant, birth date, restrictions) may be reused. Default 0: every
   * request asks the database (one prepared statement), so a revocation is seen by the next request
   * (PORTAL-US-013); API-3 would allow 1 s.
   */
  grantCacheMs?: number;
}

export function invalidToken(description: string): OperationOutcomeError {
  return new OperationOutcomeError('UNAUTHORIZED', 'A valid Bearer access token is required', {
    'WWW-Authenticate': `Bearer realm="fhir", error="invalid_token", error_description="${description}"`,
  });
}

function proxyScopeExceeded(): OperationOutcomeError {
  return new OperationOutcomeError('PROXY_SCOPE_EXCEEDED', 'Your access to this patient as a proxy has ended', {
    'WWW-Authenticate': 'Bearer realm="fhir", error="insufficient_scope", error_description="proxy access has ended"',
  });
}

/**
 * Verified tokens are remembered (by their exact text) for at most this long, and never past
 * their `exp`: an app sends the same token on every request, and verifying its signature again
 * is the largest CPU cost of a read after the database (shared/docs/performance.md). What can end
 * a token early (revocation, an ended delegation, a narrowed grant) is checked on every request
 * in the database, not here; the bound only limits how long a token signed by a key withdrawn in
 * an emergency stays accepted.
 */
const VERIFIED_TOKEN_TTL_MS = 60_000;
const MAX_VERIFIED_TOKENS = 10_000;

export function createAccessResolver(o: AccessResolverOptions): (authorization: string | undefined) => Promise<TokenAccess> {
  const now = o.now ?? (() => new Date());
  const cacheMs = o.grantCacheMs ?? 0;
  const contexts = new Map<string, { until: number; value: Promise<RequestContext> }>();
  const verified = new Map<string, { until: number; claims: JWTPayload }>();

  const requestContext = (grantId: string, at: Date) => {
    if (cacheMs <= 0) return loadRequestContext(o.db, grantId, at);
    const hit = contexts.get(grantId);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = loadRequestContext(o.db, grantId, at);
    contexts.set(grantId, { until: Date.now() + cacheMs, value });
    if (contexts.size > 10_000) contexts.clear();
    return value;
  };

  const verify = async (token: string): Promise<JWTPayload> => {
    const hit = verified.get(token);
    if (hit && hit.until > Date.now()) return hit.claims;
    if (hit) verified.delete(token);
    const { payload } = await jwtVerify(token, o.keys, { issuer: o.issuer, audience: o.fhirBaseUrl, typ: 'at+jwt' });
    const until = Math.min(Date.now() + VERIFIED_TOKEN_TTL_MS, typeof payload.exp === 'number' ? payload.exp * 1000 : 0);
    if (until > Date.now()) {
      // Oldest first out: a Map iterates in insertion order.
      if (verified.size >= MAX_VERIFIED_TOKENS) verified.delete(verified.keys().next().value!);
      verified.set(token, { until, claims: payload });
    }
    return payload;
  };

  return async (authorization) => {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization?.trim() ?? '');
    if (!match) throw invalidToken('A Bearer access token is required');
    let claims: JWTPayload;
    try {
      claims = await verify(match[1]!);
    } catch {
      throw invalidToken('The access token is invalid or expired');
    }
    const grantId = claims['grant_id'];
    const patientId = claims['patient'];
    if (typeof grantId !== 'string' || typeof patientId !== 'string') throw invalidToken('The access token carries no patient context');
    const at = now();
    const inForce = await requestContext(grantId, at);
    if ('denied' in inForce) {
      // PRX-6: a proxy whose delegation ended or was suspended is told so, without detail.
      if (inForce.denied === 'delegation-inactive') throw proxyScopeExceeded();
      throw invalidToken('The authorization behind this token has ended');
    }
    if (inForce.grant.patientId !== patientId) throw invalidToken('The access token does not match its authorization');
    // "Last used" on the connected-apps page: stamped at most hourly, best effort (a failed stamp
    // must not fail the read).
    const last = inForce.grant.lastUsedAt?.getTime() ?? 0;
    if (at.getTime() - last > 3_600_000) touchAppGrant(o.db, grantId, at).catch(() => undefined);

    const fhirUser = typeof claims['fhirUser'] === 'string' ? claims['fhirUser'] : undefined;
    // IB-1: the plan keeps only the restrictions naming this proxy or this app: a restriction on a
    // proxy never touches the patient's own access.
    const plan = accessPlan({
      relationship: relationshipOf(inForce, fhirUser, patientId),
      patientBirthDate: inForce.patientBirthDate,
      restrictions: inForce.restrictions,
      at,
      ...(o.ageRules ? { ageRules: o.ageRules } : {}),
      ...(o.releasePolicy ? { releasePolicy: o.releasePolicy } : {}),
      clientId: String(claims['client_id']),
    });
    // PRX-4: a proxy whose access ended (e.g. the child turned 18) loses it on the next request.
    if (plan.level === 'none') throw plan.reason === 'proxy-none' ? invalidToken('The authorization behind this token has ended') : proxyScopeExceeded();
    return {
      patientId,
      clientId: String(claims['client_id']),
      grantId,
      accountId: inForce.grant.accountId,
      delegationId: inForce.delegation?.id,
      actorKind: inForce.delegation ? 'proxy' : fhirUser?.includes('/Practitioner/') ? 'staff' : 'patient',
      fhirUser,
      // What the token says, within what its grant still allows: a grant the patient narrowed on
      // the connected-apps page narrows tokens already issued, at once.
      scopes: intersectScopes(parseScopes(typeof claims['scope'] === 'string' ? claims['scope'] : '').scopes, parseScopes(inForce.grant.scope).scopes),
      // A patient-context token: patient/ scopes, and user/ scopes limited to that patient.
      contexts: ['patient', 'user'],
      plan,
      at,
    };
  };
}

function relationshipOf(g: GrantInForce, fhirUser: string | undefined, patientId: string): Relationship {
  if (g.delegation) {
    return {
      kind: 'proxy',
      proxyAccountId: g.grant.accountId,
      delegation: { basis: g.delegation.basis, status: 'active', accessLevel: g.delegation.accessLevel, startsAt: new Date(0), endsAt: null },
    };
  }
  // The account's own record, or a clinician's EHR launch into this patient's record: what the
  // patient sees (REL-8: one release predicate for every channel).
  if (fhirUser?.endsWith(`/Patient/${patientId}`) || fhirUser?.includes('/Practitioner/')) return { kind: 'self' };
  return { kind: 'none' };
}
