import type { Knex } from 'knex';
import type { Migration } from '@patient-access/consent';

/**
 * The authorization server's state: oidc-provider's artifacts (sessions, interactions, codes,
 * refresh tokens, grants, registered clients), its signing keys, cookie secrets and EHR launch
 * contexts. No clinical data lives here; app grants with their patient are in packages/consent.
 */
export const createAuthorizationStore: Migration = {
  name: '202611230200_create_authorization_store',
  async up(db: Knex) {
    await db.schema.createTable('oidc_payload', (t) => {
      t.text('kind').notNullable();
      t.text('id').notNullable();
      t.jsonb('payload').notNullable();
      t.text('grant_id');
      t.text('uid');
      t.text('user_code');
      t.timestamp('expires_at', { useTz: true });
      t.timestamp('consumed_at', { useTz: true });
      t.primary(['kind', 'id']);
    });
    await db.schema.raw('create index oidc_payload_grant_idx on oidc_payload (grant_id) where grant_id is not null');
    await db.schema.raw('create index oidc_payload_uid_idx on oidc_payload (kind, uid) where uid is not null');
    await db.schema.raw('create index oidc_payload_expiry_idx on oidc_payload (expires_at) where expires_at is not null');

    await db.schema.createTable('signing_key', (t) => {
      t.text('kid').primary();
      t.text('alg').notNullable();
      // Private JWK. Protect the database (and its backups) as you would a key file.
      t.jsonb('private_jwk').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      // Published from creation; signs from `signs_from`; published until `retire_after`.
      t.timestamp('signs_from', { useTz: true }).notNullable();
      t.timestamp('retire_after', { useTz: true });
    });

    await db.schema.createTable('server_secret', (t) => {
      t.text('name').primary();
      t.text('value').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    });

    await db.schema.createTable('launch_context', (t) => {
      // Patient first: the row names whose record an EHR launch opens.
      t.text('patient_id').notNullable();
      t.text('id').notNullable();
      t.text('account_id').notNullable();
      t.text('encounter_id');
      t.text('client_id');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.timestamp('expires_at', { useTz: true }).notNullable();
      t.timestamp('used_at', { useTz: true });
      t.primary(['patient_id', 'id']);
    });
    await db.schema.raw('create unique index launch_context_id_key on launch_context (id)');
  },
  async down(db: Knex) {
    for (const table of ['launch_context', 'server_secret', 'signing_key', 'oidc_payload']) await db.schema.dropTable(table);
  },
};
