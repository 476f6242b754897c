import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Knex } from 'knex';
import { consentMigrations } from '../migrations/index.js';
import { createAccessLog } from '../migrations/202611230003_create_access_log.js';
import { openDatabase } from '../db/database.js';
import { createTestDatabase, statementsDuring, type TestDatabase } from '../testing/test-database.js';
import { GENESIS_HASH, accessLogHash } from './access-log-hash.js';
import {
  ACCESS_LOG_ACTIONS,
  ACTOR_KINDS,
  AccessLogEntryError,
  WITHHELD_EXCEPTIONS,
  type AccessLogEntry,
  type AccessLogRecord,
} from './access-log-types.js';
import { AccessLogHeads, accessLogAnchors, accessLogRecords, appendAccessLog, verifyAccessLog, verifyAccessLogReport, type AccessLogProblemKind } from './access-log.js';
import { createAccessLogWriter } from './access-log-writer.js';

const migrations = consentMigrations.includes(createAccessLog) ? consentMigrations : [...consentMigrations, createAccessLog];
const T0 = new Date('2026-06-15T12:00:00.000Z');

let tdb: TestDatabase;
let db: Knex;

beforeAll(async () => {
  tdb = await createTestDatabase(migrations);
  db = tdb.db;
});
afterAll(async () => {
  await tdb?.destroy();
});

const read = (patientId: string, n: number, extra: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  patientId,
  at: new Date(T0.getTime() + n * 1000),
  actor: { kind: 'patient', id: `acct-${patientId}`, fhirUser: `Patient/${patientId}` },
  ...(patientId ? { onBehalfOf: patientId } : {}),
  client: { id: 'client-a', name: 'App A' },
  scopes: 'launch/patient patient/*.rs',
  grantId: `grant-${patientId}`,
  action: 'read',
  outcome: 'success',
  resourceType: 'Observation',
  resultCount: 1,
  returned: [`Observation/o${n}`],
  requestId: `req-${patientId}-${n}`,
  ...extra,
});

/**
 * Tampering as a superuser would: session_replication_role = replica skips ordinary triggers
 * (it needs superuser, which the application role does not have). Only tests use this path.
 */
async function asSuperuser(fn: (trx: Knex.Transaction) => Promise<unknown>): Promise<void> {
  await db.transaction(async (trx) => {
    await trx.raw('set local session_replication_role = replica');
    await fn(trx);
  });
}

const kinds = (problems: { kind: AccessLogProblemKind; patientId: string }[], patientId: string) =>
  [...new Set(problems.filter((p) => p.patientId === patientId).map((p) => p.kind))].sort();

