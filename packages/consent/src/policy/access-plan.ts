/**
 * The access plan: everything the FHIR API needs to AND into its SQL for one reader of one
 * patient's record, computed from the relationship, the patient's age, the release policy, and
 * the patient's restrictions and disclosure consents. The channel (portal or third-party app) is
 * not an input: the portal and every app get the same plan for the same person (REL-8). The only app identity that
 * reaches the plan is the client id, and only to select restrictions the patient placed on that
 * named app (IB-1); it never changes release rules.
 *
 * How the API compiles a granted plan (a resource row `r` is visible when all hold):
 *   1. r.status not in neverVisibleStatuses                                            (REL-4)
 *   2. no security label of r matches hiddenSecurityLabels                             (PRX-3, IB-2)
 *   3. no restriction matches r's type and category                                    (IB-1)
 *   4. if hideReferencesToHidden: r references/targets nothing hidden by 2 or 3        (PRX-3, IB-2)
 *   5. if r is a result (resultCategories): r.status in releasedStatuses[type]         (REL-7)
 *   6. no active release_hold_item of a kind in `holds` (harm: harm_type in harmTypes) (REL-2…6)
 * decide.ts is the executable specification of exactly this, including which reason wins.
 */
import { DEFAULT_AGE_RULES, proxyAccessLevel, type AgeRules, type FullReason, type LimitedReason, type NoneReason, type Relationship } from './age-rules.js';
import { DEFAULT_CONSENT_REQUIRED_LABELS } from './consent-required-labels.js';
import { LIMITED_PROXY_HIDDEN_LABELS, sameCoding, withLegacySystems, type Coding } from './labels.js';
import { DEFAULT_RELEASE_POLICY, NEVER_RELEASED_STATUSES, RESULT_CATEGORIES, releasedStatuses, type ReleasePolicy, type ResultType } from './release-policy.js';

/** The kinds of hold, each with its own table of evidence and its own reason code. */
export const HOLD_KINDS = ['harm', 'data-quality', 'patient-delay', 'legal'] as const;
export type HoldKind = (typeof HOLD_KINDS)[number];

/**
 * `life_or_physical_safety`: the only harm that may withhold from the patient (REL-2, 171.201).
 * `substantial_harm`: the broader standard for personal representatives, physical, emotional or
 * psychological (PRX-5, 164.524(a)(3)(iii)); such a hold never applies to the patient's own access.
 */
export const HARM_TYPES = ['life_or_physical_safety', 'substantial_harm'] as const;
export type HarmType = (typeof HARM_TYPES)[number];

/** A patient-owned "do not share category X with proxy/app Y" (IB-1). */
export interface Restriction {
  readonly id: string;
  readonly recipient: { readonly kind: 'proxy'; readonly proxyAccountId: string } | { readonly kind: 'app'; readonly clientId: string };
  /** Limit to one resource type; undefined = every type carrying the category. */
  readonly resourceType?: string;
  readonly category: Coding;
}

/**
 * The patient's recorded consent that one proxy may receive the resources carrying one
 * consent-required label (IB-2; 42 CFR 2.31: the patient's written consent naming the recipient,
 * and when it expires, 2.31(a)(6)).
 */
export interface DisclosureConsent {
  readonly id: string;
  readonly proxyAccountId: string;
  readonly label: Coding;
  /** It counts only while the request's instant is before this (the plan is recomputed per proxy request: planDependsOnClock). */
  readonly expiresAt: Date;
}

export interface PlanRestriction {
  readonly id: string;
  readonly resourceType?: string;
  readonly category: Coding;
}

export interface AccessPlanInput {
  readonly relationship: Relationship;
  /** Patient.birthDate (FHIR date, possibly partial). */
  readonly patientBirthDate?: string;
  readonly at: Date;
  readonly ageRules?: AgeRules;
  readonly releasePolicy?: ReleasePolicy;
  /** Every restriction the patient has placed; the plan keeps those naming this proxy or app. */
  readonly restrictions?: readonly Restriction[];
  /**
   * Labels whose resources a proxy receives only with the patient's recorded consent (IB-2);
   * default DEFAULT_CONSENT_REQUIRED_LABELS (42 CFR Part 2). The deployment's setting:
   * PolicyConfig.consentRequiredLabels.
   */
  readonly consentRequiredLabels?: readonly Coding[];
  /** The patient's disclosure consents not revoked; the plan keeps those naming this proxy and unexpired at `at`. */
  readonly disclosureConsents?: readonly DisclosureConsent[];
  /** The OAuth client the token was issued to, only to match app restrictions (IB-1). */
  readonly clientId?: string;
  /**
   * False when the patient has no release hold item at all (as of the facts the caller holds, which
   * a new item would invalidate): no hold can then withhold anything, and the plan lists none.
   */
  readonly patientHasHoldItems?: boolean;
}

