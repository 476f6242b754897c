/**
 * The access pipeline every PHI route runs first: verify the Bearer token (signature, issuer,
 * audience = this FHIR base, expiry), confirm its grant is still in force (API-3), then evaluate
 * the access plan for the patient now (age rules, delegation, release policy, the patient's
 * restrictions and disclosure consents: PRX-1…6, REL-1…8, IB-1, IB-2). Any failure is one 401
 * that says nothing about the data.
 * The grant's context is remembered between requests with the patient's access epoch, which every
 * PHI statement checks in SQL: a context changed since is never served, only read again (the
 * routes confirm an empty answer, the only symptom of a changed epoch).
 */
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Knex } from 'knex';
import {
  accessPlan,
  grantDecision,
  planDependsOnClock,
  intersectScopes,
  parseScopes,
  patientGrantsOf,
  touchAppGrant,
  type AccessPlan,
  type AgeRules,
  type Coding,
  type GrantInForce,
  type GrantedPlan,
  type PatientGrant,
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
  /** The patient's access epoch the context was read at: every PHI statement requires it still current. */
  epoch: string;
  /** The context was read from the database for this request (not remembered from an earlier one). */
  fresh: boolean;
  /**
   * Every patient the token covers, this access's first: its one patient, or each of a user-level
   * authorization's (SMART user/ scopes over everyone the person may act for). The routes resolve
   * the access of another with ResolveOptions.patientId: each patient's has her own grant, plan
   * and epoch, so one patient's restrictions or ended delegation never touch another's.
   */
  patients: readonly string[];
  /** The token's authorization (its grant_id): this grant, or the user-level authorization it is part of. Cursors are bound to it. */
  authorizationId: string;
}

export interface AccessResolverOptions {
  db: Knex;
  keys: JWTVerifyGetKey;
  issuer: string;
  fhirBaseUrl: string;
  now?: () => Date;
  ageRules?: AgeRules;
  releasePolicy?: ReleasePolicy;
  /** Labels a proxy sees only with the patient's recorded consent (IB-2; PolicyConfig.consentRequiredLabels); default 42 CFR Part 2. */
  consentRequiredLabels?: readonly Coding[];
  /**
   * How long a request context (grant, birth date, restrictions, disclosure consents, epoch) is
   * remembered; 0 reads it on every request. Remembering it is safe at any length: every PHI statement checks the
   * context's epoch (access-epoch.ts), and a changed one is read again. The bound only limits memory
   * held for tokens no longer in use, and how long a database without the epoch triggers (restored
   * from an old dump) could serve a changed context.
   */
  contextCacheMs?: number;
}

export function invalidToken(description: string): OperationOutcomeError {
  return new OperationOutcomeError('UNAUTHORIZED', 'A valid Bearer access token is required', {
    'WWW-Authenticate': `Bearer realm="fhir", error="invalid_token", error_description="${description}"`,
  });
}

