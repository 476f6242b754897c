/**
 * The read-only FHIR interactions: read, search (GET and POST _search), Patient/$everything,
 * Patient/$access-log, and 405 for every write.
 * Each PHI route first resolves the token's access (token-access.ts) and then asks the store,
 * which applies that access inside the SQL. Responses carrying PHI are never cached.
 */
import { Readable } from 'node:stream';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { grantFor, type AccessLogWriter, type Interaction, type RateLimits, type WithheldItem } from '@patient-access/consent';
import { accessScope } from '../access/access-filters.js';
import { insufficientScope, type AccessResolver, type TokenAccess } from '../access/token-access.js';
import { accessAudit, limitRequest, type AuditFacts, type SentIds } from './access-audit.js';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { MAX_COUNT, parseSearch } from '../search/parse-search.js';
import { MAX_INSTANT, MIN_INSTANT } from '../search/normalize.js';
import { isCompartmentType, supportedResourceTypes } from '../search/registry.js';
import { SearchError, type Filter, type PageCursor, type SearchRequest } from '../search/search-request.js';
import { searchRoute } from '../access/patient-routing.js';
import type { ResourceStore, SearchOptions, StoredResource, WithheldMatch } from '../store/resource-store.js';
import { searchsetBundle } from './bundle.js';
import { accessLogOperation, auditEventRead, auditEventSearch, type AccessLogReader } from './access-log-view.js';

export interface FhirRouteDeps {
  store: ResourceStore;
  fhirBaseUrl: string;
  /** The patient's access log as AuditEvents (AuditEvent read and search, Patient/$access-log). */
  readAccessLog: AccessLogReader;
  resolveAccess: AccessResolver;
  rateLimits?: RateLimits;
  accessLog?: AccessLogWriter;
  /**
   * What a read or search withheld from the token and why, for its access-log entry (AUD-1):
   * explainWithheld over the store. Unset: entries name what was returned only.
   */
  withheldFor?: (token: TokenAccess, types: string | readonly string[], filters: Filter[], interaction: Interaction, o?: { outsideScopes?: boolean }) => Promise<WithheldItem[]>;
  /**
   * The reasons for what a search's first page found withheld in its own statement (ResourceStore
   * .search with withheldLimit; withheldItems). Set with withheldFor: a search's page then reports
   * its withheld matches in one pass; `_summary=count` still asks withheldFor.
   */
  withheldReasons?: { limit: number; explain: (token: TokenAccess, rows: WithheldMatch[]) => Promise<WithheldItem[]> };
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** A search cursor's keyset position: a resource id, or the access log's own (base64url) cursor. */
const CURSOR_AFTER_ID = /^[A-Za-z0-9\-._]{1,128}$/;
/** Far beyond any record's size, and within the integer range the SQL OFFSET and JSON take exactly. */
const MAX_CURSOR_OFFSET = 2_000_000_000;
const FORM = 'application/x-www-form-urlencoded';

export function fhirRoutes(deps: FhirRouteDeps): Router {
  const router = new Router({ prefix: '/fhir' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '64kb' });
  // A body the form parser would skip (JSON, text) would leave the search to the query string
  // alone, i.e. silently wider than asked: refused instead. No body at all is fine.
  const formOnly: Middleware = async (ctx, next) => {
    const hasBody = ctx.get('Transfer-Encoding') !== '' || (ctx.request.length ?? 0) > 0;
    if (hasBody && !ctx.request.is(FORM)) throw new OperationOutcomeError('UNSUPPORTED_MEDIA_TYPE', `POST _search takes an ${FORM} body`);
    await next();
  };
  // AuditEvent at this API is the patient's access log (access-log-view.ts), not stored resources.
  const logView = { store: deps.store, read: deps.readAccessLog, fhirBaseUrl: deps.fhirBaseUrl };

  router.use(accessAudit(deps.accessLog));

  const requireScope = (token: TokenAccess, type: string, interaction: Interaction): void => {
    if (grantFor(token.scopes, token.contexts, type, interaction).kind === 'none') throw insufficientScope(type, interaction);
  };

  /** `fresh`: read the grant's context from the database, for reads that carry no epoch guard. */
  const access = async (ctx: Context, type: string, interaction: Interaction, fresh = false): Promise<TokenAccess> => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    const authorization = ctx.get('Authorization') || undefined;
    if (!authorization) await limitRequest(ctx, deps.rateLimits, undefined);
    let token: TokenAccess;
    try {
      token = await deps.resolveAccess(authorization, { fresh });
    } catch (err) {
      // A refused token is counted against the address, like no token (RL-1): otherwise a stream
      // of forged or revoked tokens, each costing a verification, would meet no limit at all.
      if (authorization && err instanceof OperationOutcomeError) await limitRequest(ctx, deps.rateLimits, undefined);
      throw err;
    }
    ctx.state['token'] = token;
    await limitRequest(ctx, deps.rateLimits, token);
    if (!supportedResourceTypes.has(type)) throw new OperationOutcomeError('NOT_FOUND', `Resource type ${type} is not supported`);
    if (grantFor(token.scopes, token.contexts, type, interaction).kind === 'none' && token.patients.length > 1) {
      // A user-level token: one patient may have narrowed her part; the request goes on under the
      // first covered patient whose part still allows it (routes then try the others as usual).
      for await (const other of otherAccesses(ctx, token, type, interaction, fresh)) {
        ctx.state['token'] = other;
        return other;
      }
    }
    requireScope(token, type, interaction);
    return token;
  };

