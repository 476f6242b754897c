/**
 * Reads and searches the resource store. Every query is built by `visibleQuery`, which ANDs the
 * caller's AccessScope (compartments, per-type filters) into the SQL, so pages, counts, _include
 * and _revinclude can only ever return rows the caller may see. Stored JSON is passed through as
 * text (no parse and re-stringify on the hot path).
 */
import type { Knex } from 'knex';
import { preparedRows, preparedSql } from '@patient-access/consent';
import { REFERENCES_PARAM } from '../search/extract.js';
import { andSql, bindRequestTime, or, withheldSql, type Sql } from '../search/filter-sql.js';
import { isCompartmentType, supportedResourceTypes } from '../search/registry.js';
import type { Filter, IncludeSpec, PageCursor, SearchRequest, WithheldTargets } from '../search/search-request.js';
import type { AccessScope, TypeAccess } from './access-scope.js';

export interface StoredResource {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: Date;
  /** The resource as stored, serialized JSON. */
  json: string;
  /** References to results the reader may not see were removed from `json` (REL-7). */
  redacted?: boolean;
  /** `Type/id` of the resources this one references that are withheld from the reader (withheldRefsSql), to remove from `json`. */
  withheldRefs?: readonly string[];
}

export interface SearchResult {
  total?: number;
  matches: StoredResource[];
  included: StoredResource[];
  next?: PageCursor;
  /** With SearchOptions.withheldLimit: what the token's scopes cover that the plan withheld (AUD-1), the first ones by id. */
  withheld?: WithheldMatch[];
}

export interface SearchOptions {
  /**
   * On a first page (no cursor, not `_summary=count`): also find, in the same statement, at most
   * this many matches the token's scopes cover that the access plan withholds (AUD-1). Needs
   * AccessScope.scopesFor; otherwise, and for shared types, nothing is reported.
   */
  withheldLimit?: number;
}

/** A resource withheld from the reader, with its row tokens (status, categories, labels) for the caller to name the reason. */
export interface WithheldMatch {
  ref: string;
  rowTokens: string[];
  /** Whether the token's scopes cover it: if not, that is the reason (a read by id looks outside the scopes). */
  inScope: boolean;
}

/** A row of a search page statement: a match with the page's total, or (a split first page) a withheld match's tokens. */
type PageRow = Row & { total?: string | number | null; k?: number | string; withheld_tokens?: string[] | string | null };

interface Row {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date | string;
  content: string;
  withheld_refs?: string[] | string | null;
}

export interface CompartmentOptions {
  /** Rows fetched per query. */
  pageSize?: number;
  /** Resume strictly after this resource (types earlier in the order are skipped). */
  after?: { type: string; id: string };
  filters?: Filter[];
}

/** What every statement that returns resources selects (the Row shape): one list for the written-out read and the built queries. */
const SELECT_LIST = 'r.resource_type, r.id, r.version_id, r.last_updated, r.content::text as content';

/** Where a caller's visible rows of one type are: the table (aliased `r`) and a condition on it. */
interface VisibleWhere {
  table: 'resource' | 'shared_resource';
  sql: string;
  bindings: unknown[];
}

export class ResourceStore {
  constructor(private readonly db: Knex) {}

  async read(resourceType: string, id: string, access: AccessScope): Promise<StoredResource | undefined> {
    const where = this.visibleWhere(resourceType, access, [{ kind: 'id', values: [id] }]);
    if (!where) return undefined;
    const refs = withheldRefsSql(where, access);
    // The hottest statement, written out rather than through knex's builder: the same filter, less CPU per read.
    const [row] = await preparedSql<Row>(
      this.db,
      `select ${SELECT_LIST}${refs.sql} from ${where.table} as r where ${where.sql} limit 1`,
      bindRequestTime([...refs.bindings, ...where.bindings], access.at),
    );
    return row ? (await this.redactResults([toStored(row)], access))[0] : undefined;
  }

