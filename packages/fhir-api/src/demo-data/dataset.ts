/**
 * The demo dataset: deterministic US Core 6.1 records for the hard cases (a parent with a child
 * under 12 and a 15-year-old with sensitive data, an adult child with power of attorney for an
 * elderly parent, two different patients with the same name and birth date, a patient with no
 * data) plus ordinary generated patients. Pure: it returns resources; the caller writes them.
 */
import type { Resource } from '@medplum/fhirtypes';
import { Random } from './random.js';

export interface PatientRecord {
  patientId: string;
  resources: Resource[];
}

export interface DemoPerson {
  key: string;
  username: string;
  displayName: string;
  patientId?: string;
  relatedPersons: { relatedPersonId: string; actsForPatientId: string; basis: 'parent' | 'guardian' | 'poa' | 'caregiver' }[];
  practitionerId?: string;
}

export interface GeneratedDataset {
  shared: Resource[];
  patients: PatientRecord[];
  people: DemoPerson[];
}

export interface DatasetOptions {
  patients: number;
  seed?: number;
  now?: Date;
}

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const MRN = 'http://hospital.example.org/mrn';
const FIRST = ['Ana', 'Luis', 'Maya', 'Omar', 'Grace', 'Wei', 'Fatima', 'John', 'Priya', 'Diego', 'Sara', 'Tom'];
const LAST = ['Garcia', 'Nguyen', 'Smith', 'Okafor', 'Kowalski', 'Haddad', 'Johnson', 'Silva', 'Chen', 'Brown'];
const RESULT_STATUSES = ['final', 'final', 'final', 'final', 'amended', 'corrected', 'preliminary', 'registered', 'cancelled', 'entered-in-error'] as const;
const LABS = [
  ['2339-0', 'Glucose [Mass/volume] in Blood', 'mg/dL', 70, 140],
  ['2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 'mg/dL', 140, 260],
  ['718-7', 'Hemoglobin [Mass/volume] in Blood', 'g/dL', 11, 17],
  ['4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood', '%', 4.5, 9],
] as const;

export const SHARED_IDS = { organization: 'org-1', practitioner: 'prac-1', practitionerRole: 'prole-1', location: 'loc-1', medication: 'med-1' };

export function generateDataset(options: DatasetOptions): GeneratedDataset {
  const now = options.now ?? new Date('2026-11-01T00:00:00Z');
  const rnd = new Random(options.seed ?? 20261101);
  const yearsAgo = (y: number, extraDays = 0) => new Date(now.getTime() - (y * 365.25 + extraDays) * 86_400_000).toISOString().slice(0, 10);

  const patients: PatientRecord[] = [];
  const people: DemoPerson[] = [];
  const add = (id: string, given: string, family: string, birthDate: string, gender: 'male' | 'female', withData: boolean) => {
    const rec: PatientRecord = { patientId: id, resources: [patient(id, given, family, birthDate, gender)] };
    if (withData) rec.resources.push(...clinical(id, rnd, now));
    patients.push(rec);
    return rec;
  };

  // The parent: a patient who is also proxy for a child under 12 and an adolescent of 15.
  add('pat-parent', 'Maria', 'Lopez', yearsAgo(42), 'female', true);
  const child = add('pat-child', 'Sofia', 'Lopez', yearsAgo(8, 40), 'female', true);
  const teen = add('pat-teen', 'Mateo', 'Lopez', yearsAgo(15, 60), 'male', true);
  child.resources.push(relatedPerson('rp-parent-child', 'pat-child', 'Maria', 'Lopez', 'MTH'));
  teen.resources.push(relatedPerson('rp-parent-teen', 'pat-teen', 'Maria', 'Lopez', 'MTH'), ...sensitive('pat-teen', now));
  people.push({
    key: 'parent', username: 'maria.lopez', displayName: 'Maria Lopez', patientId: 'pat-parent',
    relatedPersons: [
      { relatedPersonId: 'rp-parent-child', actsForPatientId: 'pat-child', basis: 'parent' },
      { relatedPersonId: 'rp-parent-teen', actsForPatientId: 'pat-teen', basis: 'parent' },
    ],
  });
  // An adult child with power of attorney for an elderly parent.
  add('pat-adult-child', 'James', 'Walker', yearsAgo(50), 'male', true);
  const elder = add('pat-elder', 'Ruth', 'Walker', yearsAgo(84), 'female', true);
  elder.resources.push(relatedPerson('rp-son-elder', 'pat-elder', 'James', 'Walker', 'SON'));
  people.push({
    key: 'adult-child', username: 'james.walker', displayName: 'James Walker', patientId: 'pat-adult-child',
    relatedPersons: [{ relatedPersonId: 'rp-son-elder', actsForPatientId: 'pat-elder', basis: 'poa' }],
  });
  people.push({ key: 'elder', username: 'ruth.walker', displayName: 'Ruth Walker', patientId: 'pat-elder', relatedPersons: [] });
  // Two different patients with the same name and birth date: their records must never cross.
  add('pat-twin-a', 'John', 'Smith', '1975-06-15', 'male', true);
  add('pat-twin-b', 'John', 'Smith', '1975-06-15', 'male', true);
  people.push({ key: 'same-name-a', username: 'john.smith.a', displayName: 'John Smith (A)', patientId: 'pat-twin-a', relatedPersons: [] });
  people.push({ key: 'same-name-b', username: 'john.smith.b', displayName: 'John Smith (B)', patientId: 'pat-twin-b', relatedPersons: [] });
  // A patient with no data at all.
  add('pat-empty', 'Nora', 'Empty', yearsAgo(30), 'female', false);
  people.push({ key: 'empty', username: 'nora.empty', displayName: 'Nora Empty', patientId: 'pat-empty', relatedPersons: [] });
  people.push({ key: 'clinician', username: 'dr.osler', displayName: 'Dr. William Osler', practitionerId: SHARED_IDS.practitioner, relatedPersons: [] });

  for (let i = 1; i <= options.patients; i++) {
    const id = `pat-${String(i).padStart(5, '0')}`;
    add(id, rnd.pick(FIRST), rnd.pick(LAST), yearsAgo(rnd.int(1, 90), rnd.int(0, 364)), rnd.next() < 0.5 ? 'male' : 'female', true);
  }
  return { shared: sharedResources(), patients, people };
}

function sharedResources(): Resource[] {
  return [
    { resourceType: 'Organization', id: SHARED_IDS.organization, active: true, name: 'Example General Hospital',
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
      telecom: [{ system: 'phone', value: '555-0100' }], address: [{ line: ['1 Main St'], city: 'Springfield', state: 'MA', postalCode: '01101', country: 'US' }] },
    { resourceType: 'Practitioner', id: SHARED_IDS.practitioner, active: true,
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '9941339108' }], name: [{ family: 'Osler', given: ['William'], prefix: ['Dr.'] }] },
    { resourceType: 'PractitionerRole', id: SHARED_IDS.practitionerRole, active: true,
      practitioner: { reference: `Practitioner/${SHARED_IDS.practitioner}` }, organization: { reference: `Organization/${SHARED_IDS.organization}` },
      specialty: [{ coding: [{ system: 'http://nucc.org/provider-taxonomy', code: '207Q00000X', display: 'Family Medicine' }] }] },
    { resourceType: 'Location', id: SHARED_IDS.location, status: 'active', name: 'Example General Hospital Clinic',
      address: { line: ['1 Main St'], city: 'Springfield', state: 'MA', postalCode: '01101' }, managingOrganization: { reference: `Organization/${SHARED_IDS.organization}` } },
    { resourceType: 'Medication', id: SHARED_IDS.medication,
      code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '314076', display: 'lisinopril 10 MG Oral Tablet' }] } },
  ] as Resource[];
}

