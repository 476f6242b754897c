import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * App grants: every authorization a patient (or a proxy for that patient) gives an app. The id is
 * the authorization server's grant id, carried in every access token, so the FHIR API can check
 * the grant is still active on each request (API-3: revocation takes effect at once).
 */
export const createAppGrants: Migration = {
  name: '202611230001_create_app_grants',
  async up(db: Knex) {
    await db.schema.createTable('app_grant', (t) => {
      // The patient whose record the grant covers: the distribution key, first in every key.
      t.text('patient_id').notNullable();
      t.text('id').notNullable();
      t.text('client_id').notNullable();
      t.text('client_name');
      // The person who approved: the patient themself, or the proxy acting under `delegation_id`.
      t.text('account_id').notNullable().references('account.id');
      t.text('delegation_id');
      t.text('scope').notNullable();
      t.text('encounter_id');
      t.text('status').notNullable().defaultTo('active');
      t.text('status_reason');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.timestamp('last_used_at', { useTz: true });
      t.timestamp('revoked_at', { useTz: true });
      t.primary(['patient_id', 'id']);
      t.check("status in ('active','revoked')", [], 'app_grant_status_check');
    });
    await db.schema.raw('create unique index app_grant_id_key on app_grant (id)');
    await db.schema.raw('create index app_grant_account_idx on app_grant (account_id, status)');
    await db.schema.raw('create index app_grant_delegation_idx on app_grant (patient_id, delegation_id) where delegation_id is not null');
    // The last TOTP time step accepted, so a code cannot be used twice.
    await db.schema.alterTable('account', (t) => t.bigInteger('totp_last_step'));
  },
  async down(db: Knex) {
    await db.schema.alterTable('account', (t) => t.dropColumn('totp_last_step'));
    await db.schema.dropTable('app_grant');
  },
};
