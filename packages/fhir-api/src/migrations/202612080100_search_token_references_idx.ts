import type { Knex } from 'knex';
import type { Migration } from '@patient-access/consent';

/**
 * Every statement that returns resources also asks which of each row's references point at a
 * withheld resource (ResourceStore, withheldRefsSql): the `_references` index rows of that one
 * resource. Through search_token_resource_idx that read every token row of the resource from the
 * heap (some thirty) to keep the few references; this partial index holds only the references,
 * with their codes, so the lookup is an index-only scan of those few (patient first, as every index).
 */
export const searchTokenReferencesIdx: Migration = {
  name: '202612080100_search_token_references_idx',
  async up(db: Knex) {
    await db.schema.raw("create index search_token_references_idx on search_token (patient_id, resource_type, resource_id, code) where param = '_references'");
  },
  async down(db: Knex) {
    await db.schema.raw('drop index if exists search_token_references_idx');
  },
};
