/**
 * The patient's own request to delay release of their results (REL-5): a scope (one category,
 * e.g. pathology, or one order), a condition (a fixed delay, or until a clinician releases it)
 * and a hard maximum. Only the patient or their active proxy may set or cancel it, or staff
 * recording the patient's documented request; cancelling releases everything held at once.
 * A preference applies to results that reach the record after it is set (see
 * conditional-holds.ts), never re-hiding a result already shown.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Coding } from '../policy/labels.js';
import { auditPolicyChange } from '../audit/policy-audit.js';
import { HOUR_MS, HoldValidationError, isFhirId, isInstant, isStaffId, nonEmpty, rejectUnknownFields, toDate, toDateOrNull } from './errors.js';
import { releaseItemsOfSource } from './hold-items.js';

export type DelayRequester =
  | { readonly kind: 'patient'; readonly accountId: string }
  | { readonly kind: 'proxy'; readonly accountId: string; readonly delegationId: string }
  /** Staff acting on the patient's documented request (a message, a signed form): its reference is required. */
  | { readonly kind: 'staff'; readonly staffId: string; readonly patientRequestRef?: string };

export type DelayScope = { readonly kind: 'category'; readonly category: Coding } | { readonly kind: 'order'; readonly orderId: string };
export type DelayCondition = { readonly kind: 'after_duration'; readonly hours: number } | { readonly kind: 'until_clinician_release' };

/** Product limit, not a regulatory number: long enough for "until my appointment", short enough that nothing is forgotten. */
export const PATIENT_DELAY_MAX_HOURS = 90 * 24;

export interface NewPatientDelay {
  patientId: string;
  requestedBy: DelayRequester;
  scope: DelayScope;
  condition: DelayCondition;
  /** Hard maximum: every held result is released by then whatever the condition (REL-5). */
  maxHours: number;
  at: Date;
}

export interface PatientDelay {
  id: string;
  patientId: string;
  requestedBy: { kind: 'patient' | 'proxy' | 'staff'; id: string; delegationId: string | null; patientRequestRef: string | null };
  scope: DelayScope;
  condition: DelayCondition;
  maxHours: number;
  status: 'active' | 'cancelled';
  createdAt: Date;
  cancelledAt: Date | null;
  cancelledBy: string | null;
}

const WILDCARDS = new Set(['*', 'all', 'any']);

