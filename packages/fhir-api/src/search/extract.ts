/**
 * Write-time extraction of search index rows from a resource: every supported search parameter's
 * FHIRPath is evaluated once, when data is imported, so that searches and access filters are
 * indexed SQL and nothing is filtered in JavaScript afterwards.
 */
import { evalFhirPathTyped, toTypedValue, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { dateRange, normalizeReference, normalizeString } from './normalize.js';
import { searchParamsFor, type SearchParamDef } from './registry.js';

export interface TokenRow { param: string; system: string | null; code: string }
export interface DateRow { param: string; lo: string; hi: string }
export interface StringRow { param: string; value: string }

export interface SearchRows {
  tokens: TokenRow[];
  dates: DateRow[];
  strings: StringRow[];
}

export function extractSearchRows(resource: Resource, fhirBaseUrl?: string): SearchRows {
  const rows: SearchRows = { tokens: [], dates: [], strings: [] };
  const input = [toTypedValue(resource)];
  for (const def of searchParamsFor(resource.resourceType)) {
    let values: TypedValue[];
    try {
      values = evalFhirPathTyped(def.atom, input);
    } catch {
      continue; // an expression that cannot apply to this instance indexes nothing
    }
    for (const v of values) addValue(rows, def, v, fhirBaseUrl);
  }
  // Every reference, searchable or not, under one internal parameter: the access layer uses it to
  // hide what points at a resource the reader may not see (PRX-3), e.g. DiagnosticReport.result.
  for (const ref of allReferences(resource)) {
    const norm = normalizeReference(ref, fhirBaseUrl);
    if (norm) rows.tokens.push({ param: REFERENCES_PARAM, system: null, code: norm });
  }
  return dedupe(rows);
}

export const REFERENCES_PARAM = '_references';

function allReferences(resource: Resource): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'reference' && typeof v === 'string') out.push(v);
        else if (k !== 'contained' && typeof v === 'object') walk(v);
      }
    }
  };
  walk(resource);
  return out;
}

function addValue(rows: SearchRows, def: SearchParamDef, tv: TypedValue, base?: string): void {
  const v = tv.value as unknown;
  if (v === null || v === undefined) return;
  switch (def.type) {
    case 'token':
      for (const t of tokensOf(tv)) rows.tokens.push({ param: def.code, ...t });
      return;
    case 'reference': {
      const ref = typeof v === 'object' ? (v as { reference?: string }).reference : typeof v === 'string' ? v : undefined;
      const norm = ref ? normalizeReference(ref, base) : undefined;
      if (norm) rows.tokens.push({ param: def.code, system: null, code: norm });
      return;
    }
    case 'date': {
      const r = rangeOf(tv);
      if (r) rows.dates.push({ param: def.code, ...r });
      return;
    }
    case 'string':
      for (const s of stringsOf(tv)) {
        const n = normalizeString(s);
        if (n) rows.strings.push({ param: def.code, value: n });
      }
      return;
    default:
      return;
  }
}

function tokensOf(tv: TypedValue): { system: string | null; code: string }[] {
  const v = tv.value as Record<string, any>;
  switch (tv.type) {
    case 'CodeableConcept':
      return ((v['coding'] as any[]) ?? []).filter((c) => c?.code).map((c) => ({ system: c.system ?? null, code: String(c.code) }));
    case 'Coding':
      return v['code'] ? [{ system: (v['system'] as string) ?? null, code: String(v['code']) }] : [];
    case 'Identifier':
      return v['value'] ? [{ system: (v['system'] as string) ?? null, code: String(v['value']) }] : [];
    case 'ContactPoint':
      return v['value'] ? [{ system: (v['system'] as string) ?? null, code: String(v['value']) }] : [];
    default:
      if (typeof tv.value === 'string' || typeof tv.value === 'boolean' || typeof tv.value === 'number') {
        return [{ system: null, code: String(tv.value) }];
      }
      return [];
  }
}

function rangeOf(tv: TypedValue): { lo: string; hi: string } | undefined {
  const v = tv.value as any;
  if (typeof v === 'string') {
    const r = dateRange(v);
    return r ? { lo: r.lo.toISOString(), hi: r.hi.toISOString() } : undefined;
  }
  if (tv.type === 'Period' && v && (v.start || v.end)) {
    const s = v.start ? dateRange(v.start) : undefined;
    const e = v.end ? dateRange(v.end) : undefined;
    if ((v.start && !s) || (v.end && !e)) return undefined;
    return { lo: s ? s.lo.toISOString() : '-infinity', hi: e ? e.hi.toISOString() : 'infinity' };
  }
  if (tv.type === 'Timing' && Array.isArray(v?.event) && v.event.length) {
    const ranges = (v.event as string[]).map((e) => dateRange(e)).filter((r) => r !== undefined);
    if (!ranges.length) return undefined;
    const lo = new Date(Math.min(...ranges.map((r) => r.lo.getTime())));
    const hi = new Date(Math.max(...ranges.map((r) => r.hi.getTime())));
    return { lo: lo.toISOString(), hi: hi.toISOString() };
  }
  return undefined;
}

function stringsOf(tv: TypedValue): string[] {
  const v = tv.value as any;
  if (typeof v === 'string') return [v];
  if (tv.type === 'HumanName') {
    return [v.text, v.family, ...(v.given ?? []), ...(v.prefix ?? []), ...(v.suffix ?? [])].filter((s) => typeof s === 'string');
  }
  if (tv.type === 'Address') {
    return [v.text, ...(v.line ?? []), v.city, v.district, v.state, v.postalCode, v.country].filter((s) => typeof s === 'string');
  }
  return [];
}

function dedupe(rows: SearchRows): SearchRows {
  const uniq = <T>(xs: T[], key: (x: T) => string) => {
    const seen = new Set<string>();
    return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
  };
  return {
    tokens: uniq(rows.tokens, (t) => `${t.param}\u0000${t.system}\u0000${t.code}`),
    dates: uniq(rows.dates, (d) => `${d.param}\u0000${d.lo}\u0000${d.hi}`),
    strings: uniq(rows.strings, (s) => `${s.param}\u0000${s.value}`),
  };
}
