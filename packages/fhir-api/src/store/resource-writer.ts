/**
 * Writes resources into the store with their compartment rows and search index rows, inside the
 * caller's transaction. Re-writing identical content is a no-op (same version), so imports are
 * idempotent; changed content gets the next version and the index follows at once, so a result
 * moving from preliminary to final is never visible in a stale state.
 *
 * Bulk by design (import throughput, issue 2; `npm run bench` measures it): a batch costs a fixed
 * handful of statements, never a statement per resource or per row.
 * - Rows travel as one JSON parameter per table, an array of row objects read by
 *   `json_to_recordset` (each row parsed once, straight into its typed columns): JSON.stringify and
 *   string joins are native and cheap, where the driver's text[] literals escape every quote of
 *   every stored document. The SQL text is the same whatever the batch size, and the same SQL runs
 *   on PostgreSQL and the embedded PGlite.
 * - What is already stored (versions, compartments) is read in one query for the whole batch, and
 *   whether re-imported content changed is decided by PostgreSQL (jsonb equality ignores key
 *   order, as canonical JSON did), so stored documents are never sent back to Node.
 * - New rows are inserted in slices, one statement per slice for all five tables: PostgreSQL
 *   inserts one slice while Node extracts the search rows of the next.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Resource } from '@medplum/fhirtypes';
import type { ReleasePolicy } from '@patient-access/consent';
import { extractSearchRows } from '../search/extract.js';
import { isCompartmentType } from '../search/registry.js';
import { withoutVersionMeta } from './canonical-json.js';
import { compartmentPatients, provenanceTargets } from './compartment.js';
import { holdArrivingResults, isArrival } from './result-arrivals.js';
import { rowTokensLiteral } from '../search/row-tokens.js';

export interface WriteOptions {
  fhirBaseUrl?: string;
  now?: Date;
  /** The organization's release policy (config.policy): when a result first becomes visible, holds may start (REL-5, REL-6). */
  releasePolicy?: ReleasePolicy;
}

export interface WriteResult {
  created: number;
  updated: number;
  unchanged: number;
  /**
   * `Type/id` of the compartment-type resources written that belong to no patient here (their
   * patient reference names no one, or another server's patient): stored, visible to nobody.
   */
  unassigned: string[];
}

interface Existing {
  versionId: number;
  patients: string[];
  /** The stored version's status (results decide release by it). */
  status: string | null;
}

/** Resources per insert statement: small enough for Node and PostgreSQL to overlap, large enough to amortize a round trip. */
const SLICE = 200;

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

  // Resources already stored under the same compartments are unchanged if PostgreSQL finds the
  // stored content equal to the new one, version metadata aside.
  const candidates = resources.filter((r) => {
    const old = existing.get(keyOf(r));
    return old !== undefined && sameSet(old.patients, patientsOf(r, compartments));
  });
  const unchanged = await unchangedContent(trx, candidates);

  const result: WriteResult = {
    created: 0,
    updated: 0,
    unchanged: unchanged.size,
    unassigned: resources.filter((r) => isCompartmentType(r.resourceType) && patientsOf(r, compartments)[0] === '').map(keyOf),
  };
  const toWrite: { r: Resource; versionId: number }[] = [];
  const stale: string[] = []; // JSON {p: patient_id, t: resource_type, i: id} of every row of a replaced version
  const staleShared: string[] = []; // JSON {t, i}
  for (const r of resources) {
    const key = keyOf(r);
    if (unchanged.has(key)) continue;
    const old = existing.get(key);
    if (old) {
      result.updated++;
      for (const p of old.patients) stale.push(JSON.stringify({ p, t: r.resourceType, i: r.id }));
      if (!isCompartmentType(r.resourceType)) staleShared.push(keyJson(r.resourceType, r.id!));
    } else {
      result.created++;
    }
    toWrite.push({ r, versionId: (old?.versionId ?? 0) + 1 });
  }

  // The previous version's rows go in the same transaction as the new ones: readers never see both.
  if (stale.length || staleShared.length) await trx.raw(DELETE_STALE, [jsonArray(stale), jsonArray(staleShared)]);

  // Slices are inserted one statement after the other on the transaction's connection, each sent
  // as soon as the previous one is done; meanwhile Node builds the next slice (the event loop gets
  // a turn between slices), so PostgreSQL inserts slice n while Node extracts slice n+1.
  let chain: Promise<void> = Promise.resolve();
  let failed = false;
  for (let i = 0; i < toWrite.length && !failed; i += SLICE) {
    const rows = buildRows(toWrite.slice(i, i + SLICE), compartments, now, options.fhirBaseUrl);
    const bindings = [now, rows.resource, now, rows.shared, rows.token, rows.date, rows.string];
    chain = chain.then(async () => {
      await trx.raw(INSERT_ROWS, bindings);
    });
    // Stop building once a statement failed (the transaction is aborted); `await chain` rethrows.
    chain.catch(() => {
      failed = true;
    });
    if (i + SLICE < toWrite.length) await yieldToEventLoop();
  }
  await chain;

  // REL-5, REL-6: the patient's delays and state-law rules hold a result from the moment it is first released.
  const arrivals = toWrite.flatMap(({ r }) =>
    isCompartmentType(r.resourceType) && isArrival(r, existing.get(keyOf(r))?.status, options.releasePolicy) ? patientsOf(r, compartments).map((patientId) => ({ patientId, result: r })) : [],
  );
  await holdArrivingResults(trx, arrivals, new Date(now));
  return result;
}

