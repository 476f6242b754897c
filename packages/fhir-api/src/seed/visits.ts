/**
 * Turns a planned visit into resources: the encounter and its appointment, then what happens at
 * that kind of visit (vitals, screening, labs, imaging, diagnoses, prescriptions and fills,
 * procedures), the note, the payer's statements and a provenance for all of it.
 */
import type { Condition } from '@medplum/fhirtypes';
import { explanationsOfBenefit } from './clinical/billing.js';
import { CHRONIC, type AcuteDiagnosis } from './clinical/condition-catalog.js';
import { encounterDiagnosis, followUpDiagnosis } from './clinical/conditions.js';
import { DRUGS, type Drug } from './clinical/drugs.js';
import { appointment, closeVisit, openVisit, type Setting } from './clinical/encounters.js';
import { radiologyStudy } from './clinical/imaging.js';
import { anyAbnormal, labOrder } from './clinical/labs.js';
import type { PanelKey } from './clinical/lab-catalog.js';
import { dispense, prescribe } from './clinical/medications.js';
import { clinicalNote, noteText } from './clinical/notes.js';
import { PROCEDURES } from './clinical/procedure-catalog.js';
import { procedure } from './clinical/procedures.js';
import { provenance } from './clinical/provenance.js';
import { depressionScreen, hungerVitalSign, smokingStatus } from './clinical/social.js';
import type { Visit, VisitPlan } from './clinical/visit.js';
import { vitalSigns } from './clinical/vitals.js';
import type { ActiveDrug, RecordContext } from './context.js';
import { CLINICIANS, clinicianBy, type Clinician } from './shared.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from './time.js';
import type { Ref } from './terminology.js';

const INFECTIONS = new Set(['viral-pharyngitis', 'strep-throat', 'otitis-media', 'sinusitis', 'covid-19', 'pneumonia', 'bronchitis']);

export function runVisit(ctx: RecordContext, plan: VisitPlan): Visit {
  const first = ctx.resources.length;
  const visit = buildVisit(ctx, plan);
  provenance(ctx, ctx.resources.slice(first), visit.end, { clinician: visit.clinician, org: visit.org });
  // The payer is the source of its statements.
  const statements = explanationsOfBenefit(ctx, visit);
  if (ctx.insurance) provenance(ctx, statements, visit.end, { org: ctx.insurance.payer });
  return visit;
}

function buildVisit(ctx: RecordContext, plan: VisitPlan): Visit {
  switch (plan.kind) {
    case 'wellness':
      return wellness(ctx, plan);
    case 'followUp':
    case 'virtual':
      return followUp(ctx, plan);
    case 'acute':
      return acute(ctx, plan);
    case 'emergency':
      return emergency(ctx, plan);
    case 'inpatient':
      return plan.procedure ? surgery(ctx, plan) : admission(ctx, plan);
    case 'behavioral':
      return behavioral(ctx, plan);
    case 'procedure':
      return outpatientProcedure(ctx, plan);
    case 'imaging':
      return imaging(ctx, plan);
    case 'confidential':
      return confidential(ctx, plan);
  }
}

const clinic = (ctx: RecordContext): Pick<Setting, 'clinician' | 'location' | 'org'> => ({ clinician: ctx.pcp, location: ctx.clinic.location, org: ctx.clinic.org });
const siteOf = (c: Clinician): Pick<Setting, 'clinician' | 'location' | 'org'> => ({ clinician: c, location: c.location, org: c.org });

/** Opens the encounter with its (fulfilled) appointment; a few visits were rescheduled once first. */
function scheduled(ctx: RecordContext, plan: VisitPlan, setting: Setting, description: string): Visit {
  const visit = openVisit(ctx, plan, setting);
  if (ctx.rnd.chance(0.06)) {
    appointment(ctx, { kind: plan.kind, start: plan.at - ctx.rnd.int(3, 14) * DAY_MS, minutes: setting.minutes, clinician: setting.clinician, location: setting.location, status: ctx.rnd.chance(0.5) ? 'cancelled' : 'noshow', description, ...(setting.sensitivity ? { sensitivity: setting.sensitivity } : {}) });
  }
  const appt = appointment(ctx, { kind: plan.kind, start: plan.at, minutes: setting.minutes, clinician: setting.clinician, location: setting.location, status: visit.end < ctx.now ? 'fulfilled' : 'arrived', description, ...(setting.sensitivity ? { sensitivity: setting.sensitivity } : {}) });
  visit.encounter.appointment = [{ reference: `Appointment/${appt.id}` }];
  return visit;
}

