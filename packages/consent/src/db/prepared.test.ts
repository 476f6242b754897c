import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createTestDatabase, statementsDuring, type TestDatabase } from '../testing/test-database.js';
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
