import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * The access log (AUD-1…4): one append-only, hash-chained row per request that returns, withholds
 * or denies PHI, and per security event (login, lockout, token, consent, registration).
 *
 *   access_log(patient_id, seq, recorded_at, actor_kind, actor_id, actor_fhir_user, on_behalf_of,
 *              client_id, client_name, scopes, grant_id, delegation_id, action, outcome, reason,
 *              exception, resource_type, query_params, result_count, returned_ids, withheld,
 *              request_id, source_address, detail, prev_hash, hash)
 *   key (patient_id, seq)
 *
 * patient_id is whose record ('' for events that involve no patient, e.g. a login); seq numbers
 * that patient's rows 1, 2, 3… with no gaps. Each patient has ONE hash chain: hash = sha256 of
 * the previous row's hash and this row's canonical content (audit/access-log-hash.ts), so rows
 * of different patients never depend on each other: the table distributes by patient_id (Citus)
 * with every append touching one shard, appends for different patients never wait on a shared
 * chain tail, and a shard verifies alone. access_log_head holds each chain's tail (seq, hash);
 * appends lock it (SELECT … FOR UPDATE) to number and chain their rows, and verification
 * compares it with the last row, so a deleted tail row is found too.
 *
 * No PHI values: resource ids ("Observation/123"), search parameter NAMES (never values), codes.
 *
 * Append-only (AUD-2, SEC-3): triggers refuse UPDATE, DELETE and TRUNCATE on access_log,
 * access_log_head (which may only move forward) and access_log_checkpoint, whatever the role. The
 * one exception is the retention purge (audit/access-log-purge.ts, AUD-4): inside its transaction
 * it sets the transaction-local setting `patient_access.access_log_purge = 'on'` and first records
 * a checkpoint (the seq and hash of the last row it removes from a chain, so the rest of the chain
 * still verifies); the trigger then lets a DELETE through only for a row that is covered by a
 * checkpoint AND more than 6 years old by the database clock (the legal floor; the configured
 * retention, default 10 years, is enforced by the purge). So no code path, this application's or
 * a mistaken one, can remove a row younger than 6 years or change any row without disabling the
 * triggers, which needs the table owner or a superuser (session_replication_role = replica), and
 * any change made that way breaks the chain that `npm run audit:verify` checks.
 * Deployment note: run migrations as the owning role and the application as a role granted only
 * SELECT, INSERT on access_log and access_log_checkpoint and SELECT, INSERT, UPDATE on
 * access_log_head (no DELETE, TRUNCATE, or ownership), so it cannot disable the triggers either.
 */
