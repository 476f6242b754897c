/**
 * Age rules for proxy access (PRX-3, PRX-4): at what age a parent's access to a child narrows to
 * "limited" and at what age parental access ends. The thresholds are state law, so they are
 * configuration per jurisdiction; the defaults are the common practice (12 and 18).
 */
import type { DelegationBasis, DelegationStatus } from '../delegations/delegation-store.js';
import { PolicyConfigError, isPlainObject } from './config-error.js';

export interface AgeRules {
  /** From this birthday a parent's (or other proxy's) access to a minor is limited (PRX-3). */
  readonly limitedProxyFromAge: number;
  /** From this birthday parental access ends (PRX-4). */
  readonly majorityAge: number;
  /** IANA zone whose calendar day decides birthdays (the jurisdiction's local midnight). */
  readonly timeZone: string;
}

export const DEFAULT_AGE_RULES: AgeRules = Object.freeze({ limitedProxyFromAge: 12, majorityAge: 18, timeZone: 'UTC' });

/** Default rules plus overrides keyed by ISO 3166-2 jurisdiction (e.g. `US-CA`). */
export interface AgeRulesConfig {
  readonly default: AgeRules;
  readonly jurisdictions: Readonly<Record<string, AgeRules>>;
}

const AGE_RULE_KEYS = new Set(['limitedProxyFromAge', 'majorityAge', 'timeZone']);
const JURISDICTION = /^[A-Z]{2}(-[A-Z0-9]{1,3})?$/;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function checkAgeRules(raw: unknown, base: AgeRules, path: string, problems: string[]): AgeRules {
  if (!isPlainObject(raw)) {
    problems.push(`${path}: expected an object`);
    return base;
  }
  for (const key of Object.keys(raw)) if (!AGE_RULE_KEYS.has(key)) problems.push(`${path}.${key}: unknown setting`);
  const merged = { ...base, ...raw } as Record<string, unknown>;
  const { limitedProxyFromAge, majorityAge, timeZone } = merged;
  const before = problems.length;
  // Majority is 18 in most states, 19 (AL, NE) or 21 (MS); anything outside 14..21 is a typo.
  const majorityOk = Number.isInteger(majorityAge) && (majorityAge as number) >= 14 && (majorityAge as number) <= 21;
  if (!majorityOk)
    problems.push(`${path}.majorityAge: expected an integer from 14 to 21, got ${JSON.stringify(majorityAge)}`);
  if (!Number.isInteger(limitedProxyFromAge) || (limitedProxyFromAge as number) < 0)
    problems.push(`${path}.limitedProxyFromAge: expected a non-negative integer, got ${JSON.stringify(limitedProxyFromAge)}`);
  else if (majorityOk && (limitedProxyFromAge as number) > (majorityAge as number))
    problems.push(`${path}.limitedProxyFromAge: must not exceed majorityAge (${String(majorityAge)}) (PRX-4)`);
  if (typeof timeZone !== 'string' || !validTimeZone(timeZone)) problems.push(`${path}.timeZone: expected an IANA time zone, got ${JSON.stringify(timeZone)}`);
  if (problems.length > before) return base;
  return Object.freeze({ limitedProxyFromAge: limitedProxyFromAge as number, majorityAge: majorityAge as number, timeZone: timeZone as string });
}

/** One rule set; missing keys take the defaults. Throws PolicyConfigError listing every problem. */
export function validateAgeRules(raw: unknown, path = 'ageRules'): AgeRules {
  if (raw === undefined) return DEFAULT_AGE_RULES;
  const problems: string[] = [];
  const rules = checkAgeRules(raw, DEFAULT_AGE_RULES, path, problems);
  if (problems.length) throw new PolicyConfigError(problems);
  return rules;
}

/** `{ default?: {...}, jurisdictions?: { 'US-CA': {...} } }`; each jurisdiction overrides the default. */
export function validateAgeRulesConfig(raw: unknown, path = 'ageRules'): AgeRulesConfig {
  const problems: string[] = [];
  if (raw === undefined) return { default: DEFAULT_AGE_RULES, jurisdictions: {} };
  if (!isPlainObject(raw)) throw new PolicyConfigError([`${path}: expected an object`]);
  for (const key of Object.keys(raw)) if (key !== 'default' && key !== 'jurisdictions') problems.push(`${path}.${key}: unknown setting`);
  const base = raw['default'] === undefined ? DEFAULT_AGE_RULES : checkAgeRules(raw['default'], DEFAULT_AGE_RULES, `${path}.default`, problems);
  const jurisdictions: Record<string, AgeRules> = {};
  const rawJ = raw['jurisdictions'];
  if (rawJ !== undefined) {
    if (!isPlainObject(rawJ)) problems.push(`${path}.jurisdictions: expected an object`);
    else
      for (const [code, rules] of Object.entries(rawJ)) {
        if (!JURISDICTION.test(code)) problems.push(`${path}.jurisdictions.${code}: expected an ISO 3166-2 code such as US-CA`);
        else jurisdictions[code] = checkAgeRules(rules, base, `${path}.jurisdictions.${code}`, problems);
      }
  }
  if (problems.length) throw new PolicyConfigError(problems);
  return Object.freeze({ default: base, jurisdictions: Object.freeze(jurisdictions) });
}

export function ageRulesFor(config: AgeRulesConfig, jurisdiction: string | undefined): AgeRules {
  return (jurisdiction !== undefined ? config.jurisdictions[jurisdiction] : undefined) ?? config.default;
}

const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The calendar date of an instant in a time zone, as [year, month, day]. */
function localDate(at: Date, timeZone: string): [number, number, number] {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return [get('year'), get('month'), get('day')];
}

