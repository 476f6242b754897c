/**
 * Proxy suspensions (PRX-5): a licensed clinician judges that one representative's access to one
 * patient's record is reasonably likely to cause substantial harm (physical, emotional or
 * psychological), or has reason to believe in abuse, neglect or endangerment by that person. The
 * delegation is suspended (never the patient's own access, never another proxy's), which revokes
 * every app grant made under it at once, as ending it would (PRX-6, API-3). A different clinician
 * reviews on request (REL-3's path); lifting reinstates the delegation, but not its app grants: the
 * representative authorizes apps again. Each step is in the hash-chained access log, written in
 * the same transaction (PRX-5 (d): the audit shows the determination and the reviewer).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AccessLogEntry, PolicyAction } from '../audit/access-log-types.js';
import { auditPolicyChange, clinicianActor } from '../audit/policy-audit.js';
import { HoldValidationError, checkReviewDecision, checkReviewRequest, isInstant, isPractitioner, nonEmpty, rejectUnknownFields, toDate, toDateOrNull } from '../holds/errors.js';
import { endDelegation } from './delegation-store.js';

export const SUSPENSION_GROUNDS = ['substantial_harm', 'abuse_neglect_endangerment'] as const;
export type SuspensionGrounds = (typeof SUSPENSION_GROUNDS)[number];

export interface NewDelegationSuspension {
  patientId: string;
  delegationId: string;
  /** `Practitioner/<id>` of the licensed professional making the determination. */
  decidedBy: string;
  licenseAttestation: string;
  relationshipBasis: 'current' | 'prior';
  grounds: SuspensionGrounds;
  /** The documented determination (kept in the table, never in logs). */
  reason: string;
  at: Date;
  /** When the determination must be looked at again: no suspension is left without a date. */
  reviewAt: Date;
}

export interface DelegationSuspension {
  id: string;
  patientId: string;
  delegationId: string;
  proxyAccountId: string;
  grounds: SuspensionGrounds;
  decidedBy: string;
  licenseAttestation: string;
  relationshipBasis: 'current' | 'prior';
  reason: string;
  status: 'active' | 'lifted';
  createdAt: Date;
  reviewAt: Date;
  reviewRequestedAt: Date | null;
  reviewRequestedBy: string | null;
  reviewerId: string | null;
  reviewedAt: Date | null;
  reviewOutcome: 'upheld' | 'lifted' | null;
  reviewNote: string | null;
  liftedAt: Date | null;
  liftedBy: string | null;
  liftReason: string | null;
}

const FIELDS = ['patientId', 'delegationId', 'decidedBy', 'licenseAttestation', 'relationshipBasis', 'grounds', 'reason', 'at', 'reviewAt'];
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DELEGATION_ID = /^[0-9a-f-]{36}$/;

/** Checks a suspension without touching the database. */
export function validateDelegationSuspension(input: NewDelegationSuspension): void {
  if (typeof input !== 'object' || input === null) throw new HoldValidationError('invalid-input', 'PRX-5', 'expected a suspension');
  rejectUnknownFields(input, FIELDS, 'PRX-5');
  if (typeof input.patientId !== 'string' || !FHIR_ID.test(input.patientId)) throw new HoldValidationError('invalid-input', 'PRX-5', 'patientId must name the patient whose record the delegation opens');
  if (typeof input.delegationId !== 'string' || !DELEGATION_ID.test(input.delegationId)) throw new HoldValidationError('invalid-input', 'PRX-5', 'delegationId must name one delegation (one representative)');
  if (!isPractitioner(input.decidedBy)) throw new HoldValidationError('practitioner-required', 'PRX-5', 'a suspension needs the deciding practitioner (Practitioner/<id>)'); // PRX-5: a licensed professional
  if (!nonEmpty(input.licenseAttestation)) throw new HoldValidationError('license-attestation-required', 'PRX-5', "a suspension needs the decider's license attestation");
  if (input.relationshipBasis !== 'current' && input.relationshipBasis !== 'prior')
    throw new HoldValidationError('relationship-basis-required', 'PRX-5', 'a suspension needs a current or prior clinician-patient relationship');
  if (!(SUSPENSION_GROUNDS as readonly string[]).includes(input.grounds))
    throw new HoldValidationError('harm-type-invalid', 'PRX-5', `grounds must be one of ${SUSPENSION_GROUNDS.join(', ')}`); // 164.524(a)(3)(iii), 164.502(g)(5)
  if (!nonEmpty(input.reason)) throw new HoldValidationError('reason-required', 'PRX-5', 'a suspension needs the documented determination');
  if (!isInstant(input.at)) throw new HoldValidationError('invalid-input', 'PRX-5', 'at must be a valid instant');
  if (!isInstant(input.reviewAt)) throw new HoldValidationError('end-required', 'PRX-5', 'a suspension needs a date to review it (reviewAt)');
  if (input.reviewAt.getTime() <= input.at.getTime()) throw new HoldValidationError('invalid-window', 'PRX-5', 'reviewAt must be after the suspension');
}