describe('appendAccessLog', () => {
  test('numbers each patient chain from 1 and links every row to the one before', async () => {
    const appended = await appendAccessLog(db, [read('chain-a', 1), read('chain-b', 1), read('chain-a', 2), read('', 3, { actor: { kind: 'patient', id: 'acct-x' }, action: 'login', resourceType: undefined, returned: [] })]);
    expect(appended.map((a) => [a.patientId, a.seq])).toEqual([
      ['chain-a', 1],
      ['chain-b', 1],
      ['chain-a', 2],
      ['', 1],
    ]);
    await appendAccessLog(db, [read('chain-a', 3)]);
    const rows = await accessLogRecords(db, 'chain-a');
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    expect(rows[1]!.prevHash).toBe(rows[0]!.hash);
    expect(rows[2]!.prevHash).toBe(rows[1]!.hash);
    for (const r of rows) expect(accessLogHash(r)).toBe(r.hash);
    expect(await verifyAccessLog(db)).toEqual([]);
  });

  test('stores what the entry says, with an exception code for every withheld item (AUD-1)', async () => {
    const [a] = await appendAccessLog(db, [
      read('stored', 1, {
        actor: { kind: 'proxy', id: 'acct-parent', fhirUser: 'RelatedPerson/rp-1' },
        delegationId: 'del-1',
        action: 'search',
        queryParams: ['patient', 'category', 'code:text'],
        returned: ['Observation/o1', 'Observation/o2'],
        resultCount: 2,
        withheld: [
          { ref: 'Observation/o3', reason: 'proxy-age-limited' },
          { ref: 'Observation/o4', reason: 'harm-hold' },
          { ref: 'Observation/o5', reason: 'restriction', exception: 'privacy_individual_request' },
        ],
        sourceAddress: '203.0.113.7',
        detail: { page: 1, strict: false },
      }),
    ]);
    const [row] = await accessLogRecords(db, 'stored');
    expect(row).toMatchObject({
      seq: a!.seq,
      actorKind: 'proxy',
      actorId: 'acct-parent',
      actorFhirUser: 'RelatedPerson/rp-1',
      delegationId: 'del-1',
      action: 'search',
      queryParams: ['patient', 'category', 'code:text'],
      returnedIds: ['Observation/o1', 'Observation/o2'],
      withheld: [
        { ref: 'Observation/o3', reason: 'proxy-age-limited', exception: 'privacy_minor' },
        { ref: 'Observation/o4', reason: 'harm-hold', exception: 'preventing_harm' },
        { ref: 'Observation/o5', reason: 'restriction', exception: 'privacy_individual_request' },
      ],
      sourceAddress: '203.0.113.7',
      detail: { page: 1, strict: false },
      recordedAt: new Date(T0.getTime() + 1000),
    });
  });

  test('every action and actor kind is accepted by the table', async () => {
    const entries = ACCESS_LOG_ACTIONS.flatMap((action, i) =>
      ACTOR_KINDS.map((kind, j) => read('vocab', i * 10 + j, { action, actor: { kind, id: `${kind}-1` }, returned: [] })),
    );
    await appendAccessLog(db, entries);
    expect((await accessLogRecords(db, 'vocab')).length).toBe(ACCESS_LOG_ACTIONS.length * ACTOR_KINDS.length);
    expect(Object.keys(WITHHELD_EXCEPTIONS)).toContain('scope');
  });

  test('app names in any script are kept as given', async () => {
    await appendAccessLog(db, [read('names', 1, { client: { id: 'sante', name: 'Santé — 健康' } })]);
    expect((await accessLogRecords(db, 'names'))[0]!.clientName).toBe('Santé — 健康');
    expect(await verifyAccessLog(db)).toEqual([]);
  });

  // Table-driven: entries that could carry PHI or break the rules are refused before anything is written.
  test.each<[string, Partial<AccessLogEntry>]>([
    ['a search value in queryParams', { queryParams: ['name=Maria'] }],
    ['a name instead of a reference', { returned: ['Maria Lopez'] }],
    ['a reference with a value', { withheld: [{ ref: 'Observation/o1?value=7', reason: 'scope' }] }],
    ['an unknown withheld reason', { withheld: [{ ref: 'Observation/o1', reason: 'because' as 'scope' }] }],
    ['an unknown action', { action: 'write' as 'read' }],
    ['an unknown actor kind', { actor: { kind: 'robot' as 'app', id: 'r' } }],
    ['a success without an actor id', { actor: { kind: 'app' } }],
    ['a denial without a reason', { outcome: 'denied' }],
    ['a patient id that is not a FHIR id', { patientId: 'Maria Lopez' }],
    ['a nested detail value', { detail: { note: { text: 'x' } } as unknown as AccessLogEntry['detail'] }],
    ['an unknown exception', { exception: 'other' as 'security' }],
    ['a control character in a client name', { client: { id: 'c', name: 'App\nInjected: line' } }],
  ])('refuses %s', async (_, extra) => {
    await expect(appendAccessLog(db, [read('refused', 1), read('refused', 2, extra)])).rejects.toBeInstanceOf(AccessLogEntryError);
    expect(await accessLogRecords(db, 'refused')).toEqual([]);
  });
});

