/**
 * URL query → SearchRequest. Pure: validation errors are SearchError (a 400 at the HTTP layer),
 * never a silently dropped filter (which would widen a search). https://hl7.org/fhir/R4/search.html
 */
import { MAX_INSTANT, MIN_INSTANT, isAbsoluteReference, normalizeReference, normalizeString, searchDateRange } from './normalize.js';
import { getSearchParam, isSupportedInclude } from './registry.js';
import {
  SearchError,
  type DatePrefix,
  type DateValue,
  type Filter,
  type IncludeSpec,
  type SearchRequest,
  type SortKey,
  type TokenValue,
} from './search-request.js';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;
const MAX_VALUES = 100;
/**
 * Parameters per search, counted the same for GET and for POST _search (query string and form
 * body together): as many as the values one parameter may OR. A limit, not a cut: more is a 400,
 * never a search run on the first so many (which would be wider than asked).
 */
export const MAX_PARAMETERS = 100;
const MAX_VALUE_LENGTH = 512;
// No value of any parameter has a use for control characters, and PostgreSQL refuses NUL in text.
const CONTROL = /[\u0000-\u001f\u007f]/;
const PREFIXES: readonly DatePrefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];
const RESULT_PARAMS = new Set(['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_format', '_pretty', '_cursor']);

export interface ParseOptions {
  strict?: boolean;
  fhirBaseUrl?: string;
  decodeCursor?: (token: string) => SearchRequest['cursor'];
}

export function parseSearch(resourceType: string, query: [string, string][], options: ParseOptions = {}): SearchRequest {
  const req: SearchRequest = {
    resourceType,
    filters: [],
    count: DEFAULT_COUNT,
    sort: [],
    includes: [],
    revincludes: [],
    summaryCount: false,
    totalMode: 'accurate',
    ignored: [],
  };
  const seenResult = new Set<string>();
  if (query.length > MAX_PARAMETERS) throw new SearchError('INVALID_SEARCH_PARAMETER', `At most ${MAX_PARAMETERS} search parameters are accepted`);
  for (const [rawName, rawValue] of query) {
    if (rawValue.length > MAX_VALUE_LENGTH * 4) throw new SearchError('INVALID_PARAMETER_VALUE', `Value of ${rawName} is too long`);
    if (CONTROL.test(rawValue)) throw new SearchError('INVALID_PARAMETER_VALUE', `Value of ${rawName} contains control characters`);
    // Form-style nesting (code[a]=1, code[]=1) is no FHIR syntax; ignoring it would widen the search.
    if (/[[\]]/.test(rawName)) throw new SearchError('INVALID_SEARCH_PARAMETER', `Nested or array parameter names are not supported: ${rawName}`);
    const [name, modifier, ...extra] = rawName.split(':');
    if (!name || extra.length) throw new SearchError('INVALID_SEARCH_PARAMETER', `Invalid parameter name: ${rawName}`);
    if (RESULT_PARAMS.has(name)) {
      if (name !== '_include' && name !== '_revinclude') {
        if (seenResult.has(name)) throw new SearchError('INVALID_SEARCH_PARAMETER', `Parameter ${name} may appear only once`);
        seenResult.add(name);
      }
      applyResultParam(req, name, modifier, rawValue, options);
      continue;
    }
    if (name.includes('.')) throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Chained parameters are not supported: ${rawName}`);
    const filter = parseFilter(resourceType, name, modifier, rawValue, options);
    if (filter) req.filters.push(filter);
    else if (options.strict) throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Unknown search parameter for ${resourceType}: ${rawName}`);
    else req.ignored.push(rawName);
  }
  return req;
}

