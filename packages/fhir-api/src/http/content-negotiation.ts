/**
 * Content negotiation (FHIR R4 http.html#mime-type): this server speaks FHIR R4 JSON only. `_format`
 * overrides Accept, as the specification says; a request that accepts only what we do not serve
 * (XML, Turtle, HTML, JSON of another FHIR version) gets 406, never JSON it did not ask for.
 */
import type { Middleware } from 'koa';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';

/** The media types of FHIR JSON (the last one is the DSTU2-era spelling some clients still send). */
const JSON_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir']);
/** `_format` shorthands for JSON. */
const JSON_FORMATS = new Set(['json', ...JSON_TYPES]);
/** The fhirVersion parameter values of R4 (the specification uses the major.minor form). */
const R4_VERSIONS = new Set(['4.0', '4.0.1']);

export type Negotiation = { ok: true } | { ok: false; reason: string };

interface MediaRange {
  type: string;
  params: Map<string, string>;
}

function mediaRange(text: string): MediaRange | undefined {
  const [head, ...rest] = text.split(';');
  const type = head!.trim().toLowerCase();
  if (!type) return undefined;
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { type, params };
}

/** A fhirVersion other than R4's makes a JSON range one we cannot serve. */
const isR4 = (r: MediaRange) => !r.params.has('fhirversion') || R4_VERSIONS.has(r.params.get('fhirversion')!);

/** Whether an Accept header admits FHIR R4 JSON. Absent or empty: anything goes. */
function acceptsJson(accept: string): boolean {
  if (!accept.trim()) return true;
  for (const part of accept.split(',')) {
    const range = mediaRange(part);
    if (!range) continue;
    const q = range.params.has('q') ? Number(range.params.get('q')) : 1;
    if (!(q > 0)) continue; // q=0 refuses, and an unreadable q is not an acceptance
    if ((range.type === '*/*' || range.type === 'application/*' || JSON_TYPES.has(range.type)) && isR4(range)) return true;
  }
  return false;
}

/** Pure: the decision for one request's Accept header and `_format` parameter. */
export function negotiateFormat(accept: string | undefined, format: string | undefined): Negotiation {
  if (format !== undefined) {
    const range = mediaRange(format);
    if (range && JSON_FORMATS.has(range.type) && isR4(range)) return { ok: true };
    return { ok: false, reason: 'The _format requested is not served: this server returns FHIR R4 JSON (application/fhir+json)' };
  }
  if (accept === undefined || acceptsJson(accept)) return { ok: true };
  return { ok: false, reason: 'The Accept header admits no format this server returns: it serves FHIR R4 JSON (application/fhir+json)' };
}

/** Refuses (406) a FHIR request for a format other than R4 JSON, before anything else is done for it. */
export const contentNegotiation: Middleware = async (ctx, next) => {
  // Reading the query is left to requests that carry _format (most do not).
  const format = ctx.querystring.includes('_format') ? new URLSearchParams(ctx.querystring).get('_format') ?? undefined : undefined;
  const decision = negotiateFormat(ctx.get('Accept') || undefined, format);
  if (!decision.ok) throw new OperationOutcomeError('NOT_ACCEPTABLE', decision.reason);
  await next();
};