  /**
   * Under a remembered context, an empty answer may only mean that the context changed since (the
   * epoch guard refused every row): it is confirmed against the database before it is given. The
   * current access, if it differs, is returned for the caller to answer again; its denial, if the
   * context now denies, is thrown. Answers with rows need no confirmation: the guard passed.
   */
  const recheck = async (ctx: Context, token: TokenAccess, type: string, interaction: Interaction): Promise<TokenAccess | undefined> => {
    if (token.fresh) return undefined;
    const current = await deps.resolveAccess(ctx.get('Authorization') || undefined, { fresh: true, patientId: token.patientId });
    if (current.epoch === token.epoch) return undefined;
    ctx.state['token'] = current;
    requireScope(current, type, interaction);
    return current;
  };

  /**
   * A user-level token's access to another patient it covers (patient-routing.ts); the token's own
   * when it is hers. Its denial (an ended delegation: PROXY_SCOPE_EXCEEDED) or missing scope is thrown.
   */
  const accessTo = async (ctx: Context, token: TokenAccess, patientId: string, type: string, interaction: Interaction, fresh = false): Promise<TokenAccess> => {
    if (patientId === token.patientId) return token;
    let other: TokenAccess;
    try {
      other = await deps.resolveAccess(ctx.get('Authorization') || undefined, { patientId, fresh });
    } catch (err) {
      // The token itself is good (it answers for another patient): only this patient's part ended
      // (her row revoked on the connected-apps page). Not a 401, which would send the app to sign in again.
      if (err instanceof OperationOutcomeError && err.code === 'UNAUTHORIZED') throw coverageEnded();
      throw err;
    }
    ctx.state['token'] = other;
    requireScope(other, type, interaction);
    return other;
  };

  /** Each other covered patient's access able to `interaction` the type, skipping those denied. */
  const otherAccesses = async function* (ctx: Context, token: TokenAccess, type: string, interaction: Interaction, fresh = false): AsyncGenerator<TokenAccess> {
    for (const patientId of token.patients.slice(1)) {
      let other: TokenAccess;
      try {
        other = await deps.resolveAccess(ctx.get('Authorization') || undefined, { patientId, fresh });
      } catch (err) {
        if (err instanceof OperationOutcomeError) continue;
        throw err;
      }
      if (grantFor(other.scopes, other.contexts, type, interaction).kind !== 'none') yield other;
    }
  };

  /** Patient/{id}/$operation: a user-level token answers under that patient's access, if it covers her. */
  const routedById = async (ctx: Context, token: TokenAccess, interaction: Interaction, fresh = false): Promise<TokenAccess> => {
    const { id } = ctx.params as { id: string };
    return token.patients.includes(id) ? accessTo(ctx, token, id, 'Patient', interaction, fresh) : token;
  };

