/**
 * Search filters → SQL conditions on the resource row `r`, as EXISTS subqueries against the search
 * index tables. Values are always bound parameters. https://hl7.org/fhir/R4/search.html
 */
import { activeHoldExistsSql } from '@patient-access/consent';
import { REFERENCES_PARAM } from './extract.js';
import { rowTokenCondition, textArrayLiteral } from './row-tokens.js';
import type { DateValue, Filter, TokenValue, WithheldTargets } from './search-request.js';

export interface Sql {
  sql: string;
  bindings: unknown[];
}

/**
 * Stands for the request's instant among the bindings of time-dependent access filters (holds):
 * the store binds AccessScope.at in its place (bindRequestTime), so the SQL of an access filter is
 * the same for every request under one grant and can be compiled once.
 */
export const REQUEST_TIME: Date = new Date(Number.NaN);

/** The bindings with the request's instant in place of REQUEST_TIME; a filter that needs it without one fails closed. */
export function bindRequestTime(bindings: readonly unknown[], at: Date | undefined): unknown[] {
  if (!bindings.includes(REQUEST_TIME)) return bindings as unknown[];
  if (!at) throw new Error('a time-dependent access filter needs the request time (AccessScope.at)');
  return bindings.map((b) => (b === REQUEST_TIME ? at : b));
}

/** Correlates an index row alias with `r` (shared resources' index rows have patient_id ''). */
function owner(alias: string, shared: boolean): string {
  const patient = shared ? `${alias}.patient_id = ''` : `${alias}.patient_id = r.patient_id`;
  return `${patient} and ${alias}.resource_type = r.resource_type and ${alias}.resource_id = r.id`;
}

/**
 * @param onRow check token filters on the row's tokens where it keeps them (row-tokens.ts): for
 * filters that test each candidate row (access filters, per-row checks), never for the filters a
 * search should start from, which need the index tables.
 */
