/**
 * Search values taken from resources, and whether a returned resource matches a search, with the
 * semantics Inferno's US Core search tests use (catalogue §5.3): token codes case-insensitive
 * (with the system when `system|code`), references by id, `Patient/id` or absolute URL, strings by
 * case-insensitive prefix of any name or address part, dates as ranges with the FHIR prefixes.
 */
import { evalFhirPath } from '@medplum/core';
import type { SearchParamDef } from './package.js';

type Json = Record<string, unknown>;

export interface Token {
  system?: string;
  code: string;
}

/** The elements a search parameter's expression selects in a resource. */
export function elementsFor(resource: Json, def: SearchParamDef): unknown[] {
  if (def.code === '_id') return resource['id'] === undefined ? [] : [resource['id']];
  // `.where(resolve() is Patient)` needs a server; the reference strings are checked instead.
  const expression = def.expression.replace(/\.where\(resolve\(\) is [A-Za-z]+\)/g, '');
  try {
    return evalFhirPath(expression, resource);
  } catch {
    return [];
  }
}

export function tokensOf(values: unknown[]): Token[] {
  const out: Token[] = [];
  for (const v of values) {
    if (typeof v === 'string' || typeof v === 'boolean') out.push({ code: String(v) });
    else if (v && typeof v === 'object') {
      const o = v as Json;
      if (Array.isArray(o['coding'])) for (const c of o['coding'] as Json[]) if (typeof c['code'] === 'string') out.push({ ...(typeof c['system'] === 'string' ? { system: c['system'] } : {}), code: c['code'] });
      if (typeof o['code'] === 'string') out.push({ ...(typeof o['system'] === 'string' ? { system: o['system'] } : {}), code: o['code'] });
      if (typeof o['value'] === 'string') out.push({ ...(typeof o['system'] === 'string' ? { system: o['system'] } : {}), code: o['value'] });
    }
  }
  return out;
}

export function referencesOf(values: unknown[]): string[] {
  return values.map((v) => (v && typeof v === 'object' ? (v as Json)['reference'] : undefined)).filter((r): r is string => typeof r === 'string');
}

export function stringsOf(values: unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') {
      const o = v as Json;
      for (const k of ['family', 'text', 'city', 'state', 'postalCode', 'country', 'district']) if (typeof o[k] === 'string') out.push(o[k] as string);
      for (const k of ['given', 'prefix', 'suffix', 'line']) for (const x of (o[k] as unknown[] | undefined) ?? []) if (typeof x === 'string') out.push(x);
    }
  }
  return out;
}

// ---- dates ---------------------------------------------------------------------------------

export interface Range {
  low: number;
  high: number;
}

const DAY = 86_400_000;

