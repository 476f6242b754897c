/**
 * Patients a practitioner has seen (their Encounters name the practitioner), for the staff launch
 * page. Uses the internal `_references` index, which every reference in a resource is written to.
 */
import type { Knex } from 'knex';
import { REFERENCES_PARAM } from '../search/extract.js';

export interface SeenPatient {
  patientId: string;
  /** The practitioner's encounters with this patient, newest first. */
  encounterIds: string[];
}

export async function patientsSeenBy(db: Knex, practitionerId: string, limit = 50): Promise<SeenPatient[]> {
  const rows = (await db('search_token as t')
    .join('search_date as d', function joinDate() {
      this.on('d.patient_id', '=', 't.patient_id').andOn('d.resource_type', '=', 't.resource_type').andOn('d.resource_id', '=', 't.resource_id');
    })
    .where({ 't.resource_type': 'Encounter', 't.param': REFERENCES_PARAM, 't.code': `Practitioner/${practitionerId}`, 'd.param': 'date' })
    .whereNot('t.patient_id', '')
    .select('t.patient_id', 't.resource_id')
    .max('d.hi as latest')
    .groupBy('t.patient_id', 't.resource_id')
    .orderBy('latest', 'desc')
    .limit(limit * 5)) as { patient_id: string; resource_id: string }[];
  const byPatient = new Map<string, string[]>();
  for (const r of rows) {
    if (!byPatient.has(r.patient_id) && byPatient.size >= limit) continue;
    byPatient.set(r.patient_id, [...(byPatient.get(r.patient_id) ?? []), r.resource_id]);
  }
  return [...byPatient].map(([patientId, encounterIds]) => ({ patientId, encounterIds }));
}
