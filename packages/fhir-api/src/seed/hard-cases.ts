/**
 * The fixed people every dataset starts with, the ones access rules are tested on: a parent who is
 * also proxy for a child under 12 and a 15-year-old with confidential data, an adult child with
 * healthcare power of attorney for an 84-year-old parent, two different patients with the same name
 * and birth date, a registered patient with no data, and a clinician. Ages are relative to `now`.
 */
import type { Address } from '@medplum/fhirtypes';
import { CLINICIAN_PRACTITIONER_ID } from './shared.js';
import type { GuardianSpec, PatientSpec } from './spec.js';
import { birthDateForAge } from './time.js';
import type { DemoPerson } from './types.js';

export const HARD_CASE_IDS = {
  parent: 'pat-parent',
  child: 'pat-child',
  adolescent: 'pat-teen',
  adultChild: 'pat-adult-child',
  elderlyParent: 'pat-elder',
  sameNameA: 'pat-twin-a',
  sameNameB: 'pat-twin-b',
  empty: 'pat-empty',
} as const;

export const RELATED_PERSON_IDS = {
  parentForChild: 'rp-parent-child',
  parentForAdolescent: 'rp-parent-teen',
  adultChildForElderlyParent: 'rp-son-elder',
} as const;

const home = (line: string, city: string, postalCode: string, sinceYear: number): Address => ({
  use: 'home', type: 'physical', line: [line], city, state: 'MA', postalCode, country: 'US', period: { start: `${sinceYear}-01-01` },
});

const LOPEZ_HOME = home('48 Sumner Avenue', 'Springfield', '01108', 2015);
const MARIA_PHONE = '413-555-0142';

function maria(id: string, now: number): GuardianSpec {
  return {
    id, given: 'Maria', family: 'Lopez', gender: 'female', birthDate: birthDateForAge(now, 42, 100),
    relationship: [{ code: 'MTH', display: 'mother' }], mrn: '1000001', phone: MARIA_PHONE, email: 'maria.lopez@example.com', sameAddress: true, subscriber: true,
  };
}

