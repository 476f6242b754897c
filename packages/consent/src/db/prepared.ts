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
/**
 * A statement binding more values than this runs unnamed: its text grows with a list a request
 * names (`id in (?, ?, …)`, one text per length), so naming it would spend every connection's
 * prepared statements on texts that rarely recur, where planning is small beside the work anyway.
 */
const MAX_NAMED_BINDINGS = 64;
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
  const name = bindings.length <= MAX_NAMED_BINDINGS ? statementName(sql) : undefined;
  // The same event knex emits, so query logging and the benchmark's SQL capture still see it.
  db.client.emit('query', { sql, bindings, method: 'select', options: name ? { name } : {} });
  const conn = await lease(db.client as PooledClient);
  let failed = true;
  try {
    const res = await conn.query(name ? { name, text: sql, values: bindings } : { text: sql, values: bindings });
    failed = false;
    return res.rows as T[];
  } finally {
    giveBack(db.client as PooledClient, conn, failed);
  }
}

/**
 * Connections between named statements. Taking a connection from knex's pool (tarn) and giving it
 * back costs a timer, an asynchronous validation and several promises each time, about 5 % of a
 * read's server CPU (scripts/bench/API-RESULTS.md). A connection these statements finish with is
 * kept here for the next one instead, while nobody waits at the pool, at most HOT_MAX of them, and
 * never for longer than HOT_MS: they go back to the pool then, so the pool's own users (knex
 * queries, transactions) and its shutdown always get them. A connection whose statement failed,
 * or that knex has marked broken, goes back to the pool, which validates it.
 */
const HOT_MAX = 4;
const HOT_MS = 25;

interface PooledClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<void>;
  pool?: { numPendingAcquires(): number };
}

interface Hot {
  idle: PgConnection[];
  timer: NodeJS.Timeout | undefined;
}

const hot = new WeakMap<PooledClient, Hot>();

function hotOf(client: PooledClient): Hot {
  let h = hot.get(client);
  if (!h) hot.set(client, (h = { idle: [], timer: undefined }));
  return h;
}

async function lease(client: PooledClient): Promise<PgConnection> {
  const idle = hot.get(client)?.idle;
  while (idle?.length) {
    const conn = idle.pop()!;
    if (!(conn as { __knex__disposed?: unknown }).__knex__disposed) return conn;
    void client.releaseConnection(conn);
  }
  return (await client.acquireConnection()) as PgConnection;
}

function giveBack(client: PooledClient, conn: PgConnection, failed: boolean): void {
  const h = hotOf(client);
  const waiting = (client.pool?.numPendingAcquires() ?? 1) > 0;
  if (failed || waiting || h.idle.length >= HOT_MAX || (conn as { __knex__disposed?: unknown }).__knex__disposed) {
    void client.releaseConnection(conn);
    return;
  }
  h.idle.push(conn);
  h.timer ??= setTimeout(() => {
    h.timer = undefined;
    for (const c of h.idle.splice(0)) void client.releaseConnection(c);
  }, HOT_MS).unref();
}

/** The first row, or undefined. */
export async function preparedFirst<T>(db: Knex, query: Knex.QueryBuilder | Knex.Raw): Promise<T | undefined> {
  return (await preparedRows<T>(db, query))[0];
}
