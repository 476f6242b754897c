/**
 * Hot queries as named (prepared) statements. knex sends every query as an unnamed statement, so
 * PostgreSQL parses and plans it again on each request: for the API's read query planning cost
 * three times its execution (scripts/bench/API-RESULTS.md). A named statement is parsed and
 * planned once per pooled connection, then only bound and executed (shared/docs/performance.md
 * measured +27 % for a search). The SQL is still built by knex; only how it is sent changes.
 *
 * The embedded database (PGlite) has one connection and no wire protocol: it runs the builder as usual.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { isEmbedded } from './database.js';

/**
 * Statement texts vary with the shape of a request (how many ids, which filters), so the number
 * of names is bounded: past this many distinct texts, new ones run unnamed, and no pooled
 * connection ever holds more than this many prepared statements.
 */
const MAX_NAMES = 2000;
const names = new Map<string, string>();

interface PgConnection {
  query(config: { name?: string; text: string; values: readonly unknown[] }): Promise<{ rows: unknown[] }>;
}

function statementName(sql: string): string | undefined {
  const known = names.get(sql);
  if (known !== undefined) return known;
  if (names.size >= MAX_NAMES) return undefined;
  const name = `pa_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
  names.set(sql, name);
  return name;
}

/** Runs a query and returns its rows; on PostgreSQL through a named statement. */
export async function preparedRows<T>(db: Knex, query: Knex.QueryBuilder | Knex.Raw): Promise<T[]> {
  // Inside a transaction the statement must run on the transaction's connection: knex's way.
  if (isEmbedded(db) || db.isTransaction) {
    const out = (await query) as T[] | { rows: T[] };
    return Array.isArray(out) ? out : out.rows;
  }
  const { sql, bindings } = query.toSQL().toNative();
  return runNamed<T>(db, sql, bindings);
}

/**
 * SQL written out with `?` placeholders (knex's raw convention, so the embedded database runs the
 * same text through knex), without a query builder: for the hottest statements, where building
 * costs more CPU than the rest of the call.
 */
export async function preparedSql<T>(db: Knex, sql: string, bindings: readonly unknown[]): Promise<T[]> {
  if (isEmbedded(db) || db.isTransaction) return ((await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows;
  return runNamed<T>(db, numberedPlaceholders(sql), bindings);
}

const numbered = new Map<string, string>();

/**
 * `?` → `$1, $2…`, every one of them, as knex counts them (quotes included), so that both ways of
 * running a text bind the same values. knex's escapes (`\\?`, and `??` for identifiers) are refused.
 */
export function numberedPlaceholders(sql: string): string {
  const known = numbered.get(sql);
  if (known !== undefined) return known;
  if (/\?\?|\\\?/.test(sql)) throw new Error('preparedSql: knex escapes (?? or \\?) are not supported');
  let n = 0;
  const out = sql.replace(/\?/g, () => `$${++n}`);
  if (numbered.size < MAX_NAMES) numbered.set(sql, out);
  return out;
}

async function runNamed<T>(db: Knex, sql: string, bindings: readonly unknown[]): Promise<T[]> {
  const name = statementName(sql);
  // The same event knex emits, so query logging and the benchmark's SQL capture still see it.
  db.client.emit('query', { sql, bindings, method: 'select', options: name ? { name } : {} });
  const conn = (await db.client.acquireConnection()) as PgConnection;
  try {
    const res = await conn.query(name ? { name, text: sql, values: bindings } : { text: sql, values: bindings });
    return res.rows as T[];
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/** The first row, or undefined. */
export async function preparedFirst<T>(db: Knex, query: Knex.QueryBuilder | Knex.Raw): Promise<T | undefined> {
  return (await preparedRows<T>(db, query))[0];
}