/** Refills of long-term drugs current at the visit. */
function refills(ctx: RecordContext, visit: Visit, probability = 0.6): void {
  for (const d of ctx.drugs) {
    const from = Date.parse(d.request.authoredOn!);
    if (from <= visit.start && visit.start < (d.until ?? Infinity) && ctx.rnd.chance(probability)) dispense(ctx, d, visit.end);
  }
}

/** Prescribes the first drug of the list the patient is not allergic to, and fills it. */
function treat(ctx: RecordContext, visit: Visit, drugKeys: readonly (keyof typeof DRUGS)[], reason: Condition | undefined, category?: 'discharge'): void {
  const drug: Drug | undefined = drugKeys.map((k) => DRUGS[k] as Drug).find((d) => !d.avoidIfAllergic || !ctx.allergyClasses.has(d.avoidIfAllergic));
  if (!drug) return;
  const request = prescribe(ctx, drug, {
    at: visit.end - 5 * MINUTE_MS,
    prescriber: visit.clinician,
    encounter: visit.ref,
    ...(reason ? { reason: { reference: `Condition/${reason.id}` } } : {}),
    ...(category ? { category } : {}),
    ...(visit.sensitivity ? { sensitivity: visit.sensitivity } : {}),
  });
  const course: ActiveDrug = { drug, request, start: visit.end, fills: 0 };
  dispense(ctx, course, visit.end);
  visit.plans.push(`Start ${drug.display}: ${drug.dosage.text}`);
}

function billVisit(visit: Visit, cpt: readonly [string, string, number]): void {
  visit.bill.unshift({ cpt, at: visit.start, ...(visit.sensitivity ? { labels: [visit.sensitivity] } : {}) });
}

function preventiveCpt(age: number): readonly [string, string, number] {
  if (age < 1) return ['99391', 'Periodic comprehensive preventive medicine reevaluation, established patient; infant (age younger than 1 year)', 180];
  if (age < 5) return ['99392', 'Periodic comprehensive preventive medicine reevaluation, established patient; early childhood (age 1 through 4 years)', 190];
  if (age < 12) return ['99393', 'Periodic comprehensive preventive medicine reevaluation, established patient; late childhood (age 5 through 11 years)', 190];
  if (age < 18) return ['99394', 'Periodic comprehensive preventive medicine reevaluation, established patient; adolescent (age 12 through 17 years)', 210];
  if (age < 40) return ['99395', 'Periodic comprehensive preventive medicine reevaluation, established patient; 18-39 years', 230];
  if (age < 65) return ['99396', 'Periodic comprehensive preventive medicine reevaluation, established patient; 40-64 years', 250];
  return ['99397', 'Periodic comprehensive preventive medicine reevaluation, established patient; 65 years and older', 270];
}

