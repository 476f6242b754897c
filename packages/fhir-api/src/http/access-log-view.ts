/**
 * The patient's access log (AUD-3) as FHIR AuditEvent resources: who accessed the record, when,
 * with which app, and what they received. AuditEvent at this API IS that log: `GET AuditEvent?…`
 * (and POST `_search`), `GET AuditEvent/{id}`, and the older `GET Patient/{id}/$access-log`, all
 * one view read from the patient's own hash-chained log, never from the resource store. Only the
 * token's own patient's log; the portal and every app get the same view.
 *
 * What the viewer could not read themselves is never named: returned references pass through the
 * viewer's access plan (a parent of a 15-year-old does not learn of confidential results from the
 * log, PRX-3), and a limited proxy does not see the adolescent's own sessions at all (when and with
 * which apps a minor uses their record is part of what their confidentiality protects). Staff
 * identities are shown only when policy allows (hidden by default).
 */
import type { Context } from 'koa';
import { AuditEventCursorError, grantFor, type AuditEventPage, type AuditEventViewOptions, type Interaction } from '@patient-access/consent';
import { accessScope } from '../access/access-filters.js';
import { insufficientScope, type TokenAccess } from '../access/token-access.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { dateCondition, or, type Sql } from '../search/filter-sql.js';
import type { Filter, PageCursor, SearchRequest } from '../search/search-request.js';
import type { ResourceStore, SearchResult, StoredResource } from '../store/resource-store.js';
import type { AuditFacts } from './access-audit.js';
import { searchsetBundle } from './bundle.js';

export type AccessLogReader = (patientId: string, options: AuditEventViewOptions) => Promise<AuditEventPage>;

export interface AccessLogViewDeps {
  store: ResourceStore;
  read: AccessLogReader;
  fhirBaseUrl: string;
}

const MAX = 500;
const INSTANT = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;
const ENTRY_COLUMN = 'l.recorded_at';

/**
 * AuditEvent scope for the interaction, unconstrained: a query-parameter scope (`…AuditEvent.rs?x=y`)
 * names search parameters of stored resources, which the log cannot be held to: it grants nothing here.
 */
function requireLogScope(token: TokenAccess, interaction: Interaction): void {
  if (grantFor(token.scopes, token.contexts, 'AuditEvent', interaction).kind !== 'all') throw insufficientScope('AuditEvent', interaction);
}

/**
 * How this viewer sees the log of `patientId`, or undefined when it may not see it at all: only
 * its own patient's, whose record its plan still shows (anything else is answered like a log that
 * does not exist). The view names only what the viewer may read, and leaves out whose sessions it
 * may not see.
 */
async function viewOf(o: AccessLogViewDeps, token: TokenAccess, patientId: string): Promise<Pick<AuditEventViewOptions, 'staffIdentity' | 'visibleRefs' | 'omitActors'> | undefined> {
  if (patientId !== token.patientId) return undefined;
  const scope = accessScope(token, 'read');
  if ((await o.store.read('Patient', patientId, { ...scope, forType: (t) => scope.planFor!(t) })) === undefined) return undefined;
  const limitedProxy = token.actorKind === 'proxy' && token.plan.level === 'limited';
  return {
    staffIdentity: 'hidden',
    visibleRefs: (refs) => o.store.visibleReferences(refs, scope),
    // PRX-3: a limited proxy does not see the adolescent's own sessions.
    ...(limitedProxy ? { omitActors: ['patient'] } : {}),
  };
}

async function readLog(o: AccessLogViewDeps, patientId: string, options: AuditEventViewOptions): Promise<AuditEventPage> {
  try {
    return await o.read(patientId, options);
  } catch (err) {
    if (err instanceof AuditEventCursorError) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', 'Invalid paging cursor');
    throw err;
  }
}

/** GET AuditEvent/{id}: one entry of the token's own patient's log; anything else is the 404 of a missing one. */
export async function auditEventRead(ctx: Context, o: AccessLogViewDeps, token: TokenAccess, id: string): Promise<void> {
  requireLogScope(token, 'read');
  const view = await viewOf(o, token, token.patientId);
  const page = view ? await readLog(o, token.patientId, { ...view, ids: [id], count: 1 }) : { events: [] };
  const event = page.events[0];
  if (!event) throw new OperationOutcomeError('NOT_FOUND', `AuditEvent/${id} is not known`);
  ctx.state['audit'] = { action: 'read', resourceType: 'AuditEvent', returned: [], resultCount: 1 } satisfies AuditFacts;
  // What an entry names depends on the viewer's plan at the time: no validator.
  ctx.type = 'application/fhir+json';
  ctx.body = event;
}

/**
 * The search's filters as conditions on the log, or `false` when they cannot match the token's own
 * log. Every filter the AuditEvent parameters can produce is handled; any other is refused rather
 * than ignored (ignoring a filter would widen the answer).
 */