  /** An access-log entry by id, in the log of whichever covered patient holds it (each log is read fresh). */
  const auditEventReadAny = async (ctx: Context, token: TokenAccess, id: string): Promise<void> => {
    if (token.patients.length === 1) return auditEventRead(ctx, logView, token, id);
    for (const t of [token, ...(await fromAsync(otherAccesses(ctx, token, 'AuditEvent', 'read', true)))]) {
      try {
        ctx.state['token'] = t;
        return await auditEventRead(ctx, logView, t, id);
      } catch (err) {
        if (!(err instanceof OperationOutcomeError) || err.code !== 'NOT_FOUND') throw err;
      }
    }
    ctx.state['token'] = token;
    throw new OperationOutcomeError('NOT_FOUND', `AuditEvent/${id} is not known`);
  };

  router.get('/:type/:id', async (ctx) => {
    const { type, id } = ctx.params as { type: string; id: string };
    ctx.state['route'] = '/fhir/:type/:id';
    // The access log's own reads carry no epoch guard: the context is read for this request.
    const token = await access(ctx, type, 'read', type === 'AuditEvent');
    if (type === 'AuditEvent') return auditEventReadAny(ctx, token, id);
    // Same answer for "no such id" and "not yours": existence never leaks.
    const read = async (t: TokenAccess) => (ID.test(id) ? deps.store.read(type, id, accessScope(t, 'read')) : undefined);
    let reader = token;
    let found = await read(reader);
    // A user-level token: the resource may be in the record of another patient it covers.
    const tried = [token];
    if (!found && token.patients.length > 1 && isCompartmentType(type)) {
      for await (const other of otherAccesses(ctx, token, type, 'read')) {
        tried.push(other);
        if ((found = await read(other))) {
          reader = other;
          break;
        }
      }
    }
    // A not-found is answered (and logged) under each context as it now stands.
    for (const [i, t] of (found ? [] : tried).entries()) {
      let current: TokenAccess | undefined;
      try {
        current = await recheck(ctx, t, type, 'read');
      } catch (err) {
        // One covered patient's access ending does not answer for the others'.
        if (tried.length === 1 || !(err instanceof OperationOutcomeError)) throw err;
      }
      if (!current) continue;
      tried[i] = current;
      if ((found = await read(current))) {
        reader = current;
        break;
      }
    }
    if (!found) {
      // AUD-1: the log (never the response) says whether the patient's record holds it, and why it
      // was withheld, under the context the answer was given in: in the log of the covered
      // patient whose record holds it (the token's first patient's if none does).
      reader = tried[0]!;
      if (deps.withheldFor && ID.test(id) && supportedResourceTypes.has(type)) {
        let withheld: WithheldItem[] = [];
        for (const t of tried) {
          withheld = await deps.withheldFor(t, type, [{ kind: 'id', values: [id] }], 'read', { outsideScopes: true });
          if (withheld.length) {
            reader = t;
            break;
          }
        }
        ctx.state['withheld'] = withheld;
      }
      ctx.state['token'] = reader;
      throw new OperationOutcomeError('NOT_FOUND', `${type}/${id} is not known`);
    }
    ctx.state['token'] = reader;
    ctx.state['audit'] = { action: 'read', resourceType: type, returned: [`${type}/${found.id}`] } satisfies AuditFacts;
    // A redacted report (REL-7) changes when a result is released, without a new version: no validator.
    const etag = found.redacted ? undefined : `W/"${found.versionId}"`;
    if (etag) {
      ctx.set('ETag', etag);
      ctx.set('Last-Modified', found.lastUpdated.toUTCString());
    }
    if (etag && noneMatch(ctx.get('If-None-Match'), etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/fhir+json';
    ctx.body = found.json;
  });

  const search = async (ctx: Context, pairs: [string, string][]) => {
    const { type } = ctx.params as { type: string };
    let token = await access(ctx, type, 'search', type === 'AuditEvent');
    const strict = /handling=strict/i.test(ctx.get('Prefer'));
    let request;
    try {
      request = parseSearch(type, pairs, { strict, fhirBaseUrl: deps.fhirBaseUrl, decodeCursor: (raw) => decodeCursor(raw, token.authorizationId) });
    } catch (err) {
      if (err instanceof SearchError) throw new OperationOutcomeError(err.code, err.message);
      throw err;
    }
    if (token.patients.length > 1) {
      const route = searchRoute(type, request.filters, token.patients);
      if (route.kind === 'patient') token = await accessTo(ctx, token, route.patient, type, 'search', type === 'AuditEvent');
      if (route.kind === 'each') return searchEach(ctx, token, request, pairs);
    }
    if (type === 'AuditEvent') return auditEventSearch(ctx, logView, token, request, pairs, (c) => encodeCursor(c, token.authorizationId));
    // AUD-1: what the search left out of what the token's scopes cover, and why; once per search (its
    // first page), found by the page's own statement where it can be.
    const explain = deps.withheldReasons && !request.cursor ? deps.withheldReasons : undefined;
    const options: SearchOptions = explain ? { withheldLimit: explain.limit } : {};
    let result = await deps.store.search(request, accessScope(token, 'search'), options);
    if (!result.matches.length && !result.total) {
      const current = await recheck(ctx, token, type, 'search');
      if (current) {
        token = current;
        result = await deps.store.search(request, accessScope(current, 'search'), options);
      }
    }
    const withheld =
      explain && result.withheld
        ? await explain.explain(token, result.withheld)
        : deps.withheldFor && !request.cursor
          ? await deps.withheldFor(token, type, request.filters, 'search')
          : [];
    ctx.state['audit'] = {
      action: 'search',
      resourceType: type,
      returned: [...result.matches, ...result.included].map((r) => `${r.resourceType}/${r.id}`),
      ...(withheld.length ? { withheld } : {}),
      queryParams: [...new Set(pairs.map(([k]) => k))],
      ...(request.summaryCount && result.total !== undefined ? { resultCount: result.total } : {}),
    } satisfies AuditFacts;
    ctx.type = 'application/fhir+json';
    ctx.body = searchsetBundle({
      baseUrl: deps.fhirBaseUrl,
      request,
      pairs,
      result,
      nextCursor: result.next ? encodeCursor(result.next, token.authorizationId) : undefined,
    });
  };

  /**
   * A Patient search of a user-level token: under each covered patient's access in turn (each
   * finds at most her own Patient), answered as one page, and logged in each patient's access log
   * whose Patient it returned.
   */
  const searchEach = async (ctx: Context, token: TokenAccess, request: SearchRequest, pairs: [string, string][]) => {
    const matches: StoredResource[] = [];
    const included = new Map<string, StoredResource>();
    let total = 0;
    const audits: { token: TokenAccess; facts: AuditFacts }[] = [];
    const queryParams = [...new Set(pairs.map(([k]) => k))];
    for (const reader of [token, ...(await fromAsync(otherAccesses(ctx, token, 'Patient', 'search')))]) {
      let t = reader;
      let result = await deps.store.search(request, accessScope(t, 'search'));
      if (!result.matches.length && !result.total) {
        const current = await recheck(ctx, t, 'Patient', 'search').catch((err: unknown) => {
          if (err instanceof OperationOutcomeError) return undefined;
          throw err;
        });
        if (current) result = await deps.store.search(request, accessScope((t = current), 'search'));
      }
      matches.push(...result.matches);
      for (const r of result.included) included.set(`${r.resourceType}/${r.id}`, r);
      total += result.total ?? result.matches.length;
      const returned = [...result.matches, ...result.included].map((r) => `${r.resourceType}/${r.id}`);
      // Logged where it disclosed something (a count too), and for the token's first patient always.
      if (returned.length || (result.total ?? 0) > 0 || reader === token) {
        audits.push({ token: t, facts: { action: 'search', resourceType: 'Patient', returned, queryParams, ...(request.summaryCount ? { resultCount: result.total ?? 0 } : {}) } });
      }
    }
    ctx.state['token'] = audits[0]!.token;
    ctx.state['audit'] = audits[0]!.facts;
    ctx.state['auditAlso'] = audits.slice(1);
    ctx.type = 'application/fhir+json';
    ctx.body = searchsetBundle({ baseUrl: deps.fhirBaseUrl, request, pairs, result: { total, matches, included: [...included.values()] }, nextCursor: undefined });
  };

  router.get('/:type', async (ctx) => {
    ctx.state['route'] = '/fhir/:type';
    await search(ctx, queryPairs(ctx.querystring));
  });

  router.post('/:type/_search', formOnly, form, async (ctx) => {
    ctx.state['route'] = '/fhir/:type/_search';
    // The raw body, split like the query string: the parser's own result (qs) drops fields past
    // 1000 and turns `code[a]=1` into objects; here every field counts (parseSearch limits them).
    const fromBody = [...new URLSearchParams(ctx.request.rawBody ?? '')];
    await search(ctx, [...queryPairs(ctx.querystring), ...fromBody]);
  });

  // Some clients percent-encode the `$`.
  router.get(['/Patient/:id/$everything', '/Patient/:id/%24everything'], async (ctx) => {
    ctx.state['route'] = '/fhir/Patient/:id/$everything';
    const token = await routedById(ctx, await access(ctx, 'Patient', 'search'), 'search');
    // everything() adds the ids it sent (AUD-1).
    ctx.state['audit'] = { action: 'everything', resourceType: 'Patient', queryParams: [...new Set(queryPairs(ctx.querystring).map(([k]) => k))] } satisfies AuditFacts;
    await everything(ctx, deps, token, (t) => recheck(ctx, t, 'Patient', 'search'));
  });

  router.get(['/Patient/:id/$access-log', '/Patient/:id/%24access-log'], async (ctx) => {
    ctx.state['route'] = '/fhir/Patient/:id/$access-log';
    // The access log's own reads carry no epoch guard: the context is read for this request.
    const token = await routedById(ctx, await access(ctx, 'Patient', 'read', true), 'read', true);
    // The view reads _since as an instant: one outside the years the database takes is a 400 here.
    for (const [name, value] of queryPairs(ctx.querystring)) {
      const at = name === '_since' ? new Date(value) : undefined;
      if (at && (at < MIN_INSTANT || at > MAX_INSTANT)) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', `Invalid _since: ${value}`);
    }
    await accessLogOperation(ctx, logView, token);
  });

  // Read-only API: every write interaction is refused, whatever the token.
  router.all(['/', '/:type', '/:type/:id', '/:type/:id/{*rest}'], (ctx) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') throw new OperationOutcomeError('NOT_FOUND', 'Not found');
    throw new OperationOutcomeError('METHOD_NOT_ALLOWED', 'This FHIR server is read-only', { Allow: 'GET' });
  });

  return router;
}

/**
 * The patient's compartment types in $everything order: the Patient first, then by type name.
 * Only stored types that read and search serve: AuditEvent is the access log (not the record,
 * and it grows with every request), which the patient reads by AuditEvent search.
 */
const EVERYTHING_TYPES = ['Patient', ...[...supportedResourceTypes].filter((t) => t !== 'Patient' && t !== 'AuditEvent' && isCompartmentType(t)).sort()];
/** Shared (non-compartment) types: included when a shown resource references them. */
const SHARED_TYPES: ReadonlySet<string> = new Set([...supportedResourceTypes].filter((t) => !isCompartmentType(t)));
const EVERYTHING_BATCH = 500;

/**
 * GET Patient/{id}/$everything for the token's own patient: every visible resource of the
 * compartment (search access per type, the same filters as a search), plus the shared resources
 * those reference. Without `_count` the whole record is streamed as one searchset Bundle; with
 * `_count` it is paged with a grant-bound cursor. Any other id is 404 with the body of a missing one.
 */
async function everything(
  ctx: Context,
  deps: FhirRouteDeps,
  remembered: TokenAccess,
  recheck: (t: TokenAccess) => Promise<TokenAccess | undefined>,
): Promise<void> {
  const { id } = ctx.params as { id: string };
  const isOwn = async (t: TokenAccess) => id === t.patientId && ID.test(id) && (await deps.store.read('Patient', id, accessScope(t, 'search'))) !== undefined;
  let token = remembered;
  let own = await isOwn(token);
  if (!own) {
    const current = await recheck(token);
    if (current) {
      token = current;
      own = await isOwn(token);
    }
  }
  const scope = accessScope(token, 'search');
  if (!own) throw new OperationOutcomeError('NOT_FOUND', `Patient/${id} is not known`);
  const audit = ctx.state['audit'] as AuditFacts;
  let firstPage = true;

  const pairs = queryPairs(ctx.querystring);
  const strict = /handling=strict/i.test(ctx.get('Prefer'));
  const kept: [string, string][] = [];
  let types = EVERYTHING_TYPES;
  let sharedTypes = SHARED_TYPES;
  const filters: Filter[] = [];
  let count: number | undefined;
  let after: { type: string; id: string } | undefined;
  const seenParams = new Set<string>();
  for (const [name, value] of pairs) {
    if (seenParams.has(name)) throw new OperationOutcomeError('INVALID_SEARCH_PARAMETER', `Parameter ${name} may appear only once`);
    seenParams.add(name);
    switch (name) {
      case '_type': {
        const wanted = new Set(value.split(','));
        const unknown = [...wanted].filter((t) => !supportedResourceTypes.has(t));
        if (unknown.length) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', `_type names unsupported types: ${unknown.join(', ')}`);
        types = EVERYTHING_TYPES.filter((t) => wanted.has(t));
        sharedTypes = new Set([...SHARED_TYPES].filter((t) => wanted.has(t)));
        break;
      }
      case '_since':
        try {
          filters.push(...parseSearch('Patient', [['_lastUpdated', `ge${value}`]]).filters);
        } catch (err) {
          if (err instanceof SearchError) throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', `Invalid _since: ${value}`);
          throw err;
        }
        break;
      case '_count':
        if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > MAX_COUNT) {
          throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', `_count must be between 1 and ${MAX_COUNT}`);
        }
        count = Number(value);
        break;
      case '_cursor':
        after = decodeEverythingCursor(value, token.grantId);
        firstPage = false;
        continue; // not part of the self link
      case '_format':
      case '_pretty':
        break;
      default:
        if (strict) throw new OperationOutcomeError('UNSUPPORTED_SEARCH_PARAMETER', `Unknown parameter for $everything: ${name}`);
        continue; // lenient: ignored, and left out of the self link
    }
    kept.push([name, value]);
  }

