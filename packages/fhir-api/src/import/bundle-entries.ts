/**
 * Turns a FHIR Bundle (transaction, batch or collection, as Synthea writes them) into resources
 * ready to store: ids the data gives are kept (e.g. `PUT Patient/85`), `urn:uuid:` entries take
 * the uuid as their id (so re-importing the same bundle gives the same ids), and every reference
 * to a `urn:uuid:`, to another entry's absolute fullUrl, or a conditional
 * `Type?identifier=system|value` inside the bundle is rewritten.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

export interface EntryProblem {
  index: number;
  message: string;
}

export interface ResolvedBundle {
  resources: { index: number; resource: Resource }[];
  problems: EntryProblem[];
  /** Conditional references left for the store to resolve (shared resources imported earlier). */
  conditional: Set<string>;
}

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

export function resolveBundle(bundle: Bundle): ResolvedBundle {
  const problems: EntryProblem[] = [];
  const urnToRef = new Map<string, string>();
  const identifierToRef = new Map<string, string>();
  const entries: { index: number; resource: Resource }[] = [];

  (bundle.entry ?? []).forEach((entry: BundleEntry, index) => {
    const resource = entry.resource as Resource | undefined;
    if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') {
      problems.push({ index, message: 'entry has no resource' });
      return;
    }
    if (entry.request?.method === 'DELETE' || entry.request?.method === 'PATCH') {
      problems.push({ index, message: `${entry.request.method} entries are not supported by the importer` });
      return;
    }
    const id = idFor(entry, resource);
    if (!id) {
      problems.push({ index, message: `cannot determine an id for ${resource.resourceType} (give resource.id, a PUT url or a urn:uuid fullUrl)` });
      return;
    }
    if (!ID_RE.test(id)) {
      problems.push({ index, message: `invalid id "${id}"` });
      return;
    }
    const ref = `${resource.resourceType}/${id}`;
    if (entry.fullUrl) urnToRef.set(entry.fullUrl, ref);
    for (const ident of (resource as { identifier?: { system?: string; value?: string }[] }).identifier ?? []) {
      if (ident.value) identifierToRef.set(`${resource.resourceType}?identifier=${ident.system ?? ''}|${ident.value}`, ref);
    }
    entries.push({ index, resource: { ...resource, id } as Resource });
  });

  const conditional = new Set<string>();
  const resources = entries.map(({ index, resource }) => ({
    index,
    resource: rewriteReferences(resource, (ref) => {
      if (ref.startsWith('urn:uuid:') || ref.startsWith('urn:oid:')) {
        const target = urnToRef.get(ref);
        if (!target) problems.push({ index, message: `unresolved reference ${ref}` });
        return target ?? ref;
      }
      // An absolute reference to another entry of the bundle (an export that names its resources
      // by its own server's URLs): that entry, now stored here. Any other absolute URL is left as it
      // is, a resource on another server, never read as one of ours (normalizeReference).
      const entry = urnToRef.get(ref) ?? urnToRef.get(ref.replace(/\/_history\/[^/]+$/, ''));
      if (entry) return entry;
      if (/^[A-Z][A-Za-z]+\?/.test(ref)) {
        const target = identifierToRef.get(decodeURIComponent(ref));
        if (!target) conditional.add(ref);
        return target ?? ref;
      }
      return ref;
    }) as Resource,
  }));
  return { resources, problems, conditional };
}

function idFor(entry: BundleEntry, resource: Resource): string | undefined {
  if (entry.request?.method === 'PUT' && entry.request.url) {
    const m = /^([A-Z][A-Za-z]+)\/([^/?]+)$/.exec(entry.request.url);
    if (m && m[1] === resource.resourceType) return m[2];
  }
  if (resource.id) return resource.id;
  if (entry.fullUrl?.startsWith('urn:uuid:')) return entry.fullUrl.slice('urn:uuid:'.length);
  return undefined;
}

/** Deep-copies a resource, mapping every `reference` string through `map`. */
export function rewriteReferences(value: unknown, map: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, map));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === 'reference' && typeof v === 'string' ? map(v) : rewriteReferences(v, map);
    }
    return out;
  }
  return value;
}