  async search(req: SearchRequest, access: AccessScope, o: SearchOptions = {}): Promise<SearchResult> {
    const split = o.withheldLimit && !req.cursor && !req.summaryCount ? this.searchSplit(req.resourceType, access, req.filters) : undefined;
    if (split === null) return { total: 0, matches: [], included: [], withheld: [] };
    const where = split?.where ?? this.visibleWhere(req.resourceType, access, req.filters);
    if (!where) return { total: 0, matches: [], included: [] };
    if (req.summaryCount) return { total: await this.count(where), matches: [], included: [] };
    const page = pageOf(req);
    const withheldPart = split && { visible: split.visible, limit: o.withheldLimit! };
    const all = await preparedSql<PageRow>(this.db, ...searchPageSql(req, page, where, pageWithheldRefs(where, access), access.at, withheldPart));
    const rows = withheldPart ? all.filter((r) => Number(r.k) === 0) : all;
    const withheld = withheldPart
      ? all.filter((r) => Number(r.k) === 1).map((r): WithheldMatch => ({ ref: `${r.resource_type}/${r.id}`, rowTokens: textArray(r.withheld_tokens), inScope: true }))
      : undefined;
    const { wantTotal, sorted, offset } = page;

    let total: number | undefined;
    if (wantTotal) {
      // An empty page after the first (a cursor past the end) has no row to carry the count.
      total = rows.length ? Number(rows[0]!.total) : req.cursor ? await this.count(where) : 0;
    }
    const matches = await this.redactResults(rows.slice(0, req.count).map(toStored), access);
    let next: PageCursor | undefined;
    if (rows.length > req.count) next = sorted ? { offset: offset + req.count } : { afterId: matches[matches.length - 1]!.id };
    const included = await this.redactResults(await this.includes(req, access, matches), access);
    return { ...(total !== undefined ? { total } : {}), matches, included, ...(next ? { next } : {}), ...(withheld ? { withheld } : {}) };
  }

  /**
   * A first page that also reports what it withheld, in one pass (AUD-1): the statement selects the
   * matches the token's scopes cover (`where`) and tells, per row, whether the full access condition
   * (scopes and plan) lets the reader see it (`visible`); only visible rows are paged and counted.
   * undefined: no split for this search (a shared type, no scopesFor, no compartment); null: the
   * scopes cover nothing of the type, so nothing is visible or withheld.
   */
  private searchSplit(resourceType: string, access: AccessScope, filters: Filter[]): { where: VisibleWhere; visible: Sql } | null | undefined {
    if (!isCompartmentType(resourceType) || !access.scopesFor || !access.patientIds.length) return undefined;
    const scopes = access.scopesFor(resourceType);
    if (!scopes || !scopes.anyOf.length) return null;
    const where = this.visibleWhere(resourceType, { ...access, forType: () => scopes }, filters);
    if (!where) return null;
    const full = access.forType(resourceType);
    const visible = full?.anyOf.length ? typeAccessSql(full, false) : { sql: 'false', bindings: [] };
    return { where, visible: { sql: visible.sql, bindings: bindRequestTime(visible.bindings, access.at) } };
  }

  /**
   * Every resource of the patient's compartment visible to the caller (for $everything), type by
   * type in the given order, by id within a type, fetched in pages so that thousands of resources
   * stream in bounded memory. `after` resumes behind a position (paging); `filters` apply to every
   * type (e.g. _lastUpdated for `_since`).
   */
  async *compartment(patientId: string, access: AccessScope, types: Iterable<string>, o: CompartmentOptions = {}): AsyncGenerator<StoredResource> {
    if (!access.patientIds.includes(patientId)) return;
    const narrowed: AccessScope = {
      patientIds: [patientId],
      forType: (t) => access.forType(t),
      planFor: (t) => (access.planFor ?? access.forType)(t),
      ...(access.epoch ? { epoch: access.epoch } : {}),
      ...(access.at ? { at: access.at } : {}),
      ...(access.withheld ? { withheld: access.withheld } : {}),
    };
    const pageSize = o.pageSize ?? 500;
    let after = o.after;
    for (const type of types) {
      if (after && after.type !== type) continue; // types before the resume point were served already
      // A shared type has no compartment: unfiltered, it would be every row of shared_resource.
      if (!isCompartmentType(type)) continue;
      let afterId = after?.id;
      after = undefined;
      for (;;) {
        const q = this.visibleQuery(type, narrowed, o.filters ?? []);
        if (!q) break;
        if (afterId !== undefined) q.where('r.id', '>', afterId);
        const rows = await preparedRows<Row>(this.db, q.select(this.selectColumns(type, narrowed)).orderBy('r.id').limit(pageSize));
        for (const stored of await this.redactResults(rows.map(toStored), narrowed)) yield stored;
        if (rows.length < pageSize) break;
        afterId = rows[rows.length - 1]!.id;
      }
    }
  }

