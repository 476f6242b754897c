/**
 * Patient restrictions (IB-1): the patient's own, documented request that a category of their
 * record not be shared with one named proxy or one named app (45 CFR 171.202(e); HIPAA 164.522).
 * Stored with who asked, when, and how (the patient in the portal, or staff recording the
 * patient's request, which must reference that request). They never restrict the patient's own
 * access: the access plan keeps only those naming the reader's proxy account or app.
 *
 * Categories come from an allow-list of US Core category codes, so a restriction always names a
 * coding the FHIR API indexes and can filter on in SQL.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { auditPolicyChange } from '../audit/policy-audit.js';
import type { Restriction } from '../policy/access-plan.js';
import type { Coding } from '../policy/labels.js';
import { OBSERVATION_CATEGORY_SYSTEM } from '../policy/release-policy.js';
import { RuleError } from '../rule-error.js';

export const US_CORE_CATEGORY_SYSTEM = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category';
export const CONDITION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/condition-category';
export const US_CORE_CONDITION_CATEGORY_SYSTEM = 'http://hl7.org/fhir/us/core/CodeSystem/condition-category';
export const DIAGNOSTIC_SERVICE_SECTION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0074';
export const LOINC_SYSTEM = 'http://loinc.org';
export const US_CORE_DOCUMENT_CATEGORY_SYSTEM = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category';

export interface RestrictionCategory {
  readonly system: string;
  readonly code: string;
  readonly display: string;
  /** The resource types US Core uses this category on (a restriction may narrow to one of them). */
  readonly resourceTypes: readonly string[];
}

const cat = (system: string, code: string, display: string, resourceTypes: readonly string[]): RestrictionCategory => Object.freeze({ system, code, display, resourceTypes: Object.freeze([...resourceTypes]) });

/** The categories a patient may choose (US Core 6.1 category value sets). */
export const RESTRICTION_CATEGORIES: readonly RestrictionCategory[] = Object.freeze([
  cat(OBSERVATION_CATEGORY_SYSTEM, 'social-history', 'Social History', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'vital-signs', 'Vital Signs', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'laboratory', 'Laboratory', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'imaging', 'Imaging', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'procedure', 'Procedure', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'survey', 'Survey', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'exam', 'Exam', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'therapy', 'Therapy', ['Observation']),
  cat(OBSERVATION_CATEGORY_SYSTEM, 'activity', 'Activity', ['Observation']),
  cat(US_CORE_CATEGORY_SYSTEM, 'sdoh', 'SDOH', ['Observation', 'Condition', 'ServiceRequest', 'Procedure', 'Goal']),
  cat(CONDITION_CATEGORY_SYSTEM, 'problem-list-item', 'Problem List Item', ['Condition']),
  cat(CONDITION_CATEGORY_SYSTEM, 'encounter-diagnosis', 'Encounter Diagnosis', ['Condition']),
  cat(US_CORE_CONDITION_CATEGORY_SYSTEM, 'health-concern', 'Health Concern', ['Condition']),
  cat(DIAGNOSTIC_SERVICE_SECTION_SYSTEM, 'LAB', 'Laboratory', ['DiagnosticReport']),
  cat(LOINC_SYSTEM, 'LP29684-5', 'Radiology', ['DiagnosticReport', 'DocumentReference']),
  cat(LOINC_SYSTEM, 'LP29708-2', 'Cardiology', ['DiagnosticReport', 'DocumentReference']),
  cat(LOINC_SYSTEM, 'LP7839-6', 'Pathology', ['DiagnosticReport', 'DocumentReference']),
  cat(US_CORE_DOCUMENT_CATEGORY_SYSTEM, 'clinical-note', 'Clinical Note', ['DocumentReference']),
]);

/** The allow-listed category with this system and code, if any. */
export function restrictionCategory(system: unknown, code: unknown): RestrictionCategory | undefined {
  return RESTRICTION_CATEGORIES.find((c) => c.system === system && c.code === code);
}

