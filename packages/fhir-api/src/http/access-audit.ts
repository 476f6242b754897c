/**
 * Rate limits and the access log around every PHI route. Limits are per client and patient for
 * token holders and per address otherwise, identical for the portal and every third-party app
 * (RL-1, IB-5). Every read, search and denial with a known token is written to the access log
 * before the response goes out (AUD-1): ids of what was returned, never the data. Whatever the
 * client spelled (parameter names, the type in the URL, X-Forwarded-For) is fitted to the log's
 * rules here, so an entry is never refused because of it.
 */
import type { Context, Middleware } from 'koa';
import {
  formatScopes,
  isLoggableIdentifier,
  isLoggableParamName,
  isLoggableResourceType,
  rateLimitHeaders,
  rateLimitKey,
  type AccessLogAction,
  type AccessLogDetail,
  type AccessLogEntry,
  type AccessLogWriter,
  type BlockingException,
  type RateLimits,
  type WithheldItem,
} from '@patient-access/consent';
import type { TokenAccess } from '../access/token-access.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';

/** What a route disclosed, set on ctx.state.audit by the route. */
export interface AuditFacts {
  action: Extract<AccessLogAction, 'read' | 'search' | 'everything'>;
  resourceType: string;
  returned?: string[];
  /**
   * For a streamed response: what was actually sent, known once the stream ends (or the client
   * goes away). An entry without ids is committed before the first byte (AUD-1), and a second one
   * naming exactly these ids when they are known.
   */
  returnedWhenSent?: Promise<SentIds>;
  /** As the client spelled them: the entry keeps the valid names and counts the rest. */
  queryParams?: string[];
  resultCount?: number;
  /** What the plan withheld of what was asked for, with each item's reason (AUD-1). */
  withheld?: WithheldItem[];
}

export interface SentIds {
  returned: string[];
  /** false: the stream ended early (client gone, a failed query); `returned` is what went out. */
  complete: boolean;
}

// The information-blocking classification of each denial the API can give.
const DENIAL_EXCEPTIONS: Partial<Record<string, BlockingException>> = {
  RATE_LIMITED: 'health_it_performance', // 171.205 (RL-1)
  PROXY_SCOPE_EXCEEDED: 'not_authorized',
  INSUFFICIENT_SCOPE: 'not_requested',
  NOT_FOUND: 'not_authorized',
};

export async function limitRequest(ctx: Context, limits: RateLimits | undefined, token: TokenAccess | undefined): Promise<void> {
  if (!limits) return;
  const result = token ? await limits.consume('fhir', rateLimitKey(token.clientId, token.patientId)) : await limits.consume('fhirUnauthenticated', ctx.ip);
  ctx.set(rateLimitHeaders(result));
  if (!result.allowed) {
    throw new OperationOutcomeError('RATE_LIMITED', 'Too many requests; retry after the time in Retry-After', rateLimitHeaders(result));
  }
}