/** The range a FHIR date, dateTime or instant covers (no time zone: UTC). */
export function dateRange(value: string): Range | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (!mo) return { low: Date.UTC(+y!, 0, 1), high: Date.UTC(+y! + 1, 0, 1) - 1 };
  if (!d) return { low: Date.UTC(+y!, +mo - 1, 1), high: Date.UTC(+y!, +mo, 1) - 1 };
  if (!h) return { low: Date.UTC(+y!, +mo - 1, +d), high: Date.UTC(+y!, +mo - 1, +d) + DAY - 1 };
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${tz ?? 'Z'}`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  const width = s === undefined ? 60_000 : frac ? 1 : 1000;
  return { low: t, high: t + width - 1 };
}

export function rangesOf(values: unknown[]): Range[] {
  const out: Range[] = [];
  for (const v of values) {
    if (typeof v === 'string') {
      const r = dateRange(v);
      if (r) out.push(r);
    } else if (v && typeof v === 'object') {
      const o = v as Json;
      if ('start' in o || 'end' in o) {
        const start = typeof o['start'] === 'string' ? dateRange(o['start']) : undefined;
        const end = typeof o['end'] === 'string' ? dateRange(o['end']) : undefined;
        out.push({ low: start?.low ?? -Infinity, high: end?.high ?? Infinity });
      }
    }
  }
  return out;
}

/** Time zones make a date without one ambiguous by up to 14 hours either way. */
const SLACK = 14 * 3_600_000;

export function dateMatches(prefix: string, search: Range, target: Range): boolean {
  switch (prefix) {
    case 'gt':
      return target.high > search.high - SLACK;
    case 'lt':
      return target.low < search.low + SLACK;
    case 'ge':
      return target.high >= search.low - SLACK;
    case 'le':
      return target.low <= search.high + SLACK;
    case 'ne':
      return !(target.low >= search.low && target.high <= search.high);
    default:
      // eq (and sa/eb/ap leniently): the ranges overlap
      return target.high >= search.low - SLACK && target.low <= search.high + SLACK;
  }
}

export function splitPrefix(value: string): { prefix: string; date: string } {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(.*)$/.exec(value);
  return m ? { prefix: m[1]!, date: m[2]! } : { prefix: 'eq', date: value };
}

export function shiftDay(date: string, days: number): string {
  const r = dateRange(date.slice(0, 10));
  if (!r) return date;
  return new Date(r.low + days * DAY).toISOString().slice(0, 10);
}

// ---- values and matching --------------------------------------------------------------------

const PREFERRED_SYSTEMS = ['http://loinc.org', 'http://snomed.info/sct', 'http://terminology.hl7.org/CodeSystem/'];

/**
 * The value Inferno would search with, taken from a resource (undefined when the resource has no
 * value for the parameter). Dates: `gt<day-1>` for date-only values and period starts, the exact
 * value for dateTimes.
 */
export function searchValueFrom(resource: Json, def: SearchParamDef, options: { withSystem?: boolean } = {}): string | undefined {
  const values = elementsFor(resource, def);
  switch (def.type) {
    case 'token': {
      if (def.code === '_id') return typeof resource['id'] === 'string' ? resource['id'] : undefined;
      const tokens = tokensOf(values);
      if (options.withSystem) {
        const withSystem = tokens.filter((t) => t.system);
        const preferred = withSystem.find((t) => PREFERRED_SYSTEMS.some((p) => t.system!.startsWith(p))) ?? withSystem[0];
        return preferred ? `${preferred.system}|${preferred.code}` : undefined;
      }
      const preferred = tokens.find((t) => t.system && PREFERRED_SYSTEMS.some((p) => t.system!.startsWith(p))) ?? tokens[0];
      return preferred?.code;
    }
    case 'reference':
      return referencesOf(values)[0];
    case 'string':
      return stringsOf(values)[0];
    case 'date': {
      for (const v of values) {
        if (typeof v === 'string') {
          if (v.length <= 10) return `gt${shiftDay(v, -1)}`;
          return v;
        }
        if (v && typeof v === 'object') {
          const p = v as Json;
          if (typeof p['start'] === 'string') return `gt${shiftDay(p['start'], -1)}`;
          if (typeof p['end'] === 'string') return `lt${shiftDay(p['end'], 1)}`;
        }
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** A date value from a resource (the start of a period), for comparator searches. */
export function dateFrom(resource: Json, def: SearchParamDef): string | undefined {
  for (const v of elementsFor(resource, def)) {
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object') {
      const p = v as Json;
      if (typeof p['start'] === 'string') return p['start'];
      if (typeof p['end'] === 'string') return p['end'];
    }
  }
  return undefined;
}

/** Whether a resource matches one search parameter value (commas: any of the values). */
export function matchesParam(resource: Json, def: SearchParamDef, rawValue: string, fhirBase?: string): boolean {
  const alternatives = rawValue.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
  const values = elementsFor(resource, def);
  return alternatives.some((value) => {
    switch (def.type) {
      case 'token': {
        if (def.code === '_id') return resource['id'] === value;
        const [system, code] = value.includes('|') ? (value.split('|', 2) as [string, string]) : [undefined, value];
        return tokensOf(values).some((t) => t.code.toLowerCase() === code.toLowerCase() && (system === undefined || system === '' || t.system === system));
      }
      case 'reference': {
        const id = value.split('/').pop()!;
        const type = value.includes('/') ? value.split('/').slice(-2, -1)[0] : undefined;
        return referencesOf(values).some((ref) => {
          const clean = fhirBase && ref.startsWith(`${fhirBase}/`) ? ref.slice(fhirBase.length + 1) : ref;
          const parts = clean.split('/');
          return parts[parts.length - 1] === id && (type === undefined || parts[parts.length - 2] === type);
        });
      }
      case 'string':
        return stringsOf(values).some((s) => s.toLowerCase().startsWith(value.toLowerCase()));
      case 'date': {
        const { prefix, date } = splitPrefix(value);
        const search = dateRange(date);
        if (!search) return false;
        return rangesOf(values).some((r) => dateMatches(prefix, search, r));
      }
      default:
        return true;
    }
  });
}
