/**
 * Coverage (US Core 6.1: member id, type from the Source of Payment Typology, subscriber, relationship,
 * payer, group and plan) and an ExplanationOfBenefit per adjudicated visit, for the portal's billing view.
 */
import type { Coverage, ExplanationOfBenefit, ExplanationOfBenefitItem, Money } from '@medplum/fhirtypes';
import type { Insurance, RecordContext } from '../context.js';
import { round } from '../random.js';
import { orgRef, practitionerRef, type OrgKey } from '../shared.js';
import { LOCAL, SYSTEM, concept, securityMeta, type Sensitivity } from '../terminology.js';
import { DAY_MS, YEAR_MS, date, dateTime } from '../time.js';
import type { BillLine, Visit } from './visit.js';

const PLANS: Record<Insurance['kind'], { payer: OrgKey; sopt: [string, string]; group: [string, string]; plan: [string, string] }> = {
  commercial: { payer: 'commercialPayer', sopt: ['512', 'Commercial Managed Care - PPO'], group: ['RGH-20410', 'Riverside Employers Group'], plan: ['PPO-GOLD', 'Acme PPO Gold'] },
  medicare: { payer: 'medicare', sopt: ['1', 'MEDICARE'], group: ['MEDICARE-B', 'Medicare Part B'], plan: ['ORIGINAL', 'Original Medicare'] },
  medicaid: { payer: 'medicaid', sopt: ['2', 'MEDICAID'], group: ['MA-STD', 'Commonwealth Medicaid Standard'], plan: ['MCO-1', 'Commonwealth Medicaid Managed Care'] },
};

export function coverage(ctx: RecordContext, since: number): Insurance {
  const { rnd } = ctx;
  const age = ctx.age;
  const kind: Insurance['kind'] = age >= 65 ? 'medicare' : rnd.chance(0.2) ? 'medicaid' : 'commercial';
  const plan = PLANS[kind];
  // Children are dependants on a guardian's commercial plan; Medicaid covers them in their own name.
  const subscriber = age < 18 && kind === 'commercial' ? ctx.guardians[0] : undefined;
  const memberId = kind === 'medicare' ? `${rnd.int(1, 9)}EG${rnd.int(1, 9)}-TE${rnd.int(1, 9)}-MK${rnd.digits(2)}` : `${kind === 'medicaid' ? 'MA' : 'ACM'}${rnd.digits(9)}`;
  const start = Math.max(ctx.birth, Math.min(since, ctx.now - rnd.int(1, 10) * YEAR_MS));
  const resource = ctx.add<Coverage>({
    resourceType: 'Coverage',
    id: ctx.id('cov'),
    identifier: [{ type: concept(SYSTEM.v2_0203, 'MB', 'Member Number'), system: LOCAL.memberId, value: subscriber ? `${memberId}-02` : memberId, assigner: orgRef(plan.payer) }],
    status: 'active',
    type: concept(SYSTEM.sopt, plan.sopt[0], plan.sopt[1]),
    ...(subscriber ? { policyHolder: { reference: `RelatedPerson/${subscriber.id}` }, subscriber: { reference: `RelatedPerson/${subscriber.id}` } } : { subscriber: ctx.patientRef }),
    subscriberId: memberId,
    beneficiary: ctx.patientRef,
    dependent: subscriber ? '02' : '01',
    relationship: subscriber ? concept(SYSTEM.subscriberRelationship, 'child', 'Child') : concept(SYSTEM.subscriberRelationship, 'self', 'Self'),
    period: { start: date(start) },
    payor: [orgRef(plan.payer)],
    class: [
      { type: concept(SYSTEM.coverageClass, 'group', 'Group'), value: plan.group[0], name: plan.group[1] },
      { type: concept(SYSTEM.coverageClass, 'plan', 'Plan'), value: plan.plan[0], name: plan.plan[1] },
    ],
    ...(kind === 'commercial' ? { network: 'Acme Preferred Network' } : {}),
  });
  return { coverage: resource, payer: plan.payer, kind };
}

const usd = (value: number): Money => ({ value: round(value, 2), currency: 'USD' });
const adjudication = (code: string, display: string, amount: number) => ({ category: concept(SYSTEM.adjudication, code, display), amount: usd(amount) });

/**
 * The payer's statements for a visit once adjudicated (2–4 weeks later). Sensitive services (an HIV
 * test during a routine physical) go on their own labelled statement, so hiding them from a proxy
 * does not hide the rest of the visit, and the ordinary statement does not reveal them.
 */
export function explanationsOfBenefit(ctx: RecordContext, visit: Visit): ExplanationOfBenefit[] {
  const groups = new Map<string, BillLine[]>();
  for (const line of visit.bill) {
    if (line.cpt[2] <= 0) continue;
    const key = (line.labels ?? (visit.sensitivity ? [visit.sensitivity] : [])).join('+');
    const list = groups.get(key);
    if (list) list.push(line);
    else groups.set(key, [line]);
  }
  const out: ExplanationOfBenefit[] = [];
  let copayLeft: number | undefined;
  for (const [key, lines] of groups) {
    const eob = statement(ctx, visit, lines, key === '' ? [] : (key.split('+') as Sensitivity[]), copayLeft);
    if (!eob) continue;
    copayLeft = 0; // the visit copay is collected once
    out.push(eob);
  }
  return out;
}

