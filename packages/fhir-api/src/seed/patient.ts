/** Patient (US Core 6.1: race, ethnicity, birth sex, MRN, name, telecom, address, language) and RelatedPerson. */
import type { Extension, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { ETHNICITY, LANGUAGE, RACE } from './demographics.js';
import type { GuardianSpec, PatientSpec } from './spec.js';
import { MRN_SYSTEM, SYSTEM, US_CORE_EXT, concept, ref } from './terminology.js';

export function patientResource(spec: PatientSpec): Patient {
  const race = RACE[spec.race];
  const ethnicity = ETHNICITY[spec.ethnicity];
  // OMB categories go in ombCategory; "asked but unknown" is a NullFlavor in the same slot.
  const ombSlot = (v: { code: string; display: string; nullFlavor?: boolean }): Extension => ({
    url: 'ombCategory',
    valueCoding: { system: v.nullFlavor ? SYSTEM.nullFlavor : SYSTEM.cdcRace, code: v.code, display: v.display },
  });
  return {
    resourceType: 'Patient',
    id: spec.id,
    extension: [
      { url: US_CORE_EXT.race, extension: [ombSlot(race), { url: 'text', valueString: race.display }] },
      { url: US_CORE_EXT.ethnicity, extension: [ombSlot(ethnicity), { url: 'text', valueString: ethnicity.display }] },
      { url: US_CORE_EXT.birthSex, valueCode: spec.gender === 'female' ? 'F' : 'M' },
    ],
    identifier: [{
      use: 'usual',
      type: concept(SYSTEM.v2_0203, 'MR', 'Medical record number'),
      system: MRN_SYSTEM,
      value: spec.mrn,
      assigner: ref('Organization', 'org-1', 'Riverside General Hospital'),
    }],
    active: true,
    name: [{ use: 'official', family: spec.family, given: spec.given, text: `${spec.given.join(' ')} ${spec.family}` }],
    telecom: [
      { system: 'phone', value: spec.phone, use: spec.guardians.length > 0 ? 'home' : 'mobile', rank: 1 },
      ...(spec.email ? [{ system: 'email' as const, value: spec.email, use: 'home' as const }] : []),
    ],
    gender: spec.gender,
    birthDate: spec.birthDate,
    address: [spec.address],
    communication: [{ language: concept(SYSTEM.bcp47, spec.language, LANGUAGE[spec.language]), preferred: true }],
  };
}

export function relatedPersonResource(spec: PatientSpec, g: GuardianSpec): RelatedPerson {
  return {
    resourceType: 'RelatedPerson',
    id: g.id,
    // Identifies the person (not a link to their own record, which lives in another compartment).
    ...(g.mrn ? { identifier: [{ type: concept(SYSTEM.v2_0203, 'MR', 'Medical record number'), system: MRN_SYSTEM, value: g.mrn }] } : {}),
    active: true,
    patient: ref('Patient', spec.id),
    relationship: g.relationship.map((r) => concept(SYSTEM.roleCode, r.code, r.display)),
    name: [{ use: 'official', family: g.family, given: [g.given], text: `${g.given} ${g.family}` }],
    telecom: [{ system: 'phone', value: g.phone, use: 'mobile' }, ...(g.email ? [{ system: 'email' as const, value: g.email }] : [])],
    gender: g.gender,
    ...(g.birthDate ? { birthDate: g.birthDate } : {}),
    ...(g.sameAddress ? { address: [spec.address] } : {}),
  };
}
