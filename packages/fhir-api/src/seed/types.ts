/** The generator's public types. */
import type { Resource } from '@medplum/fhirtypes';

export interface GenerateOptions {
  /** Ordinary generated patients, added after the fixed hard-case patients. */
  patients: number;
  /** PRNG seed (default 20261101): same seed and options, same output. */
  seed?: number;
  /** Reference date all ages and dates are relative to (default 2026-11-01T00:00:00Z). */
  now?: Date;
  /** Average resources per generated patient (default: 60–150, drawn per patient). */
  resourcesPerPatient?: number;
}

export interface GeneratedDataset {
  /** Organization, Practitioner, PractitionerRole, Location, Medication (non-patient resources). */
  shared: Resource[];
  patients: PatientRecord[];
  people: DemoPerson[];
}

export interface PatientRecord {
  patientId: string;
  /** The Patient first, then everything in that patient's compartment, Provenance included. */
  resources: Resource[];
}

export interface DemoPerson {
  /** Stable handle, e.g. 'parent'. */
  key: string;
  username: string;
  displayName: string;
  /** Their own Patient id, if they are a patient. */
  patientId?: string;
  relatedPersons: { relatedPersonId: string; actsForPatientId: string; basis: 'parent' | 'guardian' | 'poa' | 'caregiver' }[];
  practitionerId?: string;
}
