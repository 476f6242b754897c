import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Proxy suspensions (PRX-5, 45 CFR 171.201(d)(1) with 164.524(a)(3)(iii)): a licensed clinician's
 * determination that one representative's access to one patient's record is reasonably likely to
 * cause substantial harm, or that there is reason to believe abuse, neglect or endangerment by them.
 * It suspends that one delegation (never the patient's own access), with a review by a different
 * clinician (REL-3's path). One row per determination, kept when lifted (the trail).
 *
 * The access log gains the actions that record changes to what a record shares (holds placed,
 * reviewed and lifted; delegations suspended and reinstated), written in the same transaction as
 * the change, so the hash chain holds the determination and its reviewer (PRX-5 (d), AUD-1).
 */
const POLICY_ACTIONS = ['hold.place', 'hold.review-request', 'hold.review', 'hold.lift', 'delegation.suspend', 'delegation.review-request', 'delegation.review', 'delegation.reinstate', 'rule.create', 'rule.enable', 'rule.disable'];
const BASE_ACTIONS = ['read', 'search', 'everything', 'token.issue', 'token.refresh', 'token.revoke', 'login', 'login.failed', 'lockout', 'consent', 'registration', 'denied', 'audit.purge'];
const actionCheck = (actions: string[]) => `alter table access_log add constraint access_log_action_check check (action in (${actions.map((a) => `'${a}'`).join(', ')}))`;

export const createDelegationSuspensions: Migration = {
  name: '202611250001_create_delegation_suspensions',
  async up(db: Knex) {
    await db.schema.raw(`
      create table delegation_suspension (
        patient_id text not null,
        id text not null,
        delegation_id text not null,
        grounds text not null,
        decided_by text not null,
        license_attestation text not null,
        relationship_basis text not null,
        reason text not null,
        prior_status text not null,
        status text not null,
        created_at timestamptz not null,
        review_at timestamptz not null,
        review_requested_at timestamptz,
        review_requested_by text,
        reviewer_id text,
        reviewed_at timestamptz,
        review_outcome text,
        review_note text,
        lifted_at timestamptz,
        lifted_by text,
        lift_reason text,
        primary key (patient_id, id),
        constraint delegation_suspension_grounds_check check (grounds in ('substantial_harm', 'abuse_neglect_endangerment')),
        constraint delegation_suspension_basis_check check (relationship_basis in ('current', 'prior')),
        constraint delegation_suspension_status_check check (status in ('active', 'lifted')),
        constraint delegation_suspension_prior_check check (prior_status in ('requested', 'verified', 'active')),
        constraint delegation_suspension_decider_check check (decided_by like 'Practitioner/_%' and btrim(license_attestation) <> '' and btrim(reason) <> ''),
        constraint delegation_suspension_review_at_check check (review_at > created_at),
        constraint delegation_suspension_reviewer_check check (reviewer_id is null or reviewer_id <> decided_by),
        constraint delegation_suspension_outcome_check check (review_outcome is null or review_outcome in ('upheld', 'lifted')),
        constraint delegation_suspension_lifted_check check ((status = 'lifted') = (lifted_at is not null))
      )`);
    // One determination in force per delegation.
    await db.schema.raw(`create unique index delegation_suspension_active_idx on delegation_suspension (patient_id, delegation_id) where status = 'active'`);
    await db.schema.raw('alter table access_log drop constraint access_log_action_check');
    await db.schema.raw(actionCheck([...BASE_ACTIONS, ...POLICY_ACTIONS]));
  },
  async down(db: Knex) {
    await db.schema.raw('alter table access_log drop constraint access_log_action_check');
    await db.schema.raw(actionCheck(BASE_ACTIONS));
    await db.schema.dropTable('delegation_suspension');
  },
};
