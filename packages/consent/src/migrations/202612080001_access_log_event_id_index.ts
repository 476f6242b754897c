import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * AuditEvent ids are the first 32 hex digits of an entry's hash (audit/audit-events.ts), not its
 * place in the chain: a viewer who sees only some of a patient's entries (a parent of an adolescent,
 * PRX-3) must not learn from the ids how many others there are or where they fall. Reads by id,
 * `_id` searches and paging cursors find the entry by that prefix within the patient's chain,
 * through this index (patient first, like every index on the log). Only an index: no row of the
 * append-only log changes, and `npm run audit:verify` checks the same chains as before.
 * The expression must stay exactly `left(hash, 32)`, as the queries write it.
 */
export const accessLogEventIdIndex: Migration = {
  name: '202612080001_access_log_event_id_index',
  async up(db: Knex) {
    await db.schema.raw('create index access_log_event_id_idx on access_log (patient_id, left(hash, 32))');
  },
  async down(db: Knex) {
    await db.schema.raw('drop index if exists access_log_event_id_idx');
  },
};
