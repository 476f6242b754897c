/** One encounter while its content is generated: who, where, when, and what to bill and write up. */
import type { Condition, Encounter } from '@medplum/fhirtypes';
import type { Clinician, LocationKey, OrgKey } from '../shared.js';
import type { Sensitivity, Ref } from '../terminology.js';
import type { AcuteDiagnosis, ConditionKey } from './condition-catalog.js';
import type { ProcedureDef } from './procedure-catalog.js';
import type { ResultStatus } from './labs.js';

export type VisitKind = 'wellness' | 'followUp' | 'acute' | 'emergency' | 'inpatient' | 'virtual' | 'behavioral' | 'procedure' | 'imaging' | 'confidential';

/** What the history plan decided; the visit builder turns it into resources. */
export interface VisitPlan {
  kind: VisitKind;
  at: number;
  acute?: AcuteDiagnosis;
  focus?: ConditionKey;
  procedure?: ProcedureDef;
  /** Include the SDOH screen (always at the most recent well visit). */
  screen?: boolean;
  /** Forces every lab result of the visit into one status (showcase records). */
  resultStatus?: ResultStatus;
}

export interface BillLine {
  cpt: readonly [string, string, number];
  at: number;
  /** Sensitive services are billed on their own statement, carrying these labels. */
  labels?: Sensitivity[];
}

export interface Visit {
  plan: VisitPlan;
  start: number;
  end: number;
  encounter: Encounter;
  ref: Ref;
  clinician: Clinician;
  location: LocationKey;
  org: OrgKey;
  diagnoses: Condition[];
  bill: BillLine[];
  /** Lines of the visit note, collected as the content is generated. */
  findings: string[];
  plans: string[];
  /** Labels for everything the visit produces (a confidential or behavioral-health visit). */
  sensitivity?: Sensitivity;
}