function parseFilter(type: string, name: string, modifier: string | undefined, raw: string, o: ParseOptions): Filter | undefined {
  const values = splitValues(raw, name);
  if (name === '_id') {
    noModifier(name, modifier);
    for (const v of values) if (!/^[A-Za-z0-9\-.]{1,64}$/.test(v)) throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid id in _id: ${v}`);
    return { kind: 'id', values };
  }
  if (name === '_lastUpdated') {
    noModifier(name, modifier);
    return { kind: 'lastUpdated', values: values.map((v) => parseDate(name, v)) };
  }
  const def = getSearchParam(type, name);
  if (!def) return undefined;
  switch (def.type) {
    case 'token':
      if (modifier && modifier !== 'not') throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Modifier :${modifier} is not supported on ${name}`);
      return { kind: 'token', param: name, ...(modifier === 'not' ? { not: true } : {}), values: values.map(parseToken) };
    case 'reference': {
      const target = modifier && /^[A-Z][A-Za-z]+$/.test(modifier) ? modifier : undefined;
      if (modifier && !target) throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Modifier :${modifier} is not supported on ${name}`);
      return { kind: 'reference', param: name, values: values.map((v) => parseReference(name, v, target ?? soleTarget(def.target), o.fhirBaseUrl)) };
    }
    case 'date':
      noModifier(name, modifier);
      return { kind: 'date', param: name, values: values.map((v) => parseDate(name, v)) };
    case 'string': {
      if (modifier && modifier !== 'exact' && modifier !== 'contains') throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Modifier :${modifier} is not supported on ${name}`);
      const norm = values.map(normalizeString).filter((v) => v.length);
      if (!norm.length) throw new SearchError('INVALID_PARAMETER_VALUE', `Empty value for ${name}`);
      return { kind: 'string', param: name, ...(modifier ? { modifier: modifier as 'exact' | 'contains' } : {}), values: norm };
    }
    default:
      return undefined;
  }
}

function applyResultParam(req: SearchRequest, name: string, modifier: string | undefined, raw: string, o: ParseOptions): void {
  if (modifier && name !== '_include' && name !== '_revinclude') throw new SearchError('INVALID_SEARCH_PARAMETER', `${name} takes no modifier`);
  switch (name) {
    case '_count': {
      if (!/^\d{1,7}$/.test(raw)) throw new SearchError('INVALID_PARAMETER_VALUE', '_count must be a non-negative integer');
      const n = Number(raw);
      if (n > MAX_COUNT) throw new SearchError('INVALID_PARAMETER_VALUE', `_count must be at most ${MAX_COUNT}`);
      req.count = n;
      if (n === 0) req.summaryCount = true;
      return;
    }
    case '_summary':
      if (raw === 'count') req.summaryCount = true;
      else if (raw !== 'false') throw new SearchError('INVALID_PARAMETER_VALUE', `_summary=${raw} is not supported (use count or false)`);
      return;
    case '_total':
      if (raw !== 'none' && raw !== 'accurate' && raw !== 'estimate') throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid _total: ${raw}`);
      req.totalMode = raw === 'none' ? 'none' : 'accurate';
      return;
    case '_elements':
      req.elements = splitValues(raw, name).map((e) => {
        if (!/^[a-zA-Z][a-zA-Z0-9]*$/.test(e)) throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid element in _elements: ${e}`);
        return e;
      });
      return;
    case '_sort':
      req.sort = splitValues(raw, name).map((s) => parseSort(req.resourceType, s));
      return;
    case '_include':
    case '_revinclude': {
      if (modifier && modifier !== 'iterate') throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `${name}:${modifier} is not supported`);
      const spec = parseInclude(raw, name);
      // Only the advertised values (registry, hence CapabilityStatement) are accepted.
      if (!isSupportedInclude(req.resourceType, raw, name === '_revinclude')) {
        throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `${name}=${raw} is not supported on ${req.resourceType}`);
      }
      if (name === '_include') {
        if (spec.sourceType !== req.resourceType) throw new SearchError('INVALID_PARAMETER_VALUE', `_include source must be ${req.resourceType}: ${raw}`);
        req.includes.push(spec);
      } else {
        req.revincludes.push(spec);
      }
      return;
    }
    case '_cursor':
      if (!o.decodeCursor) throw new SearchError('INVALID_PARAMETER_VALUE', 'Invalid paging cursor');
      req.cursor = o.decodeCursor(raw);
      return;
    default:
      return; // _format and _pretty are handled by the HTTP layer
  }
}

