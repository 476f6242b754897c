/**
 * Data-quality holds (REL-4): specific records known or suspected to be misidentified, filed to
 * the wrong patient, corrupt or erroneous, withheld while they are fixed. No clinician
 * relationship is needed (171.201(c)(2)), but the hold names its records and always expires.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { auditPolicyChange } from '../audit/policy-audit.js';
import { HOUR_MS, HoldValidationError, checkPatientAndResources, isInstant, isStaffId, nonEmpty, rejectUnknownFields, toDate, toDateOrNull, type ResourceKey } from './errors.js';
import { insertHoldItems, listHoldItems, releaseItemsOfSource } from './hold-items.js';

export const DATA_QUALITY_PROBLEMS = ['misidentified', 'mismatched_patient', 'corrupt', 'erroneous'] as const;
export type DataQualityProblem = (typeof DATA_QUALITY_PROBLEMS)[number];

/** Product limits, not regulatory numbers: a fix should take days; a longer hold must be placed again, visibly. */
export const DATA_QUALITY_DEFAULT_HOURS = 7 * 24;
export const DATA_QUALITY_MAX_HOURS = 30 * 24;

export interface NewDataQualityHold {
  patientId: string;
  resources: readonly ResourceKey[];
  problem: DataQualityProblem;
  reason: string;
  /** Staff or system identity placing the hold. */
  placedBy: string;
  at: Date;
  /** Automatic end; default 7 days, at most 30 (REL-4: auto-expiry). */
  expiresAt?: Date;
}

export interface DataQualityHold {
  id: string;
  patientId: string;
  resources: ResourceKey[];
  problem: DataQualityProblem;
  reason: string;
  placedBy: string;
  status: 'active' | 'lifted';
  createdAt: Date;
  expiresAt: Date;
  liftedAt: Date | null;
  liftedBy: string | null;
  liftReason: string | null;
}

const FIELDS = ['patientId', 'resources', 'problem', 'reason', 'placedBy', 'at', 'expiresAt'];

export function validateDataQualityHold(input: NewDataQualityHold): { resources: ResourceKey[]; expiresAt: Date } {
  if (typeof input !== 'object' || input === null) throw new HoldValidationError('invalid-input', 'REL-4', 'expected a data-quality hold');
  rejectUnknownFields(input, FIELDS, 'REL-4');
  const resources = checkPatientAndResources(input.patientId, input.resources, 'REL-4'); // REL-4: specific records only
  if (!(DATA_QUALITY_PROBLEMS as readonly string[]).includes(input.problem))
    throw new HoldValidationError('invalid-input', 'REL-4', `problem must be one of ${DATA_QUALITY_PROBLEMS.join(', ')}`);
  if (!nonEmpty(input.reason)) throw new HoldValidationError('reason-required', 'REL-4', 'a data-quality hold needs a reason');
  if (!isStaffId(input.placedBy)) throw new HoldValidationError('invalid-input', 'REL-4', 'placedBy must identify the staff member (1-256 printable characters, no spaces)'); // AUD-1: the access log names them
  if (!isInstant(input.at)) throw new HoldValidationError('invalid-input', 'REL-4', 'at must be a valid instant');
  const expiresAt = input.expiresAt ?? new Date(input.at.getTime() + DATA_QUALITY_DEFAULT_HOURS * HOUR_MS);
  if (!isInstant(expiresAt) || expiresAt.getTime() <= input.at.getTime()) throw new HoldValidationError('invalid-window', 'REL-4', 'expiresAt must be after the hold is placed');
  if (expiresAt.getTime() - input.at.getTime() > DATA_QUALITY_MAX_HOURS * HOUR_MS)
    throw new HoldValidationError('invalid-window', 'REL-4', `a data-quality hold lasts at most ${DATA_QUALITY_MAX_HOURS / 24} days`); // REL-4: only while it is fixed
  return { resources, expiresAt };
}

