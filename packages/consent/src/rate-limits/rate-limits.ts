/**
 * Named rate limiters over rate-limiter-flexible. With a Redis URL the counts live in Redis, so
 * every instance behind the load balancer sees the same counts; each Redis limiter has an
 * in-memory insurance limiter that answers while Redis is unreachable or slow (the gates stay
 * closed at each instance's share of the limit, and the API stays up). Without Redis the
 * limiters are in-memory (one process).
 *
 * `consume(name, key)` says whether a request may go ahead, with what HTTP needs either way:
 * 429 + Retry-After + RateLimit-* (see `rateLimitHeaders`). Policies: ./policies.ts.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { writeBehind, type Consumed, type WriteBehind } from './write-behind.js';
import { LIMITER_NAMES, resolveRateLimitPolicies, type LimiterName, type RateLimitPolicies, type RateLimitPolicy } from './policies.js';

export interface RateLimitsConfig {
  /** redis:// or rediss:// URL; absent: in-memory limiters. */
  readonly redisUrl?: string | undefined;
  /** Overrides of the defaults in policies.ts, per limiter. */
  readonly policies?: Partial<Record<LimiterName, RateLimitPolicy>>;
  /** Prefix of the Redis keys (default "rl"): `${prefix}:${limiter}:${key}`. */
  readonly keyPrefix?: string;
  /**
   * Instances sharing the Redis counts. While Redis is down each instance's insurance limiter
   * allows points / instances (at least 1), so the whole deployment stays near the limit.
   */
  readonly instances?: number;
  /** Past this, a Redis command counts as failed and the insurance limiter answers (default 300 ms). */
  readonly redisTimeoutMs?: number;
  /**
   * Share of a limit each instance may admit before Redis has counted it (default 0.02: 12 of the
   * default 600 FHIR requests per minute); 0 asks Redis on every request. See write-behind.ts for
   * the bound this gives. Limiters that block (the login ones) always ask Redis.
   */
  readonly localShare?: number;
  /** How often locally admitted requests are sent to Redis (default 1000 ms). */
  readonly flushMs?: number;
  /** Told once when Redis becomes unavailable (and again after it has recovered and fails again). */
  readonly onStoreError?: (err: Error) => void;
}

export type RateLimitResult =
  | {
      readonly allowed: true;
      readonly limiter: LimiterName;
      readonly limit: number;
      readonly remaining: number;
      /** Until the window resets. */
      readonly resetMs: number;
      readonly windowSeconds: number;
    }
  | {
      readonly allowed: false;
      readonly limiter: LimiterName;
      readonly limit: number;
      readonly remaining: 0;
      readonly retryAfterSeconds: number;
      readonly resetMs: number;
      readonly windowSeconds: number;
    };

