/**
 * Rate limits as a deployment sets them, one environment variable per limiter:
 * `RATE_LIMIT_FHIR=1200/1m`, `RATE_LIMIT_LOGIN_IP=100/15m,block=15m`: requests per window, and
 * for the sign-in limiters how long an address or account is refused once over. Durations are
 * seconds, or a number with s, m or h. The numbers are class-wide (RL-1): nothing here can name a
 * client, so the portal and every app of a class always get the same ones.
 */
import { LIMITER_SUBJECTS, RateLimitConfigError, resolveRateLimitPolicies, type LimiterName, type RateLimitPolicies, type RateLimitPolicy } from './policies.js';

/**
 * The limiters a deployment sets, and their variables: those in use (LIMITER_SUBJECTS).
 * `fhirBackend` is left out: no route uses it yet (system tokens are for bulk export, which the
 * API does not offer), and a setting that changes nothing would mislead.
 */
export const RATE_LIMIT_VARIABLES = Object.freeze({
  fhir: 'RATE_LIMIT_FHIR',
  fhirUnauthenticated: 'RATE_LIMIT_FHIR_UNAUTHENTICATED',
  token: 'RATE_LIMIT_TOKEN',
  registration: 'RATE_LIMIT_REGISTRATION',
  loginIp: 'RATE_LIMIT_LOGIN_IP',
  loginAccount: 'RATE_LIMIT_LOGIN_ACCOUNT',
  mfa: 'RATE_LIMIT_MFA',
} as const satisfies Record<keyof typeof LIMITER_SUBJECTS, string>);

export type SettableLimiter = keyof typeof RATE_LIMIT_VARIABLES;

const SETTING = /^(\d{1,10})\s*\/\s*(\d{1,6})\s*([smh]?)(?:\s*,\s*block\s*=\s*(\d{1,6})\s*([smh]?))?$/i;
const UNIT_SECONDS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600 };
export const RATE_LIMIT_SYNTAX = '<requests>/<window>[,block=<duration>] with durations such as 60, 30s, 15m or 1h';

/** One setting's text → its policy; undefined when the text does not follow RATE_LIMIT_SYNTAX. Ranges are checked by resolveRateLimitPolicies. */
export function parseRateLimitSetting(text: string): RateLimitPolicy | undefined {
  const m = SETTING.exec(text.trim());
  if (!m) return undefined;
  const seconds = (n: string, unit: string | undefined) => Number(n) * UNIT_SECONDS[(unit ?? '').toLowerCase()]!;
  return {
    points: Number(m[1]),
    durationSeconds: seconds(m[2]!, m[3]),
    ...(m[4] !== undefined ? { blockSeconds: seconds(m[4], m[5]) } : {}),
  };
}

/** A block given for a sign-in limiter replaces its default; without one, the default block stays (the merge in resolveRateLimitPolicies). */
export function rateLimitPoliciesFromSettings(settings: Partial<Record<SettableLimiter, string>>): { policies: RateLimitPolicies; problems: string[] } {
  const problems: string[] = [];
  const overrides: Partial<Record<LimiterName, RateLimitPolicy>> = {};
  for (const [limiter, variable] of Object.entries(RATE_LIMIT_VARIABLES) as [SettableLimiter, string][]) {
    const text = settings[limiter];
    if (text === undefined) continue;
    const policy = parseRateLimitSetting(text);
    if (policy) overrides[limiter] = policy;
    else problems.push(`${variable}: expected ${RATE_LIMIT_SYNTAX}, got "${text}"`);
  }
  try {
    return { policies: resolveRateLimitPolicies(overrides), problems };
  } catch (err) {
    if (!(err instanceof RateLimitConfigError)) throw err;
    const field = { points: 'requests: ', durationSeconds: 'window: ', blockSeconds: 'block: ' } as const;
    for (const issue of err.issues) {
      const variable = RATE_LIMIT_VARIABLES[issue.limiter as SettableLimiter] ?? issue.limiter;
      problems.push(`${variable}: ${issue.field ? field[issue.field] : ''}${issue.message}`);
    }
    return { policies: resolveRateLimitPolicies(), problems };
  }
}