function logConditions(request: SearchRequest, patientId: string): { where: Sql[]; ids?: string[] } | false {
  const where: Sql[] = [];
  let ids: string[] | undefined;
  for (const f of request.filters as Filter[]) {
    switch (f.kind) {
      case 'reference':
        // `patient`: the log is the token's patient's; naming anyone else matches nothing.
        if (f.param !== 'patient') break;
        if (!f.values.includes(`Patient/${patientId}`)) return false;
        continue;
      case 'date':
        if (f.param !== 'date') break;
        where.push(or(f.values.map((v) => dateCondition(ENTRY_COLUMN, ENTRY_COLUMN, v))));
        continue;
      case 'lastUpdated':
        // An entry never changes after it is recorded.
        where.push(or(f.values.map((v) => dateCondition(ENTRY_COLUMN, ENTRY_COLUMN, v))));
        continue;
      case 'id':
        ids = ids ? ids.filter((id) => f.values.includes(id)) : [...f.values];
        continue;
      case 'token':
        // `_tag`, `_security`: log entries carry neither, so only a `:not` search matches them.
        if (f.param !== '_tag' && f.param !== '_security') break;
        if (!f.not) return false;
        continue;
      default:
        break;
    }
    throw new OperationOutcomeError('UNSUPPORTED_SEARCH_PARAMETER', `AuditEvent (the access log) cannot be searched by ${'param' in f ? f.param : f.kind}`);
  }
  return { where, ...(ids ? { ids } : {}) };
}

/** The log cursor inside the API's grant-bound page cursor. */
function logCursor(cursor: PageCursor | undefined): string | undefined {
  if (!cursor) return undefined;
  if ('afterId' in cursor) return cursor.afterId;
  throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', 'Invalid paging cursor');
}

/**
 * AuditEvent search (GET and POST `_search`), parsed like every other search (parameters,
 * strictness, `_count`, `_summary=count`, `_total`, `_elements`, `_sort` by date or _lastUpdated),
 * answered from the token's own patient's log. Newest first unless `_sort=date`.
 */
export async function auditEventSearch(
  ctx: Context,
  o: AccessLogViewDeps,
  token: TokenAccess,
  request: SearchRequest,
  pairs: [string, string][],
  encodeCursor: (cursor: PageCursor) => string,
): Promise<void> {
  requireLogScope(token, 'search');
  const conditions = logConditions(request, token.patientId);
  const view = conditions ? await viewOf(o, token, token.patientId) : undefined;
  const sort = request.sort[0];
  const page: AuditEventPage =
    conditions && view
      ? await readLog(o, token.patientId, {
          ...view,
          count: request.summaryCount ? 0 : Math.min(request.count, MAX),
          ...(sort ? { ascending: !sort.descending } : {}),
          ...(conditions.ids ? { ids: conditions.ids } : {}),
          ...(conditions.where.length ? { where: { sql: conditions.where.map((c) => `(${c.sql})`).join(' and '), bindings: conditions.where.flatMap((c) => c.bindings) } } : {}),
          ...(request.summaryCount || request.totalMode === 'accurate' ? { total: true } : {}),
          ...(request.cursor ? { cursor: logCursor(request.cursor)! } : {}),
        })
      : { events: [], total: 0 };
  const matches: StoredResource[] = request.summaryCount
    ? []
    : page.events.map((e) => ({ resourceType: 'AuditEvent', id: e.id!, versionId: 1, lastUpdated: new Date(e.recorded), json: JSON.stringify(e) }));
  const result: SearchResult = { matches, included: [], ...(request.totalMode === 'accurate' || request.summaryCount ? { total: page.total ?? 0 } : {}) };
  ctx.state['audit'] = {
    action: 'search',
    resourceType: 'AuditEvent',
    returned: [],
    queryParams: [...new Set(pairs.map(([k]) => k))],
    resultCount: request.summaryCount ? (page.total ?? 0) : matches.length,
  } satisfies AuditFacts;
  ctx.type = 'application/fhir+json';
  ctx.body = searchsetBundle({
    baseUrl: o.fhirBaseUrl,
    request,
    pairs,
    result,
    nextCursor: !request.summaryCount && page.nextCursor ? encodeCursor({ afterId: page.nextCursor }) : undefined,
  });
}

/**
 * The `$access-log` paging cursor: the log's cursor (the id of the page's last entry, which tells
 * nothing of entries this viewer does not see) bound to the grant that made it, as AuditEvent
 * search's cursors are; a cursor of another token, or edited, is refused.
 */
function operationCursor(logCursor: string, grantId: string): string {
  return Buffer.from(JSON.stringify({ c: logCursor, g: grantId })).toString('base64url');
}

function fromOperationCursor(raw: string, grantId: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { c?: unknown; g?: unknown } | null;
    if (parsed && parsed.g === grantId && typeof parsed.c === 'string') return parsed.c;
  } catch {
    // fall through
  }
  throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', 'Invalid paging cursor');
}

/** GET Patient/{id}/$access-log: the same view, with `_count`, `_since` and a cursor. */
export async function accessLogOperation(ctx: Context, o: AccessLogViewDeps, token: TokenAccess): Promise<void> {
  const { id } = ctx.params as { id: string };
  requireLogScope(token, 'search');
  const view = await viewOf(o, token, id);
  if (!view) throw new OperationOutcomeError('NOT_FOUND', `Patient/${id} is not known`);

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
        options.cursor = fromOperationCursor(value, token.grantId);
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

  const page = await readLog(o, id, { ...options, ...view });
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
    link: [{ relation: 'self', url: link([]) }, ...(page.nextCursor ? [{ relation: 'next', url: link([['_cursor', operationCursor(page.nextCursor, token.grantId)]]) }] : [])],
    ...(page.events.length ? { entry: page.events.map((resource) => ({ fullUrl: `${o.fhirBaseUrl}/AuditEvent/${resource.id}`, resource, search: { mode: 'match' } })) } : {}),
  };
}