  /**
   * The shared resources (Practitioner, Organization, Medication…) that the given compartment
   * resources reference, as the caller may see them, limited to `types`. Only references from
   * resources the caller was shown are followed, so a hidden resource cannot reveal whom it points at.
   */
  async sharedReferencedBy(
    patientId: string,
    shown: readonly StoredResource[],
    access: AccessScope,
    o: { types: ReadonlySet<string>; filters?: Filter[] },
  ): Promise<StoredResource[]> {
    if (!access.patientIds.includes(patientId) || !shown.length) return [];
    const byType = new Map<string, string[]>();
    for (const r of shown) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r.id]);
    const targets = new Map<string, Set<string>>();
    for (const [type, ids] of byType) {
      if (!isCompartmentType(type)) continue;
      for (const chunk of chunks(ids, 1000)) {
        const rows = (await this.db('search_token')
          .distinct('code')
          .where({ patient_id: patientId, resource_type: type, param: REFERENCES_PARAM })
          .whereIn('resource_id', chunk)) as { code: string }[];
        for (const { code } of rows) {
          const [t, id] = code.split('/') as [string, string | undefined];
          if (id && !isCompartmentType(t) && o.types.has(t)) targets.set(t, (targets.get(t) ?? new Set()).add(id));
        }
      }
    }
    const out: StoredResource[] = [];
    for (const [type, ids] of targets) {
      for (const chunk of chunks([...ids].sort(), 1000)) {
        const q = this.visibleQuery(type, access, [{ kind: 'id', values: chunk }, ...(o.filters ?? [])]);
        if (q) out.push(...((await q.select(selectColumns(this.db)).orderBy('r.id')) as Row[]).map(toStored));
      }
    }
    return out;
  }

  /**
   * What matches `filters` in the reader's compartment and is withheld from them (AUD-1: the
   * access log names what was withheld, and why): rows the token's scopes cover (or, with
   * `outsideScopes`, any) that the full access condition refuses, with their row tokens (status,
   * categories, labels) and whether the scopes cover them, for the caller to give each its reason.
   * At most `limit` rows; nothing for a shared type, or without AccessScope.scopesFor.
   */
  async withheldMatches(
    resourceType: string,
    filters: Filter[],
    access: AccessScope,
    o: { limit: number; outsideScopes?: boolean },
  ): Promise<WithheldMatch[]> {
    if (!isCompartmentType(resourceType) || !access.scopesFor || !access.patientIds.length) return [];
    const everything: AccessScope = { patientIds: access.patientIds, forType: () => ({ anyOf: [[]] }), ...(access.at ? { at: access.at } : {}) };
    const base = this.visibleWhere(resourceType, everything, filters);
    if (!base) return [];
    const scopes = access.scopesFor(resourceType);
    const scoped = scopes ? accessWhere(resourceType, scopes, access, false) : { sql: 'false', bindings: [] };
    const full = access.forType(resourceType);
    const visible = full ? accessWhere(resourceType, full, access, false) : { sql: 'false', bindings: [] };
    const sql =
      `select r.resource_type, r.id, r.row_tokens, coalesce((${scoped.sql}), false) as in_scope from resource as r ` +
      `where ${base.sql}${o.outsideScopes ? '' : ` and coalesce((${scoped.sql}), false)`} and not coalesce((${visible.sql}), false) order by r.id limit ?`;
    const bindings = bindRequestTime([...scoped.bindings, ...base.bindings, ...(o.outsideScopes ? [] : scoped.bindings), ...visible.bindings, o.limit], access.at);
    // Named (prepared once per connection): every first page of a search runs it.
    const rows = await preparedSql<{ resource_type: string; id: string; row_tokens: string[] | string | null; in_scope: boolean }>(this.db, sql, bindings);
    return rows.map((r) => ({ ref: `${r.resource_type}/${r.id}`, rowTokens: textArray(r.row_tokens), inScope: r.in_scope }));
  }

  /**
   * REL-7: a DiagnosticReport's `result` may name Observations the reader may not see (not yet
   * released, held, labelled, another compartment). Those references are removed, so a report
   * never reveals that a withheld result exists. Visibility is the reader's plan, not the token's
   * scopes: a report read without Observation scope still lists its released results.
   */
  private async redactResults(stored: StoredResource[], access: AccessScope): Promise<StoredResource[]> {
    const resources = stored.map(withoutWithheldReferences);
    const reports = resources.filter((r) => r.resourceType === 'DiagnosticReport' && r.json.includes('"result"'));
    if (!reports.length) return resources;
    const parsed = new Map<StoredResource, { result?: { reference?: string }[] }>();
    const refs = new Set<string>();
    for (const r of reports) {
      const resource = JSON.parse(r.json) as { result?: { reference?: string }[] };
      if (!Array.isArray(resource.result)) continue;
      parsed.set(r, resource);
      for (const ref of resource.result) {
        const id = observationId(ref?.reference);
        if (id) refs.add(`Observation/${id}`);
      }
    }
    if (!parsed.size) return resources;
    const visible = await this.visibleReferences([...refs], access);
    return resources.map((r) => {
      const resource = parsed.get(r);
      if (!resource?.result) return r;
      const kept = resource.result.filter((ref) => {
        const id = observationId(ref?.reference);
        // Contained (#…) and non-Observation references name nothing we withhold.
        return id === undefined ? !isObservationReference(ref?.reference) : visible.has(`Observation/${id}`);
      });
      if (kept.length === resource.result.length) return r;
      if (kept.length) resource.result = kept;
      else delete resource.result;
      return { ...r, json: JSON.stringify(resource), redacted: true };
    });
  }

  /**
   * Which of these `Type/id` references the reader may see under their access plan (compartment,
   * release, holds, labels, restrictions), whatever the token's scopes: what may be named to them
   * (report results, the access log). Unknown types and malformed references are not visible.
   */
  async visibleReferences(refs: readonly string[], access: AccessScope): Promise<Set<string>> {
    const planAccess: AccessScope = {
      patientIds: access.patientIds,
      forType: (t) => (access.planFor ?? access.forType)(t),
      ...(access.epoch ? { epoch: access.epoch } : {}),
      ...(access.at ? { at: access.at } : {}),
    };
    const byType = new Map<string, string[]>();
    for (const ref of new Set(refs)) {
      const m = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
      if (m && supportedResourceTypes.has(m[1]!)) byType.set(m[1]!, [...(byType.get(m[1]!) ?? []), m[2]!]);
    }
    const visible = new Set<string>();
    for (const [type, ids] of byType) {
      for (const chunk of chunks(ids, 1000)) {
        const q = this.visibleQuery(type, planAccess, [{ kind: 'id', values: chunk }]);
        // Named: every read of a report with results runs it (prepared.ts leaves long id lists unnamed).
        if (q) for (const { id } of await preparedRows<{ id: string }>(this.db, q.distinct('r.id as id'))) visible.add(`${type}/${id}`);
      }
    }
    return visible;
  }

  /**
   * The one place PHI filters are built: type visibility, compartments and the caller's per-type
   * filters (accessWhere), then the search's own filters, as one WHERE condition over `r` (with
   * `?` bindings, the request's instant bound for the holds). Returns undefined when nothing can be visible.
   */
  private visibleWhere(resourceType: string, access: AccessScope, filters: Filter[]): VisibleWhere | undefined {
    const typeAccess = access.forType(resourceType);
    if (!typeAccess || typeAccess.anyOf.length === 0) return undefined;
    const shared = !isCompartmentType(resourceType);
    if (!shared && access.patientIds.length === 0) return undefined;
    const base = accessWhere(resourceType, typeAccess, access, shared);
    const own = andSql(shared ? filters : filters.map((f) => withheldTargetsExcluded(ownPatientCheck(f, access.patientIds), access.withheld)), shared);
    const sql = own.sql === 'true' ? base.sql : `${base.sql} and (${own.sql})`;
    return { table: shared ? 'shared_resource' : 'resource', sql, bindings: bindRequestTime([...base.bindings, ...own.bindings], access.at) };
  }

  /** The Row columns for a built statement over `r` of this type, with its withheld references. */
  private selectColumns(resourceType: string, access: AccessScope): Knex.Raw {
    const refs = withheldRefsSql({ table: isCompartmentType(resourceType) ? 'resource' : 'shared_resource', sql: '', bindings: [] }, access);
    return this.db.raw(`${SELECT_LIST}${refs.sql}`, bindRequestTime(refs.bindings, access.at) as Knex.RawBinding[]);
  }

  /** visibleWhere as a knex query over `r`, for the statements that are built further. */
  private visibleQuery(resourceType: string, access: AccessScope, filters: Filter[]): Knex.QueryBuilder | undefined {
    const where = this.visibleWhere(resourceType, access, filters);
    // Parenthesized: whatever a caller adds to the query is ANDed to the whole condition, never ORed into it.
    return where && this.db(`${where.table} as r`).whereRaw(`(${where.sql})`, where.bindings as Knex.RawBinding[]);
  }

  private async count(where: VisibleWhere): Promise<number> {
    const [row] = await preparedSql<{ n: string | number }>(this.db, `select count(*) as n from ${where.table} as r where ${where.sql}`, where.bindings);
    return Number(row?.n ?? 0);
  }

  private async includes(req: SearchRequest, access: AccessScope, matches: StoredResource[]): Promise<StoredResource[]> {
    if (!matches.length || (!req.includes.length && !req.revincludes.length)) return [];
    const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
    const out: StoredResource[] = [];
    const add = (rows: Row[]) => {
      for (const row of rows) {
        const key = `${row.resource_type}/${row.id}`;
        if (!seen.has(key)) {
          seen.add(key);
          out.push(toStored(row));
        }
      }
    };
    const ids = matches.map((m) => m.id);
    for (const inc of req.includes) {
      for (const [type, targetIds] of await this.referencedIds(req.resourceType, inc, ids, access)) {
        const q = this.visibleQuery(type, access, [{ kind: 'id', values: targetIds }]);
        if (q) add(await preparedRows<Row>(this.db, q.select(this.selectColumns(type, access))));
      }
    }
    const refs = matches.map((m) => `${m.resourceType}/${m.id}`);
    for (const rev of req.revincludes) {
      const q = this.visibleQuery(rev.sourceType, access, [{ kind: 'reference', param: rev.param, values: refs }]);
      if (q) add(await preparedRows<Row>(this.db, q.select(this.selectColumns(rev.sourceType, access)).orderBy('r.id').limit(5000)));
    }
    return out;
  }

  /** Targets of `inc.param` references from the page's resources, grouped by type. */
  private async referencedIds(type: string, inc: IncludeSpec, ids: string[], access: AccessScope): Promise<Map<string, string[]>> {
    const shared = !isCompartmentType(type);
    const q = this.db('search_token as t')
      .distinct('t.code')
      .where('t.resource_type', type)
      .where('t.param', inc.param)
      .whereIn('t.resource_id', ids);
    if (shared) q.where('t.patient_id', '');
    else q.whereIn('t.patient_id', [...access.patientIds]);
    const byType = new Map<string, string[]>();
    for (const { code } of (await q) as { code: string }[]) {
      const [t, id] = code.split('/') as [string, string];
      if (inc.targetType && inc.targetType !== t) continue;
      byType.set(t, [...(byType.get(t) ?? []), id]);
    }
    return byType;
  }
}

