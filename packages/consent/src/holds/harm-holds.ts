/**
 * Harm holds (REL-2, REL-3, PRX-5): a licensed clinician's individualized determination that
 * access to named resources of one patient is reasonably likely to endanger life or physical
 * safety (or, for personal representatives only, cause substantial harm). Never by category,
 * test code, department or age band; always with an end; reviewable by a different clinician.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { HARM_TYPES, type HarmType } from '../policy/access-plan.js';
import {
  HoldValidationError,
  checkPatientAndResources,
  checkReviewDecision,
  checkReviewRequest,
  isInstant,
  isPractitioner,
  nonEmpty,
  rejectUnknownFields,
  toDate,
  toDateOrNull,
  type ResourceKey,
} from './errors.js';
import { auditPolicyChange, clinicianActor } from '../audit/policy-audit.js';
import { insertHoldItems, listHoldItems, releaseItemsOfSource } from './hold-items.js';

export interface NewHarmHold {
  patientId: string;
  /** The named resources withheld; at least one. */
  resources: readonly ResourceKey[];
  /** `Practitioner/<id>` of the licensed professional making the determination. */
  decidedBy: string;
  /** The clinician's attestation of licensure (e.g. "MD, CA A12345"). */
  licenseAttestation: string;
  /** 171.201: a current or prior clinician–patient relationship. */
  relationshipBasis: 'current' | 'prior';
  harmType: HarmType;
  reason: string;
  at: Date;
  /** Hard end of the hold. */
  expiresAt: Date;
  /** When the determination should be looked at again (before expiresAt). */
  reviewAt?: Date;
}