function patient(id: string, given: string, family: string, birthDate: string, gender: 'male' | 'female'): Resource {
  return {
    resourceType: 'Patient', id,
    extension: [
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race', extension: [
        { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' } }, { url: 'text', valueString: 'White' }] },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity', extension: [
        { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2186-5', display: 'Not Hispanic or Latino' } }, { url: 'text', valueString: 'Not Hispanic or Latino' }] },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: gender === 'male' ? 'M' : 'F' },
    ],
    identifier: [{ system: MRN, value: `MRN-${id}` }],
    name: [{ use: 'official', family, given: [given] }],
    gender, birthDate,
    address: [{ line: ['12 Elm St'], city: 'Springfield', state: 'MA', postalCode: '01101', country: 'US' }],
    telecom: [{ system: 'phone', value: '555-0199', use: 'home' }],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en' }] } }],
  } as Resource;
}

function relatedPerson(id: string, patientId: string, given: string, family: string, relationship: string): Resource {
  return {
    resourceType: 'RelatedPerson', id, active: true, patient: { reference: `Patient/${patientId}` },
    relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: relationship }] }],
    name: [{ family, given: [given] }],
  } as Resource;
}

function clinical(pid: string, rnd: Random, now: Date): Resource[] {
  const out: Resource[] = [];
  const subject = { reference: `Patient/${pid}` };
  const day = (daysAgo: number) => new Date(now.getTime() - daysAgo * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const encounters = rnd.int(2, 4);
  for (let e = 1; e <= encounters; e++) {
    const encId = `enc-${pid}-${e}`;
    const when = rnd.int(10, 900);
    out.push({
      resourceType: 'Encounter', id: encId, status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      type: [{ coding: [{ system: SNOMED, code: '185349003', display: 'Encounter for check up' }] }],
      subject, participant: [{ individual: { reference: `Practitioner/${SHARED_IDS.practitioner}` } }],
      period: { start: day(when), end: day(when - 0.02) },
      location: [{ location: { reference: `Location/${SHARED_IDS.location}` } }],
      serviceProvider: { reference: `Organization/${SHARED_IDS.organization}` },
    } as Resource);
    const labIds: string[] = [];
    for (const [li, lab] of LABS.entries()) {
      const [code, display, unit, lo, hi] = lab;
      const id = `obs-${pid}-${e}-${li}`;
      labIds.push(id);
      out.push({
        resourceType: 'Observation', id, status: rnd.pick(RESULT_STATUSES),
        category: [{ coding: [{ system: OBS_CAT, code: 'laboratory', display: 'Laboratory' }] }],
        code: { coding: [{ system: LOINC, code, display }], text: display }, subject, encounter: { reference: `Encounter/${encId}` },
        effectiveDateTime: day(when), issued: day(when - 0.5),
        valueQuantity: { value: Math.round((lo + rnd.next() * (hi - lo)) * 10) / 10, unit, system: 'http://unitsofmeasure.org', code: unit },
      } as Resource);
    }
    out.push({
      resourceType: 'DiagnosticReport', id: `dr-${pid}-${e}`, status: rnd.pick(RESULT_STATUSES),
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
      code: { coding: [{ system: LOINC, code: '24323-8', display: 'Comprehensive metabolic panel' }] }, subject,
      encounter: { reference: `Encounter/${encId}` }, effectiveDateTime: day(when), issued: day(when - 0.5),
      performer: [{ reference: `Organization/${SHARED_IDS.organization}` }], result: labIds.map((id) => ({ reference: `Observation/${id}` })),
    } as Resource);
    out.push({
      resourceType: 'Observation', id: `vs-${pid}-${e}`, status: 'final',
      category: [{ coding: [{ system: OBS_CAT, code: 'vital-signs', display: 'Vital Signs' }] }],
      code: { coding: [{ system: LOINC, code: '8867-4', display: 'Heart rate' }] }, subject, effectiveDateTime: day(when),
      valueQuantity: { value: rnd.int(55, 100), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    } as Resource);
  }
  out.push({
    resourceType: 'Observation', id: `smoke-${pid}`, status: 'final',
    category: [{ coding: [{ system: OBS_CAT, code: 'social-history' }] }],
    code: { coding: [{ system: LOINC, code: '72166-2', display: 'Tobacco smoking status' }] }, subject, effectiveDateTime: day(30),
    valueCodeableConcept: { coding: [{ system: SNOMED, code: '266919005', display: 'Never smoked tobacco' }] },
  } as Resource);
  out.push({
    resourceType: 'Condition', id: `cond-${pid}`,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: { coding: [{ system: SNOMED, code: '38341003', display: 'Hypertension' }] }, subject, onsetDateTime: day(700), recordedDate: day(690),
  } as Resource);
  out.push({
    resourceType: 'AllergyIntolerance', id: `allergy-${pid}`,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
    code: { coding: [{ system: SNOMED, code: '91936005', display: 'Allergy to penicillin' }] }, patient: subject,
  } as Resource);
  out.push({
    resourceType: 'Immunization', id: `imm-${pid}`, status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140', display: 'Influenza, seasonal, injectable' }] },
    patient: subject, occurrenceDateTime: day(200), primarySource: true,
  } as Resource);
  out.push({
    resourceType: 'MedicationRequest', id: `medreq-${pid}`, status: 'active', intent: 'order',
    medicationReference: { reference: `Medication/${SHARED_IDS.medication}` }, subject, authoredOn: day(100),
    requester: { reference: `Practitioner/${SHARED_IDS.practitioner}` }, dosageInstruction: [{ text: 'Take 1 tablet by mouth daily' }],
  } as Resource);
  out.push({
    resourceType: 'Procedure', id: `proc-${pid}`, status: 'completed',
    code: { coding: [{ system: SNOMED, code: '73761001', display: 'Colonoscopy' }] }, subject, performedDateTime: day(400),
  } as Resource);
  out.push({
    resourceType: 'Provenance', id: `prov-${pid}`, recorded: day(1),
    target: out.filter((r) => r.resourceType !== 'Provenance').slice(0, 10).map((r) => ({ reference: `${r.resourceType}/${r.id}` })),
    agent: [{
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
      who: { reference: `Practitioner/${SHARED_IDS.practitioner}` }, onBehalfOf: { reference: `Organization/${SHARED_IDS.organization}` },
    }],
  } as Resource);
  return out;
}

/** The adolescent's confidential data: labelled so the proxy rules can withhold it (PRX-4). */
function sensitive(pid: string, now: Date): Resource[] {
  const subject = { reference: `Patient/${pid}` };
  const when = new Date(now.getTime() - 40 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const meta = (code: string) => ({ security: [{ system: ACT_CODE, code }, { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] });
  return [
    {
      resourceType: 'Condition', id: `cond-${pid}-mh`, meta: meta('PSY'),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
      code: { coding: [{ system: SNOMED, code: '35489007', display: 'Depressive disorder' }] }, subject, recordedDate: when,
    },
    {
      resourceType: 'Observation', id: `obs-${pid}-hiv`, meta: meta('HIV'), status: 'final',
      category: [{ coding: [{ system: OBS_CAT, code: 'laboratory' }] }],
      code: { coding: [{ system: LOINC, code: '75622-1', display: 'HIV 1 and 2 tests - Meaning' }] }, subject, effectiveDateTime: when,
      valueCodeableConcept: { coding: [{ system: SNOMED, code: '260385009', display: 'Negative' }] },
    },
  ] as Resource[];
}
