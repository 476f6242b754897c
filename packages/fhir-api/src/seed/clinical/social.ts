/**
 * Social history and screening: smoking status (US Core Smoking Status), the Hunger Vital Sign SDOH
 * screen as both a QuestionnaireResponse and survey/sdoh Observations derived from it, and PHQ-9
 * depression scores (labelled as psychiatric information when positive).
 */
import type { Coding, Observation, QuestionnaireResponse } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { SYSTEM, concept, loinc, securityMeta, ucum, type Ref } from '../terminology.js';
import { MINUTE_MS, dateTime } from '../time.js';
import { foodInsecurity } from './conditions.js';
import type { Visit } from './visit.js';

const SOCIAL_HISTORY = concept(SYSTEM.observationCategory, 'social-history', 'Social History');
const SURVEY = concept(SYSTEM.observationCategory, 'survey', 'Survey');
const SDOH = concept(SYSTEM.usCoreCategory, 'sdoh', 'SDOH');

const SMOKING: Record<RecordContext['smoking'], readonly [string, string]> = {
  never: ['266919005', 'Never smoked tobacco (finding)'],
  former: ['8517006', 'Ex-smoker (finding)'],
  current: ['449868002', 'Smokes tobacco daily (finding)'],
};

export function smokingStatus(ctx: RecordContext, visit: Visit): Observation {
  const [code, display] = SMOKING[ctx.smoking];
  visit.findings.push(`Tobacco: ${display.replace(/ \(finding\)$/, '').toLowerCase()}`);
  if (ctx.smoking === 'current') visit.plans.push('Counseled on tobacco cessation; offered nicotine replacement.');
  return ctx.add<Observation>({
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [SOCIAL_HISTORY],
    code: loinc('72166-2', 'Tobacco smoking status'),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(visit.start + 5 * MINUTE_MS),
    issued: dateTime(visit.start + 6 * MINUTE_MS),
    performer: [{ reference: `Practitioner/${visit.clinician.id}` }],
    valueCodeableConcept: concept(SYSTEM.snomed, code, display, display.replace(/ \(finding\)$/, '')),
  });
}

const HVS_ANSWERS = {
  often: { system: SYSTEM.loinc, code: 'LA28397-0', display: 'Often true' },
  sometimes: { system: SYSTEM.loinc, code: 'LA6729-3', display: 'Sometimes true' },
  never: { system: SYSTEM.loinc, code: 'LA28398-8', display: 'Never true' },
} satisfies Record<string, Coding>;
const AT_RISK: Coding = { system: SYSTEM.loinc, code: 'LA19952-3', display: 'At risk' };
const NO_RISK: Coding = { system: SYSTEM.loinc, code: 'LA19983-8', display: 'No risk' };
const HVS_Q1 = ['88122-7', 'Within the past 12 months we worried whether our food would run out before we got money to buy more [U.S. FSS]'] as const;
const HVS_Q2 = ['88123-5', 'Within the past 12 months the food we bought just didn\'t last and we didn\'t have money to get more [U.S. FSS]'] as const;
const HVS_RISK = ['88124-3', 'Food insecurity risk [HVS]'] as const;