function wellness(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const age = ctx.ageAt(plan.at);
  const child = age < 18;
  const visit = scheduled(ctx, plan, { ...clinic(ctx), minutes: child ? 30 : 40, reason: child ? 'Well child visit' : 'Annual preventive visit' }, child ? 'Well child visit' : 'Annual physical');
  vitalSigns(ctx, visit, { full: true });
  if (age >= 13) smokingStatus(ctx, visit);
  if (plan.screen || rnd.chance(0.5)) hungerVitalSign(ctx, visit);
  if (age >= 12 && rnd.chance(0.6)) depressionScreen(ctx, visit);

  const panels: PanelKey[] = [];
  if (!child) {
    if ((age >= 35 || ctx.has('hyperlipidemia')) && rnd.chance(0.6)) panels.push('lipid');
    if (rnd.chance(0.3)) panels.push('cbc');
    if (rnd.chance(0.4) || ctx.has('hypertension')) panels.push('bmp');
    if ((ctx.has('diabetes') || ctx.has('obesity') || age >= 45) && rnd.chance(0.5)) panels.push('a1c');
  } else if (age >= 0.9 && age < 1.4) {
    panels.push('cbc'); // anemia screening at 12 months
  }
  if (plan.resultStatus && panels.length === 0) panels.push('cbc');
  labOrder(ctx, visit, panels, plan.resultStatus ? { status: plan.resultStatus } : {});
  // Routine screening of sensitive infections: labelled, and billed separately.
  if (age >= 15 && age <= 65 && rnd.chance(0.12)) labOrder(ctx, visit, ['hiv']);
  if (ctx.spec.gender === 'female' && age >= 16 && age <= 24 && rnd.chance(0.5)) labOrder(ctx, visit, ['chlamydia']);

  if (!child && ctx.drugs.filter((d) => d.request.status === 'active').length >= 2 && rnd.chance(0.5)) {
    procedure(ctx, PROCEDURES.medicationReconciliation, { at: visit.start + 20 * MINUTE_MS, minutes: 10, performer: visit.clinician, location: visit.location, encounter: visit.ref });
    visit.plans.push('Medication list reconciled with the patient.');
  }
  refills(ctx, visit);
  visit.plans.push(child ? 'Anticipatory guidance given; immunizations per schedule.' : 'Age-appropriate cancer screening and immunizations reviewed.');
  visit.plans.push(child ? 'Next well visit per the periodicity schedule.' : 'Return in one year or sooner as needed.');
  billVisit(visit, preventiveCpt(age));
  closeVisit(ctx, visit);
  clinicalNote(ctx, visit, 'progress', noteText(ctx, visit, child ? 'Well child visit' : 'Annual preventive visit', child ? 'here for a routine well visit, accompanied by a parent. No concerns.' : 'here for an annual physical. Feels well; no new complaints.'));
  return visit;
}

function followUp(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const def = CHRONIC[plan.focus!];
  const active = ctx.conditions.get(def.key);
  const virtual = plan.kind === 'virtual';
  const specialist = def.specialist && !def.sensitivity && rnd.chance(0.4) ? clinicianBy(def.specialist) : undefined;
  const setting: Setting = {
    ...(specialist ? siteOf(specialist) : clinic(ctx)),
    minutes: virtual ? 20 : 25,
    reason: `Follow-up of ${def.snomed[1].replace(/ \(disorder\)$/, '').toLowerCase()}`,
    ...(def.sensitivity ? { sensitivity: def.sensitivity } : {}),
  };
  const visit = scheduled(ctx, plan, setting, virtual ? 'Video visit' : 'Follow-up visit');
  if (!virtual) vitalSigns(ctx, visit, { full: rnd.chance(0.5) });
  visit.diagnoses.push(followUpDiagnosis(ctx, def, visit.ref, visit.start, visit.clinician));
  ctx.add(visit.diagnoses[0]!);
  const panels: PanelKey[] = virtual ? [] : [...def.labs];
  if (plan.resultStatus && panels.length === 0) panels.push('cbc', 'bmp');
  const results = labOrder(ctx, visit, panels, {
    ...(plan.resultStatus ? { status: plan.resultStatus } : {}),
    ...(active ? { reason: [{ reference: `Condition/${active.condition.id}` }] } : {}),
  });
  refills(ctx, visit, 0.7);
  if (def.key === 'hypertension' && !ctx.drugs.some((d) => d.drug.key === 'amlodipine') && rnd.chance(0.2)) {
    const request = prescribe(ctx, DRUGS.amlodipine, { at: visit.end, prescriber: visit.clinician, encounter: visit.ref, ...(active ? { reason: { reference: `Condition/${active.condition.id}` } } : {}) });
    const added: ActiveDrug = { drug: DRUGS.amlodipine, request, start: visit.end, fills: 0 };
    ctx.drugs.push(added);
    dispense(ctx, added, visit.end);
    visit.plans.push('Blood pressure above goal: added amlodipine 5 mg daily.');
  }
  visit.plans.push(anyAbnormal(results) ? 'Abnormal results reviewed with the patient; repeat in 3 months.' : 'Condition stable on current treatment; continue.');
  visit.plans.push(`Follow up in ${rnd.pick([3, 6])} months.`);
  billVisit(visit, virtual ? ['99213', 'Office or other outpatient visit, established patient, low medical decision making (telehealth)', 110] : ['99214', 'Office or other outpatient visit, established patient, moderate medical decision making', 165]);
  closeVisit(ctx, visit);
  const type = specialist ? 'consult' : 'progress';
  clinicalNote(ctx, visit, type, noteText(ctx, visit, virtual ? 'Telehealth follow-up' : specialist ? `${specialist.taxonomy[1]} consultation` : 'Follow-up visit', `seen for follow-up of ${def.snomed[1].replace(/ \(disorder\)$/, '').toLowerCase()}. Reports adherence to medications.`));
  return visit;
}