/**
 * The caller's part of every WHERE: the type, the access epoch, the compartments and the type
 * access (scopes, plan: release, holds, labels, restrictions). The same for every statement under
 * one grant context, so it is built once per TypeAccess object (they are shared between requests:
 * access-filters.ts) and compartments; the request's instant stays a REQUEST_TIME binding.
 */
const accessWheres = new WeakMap<TypeAccess, Map<string, Sql>>();

function accessWhere(resourceType: string, typeAccess: TypeAccess, access: AccessScope, shared: boolean): Sql {
  const key = `${resourceType}\0${access.patientIds.join(',')}\0${access.epoch ? `${access.epoch.patientId}\0${access.epoch.value}` : ''}`;
  let byKey = accessWheres.get(typeAccess);
  const known = byKey?.get(key);
  if (known) return known;
  const parts: string[] = ['r.resource_type = ?'];
  const bindings: unknown[] = [resourceType];
  const add = (sql: string, values: readonly unknown[]) => {
    parts.push(`(${sql})`);
    bindings.push(...values);
  };
  // Uncorrelated: PostgreSQL evaluates it once per statement (an InitPlan gating the scan), one key lookup.
  if (access.epoch) add('coalesce((select e.epoch from access_epoch e where e.patient_id = ?), 0) = ?::bigint', [access.epoch.patientId, access.epoch.value]);
  if (!shared) {
    const marks = access.patientIds.map(() => '?').join(', ');
    add(`r.patient_id in (${marks})`, access.patientIds);
    // A resource in several visible compartments is returned once (its lowest-keyed copy).
    if (access.patientIds.length > 1) {
      add(`r.patient_id = (select min(r2.patient_id) from resource r2 where r2.resource_type = r.resource_type and r2.id = r.id and r2.patient_id in (${marks}))`, access.patientIds);
    }
  }
  const own = typeAccessSql(typeAccess, shared);
  if (own.sql !== 'true') add(own.sql, own.bindings);
  const where = { sql: parts.join(' and '), bindings: Object.freeze(bindings) as unknown[] };
  if (!byKey) accessWheres.set(typeAccess, (byKey = new Map()));
  // Bounded: one entry per compartment set and epoch seen under this type access.
  if (byKey.size >= 64) byKey.clear();
  byKey.set(key, where);
  return where;
}

