import { describe, expect, test } from '@jest/globals';
import { DEFAULT_RATE_LIMIT_POLICIES, LIMITER_SUBJECTS, publishedRateLimits } from './policies.js';
import { RATE_LIMIT_VARIABLES, parseRateLimitSetting, rateLimitPoliciesFromSettings } from './rate-limit-settings.js';

describe('parseRateLimitSetting', () => {
  test.each([
    ['600/60', { points: 600, durationSeconds: 60 }],
    ['600/60s', { points: 600, durationSeconds: 60 }],
    ['1200/1m', { points: 1200, durationSeconds: 60 }],
    ['20/1h', { points: 20, durationSeconds: 3600 }],
    ['20/1H', { points: 20, durationSeconds: 3600 }],
    [' 100 / 15m , block = 15m ', { points: 100, durationSeconds: 900, blockSeconds: 900 }],
    ['100/15m,block=0', { points: 100, durationSeconds: 900, blockSeconds: 0 }],
    ['10/900,block=1h', { points: 10, durationSeconds: 900, blockSeconds: 3600 }],
    // Ranges are resolveRateLimitPolicies' to judge: the text itself is well formed.
    ['0/1m', { points: 0, durationSeconds: 60 }],
  ])('%j → %j', (text, policy) => {
    expect(parseRateLimitSetting(text)).toEqual(policy);
  });

  test.each(['', '600', '600/', '/60', '600/1d', '600/1m,block', '600/1m,wait=1m', '600/1m block=1m', '-1/1m', '1.5/1m', '600/1m,block=1m,block=2m', '600 per minute', '12345678901/1m'])(
    '%j is refused',
    (text) => {
      expect(parseRateLimitSetting(text)).toBeUndefined();
    },
  );
});

describe('rateLimitPoliciesFromSettings', () => {
  test('nothing set: the defaults', () => {
    expect(rateLimitPoliciesFromSettings({})).toEqual({ policies: DEFAULT_RATE_LIMIT_POLICIES, problems: [] });
  });

  test('a setting replaces its limiter only; a sign-in limiter keeps its default block unless one is given', () => {
    const { policies, problems } = rateLimitPoliciesFromSettings({ fhir: '1200/1m', mfa: '5/10m', loginIp: '50/10m,block=1h' });
    expect(problems).toEqual([]);
    expect(policies.fhir).toEqual({ points: 1200, durationSeconds: 60 });
    expect(policies.mfa).toEqual({ points: 5, durationSeconds: 600, blockSeconds: 900 });
    expect(policies.loginIp).toEqual({ points: 50, durationSeconds: 600, blockSeconds: 3600 });
    expect(policies.token).toEqual(DEFAULT_RATE_LIMIT_POLICIES.token);
  });

  test.each([
    [{ fhir: 'lots' }, 'RATE_LIMIT_FHIR: expected <requests>/<window>[,block=<duration>] with durations such as 60, 30s, 15m or 1h, got "lots"'],
    [{ fhir: '100/1m' }, "RATE_LIMIT_FHIR: at least 150 requests per window of at most 3600 s, so a normal sync of one patient's record is never refused (RL-1)"],
    [{ fhir: '5000/24h' }, "RATE_LIMIT_FHIR: at least 150 requests per window of at most 3600 s, so a normal sync of one patient's record is never refused (RL-1)"],
    [{ fhir: '600/1m,block=5m' }, 'RATE_LIMIT_FHIR: block: the data API is throttled only for the window, not blocked (RL-1, IB-5)'],
    [{ token: '10/0' }, 'RATE_LIMIT_TOKEN: window: expected 1 to 86400 seconds, got 0'],
    [{ registration: '0/1h' }, 'RATE_LIMIT_REGISTRATION: requests: expected 1 to 1000000000, got 0'],
    [{ loginAccount: '5/15m,block=48h' }, 'RATE_LIMIT_LOGIN_ACCOUNT: block: expected 0 to 86400 seconds, got 172800'],
  ])('%j is refused with a line naming the variable', (settings, problem) => {
    const { policies, problems } = rateLimitPoliciesFromSettings(settings);
    expect(problems).toEqual([problem]);
    // The caller stops start-up; what it gets meanwhile is the defaults, never a half-applied set.
    expect(policies).toEqual(DEFAULT_RATE_LIMIT_POLICIES);
  });

  test('every problem at once', () => {
    expect(rateLimitPoliciesFromSettings({ fhir: 'x', token: '10/0', mfa: '0/1m' }).problems).toHaveLength(3);
  });
});

describe('publishedRateLimits', () => {
  test('publishes every settable limiter, and only those (what is in force)', () => {
    const published = publishedRateLimits(DEFAULT_RATE_LIMIT_POLICIES);
    expect(published.map((l) => l.limiter).sort()).toEqual(Object.keys(RATE_LIMIT_VARIABLES).sort());
    expect(published.map((l) => l.limiter).sort()).toEqual(Object.keys(LIMITER_SUBJECTS).sort());
    expect(published.find((l) => l.limiter === 'fhir')).toEqual({
      limiter: 'fhir',
      appliesTo: expect.stringContaining('portal and every third-party app'),
      per: 'client app and patient',
      limit: 600,
      windowSeconds: 60,
    });
    expect(published.find((l) => l.limiter === 'loginIp')).toMatchObject({ limit: 100, windowSeconds: 900, blockSeconds: 900 });
  });
});
