/**
 * Rate-limit policies: typed configuration with documented defaults.
 *
 * RL-1 / IB-5 (45 CFR 171.205, 170.404(a)(4)): throttling is a performance measure, not a gate on
 * who gets data. So policies are per limiter and (for the FHIR API) per client CLASS, never per
 * client: the first-party portal and every third-party app of the same class get the same
 * numbers, and nothing here can name a client id. Limits reset with their window (no long
 * punitive blocks on the data API), and the patient-data limit must let a normal app sync one
 * patient's whole US Core record inside one window.
 *
 * Defaults (requests per window, key):
 *
 * | limiter             | limit           | key                         | why                                                  |
 * |---------------------|-----------------|-----------------------------|------------------------------------------------------|
 * | loginIp             | 100 / 15 min, then blocked 15 min | client IP | password spraying from one address; NAT'd clinics still fit |
 * | loginAccount        | 10 / 15 min, then blocked 15 min  | username  | guessing one account (the 5-failure lockout is separate) |
 * | mfa                 | 10 / 15 min, then blocked 15 min  | account   | TOTP guessing                                         |
 * | token               | 600 / 1 min     | IP                          | token endpoint (code exchange, refresh)              |
 * | registration        | 20 / 1 h        | IP                          | open dynamic registration (RL-3: no vetting beyond security) |
 * | fhir                | 600 / 1 min     | client id + patient         | patient-facing apps, portal included (RL-1)          |
 * | fhirBackend         | 1200 / 1 min    | client id                   | backend services (system/ scopes, bulk export)       |
 * | fhirUnauthenticated | 300 / 1 min     | IP                          | resource requests with no token or one refused (not /metadata, /.well-known) |
 *
 * A full US Core sync of one patient (about 25 searches plus paging, RL-1 (d)) is well under 600.
 * There is deliberately no whole-client ceiling on patient data: it would throttle an app for
 * being popular, not for a measured impact (RL-1); per (client, patient) keys already bound what
 * one app can do with one record.
 */

export const LIMITER_NAMES = ['loginIp', 'loginAccount', 'mfa', 'token', 'registration', 'fhir', 'fhirBackend', 'fhirUnauthenticated'] as const;
export type LimiterName = (typeof LIMITER_NAMES)[number];

export interface RateLimitPolicy {
  /** Requests allowed per window. */
  readonly points: number;
  /** Window length in seconds. */
  readonly durationSeconds: number;
  /** Once exceeded, refuse for this long (seconds); 0 or absent: until the window ends. */
  readonly blockSeconds?: number;
}

export type RateLimitPolicies = Readonly<Record<LimiterName, RateLimitPolicy>>;

export const DEFAULT_RATE_LIMIT_POLICIES: RateLimitPolicies = Object.freeze({
  loginIp: { points: 100, durationSeconds: 900, blockSeconds: 900 },
  loginAccount: { points: 10, durationSeconds: 900, blockSeconds: 900 },
  mfa: { points: 10, durationSeconds: 900, blockSeconds: 900 },
  token: { points: 600, durationSeconds: 60 },
  registration: { points: 20, durationSeconds: 3600 },
  // RL-1: one number for the portal and every third-party patient app.
  fhir: { points: 600, durationSeconds: 60 },
  fhirBackend: { points: 1200, durationSeconds: 60 },
  fhirUnauthenticated: { points: 300, durationSeconds: 60 },
});

/**
 * What each limiter in use counts, in words, for the published policy (GET /rate-limits and the
 * CapabilityStatement). `fhirBackend` has no entry: no route uses it yet, and only what is in
 * force is published.
 */
export const LIMITER_SUBJECTS = Object.freeze({
  fhir: { appliesTo: 'FHIR API requests with an access token (the organization\'s portal and every third-party app alike)', per: 'client app and patient' },
  fhirUnauthenticated: { appliesTo: 'FHIR API requests with no access token or one that is refused (the CapabilityStatement and SMART discovery are not limited)', per: 'client address' },
  token: { appliesTo: 'token endpoint requests (code exchange, refresh)', per: 'client address' },
  registration: { appliesTo: 'dynamic client registration', per: 'client address' },
  loginIp: { appliesTo: 'sign-in attempts', per: 'client address' },
  loginAccount: { appliesTo: 'sign-in attempts, counted again from zero after a successful sign-in', per: 'username' },
  mfa: { appliesTo: 'TOTP code attempts, counted again from zero after a successful sign-in', per: 'account' },
} as const satisfies Partial<Record<LimiterName, { appliesTo: string; per: string }>>);

export interface PublishedRateLimit {
  readonly limiter: keyof typeof LIMITER_SUBJECTS;
  readonly appliesTo: string;
  readonly per: string;
  readonly limit: number;
  readonly windowSeconds: number;
  /** Once over the limit, refused for this long; absent: until the window ends. */
  readonly blockSeconds?: number;
}

