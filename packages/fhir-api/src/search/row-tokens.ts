/**
 * Row tokens: the token values of the few parameters that access filters test on nearly every row
 * (status, category, security labels, the patient reference) kept on the resource row itself, as
 * a text[] column written with the row. An access filter on them is then a check of the row that
 * the query fetches anyway, where a probe of the search_token index per candidate row (two to
 * three for a result under the release policy) was most of a search's PostgreSQL cost
 * (scripts/bench/API-RESULTS.md). search_token keeps every value too: searches still start from
 * its indexes.
 *
 * The column is filled from the same extracted tokens as search_token (resource-writer.ts), and
 * by migration 202611280001 from search_token for rows written before it, so the two agree by
 * construction (test/row-tokens.test.ts checks it on a whole dataset). A row without the column
 * (NULL) fails every row-token condition, negated or not: it is hidden, never shown unfiltered.
 */
import type { TokenRow } from './extract.js';
import type { Filter } from './search-request.js';
import type { Sql } from './filter-sql.js';

/** The parameters kept on the row. */
export const ROW_TOKEN_PARAMS: ReadonlySet<string> = new Set(['status', 'category', '_security', 'patient']);

/**
 * `|`, `*` and `%` percent-encoded, so that the encoded forms below are unambiguous whatever a
 * system or code holds. Migration 202611280001 encodes the same way in SQL.
 */
function enc(s: string): string {
  return s.replace(/%/g, '%25').replace(/\|/g, '%7C').replace(/\*/g, '%2A');
}

/** `param|system|code`, or `param|code` for a value without a system: matching `system|code` and `|code`. */
function exact(param: string, system: string | null, code: string): string {
  return system === null ? `${param}|${enc(code)}` : `${param}|${enc(system)}|${enc(code)}`;
}

/** `param|*|code`, matching a query value without a system (any system). */
function anySystem(param: string, code: string): string {
  return `${param}|*|${enc(code)}`;
}

/** The row's tokens, from the resource's extracted search tokens. */
export function rowTokens(tokens: readonly TokenRow[]): string[] {
  const out = new Set<string>();
  for (const t of tokens) {
    if (!ROW_TOKEN_PARAMS.has(t.param)) continue;
    out.add(exact(t.param, t.system, t.code));
    out.add(anySystem(t.param, t.code));
  }
  return [...out].sort();
}

/** rowTokens as a PostgreSQL array literal (`{"a","b"}`), to bind as text and cast to text[]. */
export function rowTokensLiteral(tokens: readonly TokenRow[]): string {
  return textArrayLiteral(rowTokens(tokens));
}

/** A text[] literal: every element quoted, its quotes and backslashes escaped, so any text is one element. */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((t) => `"${t.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * The row-token condition for a token filter (or a reference filter, whose values are indexed as
 * codes without a system), or undefined when the filter needs the index tables: a parameter not
 * kept on the row, or a value with a system and no code (`system|`).
 */
export function rowTokenCondition(f: Filter, alias = 'r'): Sql | undefined {
  if (!ROW_TOKEN_PARAMS.has(('param' in f && f.param) || '')) return undefined;
  let forms: string[];
  if (f.kind === 'token') {
    if (f.values.some((v) => v.code === undefined)) return undefined;
    forms = f.values.map((v) => (v.system === undefined ? anySystem(f.param, v.code!) : exact(f.param, v.system, v.code!)));
  } else if (f.kind === 'reference') {
    forms = f.values.map((code) => exact(f.param, null, code));
  } else {
    return undefined;
  }
  if (!forms.length) return { sql: f.kind === 'token' && f.not ? `${alias}.row_tokens is not null` : 'false', bindings: [] };
  // One text[] parameter, however many forms: PostgreSQL converts it once per statement (an
  // ARRAY[…] of parameters is built again for every row tested), and the client binds one value.
  const overlap = `${alias}.row_tokens && ?::text[]`;
  // `not (null && …)` is null: a row without row tokens fails the negated form too.
  return { sql: f.kind === 'token' && f.not ? `not (${overlap})` : overlap, bindings: [textArrayLiteral(forms)] };
}