export interface HarmHold {
  id: string;
  patientId: string;
  resources: ResourceKey[];
  harmType: HarmType;
  decidedBy: string;
  licenseAttestation: string;
  relationshipBasis: 'current' | 'prior';
  reason: string;
  status: 'active' | 'lifted';
  createdAt: Date;
  reviewAt: Date | null;
  expiresAt: Date;
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

const FIELDS = ['patientId', 'resources', 'decidedBy', 'licenseAttestation', 'relationshipBasis', 'harmType', 'reason', 'at', 'expiresAt', 'reviewAt'];

/** Checks a harm hold request without touching the database; returns the deduplicated resources. */
export function validateHarmHold(input: NewHarmHold): ResourceKey[] {
  if (typeof input !== 'object' || input === null) throw new HoldValidationError('invalid-input', 'REL-2', 'expected a harm hold');
  rejectUnknownFields(input, FIELDS, 'REL-2');
  const resources = checkPatientAndResources(input.patientId, input.resources, 'REL-2'); // REL-2: one patient, named resources
  if (!isPractitioner(input.decidedBy)) throw new HoldValidationError('practitioner-required', 'REL-2', 'a harm hold needs the deciding practitioner (Practitioner/<id>)'); // REL-2
  if (!nonEmpty(input.licenseAttestation)) throw new HoldValidationError('license-attestation-required', 'REL-2', 'a harm hold needs the decider\'s license attestation'); // REL-2: licensed professional
  if (input.relationshipBasis !== 'current' && input.relationshipBasis !== 'prior')
    throw new HoldValidationError('relationship-basis-required', 'REL-2', 'a harm hold needs a current or prior clinician-patient relationship'); // REL-2
  if (!(HARM_TYPES as readonly string[]).includes(input.harmType))
    throw new HoldValidationError('harm-type-invalid', 'REL-2', `harm type must be one of ${HARM_TYPES.join(', ')}; emotional distress alone does not justify withholding from the patient`); // REL-2
  if (!nonEmpty(input.reason)) throw new HoldValidationError('reason-required', 'REL-2', 'a harm hold needs the documented reason'); // REL-2: documented determination
  if (!isInstant(input.at)) throw new HoldValidationError('invalid-input', 'REL-2', 'at must be a valid instant');
  if (!isInstant(input.expiresAt)) throw new HoldValidationError('end-required', 'REL-2', 'a harm hold needs an end (expiresAt)');
  if (input.expiresAt.getTime() <= input.at.getTime()) throw new HoldValidationError('invalid-window', 'REL-2', 'expiresAt must be after the hold is placed');
  if (input.reviewAt !== undefined && (!isInstant(input.reviewAt) || input.reviewAt < input.at || input.reviewAt > input.expiresAt))
    throw new HoldValidationError('invalid-window', 'REL-2', 'reviewAt must fall between placing the hold and its end');
  return resources;
}

interface HarmHoldRow {
  patient_id: string;
  id: string;
  harm_type: HarmType;
  decided_by: string;
  license_attestation: string;
  relationship_basis: 'current' | 'prior';
  reason: string;
  status: 'active' | 'lifted';
  created_at: Date | string;
  review_at: Date | string | null;
  expires_at: Date | string;
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

function fromRow(row: HarmHoldRow, resources: ResourceKey[]): HarmHold {
  return {
    id: row.id,
    patientId: row.patient_id,
    resources,
    harmType: row.harm_type,
    decidedBy: row.decided_by,
    licenseAttestation: row.license_attestation,
    relationshipBasis: row.relationship_basis,
    reason: row.reason,
    status: row.status,
    createdAt: toDate(row.created_at),
    reviewAt: toDateOrNull(row.review_at),
    expiresAt: toDate(row.expires_at),
    reviewRequestedAt: toDateOrNull(row.review_requested_at),
    reviewRequestedBy: row.review_requested_by,
    reviewerId: row.reviewer_id,
    reviewedAt: toDateOrNull(row.reviewed_at),
    reviewOutcome: row.review_outcome,
    reviewNote: row.review_note,
    liftedAt: toDateOrNull(row.lifted_at),
    liftedBy: row.lifted_by,
    liftReason: row.lift_reason,
  };
}

export async function placeHarmHold(db: Knex, input: NewHarmHold): Promise<HarmHold> {
  const resources = validateHarmHold(input);
  const id = randomUUID();
  await db.transaction(async (trx) => {
    await trx('harm_hold').insert({
      patient_id: input.patientId,
      id,
      harm_type: input.harmType,
      decided_by: input.decidedBy,
      license_attestation: input.licenseAttestation.trim(),
      relationship_basis: input.relationshipBasis,
      reason: input.reason.trim(),
      status: 'active',
      created_at: input.at,
      review_at: input.reviewAt ?? null,
      expires_at: input.expiresAt,
    });
    await insertHoldItems(
      trx,
      input.patientId,
      resources.map((r) => ({ ...r, kind: 'harm' as const, sourceId: id, harmType: input.harmType, heldFrom: input.at, releaseAt: input.expiresAt })),
    );
    await auditPolicyChange(trx, {
      patientId: input.patientId,
      action: 'hold.place',
      actor: clinicianActor(input.decidedBy),
      at: input.at,
      exception: 'preventing_harm',
      detail: { holdId: id, kind: 'harm', harmType: input.harmType, resources: resources.length },
    });
  });
  return (await getHarmHold(db, input.patientId, id))!;
}

export async function getHarmHold(db: Knex, patientId: string, holdId: string): Promise<HarmHold | undefined> {
  const row = (await db<HarmHoldRow>('harm_hold').where({ patient_id: patientId, id: holdId }).first()) as HarmHoldRow | undefined;
  if (!row) return undefined;
  const items = (await listHoldItems(db, patientId)).filter((i) => i.kind === 'harm' && i.sourceId === holdId);
  return fromRow(row, items.map((i) => ({ resourceType: i.resourceType, resourceId: i.resourceId })));
}

async function lockHold(trx: Knex.Transaction, patientId: string, holdId: string): Promise<HarmHoldRow> {
  const row = (await trx<HarmHoldRow>('harm_hold').where({ patient_id: patientId, id: holdId }).forUpdate().first()) as HarmHoldRow | undefined;
  if (!row) throw new HoldValidationError('not-found', 'REL-2', `no harm hold ${holdId} for this patient`);
  return row;
}

function isInForce(row: HarmHoldRow, at: Date): boolean {
  return row.status === 'active' && toDate(row.expires_at).getTime() > at.getTime();
}

/** The patient (or their representative) asks for review by another clinician (REL-3). Idempotent while pending. */
export async function requestHarmHoldReview(db: Knex, input: { patientId: string; holdId: string; requestedBy: string; requester?: 'patient' | 'proxy'; at: Date }): Promise<HarmHold> {
  if (!nonEmpty(input.requestedBy)) throw new HoldValidationError('invalid-input', 'REL-3', 'requestedBy is required');
  await db.transaction(async (trx) => {
    const row = await lockHold(trx, input.patientId, input.holdId);
    if (!checkReviewRequest(row, isInForce(row, input.at), 'hold')) return;
    await trx('harm_hold').where({ patient_id: input.patientId, id: input.holdId }).update({ review_requested_at: input.at, review_requested_by: input.requestedBy });
    await auditPolicyChange(trx, { patientId: input.patientId, action: 'hold.review-request', actor: { kind: input.requester ?? 'patient', id: input.requestedBy }, at: input.at, exception: 'preventing_harm', detail: { holdId: input.holdId, kind: 'harm' } });
  });
  return (await getHarmHold(db, input.patientId, input.holdId))!;
}

/**
 * A licensed clinician who did not take part in the determination decides the review (REL-3).
 * `lifted` releases every held resource at once; `upheld` keeps the hold to its end.
 */
export async function decideHarmHoldReview(
  db: Knex,
  input: { patientId: string; holdId: string; reviewerId: string; outcome: 'upheld' | 'lifted'; note?: string; at: Date },
): Promise<HarmHold> {
  await db.transaction(async (trx) => {
    const row = await lockHold(trx, input.patientId, input.holdId);
    checkReviewDecision(row, input.reviewerId, input.outcome, isInForce(row, input.at), 'hold'); // REL-3
    const update: Record<string, unknown> = { reviewer_id: input.reviewerId, reviewed_at: input.at, review_outcome: input.outcome, review_note: input.note ?? null };
    if (input.outcome === 'lifted') Object.assign(update, { status: 'lifted', lifted_at: input.at, lifted_by: input.reviewerId, lift_reason: 'review' });
    await trx('harm_hold').where({ patient_id: input.patientId, id: input.holdId }).update(update);
    await auditPolicyChange(trx, { patientId: input.patientId, action: 'hold.review', actor: clinicianActor(input.reviewerId), at: input.at, exception: 'preventing_harm', detail: { holdId: input.holdId, kind: 'harm', outcome: input.outcome } });
    if (input.outcome === 'lifted') await releaseItemsOfSource(trx, input.patientId, 'harm', input.holdId, input.at, input.reviewerId, 'review-lifted'); // REL-3: a lifted hold releases at once
  });
  return (await getHarmHold(db, input.patientId, input.holdId))!;
}

/** The deciding clinician (or another) lifts the hold before its end; releases at once. */
export async function liftHarmHold(db: Knex, input: { patientId: string; holdId: string; liftedBy: string; reason: string; at: Date }): Promise<HarmHold> {
  if (!isPractitioner(input.liftedBy)) throw new HoldValidationError('practitioner-required', 'REL-2', 'lifting a harm hold needs a practitioner (Practitioner/<id>)');
  if (!nonEmpty(input.reason)) throw new HoldValidationError('reason-required', 'REL-2', 'lifting a harm hold needs a reason');
  await db.transaction(async (trx) => {
    const row = await lockHold(trx, input.patientId, input.holdId);
    if (row.status !== 'active') throw new HoldValidationError('hold-not-active', 'REL-2', 'the hold was already lifted');
    await trx('harm_hold')
      .where({ patient_id: input.patientId, id: input.holdId })
      .update({ status: 'lifted', lifted_at: input.at, lifted_by: input.liftedBy, lift_reason: input.reason.trim() });
    await releaseItemsOfSource(trx, input.patientId, 'harm', input.holdId, input.at, input.liftedBy, 'lifted');
    await auditPolicyChange(trx, { patientId: input.patientId, action: 'hold.lift', actor: clinicianActor(input.liftedBy), at: input.at, exception: 'preventing_harm', detail: { holdId: input.holdId, kind: 'harm' } });
  });
  return (await getHarmHold(db, input.patientId, input.holdId))!;
}