/** The policy in force as a document (GET /rate-limits): what is limited, and how a response says so. */
export interface RateLimitPolicyDocument {
  readonly policy: string;
  readonly responses: string;
  readonly limits: readonly PublishedRateLimit[];
}

export function rateLimitPolicyDocument(policies: RateLimitPolicies): RateLimitPolicyDocument {
  return {
    policy: "One set of limits per class of client: the organization's portal and every third-party app get the same numbers (45 CFR 171.205, 170.404(a)(4)).",
    responses: 'Every limited response carries RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy; over a limit the answer is 429 with Retry-After.',
    limits: publishedRateLimits(policies),
  };
}

/** The policy in force, as published to app developers and testers (RL-1: one set of numbers per class of client). */
export function publishedRateLimits(policies: RateLimitPolicies): PublishedRateLimit[] {
  return (Object.keys(LIMITER_SUBJECTS) as (keyof typeof LIMITER_SUBJECTS)[]).map((limiter) => {
    const p = policies[limiter];
    return { limiter, ...LIMITER_SUBJECTS[limiter], limit: p.points, windowSeconds: p.durationSeconds, ...(p.blockSeconds ? { blockSeconds: p.blockSeconds } : {}) };
  });
}

/** Requests a normal sync of one patient's US Core record needs within one window (RL-1 (d)). */
export const PATIENT_SYNC_REQUESTS = 150;

const DATA_API: readonly LimiterName[] = ['fhir', 'fhirBackend'];
/** Far above any sensible limit, and an exact integer everywhere it travels (Redis, headers, JSON). */
const MAX_POINTS = 1_000_000_000;

/** One problem with one limiter's policy; `field` is absent for a rule about the policy as a whole. */
export interface RateLimitIssue {
  readonly limiter: string;
  readonly field?: keyof RateLimitPolicy;
  readonly message: string;
}

export class RateLimitConfigError extends Error {
  readonly problems: string[];
  constructor(readonly issues: readonly RateLimitIssue[]) {
    const problems = issues.map((i) => `${i.limiter}${i.field ? `.${i.field}` : ''}: ${i.message}`);
    super(`Invalid rate limits:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RateLimitConfigError';
    this.problems = problems;
  }
}

/** Merges overrides over the defaults and checks them; throws RateLimitConfigError listing every problem. */
export function resolveRateLimitPolicies(overrides: Partial<Record<string, RateLimitPolicy>> = {}): RateLimitPolicies {
  const issues: RateLimitIssue[] = [];
  for (const name of Object.keys(overrides)) {
    // RL-1: limits are named by limiter (and client class), never by client.
    if (!(LIMITER_NAMES as readonly string[]).includes(name)) issues.push({ limiter: name, message: `unknown limiter (expected one of ${LIMITER_NAMES.join(', ')})` });
  }
  const merged = Object.fromEntries(LIMITER_NAMES.map((name) => [name, { ...DEFAULT_RATE_LIMIT_POLICIES[name], ...(overrides[name] ?? {}) }])) as Record<LimiterName, RateLimitPolicy>;
  for (const limiter of LIMITER_NAMES) {
    const p = merged[limiter];
    if (!Number.isInteger(p.points) || p.points < 1 || p.points > MAX_POINTS) issues.push({ limiter, field: 'points', message: `expected 1 to ${MAX_POINTS}, got ${p.points}` });
    if (!Number.isInteger(p.durationSeconds) || p.durationSeconds < 1 || p.durationSeconds > 86_400) issues.push({ limiter, field: 'durationSeconds', message: `expected 1 to 86400 seconds, got ${p.durationSeconds}` });
    const block = p.blockSeconds ?? 0;
    if (!Number.isInteger(block) || block < 0 || block > 86_400) issues.push({ limiter, field: 'blockSeconds', message: `expected 0 to 86400 seconds, got ${p.blockSeconds}` });
    if (DATA_API.includes(limiter)) {
      // RL-1 / IB-5: throttling the data API lasts no longer than its window…
      if (block > 0) issues.push({ limiter, field: 'blockSeconds', message: 'the data API is throttled only for the window, not blocked (RL-1, IB-5)' });
      // RL-1: …and a normal sync of one patient's record must fit in one window of at most an hour.
      if (p.durationSeconds > 3600 || p.points < PATIENT_SYNC_REQUESTS) {
        issues.push({ limiter, message: `at least ${PATIENT_SYNC_REQUESTS} requests per window of at most 3600 s, so a normal sync of one patient's record is never refused (RL-1)` });
      }
    }
  }
  if (issues.length) throw new RateLimitConfigError(issues);
  return Object.freeze(merged);
}
