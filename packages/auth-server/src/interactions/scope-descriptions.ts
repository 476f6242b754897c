/** Plain-language descriptions of SMART scopes for the consent screen. */
import { parseScope, type ResourceScope } from '@patient-access/consent';

const TYPES: Record<string, string> = {
  AllergyIntolerance: 'Allergies',
  CarePlan: 'Care plans',
  CareTeam: 'Care team',
  Condition: 'Conditions and problems',
  Coverage: 'Insurance coverage',
  Device: 'Implanted devices',
  DiagnosticReport: 'Test and imaging reports',
  DocumentReference: 'Clinical notes and documents',
  Encounter: 'Visits',
  ExplanationOfBenefit: 'Claims and billing',
  Goal: 'Goals',
  Immunization: 'Immunizations',
  Location: 'Locations',
  Medication: 'Medications (drug details)',
  MedicationDispense: 'Medications dispensed',
  MedicationRequest: 'Prescriptions',
  Observation: 'Results, vital signs and other observations',
  Organization: 'Organizations',
  Patient: 'Demographics (name, birth date, contact details)',
  Practitioner: 'Clinicians',
  PractitionerRole: 'Clinician roles',
  Procedure: 'Procedures',
  Provenance: 'Record history (who recorded what)',
  QuestionnaireResponse: 'Questionnaire answers',
  RelatedPerson: 'Related people (family, caregivers)',
  ServiceRequest: 'Orders and referrals',
  Specimen: 'Specimens',
  Appointment: 'Appointments',
  AuditEvent: 'Access history',
};

export function describeScope(raw: string): string {
  const scope = parseScope(raw) as ResourceScope;
  const what = scope.resourceType === '*' ? 'Your whole health record' : (TYPES[scope.resourceType] ?? scope.resourceType);
  const limits = scope.query.map((q) => `${q.name} ${q.value.split('|').pop()}`).join(', ');
  const how = scope.permissions === 'rs' ? '' : scope.permissions === 'r' ? ' (by direct link only)' : scope.permissions === 's' ? ' (by search only)' : '';
  return `${what}${limits ? ` — only ${limits}` : ''}${how}`;
}
