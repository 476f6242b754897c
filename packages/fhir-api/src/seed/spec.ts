/**
 * What a patient record is generated from: demographics plus the few facts the hard cases pin down
 * (who the guardians are, which conditions and sensitive data must be there). Everything else is
 * drawn from the patient's own random stream.
 */
import type { Address } from '@medplum/fhirtypes';
import type { ConditionKey } from './clinical/condition-catalog.js';
import type { VisitKind } from './clinical/visit.js';
import type { ImplantKey } from './clinical/procedure-catalog.js';
import type { EthnicityKey, Gender, LanguageKey, RaceKey } from './demographics.js';

/** A person who acts for the patient; becomes a RelatedPerson in the patient's compartment. */
export interface GuardianSpec {
  id: string;
  given: string;
  family: string;
  gender: Gender;
  birthDate?: string;
  /** v3-RoleCode relationships, e.g. MTH (mother), SON, HPOWATT (healthcare power of attorney). */
  relationship: readonly { code: string; display: string }[];
  phone: string;
  email?: string;
  /** Lives at the patient's address. */
  sameAddress: boolean;
  /** When the person is a patient here too: their MRN, recorded as the RelatedPerson's identifier. */
  mrn?: string;
  /** The patient is a dependant on this person's health plan. */
  subscriber?: boolean;
}

export interface PatientSpec {
  id: string;
  /** Goes into every id of the record: obs-<tag>-0001. */
  tag: string;
  /** Key of the patient's random stream. */
  streamKey: string;
  mrn: string;
  given: string[];
  family: string;
  gender: Gender;
  birthDate: string;
  race: RaceKey;
  ethnicity: EthnicityKey;
  language: LanguageKey;
  address: Address;
  phone: string;
  email?: string;
  /** Only the Patient resource: a registered patient with no clinical data yet. */
  empty?: boolean;
  guardians: GuardianSpec[];
  /** Conditions the record must have; more are drawn by age and sex. */
  conditions?: ConditionKey[];
  /** No conditions beyond `conditions` (keeps a hard case's problem list predictable). */
  onlyListedConditions?: boolean;
  /** Adolescent confidential care: mental health, HIV and STI testing, all security-labelled. */
  adolescentConfidential?: boolean;
  /** Lab results in every status (registered → entered-in-error), for demonstrating result states. */
  showcaseResultStatuses?: boolean;
  /** Implant surgery within the last year (an admission with operative note and discharge summary). */
  implants?: ImplantKey[];
  /** Visits that must be in the record: kind, how long ago, and the acute diagnosis or condition. */
  extraVisits?: { kind: VisitKind; daysAgo: number; acute?: string; focus?: ConditionKey }[];
  /** A statin started years ago was stopped and replaced (a MedicationRequest with status stopped). */
  statinSwitch?: boolean;
  /** Offered a flu shot at the latest office visit and declined it (a not-done Immunization with its reason). */
  declinesFluVaccine?: boolean;
  /** Appointments booked for the coming weeks (otherwise 0–2). */
  upcomingAppointments?: number;
  /** History from birth (well-child visits with growth charts) rather than the last few years. */
  fullHistory?: boolean;
  /** Primary care practitioner id (the demo clinician's own patients); otherwise drawn. */
  pcpId?: string;
  /** Resource count to aim for; otherwise drawn from the dataset options. */
  resourceTarget?: number;
}
