/**
 * SMART scope strings as Inferno reads them (its own regular expressions, not the server's
 * grammar): context/type.access[?query], v1 access `read|write|*`, v2 access `c?r?u?d?s?`.
 */

export interface ClinicalScope {
  raw: string;
  context: 'patient' | 'user' | 'system';
  type: string;
  /** v2 letters (v1 read → 'rs', * → 'cruds', write → 'cud'). */
  letters: string;
  version: 1 | 2;
  /** Query constraints (decoded name → value). */
  query: [string, string][];
}

const CLINICAL = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(?:\?(.*))?$/;
const V2 = /^c?r?u?d?s?$/;

export function parseClinicalScope(raw: string): ClinicalScope | undefined {
  const m = CLINICAL.exec(raw);
  if (!m) return undefined;
  const [, context, type, access, query] = m;
  let letters: string;
  let version: 1 | 2;
  if (access === 'read') [letters, version] = ['rs', 1];
  else if (access === 'write') [letters, version] = ['cud', 1];
  else if (access === '*') [letters, version] = ['cruds', 1];
  else if (V2.test(access!) && access!.length > 0) [letters, version] = [access!, 2];
  else return undefined;
  const pairs = query ? [...new URLSearchParams(query)] : [];
  return { raw, context: context as ClinicalScope['context'], type: type!, letters, version, query: pairs };
}

export function clinicalScopes(scopes: string[]): ClinicalScope[] {
  return scopes.map(parseClinicalScope).filter((s): s is ClinicalScope => s !== undefined);
}

/** Whether the scopes allow reading (r) or searching (s) a type, for a context list. */
export function allows(scopes: string[], type: string, letter: 'r' | 's', contexts: ClinicalScope['context'][] = ['patient']): boolean {
  return clinicalScopes(scopes).some((s) => contexts.includes(s.context) && (s.type === '*' || s.type === type) && s.letters.includes(letter) && s.query.length === 0);
}

/** Granted read access to a type, as g10's limited-scope check counts it (prefix `patient/T` or `patient/*`, any read form). */
export function grantsType(scopes: string[], type: string, contexts: ClinicalScope['context'][] = ['patient']): boolean {
  return clinicalScopes(scopes).some((s) => contexts.includes(s.context) && (s.type === '*' || s.type === type) && (s.letters.includes('r') || s.letters.includes('s')));
}

export function isGranular(s: ClinicalScope): boolean {
  return s.query.length > 0;
}

/** The scope with the context prefix removed and access letters normalised, for comparisons. */
export function scopeKey(s: ClinicalScope): string {
  return `${s.type}?${s.query.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

/** Whether a resource matches a granular scope's query (token `system|code` on category/code). */
export function resourceMatchesScope(resource: Record<string, unknown>, scope: ClinicalScope): boolean {
  if (resource['resourceType'] !== scope.type && scope.type !== '*') return false;
  return scope.query.every(([name, value]) => {
    const codings = tokenCodings(resource, name);
    const [system, code] = value.includes('|') ? (value.split('|', 2) as [string, string]) : [undefined, value];
    return codings.some((c) => c.code === code && (system === undefined || system === '' || c.system === system));
  });
}

/** The codings under a search parameter's element (category, code, status, type). */
export function tokenCodings(resource: Record<string, unknown>, param: string): { system?: string; code?: string }[] {
  const element = resource[param === 'type' ? 'type' : param];
  const values = element === undefined ? [] : Array.isArray(element) ? element : [element];
  const out: { system?: string; code?: string }[] = [];
  for (const v of values) {
    if (typeof v === 'string') out.push({ code: v });
    else if (v && typeof v === 'object') {
      const cc = v as { coding?: { system?: string; code?: string }[] };
      for (const c of cc.coding ?? []) out.push(c);
    }
  }
  return out;
}

/** The 26 resource scopes of g10's SMART v2 standalone request (scope_constants.rb). */
export const G10_TYPES = [
  'Medication', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Coverage', 'Device', 'DiagnosticReport', 'DocumentReference',
  'Encounter', 'Goal', 'Immunization', 'Location', 'MedicationDispense', 'MedicationRequest', 'Observation', 'Organization', 'Patient',
  'Practitioner', 'PractitionerRole', 'Procedure', 'Provenance', 'QuestionnaireResponse', 'RelatedPerson', 'ServiceRequest', 'Specimen',
] as const;

/** The v1 list of g10's "App Launch with SMART v1 scopes". */
export const G10_V1_TYPES = [
  'Medication', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter',
  'Goal', 'Immunization', 'Location', 'MedicationRequest', 'Observation', 'Organization', 'Patient', 'Practitioner', 'Procedure',
  'Provenance', 'PractitionerRole', 'Specimen', 'Coverage', 'MedicationDispense', 'ServiceRequest',
] as const;

/** Patient-compartment types every US Core 6 patient launch must grant unless `patient/*` is granted. */
export const US_CORE_6_COMPARTMENT_TYPES = [
  'Patient', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'DiagnosticReport', 'DocumentReference', 'Goal', 'Immunization',
  'MedicationRequest', 'Observation', 'Procedure', 'Provenance', 'ServiceRequest', 'Coverage', 'MedicationDispense', 'Specimen',
] as const;

/** Types whose `user/` scopes g10 also accepts in a patient launch (non-compartment types). */
export const NON_COMPARTMENT_TYPES = ['Device', 'Location', 'Medication', 'Organization', 'Practitioner', 'PractitionerRole', 'RelatedPerson', 'ServiceRequest'] as const;

/** Types the unrestricted-access check requires for US Core 6. */
export const UNRESTRICTED_TYPES_6 = [
  'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal',
  'Immunization', 'MedicationRequest', 'Observation', 'Organization', 'Procedure', 'Patient', 'Practitioner', 'Provenance', 'ServiceRequest',
  'Coverage', 'MedicationDispense',
] as const;

/** Types of g10's limited-scope check (US Core 6). */
export const LIMITED_SCOPE_TYPES_6 = [
  'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Device', 'DiagnosticReport', 'DocumentReference', 'Goal', 'Immunization',
  'MedicationRequest', 'Observation', 'Procedure', 'Patient', 'Encounter', 'ServiceRequest', 'Specimen', 'Coverage', 'MedicationDispense',
] as const;

export const GRANULAR_GROUP_1 = [
  'patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis',
  'patient/Condition.rs?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern',
  'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
  'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|social-history',
];

export const GRANULAR_GROUP_2 = [
  'patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item',
  'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs',
  'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|survey',
  'patient/Observation.rs?category=http://hl7.org/fhir/us/core/CodeSystem/us-core-category|sdoh',
];