/** The rows of a slice as JSON texts, one array of row objects per table (keys as in INSERT_ROWS). */
function buildRows(
  slice: { r: Resource; versionId: number }[],
  compartments: Map<string, string[]>,
  now: string,
  base: string | undefined,
): { resource: string; shared: string; token: string; date: string; string: string } {
  const resource: string[] = [];
  const shared: string[] = [];
  const token: object[] = [];
  const date: object[] = [];
  const string: object[] = [];
  for (const { r, versionId } of slice) {
    const content = JSON.stringify({ ...r, meta: { ...(r.meta ?? {}), versionId: String(versionId), lastUpdated: now } });
    const isShared = !isCompartmentType(r.resourceType);
    const patients = patientsOf(r, compartments);
    const t = r.resourceType;
    const i = r.id;
    // The stored JSON is spliced in as is, as the last key of its row object.
    if (isShared) shared.push(`${JSON.stringify({ t, i, v: versionId }).slice(0, -1)},"c":${content}}`);
    const search = extractSearchRows(r, base);
    const k = isShared ? '' : rowTokensLiteral(search.tokens);
    for (const p of patients) {
      if (!isShared) resource.push(`${JSON.stringify({ p, t, i, v: versionId, k }).slice(0, -1)},"c":${content}}`);
      for (const x of search.tokens) token.push({ p, t, i, n: x.param, s: x.system, c: x.code });
      for (const x of search.dates) date.push({ p, t, i, n: x.param, lo: x.lo, hi: x.hi });
      for (const x of search.strings) string.push({ p, t, i, n: x.param, v: x.value });
    }
  }
  return {
    resource: jsonArray(resource),
    shared: jsonArray(shared),
    token: JSON.stringify(token),
    date: JSON.stringify(date),
    string: JSON.stringify(string),
  };
}

/**
 * One statement for the five tables; each CTE reads its own parameter, a JSON array of row objects,
 * with json_to_recordset: each row is parsed once, straight into its typed columns (the content
 * once into jsonb), where jsonb_array_elements built a jsonb of the whole array first and then
 * copied every field out of it by position.
 */
const INSERT_ROWS = `
  with r as (
    insert into resource (patient_id, resource_type, id, version_id, row_tokens, last_updated, content)
    select p, t, i, v, k::text[], ?::timestamptz, c from json_to_recordset(?::json) as x(p text, t text, i text, v int, k text, c jsonb)
  ), s as (
    insert into shared_resource (resource_type, id, version_id, last_updated, content)
    select t, i, v, ?::timestamptz, c from json_to_recordset(?::json) as x(t text, i text, v int, c jsonb)
  ), t as (
    insert into search_token (patient_id, resource_type, resource_id, param, system, code)
    select p, t, i, n, s, c from json_to_recordset(?::json) as x(p text, t text, i text, n text, s text, c text)
  ), d as (
    insert into search_date (patient_id, resource_type, resource_id, param, lo, hi)
    select p, t, i, n, lo, hi from json_to_recordset(?::json) as x(p text, t text, i text, n text, lo timestamptz, hi timestamptz)
  )
  insert into search_string (patient_id, resource_type, resource_id, param, value)
  select p, t, i, n, v from json_to_recordset(?::json) as x(p text, t text, i text, n text, v text)`;

/** Keys `{t: resource_type, i: id}` of a JSON array parameter, as rows (t, i). */
const KEYS = 'json_to_recordset(?::json) as x(t text, i text)';

/** Every row of the replaced versions: {p, t, i} keys, then {t, i} of shared ones. */
const DELETE_STALE = `
  with k as materialized (
    select p as patient_id, t as resource_type, i as id from json_to_recordset(?::json) as x(p text, t text, i text)
  ), t as (
    delete from search_token s using k where s.patient_id = k.patient_id and s.resource_type = k.resource_type and s.resource_id = k.id
  ), d as (
    delete from search_date s using k where s.patient_id = k.patient_id and s.resource_type = k.resource_type and s.resource_id = k.id
  ), st as (
    delete from search_string s using k where s.patient_id = k.patient_id and s.resource_type = k.resource_type and s.resource_id = k.id
  ), r as (
    delete from resource s using k where s.patient_id = k.patient_id and s.resource_type = k.resource_type and s.id = k.id
  )
  delete from shared_resource s using ${KEYS} where s.resource_type = x.t and s.id = x.i`;

