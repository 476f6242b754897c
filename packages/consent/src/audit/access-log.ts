/**
 * Appending to and verifying the access log (migration 202611230003_create_access_log has the
 * table, the chain design and the append-only triggers).
 *
 * appendAccessLog writes a batch atomically: it locks the head row of every patient chain the
 * batch touches (creating missing heads first), in one order for every writer, numbers and chains
 * the rows, inserts them and moves the heads; or, when the writer already knows where each chain
 * ends, all of that in one statement that fails unless every head was where it thought. Two
 * writers touching the same patient serialize on that head row; writers touching different
 * patients never wait for each other. Pass a transaction as `db` to write in the same transaction
 * as the read it records (AUD-1).
 */
import type { Knex } from 'knex';
import { preparedRows } from '../db/prepared.js';
import { GENESIS_HASH, accessLogHash } from './access-log-hash.js';
import {
  WITHHELD_EXCEPTIONS,
  validateAccessLogEntry,
  type AccessLogAction,
  type AccessLogDetail,
  type AccessLogEntry,
  type AccessLogOutcome,
  type AccessLogRecord,
  type ActorKind,
  type BlockingException,
  type WithheldItem,
} from './access-log-types.js';

export interface AppendedAccessLogEntry {
  readonly patientId: string;
  readonly seq: number;
  readonly hash: string;
}

export interface AccessLogRow {
  patient_id: string;
  seq: string | number;
  recorded_at: Date | string;
  actor_kind: string;
  actor_id: string | null;
  actor_fhir_user: string | null;
  on_behalf_of: string | null;
  client_id: string | null;
  client_name: string | null;
  scopes: string | null;
  grant_id: string | null;
  delegation_id: string | null;
  action: string;
  outcome: string;
  reason: string | null;
  exception: string | null;
  resource_type: string | null;
  query_params: string[] | null;
  result_count: number | null;
  returned_ids: string[] | null;
  withheld: unknown;
  request_id: string | null;
  source_address: string | null;
  detail: unknown;
  prev_hash: string;
  hash: string;
}

const INSERT_CHUNK = 200;