export const RESTRICTION_SOURCES = ['patient', 'staff_on_patient_request'] as const;
export type RestrictionSource = (typeof RESTRICTION_SOURCES)[number];

export type RestrictionRecipient = Restriction['recipient'];

export type RestrictionErrorCode =
  | 'invalid-input'
  | 'unknown-field'
  | 'patient-required'
  | 'recipient-invalid'
  | 'category-not-allowed'
  | 'resource-type-invalid'
  | 'requester-required'
  | 'source-invalid'
  | 'patient-request-required'
  | 'duplicate'
  | 'already-ended'
  | 'not-found';

/** A refused restriction request: 400 malformed or unlawful, 404 unknown, 409 state conflict. */
export class RestrictionValidationError extends RuleError<RestrictionErrorCode, 'IB-1'> {
  constructor(code: RestrictionErrorCode, message: string) {
    super(code, 'IB-1', message, ['duplicate', 'already-ended']);
  }
}

export interface NewRestriction {
  patientId: string;
  recipient: RestrictionRecipient;
  /** Narrow to one resource type; omitted = every type carrying the category. */
  resourceType?: string;
  category: { system: string; code: string };
  /** The account that asked: the patient, or the staff member recording the patient's request. */
  requestedBy: string;
  source: RestrictionSource;
  /** Required when staff record it: the reference of the patient's documented request. */
  patientRequestRef?: string;
  at: Date;
}

export interface PatientRestriction extends Restriction {
  readonly patientId: string;
  readonly category: Required<Coding>;
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly source: RestrictionSource;
  readonly patientRequestRef: string | null;
  readonly status: 'active' | 'ended';
  readonly endedAt: Date | null;
  readonly endedBy: string | null;
}

const FIELDS = ['patientId', 'recipient', 'resourceType', 'category', 'requestedBy', 'source', 'patientRequestRef', 'at'];
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= 256;

/** Checks a restriction request without touching the database; returns it normalized. */
export function validateRestriction(input: NewRestriction): NewRestriction & { category: RestrictionCategory } {
  if (typeof input !== 'object' || input === null) throw new RestrictionValidationError('invalid-input', 'expected a restriction');
  for (const key of Object.keys(input)) if (!FIELDS.includes(key)) throw new RestrictionValidationError('unknown-field', `unknown field "${key}"`);
  if (typeof input.patientId !== 'string' || !FHIR_ID.test(input.patientId)) throw new RestrictionValidationError('patient-required', 'a restriction names the patient whose record it protects');
  const r = input.recipient as unknown as Record<string, unknown> | undefined;
  const recipient: RestrictionRecipient | undefined =
    r && r['kind'] === 'proxy' && nonEmpty(r['proxyAccountId']) && Object.keys(r).length === 2
      ? { kind: 'proxy', proxyAccountId: r['proxyAccountId'] }
      : r && r['kind'] === 'app' && nonEmpty(r['clientId']) && Object.keys(r).length === 2
        ? { kind: 'app', clientId: r['clientId'] }
        : undefined;
  if (!recipient) throw new RestrictionValidationError('recipient-invalid', 'a restriction names one recipient: a proxy (proxyAccountId) or an app (clientId)');
  const category = restrictionCategory(input.category?.system, input.category?.code);
  if (!category) throw new RestrictionValidationError('category-not-allowed', 'category must be one of the listed US Core categories (system and code)');
  if (input.resourceType !== undefined) {
    if (typeof input.resourceType !== 'string' || !RESOURCE_TYPE.test(input.resourceType) || !category.resourceTypes.includes(input.resourceType))
      throw new RestrictionValidationError('resource-type-invalid', `resourceType must be one of ${category.resourceTypes.join(', ')} for category ${category.code}`);
  }
  if (!nonEmpty(input.requestedBy)) throw new RestrictionValidationError('requester-required', 'a restriction records who asked for it');
  if (!(RESTRICTION_SOURCES as readonly string[]).includes(input.source)) throw new RestrictionValidationError('source-invalid', `source must be one of ${RESTRICTION_SOURCES.join(', ')}`);
  // IB-1: staff never restrict on their own initiative; they record the patient's own request.
  if (input.source === 'staff_on_patient_request' && !nonEmpty(input.patientRequestRef))
    throw new RestrictionValidationError('patient-request-required', 'staff may only record a restriction the patient asked for: give the patient request id');
  if (input.patientRequestRef !== undefined && !nonEmpty(input.patientRequestRef)) throw new RestrictionValidationError('invalid-input', 'patientRequestRef must be a non-empty reference');
  if (!(input.at instanceof Date) || Number.isNaN(input.at.getTime())) throw new RestrictionValidationError('invalid-input', 'at must be a valid instant');
  return {
    patientId: input.patientId,
    recipient,
    ...(input.resourceType !== undefined ? { resourceType: input.resourceType } : {}),
    category,
    requestedBy: input.requestedBy.trim(),
    source: input.source,
    ...(input.patientRequestRef !== undefined ? { patientRequestRef: input.patientRequestRef.trim() } : {}),
    at: input.at,
  };
}