  const base = `${deps.fhirBaseUrl}/Patient/${id}/$everything`;
  const link = (extra: [string, string][]) => {
    const qs = new URLSearchParams([...kept, ...extra]).toString();
    return `${base}${qs ? `?${qs}` : ''}`;
  };
  const entry = (r: StoredResource, mode: 'match' | 'include') =>
    `{"fullUrl":${JSON.stringify(`${deps.fhirBaseUrl}/${r.resourceType}/${r.id}`)},"resource":${r.json},"search":{"mode":"${mode}"}}`;
  const head = (next?: string) =>
    JSON.stringify({ resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'self', url: link([]) }, ...(next ? [{ relation: 'next', url: next }] : [])] });
  // AUD-1: what the record held of these types that the plan withheld, and why; once (the first page).
  if (deps.withheldFor && firstPage) {
    const withheld = await deps.withheldFor(token, types, filters, 'search');
    if (withheld.length) audit.withheld = withheld;
  }
  const rows = deps.store.compartment(id, scope, types, {
    pageSize: count !== undefined ? Math.min(count + 1, EVERYTHING_BATCH) : EVERYTHING_BATCH,
    filters,
    ...(after ? { after } : {}),
  });
  ctx.type = 'application/fhir+json';

  if (count !== undefined) {
    const page: StoredResource[] = [];
    let more = false;
    for await (const r of rows) {
      if (page.length === count) {
        more = true;
        break; // ends the generator: no further pages are fetched
      }
      page.push(r);
    }
    const shared = await deps.store.sharedReferencedBy(id, page, scope, { types: sharedTypes, filters });
    const last = page[page.length - 1];
    const next = more && last ? link([['_cursor', encodeEverythingCursor({ type: last.resourceType, id: last.id }, token.grantId)]]) : undefined;
    const entries = [...page.map((r) => entry(r, 'match')), ...shared.map((r) => entry(r, 'include'))];
    audit.returned = [...page, ...shared].map((r) => `${r.resourceType}/${r.id}`);
    const json = head(next);
    ctx.body = entries.length ? `${json.slice(0, -1)},"entry":[${entries.join(',')}]}` : json;
    return;
  }

  // Streamed: the first batch is read before the status is sent, so an early failure (e.g. the
  // database is down) is still a proper OperationOutcome; a later one aborts the response.
  const batches = batched(rows, EVERYTHING_BATCH);
  const first = await batches.next();
  const seenShared = new Set<string>();
  const store = deps.store;
  // One access log entry is committed before the first byte (access-audit.ts); a second, written
  // when the stream ends, names what was actually sent.
  const sent: string[] = [];
  let complete = false;
  let finished!: (ids: SentIds) => void;
  audit.returnedWhenSent = new Promise<SentIds>((resolve) => (finished = resolve));
  ctx.res.once('close', () => {
    // A client gone before the body was read still leaves its entry (with whatever was sent).
    finished({ returned: [...sent], complete });
    // The body may never start (the first entry could not be written): the reads end here.
    void batches.return(undefined);
  });
  async function* body(): AsyncGenerator<string> {
    yield head().slice(0, -1);
    // FHIR JSON has no empty arrays: "entry" opens with the first entry.
    let sep = ',"entry":[';
    let step = first;
    try {
      while (!step.done) {
        const batch = step.value;
        for (const r of batch) {
          yield sep + entry(r, 'match');
          sent.push(`${r.resourceType}/${r.id}`);
          sep = ',';
        }
        for (const r of await store.sharedReferencedBy(id, batch, scope, { types: sharedTypes, filters })) {
          const key = `${r.resourceType}/${r.id}`;
          if (seenShared.has(key)) continue;
          seenShared.add(key);
          yield sep + entry(r, 'include');
          sent.push(key);
          sep = ',';
        }
        step = await batches.next();
      }
      complete = true;
    } finally {
      finished({ returned: [...sent], complete });
      await batches.return(undefined); // a client that goes away stops the queries
    }
    yield sep === ',' ? ']}' : '}';
  }
  ctx.body = Readable.from(body(), { objectMode: false });
}

