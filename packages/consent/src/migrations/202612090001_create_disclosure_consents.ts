import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Disclosure consents (IB-2, 45 CFR 171.202(b); 42 CFR 2.31): the patient's own recorded consent
 * that one proxy (named by account, as restrictions name a proxy) may receive the resources
 * carrying one consent-required security label (default 42 CFR Part 2). Without one, those
 * resources, and what references them, are hidden from every proxy. Every consent states when it
 * expires (42 CFR 2.31(a)(6)) and counts only before expires_at, judged at each request's instant
 * (a lapse writes nothing). One row per consent, kept when revoked or expired (the record of what
 * was disclosed on what authority, and until when).
 *
 * Rows move the patient's access epoch (202611260001) like restrictions, so a consent given or
 * revoked applies to the proxy's very next statement. At most one consent is in force per proxy
 * and label: the store checks that under the patient's epoch row lock, since "in force" (not
 * revoked, not expired) depends on the clock, which a partial unique index cannot. Giving and revoking are logged in the
 * hash-chained access log (the action check widens NOT VALID, as in 202612080002).
 * patient_id is first in the key and every index (PHI table).
 */
const ACTIONS = [
  'read', 'search', 'everything', 'token.issue', 'token.refresh', 'token.revoke', 'login', 'login.failed', 'lockout', 'consent', 'registration', 'denied', 'audit.purge',
  'hold.place', 'hold.review-request', 'hold.review', 'hold.lift', 'delegation.suspend', 'delegation.review-request', 'delegation.review', 'delegation.reinstate', 'rule.create', 'rule.enable', 'rule.disable',
  'delegation.grant', 'delegation.verify', 'delegation.deny', 'delegation.end', 'restriction.create', 'restriction.end',
];
const NEW_ACTIONS = ['disclosure-consent.grant', 'disclosure-consent.revoke'];
const actionCheck = (actions: string[]) => `alter table access_log add constraint access_log_action_check check (action in (${actions.map((a) => `'${a}'`).join(', ')})) not valid`;

export const createDisclosureConsents: Migration = {
  name: '202612090001_create_disclosure_consents',
  async up(db: Knex) {
    await db.schema.raw(`
      create table disclosure_consent (
        patient_id text not null,
        id text not null,
        proxy_account_id text not null,
        label_system text not null,
        label_code text not null,
        granted_at timestamptz not null,
        granted_by text not null,
        evidence text,
        expires_at timestamptz not null,
        revoked_at timestamptz,
        revoked_by text,
        primary key (patient_id, id),
        constraint disclosure_consent_recipient_check check (btrim(proxy_account_id) <> ''),
        constraint disclosure_consent_label_check check (btrim(label_system) <> '' and btrim(label_code) <> ''),
        -- A proxy never consents to its own access: the consent is the patient's.
        constraint disclosure_consent_granter_check check (btrim(granted_by) <> '' and granted_by <> proxy_account_id),
        constraint disclosure_consent_revoked_check check ((revoked_at is null) = (revoked_by is null)),
        -- 42 CFR 2.31(a)(6): a consent states when it expires, after it is given.
        constraint disclosure_consent_expiry_check check (expires_at > granted_at)
      )`);
    // The per-request lookup and the store's in-force check (not unique: an expired, unrevoked consent must not block a new one).
    await db.schema.raw(`
      create index disclosure_consent_active_idx on disclosure_consent (patient_id, proxy_account_id, label_system, label_code)
        where revoked_at is null`);
    await db.schema.raw('create trigger disclosure_consent_epoch_change after insert or delete on disclosure_consent for each row execute function access_epoch_row()');
    await db.schema.raw('create trigger disclosure_consent_epoch_update after update on disclosure_consent for each row execute function access_epoch_row()');
    await db.schema.raw('create trigger disclosure_consent_epoch_truncate after truncate on disclosure_consent for each statement execute function access_epoch_all()');
    await db.schema.raw('alter table access_log drop constraint access_log_action_check');
    await db.schema.raw(actionCheck([...ACTIONS, ...NEW_ACTIONS]));
  },
  async down(db: Knex) {
    await db.schema.raw('alter table access_log drop constraint access_log_action_check');
    await db.schema.raw(actionCheck(ACTIONS));
    await db.schema.dropTable('disclosure_consent');
  },
};