function acute(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const dx = plan.acute!;
  const nurse = CLINICIANS.find((c) => c.specialty === 'nursePractitioner')!;
  const clinician = ctx.ageAt(plan.at) >= 18 && rnd.chance(0.3) ? nurse : ctx.pcp;
  const visit = scheduled(ctx, plan, { ...clinic(ctx), clinician, minutes: 20, reason: dx.complaint }, `Same-day visit: ${dx.complaint}`);
  vitalSigns(ctx, visit, { full: false, febrile: INFECTIONS.has(dx.key) && rnd.chance(0.7) });
  const condition = ctx.add(encounterDiagnosis(ctx, dx, visit.ref, visit.start, clinician));
  visit.diagnoses.push(condition);
  labOrder(ctx, visit, dx.labs, { reason: [{ reference: `Condition/${condition.id}` }] });
  treat(ctx, visit, dx.drugs, condition);
  visit.plans.push('Return if symptoms worsen or do not improve within a week.');
  billVisit(visit, ['99213', 'Office or other outpatient visit, established patient, low medical decision making', 120]);
  closeVisit(ctx, visit);
  clinicalNote(ctx, visit, 'progress', noteText(ctx, visit, 'Sick visit', `presents with ${dx.complaint}.`));
  return visit;
}

function emergency(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const dx = plan.acute!;
  const visit = openVisit(ctx, plan, { ...siteOf(clinicianBy('emergency')), minutes: rnd.int(150, 400), reason: dx.complaint });
  vitalSigns(ctx, visit, { full: false, febrile: INFECTIONS.has(dx.key) });
  const condition = ctx.add(encounterDiagnosis(ctx, dx, visit.ref, visit.start, visit.clinician));
  visit.diagnoses.push(condition);
  const reason: Ref[] = [{ reference: `Condition/${condition.id}` }];
  labOrder(ctx, visit, dx.labs, { reason });
  if (dx.imaging) radiologyStudy(ctx, visit, dx.imaging, { indication: dx.complaint, abnormal: rnd.chance(0.3) });
  treat(ctx, visit, dx.drugs, condition, 'discharge');
  visit.plans.push('Discharged home in stable condition with return precautions; follow up with primary care in 1 week.');
  billVisit(visit, ['99284', 'Emergency department visit, moderate medical decision making', 650]);
  closeVisit(ctx, visit, { code: 'home', display: 'Home', admitSource: ['emd', 'From accident/emergency department'] });
  clinicalNote(ctx, visit, 'emergency', noteText(ctx, visit, 'Emergency department note', `presents to the emergency department with ${dx.complaint}.`));
  return visit;
}

