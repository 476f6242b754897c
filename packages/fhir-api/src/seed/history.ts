/**
 * Plans a patient's history: how far back it reaches (sized to the resource target), the well
 * visits on schedule (pediatric periodicity or yearly physicals), and the other visits scattered
 * over the window (follow-ups, sick visits, emergencies, admissions, virtual and behavioral visits,
 * procedures and imaging). Past surgery older than the window becomes surgical history.
 */
import { ACUTE, CHRONIC, type AcuteDiagnosis, type ConditionKey } from './clinical/condition-catalog.js';
import type { ResultStatus } from './clinical/labs.js';
import { IMPLANTS, PROCEDURES, type ImplantKey, type ProcedureDef } from './clinical/procedure-catalog.js';
import type { VisitKind, VisitPlan } from './clinical/visit.js';
import type { RecordContext } from './context.js';
import { clamp } from './random.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, YEAR_MS, startOfDay } from './time.js';

export interface HistoryPlan {
  /** Start of the patient's history at this organisation. */
  start: number;
  visits: VisitPlan[];
  /** Procedures done before the history starts (surgical history), with the date. */
  pastProcedures: { procedure: ProcedureDef; at: number }[];
}

/** Well-child visits, in months of age (Bright Futures periodicity), then yearly. */
const WELL_CHILD_MONTHS = [0.15, 1, 2, 4, 6, 9, 12, 15, 18, 24, 30, 36];

