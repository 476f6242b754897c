import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Accounts created by an administrator for existing records start `pending`, with a one-time
 * enrollment link through which the person sets their password and authenticator (issue 7).
 */
export const createAccountEnrollment: Migration = {
  name: '202611230004_create_account_enrollment',
  async up(db: Knex) {
    await db.schema.raw('alter table account drop constraint account_status_check');
    await db.schema.raw("alter table account add constraint account_status_check check (status in ('pending','active','suspended','closed'))");
    await db.schema.alterTable('account', (t) => t.text('email'));
    await db.schema.createTable('account_enrollment', (t) => {
      t.text('account_id').notNullable().references('account.id');
      // SHA-256 of the token: a leaked table does not leak working links.
      t.text('token_hash').primary();
      t.timestamp('expires_at', { useTz: true }).notNullable();
      t.timestamp('used_at', { useTz: true });
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    });
  },
  async down(db: Knex) {
    await db.schema.dropTable('account_enrollment');
    await db.schema.alterTable('account', (t) => t.dropColumn('email'));
    await db.schema.raw('alter table account drop constraint account_status_check');
    await db.schema.raw("alter table account add constraint account_status_check check (status in ('active','suspended','closed'))");
  },
};