export function validatePatientDelay(input: NewPatientDelay): void {
  if (typeof input !== 'object' || input === null) throw new HoldValidationError('invalid-input', 'REL-5', 'expected a delay preference');
  rejectUnknownFields(input, ['patientId', 'requestedBy', 'scope', 'condition', 'maxHours', 'at'], 'REL-5');
  if (!isFhirId(input.patientId)) throw new HoldValidationError('hold-scope-required', 'REL-5', 'a delay preference belongs to one patient');
  if (!isInstant(input.at)) throw new HoldValidationError('invalid-input', 'REL-5', 'at must be a valid instant');
  const s = input.scope as DelayScope | undefined;
  const scopeOk =
    (s?.kind === 'category' && nonEmpty(s.category?.code) && !WILDCARDS.has(s.category.code.toLowerCase()) && (s.category.system === undefined || nonEmpty(s.category.system))) ||
    (s?.kind === 'order' && typeof s.orderId === 'string' && isFhirId(s.orderId.replace(/^ServiceRequest\//, '')));
  if (!scopeOk) throw new HoldValidationError('delay-scope-invalid', 'REL-5', 'the scope must be one result category or one order'); // REL-5: a scope, as agreed
  if (!Number.isInteger(input.maxHours) || input.maxHours <= 0 || input.maxHours > PATIENT_DELAY_MAX_HOURS)
    throw new HoldValidationError('delay-maximum-required', 'REL-5', `a delay needs a maximum of 1 to ${PATIENT_DELAY_MAX_HOURS} hours`); // REL-5: hard maximum
  const c = input.condition as DelayCondition | undefined;
  if (c?.kind === 'after_duration') {
    if (!Number.isInteger(c.hours) || c.hours <= 0 || c.hours > input.maxHours)
      throw new HoldValidationError('delay-condition-invalid', 'REL-5', 'the delay must be a whole number of hours, no longer than the maximum');
  } else if (c?.kind !== 'until_clinician_release') {
    throw new HoldValidationError('delay-condition-invalid', 'REL-5', 'the condition must be after_duration or until_clinician_release');
  }
}

/** Only the patient, their active proxy, or staff with the patient's documented request (REL-5). */
async function authorize(db: Knex, patientId: string, r: DelayRequester, at: Date): Promise<{ kind: DelayRequester['kind']; id: string; delegationId: string | null; ref: string | null }> {
  const refuse = () => new HoldValidationError('requester-not-authorized', 'REL-5', 'only the patient or their proxy may set or cancel a delay of their results');
  if (typeof r !== 'object' || r === null) throw refuse();
  switch (r.kind) {
    case 'patient': {
      const acct = await db('account').where({ id: r.accountId, patient_id: patientId, status: 'active' }).first();
      if (!acct) throw refuse();
      return { kind: 'patient', id: r.accountId, delegationId: null, ref: null };
    }
    case 'proxy': {
      const d = await db('proxy_delegation')
        .where({ patient_id: patientId, id: r.delegationId, proxy_account_id: r.accountId, status: 'active' })
        .andWhere('starts_at', '<=', at)
        .andWhere((q) => q.whereNull('ends_at').orWhere('ends_at', '>', at))
        .first();
      if (!d) throw refuse();
      return { kind: 'proxy', id: r.accountId, delegationId: r.delegationId, ref: null };
    }
    case 'staff':
      if (!isStaffId(r.staffId)) throw refuse(); // AUD-1: the access log names them
      if (!nonEmpty(r.patientRequestRef))
        throw new HoldValidationError('patient-request-required', 'REL-5', "staff may record a delay only with a reference to the patient's own request"); // REL-5
      return { kind: 'staff', id: r.staffId, delegationId: null, ref: r.patientRequestRef };
    default:
      throw refuse();
  }
}

interface Row {
  patient_id: string;
  id: string;
  requested_by_kind: 'patient' | 'proxy' | 'staff';
  requested_by: string;
  delegation_id: string | null;
  patient_request_ref: string | null;
  scope_kind: 'category' | 'order';
  scope_system: string | null;
  scope_code: string | null;
  scope_order_id: string | null;
  condition: 'after_duration' | 'until_clinician_release';
  delay_hours: number | null;
  max_hours: number;
  status: 'active' | 'cancelled';
  created_at: Date | string;
  cancelled_at: Date | string | null;
  cancelled_by: string | null;
}

export function patientDelayFromRow(row: Row): PatientDelay {
  return {
    id: row.id,
    patientId: row.patient_id,
    requestedBy: { kind: row.requested_by_kind, id: row.requested_by, delegationId: row.delegation_id, patientRequestRef: row.patient_request_ref },
    scope:
      row.scope_kind === 'order'
        ? { kind: 'order', orderId: row.scope_order_id! }
        : { kind: 'category', category: row.scope_system === null ? { code: row.scope_code! } : { system: row.scope_system, code: row.scope_code! } },
    condition: row.condition === 'after_duration' ? { kind: 'after_duration', hours: Number(row.delay_hours) } : { kind: 'until_clinician_release' },
    maxHours: Number(row.max_hours),
    status: row.status,
    createdAt: toDate(row.created_at),
    cancelledAt: toDateOrNull(row.cancelled_at),
    cancelledBy: row.cancelled_by,
  };
}

export async function createPatientDelay(db: Knex, input: NewPatientDelay): Promise<PatientDelay> {
  validatePatientDelay(input);
  const who = await authorize(db, input.patientId, input.requestedBy, input.at);
  const id = randomUUID();
  const scope = input.scope;
  await db.transaction(async (trx) => {
   await trx('patient_delay_preference').insert({
    patient_id: input.patientId,
    id,
    requested_by_kind: who.kind,
    requested_by: who.id,
    delegation_id: who.delegationId,
    patient_request_ref: who.ref,
    scope_kind: scope.kind,
    scope_system: scope.kind === 'category' ? (scope.category.system ?? null) : null,
    scope_code: scope.kind === 'category' ? scope.category.code : null,
    scope_order_id: scope.kind === 'order' ? scope.orderId.replace(/^ServiceRequest\//, '') : null,
    condition: input.condition.kind,
    delay_hours: input.condition.kind === 'after_duration' ? input.condition.hours : null,
    max_hours: input.maxHours,
    status: 'active',
    created_at: input.at,
   });
   await auditPolicyChange(trx, {
      patientId: input.patientId,
      action: 'hold.place',
      actor: { kind: who.kind, id: who.id },
      at: input.at,
      exception: 'patient_requested_delay',
      ...(who.delegationId ? { delegationId: who.delegationId } : {}),
      detail: { preferenceId: id, kind: 'patient-delay', scope: scope.kind, condition: input.condition.kind, max_hours: input.maxHours },
    });
  });
  return (await getPatientDelay(db, input.patientId, id))!;
}

export async function getPatientDelay(db: Knex, patientId: string, id: string): Promise<PatientDelay | undefined> {
  const row = (await db<Row>('patient_delay_preference').where({ patient_id: patientId, id }).first()) as Row | undefined;
  return row ? patientDelayFromRow(row) : undefined;
}

export async function listPatientDelays(db: Knex, patientId: string): Promise<PatientDelay[]> {
  const rows = (await db<Row>('patient_delay_preference').where({ patient_id: patientId }).orderBy('created_at')) as Row[];
  return rows.map(patientDelayFromRow);
}

/** Cancels the preference and releases everything it holds at `at` (REL-5: "then everything held releases at once"). */
export async function cancelPatientDelay(db: Knex, input: { patientId: string; preferenceId: string; cancelledBy: DelayRequester; at: Date }): Promise<PatientDelay> {
  if (!isInstant(input.at)) throw new HoldValidationError('invalid-input', 'REL-5', 'at must be a valid instant');
  const who = await authorize(db, input.patientId, input.cancelledBy, input.at);
  await db.transaction(async (trx) => {
    const row = (await trx<Row>('patient_delay_preference').where({ patient_id: input.patientId, id: input.preferenceId }).forUpdate().first()) as Row | undefined;
    if (!row) throw new HoldValidationError('not-found', 'REL-5', `no delay preference ${input.preferenceId} for this patient`);
    if (row.status !== 'active') throw new HoldValidationError('hold-not-active', 'REL-5', 'the preference was already cancelled');
    await trx('patient_delay_preference').where({ patient_id: input.patientId, id: input.preferenceId }).update({ status: 'cancelled', cancelled_at: input.at, cancelled_by: who.id });
    const released = await releaseItemsOfSource(trx, input.patientId, 'patient-delay', input.preferenceId, input.at, who.id, 'cancelled-by-patient'); // REL-5
    await auditPolicyChange(trx, {
      patientId: input.patientId,
      action: 'hold.lift',
      actor: { kind: who.kind, id: who.id },
      at: input.at,
      exception: 'patient_requested_delay',
      ...(who.delegationId ? { delegationId: who.delegationId } : {}),
      detail: { preferenceId: input.preferenceId, kind: 'patient-delay', released },
    });
  });
  return (await getPatientDelay(db, input.patientId, input.preferenceId))!;
}

/** When a held result is released under a preference that arrived at `heldFrom`. */
export function patientDelayReleaseAt(p: Pick<PatientDelay, 'condition' | 'maxHours'>, heldFrom: Date): Date {
  const hours = p.condition.kind === 'after_duration' ? Math.min(p.condition.hours, p.maxHours) : p.maxHours;
  return new Date(heldFrom.getTime() + hours * HOUR_MS);
}
