/**
 * MedicationRequest (long-term drugs by reference to the shared Medication, short courses coded
 * inline; statuses active/completed/stopped; intent order or plan) and MedicationDispense (first
 * fill and refills from the community pharmacy).
 */
import type { MedicationDispense, MedicationRequest } from '@medplum/fhirtypes';
import type { ActiveDrug, RecordContext } from '../context.js';
import type { Clinician } from '../shared.js';
import { locationRef, orgRef, practitionerRef } from '../shared.js';
import { SYSTEM, concept, securityMeta, type Sensitivity, type Ref } from '../terminology.js';
import { DAY_MS, HOUR_MS, dateTime } from '../time.js';
import type { Drug } from './drugs.js';
import { medicationId } from './drugs.js';

interface PrescribeOptions {
  at: number;
  prescriber: Clinician;
  encounter?: Ref;
  reason?: Ref;
  category?: 'outpatient' | 'community' | 'discharge';
  /** Recorded from the patient's report (e.g. an over-the-counter drug), not prescribed here. */
  reported?: boolean;
  status?: MedicationRequest['status'];
  sensitivity?: Sensitivity;
}

export function prescribe(ctx: RecordContext, drug: Drug, options: PrescribeOptions): MedicationRequest {
  const { at } = options;
  const sensitivity = options.sensitivity ?? drug.sensitivity;
  const courseEnd = at + drug.daysSupply * (drug.refills + 1) * DAY_MS;
  const status = options.status ?? (drug.chronic ? 'active' : courseEnd < ctx.now ? 'completed' : 'active');
  const category = options.category ?? (drug.chronic ? 'community' : 'outpatient');
  const request: MedicationRequest = {
    resourceType: 'MedicationRequest',
    id: ctx.id('medrx'),
    ...(sensitivity ? { meta: securityMeta([sensitivity]) } : {}),
    status,
    ...(status === 'stopped' ? { statusReason: concept('http://terminology.hl7.org/CodeSystem/medicationrequest-status-reason', 'sintol', 'Suspected intolerance', 'Switched to a better-tolerated drug') } : {}),
    intent: options.reported ? 'plan' : 'order',
    category: [concept(SYSTEM.medicationRequestCategory, category, category === 'outpatient' ? 'Outpatient' : category === 'community' ? 'Community' : 'Discharge')],
    ...(options.reported ? { reportedBoolean: true } : { reportedBoolean: false }),
    // Long-term drugs point at the shared formulary entry; short courses are coded inline.
    ...(drug.chronic
      ? { medicationReference: { reference: `Medication/${medicationId(drug)}`, display: drug.display } }
      : { medicationCodeableConcept: { coding: [{ system: SYSTEM.rxnorm, code: drug.rxnorm, display: drug.display }], text: drug.display } }),
    subject: ctx.patientRef,
    ...(options.encounter ? { encounter: options.encounter } : {}),
    authoredOn: dateTime(at),
    requester: practitionerRef(options.prescriber),
    ...(options.reason ? { reasonReference: [options.reason] } : {}),
    dosageInstruction: [drug.dosage],
    ...(options.reported ? {} : {
      dispenseRequest: {
        validityPeriod: { start: dateTime(at), end: dateTime(at + 365 * DAY_MS) },
        numberOfRepeatsAllowed: drug.refills,
        quantity: drug.quantity,
        expectedSupplyDuration: { value: drug.daysSupply, unit: 'days', system: SYSTEM.ucum, code: 'd' },
        performer: orgRef('pharmacy'),
      },
    }),
  };
  return ctx.add(request);
}

/** A fill at the community pharmacy, a few hours to two days after the prescription or visit. */
export function dispense(ctx: RecordContext, active: ActiveDrug, around: number): MedicationDispense | undefined {
  const { drug, request } = active;
  if (request.intent === 'plan') return undefined;
  const preparedAt = around + ctx.rnd.int(2, 40) * HOUR_MS;
  const handedOverAt = preparedAt + ctx.rnd.int(1, 20) * HOUR_MS;
  if (handedOverAt >= ctx.now) return undefined;
  active.fills++;
  return ctx.add<MedicationDispense>({
    resourceType: 'MedicationDispense',
    id: ctx.id('meddisp'),
    ...(request.meta ? { meta: request.meta } : {}),
    status: 'completed',
    ...(request.medicationReference ? { medicationReference: request.medicationReference } : { medicationCodeableConcept: request.medicationCodeableConcept! }),
    subject: ctx.patientRef,
    performer: [{ actor: orgRef('pharmacy') }],
    location: locationRef('pharmacy'),
    authorizingPrescription: [{ reference: `MedicationRequest/${request.id}` }],
    type: active.fills === 1 ? concept(SYSTEM.actCode, 'FF', 'First Fill') : concept(SYSTEM.actCode, 'RF', 'Refill'),
    quantity: drug.quantity,
    daysSupply: { value: drug.daysSupply, unit: 'days', system: SYSTEM.ucum, code: 'd' },
    whenPrepared: dateTime(preparedAt),
    whenHandedOver: dateTime(handedOverAt),
    dosageInstruction: [drug.dosage],
  });
}