/**
 * Age in completed years on the calendar day of `at` in `timeZone`. `birthDate` is a FHIR date;
 * a partial one (`2010`, `2010-05`) counts from its earliest possible day, so an uncertain age
 * errs towards older, which moves every protection (limited at 12, parental access ending at
 * 18) earlier rather than later. Someone born on 29 February has their birthday on 1 March in
 * non-leap years (the year is not complete until 28 February has passed). Negative when `at` is
 * before the birth date. Throws RangeError on a malformed date.
 */
export function ageAt(birthDate: string, at: Date, timeZone = 'UTC'): number {
  const m = FHIR_DATE.exec(birthDate);
  if (!m) throw new RangeError(`not a FHIR date: "${birthDate}"`);
  const by = Number(m[1]);
  const bm = m[2] === undefined ? 1 : Number(m[2]);
  const bd = m[3] === undefined ? 1 : Number(m[3]);
  if (bm < 1 || bm > 12 || bd < 1 || bd > daysInMonth(by, bm)) throw new RangeError(`not a calendar date: "${birthDate}"`);
  if (Number.isNaN(at.getTime())) throw new RangeError('invalid instant');
  const [y, mo, d] = localDate(at, timeZone);
  const beforeBirthday = mo < bm || (mo === bm && d < bd);
  return y - by - (beforeBirthday ? 1 : 0);
}

/** The facts of one proxy delegation that decide access (the row in proxy_delegation). */
export interface DelegationFacts {
  readonly basis: DelegationBasis;
  readonly status: DelegationStatus;
  readonly accessLevel: 'full' | 'limited';
  readonly startsAt: Date;
  readonly endsAt?: Date | null;
}

/** Who is asking, relative to the patient whose record is read. */
export type Relationship =
  | { readonly kind: 'self' }
  | { readonly kind: 'proxy'; readonly proxyAccountId: string; readonly delegation: DelegationFacts }
  | { readonly kind: 'none' };

export type FullReason = 'self' | 'proxy-minor' | 'proxy-adult';
export type LimitedReason = 'proxy-age-limited' | 'proxy-delegation-limited';
export type NoneReason =
  | 'proxy-none'
  | 'proxy-age-majority'
  | 'birth-date-unknown'
  | 'delegation-not-active'
  | 'delegation-suspended'
  | 'delegation-revoked'
  | 'delegation-expired'
  | 'delegation-not-started';

export type ProxyAccess =
  | { readonly level: 'full'; readonly reason: FullReason }
  | { readonly level: 'limited'; readonly reason: LimitedReason }
  | { readonly level: 'none'; readonly reason: NoneReason };

/**
 * How much of the patient's record this relationship opens at `at`. Evaluated at token issue,
 * refresh and on every request, so an age transition or a revoked delegation takes effect on the
 * next call (PRX-4, PRX-6).
 */
export function proxyAccessLevel(relationship: Relationship, patientBirthDate: string | undefined, at: Date, rules: AgeRules): ProxyAccess {
  if (relationship.kind === 'self') return { level: 'full', reason: 'self' };
  if (relationship.kind === 'none') return { level: 'none', reason: 'proxy-none' }; // PRX-1: no delegation, no access
  const d = relationship.delegation;
  switch (d.status) {
    case 'active':
      break;
    case 'suspended':
      return { level: 'none', reason: 'delegation-suspended' }; // PRX-5: clinician's harm determination
    case 'revoked':
      return { level: 'none', reason: 'delegation-revoked' }; // PRX-6: revocation takes effect at once
    case 'expired':
      return { level: 'none', reason: 'delegation-expired' };
    case 'requested':
    case 'verified':
      return { level: 'none', reason: 'delegation-not-active' }; // PRX-2: not yet verified and activated
  }
  if (d.startsAt.getTime() > at.getTime()) return { level: 'none', reason: 'delegation-not-started' };
  if (d.endsAt && d.endsAt.getTime() <= at.getTime()) return { level: 'none', reason: 'delegation-expired' }; // PRX-1: authority ends with the delegation
  let age: number | undefined;
  try {
    age = patientBirthDate === undefined ? undefined : ageAt(patientBirthDate, at, rules.timeZone);
  } catch {
    age = undefined;
  }
  // PRX-4: without a usable birth date no age band can be proven, so no proxy access.
  if (age === undefined || age < 0) return { level: 'none', reason: 'birth-date-unknown' };
  if (age >= rules.majorityAge) {
    if (d.basis === 'parent') return { level: 'none', reason: 'proxy-age-majority' }; // PRX-4: parental access ends at majority
    // PRX-4: nobody keeps access to an adult by inertia. Whatever its basis, a delegation made
    // while the patient was a minor rested on (or was bounded by) the parents' authority, which
    // ended at majority: the adult grants a new one (a guardianship of the adult is a new order).
    if (grantedBeforeMajority(d, patientBirthDate!, rules)) return { level: 'none', reason: 'proxy-age-majority' };
    return d.accessLevel === 'limited' ? { level: 'limited', reason: 'proxy-delegation-limited' } : { level: 'full', reason: 'proxy-adult' }; // PRX-1
  }
  // A caregiver or agent of a minor cannot hold more than the parent's authority, so every basis follows the bands.
  if (age >= rules.limitedProxyFromAge) return { level: 'limited', reason: 'proxy-age-limited' }; // PRX-3, PRX-4
  return d.accessLevel === 'limited' ? { level: 'limited', reason: 'proxy-delegation-limited' } : { level: 'full', reason: 'proxy-minor' }; // PRX-1
}

/** Whether the delegation began before the patient's majority birthday (in the rules' time zone). */
function grantedBeforeMajority(d: DelegationFacts, patientBirthDate: string, rules: AgeRules): boolean {
  return ageAt(patientBirthDate, d.startsAt, rules.timeZone) < rules.majorityAge;
}
