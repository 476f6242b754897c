/**
 * Holds that come from a standing instruction rather than a decision about one record: the
 * patient's delay preferences (REL-5) and enabled state-law rules (REL-6). The resource writer
 * calls `placeConditionalHolds` when a result first reaches the record with a released status;
 * the matching instructions become release_hold_item rows whose clock starts then. Re-delivery
 * of the same result never extends a hold (the item already exists), and an instruction made
 * later never re-hides a result already shown.
 */
import type { Knex } from 'knex';
import { auditPolicyChange, clinicianActor } from '../audit/policy-audit.js';
import { codingMatches, type Coding } from '../policy/labels.js';
import { HoldValidationError, isFhirId, isInstant, isPractitioner } from './errors.js';
import { insertHoldItems, listHoldItems, type HoldItem, type NewHoldItem } from './hold-items.js';
import { enabledLegalHoldRules, legalHoldReleaseAt } from './legal-hold-rules.js';
import { patientDelayFromRow, patientDelayReleaseAt } from './patient-delays.js';

export interface ResultArrival {
  patientId: string;
  resourceType: string;
  resourceId: string;
  /** The result's category codings (DiagnosticReport.category, Observation.category). */
  categories: readonly Coding[];
  /** The result's code codings (what test it is). */
  codes: readonly Coding[];
  /** basedOn ServiceRequest ids or references. */
  orderIds?: readonly string[];
  /** The patient's jurisdiction (ISO 3166-2), when known; no jurisdiction, no legal holds. */
  jurisdiction?: string;
  /** When the result reached the record: the holds' clocks start here. */
  at: Date;
}

/** Creates the patient-delay and legal hold items for a newly released result; returns its items. */
export async function placeConditionalHolds(db: Knex, arrival: ResultArrival): Promise<HoldItem[]> {
  if (!isFhirId(arrival.patientId) || !isFhirId(arrival.resourceId) || !/^[A-Z][A-Za-z]{1,63}$/.test(arrival.resourceType))
    throw new HoldValidationError('hold-scope-required', 'REL-5', 'a result arrival names one patient and one resource');
  if (!isInstant(arrival.at)) throw new HoldValidationError('invalid-input', 'REL-5', 'at must be a valid instant');
  const key = { resourceType: arrival.resourceType, resourceId: arrival.resourceId };
  const orders = new Set((arrival.orderIds ?? []).map((o) => o.replace(/^ServiceRequest\//, '')));
  const items: NewHoldItem[] = [];

  const prefs = (await db('patient_delay_preference').where({ patient_id: arrival.patientId, status: 'active' }).andWhere('created_at', '<=', arrival.at)).map(patientDelayFromRow);
  for (const p of prefs) {
    const scope = p.scope;
    const matches = scope.kind === 'order' ? orders.has(scope.orderId) : arrival.categories.some((c) => codingMatches(scope.category, c));
    if (!matches) continue;
    items.push({ ...key, kind: 'patient-delay', sourceId: p.id, condition: p.condition.kind, heldFrom: arrival.at, releaseAt: patientDelayReleaseAt(p, arrival.at) }); // REL-5
  }

  if (arrival.jurisdiction !== undefined) {
    for (const rule of await enabledLegalHoldRules(db, arrival.jurisdiction, arrival.at)) {
      // Code sets are exact: the rule's system must equal the result coding's system (REL-6: narrow).
      if (!arrival.codes.some((c) => rule.codes.some((r) => r.system === c.system && r.code === c.code))) continue;
      items.push({ ...key, kind: 'legal', sourceId: rule.id, condition: rule.condition, heldFrom: arrival.at, releaseAt: legalHoldReleaseAt(rule, arrival.at) }); // REL-6
    }
  }

  await insertHoldItems(db, arrival.patientId, items);
  return (await listHoldItems(db, arrival.patientId, key)).filter((i) => i.kind === 'patient-delay' || i.kind === 'legal');
}

/**
 * A clinician released or discussed one result with the patient: releases the items whose
 * condition that satisfies. `clinician-released` ends patient delays "until my clinician
 * reviews" (REL-5); `discussed` also ends legal holds "until discussed" (REL-6), since a
 * discussion with the patient includes the review. Fixed-period holds are not shortened: the
 * patient asked for that period, or the law requires it. Returns the number of items released.
 */
export async function recordReleaseEvent(
  db: Knex,
  input: { patientId: string; resourceType: string; resourceId: string; event: 'clinician-released' | 'discussed'; by: string; at: Date },
): Promise<number> {
  if (!isPractitioner(input.by)) throw new HoldValidationError('practitioner-required', input.event === 'discussed' ? 'REL-6' : 'REL-5', 'a release event is recorded by a practitioner (Practitioner/<id>)');
  if (input.event !== 'clinician-released' && input.event !== 'discussed') throw new HoldValidationError('invalid-input', 'REL-5', 'event must be clinician-released or discussed');
  if (!isInstant(input.at)) throw new HoldValidationError('invalid-input', 'REL-5', 'at must be a valid instant');
  return db.transaction(async (trx) => {
    const released = await trx('release_hold_item')
      .where({ patient_id: input.patientId, resource_type: input.resourceType, resource_id: input.resourceId })
      .whereNull('released_at')
      .andWhere('release_at', '>', input.at) // past its end it was released then: not stamped, not counted
      .andWhere((q) => {
        q.where({ kind: 'patient-delay', condition: 'until_clinician_release' });
        if (input.event === 'discussed') q.orWhere({ kind: 'legal', condition: 'until_discussed' });
      })
      .update({ released_at: input.at, released_by: input.by, release_reason: input.event });
    // AUD-1: a release that ended holds is a change to what the record shares.
    if (released > 0)
      await auditPolicyChange(trx, {
        patientId: input.patientId,
        action: 'hold.lift',
        actor: clinicianActor(input.by),
        at: input.at,
        exception: input.event === 'discussed' ? 'required_by_law' : 'patient_requested_delay',
        detail: { event: input.event, resource: `${input.resourceType}/${input.resourceId}`, released },
      });
    return released;
  });
}
