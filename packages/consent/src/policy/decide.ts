/**
 * The decision for one resource under an access plan: the executable specification the FHIR
 * API's SQL must match (its tests compare against this). When several reasons apply, the most
 * lasting one is reported, so the access log says why the item would still be withheld after
 * the shorter-lived reasons pass: no access at all → entered in error → hidden label (the
 * proxy's own limit, then the want of the patient's consent, which she can give) → restriction → reference to a hidden resource → not a released status → holds (legal, harm,
 * data quality, then the patient's own delay, which the patient can cancel).
 */
import type { NoneReason, LimitedReason } from './age-rules.js';
import type { AccessPlan, HarmType, HoldKind } from './access-plan.js';
import { anyCodingMatches, codingMatches, sameCoding, type Coding } from './labels.js';
import type { ResultType } from './release-policy.js';

/** An active hold on the resource at the time of the request (see holds/ for "active"). */
export interface ActiveHold {
  readonly kind: HoldKind;
  /** For harm holds; missing is treated as life_or_physical_safety, which binds everyone. */
  readonly harmType?: HarmType;
  readonly id?: string;
}

export interface ResourceFacts {
  readonly resourceType: string;
  /** The resource's status element (Observation/DiagnosticReport.status, DocumentReference.status…). */
  readonly status?: string;
  readonly categories?: readonly Coding[];
  /** meta.security */
  readonly securityLabels?: readonly Coding[];
  readonly activeHolds?: readonly ActiveHold[];
  /**
   * True when the resource references or targets (DiagnosticReport.result, Provenance.target,
   * Encounter, DocumentReference.context…) a resource this plan hides by security label or
   * restriction. Unreleased or held results are NOT counted here: a report's references to them
   * are removed instead (REL-7), and the report itself stays visible.
   */
  readonly referencesHidden?: boolean;
}

export type ReasonCode =
  | NoneReason
  | LimitedReason
  | 'entered-in-error'
  | 'consent-required'
  | 'restriction'
  | 'references-hidden'
  | 'release-status'
  | 'legal-hold'
  | 'harm-hold'
  | 'data-quality-hold'
  | 'patient-delay';

export type RuleId = 'REL-2' | 'REL-4' | 'REL-5' | 'REL-6' | 'REL-7' | 'PRX-1' | 'PRX-2' | 'PRX-3' | 'PRX-4' | 'PRX-5' | 'PRX-6' | 'IB-1' | 'IB-2';

export type Decision = { readonly visible: true } | { readonly visible: false; readonly reason: ReasonCode; readonly rule: RuleId };

/** The rule behind each reason code, for the access log and the information-blocking report. */
export const REASON_RULES: Readonly<Record<ReasonCode, RuleId>> = Object.freeze({
  'proxy-none': 'PRX-1',
  'proxy-age-majority': 'PRX-4',
  'birth-date-unknown': 'PRX-4',
  'delegation-not-active': 'PRX-2',
  'delegation-suspended': 'PRX-5',
  'delegation-revoked': 'PRX-6',
  'delegation-expired': 'PRX-1',
  'delegation-not-started': 'PRX-1',
  'proxy-age-limited': 'PRX-3',
  'proxy-delegation-limited': 'PRX-1',
  'entered-in-error': 'REL-4',
  'consent-required': 'IB-2',
  restriction: 'IB-1',
  'references-hidden': 'PRX-3',
  'release-status': 'REL-7',
  'legal-hold': 'REL-6',
  'harm-hold': 'REL-2',
  'data-quality-hold': 'REL-4',
  'patient-delay': 'REL-5',
});

const HOLD_ORDER: readonly [HoldKind, ReasonCode][] = [
  ['legal', 'legal-hold'],
  ['harm', 'harm-hold'],
  ['data-quality', 'data-quality-hold'],
  ['patient-delay', 'patient-delay'],
];

const VISIBLE: Decision = Object.freeze({ visible: true });

function hidden(reason: ReasonCode): Decision {
  return { visible: false, reason, rule: REASON_RULES[reason] };
}

function resultType(plan: Extract<AccessPlan, { level: 'full' | 'limited' }>, facts: ResourceFacts): ResultType | undefined {
  for (const [type, categories] of Object.entries(plan.resultCategories) as [ResultType, readonly Coding[] | 'all'][]) {
    if (type !== facts.resourceType) continue;
    if (categories === 'all') return type;
    // Category systems are compared strictly when both sides give one (as release-policy does).
    if ((facts.categories ?? []).some((c) => categories.some((w) => w.code === c.code && (c.system === undefined || c.system === w.system)))) return type;
  }
  return undefined;
}

export function decideResource(plan: AccessPlan, facts: ResourceFacts): Decision {
  if (plan.level === 'none') return hidden(plan.reason); // PRX-1, PRX-2, PRX-4, PRX-5, PRX-6
  if (facts.status !== undefined && plan.neverVisibleStatuses.includes(facts.status)) return hidden('entered-in-error'); // REL-4
  const labels = facts.securityLabels ?? [];
  if (plan.hiddenSecurityLabels.length > 0 && anyCodingMatches(plan.hiddenSecurityLabels, labels)) {
    // IB-2 (45 CFR 171.202(b)) only when no other hidden label applies: a consent cannot lift the proxy's own limit.
    const limitLabels = plan.hiddenSecurityLabels.filter((h) => !plan.consentRequiredLabels.some((c) => sameCoding(c, h)));
    if (!anyCodingMatches(limitLabels, labels)) return hidden('consent-required');
    return hidden(plan.levelReason === 'proxy-delegation-limited' ? 'proxy-delegation-limited' : 'proxy-age-limited'); // PRX-3
  }
  const restricted = plan.restrictions.some(
    (r) => (r.resourceType === undefined || r.resourceType === facts.resourceType) && (facts.categories ?? []).some((c) => codingMatches(r.category, c)),
  );
  if (restricted) return hidden('restriction'); // IB-1
  if (plan.hideReferencesToHidden && facts.referencesHidden === true) return hidden('references-hidden'); // PRX-3
  const type = resultType(plan, facts);
  if (type !== undefined && (facts.status === undefined || !plan.releasedStatuses[type].includes(facts.status))) return hidden('release-status'); // REL-7
  const holds = facts.activeHolds ?? [];
  for (const [kind, reason] of HOLD_ORDER) {
    if (!plan.holds.includes(kind)) continue;
    const applies = holds.some((h) => h.kind === kind && (kind !== 'harm' || plan.harmTypes.includes(h.harmType ?? 'life_or_physical_safety')));
    if (applies) return hidden(reason); // REL-6, REL-2/PRX-5, REL-4, REL-5
  }
  return VISIBLE;
}
