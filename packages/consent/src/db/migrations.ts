/**
 * Runs every package's knex migrations in one ordered list. Migrations are plain modules listed
 * explicitly (no directory scanning), so they run the same from sources (tests) and from dist.
 */
import type { Knex } from 'knex';
import type { Database } from './database.js';

export interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

class ListMigrationSource implements Knex.MigrationSource<Migration> {
  constructor(private readonly migrations: Migration[]) {}
  async getMigrations(): Promise<Migration[]> {
    return [...this.migrations].sort((a, b) => a.name.localeCompare(b.name));
  }
  getMigrationName(m: Migration): string {
    return m.name;
  }
  async getMigration(m: Migration): Promise<Knex.Migration> {
    return { up: m.up, down: m.down };
  }
}

export async function migrateLatest(db: Database, migrations: Migration[]): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: new ListMigrationSource(migrations) })) as [number, string[]];
  return applied;
}

export async function rollbackAll(db: Database, migrations: Migration[]): Promise<void> {
  await db.migrate.rollback({ migrationSource: new ListMigrationSource(migrations) }, true);
}