export interface GrantedPlan {
  readonly level: 'full' | 'limited';
  readonly levelReason: FullReason | LimitedReason;
  /** Resources carrying any of these labels are hidden (empty for the patient's own access). */
  readonly hiddenSecurityLabels: readonly Coding[];
  /** The part of hiddenSecurityLabels hidden only for want of the patient's consent (IB-2): names the reason. */
  readonly consentRequiredLabels: readonly Coding[];
  /** Resources that reference or target a resource hidden by label or restriction are hidden too. */
  readonly hideReferencesToHidden: boolean;
  readonly neverVisibleStatuses: readonly string[];
  readonly releasedStatuses: Readonly<Record<ResultType, readonly string[]>>;
  /** Which resources of each result type are results ('all' = every resource of the type). */
  readonly resultCategories: Readonly<Record<ResultType, readonly Coding[] | 'all'>>;
  /** Hold kinds that withhold from this reader. */
  readonly holds: readonly HoldKind[];
  /** For kind 'harm', the harm types that withhold from this reader. */
  readonly harmTypes: readonly HarmType[];
  readonly restrictions: readonly PlanRestriction[];
}

export interface DeniedPlan {
  readonly level: 'none';
  readonly reason: NoneReason;
}

export type AccessPlan = GrantedPlan | DeniedPlan;

/**
 * Whether the clock alone can change the plan for this relationship: age bands, delegation
 * windows and disclosure consent expiry bind proxies (PRX-1, PRX-3, PRX-4, IB-2); the patient's own access has none. A caller may
 * keep a plan the clock does not change for as long as its other inputs stand.
 */
export function planDependsOnClock(relationship: Relationship): boolean {
  return relationship.kind === 'proxy';
}

export function accessPlan(input: AccessPlanInput): AccessPlan {
  const rules = input.ageRules ?? DEFAULT_AGE_RULES;
  const access = proxyAccessLevel(input.relationship, input.patientBirthDate, input.at, rules);
  if (access.level === 'none') return Object.freeze({ level: 'none', reason: access.reason });
  const isProxy = input.relationship.kind === 'proxy';
  const proxyAccountId = input.relationship.kind === 'proxy' ? input.relationship.proxyAccountId : undefined;
  const restrictions = (input.restrictions ?? [])
    .filter((r) =>
      r.recipient.kind === 'proxy'
        ? r.recipient.proxyAccountId === proxyAccountId // IB-1: a proxy restriction never touches the patient's own access
        : input.clientId !== undefined && r.recipient.clientId === input.clientId, // IB-1: the patient's instruction about a named app
    )
    .map((r): PlanRestriction => Object.freeze(r.resourceType === undefined ? { id: r.id, category: r.category } : { id: r.id, resourceType: r.resourceType, category: r.category }));
  const limited = access.level === 'limited';
  // IB-2 (45 CFR 171.202(b)): a proxy receives consent-required records only once the patient has
  // recorded her consent naming that proxy, until it expires (42 CFR 2.31(a)(6)); the patient's own access never needs one.
  const at = input.at.getTime();
  const consented = (label: Coding) =>
    (input.disclosureConsents ?? []).some((c) => c.proxyAccountId === proxyAccountId && sameCoding(c.label, label) && at < c.expiresAt.getTime()); // an invalid expiresAt (NaN) never counts
  const limitLabels = limited ? LIMITED_PROXY_HIDDEN_LABELS : []; // PRX-3: confidential and sensitive care hidden from limited proxies
  // A label the proxy's limit hides anyway is not one a consent could open: it stays the limit's.
  const consentRequired: readonly Coding[] = isProxy
    ? Object.freeze(withLegacySystems((input.consentRequiredLabels ?? DEFAULT_CONSENT_REQUIRED_LABELS).filter((l) => !consented(l))).filter((l) => !limitLabels.some((h) => sameCoding(h, l))))
    : [];
  const hiddenSecurityLabels = consentRequired.length ? Object.freeze([...limitLabels, ...consentRequired]) : limitLabels;
  return Object.freeze({
    level: access.level,
    levelReason: access.reason,
    hiddenSecurityLabels,
    consentRequiredLabels: consentRequired,
    hideReferencesToHidden: hiddenSecurityLabels.length > 0 || restrictions.length > 0, // PRX-3, IB-2: nothing that would reveal a hidden resource
    neverVisibleStatuses: NEVER_RELEASED_STATUSES, // REL-4
    releasedStatuses: releasedStatuses(input.releasePolicy ?? DEFAULT_RELEASE_POLICY), // REL-7, the same for every channel (REL-8)
    resultCategories: RESULT_CATEGORIES,
    // Every hold binds every reader of the record; a representative is also bound by substantial-harm holds.
    holds: input.patientHasHoldItems === false ? [] : HOLD_KINDS, // REL-2, REL-4, REL-5, REL-6
    harmTypes: isProxy ? HARM_TYPES : (['life_or_physical_safety'] as const), // REL-2 for the patient; PRX-5 adds substantial harm for proxies
    restrictions: Object.freeze(restrictions),
  });
}