async function* batched<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

function encodeEverythingCursor(after: { type: string; id: string }, grantId: string): string {
  return Buffer.from(JSON.stringify({ t: after.type, a: after.id, g: grantId })).toString('base64url');
}

/**
 * Like search cursors: bound to the grant, and only a position (the access filters still apply).
 * An edited position must still be a type of the walk and a FHIR id: it goes into the SQL.
 */
function decodeEverythingCursor(raw: string, grantId: string): { type: string; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { t?: unknown; a?: unknown; g?: unknown };
    if (parsed.g === grantId && typeof parsed.t === 'string' && EVERYTHING_TYPES.includes(parsed.t) && typeof parsed.a === 'string' && ID.test(parsed.a)) {
      return { type: parsed.t, id: parsed.a };
    }
  } catch {
    // fall through
  }
  throw new OperationOutcomeError('INVALID_PARAMETER_VALUE', 'Invalid or foreign paging cursor');
}

function queryPairs(querystring: string): [string, string][] {
  return [...new URLSearchParams(querystring)];
}

/**
 * Paging cursors are bound to the grant that made them: a cursor from another token is refused,
 * and a cursor edited by hand can only move within what this token sees (the SQL filters apply).
 */
function coverageEnded(): OperationOutcomeError {
  return new OperationOutcomeError('INSUFFICIENT_SCOPE', "This token's access to that patient has ended", {
    'WWW-Authenticate': 'Bearer realm="fhir", error="insufficient_scope", error_description="access to this patient has ended"',
  });
}