export interface RateLimits {
  readonly backend: 'redis' | 'memory';
  readonly policies: RateLimitPolicies;
  consume(limiter: LimiterName, key: string, points?: number): Promise<RateLimitResult>;
  /** Consumes every check (e.g. login per IP and per account) and returns the most restrictive result. */
  consumeAll(checks: readonly { readonly limiter: LimiterName; readonly key: string }[]): Promise<RateLimitResult>;
  /** Forgets a key's count (e.g. the per-account login count after a successful sign-in). */
  reset(limiter: LimiterName, key: string): Promise<void>;
  /** False while Redis is unreachable (the insurance limiters are answering); always true in memory. */
  storeAvailable(): boolean;
  /** Waits (at most timeoutMs, default 2000) for the Redis connection; true when the shared store is in use. */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A key from several parts (client id, patient id…) that cannot collide across part boundaries. */
export function rateLimitKey(...parts: readonly string[]): string {
  return parts.map((p) => encodeURIComponent(p)).join(':');
}

export function createRateLimits(config: RateLimitsConfig = {}): RateLimits {
  const policies = resolveRateLimitPolicies(config.policies ?? {}); // RL-1: class-wide numbers, validated
  const prefix = config.keyPrefix ?? 'rl';
  const instances = Math.max(1, Math.trunc(config.instances ?? 1));
  let redis: Redis | undefined;
  let degraded = false;
  let closing = false;

  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, {
      // Never queue commands while disconnected: fail at once and let the insurance limiter answer.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.redisTimeoutMs ?? 300,
      connectTimeout: 2000,
      disconnectTimeout: 100,
      retryStrategy: (times) => Math.min(200 * times, 5000),
      // Every request consumes a point: the commands of concurrent requests go to Redis in one
      // write per turn of the event loop instead of one write (and one wake-up) each.
      enableAutoPipelining: true,
    });
    const lost = (err: Error) => {
      if (degraded || closing) return;
      degraded = true;
      config.onStoreError?.(err);
    };
    redis.on('error', lost);
    redis.on('close', () => lost(new Error('Redis connection closed')));
    redis.on('ready', () => {
      degraded = false;
    });
  }

  const limiters = new Map<LimiterName, RateLimiterAbstract>();
  const shared = new Map<LimiterName, WriteBehind>();
  const localShare = Math.min(0.5, Math.max(0, config.localShare ?? 0.02));
  for (const name of LIMITER_NAMES) {
    const p = policies[name];
    const common = { keyPrefix: `${prefix}:${name}`, points: p.points, duration: p.durationSeconds, blockDuration: p.blockSeconds ?? 0 };
    if (redis) {
      const limiter = new RateLimiterRedis({
        ...common,
        storeClient: redis,
        rejectIfRedisNotReady: true,
        // RL-1 / IB-5: Redis failing neither opens the gates nor takes the API down.
        insuranceLimiter: new RateLimiterMemory({ ...common, points: Math.max(1, Math.floor(p.points / instances)) }),
      });
      limiters.set(name, limiter);
      const localPoints = Math.floor(p.points * localShare);
      if (localPoints > 0 && !p.blockSeconds) {
        const onFlushError = (err: unknown) => config.onStoreError?.(err instanceof Error ? err : new Error(String(err)));
        shared.set(name, writeBehind(limiter, { localPoints, flushMs: config.flushMs ?? 1000, onFlushError }));
      }
    } else {
      limiters.set(name, new RateLimiterMemory(common));
    }
  }

  const limiterOf = (name: LimiterName): RateLimiterAbstract => {
    const l = limiters.get(name);
    if (!l) throw new Error(`unknown rate limiter ${String(name)}`);
    return l;
  };

  const consume = async (name: LimiterName, key: string, points = 1): Promise<RateLimitResult> => {
    const policy = policies[name];
    const base = { limiter: name, limit: policy.points, windowSeconds: policy.durationSeconds };
    const res = await (shared.get(name)?.consume(key, points) ?? direct(limiterOf(name), key, points));
    if (res.allowed) return { ...base, allowed: true, remaining: res.remaining, resetMs: res.msBeforeNext };
    // RL-1: 429 with Retry-After.
    return { ...base, allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)), resetMs: res.msBeforeNext };
  };

  return {
    backend: redis ? 'redis' : 'memory',
    policies,
    consume,
    async consumeAll(checks) {
      if (checks.length === 0) throw new Error('consumeAll needs at least one check');
      const results = await Promise.all(checks.map((c) => consume(c.limiter, c.key)));
      const denied = results.filter((r): r is Extract<RateLimitResult, { allowed: false }> => !r.allowed);
      if (denied.length) return denied.reduce((a, b) => (b.retryAfterSeconds > a.retryAfterSeconds ? b : a));
      return results.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    },
    async reset(name, key) {
      shared.get(name)?.forget(key);
      await limiterOf(name).delete(key);
    },
    storeAvailable() {
      return !redis || redis.status === 'ready';
    },
    async ready(timeoutMs = 2000) {
      const client = redis;
      if (!client) return true;
      if (client.status === 'ready') return true;
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          client.off('ready', onReady);
          resolve(ok);
        };
        const onReady = () => done(true);
        const timer = setTimeout(() => done(client.status === 'ready'), timeoutMs);
        client.on('ready', onReady);
      });
    },
    async close() {
      if (!redis) return;
      // What this instance admitted reaches the shared counts before it goes.
      if (redis.status === 'ready') await Promise.all([...shared.values()].map((s) => s.flush())).catch(() => undefined);
      closing = true;
      if (redis.status === 'ready') await redis.quit().catch(() => redis!.disconnect());
      else redis.disconnect();
    },
  };
}

async function direct(limiter: RateLimiterAbstract, key: string, points: number): Promise<Consumed> {
  try {
    const res = await limiter.consume(key, points);
    return { allowed: true, remaining: res.remainingPoints, msBeforeNext: res.msBeforeNext };
  } catch (err) {
    if (err instanceof RateLimiterRes) return { allowed: false, msBeforeNext: err.msBeforeNext };
    throw err;
  }
}

/** RateLimit-* headers (IETF httpapi-ratelimit-headers) and, when refused, Retry-After (RL-1). */
export function rateLimitHeaders(result: RateLimitResult): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(result.limit),
    'RateLimit-Remaining': String(result.remaining),
    'RateLimit-Reset': String(Math.max(0, Math.ceil(result.resetMs / 1000))),
    'RateLimit-Policy': `${result.limit};w=${result.windowSeconds}`,
  };
  if (!result.allowed) headers['Retry-After'] = String(result.retryAfterSeconds);
  return headers;
}
