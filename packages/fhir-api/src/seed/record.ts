/**
 * Builds one patient's record: the Patient, the people acting for them, a health profile (body
 * build, smoking, conditions and their long-term drugs, allergies, immunizations, care team,
 * goals, care plan, insurance), the visits of the planned history, each with its provenance, and
 * the remaining US Core content (social history, report types, missing-data cases).
 */
import type { MedicationRequest } from '@medplum/fhirtypes';
import { coverage } from './clinical/billing.js';
import { allergies } from './clinical/allergies.js';
import { carePlan, careTeam, goals } from './clinical/care.js';
import { CHRONIC, HEALTH_CONCERNS, type ConditionKey } from './clinical/condition-catalog.js';
import { chronicCondition, healthConcern } from './clinical/conditions.js';
import { DRUGS, type Drug, type DrugKey } from './clinical/drugs.js';
import { appointment } from './clinical/encounters.js';
import { immunizations } from './clinical/immunizations.js';
import { prescribe } from './clinical/medications.js';
import { procedure } from './clinical/procedures.js';
import { provenance } from './clinical/provenance.js';
import { usCoreExtras } from './clinical/us-core-extras.js';
import { bodySizeAt } from './clinical/vitals.js';
import { RecordContext } from './context.js';
import { planHistory } from './history.js';
import { patientResource, relatedPersonResource } from './patient.js';
import { Random, clamp } from './random.js';
import { CLINICIANS, clinicianBy, type Clinician } from './shared.js';
import type { PatientSpec } from './spec.js';
import { DAY_MS, HOUR_MS, YEAR_MS, fullYears } from './time.js';
import type { PatientRecord } from './types.js';
import { runVisit } from './visits.js';

export interface RecordOptions {
  seed: number;
  now: number;
  /** Average resources per patient; default: 60–150 drawn per patient. */
  resourcesPerPatient?: number;
}

export function buildPatientRecord(spec: PatientSpec, options: RecordOptions): PatientRecord {
  const rnd = Random.for(options.seed, spec.streamKey);
  const pcp = spec.pcpId ? CLINICIANS.find((c) => c.id === spec.pcpId)! : choosePcp(rnd, fullYears(spec.birthDate, options.now));
  const ctx = new RecordContext(spec, rnd, options.now, pcp, { location: pcp.location, org: pcp.org });
  ctx.add(patientResource(spec));
  if (spec.empty) return { patientId: spec.id, resources: ctx.resources };
  for (const g of spec.guardians) ctx.guardians.push(ctx.add(relatedPersonResource(spec, g)));

  const target = spec.resourceTarget ?? (options.resourcesPerPatient ? Math.round(options.resourcesPerPatient * (0.85 + 0.3 * rnd.next())) : rnd.int(60, 150));
  profile(ctx);
  const plan = planHistory(ctx, target);

  ctx.insurance = coverage(ctx, plan.start);
  problemList(ctx, plan.start);
  for (const hc of HEALTH_CONCERNS) {
    if (spec.onlyListedConditions || ctx.age < hc.minAge || !rnd.chance(hc.probability)) continue;
    const at = Math.max(plan.start, ctx.now - rnd.int(30, 3 * 365) * DAY_MS);
    ctx.add(healthConcern(ctx, hc, at, pcp));
  }
  for (const past of plan.pastProcedures) {
    const surgeon = past.procedure.implant === 'pacemaker' || past.procedure.implant === 'coronaryStent' ? clinicianBy('cardiology') : clinicianBy('orthopedics');
    procedure(ctx, past.procedure, { at: past.at, minutes: 90, performer: surgeon, location: 'hospital' });
  }
  allergies(ctx);
  immunizations(ctx, plan.start);
  const team = careTeam(ctx, plan.start);
  carePlan(ctx, team, goals(ctx, plan.start), plan.start);
  // The record's standing content (problems, medications, allergies, immunizations…), attested by the primary care clinician.
  provenance(ctx, ctx.resources.slice(), plan.start, { clinician: pcp, org: ctx.clinic.org });

  const visits = plan.visits.map((visit) => runVisit(ctx, visit));
  const booked = ctx.resources.length;
  upcoming(ctx);
  // The booking system is the source of appointments not yet kept.
  provenance(ctx, ctx.resources.slice(booked), 0, { org: ctx.clinic.org });
  // Last, so that everything above keeps its ids and random draws.
  usCoreExtras(ctx, visits);
  return { patientId: spec.id, resources: ctx.resources };
}

function choosePcp(rnd: Random, age: number): Clinician {
  if (age < 18) return rnd.chance(0.85) ? clinicianBy('pediatrics') : clinicianBy('nursePractitioner');
  return rnd.weighted([[clinicianBy('family'), 5], [clinicianBy('internal'), 3], [clinicianBy('nursePractitioner'), 2]] as const);
}

