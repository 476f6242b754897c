/** Encounter (US Core: class, type, participant, period, reason, location, serviceProvider, discharge) and Appointment. */
import type { Appointment, CodeableConcept, Encounter } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { locationRef, orgRef, practitionerRef, type Clinician, type LocationKey, type OrgKey } from '../shared.js';
import { LOCAL, SYSTEM, concept, securityMeta, type Sensitivity } from '../terminology.js';
import { DAY_MS, MINUTE_MS, dateTime } from '../time.js';
import type { Visit, VisitKind, VisitPlan } from './visit.js';

const CLASS: Record<'AMB' | 'EMER' | 'IMP' | 'VR', string> = { AMB: 'ambulatory', EMER: 'emergency', IMP: 'inpatient encounter', VR: 'virtual' };

const TYPE: Record<Exclude<VisitKind, 'wellness' | 'procedure'>, readonly [string, string]> = {
  followUp: ['390906007', 'Follow-up encounter (procedure)'],
  acute: ['185345009', 'Encounter for symptom (procedure)'],
  emergency: ['50849002', 'Emergency room admission (procedure)'],
  inpatient: ['32485007', 'Hospital admission (procedure)'],
  virtual: ['448337001', 'Telemedicine consultation with patient (procedure)'],
  behavioral: ['185347001', 'Encounter for problem (procedure)'],
  imaging: ['185347001', 'Encounter for problem (procedure)'],
  confidential: ['185347001', 'Encounter for problem (procedure)'],
};

export interface Setting {
  clinician: Clinician;
  location: LocationKey;
  org: OrgKey;
  minutes: number;
  reason?: string;
  sensitivity?: Sensitivity;
}

export function openVisit(ctx: RecordContext, plan: VisitPlan, setting: Setting): Visit {
  const start = plan.at;
  const end = start + setting.minutes * MINUTE_MS;
  const finished = end < ctx.now;
  const cls = plan.kind === 'emergency' ? 'EMER' : plan.kind === 'inpatient' ? 'IMP' : plan.kind === 'virtual' ? 'VR' : 'AMB';
  let type: CodeableConcept;
  if (plan.kind === 'wellness') {
    type = ctx.ageAt(start) < 18 ? concept(SYSTEM.snomed, '410620009', 'Well child visit (procedure)', 'Well child visit') : concept(SYSTEM.snomed, '185349003', 'Encounter for check up (procedure)', 'Annual physical');
  } else if (plan.kind === 'procedure' && plan.procedure) {
    type = concept(SYSTEM.snomed, plan.procedure.snomed[0], plan.procedure.snomed[1], plan.procedure.snomed[1].replace(/ \(procedure\)$/, ''));
  } else {
    const [code, display] = TYPE[plan.kind === 'procedure' ? 'acute' : plan.kind];
    type = concept(SYSTEM.snomed, code, display, display.replace(/ \(procedure\)$/, ''));
  }
  const encounter = ctx.add<Encounter>({
    resourceType: 'Encounter',
    id: ctx.id('enc'),
    ...(setting.sensitivity ? { meta: securityMeta([setting.sensitivity]) } : {}),
    identifier: [{ system: LOCAL.encounter, value: `V${ctx.rnd.digits(9)}` }],
    status: finished ? 'finished' : 'in-progress',
    class: { system: SYSTEM.actCode, code: cls, display: CLASS[cls] },
    type: [type],
    subject: ctx.patientRef,
    participant: [{
      type: [concept(SYSTEM.participationType, cls === 'IMP' ? 'ATND' : 'PPRF', cls === 'IMP' ? 'attender' : 'primary performer')],
      period: { start: dateTime(start), ...(finished ? { end: dateTime(end) } : {}) },
      individual: practitionerRef(setting.clinician),
    }],
    period: { start: dateTime(start), ...(finished ? { end: dateTime(end) } : {}) },
    ...(setting.reason ? { reasonCode: [{ text: setting.reason }] } : {}),
    location: [{ location: locationRef(setting.location), status: finished ? 'completed' : 'active', period: { start: dateTime(start), ...(finished ? { end: dateTime(end) } : {}) } }],
    serviceProvider: orgRef(setting.org),
  });
  return {
    plan,
    start,
    end,
    encounter,
    ref: { reference: `Encounter/${encounter.id}` },
    clinician: setting.clinician,
    location: setting.location,
    org: setting.org,
    diagnoses: [],
    bill: [],
    findings: [],
    plans: [],
    ...(setting.sensitivity ? { sensitivity: setting.sensitivity } : {}),
  };
}

