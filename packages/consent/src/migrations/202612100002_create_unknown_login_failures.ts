import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Failure counts for usernames without an account, so they lock exactly as accounts do (login.ts).
 * In the database, like the accounts' own counts: kept in one process's memory they locked only
 * after every instance behind the load balancer had seen the failures, later than a real
 * account, which told an attacker the name has no account. Keyed by a hash of the normalized name
 * (the name itself is not kept); rows untouched for 30 days are dropped as failures come in.
 */
export const createUnknownLoginFailures: Migration = {
  name: '202612100002_create_unknown_login_failures',
  async up(db: Knex) {
    await db.schema.createTable('unknown_login_failure', (t) => {
      t.text('name_hash').primary();
      t.integer('failures').notNullable();
      t.timestamp('locked_until', { useTz: true });
      t.timestamp('updated_at', { useTz: true }).notNullable();
    });
    await db.schema.raw('create index unknown_login_failure_updated_idx on unknown_login_failure (updated_at)');
  },
  async down(db: Knex) {
    await db.schema.dropTable('unknown_login_failure');
  },
};