interface SuspensionRow {
  patient_id: string;
  id: string;
  delegation_id: string;
  proxy_account_id: string;
  grounds: SuspensionGrounds;
  decided_by: string;
  license_attestation: string;
  relationship_basis: 'current' | 'prior';
  reason: string;
  prior_status: 'requested' | 'verified' | 'active';
  status: 'active' | 'lifted';
  created_at: Date | string;
  review_at: Date | string;
  review_requested_at: Date | string | null;
  review_requested_by: string | null;
  reviewer_id: string | null;
  reviewed_at: Date | string | null;
  review_outcome: 'upheld' | 'lifted' | null;
  review_note: string | null;
  lifted_at: Date | string | null;
  lifted_by: string | null;
  lift_reason: string | null;
}

const fromRow = (r: SuspensionRow): DelegationSuspension => ({
  id: r.id,
  patientId: r.patient_id,
  delegationId: r.delegation_id,
  proxyAccountId: r.proxy_account_id,
  grounds: r.grounds,
  decidedBy: r.decided_by,
  licenseAttestation: r.license_attestation,
  relationshipBasis: r.relationship_basis,
  reason: r.reason,
  status: r.status,
  createdAt: toDate(r.created_at),
  reviewAt: toDate(r.review_at),
  reviewRequestedAt: toDateOrNull(r.review_requested_at),
  reviewRequestedBy: r.review_requested_by,
  reviewerId: r.reviewer_id,
  reviewedAt: toDateOrNull(r.reviewed_at),
  reviewOutcome: r.review_outcome,
  reviewNote: r.review_note,
  liftedAt: toDateOrNull(r.lifted_at),
  liftedBy: r.lifted_by,
  liftReason: r.lift_reason,
});

const SELECT = (db: Knex) =>
  db('delegation_suspension as s')
    .join('proxy_delegation as d', function () {
      this.on('d.patient_id', 's.patient_id').andOn('d.id', 's.delegation_id');
    })
    .select('s.*', 'd.proxy_account_id');

function audit(trx: Knex, action: PolicyAction, s: { patientId: string; delegationId: string; id: string }, actor: AccessLogEntry['actor'], at: Date, detail: Record<string, string> = {}) {
  return auditPolicyChange(trx, { patientId: s.patientId, action, actor, at, exception: 'preventing_harm', delegationId: s.delegationId, detail: { suspensionId: s.id, ...detail } });
}
const clinician = clinicianActor;

export async function getDelegationSuspension(db: Knex, patientId: string, id: string): Promise<DelegationSuspension | undefined> {
  const row = (await SELECT(db).where({ 's.patient_id': patientId, 's.id': id }).first()) as SuspensionRow | undefined;
  return row && fromRow(row);
}

/** Every determination on a patient's record, newest first. */
export async function suspensionsForPatient(db: Knex, patientId: string): Promise<DelegationSuspension[]> {
  return ((await SELECT(db).where('s.patient_id', patientId).orderBy('s.created_at', 'desc')) as SuspensionRow[]).map(fromRow);
}

/** Determinations on the delegations a person holds as a proxy, newest first. */
export async function suspensionsOfProxy(db: Knex, proxyAccountId: string): Promise<DelegationSuspension[]> {
  return ((await SELECT(db).where('d.proxy_account_id', proxyAccountId).orderBy('s.created_at', 'desc')) as SuspensionRow[]).map(fromRow);
}

export async function suspendDelegation(db: Knex, input: NewDelegationSuspension): Promise<DelegationSuspension> {
  validateDelegationSuspension(input);
  const id = randomUUID();
  await db.transaction(async (trx) => {
    const delegation = (await trx('proxy_delegation').where({ patient_id: input.patientId, id: input.delegationId }).forUpdate().first()) as { status: string } | undefined;
    if (!delegation) throw new HoldValidationError('not-found', 'PRX-5', 'no such delegation on this record');
    if (delegation.status === 'suspended') throw new HoldValidationError('hold-not-active', 'PRX-5', 'this delegation is already suspended');
    if (!['requested', 'verified', 'active'].includes(delegation.status)) throw new HoldValidationError('hold-not-active', 'PRX-5', `this delegation has ended (${delegation.status})`);
    await trx('delegation_suspension').insert({
      patient_id: input.patientId,
      id,
      delegation_id: input.delegationId,
      grounds: input.grounds,
      decided_by: input.decidedBy,
      license_attestation: input.licenseAttestation.trim(),
      relationship_basis: input.relationshipBasis,
      reason: input.reason.trim(),
      prior_status: delegation.status,
      status: 'active',
      created_at: input.at,
      review_at: input.reviewAt,
    });
    // PRX-5 with PRX-6/API-3: the same cascade as ending it, so every token under it stops at once.
    await endDelegation(trx, input.patientId, input.delegationId, 'suspended', `clinician determination ${id}`, input.at);
    await audit(trx, 'delegation.suspend', { patientId: input.patientId, delegationId: input.delegationId, id }, clinician(input.decidedBy), input.at, { grounds: input.grounds });
  });
  return (await getDelegationSuspension(db, input.patientId, id))!;
}

