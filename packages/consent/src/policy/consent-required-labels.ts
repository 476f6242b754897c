/**
 * Security labels that mark a resource the law lets a representative receive only with the
 * patient's recorded consent (IB-2, 45 CFR 171.202(b)): by default 42 CFR Part 2 substance-use-
 * disorder records (v3-ActCode 42CFRPart2, 42 CFR 2.31/2.33). A deployment may name others (a
 * state law's consent rule) in CONSENT_REQUIRED_LABELS; the patient's own access never depends
 * on them (access-plan.ts).
 */
import { PolicyConfigError } from './config-error.js';
import { ACT_CODE_SYSTEM, type Coding } from './labels.js';

export const PART2_LABEL: Coding = Object.freeze({ system: ACT_CODE_SYSTEM, code: '42CFRPart2' });

export const DEFAULT_CONSENT_REQUIRED_LABELS: readonly Coding[] = Object.freeze([PART2_LABEL]);

/** Setting the variable to this leaves no label requiring consent. */
export const NO_CONSENT_REQUIRED_LABELS = 'none';

const SYSTEM = /^(https?:\/\/[\x21-\x7e]+|urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[\x21-\x7e]+)$/;
const CODE = /^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$/;

/**
 * `system|code` entries separated by commas (e.g. `http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2`),
 * or `none`. A label must name its system: the FHIR API matches references to labelled resources
 * by system and code. Throws PolicyConfigError listing every bad entry.
 */
export function parseConsentRequiredLabels(text: string): Coding[] {
  if (text.trim() === NO_CONSENT_REQUIRED_LABELS) return [];
  const problems: string[] = [];
  const labels: Coding[] = [];
  for (const entry of text.split(',').map((e) => e.trim())) {
    const bar = entry.lastIndexOf('|');
    const system = entry.slice(0, Math.max(bar, 0));
    const code = entry.slice(bar + 1);
    if (bar <= 0 || !SYSTEM.test(system) || !CODE.test(code)) {
      problems.push(`expected system|code (an http(s) or urn system), got "${entry.slice(0, 120)}"`);
      continue;
    }
    if (labels.some((l) => l.system === system && l.code === code)) {
      problems.push(`${entry} is listed twice`);
      continue;
    }
    labels.push(Object.freeze({ system, code }));
  }
  if (problems.length) throw new PolicyConfigError(problems);
  return labels;
}