interface Row {
  patient_id: string;
  id: string;
  problem: DataQualityProblem;
  reason: string;
  placed_by: string;
  status: 'active' | 'lifted';
  created_at: Date | string;
  expires_at: Date | string;
  lifted_at: Date | string | null;
  lifted_by: string | null;
  lift_reason: string | null;
}

export async function placeDataQualityHold(db: Knex, input: NewDataQualityHold): Promise<DataQualityHold> {
  const { resources, expiresAt } = validateDataQualityHold(input);
  const id = randomUUID();
  await db.transaction(async (trx) => {
    await trx('data_quality_hold').insert({
      patient_id: input.patientId,
      id,
      problem: input.problem,
      reason: input.reason.trim(),
      placed_by: input.placedBy,
      status: 'active',
      created_at: input.at,
      expires_at: expiresAt,
    });
    await insertHoldItems(trx, input.patientId, resources.map((r) => ({ ...r, kind: 'data-quality' as const, sourceId: id, heldFrom: input.at, releaseAt: expiresAt })));
    await auditPolicyChange(trx, { patientId: input.patientId, action: 'hold.place', actor: { kind: 'staff', id: input.placedBy }, at: input.at, exception: 'preventing_harm', detail: { holdId: id, kind: 'data-quality', problem: input.problem, resources: resources.length } });
  });
  return (await getDataQualityHold(db, input.patientId, id))!;
}

export async function getDataQualityHold(db: Knex, patientId: string, holdId: string): Promise<DataQualityHold | undefined> {
  const row = (await db<Row>('data_quality_hold').where({ patient_id: patientId, id: holdId }).first()) as Row | undefined;
  if (!row) return undefined;
  const items = (await listHoldItems(db, patientId)).filter((i) => i.kind === 'data-quality' && i.sourceId === holdId);
  return {
    id: row.id,
    patientId: row.patient_id,
    resources: items.map((i) => ({ resourceType: i.resourceType, resourceId: i.resourceId })),
    problem: row.problem,
    reason: row.reason,
    placedBy: row.placed_by,
    status: row.status,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    liftedAt: toDateOrNull(row.lifted_at),
    liftedBy: row.lifted_by,
    liftReason: row.lift_reason,
  };
}

/** The record was fixed (or found correct): release at once. */
export async function liftDataQualityHold(
  db: Knex,
  input: { patientId: string; holdId: string; liftedBy: string; reason: 'fixed' | 'not-an-error'; at: Date },
): Promise<DataQualityHold> {
  if (!isStaffId(input.liftedBy)) throw new HoldValidationError('invalid-input', 'REL-4', 'liftedBy must identify the staff member (1-256 printable characters, no spaces)');
  if (input.reason !== 'fixed' && input.reason !== 'not-an-error') throw new HoldValidationError('reason-required', 'REL-4', 'reason must be fixed or not-an-error');
  await db.transaction(async (trx) => {
    const row = (await trx<Row>('data_quality_hold').where({ patient_id: input.patientId, id: input.holdId }).forUpdate().first()) as Row | undefined;
    if (!row) throw new HoldValidationError('not-found', 'REL-4', `no data-quality hold ${input.holdId} for this patient`);
    if (row.status !== 'active') throw new HoldValidationError('hold-not-active', 'REL-4', 'the hold was already lifted');
    await trx('data_quality_hold')
      .where({ patient_id: input.patientId, id: input.holdId })
      .update({ status: 'lifted', lifted_at: input.at, lifted_by: input.liftedBy, lift_reason: input.reason });
    await releaseItemsOfSource(trx, input.patientId, 'data-quality', input.holdId, input.at, input.liftedBy, input.reason === 'fixed' ? 'fixed' : 'lifted');
    await auditPolicyChange(trx, { patientId: input.patientId, action: 'hold.lift', actor: { kind: 'staff', id: input.liftedBy }, at: input.at, exception: 'preventing_harm', detail: { holdId: input.holdId, kind: 'data-quality', reason: input.reason } });
  });
  return (await getDataQualityHold(db, input.patientId, input.holdId))!;
}