export function filterSql(f: Filter, shared: boolean, onRow = false): Sql {
  if (!shared && (onRow || (f.kind === 'reference' && f.perRow))) {
    const row = rowTokenCondition(f);
    if (row) return row;
  }
  switch (f.kind) {
    case 'notHeld': {
      // Holds attach to patients' records; shared resources are never held.
      if (shared || f.holds.length === 0) return { sql: 'true', bindings: [] };
      const held = heldSql(f.holds, f.harmTypes, 'r', f.viaReport === true);
      return { sql: `not ${held.sql}`, bindings: held.bindings };
    }
    case 'notResultOfLabelled': {
      if (shared || f.labels.length === 0) return { sql: 'true', bindings: [] };
      const labelled = labelMatch('l', f.labels);
      // A labelled report's results reveal it (an unlabelled "POSITIVE" under an STI panel).
      return {
        sql:
          `not exists (select 1 from search_token t join search_token l on l.patient_id = t.patient_id and l.resource_type = t.resource_type ` +
          `and l.resource_id = t.resource_id and l.param = '_security' where t.patient_id = r.patient_id and t.resource_type = 'DiagnosticReport' ` +
          `and t.param = 'result' and t.code = r.resource_type || '/' || r.id and ${labelled.sql})`,
        bindings: labelled.bindings,
      };
    }
    case 'someTargetNotWithheld': {
      if (shared) return { sql: 'true', bindings: [] };
      const withheld = withheldSql(f.withheld, 'x');
      return {
        sql: `exists (select 1 from search_token t where ${owner('t', shared)} and t.param = ? and not exists (${targetRow('t', 'x')} and (${withheld.sql})))`,
        bindings: [f.param, ...withheld.bindings],
      };
    }
    case 'notReferencingLabelled': {
      if (f.labels.length === 0) return { sql: 'true', bindings: [] };
      const labelled = labelMatch('l', f.labels);
      // A reference is indexed as code 'Type/id'; the target is labelled if its _security row matches.
      return {
        sql:
          `not exists (select 1 from search_token t join search_token l on l.patient_id = t.patient_id and l.param = '_security' ` +
          `and t.code = l.resource_type || '/' || l.resource_id where ${owner('t', shared)} and t.param = ? and ${labelled.sql})`,
        bindings: [REFERENCES_PARAM, ...labelled.bindings],
      };
    }
    case 'notReferencingCategory': {
      if (f.categories.length === 0) return { sql: 'true', bindings: [] };
      const categories = or(
        f.categories.map((c) => {
          const parts: Sql[] = [{ sql: 'l.code = ?', bindings: [c.code] }];
          if (c.system !== undefined) parts.push({ sql: '(l.system = ? or l.system is null)', bindings: [c.system] });
          if (c.resourceType !== undefined) parts.push({ sql: 'l.resource_type = ?', bindings: [c.resourceType] });
          return { sql: parts.map((p) => p.sql).join(' and '), bindings: parts.flatMap((p) => p.bindings) };
        }),
      );
      return {
        sql:
          `not exists (select 1 from search_token t join search_token l on l.patient_id = t.patient_id and l.param = 'category' ` +
          `and t.code = l.resource_type || '/' || l.resource_id where ${owner('t', shared)} and t.param = ? and (${categories.sql}))`,
        bindings: [REFERENCES_PARAM, ...categories.bindings],
      };
    }
    case 'id':
      if (f.values.length === 0) return { sql: 'false', bindings: [] };
      return { sql: `r.id in (${f.values.map(() => '?').join(',')})`, bindings: f.values };
    case 'lastUpdated': {
      const parts = f.values.map((v) => dateCondition('r.last_updated', 'r.last_updated', v));
      return or(parts);
    }
    case 'token': {
      const parts = f.values.map((v): Sql => {
        if (v.code === undefined) return { sql: 't.system = ?', bindings: [v.system] };
        if (v.system === undefined) return { sql: 't.code = ?', bindings: [v.code] };
        if (v.system === null) return { sql: 't.code = ? and t.system is null', bindings: [v.code] };
        return { sql: 't.code = ? and t.system = ?', bindings: [v.code, v.system] };
      });
      const inner = or(parts);
      return {
        sql: `${f.not ? 'not ' : ''}exists (select 1 from search_token t where ${owner('t', shared)} and t.param = ? and ${inner.sql})`,
        bindings: [f.param, ...inner.bindings],
      };
    }
    case 'reference': {
      // A target withheld from the reader is no match: the search would reveal what redaction hides.
      const withheld = f.notWithheld && !shared ? withheldSql(f.notWithheld, 'x') : undefined;
      const visibleTarget = withheld ? ` and not exists (${targetRow('t', 'x')} and (${withheld.sql}))` : '';
      return {
        // OFFSET 0 keeps a per-row check a correlated subplan: PostgreSQL cannot then start the
        // search from it (see ResourceStore.visibleQuery).
        sql: `exists (select 1 from search_token t where ${owner('t', shared)} and t.param = ? and t.code in (${f.values.map(() => '?').join(',')})${visibleTarget}${f.perRow ? ' offset 0' : ''})`,
        bindings: [f.param, ...f.values, ...(withheld?.bindings ?? [])],
      };
    }
    case 'date': {
      const inner = or(f.values.map((v) => dateCondition('d.lo', 'd.hi', v)));
      return {
        sql: `exists (select 1 from search_date d where ${owner('d', shared)} and d.param = ? and ${inner.sql})`,
        bindings: [f.param, ...inner.bindings],
      };
    }
    case 'string': {
      const inner = or(
        f.values.map((v): Sql => {
          if (f.modifier === 'exact') return { sql: 's.value = ?', bindings: [v] };
          const pattern = (f.modifier === 'contains' ? '%' : '') + escapeLike(v) + '%';
          return { sql: "s.value like ? escape '\\'", bindings: [pattern] };
        }),
      );
      return {
        sql: `exists (select 1 from search_string s where ${owner('s', shared)} and s.param = ? and ${inner.sql})`,
        bindings: [f.param, ...inner.bindings],
      };
    }
  }
}

/**
 * A label recorded without a system matches on its code alone (fail-closed, as codingMatches in
 * packages/consent does); with one, the pair must be one of the labels. `l` is a search_token row.
 */
function labelMatch(l: string, labels: readonly { system: string; code: string }[]): Sql {
  const codes = textArrayLiteral([...new Set(labels.map((x) => x.code))]);
  const pairs = textArrayLiteral(labels.map((x) => `${x.system}|${x.code}`));
  return { sql: `${l}.code = any(?::text[]) and (${l}.system is null or ${l}.system || '|' || ${l}.code = any(?::text[]))`, bindings: [codes, pairs] };
}

/** `select 1 from resource x where x is the target of reference row t` (its code is `Type/id`), to continue with conditions on x. */
function targetRow(t: string, x: string): string {
  return `select 1 from resource ${x} where ${x}.patient_id = ${t}.patient_id and ${x}.resource_type = split_part(${t}.code, '/', 1) and ${x}.id = split_part(${t}.code, '/', 2)`;
}

/** `x.row_tokens` holds one of these token values of `param`. */
function rowHas(x: string, param: string, values: TokenValue[]): Sql {
  return rowTokenCondition({ kind: 'token', param, values }, x)!;
}

/**
 * True when the resource row `x` is withheld from the reader whatever its type (WithheldTargets):
 * a status never shown, an unreleased result, or an active hold on it or on the report naming it.
 * Results recorded under a category without a system count as results (fail-closed).
 */
