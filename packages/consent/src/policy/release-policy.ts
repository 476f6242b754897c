/**
 * The result release policy (REL-1, REL-4, REL-7): which resources are "results", and which of
 * their statuses are released. The organization may choose one thing only, whether preliminary
 * results are shown; there is deliberately no delay setting of any kind (REL-1). Holds on
 * individual results live in the hold tables (holds/), not here.
 */
import { PolicyConfigError, isPlainObject } from './config-error.js';
import type { Coding } from './labels.js';

export interface ReleasePolicy {
  /** Show preliminary Observations and partial/preliminary DiagnosticReports (REL-7: organization's choice). */
  readonly releasePreliminary: boolean;
}

/** Release on finalization with no delay (REL-1). */
export const DEFAULT_RELEASE_POLICY: ReleasePolicy = Object.freeze({ releasePreliminary: false });

export const REL1_REFUSAL =
  'refused: results are released as soon as they are final, and an organizational delay of any length, for all results or a category, ' +
  'is likely information blocking (REL-1: ONC FAQ on delays, 45 CFR 171.103). A result may only be held by a clinician harm hold on ' +
  'named resources (REL-2), a data-quality hold (REL-4), the patient\'s own delay (REL-5) or a cited state-law rule (REL-6)';
// Any key that smells of a delay is answered with the rule, not with "unknown setting".
export const DELAY_LIKE = /delay|hold|review|embargo|wait|defer|postpone|release(on|after|at|time|when)|until/i;

/** Parses the `releasePolicy` configuration object. Throws PolicyConfigError listing every problem. */
export function validateReleasePolicy(raw: unknown, path = 'releasePolicy'): ReleasePolicy {
  if (raw === undefined) return DEFAULT_RELEASE_POLICY;
  if (!isPlainObject(raw)) throw new PolicyConfigError([`${path}: expected an object`]);
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (key === 'releasePreliminary') continue;
    problems.push(DELAY_LIKE.test(key) ? `${path}.${key}: ${REL1_REFUSAL}` : `${path}.${key}: unknown setting`); // REL-1
  }
  const pre = raw['releasePreliminary'];
  if (pre !== undefined && typeof pre !== 'boolean') problems.push(`${path}.releasePreliminary: expected true or false, got ${JSON.stringify(pre)}`);
  if (problems.length) throw new PolicyConfigError(problems);
  return Object.freeze({ releasePreliminary: pre === true });
}

/** Resource types whose status decides release. */
export const RESULT_TYPES = ['Observation', 'DiagnosticReport'] as const;
export type ResultType = (typeof RESULT_TYPES)[number];

export const OBSERVATION_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';

/**
 * Observations that are test results: laboratory, imaging, and "procedure" (results of other
 * diagnostic procedures such as ECG, endoscopy, electrodiagnostics). Vital signs, surveys,
 * social history, exam findings and the like are recorded facts, not pending tests, so they are
 * not subject to the release-status rule (entered-in-error still hides them, REL-4).
 * Every DiagnosticReport is a result whatever its category (lab, radiology, pathology, notes).
 * DocumentReference is not a result: its status (current/superseded) is not a test lifecycle and
 * notes are EHI to release as written; a DocumentReference can still be held by the hold tables.
 */
export const RESULT_OBSERVATION_CATEGORIES: readonly Coding[] = Object.freeze(
  ['laboratory', 'imaging', 'procedure'].map((code) => Object.freeze({ system: OBSERVATION_CATEGORY_SYSTEM, code })),
);

export const RESULT_CATEGORIES: Readonly<Record<ResultType, readonly Coding[] | 'all'>> = Object.freeze({
  Observation: RESULT_OBSERVATION_CATEGORIES,
  DiagnosticReport: 'all',
});

/** Never shown as a valid resource to anyone, result or not (REL-4). */
export const NEVER_RELEASED_STATUSES: readonly string[] = Object.freeze(['entered-in-error']);

// REL-7: complete results. `appended` is a DiagnosticReport status; listing it for Observation is harmless.
const COMPLETE = ['final', 'amended', 'corrected', 'appended'] as const;

/**
 * The released statuses per result type (REL-7). registered, cancelled, unknown and
 * entered-in-error are never released; preliminary (and partial for reports) only when the
 * organization turns it on.
 */
export function releasedStatuses(policy: ReleasePolicy): Readonly<Record<ResultType, readonly string[]>> {
  return Object.freeze({
    Observation: Object.freeze(policy.releasePreliminary ? [...COMPLETE, 'preliminary'] : [...COMPLETE]), // REL-7
    DiagnosticReport: Object.freeze(policy.releasePreliminary ? [...COMPLETE, 'partial', 'preliminary'] : [...COMPLETE]), // REL-7
  });
}

function hasCategory(categories: readonly Coding[], wanted: readonly Coding[]): boolean {
  // A category is matched strictly when its system is given, and by code alone when it is not.
  return categories.some((c) => wanted.some((w) => w.code === c.code && (c.system === undefined || c.system === w.system)));
}

/** The result type of a resource, or undefined when its status does not gate release. */
export function resultTypeOf(resourceType: string, categories: readonly Coding[] = []): ResultType | undefined {
  if (resourceType === 'DiagnosticReport') return 'DiagnosticReport';
  if (resourceType === 'Observation' && hasCategory(categories, RESULT_OBSERVATION_CATEGORIES)) return 'Observation';
  return undefined;
}
