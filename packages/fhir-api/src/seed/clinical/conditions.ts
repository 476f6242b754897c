/** Condition in the three US Core categories: problem-list-item, encounter-diagnosis, health-concern. */
import type { CodeableConcept, Condition } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import type { Clinician } from '../shared.js';
import { practitionerRef } from '../shared.js';
import { SYSTEM, concept, dualConcept, securityMeta, type Sensitivity, type Ref } from '../terminology.js';
import { DAY_MS, date, dateTime } from '../time.js';
import type { AcuteDiagnosis, ChronicCondition, HealthConcern } from './condition-catalog.js';
import { FOOD_INSECURITY } from './condition-catalog.js';

const category = (code: 'problem-list-item' | 'encounter-diagnosis', display: string): CodeableConcept =>
  concept(SYSTEM.conditionCategory, code, display);
const HEALTH_CONCERN = concept(SYSTEM.usCoreConditionCategory, 'health-concern', 'Health Concern');
const SDOH = concept(SYSTEM.usCoreCategory, 'sdoh', 'SDOH');
const clinical = (code: 'active' | 'resolved' | 'inactive' | 'remission') => concept(SYSTEM.conditionClinical, code, code[0]!.toUpperCase() + code.slice(1));
const verification = (code: 'confirmed' | 'provisional') => concept(SYSTEM.conditionVerification, code, code[0]!.toUpperCase() + code.slice(1));

function base(ctx: RecordContext, sensitivity?: Sensitivity): Pick<Condition, 'resourceType' | 'id' | 'meta' | 'subject'> {
  return {
    resourceType: 'Condition',
    id: ctx.id('cond'),
    ...(sensitivity ? { meta: securityMeta([sensitivity]) } : {}),
    subject: ctx.patientRef,
  };
}

/** A long-term problem: active (some in remission), onset as a date, recorded at diagnosis. */
export function chronicCondition(ctx: RecordContext, def: ChronicCondition, onset: number, recorder: Clinician): Condition {
  const remission = def.key === 'depression' && ctx.rnd.chance(0.2);
  return {
    ...base(ctx, def.sensitivity),
    clinicalStatus: clinical(remission ? 'remission' : 'active'),
    verificationStatus: verification('confirmed'),
    category: [category('problem-list-item', 'Problem List Item')],
    code: dualConcept(def.snomed, def.icd10),
    onsetDateTime: date(onset),
    recordedDate: dateTime(onset + ctx.rnd.int(0, 20) * DAY_MS),
    recorder: practitionerRef(recorder),
    asserter: practitionerRef(recorder),
  };
}

/** The diagnosis made at a visit: resolved a week or two later unless the visit was very recent. */
export function encounterDiagnosis(ctx: RecordContext, dx: AcuteDiagnosis, encounter: Ref, at: number, clinician: Clinician): Condition {
  const resolvedAt = at + ctx.rnd.int(7, 21) * DAY_MS;
  const resolved = resolvedAt < ctx.now;
  return {
    ...base(ctx),
    clinicalStatus: clinical(resolved ? 'resolved' : 'active'),
    verificationStatus: verification(ctx.rnd.chance(0.9) ? 'confirmed' : 'provisional'),
    category: [category('encounter-diagnosis', 'Encounter Diagnosis')],
    code: dualConcept(dx.snomed, dx.icd10),
    encounter,
    onsetDateTime: dateTime(at - ctx.rnd.int(1, 5) * DAY_MS),
    ...(resolved ? { abatementDateTime: dateTime(resolvedAt) } : {}),
    recordedDate: dateTime(at),
    recorder: practitionerRef(clinician),
  };
}

/** A chronic problem addressed at a visit, recorded again as that visit's diagnosis (billing, notes). */
export function followUpDiagnosis(ctx: RecordContext, def: ChronicCondition, encounter: Ref, at: number, clinician: Clinician): Condition {
  return {
    ...base(ctx, def.sensitivity),
    clinicalStatus: clinical('active'),
    verificationStatus: verification('confirmed'),
    category: [category('encounter-diagnosis', 'Encounter Diagnosis')],
    code: dualConcept(def.snomed, def.icd10),
    encounter,
    recordedDate: dateTime(at),
    recorder: practitionerRef(clinician),
  };
}

export function healthConcern(ctx: RecordContext, hc: HealthConcern, at: number, recorder: Clinician): Condition {
  return {
    ...base(ctx, hc.sensitivity),
    clinicalStatus: clinical('active'),
    verificationStatus: verification('confirmed'),
    category: hc.sdoh ? [HEALTH_CONCERN, SDOH] : [HEALTH_CONCERN],
    code: dualConcept(hc.snomed, hc.icd10),
    onsetDateTime: date(at),
    recordedDate: dateTime(at),
    recorder: practitionerRef(recorder),
  };
}

/** Food insecurity found by the Hunger Vital Sign screen; the screen's answers are its evidence. */
export function foodInsecurity(ctx: RecordContext, at: number, evidence: Ref[], recorder: Clinician): Condition {
  return {
    ...base(ctx),
    clinicalStatus: clinical('active'),
    verificationStatus: verification('confirmed'),
    category: [HEALTH_CONCERN, SDOH],
    code: dualConcept(FOOD_INSECURITY.snomed, FOOD_INSECURITY.icd10),
    onsetDateTime: date(at),
    recordedDate: dateTime(at),
    recorder: practitionerRef(recorder),
    evidence: [{ detail: evidence }],
  };
}
