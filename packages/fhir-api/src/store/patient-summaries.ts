/** Names and birth dates of Patients, for the authorization server's picker and consent screen. */
import type { HumanName, Patient } from '@medplum/fhirtypes';
import type { Knex } from 'knex';

export interface PatientSummary {
  name: string;
  birthDate?: string;
}

export async function patientSummaries(db: Knex, ids: string[]): Promise<Map<string, PatientSummary>> {
  const out = new Map<string, PatientSummary>();
  if (ids.length === 0) return out;
  // Each Patient lives in its own compartment: patient_id = id keeps this a key lookup.
  const rows = (await db('resource')
    .where('resource_type', 'Patient')
    .whereIn('patient_id', ids)
    .whereRaw('id = patient_id')
    .select('id', 'content')) as { id: string; content: Patient | string }[];
  for (const row of rows) {
    const patient = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) as Patient;
    out.set(row.id, { name: displayName(patient.name), ...(patient.birthDate ? { birthDate: patient.birthDate } : {}) });
  }
  return out;
}

function displayName(names: HumanName[] | undefined): string {
  const name = names?.find((n) => n.use === 'official') ?? names?.[0];
  if (!name) return 'Unnamed patient';
  return name.text ?? [...(name.given ?? []), name.family].filter(Boolean).join(' ');
}