function admission(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const dx: AcuteDiagnosis = plan.acute!;
  const hospitalist = clinicianBy('internal');
  const visit = openVisit(ctx, plan, { clinician: hospitalist, location: 'hospital', org: 'hospital', minutes: rnd.int(2, 5) * 24 * 60 + rnd.int(0, 600), reason: dx.complaint });
  vitalSigns(ctx, visit, { full: true, febrile: true, hypoxic: dx.key === 'pneumonia' });
  const condition = ctx.add(encounterDiagnosis(ctx, dx, visit.ref, visit.start, hospitalist));
  visit.diagnoses.push(condition);
  const reason: Ref[] = [{ reference: `Condition/${condition.id}` }];
  labOrder(ctx, visit, dx.labs, { reason });
  if (dx.imaging) radiologyStudy(ctx, visit, dx.imaging, { indication: dx.complaint, abnormal: true });
  clinicalNote(ctx, visit, 'historyAndPhysical', noteText(ctx, visit, 'History and physical', `admitted with ${dx.complaint}.`), { at: visit.start + 3 * HOUR_MS });
  // Next-morning labs and discharge vitals share the visit's findings and bill.
  labOrder(ctx, { ...visit, start: visit.start + DAY_MS }, ['bmp'], { reason });
  visit.findings.push('At discharge:');
  vitalSigns(ctx, { ...visit, start: visit.end - 3 * HOUR_MS }, { full: false });
  treat(ctx, visit, dx.drugs, condition, 'discharge');
  const snf = ctx.ageAt(plan.at) >= 75 && rnd.chance(0.4);
  visit.plans.push(snf ? 'Discharged to a skilled nursing facility for rehabilitation.' : 'Discharged home; follow up with primary care within 7 days.');
  billVisit(visit, ['99238', 'Hospital inpatient or observation discharge day management; 30 minutes or less', 160]);
  billVisit(visit, ['99223', 'Initial hospital inpatient or observation care, high medical decision making', 420]);
  closeVisit(ctx, visit, snf ? { code: 'snf', display: 'Skilled nursing facility', admitSource: ['emd', 'From accident/emergency department'] } : { code: 'home', display: 'Home', admitSource: ['emd', 'From accident/emergency department'] });
  clinicalNote(ctx, visit, 'discharge', noteText(ctx, visit, 'Discharge summary', `admitted with ${dx.complaint}; treated and improved.`));
  return visit;
}

function surgery(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const def = plan.procedure!;
  const surgeon = def.implant === 'pacemaker' || def.implant === 'coronaryStent' ? clinicianBy('cardiology') : clinicianBy('orthopedics');
  const visit = openVisit(ctx, plan, { clinician: surgeon, location: 'hospital', org: 'hospital', minutes: rnd.int(1, 3) * 24 * 60 + rnd.int(0, 300), reason: `Elective ${def.snomed[1].replace(/ \(procedure\)$/, '').toLowerCase()}` });
  vitalSigns(ctx, visit, { full: true });
  const indication = def.implant === 'pacemaker' ? ctx.conditions.get('atrialFibrillation') : def.implant === 'kneeProsthesis' ? ctx.conditions.get('kneeOsteoarthritis') : def.implant === 'coronaryStent' ? ctx.conditions.get('coronaryDisease') : undefined;
  if (indication) visit.diagnoses.push(ctx.add(followUpDiagnosis(ctx, indication.def, visit.ref, visit.start, surgeon)));
  labOrder(ctx, visit, ['cbc', 'bmp']);
  clinicalNote(ctx, visit, 'historyAndPhysical', noteText(ctx, visit, 'Pre-operative history and physical', `admitted for ${def.snomed[1].replace(/ \(procedure\)$/, '').toLowerCase()}.`), { at: visit.start + 2 * HOUR_MS });
  const { device } = procedure(ctx, def, { at: visit.start + 4 * HOUR_MS, minutes: rnd.int(60, 150), performer: surgeon, location: 'hospital', encounter: visit.ref, ...(indication ? { reason: { reference: `Condition/${indication.condition.id}` } } : {}) });
  visit.findings.push(`Procedure: ${def.snomed[1].replace(/ \(procedure\)$/, '')} without complication.${device ? ` Implant: ${device.deviceName?.[0]?.name}, UDI ${device.udiCarrier?.[0]?.carrierHRF}.` : ''}`);
  clinicalNote(ctx, visit, 'procedure', noteText(ctx, visit, 'Operative note', `underwent ${def.snomed[1].replace(/ \(procedure\)$/, '').toLowerCase()}.`), { at: visit.start + 7 * HOUR_MS });
  treat(ctx, visit, def.implant === 'kneeProsthesis' || def.implant === 'hipProsthesis' ? ['oxycodoneAcetaminophen'] : ['acetaminophen'], indication?.condition, 'discharge');
  visit.plans.push('Discharged home with physical therapy; wound check in 2 weeks.');
  visit.bill.push({ cpt: def.cpt, at: visit.start + 4 * HOUR_MS });
  billVisit(visit, ['99238', 'Hospital inpatient or observation discharge day management; 30 minutes or less', 160]);
  closeVisit(ctx, visit, { code: 'home', display: 'Home', admitSource: ['outp', 'From outpatient department'] });
  clinicalNote(ctx, visit, 'discharge', noteText(ctx, visit, 'Discharge summary', `admitted electively for ${def.snomed[1].replace(/ \(procedure\)$/, '').toLowerCase()}; uneventful recovery.`));
  return visit;
}

