/**
 * Immunization history (CVX) following the US schedule for the patient's age: the childhood series,
 * adolescent and adult vaccines, and a flu shot most seasons. Doses given before the patient's
 * history at this organisation are recorded as reported from a written record.
 */
import type { Immunization } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { locationRef, practitionerRef } from '../shared.js';
import { SYSTEM, concept, coding } from '../terminology.js';
import { DAY_MS, HOUR_MS, YEAR_MS, dateTime } from '../time.js';

const CVX = {
  hepBPed: ['08', 'Hep B, adolescent or pediatric'],
  dtap: ['20', 'DTaP'],
  ipv: ['10', 'IPV'],
  hib: ['49', 'Hib (PRP-OMP)'],
  pcv13: ['133', 'Pneumococcal conjugate PCV 13'],
  rotavirus: ['116', 'rotavirus, pentavalent'],
  mmr: ['03', 'MMR'],
  varicella: ['21', 'varicella'],
  hepA: ['83', 'Hep A, ped/adol, 2 dose'],
  tdap: ['115', 'Tdap'],
  hpv: ['165', 'HPV9'],
  menacwy: ['114', 'meningococcal MCV4P'],
  td: ['113', 'Td (adult) preservative free'],
  zoster: ['187', 'zoster vaccine recombinant'],
  ppsv23: ['33', 'pneumococcal polysaccharide PPV23'],
  covid: ['208', 'SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose'],
  flu: ['140', 'Influenza, seasonal, injectable, preservative free'],
} as const;
type VaccineKey = keyof typeof CVX;

/** [vaccine, age in months] for the childhood and adolescent series. */
const CHILD_SCHEDULE: readonly (readonly [VaccineKey, number])[] = [
  ['hepBPed', 0], ['hepBPed', 1], ['hepBPed', 6],
  ['dtap', 2], ['dtap', 4], ['dtap', 6], ['dtap', 15], ['dtap', 48],
  ['ipv', 2], ['ipv', 4], ['ipv', 6], ['ipv', 48],
  ['hib', 2], ['hib', 4], ['hib', 12],
  ['pcv13', 2], ['pcv13', 4], ['pcv13', 6], ['pcv13', 12],
  ['rotavirus', 2], ['rotavirus', 4], ['rotavirus', 6],
  ['mmr', 12], ['mmr', 48], ['varicella', 12], ['varicella', 48], ['hepA', 12], ['hepA', 18],
  ['tdap', 132], ['hpv', 132], ['hpv', 138], ['menacwy', 132], ['menacwy', 192],
];

const SITES = [
  ['LA', 'Left arm'], ['RA', 'Right arm'], ['LT', 'Left thigh'], ['RT', 'Right thigh'],
] as const;

export function immunizations(ctx: RecordContext, historyStart: number): void {
  const { rnd, now, birth } = ctx;
  const doses: { vaccine: VaccineKey; at: number }[] = [];
  // Most adults' childhood doses never reached this organisation's record; some brought a copy.
  const childhoodRecord = ctx.ageAt(historyStart) < 18 || rnd.chance(0.2);
  for (const [vaccine, months] of childhoodRecord ? CHILD_SCHEDULE : []) {
    const at = birth + months * 30.44 * DAY_MS + rnd.int(0, 20) * DAY_MS;
    // Some doses are simply missing, as in real records.
    if (at < now - DAY_MS && rnd.chance(0.95)) doses.push({ vaccine, at });
  }
  const age = ctx.age;
  if (age >= 19) {
    for (let y = 19; y <= age; y += 10) doses.push({ vaccine: y === 19 ? 'tdap' : 'td', at: birth + (y + rnd.next()) * YEAR_MS });
  }
  if (age >= 50 && rnd.chance(0.7)) {
    const first = birth + (50 + rnd.next() * (Math.min(age, 65) - 50)) * YEAR_MS;
    doses.push({ vaccine: 'zoster', at: first }, { vaccine: 'zoster', at: first + rnd.int(60, 180) * DAY_MS });
  }
  if (age >= 65 && rnd.chance(0.75)) doses.push({ vaccine: 'ppsv23', at: birth + (65 + rnd.next() * (age - 65)) * YEAR_MS });
  // COVID-19 primary series in 2021 for anyone old enough then.
  const covidStart = Date.UTC(2021, 3, 1) + rnd.int(0, 200) * DAY_MS;
  if (ctx.ageAt(covidStart) >= 12 && rnd.chance(0.7)) doses.push({ vaccine: 'covid', at: covidStart }, { vaccine: 'covid', at: covidStart + 21 * DAY_MS });
  // Seasonal flu, September–November, for the last few seasons.
  const thisYear = new Date(now).getUTCFullYear();
  for (let season = thisYear - 5; season <= thisYear; season++) {
    const at = Date.UTC(season, 8, 15) + rnd.int(0, 70) * DAY_MS;
    if (at < now && ctx.ageAt(at) >= 0.5 && rnd.chance(0.55)) doses.push({ vaccine: 'flu', at });
  }
  doses.sort((a, b) => a.at - b.at);

  for (const { vaccine, at } of doses) {
    if (at > now - DAY_MS || at < birth) continue;
    const [code, display] = CVX[vaccine];
    const given = at >= historyStart;
    const refused = given && vaccine === 'flu' && rnd.chance(0.08);
    const site = rnd.pick(SITES);
    const time = at - (at % DAY_MS) + (9 + rnd.int(0, 7)) * HOUR_MS;
    ctx.add<Immunization>({
      resourceType: 'Immunization',
      id: ctx.id('imm'),
      status: refused ? 'not-done' : 'completed',
      ...(refused ? { statusReason: concept(SYSTEM.actReason, 'PATOBJ', 'patient objection') } : {}),
      vaccineCode: { coding: [coding(SYSTEM.cvx, code, display)], text: display },
      patient: ctx.patientRef,
      occurrenceDateTime: dateTime(time),
      recorded: dateTime(time),
      primarySource: given,
      ...(given
        ? {
            location: locationRef(ctx.clinic.location),
            performer: [{ function: concept('http://terminology.hl7.org/CodeSystem/v2-0443', 'AP', 'Administering Provider'), actor: practitionerRef(ctx.pcp) }],
            ...(refused ? {} : {
              lotNumber: `${code.padStart(3, '0')}${rnd.digits(5)}`,
              ...(vaccine === 'rotavirus'
                ? { route: concept('http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', 'PO', 'Swallow, oral') }
                : {
                    site: concept('http://terminology.hl7.org/CodeSystem/v3-ActSite', site[0], site[1]),
                    route: concept('http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', 'IM', 'Injection, intramuscular'),
                  }),
            }),
          }
        : { reportOrigin: concept('http://terminology.hl7.org/CodeSystem/immunization-origin', 'record', 'Written Record') }),
    });
  }
}