export function hardCaseSpecs(now: number): PatientSpec[] {
  // Hard cases keep to their listed conditions so their records stay predictable.
  const base: Pick<PatientSpec, 'race' | 'ethnicity' | 'language' | 'guardians' | 'onlyListedConditions'> = { race: 'white', ethnicity: 'not-hispanic', language: 'en', guardians: [], onlyListedConditions: true };
  const lopez = { ...base, ethnicity: 'hispanic', family: 'Lopez', address: LOPEZ_HOME, phone: MARIA_PHONE } as const;
  return [
    { ...lopez, id: HARD_CASE_IDS.parent, tag: 'parent', streamKey: 'hard-parent', mrn: '1000001', given: ['Maria', 'Elena'], gender: 'female',
      birthDate: birthDateForAge(now, 42, 100), language: 'es', email: 'maria.lopez@example.com', pcpId: CLINICIAN_PRACTITIONER_ID,
      conditions: ['hypothyroidism', 'allergicRhinitis'], showcaseResultStatuses: true, upcomingAppointments: 2, resourceTarget: 150 },
    { ...lopez, id: HARD_CASE_IDS.child, tag: 'child', streamKey: 'hard-child', mrn: '1000002', given: ['Sofia'], gender: 'female',
      birthDate: birthDateForAge(now, 8, 40), pcpId: 'prac-2', conditions: ['asthma'], fullHistory: true, resourceTarget: 160,
      guardians: [maria(RELATED_PERSON_IDS.parentForChild, now)] },
    { ...lopez, id: HARD_CASE_IDS.adolescent, tag: 'teen', streamKey: 'hard-teen', mrn: '1000003', given: ['Mateo'], gender: 'male',
      birthDate: birthDateForAge(now, 15, 60), pcpId: 'prac-2', conditions: ['depression', 'allergicRhinitis'], adolescentConfidential: true, resourceTarget: 130,
      guardians: [maria(RELATED_PERSON_IDS.parentForAdolescent, now)] },
    { ...base, id: HARD_CASE_IDS.adultChild, tag: 'adult-child', streamKey: 'hard-adult-child', mrn: '1000004', given: ['James', 'Robert'], family: 'Walker', gender: 'male',
      birthDate: birthDateForAge(now, 50, 200), address: home('17 Orchard Lane', 'Longmeadow', '01106', 2008), phone: '413-555-0157', email: 'james.walker@example.com',
      pcpId: CLINICIAN_PRACTITIONER_ID, conditions: ['hypertension', 'hyperlipidemia', 'migraine'], statinSwitch: true, resourceTarget: 120,
      // One of each radiology modality: ultrasound, CT and MRI reports.
      extraVisits: [
        { kind: 'emergency', daysAgo: 400, acute: 'abdominal-pain' },
        { kind: 'emergency', daysAgo: 210, acute: 'chest-pain' },
        { kind: 'imaging', daysAgo: 95, focus: 'migraine' },
      ] },
    { ...base, id: HARD_CASE_IDS.elderlyParent, tag: 'elder', streamKey: 'hard-elder', mrn: '1000005', given: ['Ruth', 'Ann'], family: 'Walker', gender: 'female',
      birthDate: birthDateForAge(now, 84, 150), address: home('9 Chestnut Street', 'Springfield', '01103', 1972), phone: '413-555-0163',
      pcpId: CLINICIAN_PRACTITIONER_ID, conditions: ['hypertension', 'atrialFibrillation', 'dementia', 'osteoporosis'], implants: ['pacemaker'], resourceTarget: 200,
      guardians: [{
        id: RELATED_PERSON_IDS.adultChildForElderlyParent, given: 'James', family: 'Walker', gender: 'male', birthDate: birthDateForAge(now, 50, 200),
        relationship: [{ code: 'SON', display: 'natural son' }, { code: 'HPOWATT', display: 'healthcare power of attorney' }], mrn: '1000004',
        phone: '413-555-0157', email: 'james.walker@example.com', sameAddress: false,
      }] },
    // Same name and birth date, different people: matching on demographics alone would merge them.
    { ...base, id: HARD_CASE_IDS.sameNameA, tag: 'twin-a', streamKey: 'hard-twin-a', mrn: '1000006', given: ['John'], family: 'Smith', gender: 'male', birthDate: '1975-06-15',
      address: home('112 Boston Road', 'Chicopee', '01013', 2011), phone: '413-555-0171', email: 'john.smith.1975@example.com',
      pcpId: CLINICIAN_PRACTITIONER_ID, conditions: ['hypertension', 'hyperlipidemia'], declinesFluVaccine: true, resourceTarget: 110 },
    { ...base, id: HARD_CASE_IDS.sameNameB, tag: 'twin-b', streamKey: 'hard-twin-b', mrn: '1000007', given: ['John'], family: 'Smith', gender: 'male', birthDate: '1975-06-15',
      race: 'black', address: home('23 State Street', 'Westfield', '01085', 2019), phone: '413-555-0188', email: 'jsmith75@example.com',
      pcpId: 'prac-3', conditions: ['diabetes', 'asthma'], resourceTarget: 110 },
    { ...base, id: HARD_CASE_IDS.empty, tag: 'empty', streamKey: 'hard-empty', mrn: '1000008', given: ['Nora'], family: 'Empty', gender: 'female',
      birthDate: birthDateForAge(now, 30, 75), address: home('5 Pine Ridge Road', 'Agawam', '01001', 2024), phone: '413-555-0190', email: 'nora.empty@example.com',
      empty: true },
  ];
}

export function demoPeople(): DemoPerson[] {
  return [
    {
      key: 'parent', username: 'maria.lopez', displayName: 'Maria Lopez', patientId: HARD_CASE_IDS.parent,
      relatedPersons: [
        { relatedPersonId: RELATED_PERSON_IDS.parentForChild, actsForPatientId: HARD_CASE_IDS.child, basis: 'parent' },
        { relatedPersonId: RELATED_PERSON_IDS.parentForAdolescent, actsForPatientId: HARD_CASE_IDS.adolescent, basis: 'parent' },
      ],
    },
    { key: 'adolescent', username: 'mateo.lopez', displayName: 'Mateo Lopez', patientId: HARD_CASE_IDS.adolescent, relatedPersons: [] },
    {
      key: 'adult-child', username: 'james.walker', displayName: 'James Walker', patientId: HARD_CASE_IDS.adultChild,
      relatedPersons: [{ relatedPersonId: RELATED_PERSON_IDS.adultChildForElderlyParent, actsForPatientId: HARD_CASE_IDS.elderlyParent, basis: 'poa' }],
    },
    { key: 'elder', username: 'ruth.walker', displayName: 'Ruth Walker', patientId: HARD_CASE_IDS.elderlyParent, relatedPersons: [] },
    { key: 'same-name-a', username: 'john.smith.a', displayName: 'John Smith (Chicopee)', patientId: HARD_CASE_IDS.sameNameA, relatedPersons: [] },
    { key: 'same-name-b', username: 'john.smith.b', displayName: 'John Smith (Westfield)', patientId: HARD_CASE_IDS.sameNameB, relatedPersons: [] },
    { key: 'empty', username: 'nora.empty', displayName: 'Nora Empty', patientId: HARD_CASE_IDS.empty, relatedPersons: [] },
    { key: 'clinician', username: 'dr.osler', displayName: 'Dr. William Osler', practitionerId: CLINICIAN_PRACTITIONER_ID, relatedPersons: [] },
  ];
}
