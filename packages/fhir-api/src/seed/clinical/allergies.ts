/** AllergyIntolerance: drug (RxNorm), food and environmental (SNOMED CT) allergies, or "no known allergy". */
import type { AllergyIntolerance, AllergyIntoleranceReaction } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { practitionerRef } from '../shared.js';
import { SYSTEM, concept } from '../terminology.js';
import { DAY_MS, YEAR_MS, date, dateTime } from '../time.js';

interface AllergyDef {
  system: string;
  code: string;
  display: string;
  category: 'medication' | 'food' | 'environment';
  criticality: 'low' | 'high';
  reactions: readonly (readonly [string, string])[];
  drugClass?: 'penicillin' | 'sulfonamide';
  weight: number;
}

const HIVES = ['247472004', 'Wheal (finding)'] as const;
const RASH = ['271807003', 'Eruption of skin (disorder)'] as const;
const ANAPHYLAXIS = ['39579001', 'Anaphylaxis (disorder)'] as const;
const NAUSEA = ['422587007', 'Nausea (finding)'] as const;
const DYSPNEA = ['267036007', 'Dyspnea (finding)'] as const;
const SNEEZING = ['76067001', 'Sneezing (finding)'] as const;

const ALLERGIES: readonly AllergyDef[] = [
  { system: SYSTEM.rxnorm, code: '70618', display: 'penicillin', category: 'medication', criticality: 'high', reactions: [HIVES, ANAPHYLAXIS], drugClass: 'penicillin', weight: 10 },
  { system: SYSTEM.rxnorm, code: '10180', display: 'sulfamethoxazole', category: 'medication', criticality: 'low', reactions: [RASH], drugClass: 'sulfonamide', weight: 4 },
  { system: SYSTEM.rxnorm, code: '2670', display: 'codeine', category: 'medication', criticality: 'low', reactions: [NAUSEA], weight: 3 },
  { system: SYSTEM.snomed, code: '762952008', display: 'Peanut (substance)', category: 'food', criticality: 'high', reactions: [ANAPHYLAXIS, HIVES], weight: 4 },
  { system: SYSTEM.snomed, code: '44027008', display: 'Seafood (substance)', category: 'food', criticality: 'high', reactions: [HIVES, DYSPNEA], weight: 3 },
  { system: SYSTEM.snomed, code: '111088007', display: 'Latex (substance)', category: 'environment', criticality: 'low', reactions: [RASH], weight: 2 },
  { system: SYSTEM.snomed, code: '288328004', display: 'Bee venom (substance)', category: 'environment', criticality: 'high', reactions: [ANAPHYLAXIS], weight: 2 },
  { system: SYSTEM.snomed, code: '260147004', display: 'House dust mite (organism)', category: 'environment', criticality: 'low', reactions: [SNEEZING], weight: 4 },
];

/** 0–3 allergies, or an explicit "no known allergy" entry (US Core's way to say "asked, none"). */
export function allergies(ctx: RecordContext, forced: readonly ('penicillin' | 'sulfonamide')[] = []): void {
  const { rnd } = ctx;
  const count = forced.length > 0 ? 0 : rnd.weighted([[0, 55], [1, 30], [2, 11], [3, 4]] as const);
  const chosen = ALLERGIES.filter((a) => a.drugClass && forced.includes(a.drugClass));
  while (chosen.length < forced.length + count) {
    const a = rnd.weighted(ALLERGIES.map((x) => [x, x.weight] as const));
    if (!chosen.includes(a)) chosen.push(a);
  }
  const recorder = ctx.pcp;
  const firstSeen = Math.min(Math.max(ctx.birth + 180 * DAY_MS, ctx.now - 8 * YEAR_MS), ctx.now - 2 * DAY_MS);
  if (chosen.length === 0) {
    const at = firstSeen + rnd.next() * (ctx.now - firstSeen) * 0.3;
    ctx.add<AllergyIntolerance>({
      resourceType: 'AllergyIntolerance',
      id: ctx.id('alg'),
      clinicalStatus: concept(SYSTEM.allergyClinical, 'active', 'Active'),
      verificationStatus: concept(SYSTEM.allergyVerification, 'confirmed', 'Confirmed'),
      code: concept(SYSTEM.snomed, '716186003', 'No known allergy (situation)', 'No known allergies'),
      patient: ctx.patientRef,
      recordedDate: dateTime(at),
      recorder: practitionerRef(recorder),
    });
    return;
  }
  for (const a of chosen) {
    if (a.drugClass) ctx.allergyClasses.add(a.drugClass);
    const onset = ctx.birth + rnd.next() * Math.max(1, ctx.now - ctx.birth - 30 * DAY_MS);
    const recorded = Math.max(onset, firstSeen) + rnd.int(0, 60) * DAY_MS;
    const reaction: AllergyIntoleranceReaction = {
      manifestation: a.reactions.map(([code, display]) => concept(SYSTEM.snomed, code, display)),
      severity: a.criticality === 'high' ? 'severe' : rnd.pick(['mild', 'moderate'] as const),
    };
    ctx.add<AllergyIntolerance>({
      resourceType: 'AllergyIntolerance',
      id: ctx.id('alg'),
      clinicalStatus: concept(SYSTEM.allergyClinical, 'active', 'Active'),
      verificationStatus: rnd.chance(0.85) ? concept(SYSTEM.allergyVerification, 'confirmed', 'Confirmed') : concept(SYSTEM.allergyVerification, 'unconfirmed', 'Unconfirmed'),
      type: 'allergy',
      category: [a.category],
      criticality: a.criticality,
      code: concept(a.system, a.code, a.display, a.display.replace(/ \(.*\)$/, '')),
      patient: ctx.patientRef,
      onsetDateTime: date(onset),
      recordedDate: dateTime(Math.min(recorded, ctx.now - DAY_MS)),
      recorder: practitionerRef(recorder),
      reaction: [reaction],
    });
  }
}
