/** Typed refusals of the hold stores, each with a stable code, the rule it enforces and an HTTP status for the admin API. */
import { RuleError } from '../rule-error.js';

export type HoldErrorCode =
  | 'hold-scope-required'
  | 'unknown-field'
  | 'practitioner-required'
  | 'license-attestation-required'
  | 'relationship-basis-required'
  | 'harm-type-invalid'
  | 'reason-required'
  | 'end-required'
  | 'invalid-window'
  | 'reviewer-conflict'
  | 'review-not-requested'
  | 'review-already-decided'
  | 'hold-not-active'
  | 'not-found'
  | 'requester-not-authorized'
  | 'patient-request-required'
  | 'delay-scope-invalid'
  | 'delay-condition-invalid'
  | 'delay-maximum-required'
  | 'jurisdiction-required'
  | 'code-set-required'
  | 'citation-required'
  | 'rule-duration-required'
  | 'rule-expiry-required'
  | 'rule-expired'
  | 'rule-already-enabled'
  | 'rule-not-enabled'
  | 'invalid-input';

export type HoldRuleId = 'REL-2' | 'REL-3' | 'REL-4' | 'REL-5' | 'REL-6' | 'PRX-5';

const CONFLICTS: readonly HoldErrorCode[] = ['reviewer-conflict', 'review-not-requested', 'review-already-decided', 'hold-not-active', 'rule-expired', 'rule-already-enabled', 'rule-not-enabled'];

/** 400 for a malformed or unlawful request, 404 for a missing hold, 409 for a state conflict. */
export class HoldValidationError extends RuleError<HoldErrorCode, HoldRuleId> {
  constructor(code: HoldErrorCode, rule: HoldRuleId, message: string) {
    super(code, rule, message, CONFLICTS);
  }
}

// Same shapes the resource store accepts (FHIR id: up to 64 of [A-Za-z0-9-.]).
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const PRACTITIONER = /^Practitioner\/[A-Za-z0-9\-.]{1,64}$/;

export interface ResourceKey {
  readonly resourceType: string;
  readonly resourceId: string;
}

export function isFhirId(v: unknown): v is string {
  return typeof v === 'string' && FHIR_ID.test(v);
}

export function isPractitioner(v: unknown): v is string {
  return typeof v === 'string' && PRACTITIONER.test(v);
}

/** A staff or system identity as the access log records it (AUD-1): 1-256 printable characters, no spaces. */
export function isStaffId(v: unknown): v is string {
  return typeof v === 'string' && /^[\x21-\x7e]{1,256}$/.test(v);
}

export function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

export function isInstant(v: unknown): v is Date {
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/** Keys that would widen a hold beyond one patient's named resources (REL-2: no holds by category, code, department or age). */
const BROADENING_KEYS = new Set(['scope', 'category', 'categories', 'code', 'codes', 'testCode', 'department', 'ageBand', 'allPatients', 'query']);

/** Refuses fields a caller (often the admin API's parsed JSON) may add that the hold does not have. */
export function rejectUnknownFields(input: object, allowed: readonly string[], rule: HoldRuleId): void {
  for (const key of Object.keys(input)) {
    if (allowed.includes(key)) continue;
    if (BROADENING_KEYS.has(key)) throw new HoldValidationError('hold-scope-required', rule, `holds must name a patient and resources; "${key}" is not a hold scope`);
    throw new HoldValidationError('unknown-field', rule, `unknown field "${key}"`);
  }
}

/** A patient and a non-empty list of named resources, deduplicated (REL-2, REL-4). */
export function checkPatientAndResources(patientId: unknown, resources: unknown, rule: HoldRuleId): ResourceKey[] {
  if (!isFhirId(patientId)) throw new HoldValidationError('hold-scope-required', rule, 'holds must name a patient and resources');
  if (!Array.isArray(resources) || resources.length === 0) throw new HoldValidationError('hold-scope-required', rule, 'holds must name a patient and resources');
  const seen = new Map<string, ResourceKey>();
  for (const r of resources as unknown[]) {
    const ok =
      typeof r === 'object' &&
      r !== null &&
      Object.keys(r).every((k) => k === 'resourceType' || k === 'resourceId') &&
      typeof (r as ResourceKey).resourceType === 'string' &&
      RESOURCE_TYPE.test((r as ResourceKey).resourceType) &&
      isFhirId((r as ResourceKey).resourceId);
    if (!ok) throw new HoldValidationError('hold-scope-required', rule, `holds must name a patient and resources; ${JSON.stringify(r)} is not a resource type and id`);
    const key = r as ResourceKey;
    seen.set(`${key.resourceType}/${key.resourceId}`, { resourceType: key.resourceType, resourceId: key.resourceId });
  }
  return [...seen.values()];
}

export function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(v as string);
}

export function toDateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : toDate(v);
}

export const HOUR_MS = 3_600_000;

/** The review columns a determination with REL-3's review path carries (harm holds, proxy suspensions). */
export interface ReviewedRow {
  decided_by: string;
  review_requested_at: Date | string | null;
  review_outcome: 'upheld' | 'lifted' | null;
}

/** A review may be asked for once, while the determination is in force (REL-3). Returns false when already asked (idempotent). */
export function checkReviewRequest(row: ReviewedRow, inForce: boolean, what: string): boolean {
  if (row.review_outcome !== null) throw new HoldValidationError('review-already-decided', 'REL-3', 'this determination has already been reviewed');
  if (!inForce) throw new HoldValidationError('hold-not-active', 'REL-3', `the ${what} is no longer in force`);
  return row.review_requested_at === null;
}

/** REL-3: the review is decided once, after it was asked for, by a clinician who did not make the determination. */
export function checkReviewDecision(row: ReviewedRow, reviewerId: string, outcome: unknown, inForce: boolean, what: string): void {
  if (!isPractitioner(reviewerId)) throw new HoldValidationError('practitioner-required', 'REL-3', 'the reviewer must be a practitioner (Practitioner/<id>)');
  if (outcome !== 'upheld' && outcome !== 'lifted') throw new HoldValidationError('invalid-input', 'REL-3', 'outcome must be upheld or lifted');
  if (row.decided_by === reviewerId) throw new HoldValidationError('reviewer-conflict', 'REL-3', 'the reviewer must not be the clinician who made the determination');
  if (row.review_outcome !== null) throw new HoldValidationError('review-already-decided', 'REL-3', 'this determination has already been reviewed');
  if (row.review_requested_at === null) throw new HoldValidationError('review-not-requested', 'REL-3', `no review has been requested for this ${what}`);
  if (!inForce) throw new HoldValidationError('hold-not-active', 'REL-3', `the ${what} is no longer in force`);
}
