import { afterAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { DEFAULT_RATE_LIMIT_POLICIES, PATIENT_SYNC_REQUESTS, RateLimitConfigError, resolveRateLimitPolicies, type LimiterName, type RateLimitPolicy } from './policies.js';
import { createRateLimits, rateLimitHeaders, rateLimitKey, type RateLimitResult, type RateLimits } from './rate-limits.js';

const REDIS_URL = process.env['REDIS_URL'];
const opened: RateLimits[] = [];
const open = (...args: Parameters<typeof createRateLimits>): RateLimits => {
  const limits = createRateLimits(...args);
  opened.push(limits);
  return limits;
};
afterAll(async () => {
  await Promise.all(opened.map((l) => l.close()));
});

async function consumeTimes(limits: RateLimits, limiter: LimiterName, key: string, n: number): Promise<RateLimitResult[]> {
  const results: RateLimitResult[] = [];
  for (let i = 0; i < n; i++) results.push(await limits.consume(limiter, key));
  return results;
}

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('policies', () => {
  test.each<[string, Partial<Record<string, RateLimitPolicy>>, RegExp | null]>([
    ['the defaults', {}, null],
    ['a stricter login limit', { loginIp: { points: 20, durationSeconds: 300, blockSeconds: 600 } }, null],
    ['a patient-data limit too low for a full sync (RL-1)', { fhir: { points: 100, durationSeconds: 60 } }, /fhir: at least 150 .*RL-1/],
    ['a daily patient-data cap (RL-1)', { fhir: { points: 5000, durationSeconds: 86_400 } }, /RL-1/],
    ['a block on the data API (RL-1, IB-5)', { fhir: { points: 600, durationSeconds: 60, blockSeconds: 3600 } }, /IB-5/],
    ['a limit for one named client (RL-1)', { 'fhir:client-x': { points: 1, durationSeconds: 60 } }, /unknown limiter/],
    ['a zero window', { token: { points: 10, durationSeconds: 0 } }, /token.durationSeconds/],
    ['fractional points', { mfa: { points: 2.5, durationSeconds: 60 } }, /mfa.points/],
  ])('%s', (_, overrides, problem) => {
    if (problem === null) expect(() => resolveRateLimitPolicies(overrides)).not.toThrow();
    else expect(() => resolveRateLimitPolicies(overrides)).toThrow(problem);
  });

  test('errors list every problem at once', () => {
    try {
      resolveRateLimitPolicies({ fhir: { points: 1, durationSeconds: 60 }, token: { points: 0, durationSeconds: 60 } });
      throw new Error('expected RateLimitConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(RateLimitConfigError);
      expect((err as RateLimitConfigError).problems).toHaveLength(2);
    }
  });

  test('the defaults let a normal sync of one patient through (RL-1)', () => {
    expect(DEFAULT_RATE_LIMIT_POLICIES.fhir.points).toBeGreaterThanOrEqual(PATIENT_SYNC_REQUESTS);
  });
});

test('rateLimitKey keeps parts apart', () => {
  expect(rateLimitKey('a:b', 'c')).not.toBe(rateLimitKey('a', 'b:c'));
});

/** The behaviour every backend must have; `make` gives a fresh, isolated set of limiters. */
function behaves(make: (policies: Partial<Record<LimiterName, RateLimitPolicy>>) => Promise<RateLimits>) {
  test('allows up to the limit, then answers with Retry-After and RateLimit-* (RL-1)', async () => {
    const limits = await make({ registration: { points: 3, durationSeconds: 60 } });
    const results = await consumeTimes(limits, 'registration', '198.51.100.1', 4);
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[0]).toMatchObject({ allowed: true, limit: 3, remaining: 2, windowSeconds: 60 });
    expect((results[0] as { resetMs: number }).resetMs).toBeLessThanOrEqual(60_000);
    const refused = results[3]!;
    expect(refused).toMatchObject({ allowed: false, limit: 3, remaining: 0 });
    if (refused.allowed) throw new Error('expected a refusal');
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(rateLimitHeaders(refused)).toEqual({
      'RateLimit-Limit': '3',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': String(refused.retryAfterSeconds),
      'RateLimit-Policy': '3;w=60',
      'Retry-After': String(refused.retryAfterSeconds),
    });
    expect(rateLimitHeaders(results[0]!)).not.toHaveProperty('Retry-After');
    // Another key has its own count.
    expect((await limits.consume('registration', '198.51.100.2')).allowed).toBe(true);
  });

  // RL-1 (d): the portal and a third-party app of the same class get the same limit, refused at the same request.
  test.each(['portal', 'third-party-app'])('client %s is refused on request N+1 of the same (client, patient) limit', async (client) => {
    const limits = await make({});
    const n = limits.policies.fhir.points;
    const results = await consumeTimes(limits, 'fhir', rateLimitKey(client, 'pat-1'), n + 1);
    expect(results.findIndex((r) => !r.allowed)).toBe(n);
    // The same app reading another patient is not affected.
    expect((await limits.consume('fhir', rateLimitKey(client, 'pat-2'))).allowed).toBe(true);
  });

  test('a normal US Core sync of one patient never hits the default limit (RL-1)', async () => {
    const limits = await make({});
    const results = await consumeTimes(limits, 'fhir', rateLimitKey('sync-app', 'pat-1'), 25 * 4);
    expect(results.every((r) => r.allowed)).toBe(true);
  });

  test('login: per IP and per account, the most restrictive wins; a block outlasts the window', async () => {
    const limits = await make({ loginAccount: { points: 2, durationSeconds: 60, blockSeconds: 900 } });
    const attempt = () =>
      limits.consumeAll([
        { limiter: 'loginIp', key: '203.0.113.9' },
        { limiter: 'loginAccount', key: 'maria.lopez' },
      ]);
    const first = await attempt();
    expect(first).toMatchObject({ allowed: true, limiter: 'loginAccount', remaining: 1 });
    await attempt();
    const third = await attempt();
    expect(third).toMatchObject({ allowed: false, limiter: 'loginAccount' });
    if (third.allowed) throw new Error('expected a refusal');
    expect(third.retryAfterSeconds).toBeGreaterThan(60);
    await limits.reset('loginAccount', 'maria.lopez');
    expect((await limits.consume('loginAccount', 'maria.lopez')).allowed).toBe(true);
  });
}

describe('in memory', () => {
  behaves(async (policies) => open({ policies }));

  test('without a Redis URL the limiters are in memory', () => {
    const limits = open({});
    expect(limits.backend).toBe('memory');
    expect(limits.storeAvailable()).toBe(true);
  });
});

(REDIS_URL ? describe : describe.skip)('in Redis (REDIS_URL)', () => {
  const fresh = () => `rl-test-${randomBytes(6).toString('hex')}`;

  behaves(async (policies) => {
    const limits = open({ redisUrl: REDIS_URL!, keyPrefix: fresh(), policies });
    expect(await limits.ready()).toBe(true);
    return limits;
  });

  test('two instances sharing Redis see the same counts', async () => {
    const keyPrefix = fresh();
    const policies = { registration: { points: 4, durationSeconds: 60 } };
    const a = open({ redisUrl: REDIS_URL!, keyPrefix, policies });
    const b = open({ redisUrl: REDIS_URL!, keyPrefix, policies });
    expect(await a.ready()).toBe(true);
    expect(await b.ready()).toBe(true);
    expect(a.backend).toBe('redis');
    const seen = [await a.consume('registration', 'ip'), await b.consume('registration', 'ip'), await a.consume('registration', 'ip'), await b.consume('registration', 'ip')];
    expect(seen.map((r) => r.remaining)).toEqual([3, 2, 1, 0]);
    expect((await a.consume('registration', 'ip')).allowed).toBe(false);
    expect((await b.consume('registration', 'ip')).allowed).toBe(false);
  });

  test('the FHIR limit is counted write-behind: another instance sees this one\'s requests after a flush, and the limit stays exact', async () => {
    const keyPrefix = fresh();
    const a = open({ redisUrl: REDIS_URL!, keyPrefix, flushMs: 20 });
    const b = open({ redisUrl: REDIS_URL!, keyPrefix, flushMs: 20 });
    expect(await a.ready()).toBe(true);
    expect(await b.ready()).toBe(true);
    const n = a.policies.fhir.points;
    expect((await consumeTimes(a, 'fhir', 'app:pat', 100)).every((r) => r.allowed)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await b.consume('fhir', 'app:pat')).toMatchObject({ allowed: true, remaining: n - 101 });
    const rest = await consumeTimes(b, 'fhir', 'app:pat', n - 100);
    expect(rest.findIndex((r) => !r.allowed)).toBe(n - 101);
  });

  test('Redis going away mid-flight: the insurance limiter takes over without an error', async () => {
    // A TCP proxy in front of Redis that the test can cut.
    const target = new URL(REDIS_URL!);
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as { port: number };
    const errors: Error[] = [];
    const limits = open({
      redisUrl: `redis://127.0.0.1:${port}`,
      keyPrefix: fresh(),
      policies: { registration: { points: 3, durationSeconds: 60 } },
      onStoreError: (err) => errors.push(err),
    });
    try {
      expect(await limits.ready()).toBe(true);
      expect((await limits.consume('registration', 'ip')).remaining).toBe(2);
      proxy.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const during = await consumeTimes(limits, 'registration', 'ip', 4);
      // The insurance limiter counts from zero in this process: 3 allowed, then refused.
      expect(during.map((r) => r.allowed)).toEqual([true, true, true, false]);
      expect(limits.storeAvailable()).toBe(false);
      expect(errors.length).toBe(1);
    } finally {
      await limits.close();
      proxy.close();
    }
  });
});

describe('Redis unreachable', () => {
  test('the insurance limiter answers: the API stays up and the gates stay closed', async () => {
    const errors: Error[] = [];
    const limits = open({
      redisUrl: `redis://127.0.0.1:${await closedPort()}`,
      keyPrefix: 'rl-down',
      instances: 2,
      policies: { registration: { points: 4, durationSeconds: 60 } },
      onStoreError: (err) => errors.push(err),
    });
    expect(limits.backend).toBe('redis');
    expect(await limits.ready(300)).toBe(false);
    expect(limits.storeAvailable()).toBe(false);
    const started = Date.now();
    // Each of the 2 instances allows its share (4 / 2) while Redis is down.
    const results = await consumeTimes(limits, 'registration', 'ip', 3);
    expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(errors.length).toBe(1);
  });
});
