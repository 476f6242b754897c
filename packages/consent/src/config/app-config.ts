/**
 * The one typed configuration object of a process, read from environment variables and validated
 * at start-up. Every problem is reported (all at once) as one line naming the variable.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ageRulesFor, validateAgeRulesConfig, type AgeRules } from '../policy/age-rules.js';
import { PolicyConfigError, isPlainObject } from '../policy/config-error.js';
import { DEFAULT_CONSENT_REQUIRED_LABELS, parseConsentRequiredLabels } from '../policy/consent-required-labels.js';
import type { Coding } from '../policy/labels.js';
import { DEFAULT_RELEASE_POLICY, DELAY_LIKE, REL1_REFUSAL, validateReleasePolicy, type ReleasePolicy } from '../policy/release-policy.js';
import type { RateLimitPolicies } from '../rate-limits/policies.js';
import { RATE_LIMIT_VARIABLES, rateLimitPoliciesFromSettings, type SettableLimiter } from '../rate-limits/rate-limit-settings.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface AppConfig {
  /** Interface and port the HTTP server listens on. */
  host: string;
  port: number;
  /** Public base URL of the deployment (behind a proxy, the external one). */
  publicUrl: string;
  /** FHIR base URL: the `aud` of access tokens. */
  fhirBaseUrl: string;
  /** OIDC issuer of the authorization server. */
  issuerUrl: string;
  database: DatabaseConfig;
  /** Redis for state shared across instances (rate limits); undefined = in-process. */
  redisUrl: string | undefined;
  logLevel: LogLevel;
  /**
   * Reverse proxies in front of this process whose X-Forwarded-For entries are trusted: 0 = none
   * (the client address is the socket's), N = the address N hops back. Per-address rate limits
   * (RL-1) and the access log's source address (AUD-1) depend on it.
   */
  trustProxy: number;
  /** Seed the demo dataset on first start with an empty database (and print demo logins). */
  demoData: boolean;
  demoPatients: number;
  auth: AuthConfig;
  policy: PolicyConfig;
  rateLimits: RateLimitConfig;
}

/** RATE_LIMIT_* (rate-limit-settings.ts): one set of numbers per class of client (RL-1). */
export interface RateLimitConfig {
  policies: RateLimitPolicies;
  /**
   * RATE_LIMIT_INSTANCES: instances sharing the Redis counts. While Redis is unreachable each
   * answers from memory with this share of every limit, so the deployment stays near its limits.
   */
  instances: number;
}

/** The organization's access policy choices (POLICY_FILE, JURISDICTION, CONSENT_REQUIRED_LABELS); the same for every client (REL-8). */
export interface PolicyConfig {
  /** ISO 3166-2 code of the deployment (e.g. US-CA): picks the age rules of that jurisdiction. */
  jurisdiction: string | undefined;
  releasePolicy: ReleasePolicy;
  ageRules: AgeRules;
  /**
   * CONSENT_REQUIRED_LABELS: security labels whose resources a proxy receives only once the
   * patient has recorded her consent naming that proxy (IB-2, 45 CFR 171.202(b)); default
   * 42 CFR Part 2 (`http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2`), `none` for none.
   */
  consentRequiredLabels: readonly Coding[];
}

export interface AuthConfig {
  /** Access token lifetime; at most an hour so expiry backs up revocation ((g)(10) CCG). */
  accessTokenTtlSeconds: number;
  /** offline_access refresh token lifetime; at least 3 months (45 CFR 170.315(g)(10)(v)(A)). */
  refreshTokenTtlDays: number;
  /** Login session lifetime; online_access refresh tokens end with it. */
  sessionTtlHours: number;
  /** Secure cookies (https deployments); off only for plain-http local use. */
  secureCookies: boolean;
}

export type DatabaseConfig =
  | { kind: 'postgres'; url: string; poolMax: number }
  | { kind: 'embedded'; dataDir: string };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the configuration; throws ConfigError listing every wrong setting. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): AppConfig {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const host = read.string('HOST', '127.0.0.1');
  const port = read.integer('PORT', 8080, 0, 65535);
  const publicUrl = trimSlash(read.url('PUBLIC_URL', `http://localhost:${port}`, ['http:', 'https:']));
  const fhirBaseUrl = trimSlash(read.url('FHIR_BASE_URL', `${publicUrl}/fhir`, ['http:', 'https:']));
  const issuerUrl = trimSlash(read.url('ISSUER_URL', `${publicUrl}/auth`, ['http:', 'https:']));

  const databaseUrl = read.optionalUrl('DATABASE_URL', ['postgres:', 'postgresql:']);
  const database: DatabaseConfig = databaseUrl
    ? { kind: 'postgres', url: databaseUrl, poolMax: read.integer('DATABASE_POOL_MAX', 10, 1, 1000) }
    : { kind: 'embedded', dataDir: resolve(cwd, read.string('DATA_DIR', './.data'), 'pg') };
  const redisUrl = read.optionalUrl('REDIS_URL', ['redis:', 'rediss:']);
  const logLevel = read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS);
  const trustProxy = read.proxyHops('TRUST_PROXY');
  const demoData = read.boolean('DEMO_DATA', database.kind === 'embedded');
  const demoPatients = read.integer('DEMO_PATIENTS', 50, 0, 1_000_000);

  const auth: AuthConfig = {
    accessTokenTtlSeconds: read.integer('ACCESS_TOKEN_TTL_SECONDS', 3600, 60, 3600),
    refreshTokenTtlDays: read.integer('REFRESH_TOKEN_TTL_DAYS', 90, 90, 3660),
    sessionTtlHours: read.integer('SESSION_TTL_HOURS', 8, 1, 720),
    secureCookies: read.boolean('SECURE_COOKIES', new URL(issuerUrl).protocol === 'https:'),
  };

  const policy = {
    ...readPolicy(read.raw('POLICY_FILE'), read.raw('JURISDICTION'), cwd, problems),
    consentRequiredLabels: readConsentRequiredLabels(read.raw('CONSENT_REQUIRED_LABELS'), problems),
  };

  const settings: Partial<Record<SettableLimiter, string>> = {};
  for (const [limiter, variable] of Object.entries(RATE_LIMIT_VARIABLES) as [SettableLimiter, string][]) {
    const text = read.raw(variable);
    if (text !== undefined) settings[limiter] = text;
  }
  const limits = rateLimitPoliciesFromSettings(settings);
  problems.push(...limits.problems);
  const rateLimits: RateLimitConfig = { policies: limits.policies, instances: read.integer('RATE_LIMIT_INSTANCES', 1, 1, 1000) };

  if (problems.length) throw new ConfigError(problems);
  return { host, port, publicUrl, fhirBaseUrl, issuerUrl, database, redisUrl, logLevel, trustProxy, demoData, demoPatients, auth, policy, rateLimits };
}