const typeAccessSqls = new WeakMap<TypeAccess, Sql>();

/**
 * The caller's access filters alone (no type, epoch or compartment), as one condition over `r`
 * that tests every candidate row on its own tokens where it has them; 'true' when unrestricted.
 * Kept per TypeAccess (compartment types only: shared types are never split, see searchSplit).
 */
function typeAccessSql(typeAccess: TypeAccess, shared: boolean): Sql {
  const known = shared ? undefined : typeAccessSqls.get(typeAccess);
  if (known) return known;
  const parts: Sql[] = [];
  if (!typeAccess.anyOf.some((set) => set.length === 0)) parts.push(or(typeAccess.anyOf.map((set) => andSql(set, shared, true))));
  const required = andSql(typeAccess.allOf ?? [], shared, true);
  if (required.sql !== 'true') parts.push(required);
  const sql: Sql = parts.length
    ? { sql: parts.map((p) => (parts.length > 1 ? `(${p.sql})` : p.sql)).join(' and '), bindings: parts.flatMap((p) => p.bindings) }
    : { sql: 'true', bindings: [] };
  if (!shared) typeAccessSqls.set(typeAccess, sql);
  return sql;
}

/** How a search request pages: derived once, for the statement and for the next link. */
interface PageOf {
  wantTotal: boolean;
  /** Ordered by something other than the default (`_id` ascending): paged by offset, else by keyset. */
  sorted: boolean;
  offset: number;
  afterId: string | undefined;
}

