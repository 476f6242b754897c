/**
 * Opens the database: PostgreSQL through pg with a pool when DATABASE_URL is set, otherwise an
 * embedded PostgreSQL (PGlite) in a data folder. The same migrations and SQL run on both.
 */
import { mkdirSync } from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import type { DatabaseConfig } from '../config/app-config.js';

export type Database = Knex;

/** `dataDir: ':memory:'` gives a throw-away embedded database (tests). */
export function openDatabase(config: DatabaseConfig | { kind: 'embedded'; dataDir: ':memory:' }): Database {
  if (config.kind === 'postgres') {
    return knexFactory({
      client: 'pg',
      connection: { connectionString: config.url, application_name: 'patient-access' },
      pool: { min: 0, max: config.poolMax },
      // A database outage must surface as a bounded error, not a hang.
      acquireConnectionTimeout: 10_000,
    });
  }
  if (config.dataDir !== ':memory:') mkdirSync(config.dataDir, { recursive: true });
  return knexFactory({
    client: ClientPgLite as unknown as typeof knexFactory.Client,
    dialect: 'postgres',
    connection: config.dataDir === ':memory:' ? {} : { filename: config.dataDir },
    acquireConnectionTimeout: 60_000,
  } as Knex.Config);
}

/** True when the database is the single-connection embedded one (callers serialize work). */
export function isEmbedded(db: Database): boolean {
  return db.client.config.dialect === 'postgres' && db.client.config.client !== 'pg';
}