describe('the table is append-only (AUD-2)', () => {
  beforeAll(async () => {
    await appendAccessLog(db, [read('guarded', 1), read('guarded', 2)]);
    await db('access_log_checkpoint').insert({ patient_id: 'guarded-cp', through_seq: 1, hash: 'b'.repeat(64), cutoff: T0, purged_rows: 1, purged_at: T0 });
  });

  test.each<[string, (k: Knex) => Promise<unknown>]>([
    ['UPDATE a row', (k) => k('access_log').where({ patient_id: 'guarded', seq: 1 }).update({ actor_id: 'someone-else' })],
    ['DELETE a row', (k) => k('access_log').where({ patient_id: 'guarded', seq: 2 }).delete()],
    ['TRUNCATE the table', (k) => k.raw('truncate access_log')],
    ['move a chain head back', (k) => k('access_log_head').where({ patient_id: 'guarded' }).update({ seq: 1 })],
    ['delete a chain head', (k) => k('access_log_head').where({ patient_id: 'guarded' }).delete()],
    ['insert a head that is not empty', (k) => k('access_log_head').insert({ patient_id: 'forged', seq: 5, hash: 'a'.repeat(64) })],
    ['change a purge checkpoint', (k) => k('access_log_checkpoint').where({ patient_id: 'guarded-cp' }).update({ through_seq: 5 })],
    ['delete a purge checkpoint', (k) => k('access_log_checkpoint').where({ patient_id: 'guarded-cp' }).delete()],
    [
      'DELETE a young row through the purge path',
      (k) =>
        k.transaction(async (trx) => {
          await trx.raw(`select set_config('patient_access.access_log_purge', 'on', true)`);
          await trx('access_log').where({ patient_id: 'guarded', seq: 1 }).delete();
        }),
    ],
  ])('%s is refused', async (_, attempt) => {
    await expect(attempt(db)).rejects.toThrow(/refused|purge may only/);
    expect((await accessLogRecords(db, 'guarded')).map((r) => r.seq)).toEqual([1, 2]);
  });

  // Migration 202611270001: 64 lowercase hex digits, nothing else (heads are held by their trigger to the genesis hash and forward moves).
  test.each<[string, string, boolean]>([
    ['64 lowercase hex digits', '0123456789abcdef'.repeat(4), true],
    ['uppercase hex', '0123456789ABCDEF'.repeat(4), false],
    ['63 digits', 'a'.repeat(63), false],
    ['65 digits', 'a'.repeat(65), false],
    ['a non-hex letter', 'g' + 'a'.repeat(63), false],
    ['a trailing newline', 'a'.repeat(63) + '\n', false],
    ['empty', '', false],
  ])('a hash of %s (%j) is accepted: %s', async (_, hash, accepted) => {
    const id = `hash-check-${hash.length}-${accepted}-${hash.charCodeAt(0)}`;
    const attempts = [
      db('access_log_checkpoint').insert({ patient_id: id, through_seq: 1, hash, cutoff: T0, purged_rows: 1, purged_at: T0 }),
      ...(['hash', 'prev_hash'] as const).map((column) =>
        db('access_log').insert({ patient_id: `${id}-${column}`, seq: 1, recorded_at: T0, actor_kind: 'patient', actor_id: 'acct', action: 'read', outcome: 'success', hash: 'c'.repeat(64), prev_hash: 'c'.repeat(64), [column]: hash }),
      ),
    ];
    for (const attempt of attempts) {
      if (accepted) await expect(attempt).resolves.toBeDefined();
      else await expect(attempt).rejects.toThrow(/hash_check/);
    }
  });
});

describe('verifyAccessLog finds tampering', () => {
  // Each case builds its own 4-row chain, tampers with it as a superuser, and names what verify must report.
  test.each<[string, (trx: Knex.Transaction, p: string, rows: AccessLogRecord[]) => Promise<unknown>, AccessLogProblemKind[]]>([
    ['an altered row', (trx, p) => trx('access_log').where({ patient_id: p, seq: 2 }).update({ client_id: 'other-app' }), ['altered']],
    ['an altered list of returned ids', (trx, p) => trx.raw(`update access_log set returned_ids = '{}' where patient_id = ? and seq = 3`, [p]), ['altered']],
    [
      'an altered row with its hash recomputed',
      async (trx, p, rows) => {
        const forged = { ...rows[1]!, actorId: 'someone-else' };
        await trx('access_log').where({ patient_id: p, seq: 2 }).update({ actor_id: 'someone-else', hash: accessLogHash(forged) });
      },
      ['broken-chain'],
    ],
    ['a deleted row', (trx, p) => trx('access_log').where({ patient_id: p, seq: 2 }).delete(), ['broken-chain', 'deleted']],
    ['a deleted last row', (trx, p) => trx('access_log').where({ patient_id: p, seq: 4 }).delete(), ['deleted']],
    ['a deleted chain, head left', (trx, p) => trx('access_log').where({ patient_id: p }).delete(), ['deleted']],
    [
      'two rows swapped (reordered)',
      async (trx, p) => {
        await trx('access_log').where({ patient_id: p, seq: 2 }).update({ seq: 1000 });
        await trx('access_log').where({ patient_id: p, seq: 3 }).update({ seq: 2 });
        await trx('access_log').where({ patient_id: p, seq: 1000 }).update({ seq: 3 });
      },
      ['altered', 'broken-chain'],
    ],
    ['a row moved to another patient', (trx, p) => trx('access_log').where({ patient_id: p, seq: 4 }).update({ patient_id: `${p}-x`, seq: 1 }), ['deleted']],
    ['a time changed to reorder history', (trx, p) => trx.raw(`update access_log set recorded_at = recorded_at - interval '1 day' where patient_id = ? and seq = 3`, [p]), ['altered']],
    ['a chain head removed', (trx, p) => trx('access_log_head').where({ patient_id: p }).delete(), ['orphan']],
    ['a chain head rewound', (trx, p) => trx('access_log_head').where({ patient_id: p }).update({ seq: 3 }), ['head-mismatch']],
  ])('%s', async (name, tamper, expected) => {
    const p = `t-${name.replace(/[^a-z]+/g, '-')}`.slice(0, 60);
    await appendAccessLog(db, [1, 2, 3, 4].map((n) => read(p, n)));
    expect(kinds(await verifyAccessLog(db), p)).toEqual([]);
    const rows = await accessLogRecords(db, p);
    await asSuperuser((trx) => tamper(trx, p, rows));
    const problems = await verifyAccessLog(db);
    expect(kinds(problems, p)).toEqual([...expected].sort());
  });

  test('anchors recorded earlier find a removed tail together with its head (AUD-2)', async () => {
    await appendAccessLog(db, [read('anchored', 1), read('anchored', 2)]);
    const anchors = (await accessLogAnchors(db)).filter((a) => a.patientId === 'anchored');
    expect(anchors).toEqual([{ patientId: 'anchored', seq: 2, hash: expect.any(String) }]);
    expect(kinds(await verifyAccessLog(db, { anchors }), 'anchored')).toEqual([]);
    await asSuperuser(async (trx) => {
      await trx('access_log').where({ patient_id: 'anchored', seq: 2 }).delete();
      await trx('access_log_head').where({ patient_id: 'anchored' }).update({ seq: 1, hash: (await accessLogRecords(trx, 'anchored'))[0]!.hash });
    });
    expect(kinds(await verifyAccessLog(db), 'anchored')).toEqual([]);
    expect(kinds(await verifyAccessLog(db, { anchors }), 'anchored')).toEqual(['anchor-mismatch']);
  });

  test('counts rows and chains, and walks across pages', async () => {
    const report = await verifyAccessLogReport(db, { pageSize: 3, headPageSize: 2 });
    const full = await verifyAccessLogReport(db);
    const sorted = (ps: typeof full.problems) => [...ps].map((p) => JSON.stringify(p)).sort();
    expect(report.rows).toBe(full.rows);
    expect(report.chains).toBe(full.chains);
    expect(full.problems.length).toBeGreaterThan(5); // the chains tampered with above
    expect(sorted(report.problems)).toEqual(sorted(full.problems));
    expect(report.rows).toBeGreaterThan(20);
  });
});

