/**
 * Vital signs (US Core 6.1 profiles: panel, blood pressure with components, heart rate, respiratory
 * rate, temperature, pulse oximetry, weight, height, BMI) and the pediatric growth observations
 * (BMI-for-age and weight-for-length percentiles, head circumference). Body size follows one growth
 * curve per person (fixed standard scores), so a child's chart rises smoothly from visit to visit.
 */
import type { Observation, ObservationComponent, Quantity } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { clamp, round } from '../random.js';
import { SYSTEM, concept, loinc, securityMeta, ucum, type Ref } from '../terminology.js';
import { dateTime, MINUTE_MS } from '../time.js';
import type { Visit } from './visit.js';

const VITALS = concept(SYSTEM.observationCategory, 'vital-signs', 'Vital Signs');

/** [age in years, male median, female median] (CDC/WHO growth charts, rounded). */
const HEIGHT: readonly (readonly [number, number, number])[] = [
  [0, 49.9, 49.1], [0.25, 61.4, 59.8], [0.5, 67.6, 65.7], [1, 75.7, 74], [1.5, 82.3, 80.7], [2, 87.1, 85.7], [3, 96.1, 95.1],
  [4, 103.3, 102.7], [5, 110, 109.4], [6, 116, 115.5], [8, 127.5, 126.6], [10, 138.4, 138.2], [12, 149.1, 151.2],
  [14, 163.8, 159.8], [16, 173.4, 162.5], [18, 176.1, 163.2], [60, 176.1, 163.2], [90, 172.5, 159.4],
];
const INFANT_WEIGHT: readonly (readonly [number, number, number])[] = [
  [0, 3.35, 3.23], [0.25, 6.4, 5.8], [0.5, 7.9, 7.3], [1, 9.6, 8.9], [1.5, 10.9, 10.2], [2, 12.2, 11.5],
];
const BMI_FOR_AGE: readonly (readonly [number, number, number])[] = [
  [2, 16.6, 16.4], [3, 16, 15.7], [4, 15.7, 15.4], [5, 15.5, 15.2], [6, 15.4, 15.2], [8, 15.8, 15.8], [10, 16.6, 16.9],
  [12, 17.8, 18.1], [14, 19, 19.4], [16, 20.2, 20.3], [18, 21.3, 21], [20, 22.5, 21.7],
];
const HEAD: readonly (readonly [number, number, number])[] = [
  [0, 34.5, 33.9], [0.25, 40.5, 39.5], [0.5, 43.3, 42.2], [1, 46.1, 45], [1.5, 47.4, 46.2], [2, 48.3, 47.2], [3, 49.5, 48.5],
];

function curve(table: readonly (readonly [number, number, number])[], age: number, female: boolean): number {
  const col = female ? 2 : 1;
  const first = table[0]!;
  if (age <= first[0]) return first[col]!;
  for (let i = 1; i < table.length; i++) {
    const a = table[i - 1]!;
    const b = table[i]!;
    if (age <= b[0]) return a[col]! + ((b[col]! - a[col]!) * (age - a[0])) / (b[0] - a[0]);
  }
  return table[table.length - 1]![col]!;
}

/** Standard normal CDF (Abramowitz–Stegun), for turning a standard score into a percentile. */
export function percentile(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989423 * Math.exp((-z * z) / 2);
  const p = d * t * (0.3193815 + t * (-0.3565638 + t * (1.781478 + t * (-1.821256 + t * 1.330274))));
  return round(clamp((z > 0 ? 1 - p : p) * 100, 0.5, 99.5), 1);
}

export interface BodySize {
  heightCm: number;
  weightKg: number;
  bmi: number;
  headCm?: number;
}

export function bodySizeAt(ctx: RecordContext, at: number): BodySize {
  const age = Math.max(0, ctx.ageAt(at));
  const female = ctx.spec.gender === 'female';
  const { heightZ, bmiZ } = ctx.body;
  const heightCm = curve(HEIGHT, age, female) * (1 + 0.04 * heightZ);
  let weightKg: number;
  let bmi: number;
  if (age < 2) {
    weightKg = curve(INFANT_WEIGHT, age, female) * (1 + 0.1 * bmiZ);
    bmi = weightKg / (heightCm / 100) ** 2;
  } else {
    // Adults keep their build; children follow their BMI-for-age percentile.
    bmi = age >= 20 ? clamp(26.5 + 4.5 * bmiZ, 17, 48) : curve(BMI_FOR_AGE, age, female) * (1 + 0.12 * bmiZ);
    weightKg = bmi * (heightCm / 100) ** 2;
  }
  return { heightCm, weightKg, bmi, ...(age <= 3 ? { headCm: curve(HEAD, age, female) * (1 + 0.03 * heightZ) } : {}) };
}

interface VitalsOptions {
  /** Height, BMI and growth percentiles as well (well visits, follow-ups, admissions). */
  full: boolean;
  febrile?: boolean;
  hypoxic?: boolean;
}