async function lock(trx: Knex.Transaction, patientId: string, id: string): Promise<SuspensionRow> {
  const row = (await trx('delegation_suspension').where({ patient_id: patientId, id }).forUpdate().first()) as SuspensionRow | undefined;
  if (!row) throw new HoldValidationError('not-found', 'PRX-5', 'no such suspension on this record');
  return row;
}

/** Ends the suspension and gives the delegation back its earlier state, unless it has ended meanwhile (revoked by the patient, or past its end). */
async function reinstate(trx: Knex.Transaction, row: SuspensionRow, liftedBy: string, reason: string, at: Date): Promise<void> {
  await trx('delegation_suspension').where({ patient_id: row.patient_id, id: row.id }).update({ status: 'lifted', lifted_at: at, lifted_by: liftedBy, lift_reason: reason });
  const ended = (q: Knex.QueryBuilder) => q.whereNotNull('ends_at').andWhere('ends_at', '<=', at);
  const key = { patient_id: row.patient_id, id: row.delegation_id, status: 'suspended' };
  await trx('proxy_delegation').where(key).andWhere(ended).update({ status: 'expired', status_reason: 'ended while suspended', updated_at: at });
  const n = await trx('proxy_delegation').where(key).update({ status: row.prior_status, status_reason: `suspension ${row.id} lifted`, updated_at: at });
  await audit(trx, 'delegation.reinstate', { patientId: row.patient_id, delegationId: row.delegation_id, id: row.id }, clinician(liftedBy), at, {
    reason: reason === 'review' ? 'review' : 'lifted',
    delegation: n > 0 ? row.prior_status : 'ended',
  });
}

/** The representative (or the patient) asks for review by another clinician (REL-3). Idempotent while pending. */
export async function requestSuspensionReview(
  db: Knex,
  input: { patientId: string; suspensionId: string; requestedBy: string; requester: 'proxy' | 'patient'; at: Date },
): Promise<DelegationSuspension> {
  if (!nonEmpty(input.requestedBy)) throw new HoldValidationError('invalid-input', 'REL-3', 'requestedBy is required');
  await db.transaction(async (trx) => {
    const row = await lock(trx, input.patientId, input.suspensionId);
    if (!checkReviewRequest(row, row.status === 'active', 'suspension')) return;
    await trx('delegation_suspension').where({ patient_id: input.patientId, id: input.suspensionId }).update({ review_requested_at: input.at, review_requested_by: input.requestedBy });
    await audit(trx, 'delegation.review-request', { patientId: row.patient_id, delegationId: row.delegation_id, id: row.id }, { kind: input.requester, id: input.requestedBy }, input.at);
  });
  return (await getDelegationSuspension(db, input.patientId, input.suspensionId))!;
}

/** A clinician who did not make the determination decides the review (REL-3); `lifted` reinstates the delegation at once. */
export async function decideSuspensionReview(
  db: Knex,
  input: { patientId: string; suspensionId: string; reviewerId: string; outcome: 'upheld' | 'lifted'; note?: string; at: Date },
): Promise<DelegationSuspension> {
  await db.transaction(async (trx) => {
    const row = await lock(trx, input.patientId, input.suspensionId);
    checkReviewDecision(row, input.reviewerId, input.outcome, row.status === 'active', 'suspension'); // REL-3
    await trx('delegation_suspension')
      .where({ patient_id: input.patientId, id: input.suspensionId })
      .update({ reviewer_id: input.reviewerId, reviewed_at: input.at, review_outcome: input.outcome, review_note: input.note ?? null });
    await audit(trx, 'delegation.review', { patientId: row.patient_id, delegationId: row.delegation_id, id: row.id }, clinician(input.reviewerId), input.at, { outcome: input.outcome });
    if (input.outcome === 'lifted') await reinstate(trx, row, input.reviewerId, 'review', input.at);
  });
  return (await getDelegationSuspension(db, input.patientId, input.suspensionId))!;
}

/** A clinician lifts the suspension before any review (new information); reinstates the delegation at once. */
export async function liftDelegationSuspension(db: Knex, input: { patientId: string; suspensionId: string; liftedBy: string; reason: string; at: Date }): Promise<DelegationSuspension> {
  if (!isPractitioner(input.liftedBy)) throw new HoldValidationError('practitioner-required', 'PRX-5', 'lifting a suspension needs a practitioner (Practitioner/<id>)');
  if (!nonEmpty(input.reason)) throw new HoldValidationError('reason-required', 'PRX-5', 'lifting a suspension needs a reason');
  await db.transaction(async (trx) => {
    const row = await lock(trx, input.patientId, input.suspensionId);
    if (row.status !== 'active') throw new HoldValidationError('hold-not-active', 'PRX-5', 'the suspension has already been lifted');
    await reinstate(trx, row, input.liftedBy, input.reason.trim(), input.at);
  });
  return (await getDelegationSuspension(db, input.patientId, input.suspensionId))!;
}