function parseInclude(raw: string, name: string): IncludeSpec {
  const [sourceType, param, targetType, ...rest] = raw.split(':');
  if (!sourceType || !param || rest.length || !/^[A-Z][A-Za-z]+$/.test(sourceType) || (targetType && !/^[A-Z][A-Za-z]+$/.test(targetType))) {
    throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid ${name}: ${raw}`);
  }
  const def = getSearchParam(sourceType, param);
  if (!def || def.type !== 'reference') throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `${name}=${raw} is not supported`);
  return targetType ? { sourceType, param, targetType } : { sourceType, param };
}

function parseSort(type: string, s: string): SortKey {
  const descending = s.startsWith('-');
  const param = descending ? s.slice(1) : s;
  if (param === '_lastUpdated' || param === '_id') return { param, descending };
  const def = getSearchParam(type, param);
  if (!def || def.type !== 'date') throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Sorting by ${param} is not supported`);
  return { param, descending };
}

function parseToken(v: string): TokenValue {
  const bar = indexOfUnescaped(v, '|');
  if (bar < 0) return { code: unescape(v) };
  const system = unescape(v.slice(0, bar));
  const code = unescape(v.slice(bar + 1));
  if (!system && !code) throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid token: ${v}`);
  if (!system) return { system: null, code };
  return code ? { system, code } : { system };
}

function parseReference(name: string, v: string, target: string | undefined, base?: string): string {
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(v)) {
    if (!target) throw new SearchError('INVALID_PARAMETER_VALUE', `Reference ${name}=${v} needs a resource type (Type/id)`);
    return `${target}/${v}`;
  }
  const norm = normalizeReference(v, base);
  if (!norm && isAbsoluteReference(v)) {
    throw new SearchError('INVALID_PARAMETER_VALUE', `Reference in ${name} is not on this server: only ${base ?? 'this server\'s base'}/Type/id or Type/id can match`);
  }
  if (!norm) throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid reference in ${name}: ${v}`);
  if (target && !norm.startsWith(`${target}/`)) throw new SearchError('INVALID_PARAMETER_VALUE', `Reference ${v} is not a ${target}`);
  return norm;
}

function parseDate(name: string, v: string): DateValue {
  const prefix = (PREFIXES as readonly string[]).includes(v.slice(0, 2)) ? (v.slice(0, 2) as DatePrefix) : 'eq';
  const value = prefix === 'eq' && !v.startsWith('eq') ? v : v.slice(2);
  const range = searchDateRange(value);
  if (!range) throw new SearchError('INVALID_PARAMETER_VALUE', `Invalid date in ${name}: ${v}`);
  if (prefix === 'ap') {
    // The SQL widens `ap` by 10% of the value's distance from now, at least a day (filter-sql.ts):
    // the widened range must stay within the searchable years too (with slack for the clock).
    const margin = Math.max(86_400_000, Math.abs(Date.now() - range.lo.getTime()) * 0.1) * 1.01 + 86_400_000;
    if (range.lo.getTime() - margin < MIN_INSTANT.getTime() || range.hi.getTime() + margin > MAX_INSTANT.getTime()) {
      throw new SearchError('INVALID_PARAMETER_VALUE', `Date in ${name} is too near the edge of the searchable years for ap: ${v}`);
    }
  }
  return { prefix, lo: range.lo, hi: range.hi };
}

function soleTarget(targets: string[] | undefined): string | undefined {
  return targets?.length === 1 ? targets[0] : undefined;
}

function noModifier(name: string, modifier: string | undefined): void {
  if (modifier) throw new SearchError('UNSUPPORTED_SEARCH_PARAMETER', `Modifier :${modifier} is not supported on ${name}`);
}

/** Comma separates OR values; `\,` is a literal comma. */
function splitValues(raw: string, name: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      cur += ch + raw[++i];
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  if (out.some((v) => v === '')) throw new SearchError('INVALID_PARAMETER_VALUE', `Empty value in ${name}`);
  if (out.length > MAX_VALUES) throw new SearchError('INVALID_PARAMETER_VALUE', `Too many values in ${name}`);
  for (const v of out) if (v.length > MAX_VALUE_LENGTH) throw new SearchError('INVALID_PARAMETER_VALUE', `Value too long in ${name}`);
  return out;
}

function indexOfUnescaped(s: string, ch: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === ch) return i;
  }
  return -1;
}

function unescape(s: string): string {
  return s.replace(/\\([\\,|$])/g, '$1');
}