export interface RestrictionRow {
  patient_id: string;
  id: string;
  recipient_kind: 'proxy' | 'app';
  proxy_account_id: string | null;
  client_id: string | null;
  resource_type: string | null;
  category_system: string;
  category_code: string;
  requested_by: string;
  requested_at: Date | string;
  source: RestrictionSource;
  patient_request_ref: string | null;
  status: 'active' | 'ended';
  ended_at: Date | string | null;
  ended_by: string | null;
}

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

const recipientOf = (row: Pick<RestrictionRow, 'recipient_kind' | 'proxy_account_id' | 'client_id'>): RestrictionRecipient =>
  row.recipient_kind === 'proxy' ? { kind: 'proxy', proxyAccountId: row.proxy_account_id! } : { kind: 'app', clientId: row.client_id! };

function fromRow(row: RestrictionRow): PatientRestriction {
  const display = restrictionCategory(row.category_system, row.category_code)?.display ?? row.category_code;
  return Object.freeze<PatientRestriction>({
    id: row.id,
    patientId: row.patient_id,
    recipient: recipientOf(row),
    ...(row.resource_type !== null ? { resourceType: row.resource_type } : {}),
    category: { system: row.category_system, code: row.category_code, display },
    requestedBy: row.requested_by,
    requestedAt: toDate(row.requested_at),
    source: row.source,
    patientRequestRef: row.patient_request_ref,
    status: row.status,
    endedAt: row.ended_at === null ? null : toDate(row.ended_at),
    endedBy: row.ended_by,
  });
}

const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === '23505' || /unique/i.test(String((err as Error | null)?.message ?? ''));

