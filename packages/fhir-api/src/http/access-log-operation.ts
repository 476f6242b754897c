/**
 * GET Patient/{id}/$access-log: who accessed this record, as FHIR AuditEvent resources read from
 * the patient's own hash-chained access log (AUD-3), newest first, paged with `_count` and a
 * cursor, narrowed with `_since`. For the token's own patient only (any other id is the 404 of a
 * missing one), with AuditEvent search in scope; the portal and every app get the same view.
 *
 * What the viewer could not read themselves is never named: returned references pass through the
 * viewer's access plan (a parent of a 15-year-old does not learn of confidential results from the
 * log, PRX-3), and a limited proxy does not see the adolescent's own sessions at all (when and with
 * which apps a minor uses their record is part of what their confidentiality protects). Staff
 * identities are shown only when policy allows (hidden by default).
 */
import type { Context } from 'koa';
import { AuditEventCursorError, grantFor, type AuditEventPage, type AuditEventViewOptions } from '@patient-access/consent';
import { accessScope } from '../access/access-filters.js';
import type { TokenAccess } from '../access/token-access.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { AuditFacts } from './access-audit.js';

export const ACCESS_LOG_OPERATION = {
  name: 'access-log',
  definition: 'https://patient-access.dev/fhir/OperationDefinition/Patient-access-log',
} as const;

export type AccessLogReader = (patientId: string, options: AuditEventViewOptions) => Promise<AuditEventPage>;

const MAX = 500;
const INSTANT = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

export async function accessLogOperation(ctx: Context, o: { store: ResourceStore; read: AccessLogReader; fhirBaseUrl: string }, token: TokenAccess): Promise<void> {
  const { id } = ctx.params as { id: string };
  if (grantFor(token.scopes, token.contexts, 'AuditEvent', 'search').kind === 'none') {
    throw new OperationOutcomeError('INSUFFICIENT_SCOPE', "The token's scopes do not allow search of AuditEvent", {
      'WWW-Authenticate': 'Bearer realm="fhir", error="insufficient_scope", error_description="search of AuditEvent is not in scope"',
    });
  }
  const scope = accessScope(token, 'read');
  const own = id === token.patientId && (await o.store.read('Patient', id, { ...scope, forType: (t) => scope.planFor!(t) })) !== undefined;
  if (!own) throw new OperationOutcomeError('NOT_FOUND', `Patient/${id} is not known`);

  const strict = /handling=strict/i.test(ctx.get('Prefer'));
  const kept: [string, string][] = [];
  const options: { count?: number; since?: Date; cursor?: string } = {};
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(ctx.querystring)) {
    if (seen.has(name)) throw new OperationOutcomeError('INVALID_SEARCH_PARAMETER', `Parameter ${name} may appear only once`);
    seen.add(name);
    switch (name) {
      case '_count':
        if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > MAX) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', `_count must be between 1 and ${MAX}`);
        options.count = Number(value);
        break;
      case '_since': {
        const at = INSTANT.test(value) ? new Date(value) : undefined;
        if (!at || Number.isNaN(at.getTime())) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', `Invalid _since: ${value}`);
        options.since = at;
        break;
      }
      case '_cursor':
        options.cursor = value;
        continue; // not part of the self link
      case '_format':
      case '_pretty':
        break;
      default:
        if (strict) throw new OperationOutcomeError('UNSUPPORTED_SEARCH_PARAMETER', `Unknown parameter for $access-log: ${name}`);
        continue;
    }
    kept.push([name, value]);
  }

  const limitedProxy = token.actorKind === 'proxy' && token.plan.level === 'limited';
  let page: AuditEventPage;
  try {
    page = await o.read(id, {
      ...options,
      staffIdentity: 'hidden',
      visibleRefs: (refs) => o.store.visibleReferences(refs, scope),
      // PRX-3: a limited proxy does not see the adolescent's own sessions.
      ...(limitedProxy ? { includeEntry: (entry) => entry.actorKind !== 'patient' } : {}),
    });
  } catch (err) {
    if (err instanceof AuditEventCursorError) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', 'Invalid paging cursor');
    throw err;
  }
  ctx.state['audit'] = { action: 'search', resourceType: 'AuditEvent', returned: [], resultCount: page.events.length } satisfies AuditFacts;

  const base = `${o.fhirBaseUrl}/Patient/${id}/$access-log`;
  const link = (extra: [string, string][]) => {
    const qs = new URLSearchParams([...kept, ...extra]).toString();
    return `${base}${qs ? `?${qs}` : ''}`;
  };
  ctx.type = 'application/fhir+json';
  ctx.body = {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: link([]) }, ...(page.nextCursor ? [{ relation: 'next', url: link([['_cursor', page.nextCursor]]) }] : [])],
    ...(page.events.length ? { entry: page.events.map((resource) => ({ resource, search: { mode: 'match' } })) } : {}),
  };
}