async function fromAsync<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function encodeCursor(cursor: PageCursor, grantId: string): string {
  return Buffer.from(JSON.stringify({ ...cursor, g: grantId })).toString('base64url');
}

function decodeCursor(raw: string, grantId: string): PageCursor {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { afterId?: unknown; offset?: unknown; g?: unknown };
    // Bound to the grant; an edited position must still be one the SQL takes (an id-like
    // keyset value, an offset within range), answered like any other bad cursor.
    if (parsed.g === grantId) {
      if (typeof parsed.afterId === 'string' && CURSOR_AFTER_ID.test(parsed.afterId)) return { afterId: parsed.afterId };
      const offset = parsed.offset;
      if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 && offset <= MAX_CURSOR_OFFSET) return { offset };
    }
  } catch {
    // fall through
  }
  throw new SearchError('INVALID_PARAMETER_VALUE', 'Invalid or foreign paging cursor');
}

/**
 * If-None-Match for a GET (RFC 9110 §13.1.2): `*`, or a list of entity tags compared weakly
 * (W/"1" matches "1"). A header that does not parse matches nothing: the full response is sent.
 */
function noneMatch(header: string, etag: string): boolean {
  const value = header.trim();
  if (!value) return false;
  if (value === '*') return true;
  const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
  const current = opaque(etag);
  const tags: string[] = [];
  const item = /\s*((?:W\/)?"[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/y;
  while (item.lastIndex < value.length) {
    const start = item.lastIndex;
    const m = item.exec(value);
    if (!m || item.lastIndex === start) return false;
    tags.push(m[1]!);
  }
  return tags.some((t) => opaque(t) === current);
}
