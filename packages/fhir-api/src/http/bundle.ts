/**
 * Searchset Bundles, assembled around the stored JSON text (no parse and re-serialize of each
 * resource unless `_elements` asks for a subset). The self link shows the parameters that were
 * applied (ignored ones are left out, as FHIR lenient handling expects); next carries the cursor.
 */
import type { SearchRequest } from '../search/search-request.js';
import type { SearchResult, StoredResource } from '../store/resource-store.js';

export interface BundleInput {
  baseUrl: string;
  request: SearchRequest;
  pairs: [string, string][];
  result: SearchResult;
  nextCursor: string | undefined;
}

const MANDATORY_ELEMENTS = ['resourceType', 'id', 'meta'];

export function searchsetBundle({ baseUrl, request, pairs, result, nextCursor }: BundleInput): string {
  const ignored = new Set(request.ignored);
  const kept = pairs.filter(([k]) => k !== '_cursor' && !ignored.has(k));
  const url = (extra: [string, string][]) => {
    const qs = new URLSearchParams([...kept, ...extra]).toString();
    return `${baseUrl}/${request.resourceType}${qs ? `?${qs}` : ''}`;
  };
  const links = [{ relation: 'self', url: url([]) }, ...(nextCursor ? [{ relation: 'next', url: url([['_cursor', nextCursor]]) }] : [])];
  const entry = (r: StoredResource, mode: 'match' | 'include') =>
    `{"fullUrl":${JSON.stringify(`${baseUrl}/${r.resourceType}/${r.id}`)},"resource":${request.elements ? subset(r.json, request.elements) : r.json},"search":{"mode":"${mode}"}}`;
  const entries = [...result.matches.map((r) => entry(r, 'match')), ...result.included.map((r) => entry(r, 'include'))];
  const head = {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link: links,
  };
  const json = JSON.stringify(head);
  return entries.length ? `${json.slice(0, -1)},"entry":[${entries.join(',')}]}` : json;
}

/** `_elements`: the named top-level elements plus the mandatory ones, tagged SUBSETTED. */
function subset(json: string, elements: string[]): string {
  const resource = JSON.parse(json) as Record<string, unknown> & { meta?: { tag?: unknown[] } };
  const keep = new Set([...MANDATORY_ELEMENTS, ...elements]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (keep.has(k)) out[k] = v;
  const meta = (out['meta'] ?? {}) as { tag?: unknown[] };
  out['meta'] = { ...meta, tag: [...(meta.tag ?? []), { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }] };
  return JSON.stringify(out);
}