/** Version and compartment owners of every resource of the batch already stored (one query). */
async function loadExisting(trx: Knex, resources: Resource[]): Promise<Map<string, Existing>> {
  const found = new Map<string, Existing>();
  const compartment: string[] = [];
  const shared: string[] = [];
  for (const r of resources) (isCompartmentType(r.resourceType) ? compartment : shared).push(keyJson(r.resourceType, r.id!));
  const { rows } = (await trx.raw(
    `select r.patient_id, r.resource_type, r.id, r.version_id, r.content->>'status' as status from resource r
     where (r.resource_type, r.id) in (select t, i from ${KEYS})
     union all
     select '', r.resource_type, r.id, r.version_id, null from shared_resource r
     where (r.resource_type, r.id) in (select t, i from ${KEYS})`,
    [jsonArray(compartment), jsonArray(shared)],
  )) as { rows: { patient_id: string; resource_type: string; id: string; version_id: number; status: string | null }[] };
  for (const row of rows) {
    const key = `${row.resource_type}/${row.id}`;
    const prev = found.get(key);
    if (prev) prev.patients.push(row.patient_id);
    else found.set(key, { versionId: row.version_id, patients: [row.patient_id], status: row.status });
  }
  return found;
}

/**
 * Keys of the candidates whose stored content equals the new content once the version metadata
 * (meta.versionId, meta.lastUpdated, and meta itself if nothing else is left in it) is set aside
 * on both sides: on the new side by withoutVersionMeta, on the stored side (which always has meta,
 * set by this writer) by the same rule in SQL.
 */
async function unchangedContent(trx: Knex, candidates: Resource[]): Promise<Set<string>> {
  const same = new Set<string>();
  if (!candidates.length) return same;
  const compartment: string[] = [];
  const shared: string[] = [];
  for (const r of candidates) {
    const row = `${keyJson(r.resourceType, r.id!).slice(0, -1)},"c":${JSON.stringify(withoutVersionMeta(r as Record<string, any>))}}`;
    (isCompartmentType(r.resourceType) ? compartment : shared).push(row);
  }
  const stripped = `(case when (r.content->'meta') - 'versionId' - 'lastUpdated' = '{}'::jsonb then r.content - 'meta'
      else jsonb_set(r.content, '{meta}', (r.content->'meta') - 'versionId' - 'lastUpdated') end)`;
  // Every compartment copy of a resource holds the same content: comparing one of them suffices.
  const { rows } = (await trx.raw(
    `select x.t as resource_type, x.i as id from json_to_recordset(?::json) as x(t text, i text, c jsonb)
     where x.c = (select ${stripped} from resource r where r.resource_type = x.t and r.id = x.i limit 1)
     union all
     select x.t, x.i from json_to_recordset(?::json) as x(t text, i text, c jsonb)
     where x.c = (select ${stripped} from shared_resource r where r.resource_type = x.t and r.id = x.i)`,
    [jsonArray(compartment), jsonArray(shared)],
  )) as { rows: { resource_type: string; id: string }[] };
  for (const row of rows) same.add(`${row.resource_type}/${row.id}`);
  return same;
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
    out.set(keyOf(r), ids.length ? ids : ['']);
  }
  if (provenances.length) {
    const wanted = new Set(provenances.flatMap((p) => provenanceTargets(p, base)));
    const missing: string[] = [];
    for (const k of wanted) {
      const slash = k.indexOf('/');
      if (!out.has(k) && slash > 0) missing.push(keyJson(k.slice(0, slash), k.slice(slash + 1)));
    }
    const fromDb = new Map<string, string[]>();
    if (missing.length) {
      const { rows } = (await trx.raw(
        `select r.patient_id, r.resource_type, r.id from resource r
         where (r.resource_type, r.id) in (select t, i from ${KEYS})`,
        [jsonArray(missing)],
      )) as { rows: { patient_id: string; resource_type: string; id: string }[] };
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
      out.set(keyOf(p), owners.size ? [...owners].sort() : ['']);
    }
  }
  return out;
}

function keyOf(r: Resource): string {
  return `${r.resourceType}/${r.id}`;
}

function patientsOf(r: Resource, compartments: Map<string, string[]>): string[] {
  return isCompartmentType(r.resourceType) ? compartments.get(keyOf(r))! : [''];
}

/** A resource's key as the JSON object that KEYS reads. */
function keyJson(t: string, i: string): string {
  return JSON.stringify({ t, i });
}

/** JSON texts (each a complete JSON value) as one JSON array text. */
function jsonArray(texts: string[]): string {
  return `[${texts.join(',')}]`;
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}
