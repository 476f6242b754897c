/** CareTeam (patient, guardians, primary care and specialists), Goals, and the assess-plan CarePlan. */
import type { CarePlan, CareTeam, CareTeamParticipant, Goal } from '@medplum/fhirtypes';
import type { RecordContext } from '../context.js';
import { clinicianBy, orgRef, practitionerRef, type Clinician } from '../shared.js';
import { SYSTEM, concept, loinc, securityMeta, ucum, type Ref } from '../terminology.js';
import { DAY_MS, date, dateTime } from '../time.js';

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function careTeam(ctx: RecordContext, since: number): CareTeam {
  const member = (ref: Ref, role: readonly [string, string]): CareTeamParticipant => ({
    role: [concept(SYSTEM.snomed, role[0], role[1])],
    member: ref,
    period: { start: date(since) },
  });
  const participants: CareTeamParticipant[] = [
    member(ctx.patientRef, ['116154003', 'Patient (person)']),
    member(practitionerRef(ctx.pcp), ctx.pcp.occupation),
  ];
  for (const g of ctx.guardians) participants.push(member({ reference: `RelatedPerson/${g.id}` }, ['133932002', 'Caregiver (person)']));
  // Specialists follow from the problem list; sensitive specialties (psychiatry) stay off the shared team.
  const seen = new Set<string>([ctx.pcp.id]);
  for (const { def } of ctx.conditions.values()) {
    if (!def.specialist || def.sensitivity) continue;
    const c: Clinician = clinicianBy(def.specialist);
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    participants.push(member(practitionerRef(c), c.occupation));
  }
  return ctx.add<CareTeam>({
    resourceType: 'CareTeam',
    id: ctx.id('ct'),
    status: 'active',
    category: [loinc('LA28865-6', 'Longitudinal care-coordination focused care team')],
    name: `${ctx.spec.given[0]} ${ctx.spec.family} care team`,
    subject: ctx.patientRef,
    period: { start: date(since) },
    participant: participants,
    managingOrganization: [orgRef(ctx.clinic.org)],
  });
}

export function goals(ctx: RecordContext, since: number): Goal[] {
  const { rnd, now } = ctx;
  const out: Goal[] = [];
  for (const { def, condition, onset } of ctx.conditions.values()) {
    if (!def.goal) continue;
    const start = Math.max(onset, since);
    const achieved = rnd.chance(0.2);
    const m = def.goal.measure;
    out.push(ctx.add<Goal>({
      resourceType: 'Goal',
      id: ctx.id('goal'),
      ...(def.sensitivity ? { meta: securityMeta([def.sensitivity]) } : {}),
      lifecycleStatus: achieved ? 'completed' : 'active',
      achievementStatus: concept(SYSTEM.goalAchievement, achieved ? 'achieved' : rnd.pick(['in-progress', 'improving', 'not-achieving'] as const), achieved ? 'Achieved' : 'In Progress'),
      description: { text: def.goal.text },
      subject: ctx.patientRef,
      startDate: date(start),
      target: [{
        ...(m ? { measure: loinc(m.loinc, m.display), detailRange: { ...(m.low === undefined ? {} : { low: ucum(m.low, m.unit) }), ...(m.high === undefined ? {} : { high: ucum(m.high, m.unit) }) } } : {}),
        dueDate: date(now + rnd.int(60, 365) * DAY_MS),
      }],
      expressedBy: practitionerRef(ctx.pcp),
      addresses: [{ reference: `Condition/${condition.id}` }],
    }));
  }
  if (out.length === 0) {
    const child = ctx.age < 18;
    out.push(ctx.add<Goal>({
      resourceType: 'Goal',
      id: ctx.id('goal'),
      lifecycleStatus: 'active',
      description: { text: child ? 'Age-appropriate growth and development; immunizations up to date' : 'At least 150 minutes of moderate physical activity per week' },
      subject: ctx.patientRef,
      startDate: date(since),
      target: [{ dueDate: date(now + rnd.int(90, 365) * DAY_MS) }],
      expressedBy: child && ctx.guardians[0] ? { reference: `RelatedPerson/${ctx.guardians[0].id}` } : ctx.patientRef,
    }));
  }
  return out;
}

/** US Core CarePlan (assess-plan) with the narrative US Core requires. */
export function carePlan(ctx: RecordContext, team: CareTeam, goalList: readonly Goal[], since: number): CarePlan {
  // Sensitive problems stay out of the plan everyone on the care team sees.
  const problems = [...ctx.conditions.values()].filter((c) => !c.def.sensitivity);
  const sharedGoals = goalList.filter((g) => !g.meta?.security);
  const assessment = problems.length > 0 ? problems.map((c) => c.condition.code?.text ?? '').join('; ') : 'Healthy; preventive care';
  const planItems = [
    ...sharedGoals.map((g) => g.description.text ?? ''),
    ...ctx.drugs.filter((d) => d.request.status === 'active' && !d.drug.sensitivity).map((d) => `Continue ${d.drug.display}`),
    ctx.age < 18 ? 'Well-child visits per the periodicity schedule' : 'Annual preventive visit',
  ];
  const div = `<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Assessment:</b> ${escape(assessment)}</p><p><b>Plan:</b></p><ul>${planItems.map((p) => `<li>${escape(p)}</li>`).join('')}</ul></div>`;
  return ctx.add<CarePlan>({
    resourceType: 'CarePlan',
    id: ctx.id('cp'),
    text: { status: 'generated', div },
    status: 'active',
    intent: 'plan',
    category: [concept(SYSTEM.carePlanCategory, 'assess-plan', 'Assessment and Plan of Treatment')],
    title: 'Assessment and plan of treatment',
    subject: ctx.patientRef,
    period: { start: date(since) },
    created: dateTime(since),
    author: practitionerRef(ctx.pcp),
    careTeam: [{ reference: `CareTeam/${team.id}` }],
    ...(problems.length > 0 ? { addresses: problems.map((c) => ({ reference: `Condition/${c.condition.id}` })) } : {}),
    ...(sharedGoals.length > 0 ? { goal: sharedGoals.map((g) => ({ reference: `Goal/${g.id}` })) } : {}),
  });
}
