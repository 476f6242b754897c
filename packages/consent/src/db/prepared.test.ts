import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createTestDatabase, statementsDuring, type TestDatabase } from '../testing/test-database.js';
import { openDatabase } from './database.js';
import { numberedPlaceholders, preparedSql } from './prepared.js';

describe('numberedPlaceholders', () => {
  test.each<[string, string]>([
    ['select 1', 'select 1'],
    ['a = ? and b = ?', 'a = $1 and b = $2'],
    ['x in (?, ?, ?) limit ?', 'x in ($1, $2, $3) limit $4'],
    ["s.value like ? escape '\\'", "s.value like $1 escape '\\'"],
    // As knex counts them: a question mark is a placeholder wherever it is (values belong in bindings).
    ["a = '?' and b = ?", "a = '$1' and b = $2"],
    ['coalesce((select e.epoch from e where e.p = ?), 0) = ?::bigint', 'coalesce((select e.epoch from e where e.p = $1), 0) = $2::bigint'],
  ])('%j → %j', (sql, expected) => {
    expect(numberedPlaceholders(sql)).toBe(expected);
  });

  test.each(['select ?? from t', 'select 1 where a \\? b'])("knex's escapes are refused, not sent differently: %j", (sql) => {
    expect(() => numberedPlaceholders(sql)).toThrow(/not supported/);
  });
});

describe('preparedSql', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase([]);
  });
  afterAll(() => t?.destroy());

  test('answers as knex does for the same text and bindings', async () => {
    const sql = "select ?::text as a, ?::int + 1 as b, ? as c, 'it''s' as d";
    const bindings = ['x', 41, null];
    const viaKnex = ((await t.db.raw(sql, bindings)) as { rows: unknown[] }).rows;
    expect(await preparedSql(t.db, sql, bindings)).toEqual(viaKnex);
    expect(viaKnex).toEqual([{ a: 'x', b: 42, c: null, d: "it's" }]);
  });

  test('is seen by query listeners (logging, statement counts)', async () => {
    expect(await statementsDuring(t.db, () => preparedSql(t.db, 'select ? as one', [1]))).toHaveLength(1);
  });
});

// Named statements keep the connection they finished with for the next one (prepared.ts); only a
// PostgreSQL pool has connections to keep (the embedded database runs statements through knex).
(process.env['DATABASE_URL'] ? describe : describe.skip)('connections between named statements (PostgreSQL)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase([]);
  });
  afterAll(() => t?.destroy());

  const pool = () => (t.db.client as { pool: { on(e: string, f: () => void): void; removeListener(e: string, f: () => void): void } }).pool;
  const pid = async () => (await preparedSql<{ pid: number }>(t.db, 'select pg_backend_pid() as pid', []))[0]!.pid;

  test('back-to-back statements skip the pool', async () => {
    let acquires = 0;
    const count = () => void acquires++;
    pool().on('acquireRequest', count);
    try {
      for (let i = 0; i < 50; i++) await preparedSql(t.db, 'select ? as n', [i]);
    } finally {
      pool().removeListener('acquireRequest', count);
    }
    expect(acquires).toBeLessThan(5);
  });

  test("the pool's own users are not starved: every connection is back in the pool shortly after", async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => preparedSql(t.db, 'select ? as n', [i])));
    // Five transactions need all five connections of the test pool at once.
    const started = Date.now();
    let inside = 0;
    let release!: () => void;
    const allIn = new Promise<void>((resolve) => (release = resolve));
    await Promise.all(
      Array.from({ length: 5 }, () =>
        t.db.transaction(async (trx) => {
          await trx.raw('select 1');
          if (++inside === 5) release();
          await allIn;
        }),
      ),
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('short statements are named; one binding a long list runs unnamed (its text changes with the length)', async () => {
    // One connection, so that pg_prepared_statements (kept per connection) shows everything run.
    const single = openDatabase({ kind: 'postgres', url: t.url!, poolMax: 1 });
    try {
      const list = (n: number) => `select ? = any(array[${Array.from({ length: n }, () => '?::text').join(', ')}]) as found`;
      for (const n of [2, 3, 100, 101]) {
        expect(await preparedSql(single, list(n), ['v1', ...Array.from({ length: n }, (_, i) => `v${i}`)])).toEqual([{ found: true }]);
      }
      const { rows } = (await single.raw("select statement from pg_prepared_statements where statement like '%= any(array[%'")) as { rows: { statement: string }[] };
      expect(rows.map((r) => (r.statement.match(/\$\d+/g) ?? []).length).sort((a, b) => a - b)).toEqual([3, 4]);
    } finally {
      await single.destroy();
    }
  });

  test('a connection the server closed is never handed out again', async () => {
    const before = await pid();
    await t.db.raw('select pg_terminate_backend(?)', [before]);
    // The terminated connection learns of it asynchronously; until then a statement on it fails once.
    await new Promise((r) => setTimeout(r, 100));
    const after = await pid();
    expect(after).not.toBe(before);
  });
});