export function vitalSigns(ctx: RecordContext, visit: Visit, options: VitalsOptions): Observation[] {
  const { rnd } = ctx;
  const at = visit.start + rnd.int(5, 15) * MINUTE_MS;
  const age = ctx.ageAt(at);
  const when = dateTime(at);
  const members: Observation[] = [];
  const observation = (code: Observation['code'], value: Quantity | undefined, extra: Partial<Observation> = {}): Observation => {
    const obs: Observation = {
      resourceType: 'Observation',
      id: ctx.id('obs'),
      ...(visit.sensitivity ? { meta: securityMeta([visit.sensitivity]) } : {}),
      status: 'final',
      category: [VITALS],
      code,
      subject: ctx.patientRef,
      encounter: visit.ref,
      effectiveDateTime: when,
      performer: [{ reference: `Practitioner/${visit.clinician.id}` }],
      ...(value ? { valueQuantity: value } : {}),
      ...extra,
    };
    members.push(obs);
    return obs;
  };

  const htn = ctx.has('hypertension');
  if (age >= 3) {
    const systolic = Math.round(age < 13 ? rnd.normal(102, 7) : htn ? rnd.normal(136, 10) : rnd.normal(117, 8));
    const diastolic = Math.round(age < 13 ? rnd.normal(62, 6) : htn ? rnd.normal(85, 7) : rnd.normal(75, 6));
    const component = (code: string, display: string, v: number): ObservationComponent => ({ code: loinc(code, display), valueQuantity: ucum(v, 'mm[Hg]', 'mmHg') });
    observation(loinc('85354-9', 'Blood pressure panel with all children optional', 'Blood pressure'), undefined, {
      component: [component('8480-6', 'Systolic blood pressure', systolic), component('8462-4', 'Diastolic blood pressure', diastolic)],
    });
    visit.findings.push(`BP ${systolic}/${diastolic} mmHg`);
  }
  const heartRate = Math.round(age < 1 ? rnd.normal(132, 10) : age < 10 ? rnd.normal(96, 9) : ctx.has('atrialFibrillation') ? rnd.normal(86, 12) : rnd.normal(73, 8) + (options.febrile ? 14 : 0));
  observation(loinc('8867-4', 'Heart rate'), ucum(heartRate, '/min', 'beats/minute'));
  const respRate = Math.round(age < 1 ? rnd.normal(36, 4) : age < 6 ? rnd.normal(25, 3) : age < 13 ? rnd.normal(20, 2) : rnd.normal(15, 2) + (options.hypoxic ? 6 : 0));
  observation(loinc('9279-1', 'Respiratory rate'), ucum(respRate, '/min', 'breaths/minute'));
  const temp = round(options.febrile ? rnd.normal(38.4, 0.4) : rnd.normal(36.8, 0.25), 1);
  observation(loinc('8310-5', 'Body temperature'), ucum(temp, 'Cel', 'C'));
  const spo2 = Math.round(clamp(options.hypoxic ? rnd.normal(91, 2) : ctx.has('copd') ? rnd.normal(93, 1.5) : rnd.normal(98, 1), 82, 100));
  observation(
    { coding: [{ system: SYSTEM.loinc, code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' }, { system: SYSTEM.loinc, code: '2708-6', display: 'Oxygen saturation in Arterial blood' }], text: 'Oxygen saturation' },
    ucum(spo2, '%'),
  );
  visit.findings.push(`HR ${heartRate}/min, RR ${respRate}/min, T ${temp} C, SpO2 ${spo2}%`);

  const size = bodySizeAt(ctx, at);
  const weight = round(size.weightKg * (1 + rnd.normal(0, 0.012)), age < 2 ? 2 : 1);
  observation(loinc('29463-7', 'Body weight'), ucum(weight, 'kg'));
  let line = `Weight ${weight} kg`;
  if (options.full) {
    const height = round(size.heightCm, 1);
    observation(loinc('8302-2', 'Body height'), ucum(height, 'cm'));
    line += `, height ${height} cm`;
    if (age >= 2) {
      const bmi = round(weight / (height / 100) ** 2, 1);
      observation(loinc('39156-5', 'Body mass index (BMI) [Ratio]'), ucum(bmi, 'kg/m2'));
      line += `, BMI ${bmi} kg/m2`;
    }
    if (age >= 2 && age < 20) {
      const p = percentile(ctx.body.bmiZ);
      observation(loinc('59576-9', 'Body mass index (BMI) [Percentile] Per age and sex'), ucum(p, '%'));
      line += ` (BMI-for-age ${p}th percentile)`;
    }
    if (age < 3) {
      const p = percentile(ctx.body.bmiZ * 0.9 + ctx.body.heightZ * 0.1);
      observation(loinc('77606-2', 'Weight-for-length Per age and sex'), ucum(p, '%'));
      const head = round(size.headCm ?? 49, 1);
      observation(loinc('9843-4', 'Head Occipital-frontal circumference'), ucum(head, 'cm'));
      line += `, head circumference ${head} cm, weight-for-length ${p}th percentile`;
    }
  }
  visit.findings.push(line);

  // The panel groups the individual vital signs taken together (US Core vital signs panel).
  const panel: Observation = {
    resourceType: 'Observation',
    id: ctx.id('obs'),
    ...(visit.sensitivity ? { meta: securityMeta([visit.sensitivity]) } : {}),
    status: 'final',
    category: [VITALS],
    code: loinc('85353-1', 'Vital signs, weight, height, head circumference, oxygen saturation and BMI panel', 'Vital signs panel'),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: when,
    hasMember: members.map((m): Ref => ({ reference: `Observation/${m.id}` })),
  };
  ctx.add(panel);
  for (const m of members) ctx.add(m);
  return [panel, ...members];
}
