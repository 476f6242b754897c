/**
 * Codings and the security labels the access policy filters on. Matching is deliberately
 * fail-closed: a label or category recorded without a system matches on its code alone, so a
 * sloppy producer can only hide more, never show more. The SQL mirror is
 * `code = ? and (system is null or system = ?)` against the search_token rows.
 */

export interface Coding {
  readonly system?: string;
  readonly code: string;
  readonly display?: string;
}

export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** Restricted and very restricted (v3 Confidentiality): hidden from limited proxies (PRX-3). */
export const HIDDEN_CONFIDENTIALITY_CODES = ['R', 'V'] as const;

/**
 * v3-ActCode information sensitivity codes for the care minors may consent to alone (mental and
 * behavioural health, substance use, HIV/STI, sexual and reproductive health, pregnancy, sexual
 * violence, gender identity) plus ADOL itself. A resource carrying any of them is hidden from a
 * limited proxy even when its producer forgot the R label (PRX-3).
 */
export const HIDDEN_SENSITIVITY_CODES = [
  'ADOL',
  'BH',
  'ETH',
  'ETHUD',
  'GENDER',
  'HIV',
  'MH',
  'OPIOIDUD',
  'PREGNANT',
  'PSY',
  'PSYTHPN',
  'SDV',
  'SEX',
  'STD',
  'SUD',
] as const;

/** Every label a limited proxy must not see, as codings (PRX-3, PRX-4). */
export const LIMITED_PROXY_HIDDEN_LABELS: readonly Coding[] = Object.freeze([
  ...HIDDEN_CONFIDENTIALITY_CODES.map((code) => Object.freeze({ system: CONFIDENTIALITY_SYSTEM, code })),
  ...HIDDEN_SENSITIVITY_CODES.map((code) => Object.freeze({ system: ACT_CODE_SYSTEM, code })),
]);

/** `pattern` matches `actual` when the codes agree and neither side names a different system. */
export function codingMatches(pattern: Coding, actual: Coding): boolean {
  if (pattern.code !== actual.code) return false;
  return pattern.system === undefined || actual.system === undefined || pattern.system === actual.system;
}

export function anyCodingMatches(patterns: readonly Coding[], actual: readonly Coding[]): boolean {
  return actual.some((a) => patterns.some((p) => codingMatches(p, a)));
}
