/**
 * Writes resources into the store with their compartment rows and search index rows, inside the
 * caller's transaction. Re-writing identical content is a no-op (same version), so imports are
 * idempotent; changed content gets the next version and the index follows at once, so a result
 * moving from preliminary to final is never visible in a stale state.
 */
import type { Knex } from 'knex';
import type { Resource } from '@medplum/fhirtypes';
import { extractSearchRows } from '../search/extract.js';
import { isCompartmentType } from '../search/registry.js';
import { canonicalJson, withoutVersionMeta } from './canonical-json.js';
import { compartmentPatients, provenanceTargets } from './compartment.js';

export interface WriteOptions {
  fhirBaseUrl?: string;
  now?: Date;
}

export interface WriteResult {
  created: number;
  updated: number;
  unchanged: number;
}

interface Existing {
  versionId: number;
  patients: string[];
  content: string;
}

const CHUNK = 500;

export async function writeResources(trx: Knex, input: Resource[], options: WriteOptions = {}): Promise<WriteResult> {
  const now = (options.now ?? new Date()).toISOString();
  const byKey = new Map<string, Resource>();
  for (const r of input) {
    if (!r.id) throw new Error(`${r.resourceType} without id cannot be stored`);
    byKey.set(`${r.resourceType}/${r.id}`, r); // last one in a batch wins
  }
  const resources = [...byKey.values()];
  const existing = await loadExisting(trx, resources);
  const compartments = await resolveCompartments(trx, resources, options.fhirBaseUrl);

  const result: WriteResult = { created: 0, updated: 0, unchanged: 0 };
  const toDelete: { key: string; patients: string[]; shared: boolean; type: string; id: string }[] = [];
  const resourceRows: Record<string, unknown>[] = [];
  const sharedRows: Record<string, unknown>[] = [];
  const tokenRows: Record<string, unknown>[] = [];
  const dateRows: Record<string, unknown>[] = [];
  const stringRows: Record<string, unknown>[] = [];

  for (const r of resources) {
    const key = `${r.resourceType}/${r.id}`;
    const shared = !isCompartmentType(r.resourceType);
    const patients = shared ? [''] : compartments.get(key)!;
    const old = existing.get(key);
    const body = withoutVersionMeta(r as Record<string, any>);
    if (old && old.content === canonicalJson(body) && sameSet(old.patients, patients)) {
      result.unchanged++;
      continue;
    }
    const versionId = (old?.versionId ?? 0) + 1;
    if (old) {
      result.updated++;
      toDelete.push({ key, patients: old.patients, shared, type: r.resourceType, id: r.id! });
    } else {
      result.created++;
    }
    const content = JSON.stringify({ ...r, meta: { ...(r.meta ?? {}), versionId: String(versionId), lastUpdated: now } });
    const search = extractSearchRows(r, options.fhirBaseUrl);
    const base = { resource_type: r.resourceType, id: r.id, version_id: versionId, last_updated: now, content };
    if (shared) sharedRows.push(base);
    for (const patient of patients) {
      if (!shared) resourceRows.push({ patient_id: patient, ...base });
      const owner = { patient_id: patient, resource_type: r.resourceType, resource_id: r.id };
      for (const t of search.tokens) tokenRows.push({ ...owner, ...t });
      for (const d of search.dates) dateRows.push({ ...owner, ...d });
      for (const s of search.strings) stringRows.push({ ...owner, ...s });
    }
  }

  await deleteOld(trx, toDelete);
  for (const [table, rows] of [
    ['resource', resourceRows],
    ['shared_resource', sharedRows],
    ['search_token', tokenRows],
    ['search_date', dateRows],
    ['search_string', stringRows],
  ] as const) {
    for (let i = 0; i < rows.length; i += CHUNK) await trx(table).insert(rows.slice(i, i + CHUNK));
  }
  return result;
}

