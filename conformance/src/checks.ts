/**
 * Assertion helpers shared by the groups: status codes, headers, JSON shapes, scope sets, FHIR
 * ids and references. Each returns a message (or undefined when the check holds) so that the
 * helpers are testable without a runner; `must` turns a message into a failure.
 */
import type { HttpResponse } from './http.js';
import { AssertionFailure } from './runner.js';

export function must(problem: string | undefined): void {
  if (problem) throw new AssertionFailure(problem);
}

export function statusProblem(res: Pick<HttpResponse, 'status'>, expected: number | readonly number[], what = 'response'): string | undefined {
  const list = typeof expected === 'number' ? [expected] : expected;
  return list.includes(res.status) ? undefined : `${what}: expected HTTP ${list.join(' or ')}, got ${res.status}`;
}

export function expectStatus(res: HttpResponse, expected: number | readonly number[], what?: string): void {
  const problem = statusProblem(res, expected, what ?? `${res.exchange.request.method} ${shortUrl(res.exchange.request.url)}`);
  if (problem) throw new AssertionFailure(problem, res.exchange);
}

export function shortUrl(url: string): string {
  return url.length > 160 ? `${url.slice(0, 157)}…` : url;
}

export function headerProblem(headers: Headers, name: string, mustContain: string): string | undefined {
  const value = headers.get(name);
  if (value === null) return `header ${name} is missing (expected it to contain "${mustContain}")`;
  return value.toLowerCase().includes(mustContain.toLowerCase()) ? undefined : `header ${name} is "${value}", expected it to contain "${mustContain}"`;
}

export function contentTypeProblem(headers: Headers, prefix: string): string | undefined {
  const value = headers.get('content-type');
  if (value === null) return 'Content-Type header is missing';
  return value.toLowerCase().startsWith(prefix) ? undefined : `Content-Type is "${value}", expected it to start with ${prefix}`;
}

/** ACAO equal to the origin or `*`. */
export function corsProblem(headers: Headers, origin: string): string | undefined {
  const acao = headers.get('access-control-allow-origin');
  if (acao === null) return 'Access-Control-Allow-Origin header is missing';
  return acao === '*' || acao === origin ? undefined : `Access-Control-Allow-Origin is "${acao}", expected "${origin}" or "*"`;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type FieldType = 'string' | 'number' | 'boolean' | 'array' | 'object';

function typeOf(value: unknown): FieldType | 'null' | 'undefined' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as FieldType | 'undefined';
}

/** Keys that must be present, non-blank and of a type. */
export function requiredFieldProblems(body: Record<string, unknown>, fields: Record<string, FieldType>): string[] {
  const problems: string[] = [];
  for (const [key, type] of Object.entries(fields)) {
    const value = body[key];
    if (value === undefined || value === null) problems.push(`${key} is missing`);
    else if (typeOf(value) !== type) problems.push(`${key} should be a ${type}, is a ${typeOf(value)}`);
    else if ((type === 'string' && (value as string).trim() === '') || (type === 'array' && (value as unknown[]).length === 0)) problems.push(`${key} is blank`);
  }
  return problems;
}

export function scopeList(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(/\s+/).filter(Boolean) : [];
}

export function sameScopeSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((s) => sb.has(s));
}

export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `Type/id` from a relative or absolute reference (the last two path segments). */
export function referenceParts(reference: string): { type: string; id: string } | undefined {
  const clean = reference.split(/[?#]/)[0]!.replace(/\/_history\/[^/]+$/, '');
  const parts = clean.split('/');
  if (parts.length < 2) return undefined;
  const id = parts[parts.length - 1]!;
  const type = parts[parts.length - 2]!;
  if (!/^[A-Z][A-Za-z]+$/.test(type) || !FHIR_ID.test(id)) return undefined;
  return { type, id };
}

/**
 * Strings of a resource that identify the person (names, identifiers, birth date, telecom,
 * address lines), used to check that error bodies do not echo PHI.
 */
export function identifyingStrings(patient: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.length >= 4) out.add(v);
  };
  for (const name of (patient['name'] as Record<string, unknown>[] | undefined) ?? []) {
    add(name['family']);
    for (const g of (name['given'] as unknown[] | undefined) ?? []) add(g);
  }
  for (const id of (patient['identifier'] as Record<string, unknown>[] | undefined) ?? []) add(id['value']);
  for (const tel of (patient['telecom'] as Record<string, unknown>[] | undefined) ?? []) add(tel['value']);
  for (const a of (patient['address'] as Record<string, unknown>[] | undefined) ?? []) for (const l of (a['line'] as unknown[] | undefined) ?? []) add(l);
  add(patient['birthDate']);
  return [...out];
}

/** The identifying strings that occur in a body (case-insensitive). */
export function phiLeaks(body: string, identifying: string[]): string[] {
  const lower = body.toLowerCase();
  return identifying.filter((s) => lower.includes(s.toLowerCase()));
}

export function uniq<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}
