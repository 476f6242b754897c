import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Result release holds (REL-2…REL-6). Each kind of hold keeps its evidence in its own table
 * (who decided, on what basis, until when), and every held resource has a row in ONE enforcement
 * table, release_hold_item, which is all the FHIR API reads:
 *
 *   release_hold_item(patient_id, resource_type, resource_id, kind, source_id, harm_type,
 *                     condition, held_from, release_at, released_at, released_by, release_reason)
 *   key (patient_id, resource_type, resource_id, kind, source_id)
 *
 * A resource row r is held for a reader with plan P at instant :at when
 *
 *   exists (select 1 from release_hold_item h
 *           where h.patient_id = r.patient_id and h.resource_type = r.resource_type and h.resource_id = r.id
 *             and h.kind in (P.holds)                                   -- 'harm','data-quality','patient-delay','legal'
 *             and (h.kind <> 'harm' or h.harm_type in (P.harmTypes))    -- substantial_harm binds proxies only (PRX-5)
 *             and h.held_from <= :at and h.release_at > :at             -- every hold has an end
 *             and (h.released_at is null or h.released_at > :at))       -- lifted / released / cancelled
 *
 * (holds/hold-items.ts builds exactly this as `activeHoldExistsSql`; `isHoldItemActive` is the
 * pure mirror.) The store functions keep the items in step with their source in one transaction:
 * lifting a harm or data-quality hold, the patient cancelling a delay (REL-5) and disabling a
 * legal rule (REL-6) set released_at; a clinician's release or a recorded discussion releases
 * the items whose condition it satisfies. Patient-delay and legal items are created when a
 * result first reaches the record (`placeConditionalHolds`), so a new preference or rule never
 * re-hides a result that was already shown.
 *
 * Every PHI table has patient_id first in its key and indexes (distribution by patient later).
 * legal_hold_rule(_code) is configuration, not PHI, and would become a reference table.
 */