function pageOf(req: SearchRequest): PageOf {
  return {
    wantTotal: req.totalMode === 'accurate',
    sorted: req.sort.length > 0 && !(req.sort.length === 1 && req.sort[0]!.param === '_id' && !req.sort[0]!.descending),
    offset: req.cursor && 'offset' in req.cursor ? req.cursor.offset : 0,
    afterId: req.cursor && 'afterId' in req.cursor ? req.cursor.afterId : undefined,
  };
}

/**
 * A search page as one statement, written out (the second-hottest statement, after the read): the
 * page's keys, and the total in the same statement, a window count taken over every match before
 * ORDER BY and LIMIT, so the matches are found once, not once to count and once to page. Only
 * keys are carried through the count and the sort; content is joined for the page's rows. One row
 * more than the page is fetched, to know whether there is a next page.
 */
function searchPageSql(
  req: SearchRequest,
  paging: PageOf,
  where: VisibleWhere,
  refs: PageRefs,
  at: Date | undefined,
  withheld?: { visible: Sql; limit: number },
): [string, unknown[]] {
  if (withheld) return splitPageSql(req, paging, where, refs, at, withheld);
  const { wantTotal, sorted, offset, afterId } = paging;
  const shared = where.table === 'shared_resource';
  const keys = shared ? ['resource_type', 'id'] : ['patient_id', 'resource_type', 'id'];
  const order = sorted ? sortTerms(req.resourceType, req.sort) : { sql: '', bindings: [] };
  const orderBy = `order by ${order.sql}r.id asc`;
  const bindings: unknown[] = [...where.bindings];
  let page = `select ${keys.map((k) => `r.${k}`).join(', ')}${wantTotal ? ', count(*) over () as total' : ''} from ${where.table} as r where (${where.sql})`;
  if (sorted) {
    page += ` ${orderBy} limit ?${offset ? ' offset ?' : ''}`;
    bindings.push(...order.bindings, req.count + 1, ...(offset ? [offset] : []));
  } else if (afterId !== undefined && wantTotal) {
    // The count covers every match, so the keyset condition goes outside it.
    page = `select m.* from (${page}) as m where m.id > ? order by m.id asc limit ?`;
    bindings.push(afterId, req.count + 1);
  } else {
    page += `${afterId !== undefined ? ' and r.id > ?' : ''} order by r.id asc limit ?`;
    bindings.push(...(afterId !== undefined ? [afterId] : []), req.count + 1);
  }
  const join = keys.map((k) => `r.${k} = p.${k}`).join(' and ');
  // The withheld references are looked up for the page's rows only.
  const sql = `with p as (${page})${refs.ctes} select ${SELECT_LIST}${refs.column}${wantTotal ? ', p.total' : ''} from p join ${where.table} as r on ${join} ${orderBy}`;
  return [sql, [...bindings, ...bindRequestTime(refs.bindings, at), ...order.bindings]];
}

/**
 * searchPageSql for a first page that also lists what it withheld (ResourceStore.searchSplit):
 * the matches the scopes cover are found once (`m`, materialized: both parts read it), each with
 * whether the reader may see it; the page and its total are taken over the visible ones, and the
 * first `limit` others (by id) follow the page as rows with their row tokens (`withheld_tokens`)
 * and no content. `k` and `ord` keep the page's order ahead of them.
 */
function splitPageSql(req: SearchRequest, { wantTotal, sorted }: PageOf, where: VisibleWhere, refs: PageRefs, at: Date | undefined, withheld: { visible: Sql; limit: number }): [string, unknown[]] {
  const order = sorted ? sortTerms(req.resourceType, req.sort) : { sql: '', bindings: [] };
  const orderBy = `${order.sql}r.id asc`;
  const matched =
    `with m as materialized (select r.patient_id, r.resource_type, r.id, r.last_updated, coalesce((${withheld.visible.sql}), false) as visible ` +
    `from resource as r where (${where.sql}))`;
  const page =
    `p as (select r.patient_id, r.resource_type, r.id, row_number() over (order by ${orderBy}) as ord${wantTotal ? ', count(*) over () as total' : ''} ` +
    `from m as r where r.visible order by ${orderBy} limit ?)`;
  const nulls = `null::integer, null::timestamptz, null::text${refs.column ? ', null::text[]' : ''}${wantTotal ? ', null::bigint' : ''}`;
  const sql =
    `${matched}, ${page}${refs.ctes} select * from (` +
    `select 0 as k, p.ord, ${SELECT_LIST}${refs.column}${wantTotal ? ', p.total' : ''}, null::text[] as withheld_tokens from p join resource as r on r.patient_id = p.patient_id and r.resource_type = p.resource_type and r.id = p.id ` +
    `union all select 1, w.ord, r.resource_type, r.id, ${nulls}, coalesce(r.row_tokens, '{}') ` +
    `from (select patient_id, resource_type, id, row_number() over (order by id) as ord from m where not visible order by id limit ?) as w ` +
    `join resource as r on r.patient_id = w.patient_id and r.resource_type = w.resource_type and r.id = w.id) as x order by k, ord`;
  return [sql, [...withheld.visible.bindings, ...where.bindings, ...order.bindings, ...order.bindings, req.count + 1, ...bindRequestTime(refs.bindings, at), withheld.limit]];
}