async function loadExisting(trx: Knex, resources: Resource[]): Promise<Map<string, Existing>> {
  const found = new Map<string, Existing>();
  const byType = groupIds(resources);
  for (const [type, ids] of byType) {
    const shared = !isCompartmentType(type);
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const rows: { patient_id?: string; id: string; version_id: number; content: unknown }[] = shared
        ? await trx('shared_resource').select('id', 'version_id', 'content').where('resource_type', type).whereIn('id', chunk)
        : await trx('resource').select('patient_id', 'id', 'version_id', 'content').where('resource_type', type).whereIn('id', chunk);
      for (const row of rows) {
        const key = `${type}/${row.id}`;
        const prev = found.get(key);
        const content = typeof row.content === 'string' ? JSON.parse(row.content) : row.content;
        if (prev) {
          prev.patients.push(row.patient_id ?? '');
          prev.patients.sort();
        } else {
          found.set(key, {
            versionId: row.version_id,
            patients: [shared ? '' : (row.patient_id ?? '')],
            content: canonicalJson(withoutVersionMeta(content as Record<string, any>)),
          });
        }
      }
    }
  }
  return found;
}

/** Compartment owners per resource; '' when a compartment-type resource belongs to nobody. */
async function resolveCompartments(trx: Knex, resources: Resource[], base?: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const provenances: Resource[] = [];
  for (const r of resources) {
    if (!isCompartmentType(r.resourceType)) continue;
    if (r.resourceType === 'Provenance') {
      provenances.push(r);
      continue;
    }
    const ids = compartmentPatients(r, base);
    out.set(`${r.resourceType}/${r.id}`, ids.length ? ids : ['']);
  }
  if (provenances.length) {
    const wanted = new Set(provenances.flatMap((p) => provenanceTargets(p, base)));
    const missing = [...wanted].filter((k) => !out.has(k));
    const fromDb = new Map<string, string[]>();
    const pairs = missing.map((k) => k.split('/') as [string, string]);
    for (let i = 0; i < pairs.length; i += CHUNK) {
      const rows: { patient_id: string; resource_type: string; id: string }[] = await trx('resource')
        .select('patient_id', 'resource_type', 'id')
        .whereIn(['resource_type', 'id'], pairs.slice(i, i + CHUNK));
      for (const row of rows) {
        const k = `${row.resource_type}/${row.id}`;
        fromDb.set(k, [...(fromDb.get(k) ?? []), row.patient_id]);
      }
    }
    for (const p of provenances) {
      const owners = new Set<string>();
      for (const t of provenanceTargets(p, base)) {
        if (t.startsWith('Patient/')) owners.add(t.slice(8));
        for (const o of out.get(t) ?? fromDb.get(t) ?? []) if (o) owners.add(o);
      }
      out.set(`Provenance/${p.id}`, owners.size ? [...owners].sort() : ['']);
    }
  }
  return out;
}

async function deleteOld(trx: Knex, items: { patients: string[]; shared: boolean; type: string; id: string }[]): Promise<void> {
  if (!items.length) return;
  const ownerKeys = items.flatMap((i) => i.patients.map((p) => [p, i.type, i.id]));
  for (let i = 0; i < ownerKeys.length; i += CHUNK) {
    const chunk = ownerKeys.slice(i, i + CHUNK);
    for (const table of ['search_token', 'search_date', 'search_string']) {
      await trx(table).whereIn(['patient_id', 'resource_type', 'resource_id'], chunk).delete();
    }
    await trx('resource').whereIn(['patient_id', 'resource_type', 'id'], chunk).delete();
  }
  const shared = items.filter((i) => i.shared).map((i) => [i.type, i.id]);
  for (let i = 0; i < shared.length; i += CHUNK) {
    await trx('shared_resource').whereIn(['resource_type', 'id'], shared.slice(i, i + CHUNK)).delete();
  }
}

function groupIds(resources: Resource[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of resources) m.set(r.resourceType, [...(m.get(r.resourceType) ?? []), r.id!]);
  return m;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}