/** Statuses a showcase record walks through, oldest visit first (the newest are still in the lab). */
const SHOWCASE: readonly ResultStatus[] = ['final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'preliminary', 'registered'];

export function planHistory(ctx: RecordContext, target: number): HistoryPlan {
  const { rnd, now, birth, spec } = ctx;
  const age = ctx.age;
  const chronic = ctx.conditions.size;
  const coreEstimate = 14 + (age < 18 ? Math.min(32, 6 + age * 2) : 10) + chronic * 3;
  const perVisit = age < 18 ? 17 : 24;
  const wanted = Math.max(2, Math.round((target - coreEstimate) / perVisit));
  let start: number;
  if (spec.fullHistory) {
    start = birth + 2 * DAY_MS;
  } else {
    const perYear = age < 2 ? 7 : age < 18 ? 2.5 : chronic >= 2 ? 4 : 2.5;
    start = Math.max(birth + 2 * DAY_MS, now - clamp(wanted / perYear, 0.75, 30) * YEAR_MS);
  }
  const latest = now - DAY_MS;
  const visits: VisitPlan[] = [];

  // Well visits on schedule.
  if (age < 18) {
    const months = [...WELL_CHILD_MONTHS];
    for (let m = 48; m <= 12 * 18; m += 12) months.push(m);
    for (const m of months) {
      const at = birth + m * 30.44 * DAY_MS + rnd.int(0, 10) * DAY_MS;
      if (at >= start && at < latest) visits.push({ kind: 'wellness', at });
    }
  } else {
    for (let at = now - rnd.int(20, 250) * DAY_MS, first = true; at >= start; at -= rnd.int(335, 395) * DAY_MS, first = false) {
      if (first || rnd.chance(0.8)) visits.push({ kind: 'wellness', at });
    }
  }
  const wellness = visits.filter((v) => v.kind === 'wellness');
  const newest = wellness.reduce<VisitPlan | undefined>((a, v) => (a && a.at > v.at ? a : v), undefined);
  if (newest) newest.screen = true;

  // Other visits across the window.
  const others = spec.fullHistory ? Math.max(3, Math.round(wanted / 3)) : Math.max(0, wanted - wellness.length);
  const psych = ctx.has('depression') || ctx.has('anxiety');
  for (let i = 0; i < others; i++) {
    const at = start + rnd.next() * (latest - start);
    const visitAge = ctx.ageAt(at);
    const focusable = [...ctx.conditions.values()].filter((c) => c.onset < at && !(c.def.sensitivity === 'PSY'));
    const kind = rnd.weighted<VisitKind>([
      ['followUp', focusable.length > 0 ? 30 : 0],
      ['acute', 30],
      ['emergency', 6],
      ['inpatient', visitAge > 60 ? 4 : 1.5],
      ['virtual', 6],
      ['behavioral', psych ? 12 : 0],
      ['imaging', (ctx.has('migraine') || (ctx.smoking !== 'never' && visitAge >= 50)) ? 3 : 0],
    ]);
    visits.push(describe(ctx, kind, at, focusable.map((c) => c.def.key)));
  }

  // Procedures and implants.
  const pastProcedures: HistoryPlan['pastProcedures'] = [];
  if (age >= 46 && rnd.chance(0.35)) {
    const at = Math.max(start, birth + 45 * YEAR_MS) + rnd.next() * (latest - Math.max(start, birth + 45 * YEAR_MS));
    visits.push({ kind: 'procedure', at, procedure: PROCEDURES.colonoscopy });
  }
  const implants = new Set<ImplantKey>(spec.implants ?? []);
  if (!spec.onlyListedConditions) {
    if (ctx.has('atrialFibrillation') && rnd.chance(0.3)) implants.add('pacemaker');
    if (ctx.has('kneeOsteoarthritis') && rnd.chance(0.3)) implants.add('kneeProsthesis');
    if (ctx.has('coronaryDisease') && rnd.chance(0.4)) implants.add('coronaryStent');
    if (age >= 70 && rnd.chance(0.05)) implants.add('hipProsthesis');
  }
  for (const key of implants) {
    const earliest = Math.max(birth + 45 * YEAR_MS, now - 12 * YEAR_MS);
    // Listed implants are recent, so the record has the admission that placed them.
    const at = spec.implants?.includes(key) ? now - rnd.int(40, 250) * DAY_MS : earliest + rnd.next() * (now - 30 * DAY_MS - earliest);
    const procedure = IMPLANTS[key].procedure;
    if (at >= start && at < now - 10 * DAY_MS) visits.push({ kind: 'inpatient', at, procedure });
    else pastProcedures.push({ procedure, at: Math.min(at, start - DAY_MS) });
  }
  if (age >= 12 && rnd.chance(0.08)) pastProcedures.push({ procedure: PROCEDURES.appendectomy, at: birth + rnd.next() * Math.max(0, Math.min(start, now) - birth - 8 * YEAR_MS) + 8 * YEAR_MS });
  if (age >= 8 && rnd.chance(0.08)) pastProcedures.push({ procedure: PROCEDURES.tonsillectomy, at: birth + (4 + rnd.next() * 4) * YEAR_MS });

  // Hard cases.
  if (spec.showcaseResultStatuses) {
    SHOWCASE.forEach((resultStatus, i) => {
      const at = now - (2 + (SHOWCASE.length - 1 - i) * 40) * DAY_MS;
      visits.push({ ...describe(ctx, 'followUp', at, [...ctx.conditions.keys()].filter((k) => !CHRONIC[k].sensitivity)), resultStatus });
    });
  }
  if (spec.adolescentConfidential) {
    visits.push({ kind: 'behavioral', at: now - 150 * DAY_MS, focus: 'depression' });
    visits.push({ kind: 'confidential', at: now - 75 * DAY_MS });
    visits.push({ kind: 'behavioral', at: now - 20 * DAY_MS, focus: 'depression' });
  }

  for (const extra of spec.extraVisits ?? []) {
    const visitAt = now - extra.daysAgo * DAY_MS;
    const acute = extra.acute ? ACUTE.find((a) => a.key === extra.acute) : undefined;
    visits.push({ kind: extra.kind, at: visitAt, ...(acute ? { acute } : {}), ...(extra.focus ? { focus: extra.focus } : {}) });
  }
  const oldestExtra = Math.max(0, ...(spec.extraVisits ?? []).map((v) => v.daysAgo + 1));
  start = Math.min(start, now - oldestExtra * DAY_MS);

  // Clinic hours, no two visits at the same minute; admissions end before now.
  for (const v of visits) {
    const day = startOfDay(v.at);
    v.at = v.kind === 'emergency' ? day + rnd.int(0, 23) * HOUR_MS + rnd.int(0, 59) * MINUTE_MS : day + (8 + rnd.int(0, 8)) * HOUR_MS + rnd.pick([0, 15, 30, 45]) * MINUTE_MS;
    if (v.at < birth + DAY_MS) v.at = birth + DAY_MS + 10 * HOUR_MS;
    if (v.kind === 'inpatient' && v.at > now - 7 * DAY_MS) v.at -= 7 * DAY_MS;
    if (v.at >= now) v.at = now - 3 * HOUR_MS;
  }
  visits.sort((a, b) => a.at - b.at);
  for (let i = 1; i < visits.length; i++) if (visits[i]!.at <= visits[i - 1]!.at) visits[i]!.at = visits[i - 1]!.at + 5 * MINUTE_MS;
  return { start, visits, pastProcedures };
}

function describe(ctx: RecordContext, kind: VisitKind, at: number, focusable: readonly ConditionKey[]): VisitPlan {
  const { rnd } = ctx;
  const age = ctx.ageAt(at);
  const acuteFor = (setting: AcuteDiagnosis['setting']): AcuteDiagnosis | undefined => {
    const options = ACUTE.filter((a) => a.setting === setting && age >= a.minAge && (a.maxAge === undefined || age <= a.maxAge));
    return options.length > 0 ? rnd.pick(options) : undefined;
  };
  switch (kind) {
    case 'followUp':
    case 'virtual': {
      if (focusable.length > 0) return { kind, at, focus: rnd.pick(focusable) };
      const acute = acuteFor('clinic');
      return acute ? { kind: 'acute', at, acute } : { kind: 'wellness', at };
    }
    case 'behavioral':
      return { kind, at, focus: ctx.has('depression') ? 'depression' : 'anxiety' };
    case 'acute':
    case 'emergency': {
      const acute = acuteFor(kind === 'acute' ? 'clinic' : 'emergency') ?? acuteFor('clinic');
      return acute ? { kind: kind === 'emergency' && acute.setting !== 'emergency' ? 'acute' : kind, at, acute } : { kind: 'wellness', at };
    }
    case 'inpatient': {
      const acute = acuteFor('inpatient');
      return acute ? { kind, at, acute } : { kind: 'acute', at, acute: acuteFor('clinic')! };
    }
    case 'imaging':
      return { kind, at, focus: ctx.has('migraine') ? 'migraine' : 'copd' };
    default:
      return { kind, at };
  }
}
