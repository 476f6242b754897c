/** Code systems as US Core 6.1 uses them, and tiny builders for codings, concepts and quantities. */
import type { CodeableConcept, Coding, Meta, Quantity, Reference } from '@medplum/fhirtypes';

export const SYSTEM = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  cvx: 'http://hl7.org/fhir/sid/cvx',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  ucum: 'http://unitsofmeasure.org',
  npi: 'http://hl7.org/fhir/sid/us-npi',
  cpt: 'http://www.ama-assn.org/go/cpt',
  nucc: 'http://nucc.org/provider-taxonomy',
  cdcRace: 'urn:oid:2.16.840.1.113883.6.238',
  bcp47: 'urn:ietf:bcp:47',
  clia: 'urn:oid:2.16.840.1.113883.4.7',
  naic: 'urn:oid:2.16.840.1.113883.6.300',
  sopt: 'urn:oid:2.16.840.1.113883.3.221.5',
  ietfUri: 'urn:ietf:rfc:3986',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  interpretation: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  dataAbsentReason: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
  conditionCategory: 'http://terminology.hl7.org/CodeSystem/condition-category',
  usCoreConditionCategory: 'http://hl7.org/fhir/us/core/CodeSystem/condition-category',
  usCoreCategory: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category',
  conditionClinical: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  conditionVerification: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  allergyClinical: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
  allergyVerification: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
  v2_0074: 'http://terminology.hl7.org/CodeSystem/v2-0074',
  v2_0203: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  v2_0276: 'http://terminology.hl7.org/CodeSystem/v2-0276',
  v2_0487: 'http://terminology.hl7.org/CodeSystem/v2-0487',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  confidentiality: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  roleCode: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  nullFlavor: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor',
  orderableDrugForm: 'http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm',
  dischargeDisposition: 'http://terminology.hl7.org/CodeSystem/discharge-disposition',
  organizationType: 'http://terminology.hl7.org/CodeSystem/organization-type',
  medicationRequestCategory: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category',
  provenanceParticipant: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  usCoreProvenanceParticipant: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type',
  documentCategory: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category',
  carePlanCategory: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
  iheFormatCode: 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode',
  goalAchievement: 'http://terminology.hl7.org/CodeSystem/goal-achievement',
  coverageClass: 'http://terminology.hl7.org/CodeSystem/coverage-class',
  subscriberRelationship: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
  claimType: 'http://terminology.hl7.org/CodeSystem/claim-type',
  adjudication: 'http://terminology.hl7.org/CodeSystem/adjudication',
  payeeType: 'http://terminology.hl7.org/CodeSystem/payeetype',
  exDiagnosisType: 'http://terminology.hl7.org/CodeSystem/ex-diagnosistype',
  appointmentReason: 'http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason',
} as const;

export const US_CORE_EXT = {
  race: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
  ethnicity: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
  birthSex: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
} as const;

/** The organisation's own identifier namespaces (MRN, encounter numbers, accessions). */
export const MRN_SYSTEM = 'http://hospital.example.org/mrn';
export const LOCAL = {
  encounter: 'http://hospital.example.org/encounter',
  accession: 'http://hospital.example.org/accession',
  order: 'http://hospital.example.org/order',
  claim: 'http://hospital.example.org/claim',
  memberId: 'http://hospital.example.org/member-id',
  appointment: 'http://hospital.example.org/appointment',
  /** Published report documents (text renderings of DiagnosticReports). */
  documents: 'http://hospital.example.org/documents',
} as const;

export function coding(system: string, code: string, display?: string): Coding {
  return display === undefined ? { system, code } : { system, code, display };
}

export function concept(system: string, code: string, display: string, text?: string): CodeableConcept {
  return { coding: [{ system, code, display }], text: text ?? display };
}

/** A concept coded in SNOMED CT and (when known) ICD-10-CM, as US Core conditions usually are. */
export function dualConcept(snomed: readonly [string, string], icd10?: readonly [string, string], text?: string): CodeableConcept {
  const codings: Coding[] = [{ system: SYSTEM.snomed, code: snomed[0], display: snomed[1] }];
  if (icd10) codings.push({ system: SYSTEM.icd10cm, code: icd10[0], display: icd10[1] });
  return { coding: codings, text: text ?? snomed[1].replace(/ \((disorder|finding|situation|procedure)\)$/, '') };
}

export function loinc(code: string, display: string, text?: string): CodeableConcept {
  return concept(SYSTEM.loinc, code, display, text);
}

/** UCUM quantity; `unit` is the human unit, `code` the UCUM code. */
export function ucum(value: number, code: string, unit: string = code): Quantity {
  return { value, unit, system: SYSTEM.ucum, code };
}

/**
 * A reference usable in any typed reference field: fhirtypes' Reference<T> is covariant in T, and
 * this generator builds references by type name rather than from resource objects.
 */
export type Ref = Reference<never>;

export function ref(resourceType: string, id: string, display?: string): Ref {
  return display === undefined ? { reference: `${resourceType}/${id}` } : { reference: `${resourceType}/${id}`, display };
}

/** Sensitivity labels (v3-ActCode) a proxy/consent engine filters on, always with Restricted. */
export type Sensitivity = 'PSY' | 'HIV' | 'ETH' | 'SDV' | 'SEX';
const SENSITIVITY_DISPLAY: Record<Sensitivity, string> = {
  PSY: 'psychiatry information sensitivity',
  HIV: 'HIV/AIDS information sensitivity',
  ETH: 'substance abuse information sensitivity',
  SDV: 'sexual assault, abuse, or domestic violence information sensitivity',
  SEX: 'sexuality and reproductive health information sensitivity',
};

export function securityMeta(labels: readonly Sensitivity[]): Meta {
  return {
    security: [
      ...labels.map((code) => ({ system: SYSTEM.actCode, code, display: SENSITIVITY_DISPLAY[code] })),
      { system: SYSTEM.confidentiality, code: 'R', display: 'restricted' },
    ],
  };
}

export function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