/** ORDER BY terms for `_sort` (each followed by a comma; the id comes last), over `r`. */
function sortTerms(type: string, sort: SearchRequest['sort']): { sql: string; bindings: unknown[] } {
  const shared = !isCompartmentType(type);
  let sql = '';
  const bindings: unknown[] = [];
  for (const { param, descending } of sort) {
    const dir = descending ? 'desc' : 'asc';
    if (param === '_lastUpdated') sql += `r.last_updated ${dir}, `;
    else if (param === '_id') sql += `r.id ${dir}, `;
    else {
      const owner = shared ? "d.patient_id = ''" : 'd.patient_id = r.patient_id';
      const agg = descending ? 'max(d.hi)' : 'min(d.lo)';
      sql += `(select ${agg} from search_date d where ${owner} and d.resource_type = r.resource_type and d.resource_id = r.id and d.param = ?) ${dir} nulls last, `;
      bindings.push(param);
    }
  }
  return { sql, bindings };
}

/**
 * `patient=Patient/{id}` within that patient's own compartment matches nearly every row the
 * compartment condition already selects, yet PostgreSQL, which cannot see that the reference and
 * the compartment key are correlated, estimates it as the rarest filter and starts there: a lab
 * search then walks all of the patient's Observations (scripts/bench/API-RESULTS.md). Such a
 * filter is checked row by row instead, so the search starts from its selective filters
 * (category, code, date) or, with none, from the compartment's key range.
 */
function ownPatientCheck(f: Filter, patientIds: readonly string[]): Filter {
  if (f.kind !== 'reference' || !f.values.length) return f;
  const own = f.values.every((v) => v.startsWith('Patient/') && patientIds.includes(v.slice('Patient/'.length)));
  return own ? { ...f, perRow: true } : f;
}

/**
 * The resource without its references to resources withheld from the reader (StoredResource
 * .withheldRefs, from the same statement): nothing shown names what is withheld (REL-2, REL-7). A
 * reference in a list is dropped from the list; a list entry whose own reference goes (an
 * Encounter's diagnosis, a CarePlan's activity) goes whole, since that reference is what the
 * entry is about; a single reference of the resource itself goes from it. An element or list left
 * empty goes too, so the result stays valid FHIR (no empty objects or arrays).
 */
function withoutWithheldReferences(r: StoredResource): StoredResource {
  if (!r.withheldRefs?.length) return r;
  const withheld = new Set(r.withheldRefs);
  const named = (node: unknown) => {
    const ref = node !== null && typeof node === 'object' ? (node as { reference?: unknown }).reference : undefined;
    const m = typeof ref === 'string' ? LOCAL_REF.exec(ref) : null;
    return m !== null && withheld.has(`${m[1]}/${m[2]}`);
  };
  let changed = false;
  /** undefined: drop the node from its parent. */
  const prune = (node: unknown, listEntry: boolean): unknown => {
    if (Array.isArray(node)) {
      const kept = node.map((v) => prune(v, listEntry)).filter((v) => v !== undefined);
      return kept.length ? kept : undefined;
    }
    if (node === null || typeof node !== 'object') return node;
    if (named(node)) {
      changed = true;
      return undefined;
    }
    const obj = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (v === null || typeof v !== 'object') continue;
      if (listEntry && !Array.isArray(v) && named(v)) {
        changed = true;
        return undefined;
      }
      // A contained resource is not about its references: it keeps itself, less them.
      const kept = prune(v, Array.isArray(v) && k !== 'contained');
      if (kept === undefined) delete obj[k];
      else obj[k] = kept;
    }
    return Object.keys(obj).length ? obj : undefined;
  };
  const resource = JSON.parse(r.json) as Record<string, unknown>;
  prune(resource, false);
  const { withheldRefs: _, ...rest } = r;
  return changed ? { ...rest, json: JSON.stringify(resource), redacted: true } : rest;
}

