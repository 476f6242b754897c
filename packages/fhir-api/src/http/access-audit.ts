/**
 * Rate limits and the access log around every PHI route. Limits are per client and patient for
 * token holders and per address otherwise, identical for the portal and every third-party app
 * (RL-1, IB-5). Every read, search and denial with a known token is written to the access log
 * before the response goes out (AUD-1): ids of what was returned, never the data.
 */
import type { Context, Middleware } from 'koa';
import { formatScopes, rateLimitHeaders, rateLimitKey, type AccessLogAction, type AccessLogWriter, type BlockingException, type RateLimits } from '@patient-access/consent';
import type { TokenAccess } from '../access/token-access.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';

/** What a route disclosed, set on ctx.state.audit by the route. */
export interface AuditFacts {
  action: Extract<AccessLogAction, 'read' | 'search' | 'everything'>;
  resourceType: string;
  returned?: string[];
  /**
   * For a streamed response: what was actually sent, known once the stream ends (or the client
   * goes away). The entry is written then, with exactly those ids.
   */
  returnedWhenSent?: Promise<string[]>;
  queryParams?: string[];
  resultCount?: number;
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
        await log.write({
          ...base(ctx, token),
          action: 'denied',
          outcome: 'denied',
          reason: err.code,
          ...(DENIAL_EXCEPTIONS[err.code] ? { exception: DENIAL_EXCEPTIONS[err.code] } : {}),
          ...(ctx.params['type'] ? { resourceType: String(ctx.params['type']) } : {}),
        });
      }
      throw err;
    }
    const token = ctx.state['token'] as TokenAccess | undefined;
    const facts = ctx.state['audit'] as AuditFacts | undefined;
    if (!token || !facts) return;
    const entry = (returned: string[] | undefined) => ({
      ...base(ctx, token),
      action: facts.action,
      outcome: 'success' as const,
      resourceType: facts.resourceType,
      ...(returned ? { returned, resultCount: facts.resultCount ?? returned.length } : {}),
      ...(facts.queryParams ? { queryParams: facts.queryParams } : {}),
    });
    if (facts.returnedWhenSent) {
      const logger = ctx.state['log'] as { error?: (o: object, msg: string) => void } | undefined;
      facts.returnedWhenSent.then((ids) => log.write(entry(ids))).catch((err: unknown) => logger?.error?.({ err: String(err) }, 'access log write failed'));
      return;
    }
    await log.write(entry(facts.returned));
  };
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
    sourceAddress: ctx.ip,
  } as const;
}
