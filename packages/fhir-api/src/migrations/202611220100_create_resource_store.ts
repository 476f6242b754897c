import type { Knex } from 'knex';
import type { Migration } from '@patient-access/consent';

/**
 * The resource store. PHI tables carry the patient (compartment owner) first in their key and
 * every index, so they can be distributed by patient later (e.g. Citus); resources outside every
 * patient compartment (Practitioner, Organization, Location, Medication…) live in shared tables
 * that would become reference tables. A resource in several compartments has a row per patient.
 * Compartment-type resources that belong to no patient get patient_id '' and are never visible
 * to a patient context.
 */
export const createResourceStore: Migration = {
  name: '202611220100_create_resource_store',
  async up(db: Knex) {
    await db.schema.raw(`
      create table resource (
        patient_id text not null,
        resource_type text not null,
        id text not null,
        version_id integer not null,
        last_updated timestamptz not null,
        content jsonb not null,
        primary key (patient_id, resource_type, id)
      )`);
    // Import and re-import find every compartment copy of a resource by type and id.
    await db.schema.raw('create index resource_type_id_idx on resource (resource_type, id)');
    await db.schema.raw(`
      create table shared_resource (
        resource_type text not null,
        id text not null,
        version_id integer not null,
        last_updated timestamptz not null,
        content jsonb not null,
        primary key (resource_type, id)
      )`);
    // Search index rows; patient_id '' for shared resources.
    await db.schema.raw(`
      create table search_token (
        patient_id text not null,
        resource_type text not null,
        resource_id text not null,
        param text not null,
        system text,
        code text not null
      )`);
    await db.schema.raw('create index search_token_lookup_idx on search_token (patient_id, resource_type, param, code, resource_id)');
    await db.schema.raw('create index search_token_resource_idx on search_token (patient_id, resource_type, resource_id)');
    await db.schema.raw(`
      create table search_date (
        patient_id text not null,
        resource_type text not null,
        resource_id text not null,
        param text not null,
        lo timestamptz not null,
        hi timestamptz not null
      )`);
    await db.schema.raw('create index search_date_lookup_idx on search_date (patient_id, resource_type, param, lo, hi)');
    await db.schema.raw('create index search_date_resource_idx on search_date (patient_id, resource_type, resource_id)');
    await db.schema.raw(`
      create table search_string (
        patient_id text not null,
        resource_type text not null,
        resource_id text not null,
        param text not null,
        value text not null
      )`);
    await db.schema.raw('create index search_string_lookup_idx on search_string (patient_id, resource_type, param, value text_pattern_ops)');
    await db.schema.raw('create index search_string_resource_idx on search_string (patient_id, resource_type, resource_id)');
  },
  async down(db: Knex) {
    for (const t of ['search_string', 'search_date', 'search_token', 'shared_resource', 'resource']) await db.schema.dropTable(t);
  },
};
