/**
 * One resource of every type the API serves, in Maria's (Patient/mom) compartment or shared, with
 * references across every advertised _include; plus another patient whose data must never show,
 * and a teenager with confidential data that a parent proxy must not see (PRX-3).
 */
import type { Resource } from '@medplum/fhirtypes';
import { teenBirthDate } from './smart-harness.js';

export const LAB = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] };
export const VITALS = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] };
const CONFIDENTIAL = { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] };
const HGB = { coding: [{ system: 'http://loinc.org', code: '718-7' }] };
const mom = { reference: 'Patient/mom' };

export const MARIA = { username: 'maria', password: 'correct horse', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
export const MARIA_ACCOUNT = { ...MARIA, fhirUser: 'Patient/mom', patientId: 'mom', parentOf: ['teen'] };

export const obs = (id: string, patient: string, status: string, category: unknown, extra: Record<string, unknown> = {}): Resource =>
  ({
    resourceType: 'Observation',
    id,
    status,
    category: [category],
    code: HGB,
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-10-01',
    ...extra,
  }) as Resource;

/** Type → a resource of that type Maria's token can read. */
export const READABLE: Record<string, string> = {
  AllergyIntolerance: 'mom-allergy',
  Appointment: 'mom-appt',
  CarePlan: 'mom-careplan',
  CareTeam: 'mom-careteam',
  Condition: 'mom-condition',
  Coverage: 'mom-coverage',
  Device: 'mom-device',
  DiagnosticReport: 'mom-report',
  DocumentReference: 'mom-doc',
  Encounter: 'mom-enc',
  Endpoint: 'ep-1',
  ExplanationOfBenefit: 'mom-eob',
  Goal: 'mom-goal',
  HealthcareService: 'hs-1',
  Immunization: 'mom-imm',
  Location: 'loc-1',
  Media: 'mom-media',
  Medication: 'med-1',
  MedicationDispense: 'mom-dispense',
  MedicationRequest: 'mom-mr',
  Observation: 'mom-hgb',
  Organization: 'org-1',
  Patient: 'mom',
  Practitioner: 'prac-1',
  PractitionerRole: 'role-1',
  Procedure: 'mom-proc',
  Provenance: 'mom-prov',
  Questionnaire: 'q-1',
  QuestionnaireResponse: 'mom-qr',
  RelatedPerson: 'mom-rp',
  ServiceRequest: 'mom-sr',
  Specimen: 'mom-spec',
  ValueSet: 'vs-1',
};

export function usCoreFixtures(): Resource[] {
  const text = (t: string) => ({ text: t });
  return [
    // Shared resources.
    { resourceType: 'Practitioner', id: 'prac-1', name: [{ family: 'Osler', given: ['William'] }] },
    { resourceType: 'Practitioner', id: 'prac-unreferenced', name: [{ family: 'Nobody' }] },
    { resourceType: 'PractitionerRole', id: 'role-1', practitioner: { reference: 'Practitioner/prac-1' }, endpoint: [{ reference: 'Endpoint/ep-1' }] },
    {
      resourceType: 'Endpoint',
      id: 'ep-1',
      status: 'active',
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'direct-project' },
      payloadType: [text('any')],
      address: 'mailto:dr@example.org',
    },
    { resourceType: 'HealthcareService', id: 'hs-1', name: 'Clinic' },
    { resourceType: 'Location', id: 'loc-1', name: 'Main clinic', address: { city: 'Boston', state: 'MA', postalCode: '02115' } },
    { resourceType: 'Medication', id: 'med-1', code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }] } },
    { resourceType: 'Medication', id: 'med-other', code: text('not Maria’s') },
    { resourceType: 'Organization', id: 'org-1', name: 'Hospital', address: [{ city: 'Boston' }] },
    { resourceType: 'Questionnaire', id: 'q-1', status: 'active' },
    { resourceType: 'ValueSet', id: 'vs-1', status: 'active' },

    // Maria.
    {
      resourceType: 'Patient',
      id: 'mom',
      identifier: [{ system: 'urn:example:mrn', value: 'MRN-mom' }],
      name: [{ given: ['Maria'], family: 'Lopez' }],
      gender: 'female',
      birthDate: '1984-03-02',
      generalPractitioner: [{ reference: 'Practitioner/prac-1' }],
      managingOrganization: { reference: 'Organization/org-1' },
    },
    { resourceType: 'AllergyIntolerance', id: 'mom-allergy', patient: mom, code: text('peanut') },
    { resourceType: 'CarePlan', id: 'mom-careplan', status: 'active', intent: 'plan', subject: mom },
    {
      resourceType: 'CareTeam',
      id: 'mom-careteam',
      status: 'active',
      subject: mom,
      participant: [
        { member: { reference: 'Practitioner/prac-1' } },
        { member: { reference: 'PractitionerRole/role-1' } },
        { member: { reference: 'Patient/mom' } },
        { member: { reference: 'RelatedPerson/mom-rp' } },
        // Pointing into another compartment must not reach it (API: _include cannot cross).
        { member: { reference: 'Patient/other' } },
        { member: { reference: 'RelatedPerson/other-rp' } },
      ],
    },
    { resourceType: 'Condition', id: 'mom-condition', subject: mom, code: text('asthma'), encounter: { reference: 'Encounter/mom-enc' } },
    { resourceType: 'Coverage', id: 'mom-coverage', status: 'active', beneficiary: mom, payor: [{ reference: 'Organization/org-1' }] },
    { resourceType: 'Device', id: 'mom-device', patient: mom, type: text('pacemaker') },
    {
      resourceType: 'DiagnosticReport',
      id: 'mom-report',
      status: 'final',
      category: [LAB],
      code: text('CBC'),
      subject: mom,
      effectiveDateTime: '2026-10-01',
      result: [{ reference: 'Observation/mom-hgb' }, { reference: 'Observation/mom-prelim' }, { reference: 'Observation/other-hgb' }],
    },
    { resourceType: 'DocumentReference', id: 'mom-doc', status: 'current', subject: mom, content: [{ attachment: { contentType: 'text/plain', data: 'aGk=' } }] },
    {
      resourceType: 'Encounter',
      id: 'mom-enc',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: mom,
      location: [{ location: { reference: 'Location/loc-1' } }],
    },
    { resourceType: 'Goal', id: 'mom-goal', lifecycleStatus: 'active', description: text('walk'), subject: mom },
    { resourceType: 'Immunization', id: 'mom-imm', status: 'completed', vaccineCode: text('flu'), patient: mom, occurrenceDateTime: '2026-10-01' },
    { resourceType: 'Media', id: 'mom-media', status: 'completed', subject: mom, content: { contentType: 'image/png' } },
    { resourceType: 'MedicationDispense', id: 'mom-dispense', status: 'completed', medicationReference: { reference: 'Medication/med-1' }, subject: mom },
    { resourceType: 'MedicationRequest', id: 'mom-mr', status: 'active', intent: 'order', medicationReference: { reference: 'Medication/med-1' }, subject: mom },
    obs('mom-hgb', 'mom', 'final', LAB),
    // Not released (REL-7): hidden from search, _include and $everything alike.
    obs('mom-prelim', 'mom', 'preliminary', LAB),
    { resourceType: 'Procedure', id: 'mom-proc', status: 'completed', subject: mom, code: text('appendectomy') },
    {
      resourceType: 'Provenance',
      id: 'mom-prov',
      target: [{ reference: 'Observation/mom-hgb' }, { reference: 'Patient/mom' }],
      recorded: '2026-10-01T00:00:00Z',
      agent: [{ who: { reference: 'Practitioner/prac-1' } }],
    },
    { resourceType: 'QuestionnaireResponse', id: 'mom-qr', status: 'completed', subject: mom, questionnaire: 'Questionnaire/q-1' },
    { resourceType: 'RelatedPerson', id: 'mom-rp', patient: mom, name: [{ family: 'Lopez', given: ['Ana'] }] },
    { resourceType: 'ServiceRequest', id: 'mom-sr', status: 'active', intent: 'order', subject: mom, code: text('x-ray') },
    { resourceType: 'Specimen', id: 'mom-spec', subject: mom },
    { resourceType: 'Appointment', id: 'mom-appt', status: 'booked', participant: [{ actor: mom, status: 'accepted' }] },
    {
      resourceType: 'ExplanationOfBenefit',
      id: 'mom-eob',
      status: 'active',
      type: text('professional'),
      use: 'claim',
      patient: mom,
      created: '2026-10-02',
      insurer: { reference: 'Organization/org-1' },
      provider: { reference: 'Practitioner/prac-1' },
      outcome: 'complete',
      insurance: [{ focal: true, coverage: { reference: 'Coverage/mom-coverage' } }],
    },
    // Imported and stored, but not served: AuditEvent at this API is the access log (access-log-view.ts).
    {
      resourceType: 'AuditEvent',
      id: 'mom-audit',
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
      recorded: '2026-10-02T00:00:00Z',
      agent: [{ who: mom, requestor: true }],
      source: { observer: { display: 'portal' } },
      entity: [{ what: mom }],
    },

    // Another patient: never visible to Maria's tokens.
    { resourceType: 'Patient', id: 'other', name: [{ given: ['Nobody'], family: 'Else' }], birthDate: '1990-01-01' },
    obs('other-hgb', 'other', 'final', LAB),
    { resourceType: 'RelatedPerson', id: 'other-rp', patient: { reference: 'Patient/other' } },
    { resourceType: 'Provenance', id: 'other-prov', target: [{ reference: 'Observation/other-hgb' }], recorded: '2026-10-01T00:00:00Z', agent: [{ who: { reference: 'Practitioner/prac-1' } }] },
    { resourceType: 'MedicationRequest', id: 'other-mr', status: 'active', intent: 'order', medicationReference: { reference: 'Medication/med-other' }, subject: { reference: 'Patient/other' } },

    // The teenager: his confidential data is hidden from his parent (PRX-3).
    { resourceType: 'Patient', id: 'teen', name: [{ given: ['Mateo'], family: 'Lopez' }], birthDate: teenBirthDate() },
    obs('teen-hgb', 'teen', 'final', LAB),
    obs('teen-sti', 'teen', 'final', LAB, { meta: CONFIDENTIAL }),
    { resourceType: 'DiagnosticReport', id: 'teen-panel', status: 'final', category: [LAB], code: text('panel'), subject: { reference: 'Patient/teen' }, result: [{ reference: 'Observation/teen-hgb' }, { reference: 'Observation/teen-sti' }] },
    { resourceType: 'DiagnosticReport', id: 'teen-cbc', status: 'final', category: [LAB], code: text('cbc'), subject: { reference: 'Patient/teen' }, result: [{ reference: 'Observation/teen-hgb' }] },
    { resourceType: 'Condition', id: 'teen-confidential', meta: CONFIDENTIAL, subject: { reference: 'Patient/teen' }, code: text('confidential') },
    { resourceType: 'Provenance', id: 'teen-prov', target: [{ reference: 'Patient/teen' }, { reference: 'Observation/teen-hgb' }], recorded: '2026-10-01T00:00:00Z', agent: [{ who: { reference: 'Practitioner/prac-1' } }] },
    { resourceType: 'Provenance', id: 'teen-prov-labelled', meta: CONFIDENTIAL, target: [{ reference: 'Patient/teen' }], recorded: '2026-10-01T00:00:00Z', agent: [{ who: { reference: 'Practitioner/prac-1' } }] },
    { resourceType: 'Provenance', id: 'teen-prov-sti', target: [{ reference: 'Observation/teen-hgb' }, { reference: 'Observation/teen-sti' }], recorded: '2026-10-01T00:00:00Z', agent: [{ who: { reference: 'Organization/org-1' } }] },
    { resourceType: 'Encounter', id: 'teen-clinic', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/teen' }, location: [{ location: { reference: 'Location/loc-1' } }], meta: CONFIDENTIAL },
  ] as Resource[];
}
