import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { DEFAULT_RATE_LIMIT_POLICIES } from '../rate-limits/policies.js';
import { ConfigError, loadConfig } from './app-config.js';

const load = (env: Record<string, string>) => loadConfig(env, '/srv/app');

describe('loadConfig', () => {
  test('defaults: embedded database in ./.data, FHIR base on localhost:8080', () => {
    const c = load({});
    expect(c).toMatchObject({
      port: 8080,
      fhirBaseUrl: 'http://localhost:8080/fhir',
      issuerUrl: 'http://localhost:8080/auth',
      database: { kind: 'embedded', dataDir: '/srv/app/.data/pg' },
      redisUrl: undefined,
      demoData: true,
    });
  });

  test('DATABASE_URL selects PostgreSQL with a pool and turns demo data off by default', () => {
    const c = load({ DATABASE_URL: 'postgres://u@db:5432/x', DATABASE_POOL_MAX: '20', REDIS_URL: 'redis://r:6379' });
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u@db:5432/x', poolMax: 20 });
    expect(c.redisUrl).toBe('redis://r:6379');
    expect(c.demoData).toBe(false);
  });

  test('public URLs are configurable for deployment behind a proxy', () => {
    const c = load({ PUBLIC_URL: 'https://portal.example.org/', FHIR_BASE_URL: 'https://api.example.org/r4/' });
    expect(c.fhirBaseUrl).toBe('https://api.example.org/r4');
    expect(c.issuerUrl).toBe('https://portal.example.org/auth');
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT: expected an integer from 0 to 65535, got "eighty"'],
    [{ PORT: '70000' }, 'PORT: expected an integer from 0 to 65535, got "70000"'],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL: expected a postgres:// or postgresql:// URL, got mysql://…'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL: not a valid URL'],
    [{ REDIS_URL: 'http://r' }, 'REDIS_URL: expected a redis:// or rediss:// URL, got http://…'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ DEMO_DATA: 'maybe' }, 'DEMO_DATA: expected true or false, got "maybe"'],
    [{ FHIR_BASE_URL: 'ftp://x' }, 'FHIR_BASE_URL: expected a http:// or https:// URL, got ftp://…'],
  ])('%j is rejected with a clear line', (env, message) => {
    expect(() => load(env)).toThrow(ConfigError);
    try {
      load(env);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([message]);
    }
  });

  test('RATE_LIMIT_*: one setting per limiter over the defaults; RATE_LIMIT_INSTANCES for the share each instance keeps while Redis is down', () => {
    expect(load({}).rateLimits).toEqual({ policies: DEFAULT_RATE_LIMIT_POLICIES, instances: 1 });
    const c = load({ RATE_LIMIT_FHIR: '1200/1m', RATE_LIMIT_LOGIN_IP: '50/10m,block=1h', RATE_LIMIT_INSTANCES: '3' });
    expect(c.rateLimits.policies.fhir).toEqual({ points: 1200, durationSeconds: 60 });
    expect(c.rateLimits.policies.loginIp).toEqual({ points: 50, durationSeconds: 600, blockSeconds: 3600 });
    expect(c.rateLimits.instances).toBe(3);
    expect(() => load({ RATE_LIMIT_FHIR: '100/1m' })).toThrow(/RATE_LIMIT_FHIR: at least 150 requests per window .*\(RL-1\)/);
    expect(() => load({ RATE_LIMIT_TOKEN: 'fast' })).toThrow('RATE_LIMIT_TOKEN: expected <requests>/<window>');
    expect(() => load({ RATE_LIMIT_INSTANCES: '0' })).toThrow('RATE_LIMIT_INSTANCES: expected an integer from 1 to 1000, got "0"');
  });

  test('TRUST_PROXY: X-Forwarded-For is ignored unless a number of proxies is trusted', () => {
    expect(load({}).trustProxy).toBe(0);
    expect(load({ TRUST_PROXY: 'false' }).trustProxy).toBe(0);
    expect(load({ TRUST_PROXY: 'true' }).trustProxy).toBe(1);
    expect(load({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(() => load({ TRUST_PROXY: 'all' })).toThrow('TRUST_PROXY: expected false, true or a number of proxies from 1 to 10, got "all"');
    expect(() => load({ TRUST_PROXY: '11' })).toThrow(ConfigError);
  });

  test('every wrong setting is reported at once', () => {
    try {
      load({ PORT: 'x', LOG_LEVEL: 'y' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as ConfigError).problems).toHaveLength(2);
    }
  });
});

describe('POLICY_FILE and JURISDICTION: the organization\'s policy choices, refused when they would block', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pa-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const policy = (content: unknown) => {
    const file = join(dir, `policy-${n++}.json`);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  const problems = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (err) {
      return (err as ConfigError).problems;
    }
    return [];
  };

  test('defaults: final results only, age rules 12 and 18, 42 CFR Part 2 records need the patient\'s consent for a proxy', () => {
    expect(load({}).policy).toEqual({
      jurisdiction: undefined,
      releasePolicy: { releasePreliminary: false },
      ageRules: { limitedProxyFromAge: 12, majorityAge: 18, timeZone: 'UTC' },
      consentRequiredLabels: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' }],
    });
  });

  test("the deployment's jurisdiction picks its age rules; preliminary results may be shown", () => {
    const file = policy({ releasePolicy: { releasePreliminary: true }, ageRules: { default: { majorityAge: 18 }, jurisdictions: { 'US-AL': { majorityAge: 19, timeZone: 'America/Chicago' } } } });
    expect(load({ POLICY_FILE: file, JURISDICTION: 'US-AL' }).policy).toEqual({
      jurisdiction: 'US-AL',
      releasePolicy: { releasePreliminary: true },
      ageRules: { limitedProxyFromAge: 12, majorityAge: 19, timeZone: 'America/Chicago' },
      consentRequiredLabels: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' }],
    });
    expect(load({ POLICY_FILE: file, JURISDICTION: 'US-CA' }).policy.ageRules.majorityAge).toBe(18);
  });

  test.each([
    ['a blanket delay', { resultDelayHours: 72 }, /^POLICY_FILE: resultDelayHours: refused: .*\(REL-1/],
    ['a per-category hold until review', { releasePolicy: { holdUntilReviewed: ['pathology'] } }, /^POLICY_FILE: releasePolicy.holdUntilReviewed: refused: .*\(REL-1/],
    ['a typo', { releasPolicy: {} }, /^POLICY_FILE: releasPolicy: unknown setting/],
    ['a wrong type', { releasePolicy: { releasePreliminary: 'yes' } }, /^POLICY_FILE: releasePolicy.releasePreliminary: expected true or false/],
    ['an impossible majority', { ageRules: { default: { majorityAge: 40 } } }, /^POLICY_FILE: ageRules.default.majorityAge: expected an integer from 14 to 21/],
    ['limited access after majority', { ageRules: { default: { limitedProxyFromAge: 19 } } }, /limitedProxyFromAge: must not exceed majorityAge \(18\) \(PRX-4\)/],
    ['not JSON', '{ nope', /^POLICY_FILE: cannot read .* as JSON/],
    ['not an object', '[]', /^POLICY_FILE: expected a JSON object$/],
  ])('%s is refused at start-up with the rule', (_, content, message) => {
    const found = problems({ POLICY_FILE: policy(content) });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  test('CONSENT_REQUIRED_LABELS (IB-2): system|code entries, or none; anything else is named at start-up', () => {
    const stateLaw = { system: 'urn:oid:2.16.840.1.113883.3.1', code: 'STATE-CONSENT' };
    expect(load({ CONSENT_REQUIRED_LABELS: `http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2, ${stateLaw.system}|${stateLaw.code}` }).policy.consentRequiredLabels).toEqual([
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: '42CFRPart2' },
      stateLaw,
    ]);
    expect(load({ CONSENT_REQUIRED_LABELS: 'none' }).policy.consentRequiredLabels).toEqual([]);
    expect(problems({ CONSENT_REQUIRED_LABELS: '42CFRPart2' })).toEqual(['CONSENT_REQUIRED_LABELS: expected system|code (an http(s) or urn system), got "42CFRPart2"']);
    expect(problems({ CONSENT_REQUIRED_LABELS: 'ftp://x|A' })).toHaveLength(1);
    expect(problems({ CONSENT_REQUIRED_LABELS: 'http://x|A,,http://x|bad code' })).toHaveLength(2);
    expect(problems({ CONSENT_REQUIRED_LABELS: 'http://x|A,http://x|A' })).toEqual(['CONSENT_REQUIRED_LABELS: http://x|A is listed twice']);
  });

  test('a missing file and a malformed jurisdiction are named', () => {
    expect(problems({ POLICY_FILE: join(dir, 'absent.json') })[0]).toMatch(/^POLICY_FILE: cannot read .*absent.json/);
    expect(problems({ JURISDICTION: 'California' })).toEqual(['JURISDICTION: expected an ISO 3166-2 code such as US-CA, got "California"']);
  });
});
