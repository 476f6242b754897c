import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Patient restrictions (IB-1, 45 CFR 171.202(e), HIPAA 164.522): the patient's own, documented
 * "do not share category X (of resource type T) with proxy P / app A". One row per request, kept
 * when it ends (ended rows are the record of what was honoured and when).
 *
 * The FHIR API loads a patient's active rows on every request (index patient_restriction_active_idx)
 * and compiles the ones naming the token's proxy or app into `not category` filters in the SQL.
 *
 * A restriction is the patient's request: recorded by the patient (`source = 'patient'`) or by
 * staff on the patient's documented request (`staff_on_patient_request`, with a non-empty
 * `patient_request_ref`). patient_id is first in the key and every index (PHI table).
 */
export const createPatientRestrictions: Migration = {
  name: '202611240001_create_patient_restrictions',
  async up(db: Knex) {
    await db.schema.raw(`
      create table patient_restriction (
        patient_id text not null,
        id text not null,
        recipient_kind text not null,
        proxy_account_id text,
        client_id text,
        resource_type text,
        category_system text not null,
        category_code text not null,
        requested_by text not null,
        requested_at timestamptz not null,
        source text not null,
        patient_request_ref text,
        status text not null default 'active',
        ended_at timestamptz,
        ended_by text,
        primary key (patient_id, id),
        constraint patient_restriction_recipient_check check (
          (recipient_kind = 'proxy' and btrim(coalesce(proxy_account_id, '')) <> '' and client_id is null)
          or (recipient_kind = 'app' and btrim(coalesce(client_id, '')) <> '' and proxy_account_id is null)),
        constraint patient_restriction_category_check check (btrim(category_system) <> '' and btrim(category_code) <> ''),
        constraint patient_restriction_type_check check (resource_type is null or resource_type ~ '^[A-Z][A-Za-z]{1,63}$'),
        constraint patient_restriction_source_check check (
          source = 'patient'
          or (source = 'staff_on_patient_request' and btrim(coalesce(patient_request_ref, '')) <> '')),
        constraint patient_restriction_status_check check (
          (status = 'active' and ended_at is null and ended_by is null)
          or (status = 'ended' and ended_at is not null and ended_by is not null))
      )`);
    await db.schema.raw('create index patient_restriction_active_idx on patient_restriction (patient_id, status)');
    // One active restriction per recipient, type and category: asking twice is a duplicate, not a second row.
    await db.schema.raw(`
      create unique index patient_restriction_unique_active_idx on patient_restriction
        (patient_id, recipient_kind, coalesce(proxy_account_id, client_id), coalesce(resource_type, ''), category_system, category_code)
        where status = 'active'`);
  },
  async down(db: Knex) {
    await db.schema.dropTable('patient_restriction');
  },
};