/** 403 for an interaction on a type the token's scopes do not grant (RFC 6750 insufficient_scope). */
export function insufficientScope(type: string, interaction: string): OperationOutcomeError {
  return new OperationOutcomeError('INSUFFICIENT_SCOPE', `The token's scopes do not allow ${interaction} of ${type}`, {
    'WWW-Authenticate': `Bearer realm="fhir", error="insufficient_scope", error_description="${interaction} of ${type} is not in scope"`,
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
 * a token early (revocation, an ended delegation, a narrowed grant) is checked by every PHI
 * statement through the access epoch, not here; the bound only limits how long a token signed by
 * a key withdrawn in an emergency stays accepted.
 */
const VERIFIED_TOKEN_TTL_MS = 60_000;
const DEFAULT_CONTEXT_CACHE_MS = 60_000;
/** A patient-context token: patient/ scopes, and user/ scopes limited to that patient. */
const PATIENT_TOKEN_CONTEXTS: readonly ScopeContext[] = Object.freeze(['patient', 'user']);
/** A user-level token: its user/ scopes, within each covered patient's grant. */
const USER_TOKEN_CONTEXTS: readonly ScopeContext[] = Object.freeze(['user']);
/** Verified tokens and request contexts kept, each (oldest out first). */
const MAX_REMEMBERED = 10_000;

export interface ResolveOptions {
  /** Read the request context from the database even if one is remembered (routes whose reads carry no epoch guard, and confirmations). */
  fresh?: boolean;
  /**
   * The covered patient whose access is wanted; default the first covered patient whose grant is
   * in force. A patient the token does not cover is refused like a token without patient context.
   */
  patientId?: string;
}

export type AccessResolver = (authorization: string | undefined, options?: ResolveOptions) => Promise<TokenAccess>;

export function createAccessResolver(o: AccessResolverOptions): AccessResolver {
  const now = o.now ?? (() => new Date());
  const cacheMs = o.contextCacheMs ?? DEFAULT_CONTEXT_CACHE_MS;
  const contexts = new Map<string, { until: number; context: RequestContext }>();
  const verified = new Map<string, { until: number; claims: JWTPayload }>();
  // The token's scopes within its grant's, by the two texts: parsing is pure and the same pair comes on every request.
  const grantedScopes = new Map<string, readonly Scope[]>();
  const scopesWithin = (tokenScope: string, grantScope: string): readonly Scope[] => {
    const key = `${tokenScope}\n${grantScope}`;
    let scopes = grantedScopes.get(key);
    if (!scopes) {
      scopes = Object.freeze(intersectScopes(parseScopes(tokenScope).scopes, parseScopes(grantScope).scopes));
      if (grantedScopes.size >= MAX_REMEMBERED) grantedScopes.delete(grantedScopes.keys().next().value!);
      grantedScopes.set(key, scopes);
    }
    return scopes;
  };

  const remembered = (grantId: string): RequestContext | undefined => {
    const hit = contexts.get(grantId);
    if (hit && hit.until > Date.now()) return hit.context;
    if (hit) contexts.delete(grantId);
    return undefined;
  };
  const load = async (grantId: string): Promise<RequestContext | undefined> => {
    const context = await loadRequestContext(o.db, grantId);
    contexts.delete(grantId);
    if (context && cacheMs > 0) {
      if (contexts.size >= MAX_REMEMBERED) contexts.delete(contexts.keys().next().value!);
      contexts.set(grantId, { until: Date.now() + cacheMs, context });
    }
    return context;
  };

  // What each verified token covers, kept with its claims (remembered per token text above).
  const coversByClaims = new WeakMap<JWTPayload, Covers | undefined>();

  const verify = async (token: string): Promise<JWTPayload> => {
    const hit = verified.get(token);
    if (hit && hit.until > Date.now()) return hit.claims;
    if (hit) verified.delete(token);
    const { payload } = await jwtVerify(token, o.keys, { issuer: o.issuer, audience: o.fhirBaseUrl, typ: 'at+jwt' });
    const until = Math.min(Date.now() + VERIFIED_TOKEN_TTL_MS, typeof payload.exp === 'number' ? payload.exp * 1000 : 0);
    if (until > Date.now()) {
      // Oldest first out: a Map iterates in insertion order.
      if (verified.size >= MAX_REMEMBERED) verified.delete(verified.keys().next().value!);
      verified.set(token, { until, claims: payload });
    }
    return payload;
  };

  /**
   * The access plan of one reader under one context. A plan the clock cannot change (the patient's
   * own access) is kept with the context it was computed from, per app, so every request under
   * the grant shares one plan object, and with it the compiled access filters (access-filters.ts).
   */
  const plans = new WeakMap<RequestContext, Map<string, AccessPlan>>();
  const planOf = (context: RequestContext, relationship: Relationship, clientId: string, at: Date): AccessPlan => {
    const compute = () =>
      accessPlan({
        relationship,
        patientBirthDate: context.patientBirthDate,
        restrictions: context.restrictions,
        disclosureConsents: context.disclosureConsents, // IB-2 (45 CFR 171.202(b))
        patientHasHoldItems: context.holdItems,
        at,
        ...(o.ageRules ? { ageRules: o.ageRules } : {}),
        ...(o.releasePolicy ? { releasePolicy: o.releasePolicy } : {}),
        ...(o.consentRequiredLabels ? { consentRequiredLabels: o.consentRequiredLabels } : {}),
        clientId,
      });
    if (planDependsOnClock(relationship)) return compute();
    let byClient = plans.get(context);
    if (!byClient) plans.set(context, (byClient = new Map()));
    const key = `${relationship.kind}\0${clientId}`;
    let plan = byClient.get(key);
    if (!plan) byClient.set(key, (plan = compute()));
    return plan;
  };

  /** The token's access under one context, or the denial it meets (thrown). */
  const judge = (claims: JWTPayload, covers: Covers, patientId: string, grantId: string, context: RequestContext, at: Date, fresh: boolean): TokenAccess => {
    const inForce = grantDecision(context.row, at);
    if ('denied' in inForce) {
      // PRX-6: a proxy whose delegation ended or was suspended is told so, without detail.
      if (inForce.denied === 'delegation-inactive') throw proxyScopeExceeded();
      throw invalidToken('The authorization behind this token has ended');
    }
    if (inForce.grant.patientId !== patientId) throw invalidToken('The access token does not match its authorization');
    // "Last used" on the connected-apps page: stamped at most hourly, best effort (a failed stamp
    // must not fail the read). The remembered row is stamped too, so the next request does not repeat it.
    const last = inForce.grant.lastUsedAt?.getTime() ?? 0;
    if (at.getTime() - last > 3_600_000) {
      context.row.last_used_at = at;
      touchAppGrant(o.db, grantId, at).catch(() => undefined);
    }

    const fhirUser = typeof claims['fhirUser'] === 'string' ? claims['fhirUser'] : undefined;
    // IB-1: the plan keeps only the restrictions naming this proxy or this app: a restriction on a
    // proxy never touches the patient's own access.
    const clientId = String(claims['client_id']);
    const plan = planOf(context, relationshipOf(inForce, fhirUser, patientId), clientId, at);
    // PRX-4: a proxy whose access ended (e.g. the child turned 18) loses it on the next request.
    if (plan.level === 'none') throw plan.reason === 'proxy-none' ? invalidToken('The authorization behind this token has ended') : proxyScopeExceeded();
    return {
      patientId,
      clientId,
      grantId,
      accountId: inForce.grant.accountId,
      delegationId: inForce.delegation?.id,
      actorKind: inForce.delegation ? 'proxy' : fhirUser?.includes('/Practitioner/') ? 'staff' : 'patient',
      fhirUser,
      // What the token says, within what its grant still allows: a grant the patient narrowed on
      // the connected-apps page narrows tokens already issued, at once.
      scopes: scopesWithin(typeof claims['scope'] === 'string' ? claims['scope'] : '', inForce.grant.scope),
      contexts: covers.userLevel ? USER_TOKEN_CONTEXTS : PATIENT_TOKEN_CONTEXTS,
      plan,
      at,
      epoch: context.epoch,
      fresh,
      patients: patientId === covers.patients[0] ? covers.patients : [patientId, ...covers.patients.filter((p) => p !== patientId)],
      authorizationId: covers.authorizationId,
    };
  };

  /** One covered patient's access: from the remembered context if it allows it, else read again. */
  const resolveOne = async (claims: JWTPayload, covers: Covers, target: PatientGrant, at: Date, fresh: boolean): Promise<TokenAccess> => {
    const known = fresh ? undefined : remembered(target.grant);
    if (known) {
      try {
        return judge(claims, covers, target.patient, target.grant, known, at, false);
      } catch (err) {
        // A denial is never answered from memory: the facts behind it are read again first.
        if (!(err instanceof OperationOutcomeError)) throw err;
      }
    }
    const context = await load(target.grant);
    if (!context) throw invalidToken('The authorization behind this token has ended');
    return judge(claims, covers, target.patient, target.grant, context, at, true);
  };

  return async (authorization, options = {}) => {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization?.trim() ?? '');
    if (!match) throw invalidToken('A Bearer access token is required');
    let claims: JWTPayload;
    try {
      claims = await verify(match[1]!);
    } catch {
      throw invalidToken('The access token is invalid or expired');
    }
    const grantId = claims['grant_id'];
    if (typeof grantId !== 'string') throw invalidToken('The access token carries no patient context');
    let covers = coversByClaims.get(claims);
    if (!covers) coversByClaims.set(claims, (covers = coversOf(claims, grantId)));
    if (!covers) throw invalidToken('The access token carries no patient context');
    const at = now();
    const targets = options.patientId === undefined ? covers.grants : covers.grants.filter((g) => g.patient === options.patientId);
    if (!targets.length) throw invalidToken('The access token does not cover this patient');
    // A user-level token's default access is its first covered patient still in force: one
    // patient's ended delegation or revoked row leaves the others' access as it was.
    let denial: unknown;
    for (const target of targets) {
      try {
        return await resolveOne(claims, covers, target, at, options.fresh === true);
      } catch (err) {
        if (!(err instanceof OperationOutcomeError)) throw err;
        denial ??= err;
      }
    }
    throw denial;
  };
}

interface Covers {
  grants: readonly PatientGrant[];
  patients: readonly string[];
  userLevel: boolean;
  authorizationId: string;
}

/** The patients a token covers: its `patient` claim's with its grant, or a user-level token's `patient_grants`. */
function coversOf(claims: JWTPayload, grantId: string): Covers | undefined {
  const patient = claims['patient'];
  const grants = typeof patient === 'string' ? [{ patient, grant: grantId }] : patientGrantsOf(claims);
  if (!grants.length) return undefined;
  return { grants, patients: grants.map((g) => g.patient), userLevel: typeof patient !== 'string', authorizationId: grantId };
}

function relationshipOf(g: GrantInForce, fhirUser: string | undefined, patientId: string): Relationship {
  if (g.delegation) {
    return {
      kind: 'proxy',
      proxyAccountId: g.grant.accountId,
      delegation: { basis: g.delegation.basis, status: 'active', accessLevel: g.delegation.accessLevel, startsAt: g.delegation.startsAt, endsAt: null },
    };
  }
  // The account's own record, or a clinician's EHR launch into this patient's record: what the
  // patient sees (REL-8: one release predicate for every channel).
  if (fhirUser?.endsWith(`/Patient/${patientId}`) || fhirUser?.includes('/Practitioner/')) return { kind: 'self' };
  return { kind: 'none' };
}