/** Records a restriction; it applies to the recipient's very next request. */
export async function createRestriction(db: Knex, input: NewRestriction): Promise<PatientRestriction> {
  const v = validateRestriction(input);
  const row: RestrictionRow = {
    patient_id: v.patientId,
    id: randomUUID(),
    recipient_kind: v.recipient.kind,
    proxy_account_id: v.recipient.kind === 'proxy' ? v.recipient.proxyAccountId : null,
    client_id: v.recipient.kind === 'app' ? v.recipient.clientId : null,
    resource_type: v.resourceType ?? null,
    category_system: v.category.system,
    category_code: v.category.code,
    requested_by: v.requestedBy,
    requested_at: v.at,
    source: v.source,
    patient_request_ref: v.patientRequestRef ?? null,
    status: 'active',
    ended_at: null,
    ended_by: null,
  };
  try {
    await db.transaction(async (trx) => {
      await trx('patient_restriction').insert(row);
      // AUD-1: a change to what the record shares, in the same transaction.
      await auditPolicyChange(trx, {
        patientId: v.patientId,
        action: 'restriction.create',
        actor: { kind: v.source === 'patient' ? 'patient' : 'staff', id: v.requestedBy },
        at: v.at,
        exception: 'privacy_individual_request',
        detail: { restrictionId: row.id, recipient: v.recipient.kind },
      });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new RestrictionValidationError('duplicate', 'the same restriction is already in force');
    throw err;
  }
  return fromRow(row);
}

export async function getRestriction(db: Knex, patientId: string, id: string): Promise<PatientRestriction | undefined> {
  const row = (await db<RestrictionRow>('patient_restriction').where({ patient_id: patientId, id }).first()) as RestrictionRow | undefined;
  return row && fromRow(row);
}

/** Every restriction on a patient's record, active and ended, newest first (the patient's list). */
export async function listRestrictions(db: Knex, patientId: string): Promise<PatientRestriction[]> {
  const rows = (await db<RestrictionRow>('patient_restriction').where({ patient_id: patientId }).orderBy([{ column: 'requested_at', order: 'desc' }, 'id'])) as RestrictionRow[];
  return rows.map(fromRow);
}

/** The columns `restrictionFromRow` reads. */
export const ACTIVE_RESTRICTION_COLUMNS = ['patient_id', 'id', 'recipient_kind', 'proxy_account_id', 'client_id', 'resource_type', 'category_system', 'category_code'] as const;
export type ActiveRestrictionRow = Pick<RestrictionRow, (typeof ACTIVE_RESTRICTION_COLUMNS)[number]>;

/** A restriction row in the shape `accessPlan` takes. */
export function restrictionFromRow(r: ActiveRestrictionRow): Restriction {
  return {
    id: r.id,
    recipient: recipientOf(r),
    ...(r.resource_type !== null ? { resourceType: r.resource_type } : {}),
    category: { system: r.category_system, code: r.category_code },
  };
}

/**
 * The restrictions in force on a patient's record, in the shape `accessPlan` takes: one indexed
 * query (patient_id, status). The FHIR API reads them with its grant check on every request
 * (request-context.ts), so a new or ended restriction applies at once.
 */
export async function activeRestrictions(db: Knex, patientId: string): Promise<Restriction[]> {
  const rows = (await db<RestrictionRow>('patient_restriction')
    .where({ patient_id: patientId, status: 'active' })
    .select(...ACTIVE_RESTRICTION_COLUMNS)) as ActiveRestrictionRow[];
  return rows.map(restrictionFromRow);
}

/** Ends a restriction at once (the patient's request, HIPAA 164.522(a)(2)); the row is kept. */
export async function endRestriction(db: Knex, input: { patientId: string; id: string; endedBy: string; at: Date }): Promise<PatientRestriction> {
  if (!nonEmpty(input.endedBy)) throw new RestrictionValidationError('requester-required', 'ending a restriction records who ended it');
  const n = await db.transaction(async (trx) => {
    const ended = await trx('patient_restriction')
      .where({ patient_id: input.patientId, id: input.id, status: 'active' })
      .update({ status: 'ended', ended_at: input.at, ended_by: input.endedBy.trim() });
    if (ended) {
      await auditPolicyChange(trx, {
        patientId: input.patientId,
        action: 'restriction.end',
        actor: { kind: input.endedBy.startsWith('Practitioner/') ? 'staff' : 'patient', id: input.endedBy.trim() },
        at: input.at,
        exception: 'privacy_individual_request',
        detail: { restrictionId: input.id },
      });
    }
    return ended;
  });
  const current = await getRestriction(db, input.patientId, input.id);
  if (!current) throw new RestrictionValidationError('not-found', `no restriction ${input.id} on this record`);
  if (n === 0) throw new RestrictionValidationError('already-ended', 'this restriction has already ended');
  return current;
}