export const createAccessLog: Migration = {
  name: '202611230003_create_access_log',
  async up(db: Knex) {
    await db.schema.raw(`
      create table access_log (
        patient_id text not null,
        seq bigint not null,
        recorded_at timestamptz not null,
        actor_kind text not null,
        actor_id text,
        actor_fhir_user text,
        on_behalf_of text,
        client_id text,
        client_name text,
        scopes text,
        grant_id text,
        delegation_id text,
        action text not null,
        outcome text not null,
        reason text,
        exception text,
        resource_type text,
        query_params text[],
        result_count integer,
        returned_ids text[] not null default '{}',
        withheld jsonb not null default '[]',
        request_id text,
        source_address text,
        detail jsonb,
        prev_hash text not null,
        hash text not null,
        primary key (patient_id, seq),
        constraint access_log_seq_check check (seq > 0),
        constraint access_log_actor_kind_check check (actor_kind in ('patient', 'proxy', 'app', 'staff', 'system')),
        constraint access_log_action_check check (action in ('read', 'search', 'everything', 'token.issue', 'token.refresh', 'token.revoke',
          'login', 'login.failed', 'lockout', 'consent', 'registration', 'denied', 'audit.purge')),
        constraint access_log_outcome_check check (outcome in ('success', 'denied', 'error')),
        constraint access_log_actor_check check (actor_id is not null or outcome <> 'success' or action = 'registration'),
        constraint access_log_denied_reason_check check (outcome = 'success' or reason is not null),
        constraint access_log_withheld_check check (jsonb_typeof(withheld) = 'array'),
        constraint access_log_hash_check check (hash ~ '^[0-9a-f]{64}$' and prev_hash ~ '^[0-9a-f]{64}$')
      )`);
    // Period reports (information blocking, AUD-2) and the purge's scan for old rows.
    await db.schema.raw('create index access_log_recorded_idx on access_log (recorded_at)');

    await db.schema.raw(`
      create table access_log_head (
        patient_id text primary key,
        seq bigint not null,
        hash text not null,
        constraint access_log_head_seq_check check (seq >= 0),
        constraint access_log_head_hash_check check (hash ~ '^[0-9a-f]{64}$')
      )`);

    // AUD-4: what a purge removed from the front of a chain; the first remaining row links to hash.
    await db.schema.raw(`
      create table access_log_checkpoint (
        patient_id text not null,
        through_seq bigint not null,
        hash text not null,
        cutoff timestamptz not null,
        purged_rows integer not null,
        purged_at timestamptz not null,
        primary key (patient_id, through_seq),
        constraint access_log_checkpoint_hash_check check (hash ~ '^[0-9a-f]{64}$')
      )`);

    // AUD-2: rows cannot be changed or removed; AUD-4: except old, checkpointed rows by the purge.
    await db.schema.raw(`
      create function access_log_guard() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' and current_setting('patient_access.access_log_purge', true) = 'on' then
          if old.recorded_at < now() - interval '6 years'
             and exists (select 1 from access_log_checkpoint c where c.patient_id = old.patient_id and c.through_seq >= old.seq) then
            return old;
          end if;
          raise exception 'access_log: purge may only remove checkpointed rows older than 6 years (AUD-4)' using errcode = '42501';
        end if;
        raise exception 'access_log is append-only: % refused (AUD-2)', tg_op using errcode = '42501';
      end $$`);
    await db.schema.raw('create trigger access_log_append_only before update or delete on access_log for each row execute function access_log_guard()');

    await db.schema.raw(`
      create function access_log_refuse() returns trigger language plpgsql as $$
      begin
        raise exception '%: % refused, the access log is append-only (AUD-2)', tg_table_name, tg_op using errcode = '42501';
      end $$`);
    await db.schema.raw('create trigger access_log_no_truncate before truncate on access_log for each statement execute function access_log_refuse()');
    await db.schema.raw('create trigger access_log_checkpoint_append_only before update or delete on access_log_checkpoint for each row execute function access_log_refuse()');
    await db.schema.raw('create trigger access_log_checkpoint_no_truncate before truncate on access_log_checkpoint for each statement execute function access_log_refuse()');

    // AUD-2: a chain's head starts empty and only moves forward (so the tail row cannot be dropped with it).
    await db.schema.raw(`
      create function access_log_head_guard() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' and new.seq = 0 and new.hash = repeat('0', 64) then
          return new;
        end if;
        if tg_op = 'UPDATE' and new.patient_id = old.patient_id and new.seq > old.seq then
          return new;
        end if;
        raise exception 'access_log_head: % refused, a chain head only moves forward (AUD-2)', tg_op using errcode = '42501';
      end $$`);
    await db.schema.raw('create trigger access_log_head_forward_only before insert or update or delete on access_log_head for each row execute function access_log_head_guard()');
    await db.schema.raw('create trigger access_log_head_no_truncate before truncate on access_log_head for each statement execute function access_log_refuse()');
  },
  async down(db: Knex) {
    await db.schema.raw('drop table if exists access_log_checkpoint');
    await db.schema.raw('drop table if exists access_log_head');
    await db.schema.raw('drop table if exists access_log');
    await db.schema.raw('drop function if exists access_log_guard()');
    await db.schema.raw('drop function if exists access_log_head_guard()');
    await db.schema.raw('drop function if exists access_log_refuse()');
  },
};