/** Hunger Vital Sign screen: the response, the derived answers and risk, and a health concern if at risk. */
export function hungerVitalSign(ctx: RecordContext, visit: Visit): void {
  const { rnd } = ctx;
  const at = visit.start + rnd.int(0, 10) * MINUTE_MS;
  const insecure = ctx.foodInsecure;
  const a1 = insecure ? rnd.pick([HVS_ANSWERS.often, HVS_ANSWERS.sometimes]) : HVS_ANSWERS.never;
  const a2 = insecure ? rnd.pick([HVS_ANSWERS.often, HVS_ANSWERS.sometimes, HVS_ANSWERS.never]) : HVS_ANSWERS.never;
  const risk = insecure ? AT_RISK : NO_RISK;
  const author: Ref = ctx.guardians[0] && ctx.ageAt(at) < 18 ? { reference: `RelatedPerson/${ctx.guardians[0].id}` } : ctx.patientRef;

  const response = ctx.add<QuestionnaireResponse>({
    resourceType: 'QuestionnaireResponse',
    id: ctx.id('qr'),
    identifier: { system: SYSTEM.ietfUri, value: `urn:uuid:${rnd.uuid()}` },
    questionnaire: 'http://loinc.org/q/88121-9',
    status: 'completed',
    subject: ctx.patientRef,
    encounter: visit.ref,
    authored: dateTime(at),
    author,
    source: author,
    item: [
      { linkId: '/88122-7', text: HVS_Q1[1], answer: [{ valueCoding: a1 }] },
      { linkId: '/88123-5', text: HVS_Q2[1], answer: [{ valueCoding: a2 }] },
      { linkId: '/88124-3', text: HVS_RISK[1], answer: [{ valueCoding: risk }] },
    ],
  });
  const derivedFrom: Ref[] = [{ reference: `QuestionnaireResponse/${response.id}` }];
  const answer = ([code, display]: readonly [string, string], value: Coding): Observation => ({
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [SOCIAL_HISTORY, SURVEY, SDOH],
    code: loinc(code, display),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(at),
    issued: dateTime(at + MINUTE_MS),
    performer: [author],
    valueCodeableConcept: { coding: [value], text: value.display! },
    derivedFrom,
  });
  const members = [answer(HVS_Q1, a1), answer(HVS_Q2, a2), answer(HVS_RISK, risk)];
  const panel: Observation = {
    resourceType: 'Observation',
    id: ctx.id('obs'),
    status: 'final',
    category: [SOCIAL_HISTORY, SURVEY, SDOH],
    code: loinc('88121-9', 'Hunger Vital Sign [HVS]'),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(at),
    issued: dateTime(at + MINUTE_MS),
    performer: [author],
    hasMember: members.map((m) => ({ reference: `Observation/${m.id}` })),
    derivedFrom,
  };
  ctx.add(panel);
  for (const m of members) ctx.add(m);
  visit.findings.push(`Hunger Vital Sign screen: ${risk.display!.toLowerCase()} for food insecurity`);
  visit.bill.push({ cpt: ['96160', 'Administration of patient-focused health risk assessment instrument', 15], at });
  if (insecure) {
    const existing = ctx.resources.some((r) => r.resourceType === 'Condition' && r.code?.coding?.[0]?.code === '733423003');
    if (!existing) visit.diagnoses.push(ctx.add(foodInsecurity(ctx, at, [{ reference: `Observation/${panel.id}` }], visit.clinician)));
    visit.plans.push('Referred to community food pantry and SNAP enrollment assistance.');
  }
}

/** PHQ-9 total (PHQ-A for adolescents). A positive screen is psychiatric information: labelled. */
export function depressionScreen(ctx: RecordContext, visit: Visit): Observation {
  const { rnd } = ctx;
  const teen = ctx.ageAt(visit.start) < 18;
  const depressed = ctx.has('depression') || ctx.has('anxiety');
  const score = depressed ? rnd.int(8, 19) : rnd.weighted([[0, 30], [1, 25], [2, 20], [3, 12], [4, 8], [6, 5]] as const);
  const positive = score >= 5;
  const [code, display] = teen
    ? ['89204-2', 'Patient Health Questionnaire-9: Modified for Teens total score [Reported.PHQ.Teen]']
    : ['44261-6', 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]'];
  if (!positive && !visit.sensitivity) visit.findings.push(`PHQ-9 score ${score} (negative screen)`);
  const severity = score >= 20 ? 'Severe depression' : score >= 15 ? 'Moderately severe depression' : score >= 10 ? 'Moderate depression' : score >= 5 ? 'Mild depression' : 'Minimal depression';
  visit.bill.push({ cpt: ['96127', 'Brief emotional/behavioral assessment', 12], at: visit.start, ...(positive || visit.sensitivity ? { labels: ['PSY'] } : {}) });
  return ctx.add<Observation>({
    resourceType: 'Observation',
    id: ctx.id('obs'),
    ...(positive || visit.sensitivity ? { meta: securityMeta(['PSY']) } : {}),
    status: 'final',
    category: [SURVEY],
    code: loinc(code, display),
    subject: ctx.patientRef,
    encounter: visit.ref,
    effectiveDateTime: dateTime(visit.start + 8 * MINUTE_MS),
    issued: dateTime(visit.start + 9 * MINUTE_MS),
    performer: [ctx.patientRef],
    valueQuantity: ucum(score, '{score}', '{score}'),
    interpretation: [{ text: severity }],
  });
}