/** Body build, smoking, food security and which long-term conditions this person has. */
function profile(ctx: RecordContext): void {
  const { rnd, spec } = ctx;
  const age = ctx.age;
  ctx.body = { heightZ: clamp(rnd.normal(), -2.3, 2.3), bmiZ: clamp(rnd.normal(0.15, 1), -2, 3) };
  if (age >= 13) ctx.smoking = age < 18 ? (rnd.chance(0.03) ? 'current' : 'never') : rnd.weighted([['never', 66], ['former', 22], ['current', 12]] as const);
  ctx.foodInsecure = rnd.chance(0.12);

  const keys = new Set<ConditionKey>(spec.conditions ?? []);
  if (!spec.onlyListedConditions) {
    for (const def of Object.values(CHRONIC)) {
      if (age < def.minAge || (def.maxAge !== undefined && age > def.maxAge) || (def.sex && def.sex !== spec.gender)) continue;
      if (rnd.chance(def.prevalence(age))) keys.add(def.key);
    }
    if (age >= 20 && bodySizeAt(ctx, ctx.now).bmi >= 30) keys.add('obesity');
    if (age >= 45 && ctx.smoking !== 'never' && rnd.chance(0.25)) keys.add('copd');
  }
  // Onsets are fixed now, because the history plan depends on them; the Condition resources are
  // created later (problemList) and replace these placeholders.
  for (const key of keys) {
    const def = CHRONIC[key];
    const from = Math.max(ctx.birth, Math.min(ctx.birth + Math.max(def.minAge, 0.5) * YEAR_MS, ctx.now - 14 * DAY_MS));
    // Hard cases' problems are long-standing (diagnosed over two years ago when age allows).
    const until = spec.onlyListedConditions ? Math.max(from + DAY_MS, ctx.now - 2 * YEAR_MS) : ctx.now - 60 * DAY_MS;
    const onset = key === 'obesity' ? Math.max(from, ctx.now - rnd.int(1, 10) * YEAR_MS) : from + rnd.next() * Math.max(DAY_MS, until - from);
    ctx.conditions.set(key, { def, onset, condition: { resourceType: 'Condition', subject: ctx.patientRef } });
  }
}

/** Condition resources for the problem list, and the long-term drugs that treat them. */
function problemList(ctx: RecordContext, historyStart: number): void {
  const { rnd } = ctx;
  const entries = [...ctx.conditions.values()].sort((a, b) => a.onset - b.onset);
  for (const entry of entries) {
    const def = entry.def;
    const diagnosedBy = def.specialist && rnd.chance(0.5) ? clinicianBy(def.specialist) : ctx.pcp;
    entry.condition = ctx.add(chronicCondition(ctx, def, entry.onset, diagnosedBy));
    const drugs: DrugKey[] = [...def.drugs];
    if (def.key === 'asthma' && rnd.chance(0.5)) drugs.pop(); // mild asthma: rescue inhaler only
    for (const key of drugs) {
      if (ctx.drugs.some((d) => d.drug.key === DRUGS[key].key)) continue;
      let start = entry.onset + rnd.int(0, 30) * DAY_MS;
      // Statins: some started on simvastatin and were switched.
      if (key === 'atorvastatin' && (ctx.spec.statinSwitch || rnd.chance(0.3)) && start < ctx.now - 2 * YEAR_MS) {
        const old = prescribeFor(ctx, DRUGS.simvastatin, start, entry, 'stopped');
        const switched = start + rnd.int(90, 700) * DAY_MS;
        ctx.drugs.push({ drug: DRUGS.simvastatin, request: old, start, until: switched, fills: 0 });
        start = switched;
      }
      addCurrentPrescription(ctx, DRUGS[key], start, entry, historyStart);
    }
  }
}

/** Prescriptions run a year: an old start gets a completed original and a current renewal. */
function addCurrentPrescription(ctx: RecordContext, drug: Drug, start: number, entry: { condition: { id?: string } }, historyStart: number): void {
  const { rnd } = ctx;
  const renewal = ctx.now - rnd.int(20, 330) * DAY_MS;
  if (start < renewal - 60 * DAY_MS) {
    const original = prescribeFor(ctx, drug, Math.max(start, historyStart - 30 * DAY_MS), entry, 'completed');
    ctx.drugs.push({ drug, request: original, start, until: renewal, fills: 0 });
    start = renewal;
  }
  const current = prescribeFor(ctx, drug, start, entry, 'active');
  ctx.drugs.push({ drug, request: current, start, fills: 0 });
}

function prescribeFor(ctx: RecordContext, drug: Drug, at: number, entry: { condition: { id?: string } }, status: MedicationRequest['status']): MedicationRequest {
  // Over-the-counter antihistamine: recorded from the patient's report, intent "plan".
  const reported = drug.key === 'cetirizine';
  return prescribe(ctx, drug, {
    at,
    prescriber: ctx.pcp,
    reason: { reference: `Condition/${entry.condition.id}` },
    status,
    reported,
  });
}

/** Appointments already booked for the coming weeks. */
function upcoming(ctx: RecordContext): void {
  const { rnd } = ctx;
  const count = ctx.spec.upcomingAppointments ?? rnd.weighted([[0, 40], [1, 45], [2, 15]] as const);
  for (let i = 0; i < count; i++) {
    const day = ctx.now + rnd.int(2, 120) * DAY_MS;
    const start = day - (day % DAY_MS) + (8 + rnd.int(0, 8)) * HOUR_MS + rnd.pick([0, 30]) * 60_000;
    const followUp = ctx.conditions.size > 0 && rnd.chance(0.6);
    appointment(ctx, { kind: followUp ? 'followUp' : 'wellness', start, minutes: followUp ? 20 : 40, clinician: ctx.pcp, location: ctx.clinic.location, status: 'booked', description: followUp ? 'Follow-up visit' : ctx.age < 18 ? 'Well child visit' : 'Annual physical' });
  }
}