describe('concurrent appends', () => {
  test('parallel batches over the same patients keep every chain whole', async () => {
    const patients = ['conc-a', 'conc-b', 'conc-c', 'conc-d'];
    const batches = Array.from({ length: 12 }, (_, b) =>
      // Each batch touches the patients in a different order, several rows each.
      Array.from({ length: 8 }, (_, i) => read(patients[(b + i * (b % 3 === 0 ? 1 : 3)) % patients.length]!, b * 100 + i)),
    );
    const results = await Promise.all(batches.map((entries) => appendAccessLog(db, entries)));
    for (const p of patients) {
      const seqs = results.flat().filter((r) => r.patientId === p).map((r) => r.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect((await accessLogRecords(db, p)).length).toBe(seqs.length);
    }
    const problems = await verifyAccessLog(db);
    for (const p of patients) expect(kinds(problems, p)).toEqual([]);
  });

  test('the writer groups concurrent writes and resolves each once committed', async () => {
    const writer = createAccessLogWriter(db, { maxBatch: 7 });
    const writes = Array.from({ length: 40 }, (_, i) => writer.write(read(`writer-${i % 3}`, i)));
    const bad = writer.write(read('writer-0', 99, { returned: ['not a reference'] }));
    await expect(bad).rejects.toBeInstanceOf(AccessLogEntryError);
    await Promise.all(writes);
    const counts = await Promise.all([0, 1, 2].map(async (i) => (await accessLogRecords(db, `writer-${i}`)).length));
    expect(counts).toEqual([14, 13, 13]);
    await writer.close();
    await expect(writer.write(read('writer-0', 100))).rejects.toThrow(/closed/);
    const problems = await verifyAccessLog(db);
    for (const i of [0, 1, 2]) expect(kinds(problems, `writer-${i}`)).toEqual([]);
  });

  /** Statements sent while `run` runs, by their first word. */
  const statements = async (run: () => Promise<unknown>): Promise<string[]> =>
    (await statementsDuring(db, run)).map((sql) => sql.split(/\s+/)[0]!.toLowerCase());

  test('with known heads a batch is one statement; the heads it guessed are checked, not trusted', async () => {
    const heads = new AccessLogHeads();
    // First batch: the chain is new to this writer, so it is created and locked in a transaction.
    expect(await statements(() => appendAccessLog(db, [read('fast-a', 1), read('fast-b', 1)], { heads }))).toContain('select');
    expect(heads.get('fast-a')?.seq).toBe(1);
    // Known heads: one autocommitted statement, no transaction.
    const three = await statementsDuring(db, () => appendAccessLog(db, [read('fast-a', 2), read('fast-b', 2), read('fast-a', 3)], { heads }));
    expect(three.map((sql) => sql.split(/\s+/)[0])).toEqual(['with']);
    expect(heads.get('fast-a')?.seq).toBe(3);
    // Whatever the batch holds, the statement's text is the same (prepared once per connection).
    const one = await statementsDuring(db, () => appendAccessLog(db, [read('fast-b', 3)], { heads }));
    expect(one).toEqual(three);

    // Another writer (another instance) appends to fast-b: this writer's guess for it is stale.
    await appendAccessLog(db, [read('fast-b', 10)]);
    const sent = await statements(async () => {
      const placed = await appendAccessLog(db, [read('fast-a', 4), read('fast-b', 11)], { heads });
      expect(placed).toEqual([expect.objectContaining({ patientId: 'fast-a', seq: 4 }), expect.objectContaining({ patientId: 'fast-b', seq: 5 })]);
    });
    // The one-statement attempt failed as a whole (fast-a's row did not go in on its own), then the locked path.
    expect(sent[0]).toBe('with');
    expect(sent).toContain('insert');
    expect((await accessLogRecords(db, 'fast-a')).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await accessLogRecords(db, 'fast-b')).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    const problems = await verifyAccessLog(db);
    for (const p of ['fast-a', 'fast-b']) expect(kinds(problems, p)).toEqual([]);
  });

  // PostgreSQL replans a prepared statement whenever a plan for the values at hand looks cheaper
  // than its generic plan: an append planned on every batch cost about twice the CPU of one that
  // reuses its plan. The statement is written so that its cost does not depend on the batch.
  (process.env['DATABASE_URL'] ? test : test.skip)('the one-statement append reuses its generic plan whatever the batch size (PostgreSQL)', async () => {
    const single = openDatabase({ kind: 'postgres', url: tdb.url!, poolMax: 1 });
    try {
      // A deployment's head table: the planner's estimates, and with them its choice, depend on it.
      await single.raw("insert into access_log_head (patient_id, seq, hash) select 'plan-' || n, 0, repeat('0', 64) from generate_series(1, 20000) n");
      await single.raw('analyze access_log_head');
      const heads = new AccessLogHeads();
      await appendAccessLog(single, [read('plan-a', 0), read('plan-b', 0)], { heads });
      for (let n = 1; n <= 12; n++) await appendAccessLog(single, n % 4 === 0 ? [read('plan-a', n), read('plan-b', n)] : [read('plan-a', n)], { heads });
      const { rows } = (await single.raw("select generic_plans, custom_plans from pg_prepared_statements where statement like 'with moves as%'")) as {
        rows: { generic_plans: string; custom_plans: string }[];
      };
      expect(rows).toHaveLength(1);
      // PostgreSQL plans the first five executions for their values, then chooses.
      expect(Number(rows[0]!.custom_plans)).toBeLessThanOrEqual(5);
      expect(Number(rows[0]!.generic_plans)).toBeGreaterThanOrEqual(7);
    } finally {
      await single.destroy();
    }
  });

  test('two writers with their own heads appending to the same chains at once never fork them', async () => {
    const writers = [createAccessLogWriter(db, { maxBatch: 3 }), createAccessLogWriter(db, { maxBatch: 5 })];
    const patients = ['race-a', 'race-b', 'race-c'];
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 30 }, (_, i) => writers[i % 2]!.write(read(patients[(i * 7 + round) % 3]!, round * 100 + i))));
    }
    await Promise.all(writers.map((w) => w.close()));
    const problems = await verifyAccessLog(db);
    for (const p of patients) {
      expect((await accessLogRecords(db, p)).map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(kinds(problems, p)).toEqual([]);
    }
  });

  test('a write inside the caller\'s transaction rolls back with it', async () => {
    await expect(
      db.transaction(async (trx) => {
        await appendAccessLog(trx, [read('rolled-back', 1)]);
        throw new Error('the read failed');
      }),
    ).rejects.toThrow('the read failed');
    expect(await accessLogRecords(db, 'rolled-back')).toEqual([]);
    await appendAccessLog(db, [read('rolled-back', 2)]);
    expect((await accessLogRecords(db, 'rolled-back')).map((r) => r.seq)).toEqual([1]);
  });
});
