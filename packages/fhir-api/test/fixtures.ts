/** Small hand-written records for store tests: two patients who must never see each other's data. */
import type { Resource } from '@medplum/fhirtypes';

const LAB = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' };
const VITALS = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' };
const LOINC = 'http://loinc.org';

export function observation(id: string, patient: string, opts: { category?: typeof LAB; code?: string; date?: string; status?: string; security?: string } = {}): Resource {
  return {
    resourceType: 'Observation',
    id,
    ...(opts.security ? { meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: opts.security }] } } : {}),
    status: (opts.status ?? 'final') as 'final',
    category: [{ coding: [opts.category ?? LAB] }],
    code: { coding: [{ system: LOINC, code: opts.code ?? '2345-7' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: opts.date ?? '2024-03-01T10:00:00Z',
  } as Resource;
}

export function patient(id: string, family: string, given: string, birthDate: string): Resource {
  return {
    resourceType: 'Patient',
    id,
    identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: `MRN-${id}` }],
    name: [{ family, given: [given] }],
    gender: 'female',
    birthDate,
  };
}

export function fixtureResources(): Resource[] {
  return [
    patient('p1', 'Núñez', 'Ana', '1980-05-01'),
    patient('p2', 'Nunez', 'Ana', '1980-05-01'),
    { resourceType: 'Medication', id: 'med1', code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }] } },
    { resourceType: 'Practitioner', id: 'dr1', name: [{ family: 'Smith', given: ['Jo'] }] },
    ...Array.from({ length: 12 }, (_, i) => observation(`o1-${String(i).padStart(2, '0')}`, 'p1', { date: `2024-03-${String(i + 1).padStart(2, '0')}T10:00:00Z` })),
    observation('o1-vital', 'p1', { category: VITALS, code: '8867-4', date: '2023-01-01' }),
    observation('o1-prelim', 'p1', { status: 'preliminary', date: '2024-04-01' }),
    observation('o2-a', 'p2', { date: '2024-03-05T10:00:00Z' }),
    {
      resourceType: 'MedicationRequest', id: 'mr1', status: 'active', intent: 'order',
      medicationReference: { reference: 'Medication/med1' }, subject: { reference: 'Patient/p1' },
    },
    {
      resourceType: 'MedicationRequest', id: 'mr2', status: 'active', intent: 'order',
      medicationReference: { reference: 'Medication/med1' }, subject: { reference: 'Patient/p2' },
    },
    {
      resourceType: 'Provenance', id: 'prov1', recorded: '2024-03-01T10:00:00Z',
      target: [{ reference: 'Observation/o1-00' }, { reference: 'MedicationRequest/mr1' }],
      agent: [{ who: { reference: 'Practitioner/dr1' } }],
    },
    {
      resourceType: 'Provenance', id: 'prov2', recorded: '2024-03-01T10:00:00Z',
      target: [{ reference: 'Observation/o2-a' }],
      agent: [{ who: { reference: 'Practitioner/dr1' } }],
    },
  ] as Resource[];
}