function statement(ctx: RecordContext, visit: Visit, lines: readonly BillLine[], labels: readonly Sensitivity[], copayOverride: number | undefined): ExplanationOfBenefit | undefined {
  const insurance = ctx.insurance;
  if (!insurance || lines.length === 0) return undefined;
  const { rnd } = ctx;
  const created = visit.end + rnd.int(14, 30) * DAY_MS;
  if (created > ctx.now) return undefined;
  const institutional = visit.plan.kind === 'inpatient' || visit.plan.kind === 'emergency';
  const copayDue = copayOverride ?? (insurance.kind === 'commercial' ? (institutional ? 150 : visit.plan.kind === 'wellness' ? 0 : 25) : 0);
  const eligibleShare = insurance.kind === 'medicare' ? 0.55 : insurance.kind === 'medicaid' ? 0.45 : 0.68;
  let copayLeft = copayDue;
  let submitted = 0;
  let benefit = 0;
  const items: ExplanationOfBenefitItem[] = lines.map((line, i) => {
    const [code, display, price] = line.cpt;
    const eligible = price * eligibleShare;
    const copay = Math.min(copayLeft, eligible);
    copayLeft -= copay;
    const coinsurance = insurance.kind === 'medicare' ? eligible * 0.2 : 0;
    const paid = eligible - copay - coinsurance;
    submitted += price;
    benefit += paid;
    return {
      sequence: i + 1,
      productOrService: concept(SYSTEM.cpt, code, display),
      servicedDate: date(line.at),
      locationReference: visit.encounter.location?.[0]?.location ?? { reference: 'Location/loc-1' },
      encounter: [visit.ref],
      net: usd(price),
      adjudication: [
        adjudication('submitted', 'Submitted Amount', price),
        adjudication('eligible', 'Eligible Amount', eligible),
        adjudication('copay', 'CoPay', copay + coinsurance),
        adjudication('benefit', 'Benefit Amount', paid),
      ],
    };
  });
  // Only diagnoses no more sensitive than the statement itself.
  const labelsOf = (r: { meta?: { security?: { system?: string; code?: string }[] } }) => (r.meta?.security ?? []).filter((x) => x.system === SYSTEM.actCode).map((x) => x.code as Sensitivity);
  const diagnoses = visit.diagnoses.filter((d) => d.code?.coding?.some((c) => c.system === SYSTEM.icd10cm) && labelsOf(d).every((l) => labels.includes(l)));
  return ctx.add<ExplanationOfBenefit>({
    resourceType: 'ExplanationOfBenefit',
    id: ctx.id('eob'),
    ...(labels.length > 0 ? { meta: securityMeta(labels) } : {}),
    identifier: [{ system: LOCAL.claim, value: `CLM${rnd.digits(10)}` }],
    status: 'active',
    type: institutional ? concept(SYSTEM.claimType, 'institutional', 'Institutional') : concept(SYSTEM.claimType, 'professional', 'Professional'),
    use: 'claim',
    patient: ctx.patientRef,
    billablePeriod: { start: dateTime(visit.start), end: dateTime(visit.end) },
    created: dateTime(created),
    insurer: orgRef(insurance.payer),
    provider: orgRef(visit.org),
    payee: { type: concept(SYSTEM.payeeType, 'provider', 'Provider'), party: orgRef(visit.org) },
    outcome: 'complete',
    disposition: 'Claim settled as per contract.',
    careTeam: [{ sequence: 1, provider: practitionerRef(visit.clinician), role: concept('http://terminology.hl7.org/CodeSystem/claimcareteamrole', 'primary', 'Primary provider') }],
    ...(diagnoses.length > 0 ? {
      diagnosis: diagnoses.map((d, i) => {
        const icd = d.code!.coding!.find((c) => c.system === SYSTEM.icd10cm)!;
        return { sequence: i + 1, diagnosisCodeableConcept: { coding: [icd], text: d.code?.text ?? icd.display ?? icd.code! }, type: [concept(SYSTEM.exDiagnosisType, i === 0 ? 'principal' : 'secondary', i === 0 ? 'Principal Diagnosis' : 'Secondary Diagnosis')] };
      }),
    } : {}),
    insurance: [{ focal: true, coverage: { reference: `Coverage/${insurance.coverage.id}` } }],
    item: items,
    total: [adjudication('submitted', 'Submitted Amount', submitted), adjudication('benefit', 'Benefit Amount', benefit)],
    payment: { date: date(Math.min(created + rnd.int(1, 7) * DAY_MS, ctx.now)), amount: usd(benefit) },
  });
}
