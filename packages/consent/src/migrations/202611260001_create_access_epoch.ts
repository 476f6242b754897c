import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Access epochs: one counter per patient, moved forward in the same transaction as any change to
 * what a request's access context is made of (the app grant, its account, the delegation and its
 * suspensions, the patient's restrictions, the Patient resource's birth date: the fhir-api
 * migration adds that trigger). The FHIR API keeps a request context in memory with the epoch it
 * was read at, and every PHI statement checks that epoch inside the same SQL (access-epoch.ts in
 * the FHIR API): a context changed by a commit on any instance stops matching at once, with no
 * cache message to lose. API-3 and PORTAL-US-013 (revocation ends access at once) hold exactly.
 *
 *   access_epoch(patient_id, epoch)   key (patient_id): no row reads as epoch 0.
 */
const ROW_TABLES = ['app_grant', 'proxy_delegation', 'delegation_suspension', 'patient_restriction'];

export const createAccessEpoch: Migration = {
  name: '202611260001_create_access_epoch',
  async up(db: Knex) {
    await db.schema.raw('create table access_epoch (patient_id text primary key, epoch bigint not null)');
    await db.schema.raw(`
      create function access_epoch_bump(p text) returns void language sql as $$
        insert into access_epoch (patient_id, epoch) values (p, 1)
        on conflict (patient_id) do update set epoch = access_epoch.epoch + 1
      $$`);
    // Rows that name their patient: the patient before and after the change.
    await db.schema.raw(`
      create function access_epoch_row() returns trigger language plpgsql as $$
      begin
        if tg_op <> 'INSERT' then
          perform access_epoch_bump(old.patient_id);
        end if;
        if tg_op = 'INSERT' then
          perform access_epoch_bump(new.patient_id);
        elsif tg_op = 'UPDATE' and new.patient_id is distinct from old.patient_id then
          perform access_epoch_bump(new.patient_id);
        end if;
        return null;
      end $$`);
    // An account's status gates every grant it approved, for whichever patients they cover.
    await db.schema.raw(`
      create function access_epoch_account() returns trigger language plpgsql as $$
      begin
        perform access_epoch_bump(g.patient_id) from (select distinct patient_id from app_grant where account_id = new.id) g;
        return null;
      end $$`);
    // TRUNCATE fires no row triggers: every cached context is then out of date.
    await db.schema.raw(`
      create function access_epoch_all() returns trigger language plpgsql as $$
      begin
        update access_epoch set epoch = epoch + 1;
        return null;
      end $$`);

    for (const table of ROW_TABLES) {
      // "Last used" is stamped on a grant hourly and changes nothing a request is allowed.
      const when = table === 'app_grant' ? ` when ((to_jsonb(old) - 'last_used_at') is distinct from (to_jsonb(new) - 'last_used_at'))` : '';
      await db.schema.raw(`create trigger ${table}_epoch_change after insert or delete on ${table} for each row execute function access_epoch_row()`);
      await db.schema.raw(`create trigger ${table}_epoch_update after update on ${table} for each row${when} execute function access_epoch_row()`);
      await db.schema.raw(`create trigger ${table}_epoch_truncate after truncate on ${table} for each statement execute function access_epoch_all()`);
    }
    await db.schema.raw(
      'create trigger account_epoch_status after update on account for each row when (old.status is distinct from new.status) execute function access_epoch_account()',
    );
    await db.schema.raw('create trigger account_epoch_truncate after truncate on account for each statement execute function access_epoch_all()');
  },
  async down(db: Knex) {
    for (const table of ROW_TABLES) {
      for (const suffix of ['change', 'update', 'truncate']) await db.schema.raw(`drop trigger if exists ${table}_epoch_${suffix} on ${table}`);
    }
    await db.schema.raw('drop trigger if exists account_epoch_status on account');
    await db.schema.raw('drop trigger if exists account_epoch_truncate on account');
    for (const fn of ['access_epoch_row()', 'access_epoch_account()', 'access_epoch_all()', 'access_epoch_bump(text)']) await db.schema.raw(`drop function if exists ${fn}`);
    await db.schema.raw('drop table if exists access_epoch');
  },
};