function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/** A stored row in the shape it was hashed in. */
export function accessLogRecordFromRow(row: AccessLogRow): AccessLogRecord {
  const withheld = (parseJson(row.withheld) ?? []) as { ref: string; reason: WithheldItem['reason']; exception: BlockingException }[];
  return {
    patientId: row.patient_id,
    seq: Number(row.seq),
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
    actorKind: row.actor_kind as ActorKind,
    actorId: row.actor_id,
    actorFhirUser: row.actor_fhir_user,
    onBehalfOf: row.on_behalf_of,
    clientId: row.client_id,
    clientName: row.client_name,
    scopes: row.scopes,
    grantId: row.grant_id,
    delegationId: row.delegation_id,
    action: row.action as AccessLogAction,
    outcome: row.outcome as AccessLogOutcome,
    reason: row.reason,
    exception: row.exception as BlockingException | null,
    resourceType: row.resource_type,
    queryParams: row.query_params,
    resultCount: row.result_count === null ? null : Number(row.result_count),
    returnedIds: row.returned_ids ?? [],
    withheld: withheld.map((w) => ({ ref: w.ref, reason: w.reason, exception: w.exception })),
    requestId: row.request_id,
    sourceAddress: row.source_address,
    detail: (parseJson(row.detail) ?? null) as AccessLogDetail | null,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** A record's column values; the jsonb columns as values (see toRow and toJsonRow for how each way sends them). */
function columnValues(r: AccessLogRecord): Record<string, unknown> {
  return {
    patient_id: r.patientId,
    seq: r.seq,
    recorded_at: r.recordedAt,
    actor_kind: r.actorKind,
    actor_id: r.actorId,
    actor_fhir_user: r.actorFhirUser,
    on_behalf_of: r.onBehalfOf,
    client_id: r.clientId,
    client_name: r.clientName,
    scopes: r.scopes,
    grant_id: r.grantId,
    delegation_id: r.delegationId,
    action: r.action,
    outcome: r.outcome,
    reason: r.reason,
    exception: r.exception,
    resource_type: r.resourceType,
    query_params: r.queryParams === null ? null : [...r.queryParams],
    result_count: r.resultCount,
    returned_ids: [...r.returnedIds],
    withheld: r.withheld,
    request_id: r.requestId,
    source_address: r.sourceAddress,
    detail: r.detail,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

/** A record for a knex insert: jsonb columns as JSON text (pg would send a JS array as a PostgreSQL array). */
function toRow(r: AccessLogRecord): Record<string, unknown> {
  return { ...columnValues(r), withheld: JSON.stringify(r.withheld), detail: r.detail === null ? null : JSON.stringify(r.detail) };
}

/** access_log's columns with their types, as columnValues names them: the fast append reads rows from JSON. */
const COLUMNS: readonly (readonly [string, string])[] = [
  ['patient_id', 'text'],
  ['seq', 'bigint'],
  ['recorded_at', 'timestamptz'],
  ['actor_kind', 'text'],
  ['actor_id', 'text'],
  ['actor_fhir_user', 'text'],
  ['on_behalf_of', 'text'],
  ['client_id', 'text'],
  ['client_name', 'text'],
  ['scopes', 'text'],
  ['grant_id', 'text'],
  ['delegation_id', 'text'],
  ['action', 'text'],
  ['outcome', 'text'],
  ['reason', 'text'],
  ['exception', 'text'],
  ['resource_type', 'text'],
  ['query_params', 'text[]'],
  ['result_count', 'integer'],
  ['returned_ids', 'text[]'],
  ['withheld', 'jsonb'],
  ['request_id', 'text'],
  ['source_address', 'text'],
  ['detail', 'jsonb'],
  ['prev_hash', 'text'],
  ['hash', 'text'],
];

/** A record as one JSON object for json_to_recordset. */
function toJsonRow(r: AccessLogRecord): Record<string, unknown> {
  return { ...columnValues(r), recorded_at: r.recordedAt.toISOString() };
}

/**
 * The fast append as one statement of a fixed text, whatever the batch holds: the heads to move
 * ($1, JSON) and the rows ($2, JSON). Being always the same text, it is a named statement, parsed
 * and planned once per connection; a text that grew with the batch (a VALUES row per entry) was
 * parsed and planned again for every batch. The heads to lock come from $1 too: with them as a
 * separate array, the plan for a small batch looked cheaper than the generic one, and PostgreSQL
 * planned the statement again for every batch (half the append's CPU on a busy server). The
 * heads are locked in patient order first, as on the locked path: whatever plan the UPDATE gets,
 * two batches never take the same heads in opposite orders (no deadlock).
 */
const FAST_APPEND_SQL = `with moves as (
    select * from json_to_recordset(?::json) as v(patient_id text, from_seq bigint, from_hash text, seq bigint, hash text)),
  locked as (select patient_id from access_log_head where patient_id in (select patient_id from moves) order by patient_id for update),
  moved as (
    update access_log_head as h set seq = v.seq, hash = v.hash
      from moves v join locked l on l.patient_id = v.patient_id
     where h.patient_id = v.patient_id and h.seq = v.from_seq and h.hash = v.from_hash
    returning 1),
  appended as (
    insert into access_log (${COLUMNS.map(([c]) => c).join(', ')})
    select ${COLUMNS.map(([c]) => c).join(', ')} from json_to_recordset(?::json) as r(${COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')}))
  select access_log_expect_heads((select count(*) from moves)::int, (select count(*) from moved)::int)`;

function recordFor(entry: AccessLogEntry, seq: number, prevHash: string, at: Date): AccessLogRecord {
  const content: Omit<AccessLogRecord, 'hash'> = {
    patientId: entry.patientId,
    seq,
    recordedAt: entry.at ?? at,
    actorKind: entry.actor.kind,
    actorId: entry.actor.id ?? null,
    actorFhirUser: entry.actor.fhirUser ?? null,
    onBehalfOf: entry.onBehalfOf ?? null,
    clientId: entry.client?.id ?? null,
    clientName: entry.client?.name ?? null,
    scopes: entry.scopes ?? null,
    grantId: entry.grantId ?? null,
    delegationId: entry.delegationId ?? null,
    action: entry.action,
    outcome: entry.outcome,
    reason: entry.reason ?? null,
    exception: entry.exception ?? null,
    resourceType: entry.resourceType ?? null,
    queryParams: entry.queryParams ? [...entry.queryParams] : null,
    resultCount: entry.resultCount ?? null,
    returnedIds: [...(entry.returned ?? [])],
    // AUD-1: every withheld id is stored with its reason and its exception code.
    withheld: (entry.withheld ?? []).map((w) => ({ ref: w.ref, reason: w.reason, exception: w.exception ?? WITHHELD_EXCEPTIONS[w.reason] })),
    requestId: entry.requestId ?? null,
    sourceAddress: entry.sourceAddress ?? null,
    detail: entry.detail ? { ...entry.detail } : null,
    prevHash,
  };
  return { ...content, hash: accessLogHash(content) };
}

/**
 * Where each patient's chain ended after this process's last append: where its next batch most
 * likely starts. Only a guess: the fast path checks it against the head row in the same statement
 * that moves it, and a wrong guess (another instance appended meanwhile) costs a retry, never a fork.
 */
export class AccessLogHeads {
  private readonly heads = new Map<string, { seq: number; hash: string }>();
  constructor(private readonly max = 100_000) {}

  get(patientId: string): { seq: number; hash: string } | undefined {
    return this.heads.get(patientId);
  }

  /** Moves a patient's head forward (never back: appends may settle out of order). */
  advance(patientId: string, head: { seq: number; hash: string }): void {
    const known = this.heads.get(patientId);
    if (known && known.seq >= head.seq) return;
    if (!known && this.heads.size >= this.max) this.heads.delete(this.heads.keys().next().value!);
    this.heads.set(patientId, head);
  }

  forget(patientIds: Iterable<string>): void {
    for (const p of patientIds) this.heads.delete(p);
  }
}

/** Raised by access_log_expect_heads when a guessed head was not the chain's head (migration 202611260003). */
const HEAD_MOVED = 'PAC01';

/**
 * Appends entries (any mix of patients) and returns each entry's place in its chain, in the order
 * given. Validation happens first, so a bad entry writes nothing.
 *
 * With `heads` (the group-commit writer's memory of where its chains ended) and every patient of
 * the batch in it, the batch is one autocommitted statement: it moves each head from the guessed
 * position (a conditional UPDATE, which waits for and re-reads a head another writer holds) and
 * inserts the rows, and fails as a whole unless every head moved. Otherwise, or when that fails,
 * it is a transaction that creates missing heads and locks them before numbering the rows.
 */
export async function appendAccessLog(
  db: Knex,
  entries: readonly AccessLogEntry[],
  options: { now?: () => Date; heads?: AccessLogHeads; /** Every entry passed validateAccessLogEntry already (the group-commit writer's). */ validated?: boolean } = {},
): Promise<AppendedAccessLogEntry[]> {
  if (!options.validated) entries.forEach((e, i) => validateAccessLogEntry(e, i)); // AUD-1: codes and ids only, no PHI values
  if (entries.length === 0) return [];
  const at = options.now?.() ?? new Date();
  const byPatient = new Map<string, number[]>();
  entries.forEach((e, i) => {
    const list = byPatient.get(e.patientId);
    if (list) list.push(i);
    else byPatient.set(e.patientId, [i]);
  });
  const patients = [...byPatient.keys()].sort();
  const { heads } = options;

  if (heads && !db.isTransaction && entries.length <= INSERT_CHUNK && patients.every((p) => heads.get(p))) {
    const guessed = new Map(patients.map((p) => [p, heads.get(p)!]));
    const { records, headOf } = chain(entries, byPatient, guessed, at);
    // Optimistic: a second batch for the same patient may start from here before this one commits.
    for (const [p, head] of headOf) heads.advance(p, head);
    const moves = patients.map((p) => {
      const from = guessed.get(p)!;
      const to = headOf.get(p)!;
      return { patient_id: p, from_seq: from.seq, from_hash: from.hash, seq: to.seq, hash: to.hash };
    });
    try {
      await preparedRows(db, db.raw(FAST_APPEND_SQL, [JSON.stringify(moves), JSON.stringify(records.map(toJsonRow))]));
      return records.map((r) => ({ patientId: r.patientId, seq: r.seq, hash: r.hash }));
    } catch (err) {
      heads.forget(patients);
      if ((err as { code?: string }).code !== HEAD_MOVED) throw err;
      // Another writer appended to one of these chains: number the batch again under locks.
    }
  }

  try {
    const records = await lockedAppend(db, entries, byPatient, patients, at, heads);
    return records.map((r) => ({ patientId: r.patientId, seq: r.seq, hash: r.hash }));
  } catch (err) {
    heads?.forget(patients);
    throw err;
  }
}

/** The append under locks: missing heads created, every head locked, then the rows and new heads. */
async function lockedAppend(
  db: Knex,
  entries: readonly AccessLogEntry[],
  byPatient: ReadonlyMap<string, number[]>,
  patients: readonly string[],
  at: Date,
  heads: AccessLogHeads | undefined,
): Promise<AccessLogRecord[]> {
  return db.transaction(async (trx) => {
    // Heads for new chains, in one order for every writer (no deadlock between two batches).
    await trx.raw(
      `insert into access_log_head (patient_id, seq, hash) values ${patients.map(() => '(?, 0, ?)').join(', ')} on conflict (patient_id) do nothing`,
      patients.flatMap((p) => [p, GENESIS_HASH]),
    );
    // AUD-2: the chain tail is locked, so concurrent appends for a patient never fork its chain.
    // (A separate statement: it must see heads another writer created since this one began.)
    const locked = (await trx.raw(
      `select patient_id, seq, hash from access_log_head where patient_id in (${patients.map(() => '?').join(', ')}) order by patient_id for update`,
      [...patients],
    )) as { rows: { patient_id: string; seq: string | number; hash: string }[] };
    const current = new Map(locked.rows.map((h) => [h.patient_id, { seq: Number(h.seq), hash: h.hash }]));
    for (const p of patients) if (!current.has(p)) throw new Error(`access_log_head row for "${p}" missing after insert`);
    const { records, headOf } = chain(entries, byPatient, current, at);
    // Told before the commit, as on the fast path: a batch that starts meanwhile chains after this
    // one (waiting for its locks) instead of guessing the old head and failing.
    if (heads) for (const [p, head] of headOf) heads.advance(p, head);

    // The last chunk of rows and the new heads go in one statement (a data-modifying WITH).
    const lastChunk = Math.floor((records.length - 1) / INSERT_CHUNK) * INSERT_CHUNK;
    for (let i = 0; i < lastChunk; i += INSERT_CHUNK) {
      await trx('access_log').insert(records.slice(i, i + INSERT_CHUNK).map(toRow));
    }
    const insert = trx('access_log').insert(records.slice(lastChunk).map(toRow)).toSQL();
    await trx.raw(
      `with appended as (${insert.sql})
       update access_log_head as h set seq = v.seq, hash = v.hash
         from (values ${patients.map(() => '(?, ?::bigint, ?)').join(', ')}) as v(patient_id, seq, hash)
        where h.patient_id = v.patient_id`,
      [
        ...insert.bindings,
        ...patients.flatMap((p) => {
          const head = headOf.get(p)!;
          return [p, head.seq, head.hash];
        }),
      ],
    );
    return records;
  });
}

/** Numbers and hashes the entries of each patient after that patient's head. */
function chain(
  entries: readonly AccessLogEntry[],
  byPatient: ReadonlyMap<string, number[]>,
  from: ReadonlyMap<string, { seq: number; hash: string }>,
  at: Date,
): { records: AccessLogRecord[]; headOf: Map<string, { seq: number; hash: string }> } {
  const records: AccessLogRecord[] = new Array(entries.length);
  const headOf = new Map<string, { seq: number; hash: string }>();
  for (const [p, indexes] of byPatient) {
    let { seq, hash } = from.get(p)!;
    for (const i of indexes) {
      seq += 1;
      const record = recordFor(entries[i]!, seq, hash, at);
      records[i] = record;
      hash = record.hash;
    }
    headOf.set(p, { seq, hash });
  }
  return { records, headOf };
}

// ---------------------------------------------------------------------------------------------
// Verification (AUD-2): `npm run audit:verify`.

export type AccessLogProblemKind =
  /** The row's content no longer matches its hash. */
  | 'altered'
  /** The row does not link to the previous row's hash (a row before it was changed, removed or inserted). */
  | 'broken-chain'
  /** Sequence numbers missing from the chain (rows deleted), including after the last row. */
  | 'deleted'
  /** The chain head does not match the last row. */
  | 'head-mismatch'
  /** Rows of a chain that has no head row. */
  | 'orphan'
  /** A purge checkpoint that rows contradict. */
  | 'checkpoint-mismatch'
  /** A row recorded earlier (an anchor) is gone or different. */
  | 'anchor-mismatch';

export interface AccessLogProblem {
  readonly kind: AccessLogProblemKind;
  readonly patientId: string;
  readonly seq?: number;
  readonly message: string;
}

/** A chain position recorded outside the database (e.g. from `accessLogAnchors` yesterday). */
export interface AccessLogAnchor {
  readonly patientId: string;
  readonly seq: number;
  readonly hash: string;
}

export interface AccessLogVerification {
  readonly problems: AccessLogProblem[];
  readonly chains: number;
  readonly rows: number;
  /** True when more problems were found than maxProblems. */
  readonly truncated: boolean;
}

export interface VerifyOptions {
  /** Positions recorded earlier outside the database: finds a removed tail or a removed chain. */
  readonly anchors?: readonly AccessLogAnchor[];
  readonly maxProblems?: number;
  /** Rows fetched per query (default 2000). */
  readonly pageSize?: number;
  /** Chains per step of the walk (default 500). */
  readonly headPageSize?: number;
}

/** Walks every chain and lists what does not verify: altered, deleted or reordered rows. */
export async function verifyAccessLog(db: Knex, options: VerifyOptions = {}): Promise<AccessLogProblem[]> {
  return (await verifyAccessLogReport(db, options)).problems;
}

export async function verifyAccessLogReport(db: Knex, options: VerifyOptions = {}): Promise<AccessLogVerification> {
  // One snapshot for the whole walk, so appends made meanwhile are not mistaken for rows past a head.
  return db.transaction((trx) => verifyInSnapshot(trx, options), { isolationLevel: 'repeatable read', readOnly: true });
}

async function verifyInSnapshot(db: Knex, options: VerifyOptions): Promise<AccessLogVerification> {
  const maxProblems = options.maxProblems ?? 10_000;
  const pageSize = options.pageSize ?? 2000;
  const headPage = options.headPageSize ?? 500;
  const problems: AccessLogProblem[] = [];
  let truncated = false;
  const report = (p: AccessLogProblem) => {
    if (problems.length < maxProblems) problems.push(p);
    else truncated = true;
  };
  const anchors = new Map<string, AccessLogAnchor[]>();
  for (const a of options.anchors ?? []) {
    const list = anchors.get(a.patientId);
    if (list) list.push(a);
    else anchors.set(a.patientId, [a]);
  }
  let chains = 0;
  let rowCount = 0;

  interface Chain {
    patientId: string;
    head: { seq: number; hash: string } | undefined;
    checkpoint: { seq: number; hash: string } | undefined;
    expectedSeq: number;
    expectedPrev: string;
    anchorSeqs: Map<number, string>;
  }
  const open = (patientId: string, head: Chain['head'], checkpoint: Chain['checkpoint']): Chain => {
    chains += 1;
    const anchorSeqs = new Map<number, string>();
    for (const a of anchors.get(patientId) ?? []) {
      if (checkpoint && a.seq < checkpoint.seq) continue; // purged since: nothing left to compare
      if (checkpoint && a.seq === checkpoint.seq) {
        if (a.hash !== checkpoint.hash) report({ kind: 'anchor-mismatch', patientId, seq: a.seq, message: `anchored hash differs from the purge checkpoint at seq ${a.seq}` });
        continue;
      }
      anchorSeqs.set(a.seq, a.hash);
    }
    anchors.delete(patientId);
    if (!head) report({ kind: 'orphan', patientId, message: 'rows exist for a chain with no head row' });
    return { patientId, head, checkpoint, expectedSeq: (checkpoint?.seq ?? 0) + 1, expectedPrev: checkpoint?.hash ?? GENESIS_HASH, anchorSeqs };
  };
  const visit = (c: Chain, r: AccessLogRecord) => {
    rowCount += 1;
    const { patientId } = c;
    if (r.seq < c.expectedSeq) {
      report({ kind: 'checkpoint-mismatch', patientId, seq: r.seq, message: `row ${r.seq} is still present although a purge checkpoint covers it` });
    } else if (r.seq > c.expectedSeq) {
      report({ kind: 'deleted', patientId, seq: c.expectedSeq, message: `rows ${c.expectedSeq}…${r.seq - 1} are missing` });
    }
    // AUD-2: alteration is detectable: the content must still hash to the stored hash, linked to the row before.
    if (accessLogHash(r) !== r.hash) report({ kind: 'altered', patientId, seq: r.seq, message: `row ${r.seq} does not match its hash` });
    if (r.prevHash !== c.expectedPrev) report({ kind: 'broken-chain', patientId, seq: r.seq, message: `row ${r.seq} does not link to the row before it` });
    const anchored = c.anchorSeqs.get(r.seq);
    if (anchored !== undefined) {
      if (anchored !== r.hash) report({ kind: 'anchor-mismatch', patientId, seq: r.seq, message: `row ${r.seq} differs from its anchored hash` });
      c.anchorSeqs.delete(r.seq);
    }
    c.expectedSeq = Math.max(c.expectedSeq, r.seq + 1);
    c.expectedPrev = r.hash;
  };
  const close = (c: Chain) => {
    const last = c.expectedSeq - 1;
    const { patientId, head } = c;
    if (head) {
      if (head.seq > last) report({ kind: 'deleted', patientId, seq: last + 1, message: `rows ${last + 1}…${head.seq} are missing (the chain head is at ${head.seq})` });
      else if (head.seq < last) report({ kind: 'head-mismatch', patientId, seq: last, message: `rows after the chain head (${head.seq}) up to ${last}` });
      else if (head.hash !== c.expectedPrev) report({ kind: 'head-mismatch', patientId, seq: last, message: `the chain head's hash does not match row ${last}` });
    }
    for (const seq of c.anchorSeqs.keys()) report({ kind: 'anchor-mismatch', patientId, seq, message: `anchored row ${seq} is missing` });
  };

  // Walks rows in (patient_id, seq) order within (lower, upper] (upper undefined: to the end).
  const walkRows = async (
    lower: string | undefined,
    upper: string | undefined,
    headOf: Map<string, { seq: number; hash: string }>,
    checkpointOf: Map<string, { seq: number; hash: string }>,
  ): Promise<Set<string>> => {
    const seen = new Set<string>();
    let current: Chain | undefined;
    let after: { patientId: string; seq: number } | undefined;
    for (;;) {
      let q = db<AccessLogRow>('access_log').select('*').orderBy([{ column: 'patient_id' }, { column: 'seq' }]).limit(pageSize);
      if (after) q = q.whereRaw('(patient_id, seq) > (?, ?)', [after.patientId, after.seq]);
      else if (lower !== undefined) q = q.where('patient_id', '>', lower);
      if (upper !== undefined) q = q.where('patient_id', '<=', upper);
      const rows = (await q) as AccessLogRow[];
      for (const row of rows) {
        const r = accessLogRecordFromRow(row);
        if (!current || current.patientId !== r.patientId) {
          if (current) close(current);
          current = open(r.patientId, headOf.get(r.patientId), checkpointOf.get(r.patientId));
          seen.add(r.patientId);
        }
        visit(current, r);
        after = { patientId: r.patientId, seq: r.seq };
      }
      if (rows.length < pageSize) break;
    }
    if (current) close(current);
    return seen;
  };

  const checkpointsIn = async (lower: string | undefined, upper: string | undefined) => {
    let q = db('access_log_checkpoint').select('patient_id').max({ seq: 'through_seq' }).groupBy('patient_id');
    if (lower !== undefined) q = q.where('patient_id', '>', lower);
    if (upper !== undefined) q = q.where('patient_id', '<=', upper);
    const latest = (await q) as { patient_id: string; seq: string | number }[];
    const result = new Map<string, { seq: number; hash: string }>();
    if (latest.length === 0) return result;
    const rows = (await db('access_log_checkpoint')
      .select('patient_id', 'through_seq', 'hash')
      .whereIn(['patient_id', 'through_seq'], latest.map((l) => [l.patient_id, Number(l.seq)]))) as { patient_id: string; through_seq: string | number; hash: string }[];
    for (const r of rows) result.set(r.patient_id, { seq: Number(r.through_seq), hash: r.hash });
    return result;
  };

  let lower: string | undefined;
  for (;;) {
    let q = db('access_log_head').select('patient_id', 'seq', 'hash').orderBy('patient_id').limit(headPage);
    if (lower !== undefined) q = q.where('patient_id', '>', lower);
    const heads = (await q) as { patient_id: string; seq: string | number; hash: string }[];
    if (heads.length === 0) break;
    const upper = heads[heads.length - 1]!.patient_id;
    const headOf = new Map(heads.map((h) => [h.patient_id, { seq: Number(h.seq), hash: h.hash }]));
    const checkpointOf = await checkpointsIn(lower, upper);
    const seen = await walkRows(lower, upper, headOf, checkpointOf);
    // Chains with a head but no rows left: empty, or wholly purged.
    for (const [patientId, head] of headOf) if (!seen.has(patientId)) close(open(patientId, head, checkpointOf.get(patientId)));
    lower = upper;
    if (heads.length < headPage) break;
  }
  // Rows beyond the last head belong to chains with no head.
  await walkRows(lower, undefined, new Map(), await checkpointsIn(lower, undefined));
  for (const [patientId, list] of anchors) {
    for (const a of list) report({ kind: 'anchor-mismatch', patientId, seq: a.seq, message: 'the anchored chain is gone' });
  }
  return { problems, chains, rows: rowCount, truncated };
}

/** The current tail of every chain: store these outside the database and pass them to verify later. */
export async function accessLogAnchors(db: Knex): Promise<AccessLogAnchor[]> {
  const rows = (await db('access_log_head').select('patient_id', 'seq', 'hash').where('seq', '>', 0).orderBy('patient_id')) as {
    patient_id: string;
    seq: string | number;
    hash: string;
  }[];
  return rows.map((r) => ({ patientId: r.patient_id, seq: Number(r.seq), hash: r.hash }));
}

/** One chain's rows, oldest first (tests, support tooling). */
export async function accessLogRecords(db: Knex, patientId: string): Promise<AccessLogRecord[]> {
  const rows = (await db<AccessLogRow>('access_log').select('*').where('patient_id', patientId).orderBy('seq')) as AccessLogRow[];
  return rows.map(accessLogRecordFromRow);
}
