import type { Knex } from 'knex';
import type { Migration } from '@patient-access/consent';

/**
 * A Patient resource's birth date is part of a request's access context (the age rules of proxy
 * access, PRX-3/4): writing a Patient moves that patient's access epoch forward (consent
 * migration 202611260001), so contexts cached by the FHIR API stop matching at once. Only Patient
 * rows fire it: the WHEN clause costs nothing measurable on an import of other types.
 */
export const patientAccessEpoch: Migration = {
  name: '202611260002_patient_access_epoch',
  async up(db: Knex) {
    await db.schema.raw(
      "create trigger resource_patient_epoch_write after insert or update on resource for each row when (new.resource_type = 'Patient') execute function access_epoch_row()",
    );
    await db.schema.raw(
      "create trigger resource_patient_epoch_delete after delete on resource for each row when (old.resource_type = 'Patient') execute function access_epoch_row()",
    );
    await db.schema.raw('create trigger resource_epoch_truncate after truncate on resource for each statement execute function access_epoch_all()');
  },
  async down(db: Knex) {
    for (const t of ['resource_patient_epoch_write', 'resource_patient_epoch_delete', 'resource_epoch_truncate']) await db.schema.raw(`drop trigger if exists ${t} on resource`);
  },
};