export function accessAudit(log: AccessLogWriter | undefined): Middleware {
  return async (ctx, next) => {
    if (!log) return next();
    try {
      await next();
    } catch (err) {
      const token = ctx.state['token'] as TokenAccess | undefined;
      if (token && err instanceof OperationOutcomeError) {
        // The type as spelled in the URL ("observation", "Observation/obs-1"): kept only when the log can hold it.
        const type = ctx.params['type'] === undefined ? undefined : String(ctx.params['type']);
        await record(ctx, log, {
          ...base(ctx, token),
          action: 'denied',
          outcome: 'denied',
          reason: err.code,
          ...(DENIAL_EXCEPTIONS[err.code] ? { exception: DENIAL_EXCEPTIONS[err.code] } : {}),
          ...(type !== undefined && isLoggableResourceType(type) ? { resourceType: type } : {}),
          // A read refused for a resource the record holds: which, and why (set by the route).
          ...(ctx.state['withheld'] ? { withheld: ctx.state['withheld'] as WithheldItem[] } : {}),
          ...(Object.keys(sourceDetail(ctx)).length ? { detail: sourceDetail(ctx) } : {}),
        });
      }
      throw err;
    }
    const token = ctx.state['token'] as TokenAccess | undefined;
    const facts = ctx.state['audit'] as AuditFacts | undefined;
    if (!token || !facts) return;
    const entryOf = (token: TokenAccess, facts: AuditFacts, returned: string[] | undefined, detail: AccessLogDetail = {}, withheld = facts.withheld): AccessLogEntry => {
      const params = loggableParams(facts.queryParams);
      const merged = { ...params.detail, ...detail, ...sourceDetail(ctx) };
      return {
        ...base(ctx, token),
        action: facts.action,
        outcome: 'success',
        ...(isLoggableResourceType(facts.resourceType) ? { resourceType: facts.resourceType } : {}),
        ...(returned ? { returned, resultCount: facts.resultCount ?? returned.length } : {}),
        ...(withheld?.length ? { withheld } : {}),
        ...(params.queryParams ? { queryParams: params.queryParams } : {}),
        ...(Object.keys(merged).length ? { detail: merged } : {}),
      };
    };
    const entry = (returned: string[] | undefined, detail?: AccessLogDetail, withheld = facts.withheld) => entryOf(token, facts, returned, detail, withheld);
    // A user-level token's answer drawn from several patients' records: an entry in each one's log.
    for (const also of (ctx.state['auditAlso'] as { token: TokenAccess; facts: AuditFacts }[] | undefined) ?? []) {
      await record(ctx, log, entryOf(also.token, also.facts, also.facts.returned));
    }
    if (facts.returnedWhenSent) {
      // AUD-1: the access is on record before its first byte goes out; if it cannot be, nothing
      // is sent (the route's stream has not started: Koa sends the body after this returns).
      await record(ctx, log, entry(undefined, { stream: 'started' }));
      // The ids are known only once the stream ends; the response is gone by then, so a failure
      // can only be logged (the entry above already records the access).
      const logger = ctx.state['log'] as { error?: (o: object, msg: string) => void } | undefined;
      facts.returnedWhenSent
        // What was withheld is on the first entry only: the report counts each withheld item once.
        .then((sent) => log.write(entry(sent.returned, { stream: sent.complete ? 'sent' : 'ended-early' }, [])))
        .catch((err: unknown) => logger?.error?.({ err: errorKind(err) }, 'access log write of a streamed response\'s ids failed'));
      return;
    }
    await record(ctx, log, entry(facts.returned));
  };
}

/**
 * Writes an entry before the response. A failure is never the client's fault and never answered
 * with the data: 503, logged without the entry (it names the patient and what was read).
 */
async function record(ctx: Context, log: AccessLogWriter, entry: AccessLogEntry): Promise<void> {
  try {
    await log.write(entry);
  } catch (err) {
    (ctx.state['log'] as { error?: (o: object, msg: string) => void } | undefined)?.error?.({ err: errorKind(err) }, 'access log write failed');
    throw new OperationOutcomeError('UPSTREAM_UNAVAILABLE', 'The request could not be recorded; retry later', { 'Retry-After': '5' });
  }
}

/** The error's class and code only: messages of validation and database errors can quote ids or values. */
function errorKind(err: unknown): { type: string; code?: string } {
  const e = err as { name?: unknown; code?: unknown } | null;
  return { type: typeof e?.name === 'string' ? e.name : typeof err, ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

/**
 * Parameter names as the log may hold them (PARAM_NAME): a name the client spelled otherwise
 * (non-ASCII, a leading digit, a space, too long) is counted, not stored, so the entry still
 * records the request and that it carried such names.
 */
function loggableParams(names: readonly string[] | undefined): { queryParams?: string[]; detail?: AccessLogDetail } {
  if (!names) return {};
  const unique = [...new Set(names)];
  const kept = unique.filter(isLoggableParamName);
  const dropped = unique.length - kept.length;
  return { queryParams: kept, ...(dropped ? { detail: { unloggableParams: dropped } } : {}) };
}

/** Behind a proxy the address comes from X-Forwarded-For, which the client writes. */
function sourceDetail(ctx: Context): AccessLogDetail {
  return isLoggableIdentifier(ctx.ip) ? {} : { sourceAddress: 'unloggable' };
}

function base(ctx: Context, token: TokenAccess) {
  return {
    patientId: token.patientId,
    actor: { kind: token.actorKind, id: token.accountId, ...(token.fhirUser ? { fhirUser: token.fhirUser.replace(/^.*\/(Patient|RelatedPerson|Practitioner)\//, '$1/') } : {}) },
    onBehalfOf: token.patientId,
    client: { id: token.clientId },
    scopes: formatScopes(token.scopes),
    grantId: token.grantId,
    ...(token.delegationId ? { delegationId: token.delegationId } : {}),
    requestId: String(ctx.state['requestId'] ?? ''),
    ...(isLoggableIdentifier(ctx.ip) ? { sourceAddress: ctx.ip } : {}),
  } as const;
}
