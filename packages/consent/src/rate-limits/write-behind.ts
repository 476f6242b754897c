/**
 * Write-behind counting in front of a shared (Redis) limiter. Asking Redis on every request costs a
 * round trip and a Lua call per request (about a tenth of an API read's CPU: scripts/bench). Here
 * each instance admits a small share of a key's limit on its own, counting it locally, and sends
 * the count to Redis in one pipelined burst per flush; Redis's answer, which includes every other
 * instance's requests, becomes the local view until the next one.
 *
 * The bound (RL-1): a key's local count never exceeds `localPoints` before it reaches Redis, and
 * near the limit (remaining below `localPoints`) every request asks Redis itself. One instance is
 * therefore exact (refused on request N+1); N instances admit at most (N - 1) × localPoints more
 * than the limit in a window. A limit too small to share (localPoints 0, e.g. the login limiters)
 * asks Redis every time, as before.
 */
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type Consumed = { readonly allowed: true; readonly remaining: number; readonly msBeforeNext: number } | { readonly allowed: false; readonly msBeforeNext: number };

export interface WriteBehindOptions {
  /** Requests one instance may admit for a key before Redis has counted them. */
  readonly localPoints: number;
  /** How often locally admitted requests are sent to Redis (ms). */
  readonly flushMs: number;
  /** Keys remembered at most; beyond, requests ask Redis directly. */
  readonly maxKeys?: number;
  /** A flush that failed for a reason other than the limit (the limiter's insurance covers Redis outages). */
  readonly onFlushError?: (err: unknown) => void;
}

interface KeyState {
  /** What Redis last said remained, less what was admitted here since. */
  remaining: number;
  /** When the key's window ends (epoch ms). */
  resetAt: number;
  /** Admitted here, not yet sent. */
  pending: number;
}

export interface WriteBehind {
  consume(key: string, points: number): Promise<Consumed>;
  /** Forgets a key here (its Redis count is the caller's to delete). */
  forget(key: string): void;
  /** Sends every pending count now. */
  flush(): Promise<void>;
}

export function writeBehind(limiter: RateLimiterAbstract, o: WriteBehindOptions): WriteBehind {
  const keys = new Map<string, KeyState>();
  const maxKeys = o.maxKeys ?? 100_000;
  let timer: NodeJS.Timeout | undefined;

  /** Asks Redis, taking `points` plus whatever was admitted here and not yet sent. */
  const ask = async (key: string, points: number, now: number): Promise<Consumed> => {
    const state = keys.get(key);
    // Points admitted in a window that has ended were counted in that window; they are not carried over.
    const carried = state && state.resetAt > now ? state.pending : 0;
    if (state) state.pending = 0;
    try {
      const res = await limiter.consume(key, points + carried);
      remember(key, res.remainingPoints, now + res.msBeforeNext);
      return { allowed: true, remaining: res.remainingPoints, msBeforeNext: res.msBeforeNext };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) {
        // Not counted: what was admitted here stays pending for the next attempt.
        if (state) state.pending += carried;
        throw err;
      }
      remember(key, 0, now + err.msBeforeNext);
      return { allowed: false, msBeforeNext: err.msBeforeNext };
    }
  };

  /** Takes Redis's answer as the local view. */
  const remember = (key: string, remaining: number, resetAt: number) => {
    const state = keys.get(key);
    if (state) {
      // Requests admitted here while Redis answered stay pending, and come off what remains.
      state.remaining = remaining - state.pending;
      state.resetAt = resetAt;
    } else if (keys.size < maxKeys) {
      keys.set(key, { remaining, resetAt, pending: 0 });
    }
  };

  const scheduleFlush = () => {
    if (!timer) timer = setTimeout(() => void flush(), o.flushMs).unref();
  };

  const flush = async (): Promise<void> => {
    timer = undefined;
    const now = Date.now();
    const sends: Promise<unknown>[] = [];
    for (const [key, state] of keys) {
      if (state.resetAt <= now) {
        // The window ended: what is pending was counted in it, and nothing more is known.
        keys.delete(key);
        continue;
      }
      if (state.pending === 0) continue;
      const points = state.pending;
      state.pending = 0;
      // ioredis pipelines the commands issued in this loop into one write.
      sends.push(
        limiter.consume(key, points).then(
          (res) => remember(key, res.remainingPoints, now + res.msBeforeNext),
          (err: unknown) => {
            if (err instanceof RateLimiterRes) {
              remember(key, 0, now + err.msBeforeNext);
              return;
            }
            // Not counted: kept, and tried again at the next flush even if no request comes.
            const current = keys.get(key);
            if (current) {
              current.pending += points;
              scheduleFlush();
            }
            o.onFlushError?.(err);
          },
        ),
      );
    }
    await Promise.all(sends);
  };

  return {
    async consume(key, points) {
      const now = Date.now();
      const state = keys.get(key);
      if (state && state.resetAt > now && state.pending + points <= o.localPoints && state.remaining - points >= o.localPoints) {
        state.pending += points;
        state.remaining -= points;
        scheduleFlush();
        return { allowed: true, remaining: state.remaining, msBeforeNext: state.resetAt - now };
      }
      return ask(key, points, now);
    },
    forget(key) {
      keys.delete(key);
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await flush();
    },
  };
}