function behavioral(ctx: RecordContext, plan: VisitPlan): Visit {
  const def = CHRONIC[plan.focus ?? 'depression'];
  const visit = scheduled(ctx, plan, { ...siteOf(clinicianBy('psychiatry')), minutes: 50, reason: 'Behavioral health follow-up', sensitivity: 'PSY' }, 'Behavioral health visit');
  depressionScreen(ctx, visit);
  const condition = ctx.add(followUpDiagnosis(ctx, def, visit.ref, visit.start, visit.clinician));
  visit.diagnoses.push(condition);
  refills(ctx, visit, 0.9);
  visit.plans.push('Continue sertraline; weekly cognitive behavioral therapy; safety plan reviewed.');
  billVisit(visit, ['90834', 'Psychotherapy, 45 minutes with patient', 150]);
  closeVisit(ctx, visit);
  clinicalNote(ctx, visit, 'progress', noteText(ctx, visit, 'Behavioral health progress note', 'seen for depression and anxiety follow-up. Mood improving; sleep fair. Denies suicidal ideation.'));
  return visit;
}

/** An adolescent's confidential visit (sexual health): every resource is labelled. */
function confidential(ctx: RecordContext, plan: VisitPlan): Visit {
  const visit = scheduled(ctx, plan, { ...clinic(ctx), minutes: 30, reason: 'Confidential adolescent health visit', sensitivity: 'SEX' }, 'Confidential visit');
  vitalSigns(ctx, visit, { full: false });
  labOrder(ctx, visit, ['chlamydia', 'hiv']);
  visit.plans.push('Confidential counseling on sexual health and contraception; results to be discussed with the patient only.');
  billVisit(visit, ['99213', 'Office or other outpatient visit, established patient, low medical decision making', 120]);
  closeVisit(ctx, visit);
  clinicalNote(ctx, visit, 'progress', noteText(ctx, visit, 'Confidential adolescent visit', 'requests confidential sexual health counseling and testing.'));
  return visit;
}

function outpatientProcedure(ctx: RecordContext, plan: VisitPlan): Visit {
  const { rnd } = ctx;
  const def = plan.procedure!;
  const visit = scheduled(ctx, plan, { ...siteOf(clinicianBy('gastroenterology')), minutes: rnd.int(60, 120), reason: 'Screening colonoscopy' }, 'Procedure: colonoscopy');
  vitalSigns(ctx, visit, { full: false });
  procedure(ctx, def, { at: visit.start + 30 * MINUTE_MS, minutes: 30, performer: visit.clinician, location: visit.location, encounter: visit.ref });
  visit.findings.push(rnd.chance(0.3) ? 'Colonoscopy to the cecum: two diminutive polyps removed with cold snare.' : 'Colonoscopy to the cecum: normal mucosa, no polyps.');
  visit.plans.push('Repeat screening colonoscopy in 10 years unless pathology indicates otherwise.');
  visit.bill.push({ cpt: def.cpt, at: visit.start });
  closeVisit(ctx, visit);
  clinicalNote(ctx, visit, 'procedure', noteText(ctx, visit, 'Procedure note: colonoscopy', 'here for screening colonoscopy. Bowel preparation adequate.'));
  return visit;
}

function imaging(ctx: RecordContext, plan: VisitPlan): Visit {
  const migraine = plan.focus === 'migraine';
  const visit = scheduled(ctx, plan, { clinician: clinicianBy('radiology'), location: 'imaging', org: 'hospital', minutes: 45, reason: migraine ? 'Chronic headaches' : 'Lung cancer screening' }, migraine ? 'MRI brain' : 'CT chest');
  radiologyStudy(ctx, visit, migraine ? 'mrBrain' : 'ctChest', { indication: migraine ? 'Chronic migraine with change in pattern.' : 'Lung cancer screening; long smoking history.' });
  closeVisit(ctx, visit);
  return visit;
}
