import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Release hold items move their patient's access epoch (202611260001), like every other fact a
 * request context is made of. The FHIR API then remembers, with the context, whether the patient
 * has any hold item at all, and leaves the hold check out of the statements of a patient who has
 * none (most patients): a hold placed later moves the epoch in its own transaction, so no
 * statement under the old context returns a row after it commits (REL-2…6 hold at once).
 *
 * Statement triggers with transition tables: an import placing many items (conditional holds as
 * results arrive) moves each patient's epoch once per statement, not once per row.
 */
export const holdItemsMoveAccessEpoch: Migration = {
  name: '202612070001_hold_items_move_access_epoch',
  async up(db: Knex) {
    await db.schema.raw(`
      create function access_epoch_changed_rows() returns trigger language plpgsql as $$
      begin
        -- Each branch names only the transition tables its event has; patients in one order for
        -- every writer, so two statements never wait on each other's epochs the other way round.
        if tg_op = 'INSERT' then
          perform access_epoch_bump(p.patient_id) from (select distinct patient_id from changed_new order by 1) p;
        elsif tg_op = 'DELETE' then
          perform access_epoch_bump(p.patient_id) from (select distinct patient_id from changed_old order by 1) p;
        else
          perform access_epoch_bump(p.patient_id) from (select patient_id from changed_new union select patient_id from changed_old order by 1) p;
        end if;
        return null;
      end $$`);
    await db.schema.raw(
      'create trigger release_hold_item_epoch_insert after insert on release_hold_item referencing new table as changed_new for each statement execute function access_epoch_changed_rows()',
    );
    await db.schema.raw(
      'create trigger release_hold_item_epoch_update after update on release_hold_item referencing old table as changed_old new table as changed_new for each statement execute function access_epoch_changed_rows()',
    );
    await db.schema.raw(
      'create trigger release_hold_item_epoch_delete after delete on release_hold_item referencing old table as changed_old for each statement execute function access_epoch_changed_rows()',
    );
    await db.schema.raw('create trigger release_hold_item_epoch_truncate after truncate on release_hold_item for each statement execute function access_epoch_all()');
  },
  async down(db: Knex) {
    for (const t of ['insert', 'update', 'delete', 'truncate']) await db.schema.raw(`drop trigger if exists release_hold_item_epoch_${t} on release_hold_item`);
    await db.schema.raw('drop function if exists access_epoch_changed_rows()');
  },
};
