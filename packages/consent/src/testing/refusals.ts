/**
 * For tests of the stores: what a typed refusal (RuleError) says, as one comparable value, so a
 * test checks the class, the code and the HTTP status together. Anything else thrown, or nothing,
 * fails the test with what happened instead.
 */
import { RuleError } from '../rule-error.js';

export interface Refusal {
  readonly kind: string;
  readonly code: string;
  readonly status: number;
}

export function refusal(err: unknown): Refusal {
  if (!(err instanceof RuleError)) throw new Error(`expected a RuleError, got ${String(err)}`, { cause: err });
  return { kind: err.name, code: err.code, status: err.status };
}

export async function refusalOf(p: Promise<unknown>): Promise<Refusal> {
  return p.then(() => {
    throw new Error('expected a refusal; the call succeeded');
  }, refusal);
}

export function refusalFrom(fn: () => unknown): Refusal {
  try {
    fn();
  } catch (err) {
    return refusal(err);
  }
  throw new Error('expected a refusal; nothing was thrown');
}
