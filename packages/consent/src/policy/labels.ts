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
 * v3-ActCode information sensitivity codes (the ActInformationSensitivityPolicy codes for health
 * information): the care minors may consent to alone (mental and behavioural health, substance
 * use, HIV/STI, sexual and reproductive health, pregnancy, sexual and domestic violence, gender
 * identity), ADOL itself, and the other sensitive kinds a producer may label (genetic disease,
 * sickle cell, military sexual trauma, taboo, violence, specially protected or patient-requested
 * sensitive information). A resource carrying any of them is hidden from a limited proxy even when
 * its producer forgot the R label: the issue hides every sensitivity label, so the list errs wide
 * (PRX-3).
 */
export const HIDDEN_SENSITIVITY_CODES = [
  'ADOL',
  'BH',
  'COGN',
  'DIA',
  'DRGIS',
  'DVD',
  'EMOTDIS',
  'ETH',
  'ETHUD',
  'GDIS',
  'GENDER',
  'HIV',
  'MH',
  'MST',
  'OPIOIDUD',
  'PREGNANT',
  'PRS',
  'PSY',
  'PSYTHPN',
  'SCA',
  'SDV',
  'SEX',
  'SICKLE',
  'SPI',
  'STD',
  'SUD',
  'TBOO',
  'VIO',
] as const;

/**
 * The systems each kind of label is recorded under: the current terminology.hl7.org URI and the
 * pre-R4 `hl7.org/fhir/v3/…` one that older producers still send. A label without a system matches
 * on its code alone (codingMatches; the SQL adds the system-less form).
 */
const CONFIDENTIALITY_SYSTEMS = [CONFIDENTIALITY_SYSTEM, 'http://hl7.org/fhir/v3/Confidentiality'] as const;
const ACT_CODE_SYSTEMS = [ACT_CODE_SYSTEM, 'http://hl7.org/fhir/v3/ActCode'] as const;

/** Every label a limited proxy must not see, as codings (PRX-3, PRX-4). */
export const LIMITED_PROXY_HIDDEN_LABELS: readonly Coding[] = Object.freeze([
  ...CONFIDENTIALITY_SYSTEMS.flatMap((system) => HIDDEN_CONFIDENTIALITY_CODES.map((code) => Object.freeze({ system, code }))),
  ...ACT_CODE_SYSTEMS.flatMap((system) => HIDDEN_SENSITIVITY_CODES.map((code) => Object.freeze({ system, code }))),
]);

/** These labels plus, for each recorded under a v3 system, the same code under the pre-R4 URI (fail-closed). */
export function withLegacySystems(labels: readonly Coding[]): Coding[] {
  const legacy: Readonly<Record<string, string>> = { [CONFIDENTIALITY_SYSTEMS[0]]: CONFIDENTIALITY_SYSTEMS[1], [ACT_CODE_SYSTEMS[0]]: ACT_CODE_SYSTEMS[1] };
  return labels.flatMap((l) => {
    const old = l.system === undefined ? undefined : legacy[l.system];
    return old === undefined ? [l] : [l, Object.freeze({ system: old, code: l.code })];
  });
}

/** The same coding: equal codes and equal systems (both absent counts as equal). Unlike codingMatches, not a pattern. */
export function sameCoding(a: Coding, b: Coding): boolean {
  return a.code === b.code && a.system === b.system;
}

/** `pattern` matches `actual` when the codes agree and neither side names a different system. */
export function codingMatches(pattern: Coding, actual: Coding): boolean {
  if (pattern.code !== actual.code) return false;
  return pattern.system === undefined || actual.system === undefined || pattern.system === actual.system;
}

export function anyCodingMatches(patterns: readonly Coding[], actual: readonly Coding[]): boolean {
  return actual.some((a) => patterns.some((p) => codingMatches(p, a)));
}
