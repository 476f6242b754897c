import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * A user-level authorization (user/ scopes, no launch/patient) covers several patients at once:
 * the person's own record and those they act for. It is one oidc-provider Grant (the tokens'
 * `grant_id`) and one app grant per patient, each naming that Grant here, so each patient keeps
 * their own row: their connected-apps page lists and revokes it, their delegation's end revokes it,
 * and their access epoch moves with it, without touching the other patients' rows. A row made for
 * a single-patient authorization has no authorization id: its own id is the Grant's.
 */
export const appGrantAuthorization: Migration = {
  name: '202612100001_app_grant_authorization',
  async up(db: Knex) {
    await db.schema.alterTable('app_grant', (t) => {
      t.text('authorization_id');
      // The rows' order on the consent screen: the person's own record first, as they saw it.
      t.smallint('authorization_position');
    });
    await db.schema.raw('create index app_grant_authorization_idx on app_grant (authorization_id) where authorization_id is not null');
  },
  async down(db: Knex) {
    await db.schema.raw('drop index if exists app_grant_authorization_idx');
    await db.schema.alterTable('app_grant', (t) => {
      t.dropColumn('authorization_position');
      t.dropColumn('authorization_id');
    });
  },
};