export function withheldSql(w: WithheldTargets, x: string): Sql {
  const parts: Sql[] = [];
  if (w.neverVisibleStatuses.length) parts.push(rowHas(x, 'status', w.neverVisibleStatuses.map((code) => ({ code })))); // REL-4
  for (const result of w.results) {
    const released = rowHas(x, 'status', result.released.map((code) => ({ code })));
    const codes = result.categories === 'all' ? [] : [...new Set(result.categories.map((c) => c.code))];
    const isResult: Sql =
      result.categories === 'all'
        ? { sql: 'true', bindings: [] }
        : rowHas(x, 'category', [...result.categories.map((c) => ({ system: c.system, code: c.code })), ...codes.map((code) => ({ system: null, code }))]);
    // REL-7: a result is shown once released.
    parts.push({ sql: `${x}.resource_type = ? and ${isResult.sql} and not (${released.sql})`, bindings: [result.type, ...isResult.bindings, ...released.bindings] });
  }
  if (w.holds.length) parts.push(heldSql(w.holds, w.harmTypes, x, true)); // REL-2…6
  return or(parts);
}

/**
 * An active hold binding this reader on the row `x`, or (viaReport) on a DiagnosticReport that
 * names `x` as a result: a hold on a report holds its results too, or they would tell what it hides.
 */
function heldSql(kinds: WithheldTargets['holds'], harmTypes: WithheldTargets['harmTypes'], x: string, viaReport: boolean): Sql {
  const direct = activeHoldExistsSql({ kinds, harmTypes, at: REQUEST_TIME, resourceAlias: x });
  if (!viaReport) return direct;
  const onReport = activeHoldExistsSql({ kinds, harmTypes, at: REQUEST_TIME, resourceAlias: 'rep' });
  const report =
    `exists (select 1 from (select rt.patient_id, rt.resource_type, rt.resource_id as id from search_token rt where rt.patient_id = ${x}.patient_id ` +
    `and rt.resource_type = 'DiagnosticReport' and rt.param = 'result' and rt.code = ${x}.resource_type || '/' || ${x}.id) as rep where ${onReport.sql})`;
  return { sql: `(${direct.sql} or ${report})`, bindings: [...direct.bindings, ...onReport.bindings] };
}

/** All filters of a set ANDed (an empty set is `true`). */
export function andSql(filters: Filter[], shared: boolean, onRow = false): Sql {
  if (!filters.length) return { sql: 'true', bindings: [] };
  const parts = filters.map((f) => filterSql(f, shared, onRow));
  return { sql: parts.map((p) => `(${p.sql})`).join(' and '), bindings: parts.flatMap((p) => p.bindings) };
}

export function or(parts: Sql[]): Sql {
  if (!parts.length) return { sql: 'false', bindings: [] };
  return { sql: `(${parts.map((p) => `(${p.sql})`).join(' or ')})`, bindings: parts.flatMap((p) => p.bindings) };
}

/**
 * FHIR date comparison between the resource's range [lo, hi] and the parameter's range [pl, ph]
 * (both inclusive); an instant is the range [t, t]. https://hl7.org/fhir/R4/search.html#prefix
 */
export function dateCondition(lo: string, hi: string, v: DateValue): Sql {
  const pl = v.lo.toISOString();
  const ph = v.hi.toISOString();
  const ts = '?::timestamptz';
  switch (v.prefix) {
    case 'eq':
      return { sql: `${lo} >= ${ts} and ${hi} <= ${ts}`, bindings: [pl, ph] };
    case 'ne':
      return { sql: `not (${lo} >= ${ts} and ${hi} <= ${ts})`, bindings: [pl, ph] };
    case 'gt':
      return { sql: `${hi} > ${ts}`, bindings: [ph] };
    case 'lt':
      return { sql: `${lo} < ${ts}`, bindings: [pl] };
    case 'ge':
      return { sql: `${hi} >= ${ts}`, bindings: [pl] };
    case 'le':
      return { sql: `${lo} <= ${ts}`, bindings: [ph] };
    case 'sa':
      return { sql: `${lo} > ${ts}`, bindings: [ph] };
    case 'eb':
      return { sql: `${hi} < ${ts}`, bindings: [pl] };
    case 'ap': {
      // Approximately: overlaps the value widened by 10% of its distance from now (at least a day).
      const margin = Math.max(86_400_000, Math.abs(Date.now() - v.lo.getTime()) * 0.1);
      return {
        sql: `${lo} <= ${ts} and ${hi} >= ${ts}`,
        bindings: [new Date(v.hi.getTime() + margin).toISOString(), new Date(v.lo.getTime() - margin).toISOString()],
      };
    }
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
