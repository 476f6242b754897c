/**
 * One real database per test file: a fresh database on the PostgreSQL server named by
 * DATABASE_URL when it is set (CI runs the suite both ways), otherwise an in-memory PGlite.
 */
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { openDatabase, type Database } from '../db/database.js';
import { migrateLatest, type Migration } from '../db/migrations.js';

export interface TestDatabase {
  db: Database;
  kind: 'postgres' | 'embedded';
  /** The connection URL of the test database (postgres only), for servers started by the test. */
  url?: string;
  destroy(): Promise<void>;
}

export async function createTestDatabase(migrations: Migration[]): Promise<TestDatabase> {
  const serverUrl = process.env['DATABASE_URL'];
  if (!serverUrl) {
    const db = openDatabase({ kind: 'embedded', dataDir: ':memory:' });
    await migrateLatest(db, migrations);
    return { db, kind: 'embedded', destroy: () => db.destroy() };
  }
  const name = `pa_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 5 });
  await migrateLatest(db, migrations);
  return {
    db,
    kind: 'postgres',
    url: url.toString(),
    async destroy() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

/**
 * The SQL of every statement the database sends while `run` runs (knex 'query' events, which
 * prepared statements emit too): for tests that count round trips, not time.
 */
export async function statementsDuring(db: Knex, run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const record = (q: { sql?: string }) => seen.push((q.sql ?? '').trim());
  db.on('query', record);
  try {
    await run();
  } finally {
    db.removeListener('query', record);
  }
  return seen;
}