/** The `Type/id` a reference names, relative, absolute or versioned (what search_token indexes as `_references`). */
const LOCAL_REF = /(?:^|\/)([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** A search by reference matches no target withheld from the reader (a reference to a patient is to the compartment's own). */
function withheldTargetsExcluded(f: Filter, withheld: WithheldTargets | undefined): Filter {
  if (!withheld || f.kind !== 'reference' || f.perRow || f.values.every((v) => v.startsWith('Patient/'))) return f;
  return { ...f, notWithheld: withheld };
}

const OBSERVATION_REF = /(?:^|\/)Observation\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

function observationId(reference: string | undefined): string | undefined {
  return typeof reference === 'string' ? OBSERVATION_REF.exec(reference)?.[1] : undefined;
}

/** An Observation reference we cannot resolve locally (malformed id): treated as not visible. */
function isObservationReference(reference: string | undefined): boolean {
  return typeof reference === 'string' && /(?:^|\/)Observation\//.test(reference);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function selectColumns(db: Knex): Knex.Raw {
  return db.raw(SELECT_LIST);
}

/**
 * `, array(…) as withheld_refs` for a statement over `r`: the `Type/id` of each resource of the
 * compartment that `r` references and that is withheld from the reader (AccessScope.withheld), so
 * the returned resource can be stripped of those references; the usual row has none, and then its
 * stored JSON is passed through untouched. Nothing for shared resources or without a plan.
 */
function withheldRefsSql(where: VisibleWhere, access: AccessScope): Sql {
  if (where.table !== 'resource' || !access.withheld) return { sql: '', bindings: [] };
  const withheld = cachedWithheldSql(access.withheld);
  return {
    sql:
      `, array(select t.code from search_token t join resource x on x.patient_id = t.patient_id and x.resource_type = split_part(t.code, '/', 1) ` +
      `and x.id = split_part(t.code, '/', 2) where t.patient_id = r.patient_id and t.resource_type = r.resource_type and t.resource_id = r.id ` +
      // The compartment's own Patient and the shared resources are never withheld: their probes are skipped.
      `and t.param = '${REFERENCES_PARAM}' and split_part(t.code, '/', 1) not in (${NEVER_WITHHELD_TYPES}) and (${withheld.sql})) as withheld_refs`,
    bindings: withheld.bindings,
  };
}

/** A search page's withheld references: CTEs to follow `p` (the page's keys) and the column that reads them. */
interface PageRefs {
  ctes: string;
  column: string;
  bindings: unknown[];
}

/**
 * withheldRefsSql for a search page, by target rather than by row: the page's references (`pr`)
 * are gathered once and each distinct target probed once (`ph`, the withheld ones); each row's
 * array then reads those. A page of lab results names the same few encounters, orders and
 * specimens over and over (21 rows, 63 references, 10 targets in the benchmark's lab search).
 */
function pageWithheldRefs(where: VisibleWhere, access: AccessScope): PageRefs {
  if (where.table !== 'resource' || !access.withheld) return { ctes: '', column: '', bindings: [] };
  const withheld = cachedWithheldSql(access.withheld);
  return {
    ctes:
      `, pr as materialized (select t.patient_id, t.resource_id, t.code from p join search_token t on t.patient_id = p.patient_id ` +
      `and t.resource_type = p.resource_type and t.resource_id = p.id where t.param = '${REFERENCES_PARAM}' and split_part(t.code, '/', 1) not in (${NEVER_WITHHELD_TYPES})), ` +
      `ph as materialized (select d.patient_id, d.code from (select distinct patient_id, code from pr) as d join resource x on x.patient_id = d.patient_id ` +
      `and x.resource_type = split_part(d.code, '/', 1) and x.id = split_part(d.code, '/', 2) where (${withheld.sql}))`,
    // The usual page withholds no target: then no row looks (the exists is evaluated once, not per row).
    column:
      ', case when exists (select 1 from ph) then array(select f.code from pr f where f.patient_id = r.patient_id and f.resource_id = r.id ' +
      "and exists (select 1 from ph wh where wh.patient_id = f.patient_id and wh.code = f.code)) else '{}'::text[] end as withheld_refs",
    bindings: withheld.bindings,
  };
}

/** Referenced types whose targets are never withheld (a SQL list of literals: registry names only). */
const NEVER_WITHHELD_TYPES = ['Patient', ...[...supportedResourceTypes].filter((t) => !isCompartmentType(t)).sort()].map((t) => `'${t}'`).join(', ');

const withheldSqls = new WeakMap<WithheldTargets, Sql>();

function cachedWithheldSql(w: WithheldTargets): Sql {
  let sql = withheldSqls.get(w);
  if (!sql) withheldSqls.set(w, (sql = withheldSql(w, 'x')));
  return sql;
}

function toStored(row: Row): StoredResource {
  const withheldRefs = textArray(row.withheld_refs);
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: row.last_updated instanceof Date ? row.last_updated : new Date(row.last_updated),
    json: row.content,
    ...(withheldRefs.length ? { withheldRefs } : {}),
  };
}

/** A text[] column as pg returns it (an array), or as an array literal where a driver leaves it as text. */
function textArray(value: string[] | string | null | undefined): string[] {
  if (Array.isArray(value)) return value;
  if (typeof value !== 'string' || value === '{}') return [];
  return value.slice(1, -1).split(',').map((v) => (v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v));
}