export const createReleaseHolds: Migration = {
  name: '202611230002_create_release_holds',
  async up(db: Knex) {
    // REL-2, REL-3, PRX-5: an individualized harm determination for one patient's named resources.
    await db.schema.raw(`
      create table harm_hold (
        patient_id text not null,
        id text not null,
        harm_type text not null,
        decided_by text not null,
        license_attestation text not null,
        relationship_basis text not null,
        reason text not null,
        status text not null default 'active',
        created_at timestamptz not null,
        review_at timestamptz,
        expires_at timestamptz not null,
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
        constraint harm_hold_type_check check (harm_type in ('life_or_physical_safety', 'substantial_harm')),
        constraint harm_hold_basis_check check (relationship_basis in ('current', 'prior')),
        constraint harm_hold_status_check check (status in ('active', 'lifted')),
        constraint harm_hold_decider_check check (decided_by like 'Practitioner/_%' and btrim(license_attestation) <> '' and btrim(reason) <> ''),
        constraint harm_hold_window_check check (expires_at > created_at and (review_at is null or (review_at >= created_at and review_at <= expires_at))),
        constraint harm_hold_reviewer_check check (reviewer_id is null or reviewer_id <> decided_by),
        constraint harm_hold_outcome_check check (review_outcome is null or review_outcome in ('upheld', 'lifted'))
      )`);
    await db.schema.raw('create index harm_hold_status_idx on harm_hold (patient_id, status, expires_at)');

    // REL-4: known-bad records withheld while they are fixed; always with an automatic end.
    await db.schema.raw(`
      create table data_quality_hold (
        patient_id text not null,
        id text not null,
        problem text not null,
        reason text not null,
        placed_by text not null,
        status text not null default 'active',
        created_at timestamptz not null,
        expires_at timestamptz not null,
        lifted_at timestamptz,
        lifted_by text,
        lift_reason text,
        primary key (patient_id, id),
        constraint data_quality_hold_problem_check check (problem in ('misidentified', 'mismatched_patient', 'corrupt', 'erroneous')),
        constraint data_quality_hold_status_check check (status in ('active', 'lifted')),
        constraint data_quality_hold_window_check check (expires_at > created_at)
      )`);
    await db.schema.raw('create index data_quality_hold_status_idx on data_quality_hold (patient_id, status, expires_at)');

    // REL-5: the patient's own request to delay release of their results, as agreed, with a maximum.
    await db.schema.raw(`
      create table patient_delay_preference (
        patient_id text not null,
        id text not null,
        requested_by_kind text not null,
        requested_by text not null,
        delegation_id text,
        patient_request_ref text,
        scope_kind text not null,
        scope_system text,
        scope_code text,
        scope_order_id text,
        condition text not null,
        delay_hours integer,
        max_hours integer not null,
        status text not null default 'active',
        created_at timestamptz not null,
        cancelled_at timestamptz,
        cancelled_by text,
        primary key (patient_id, id),
        constraint patient_delay_requester_check check (
          (requested_by_kind = 'patient' and delegation_id is null)
          or (requested_by_kind = 'proxy' and delegation_id is not null)
          or (requested_by_kind = 'staff' and btrim(coalesce(patient_request_ref, '')) <> '')),
        constraint patient_delay_scope_check check (
          (scope_kind = 'category' and scope_code is not null and scope_order_id is null)
          or (scope_kind = 'order' and scope_order_id is not null and scope_code is null and scope_system is null)),
        constraint patient_delay_condition_check check (
          (condition = 'after_duration' and delay_hours > 0 and delay_hours <= max_hours)
          or (condition = 'until_clinician_release' and delay_hours is null)),
        constraint patient_delay_max_check check (max_hours > 0),
        constraint patient_delay_status_check check (status in ('active', 'cancelled'))
      )`);
    await db.schema.raw('create index patient_delay_preference_status_idx on patient_delay_preference (patient_id, status)');

    // REL-6: a state-law delay narrowed to a code set, with its citation and an expiry; off until enabled.
    await db.schema.raw(`
      create table legal_hold_rule (
        id text primary key,
        jurisdiction text not null,
        description text not null,
        condition text not null,
        max_duration_hours integer not null,
        citation text not null,
        enabled boolean not null default false,
        effective_from timestamptz not null,
        expires_at timestamptz not null,
        created_by text not null,
        created_at timestamptz not null,
        enabled_at timestamptz,
        enabled_by text,
        disabled_at timestamptz,
        disabled_by text,
        constraint legal_hold_rule_condition_check check (condition in ('until_discussed', 'max_duration')),
        constraint legal_hold_rule_duration_check check (max_duration_hours > 0),
        constraint legal_hold_rule_citation_check check (btrim(citation) <> ''),
        constraint legal_hold_rule_window_check check (expires_at > effective_from)
      )`);
    await db.schema.raw('create index legal_hold_rule_jurisdiction_idx on legal_hold_rule (jurisdiction, enabled)');
    await db.schema.raw(`
      create table legal_hold_rule_code (
        rule_id text not null references legal_hold_rule (id) on delete cascade,
        system text not null,
        code text not null,
        primary key (rule_id, system, code),
        constraint legal_hold_rule_code_check check (btrim(system) <> '' and btrim(code) <> '' and system <> '*' and lower(code) not in ('*', 'all'))
      )`);

    // The enforcement index: one row per held resource per hold (see the comment above).
    await db.schema.raw(`
      create table release_hold_item (
        patient_id text not null,
        resource_type text not null,
        resource_id text not null,
        kind text not null,
        source_id text not null,
        harm_type text,
        condition text,
        held_from timestamptz not null,
        release_at timestamptz not null,
        released_at timestamptz,
        released_by text,
        release_reason text,
        primary key (patient_id, resource_type, resource_id, kind, source_id),
        constraint release_hold_item_kind_check check (kind in ('harm', 'data-quality', 'patient-delay', 'legal')),
        constraint release_hold_item_harm_check check ((kind = 'harm') = (harm_type is not null)),
        constraint release_hold_item_condition_check check (condition is null or condition in ('after_duration', 'until_clinician_release', 'until_discussed', 'max_duration')),
        constraint release_hold_item_window_check check (release_at > held_from),
        constraint release_hold_item_reason_check check (
          (released_at is null and release_reason is null)
          or (released_at is not null and release_reason in ('lifted', 'review-lifted', 'fixed', 'clinician-released', 'discussed', 'cancelled-by-patient', 'rule-disabled')))
      )`);
    await db.schema.raw('create index release_hold_item_source_idx on release_hold_item (patient_id, kind, source_id)');
  },
  async down(db: Knex) {
    for (const t of ['release_hold_item', 'legal_hold_rule_code', 'legal_hold_rule', 'patient_delay_preference', 'data_quality_hold', 'harm_hold']) await db.schema.dropTable(t);
  },
};