/** Fills in what is only known at the end: diagnoses, discharge, reason references. */
export function closeVisit(ctx: RecordContext, visit: Visit, discharge?: { code: string; display: string; admitSource?: readonly [string, string] }): void {
  const enc = visit.encounter;
  if (visit.diagnoses.length > 0) {
    enc.diagnosis = visit.diagnoses.map((d, i) => ({
      condition: { reference: `Condition/${d.id}` },
      use: concept('http://terminology.hl7.org/CodeSystem/diagnosis-role', i === 0 ? 'CC' : 'AD', i === 0 ? 'Chief complaint' : 'Admission diagnosis'),
      rank: i + 1,
    }));
    enc.reasonReference = [{ reference: `Condition/${visit.diagnoses[0]!.id}` }];
  }
  if (discharge && visit.end < ctx.now) {
    enc.hospitalization = {
      ...(discharge.admitSource ? { admitSource: concept('http://terminology.hl7.org/CodeSystem/admit-source', discharge.admitSource[0], discharge.admitSource[1]) } : {}),
      dischargeDisposition: concept(SYSTEM.dischargeDisposition, discharge.code, discharge.display),
    };
  }
}

const APPOINTMENT_TYPE: Partial<Record<VisitKind, readonly [string, string]>> = {
  wellness: ['CHECKUP', 'A routine check-up, such as an annual physical'],
  followUp: ['FOLLOWUP', 'A follow up visit from a previous appointment'],
  acute: ['WALKIN', 'A previously unscheduled walk-in visit'],
  virtual: ['FOLLOWUP', 'A follow up visit from a previous appointment'],
  behavioral: ['FOLLOWUP', 'A follow up visit from a previous appointment'],
  procedure: ['ROUTINE', 'Routine appointment - default if not valued'],
  imaging: ['ROUTINE', 'Routine appointment - default if not valued'],
  confidential: ['ROUTINE', 'Routine appointment - default if not valued'],
};

export function appointment(
  ctx: RecordContext,
  options: { kind: VisitKind; start: number; minutes: number; clinician: Clinician; location: LocationKey; status: Appointment['status']; description: string; sensitivity?: Sensitivity },
): Appointment {
  const { rnd } = ctx;
  const type = APPOINTMENT_TYPE[options.kind] ?? APPOINTMENT_TYPE.followUp!;
  const created = Math.min(options.start - rnd.int(1, 45) * DAY_MS, ctx.now - DAY_MS);
  const participantStatus = options.status === 'cancelled' ? 'declined' : 'accepted';
  return ctx.add<Appointment>({
    resourceType: 'Appointment',
    id: ctx.id('appt'),
    ...(options.sensitivity ? { meta: securityMeta([options.sensitivity]) } : {}),
    identifier: [{ system: LOCAL.appointment, value: `A${rnd.digits(9)}` }],
    status: options.status,
    ...(options.status === 'cancelled' ? { cancelationReason: concept('http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason', 'pat-cpp', 'Patient: Canceled via Patient Portal') } : {}),
    serviceType: [concept(SYSTEM.nucc, options.clinician.taxonomy[0], options.clinician.taxonomy[1])],
    specialty: [concept(SYSTEM.nucc, options.clinician.taxonomy[0], options.clinician.taxonomy[1])],
    appointmentType: concept(SYSTEM.v2_0276, type[0], type[1]),
    description: options.description,
    start: dateTime(options.start),
    end: dateTime(options.start + options.minutes * MINUTE_MS),
    minutesDuration: options.minutes,
    created: dateTime(created),
    participant: [
      { actor: ctx.patientRef, required: 'required', status: participantStatus },
      { type: [concept(SYSTEM.participationType, 'PPRF', 'primary performer')], actor: practitionerRef(options.clinician), required: 'required', status: 'accepted' },
      { actor: locationRef(options.location), required: 'information-only', status: 'accepted' },
    ],
  });
}
