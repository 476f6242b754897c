import { describe, expect, test } from '@jest/globals';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { writeBehind, type Consumed } from './write-behind.js';

/** A real limiter standing in for the shared store, with its calls counted. */
function store(points: number, durationSeconds = 60) {
  const limiter = new RateLimiterMemory({ points, duration: durationSeconds });
  let calls = 0;
  const consume = limiter.consume.bind(limiter);
  limiter.consume = (key, p) => {
    calls++;
    return consume(key, p);
  };
  return {
    limiter,
    calls: () => calls,
    counted: async (key: string) => (await limiter.get(key))?.consumedPoints ?? 0,
  };
}

async function times(n: number, consume: () => Promise<Consumed>): Promise<Consumed[]> {
  const out: Consumed[] = [];
  for (let i = 0; i < n; i++) out.push(await consume());
  return out;
}

const never = 3_600_000; // no timed flush during a test unless it asks for one

describe('write-behind counts', () => {
  test.each([
    { points: 100, localPoints: 10 },
    { points: 600, localPoints: 12 },
    { points: 5, localPoints: 1 },
    { points: 3, localPoints: 0 },
  ])('one instance is exact: $points allowed, request $points + 1 refused (localPoints $localPoints)', async ({ points, localPoints }) => {
    const s = store(points);
    const wb = writeBehind(s.limiter, { localPoints, flushMs: never });
    const results = await times(points + 1, () => wb.consume('k', 1));
    expect(results.findIndex((r) => !r.allowed)).toBe(points);
    // Remaining counts down by one per request, whether Redis or the local share answered.
    expect(results.slice(0, points).map((r) => (r.allowed ? r.remaining : -1))).toEqual(Array.from({ length: points }, (_, i) => points - 1 - i));
    await wb.flush();
    expect(await s.counted('k')).toBe(points + 1);
  });

  test('most requests are admitted without a store call; a flush sends their count in one call per key', async () => {
    const s = store(600);
    const wb = writeBehind(s.limiter, { localPoints: 12, flushMs: never });
    const results = await times(120, () => wb.consume('k', 1));
    expect(results.every((r) => r.allowed)).toBe(true);
    // One call to learn the window, then one every localPoints requests (when the share is used up).
    expect(s.calls()).toBeLessThanOrEqual(11);
    const before = s.calls();
    const pending = 120 - (await s.counted('k'));
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThanOrEqual(12);
    await wb.flush();
    expect(s.calls()).toBe(before + 1);
    expect(await s.counted('k')).toBe(120);
  });

  test('a timed flush reaches the store on its own', async () => {
    const s = store(600);
    const wb = writeBehind(s.limiter, { localPoints: 12, flushMs: 20 });
    await times(5, () => wb.consume('k', 1));
    expect(await s.counted('k')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await s.counted('k')).toBe(5);
  });

  test('a timed flush that fails is tried again on its own, with no further request', async () => {
    const s = store(600);
    const wb = writeBehind(s.limiter, { localPoints: 12, flushMs: 20, onFlushError: () => undefined });
    await times(4, () => wb.consume('k', 1));
    const working = s.limiter.consume;
    s.limiter.consume = () => Promise.reject(new Error('store down'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    s.limiter.consume = working;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await s.counted('k')).toBe(4);
  });

  test('two instances sharing a store admit at most one local share beyond the limit', async () => {
    const s = store(100);
    const a = writeBehind(s.limiter, { localPoints: 10, flushMs: never });
    const b = writeBehind(s.limiter, { localPoints: 10, flushMs: never });
    let allowed = 0;
    for (let i = 0; i < 150; i++) if ((await (i % 2 ? a : b).consume('k', 1)).allowed) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(100);
    expect(allowed).toBeLessThanOrEqual(110);
    await Promise.all([a.flush(), b.flush()]);
    expect(await s.counted('k')).toBe(150);
  });

  test('another instance\'s requests are seen at the next store answer', async () => {
    const s = store(600);
    const a = writeBehind(s.limiter, { localPoints: 12, flushMs: never });
    const b = writeBehind(s.limiter, { localPoints: 12, flushMs: never });
    await times(100, () => a.consume('k', 1));
    await a.flush();
    const first = await b.consume('k', 1);
    expect(first).toMatchObject({ allowed: true, remaining: 499 });
  });

  test('keys are counted apart, and a refused key stays refused until its window ends', async () => {
    const s = store(20, 1);
    const wb = writeBehind(s.limiter, { localPoints: 2, flushMs: never });
    await times(20, () => wb.consume('a', 1));
    expect((await wb.consume('a', 1)).allowed).toBe(false);
    expect((await wb.consume('a', 1)).allowed).toBe(false);
    expect((await wb.consume('b', 1)).allowed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await wb.consume('a', 1)).toMatchObject({ allowed: true, remaining: 19 });
  });

  test('a store error on the request path is the caller\'s; on a flush it is reported', async () => {
    const s = store(600);
    const errors: unknown[] = [];
    const wb = writeBehind(s.limiter, { localPoints: 12, flushMs: never, onFlushError: (err) => errors.push(err) });
    await times(3, () => wb.consume('k', 1));
    const working = s.limiter.consume;
    s.limiter.consume = () => Promise.reject(new Error('store down'));
    await wb.flush();
    expect(errors).toHaveLength(1);
    await expect(wb.consume('other', 1)).rejects.toThrow('store down');
    // Nothing admitted is lost: the next flush, with the store back, counts it.
    s.limiter.consume = working;
    await wb.flush();
    expect(await s.counted('k')).toBe(3);
  });
});
