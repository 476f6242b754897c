import { describe, expect, test } from '@jest/globals';
import { PolicyConfigError } from './config-error.js';
import { DEFAULT_RELEASE_POLICY, releasedStatuses, resultTypeOf, validateReleasePolicy } from './release-policy.js';

const problemsOf = (raw: unknown): readonly string[] => {
  try {
    validateReleasePolicy(raw);
  } catch (err) {
    if (err instanceof PolicyConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('validateReleasePolicy', () => {
  test('default: release on finalization, preliminary not shown', () => {
    expect(validateReleasePolicy(undefined)).toEqual({ releasePreliminary: false });
    expect(validateReleasePolicy({})).toEqual(DEFAULT_RELEASE_POLICY);
    expect(validateReleasePolicy({ releasePreliminary: true })).toEqual({ releasePreliminary: true });
  });

  // REL-1 (d): a configured delay is refused with an error citing the rule.
  test.each([
    [{ resultDelay: { labs: '72h' } }],
    [{ delayHours: 0 }],
    [{ holdUntilClinicianReview: true }],
    [{ clinicianReviewBeforeRelease: ['pathology'] }],
    [{ releaseAfter: 'P3D' }],
    [{ releaseOn: 'clinician_signoff' }],
    [{ embargo: { imaging: '24h' } }],
    [{ categoryDelays: { pathology: '7d' } }],
    [{ waitForDiscussion: true }],
  ])('%j is refused citing REL-1', (raw) => {
    const problems = problemsOf(raw);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('REL-1');
    expect(problems[0]).toContain('refused');
  });

  test.each<[unknown, string[]]>([
    [{ releasePreliminary: 'yes' }, ['releasePolicy.releasePreliminary: expected true or false, got "yes"']],
    [{ colour: 'blue' }, ['releasePolicy.colour: unknown setting']],
    ['final', ['releasePolicy: expected an object']],
    [null, ['releasePolicy: expected an object']],
  ])('%j is refused', (raw, problems) => {
    expect(problemsOf(raw)).toEqual(problems);
  });

  test('every problem is reported at once', () => {
    expect(problemsOf({ resultDelay: '1h', releasePreliminary: 1, x: 1 })).toHaveLength(3);
  });
});

describe('releasedStatuses (REL-7)', () => {
  const table: [string, boolean, string, boolean][] = [];
  const obs = ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'];
  const dr = ['registered', 'partial', 'preliminary', 'final', 'amended', 'corrected', 'appended', 'cancelled', 'entered-in-error', 'unknown'];
  const released = (type: string, status: string, pre: boolean) =>
    ['final', 'amended', 'corrected', 'appended'].includes(status) || (pre && (status === 'preliminary' || (type === 'DiagnosticReport' && status === 'partial')));
  for (const pre of [false, true]) {
    for (const s of obs) table.push(['Observation', pre, s, released('Observation', s, pre)]);
    for (const s of dr) table.push(['DiagnosticReport', pre, s, released('DiagnosticReport', s, pre)]);
  }
  test.each(table)('%s, releasePreliminary=%s, %s → released %s', (type, pre, status, expected) => {
    const statuses = releasedStatuses({ releasePreliminary: pre });
    expect(statuses[type as 'Observation' | 'DiagnosticReport'].includes(status)).toBe(expected);
  });

  test('entered-in-error is never released, whatever the policy (REL-4)', () => {
    for (const pre of [false, true]) for (const list of Object.values(releasedStatuses({ releasePreliminary: pre }))) expect(list).not.toContain('entered-in-error');
  });
});

describe('resultTypeOf', () => {
  const cat = (code: string, system: string | undefined = 'http://terminology.hl7.org/CodeSystem/observation-category') => (system ? { system, code } : { code });
  test.each<[string, { system?: string; code: string }[], string | undefined]>([
    ['Observation', [cat('laboratory')], 'Observation'],
    ['Observation', [cat('imaging')], 'Observation'],
    ['Observation', [cat('procedure')], 'Observation'],
    ['Observation', [cat('vital-signs')], undefined],
    ['Observation', [cat('social-history')], undefined],
    ['Observation', [cat('survey'), cat('laboratory')], 'Observation'],
    ['Observation', [cat('laboratory', undefined)], 'Observation'], // no system: matched by code (hides more, never less)
    ['Observation', [cat('laboratory', 'http://example.org/local')], undefined],
    ['Observation', [], undefined],
    ['DiagnosticReport', [], 'DiagnosticReport'],
    ['DiagnosticReport', [cat('RAD', 'http://terminology.hl7.org/CodeSystem/v2-0074')], 'DiagnosticReport'],
    ['DocumentReference', [], undefined],
    ['Condition', [], undefined],
  ])('%s %j → %s', (type, categories, expected) => {
    expect(resultTypeOf(type, categories)).toBe(expected);
  });
});
