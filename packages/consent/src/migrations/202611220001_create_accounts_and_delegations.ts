import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/** People who log in, and the proxy delegations that let one act for another patient (PRX-1…6). */
export const createAccountsAndDelegations: Migration = {
  name: '202611220001_create_accounts_and_delegations',
  async up(db: Knex) {
    await db.schema.createTable('account', (t) => {
      t.text('id').primary();
      t.text('username').notNullable().unique();
      t.text('display_name').notNullable();
      t.text('password_hash').notNullable();
      t.text('totp_secret');
      // The FHIR resource that is this person: Patient/…, RelatedPerson/… or Practitioner/….
      t.text('fhir_user').notNullable();
      // Their own Patient id, when they are a patient of this organization.
      t.text('patient_id');
      t.text('status').notNullable().defaultTo('active');
      t.integer('failed_attempts').notNullable().defaultTo(0);
      t.timestamp('locked_until', { useTz: true });
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.check("status in ('active','suspended','closed')", [], 'account_status_check');
    });
    await db.schema.createTable('proxy_delegation', (t) => {
      t.text('id').notNullable();
      // The patient whose record is shared: the distribution key, first in every key and index.
      t.text('patient_id').notNullable();
      t.text('proxy_account_id').notNullable().references('account.id');
      t.text('related_person_id');
      t.text('basis').notNullable();
      t.text('access_level').notNullable().defaultTo('full');
      t.text('status').notNullable();
      t.timestamp('starts_at', { useTz: true }).notNullable();
      t.timestamp('ends_at', { useTz: true });
      t.text('verified_by');
      t.text('verification_evidence');
      t.text('status_reason');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.primary(['patient_id', 'id']);
      t.check("basis in ('parent','guardian','poa','caregiver')", [], 'proxy_delegation_basis_check');
      t.check("status in ('requested','verified','active','revoked','expired','suspended')", [], 'proxy_delegation_status_check');
      t.check("access_level in ('full','limited')", [], 'proxy_delegation_access_check');
    });
    await db.schema.raw('create unique index proxy_delegation_id_key on proxy_delegation (id, patient_id)');
    await db.schema.raw('create index proxy_delegation_proxy_idx on proxy_delegation (proxy_account_id, status)');
  },
  async down(db: Knex) {
    await db.schema.dropTable('proxy_delegation');
    await db.schema.dropTable('account');
  },
};