const JURISDICTION = /^[A-Z]{2}(-[A-Z0-9]{1,3})?$/;
const POLICY_KEYS = new Set(['releasePolicy', 'ageRules']);

/**
 * POLICY_FILE: `{ "releasePolicy": { "releasePreliminary": false }, "ageRules": { "default": {…}, "jurisdictions": { "US-CA": {…} } } }`.
 * Every setting is checked; one that would block access is refused with the rule it breaks.
 */
function readPolicy(file: string | undefined, jurisdiction: string | undefined, cwd: string, problems: string[]): Omit<PolicyConfig, 'consentRequiredLabels'> {
  const fallback: Omit<PolicyConfig, 'consentRequiredLabels'> = { jurisdiction: undefined, releasePolicy: DEFAULT_RELEASE_POLICY, ageRules: ageRulesFor(validateAgeRulesConfig(undefined), undefined) };
  if (jurisdiction !== undefined && !JURISDICTION.test(jurisdiction)) problems.push(`JURISDICTION: expected an ISO 3166-2 code such as US-CA, got "${jurisdiction}"`);
  let raw: unknown = {};
  if (file !== undefined) {
    try {
      raw = JSON.parse(readFileSync(resolve(cwd, file), 'utf8')) as unknown;
    } catch (err) {
      problems.push(`POLICY_FILE: cannot read ${file} as JSON (${(err as Error).message})`);
      return fallback;
    }
  }
  if (!isPlainObject(raw)) {
    problems.push('POLICY_FILE: expected a JSON object');
    return fallback;
  }
  for (const key of Object.keys(raw))
    // A key that smells of a delay is answered with the rule, not with "unknown setting" (REL-1).
    if (!POLICY_KEYS.has(key)) problems.push(`POLICY_FILE: ${key}: ${DELAY_LIKE.test(key) ? REL1_REFUSAL : 'unknown setting (releasePolicy, ageRules)'}`); // REL-1
  try {
    const releasePolicy = validateReleasePolicy(raw['releasePolicy']);
    const ageRules = ageRulesFor(validateAgeRulesConfig(raw['ageRules']), jurisdiction);
    return { jurisdiction, releasePolicy, ageRules };
  } catch (err) {
    if (!(err instanceof PolicyConfigError)) throw err;
    problems.push(...err.problems.map((p) => `POLICY_FILE: ${p}`));
    return fallback;
  }
}

/** CONSENT_REQUIRED_LABELS (IB-2): `system|code,…` or `none`; unset, 42 CFR Part 2. */
function readConsentRequiredLabels(text: string | undefined, problems: string[]): readonly Coding[] {
  if (text === undefined) return DEFAULT_CONSENT_REQUIRED_LABELS;
  try {
    return Object.freeze(parseConsentRequiredLabels(text));
  } catch (err) {
    if (!(err instanceof PolicyConfigError)) throw err;
    problems.push(...err.problems.map((p) => `CONSENT_REQUIRED_LABELS: ${p}`));
    return DEFAULT_CONSENT_REQUIRED_LABELS;
  }
}

/**
 * Koa's options for the client address: with N trusted proxies, the address N entries from the end
 * of X-Forwarded-For (what the nearest proxy saw); with none, X-Forwarded-* is ignored.
 */
export function koaProxyOptions(config: Pick<AppConfig, 'trustProxy'>): { proxy: boolean; maxIpsCount: number } {
  return { proxy: config.trustProxy > 0, maxIpsCount: config.trustProxy };
}

/** Directory holding the embedded database and generated files (demo accounts, keys). */
export function dataDirectory(env: Env = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env['DATA_DIR'] || './.data');
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.problems.push(`${name}: expected an integer from ${min} to ${max}, got "${v}"`);
      return fallback;
    }
    return Number(v);
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${name}: expected true or false, got "${v}"`);
    return fallback;
  }

  /** unset, false or 0: no proxy is trusted; true: one; an integer from 1 to 10: that many. */
  proxyHops(name: string): number {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined || ['0', 'false', 'no', 'off'].includes(v)) return 0;
    if (['true', 'yes', 'on'].includes(v)) return 1;
    if (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 10) return Number(v);
    this.problems.push(`${name}: expected false, true or a number of proxies from 1 to 10, got "${v}"`);
    return 0;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name}: expected one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  }

  url(name: string, fallback: string, protocols: string[]): string {
    return this.optionalUrl(name, protocols) ?? fallback;
  }

  optionalUrl(name: string, protocols: string[]): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      this.problems.push(`${name}: not a valid URL`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.problems.push(`${name}: expected a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL, got ${parsed.protocol}//…`);
      return undefined;
    }
    return v;
  }
}
