/**
 * Groups of tests, run in order, each test ending in pass, fail, skip or omit (Inferno's outcomes,
 * without "error": an exception is a failure with its message). A test records the HTTP exchanges
 * and browser steps it made, messages (info, warning), screenshots and attestation evidence.
 */
import { HttpClient, HttpError, type Exchange } from './http.js';

export type Outcome = 'pass' | 'fail' | 'skip' | 'omit';

export interface Message {
  level: 'info' | 'warning';
  text: string;
}

export interface Screenshot {
  label: string;
  /** Path relative to the report directory. */
  file: string;
}

export interface TestResult {
  id: string;
  title: string;
  group: string;
  /** The Inferno test this mirrors, when there is one. */
  ref?: string;
  required: boolean;
  outcome: Outcome;
  reason?: string;
  /** Skips because the data or inputs did not allow the test (they fail the run when the test is required). */
  lackOfData?: boolean;
  messages: Message[];
  exchanges: Exchange[];
  steps: string[];
  screenshots: Screenshot[];
  evidence: Record<string, unknown>;
  ms: number;
}

export interface GroupResult {
  id: string;
  title: string;
  description?: string;
  tests: TestResult[];
}

export class SkipSignal extends Error {
  constructor(
    message: string,
    readonly lackOfData: boolean,
  ) {
    super(message);
    this.name = 'SkipSignal';
  }
}

export class OmitSignal extends Error {
  override name = 'OmitSignal';
}

export class AssertionFailure extends Error {
  constructor(
    message: string,
    readonly exchange?: Exchange,
  ) {
    super(message);
    this.name = 'AssertionFailure';
  }
}

export interface TestContext {
  readonly id: string;
  /** An HTTP client whose exchanges are recorded on this test. */
  readonly http: HttpClient;
  /** Fails the test unless the condition holds (use `ensure` where narrowing is needed). */
  assert(condition: unknown, message: string): void;
  fail(message: string): never;
  /** Skip: a precondition is missing (lackOfData: the inputs or the data did not allow the test). */
  skip(message: string, options?: { lackOfData?: boolean }): never;
  /** Not applicable here (does not count). */
  omit(message: string): never;
  info(text: string): void;
  warn(text: string): void;
  step(text: string): void;
  screenshot(label: string, png: Buffer): Promise<void>;
  evidence(key: string, value: unknown): void;
  /** Record an exchange made elsewhere (e.g. by a shared helper). */
  record(exchange: Exchange): void;
}

export interface TestDef {
  id: string;
  title: string;
  ref?: string;
  /** Optional tests do not affect the exit status (Inferno's optional). Default required. */
  optional?: boolean;
  run(t: TestContext): Promise<void>;
}

export interface GroupDef {
  id: string;
  title: string;
  description?: string;
  /** Built lazily, so a group can size itself from what earlier groups found. */
  tests: TestDef[] | (() => TestDef[] | Promise<TestDef[]>);
}

export interface RunnerHooks {
  onTest?(result: TestResult): void;
  onGroupStart?(group: GroupDef): void;
  onGroupEnd?(group: GroupResult): void;
  saveScreenshot?(testId: string, label: string, png: Buffer): Promise<string>;
}

/** Fails the test unless the condition holds (an assertion function: narrows its argument). */
export function ensure(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

export function test(id: string, title: string, run: (t: TestContext) => Promise<void>, extra: { ref?: string; optional?: boolean } = {}): TestDef {
  return { id, title, run, ...extra };
}

export async function runTest(def: TestDef, group: string, hooks: RunnerHooks = {}): Promise<TestResult> {
  const result: TestResult = {
    id: def.id,
    title: def.title,
    group,
    ...(def.ref ? { ref: def.ref } : {}),
    required: !def.optional,
    outcome: 'pass',
    messages: [],
    exchanges: [],
    steps: [],
    screenshots: [],
    evidence: {},
    ms: 0,
  };
  const record = (e: Exchange) => {
    result.exchanges.push(e);
  };
  const t: TestContext = {
    id: def.id,
    http: new HttpClient(record),
    assert(condition, message) {
      if (!condition) throw new AssertionFailure(message);
    },
    fail(message) {
      throw new AssertionFailure(message);
    },
    skip(message, options) {
      throw new SkipSignal(message, options?.lackOfData ?? false);
    },
    omit(message) {
      throw new OmitSignal(message);
    },
    info(text) {
      result.messages.push({ level: 'info', text });
    },
    warn(text) {
      result.messages.push({ level: 'warning', text });
    },
    step(text) {
      result.steps.push(text);
    },
    async screenshot(label, png) {
      if (!hooks.saveScreenshot) return;
      const file = await hooks.saveScreenshot(def.id, label, png);
      result.screenshots.push({ label, file });
    },
    evidence(key, value) {
      result.evidence[key] = value;
    },
    record,
  };
  const started = Date.now();
  try {
    await def.run(t);
  } catch (err) {
    if (err instanceof SkipSignal) {
      result.outcome = 'skip';
      result.reason = err.message;
      if (err.lackOfData) result.lackOfData = true;
    } else if (err instanceof OmitSignal) {
      result.outcome = 'omit';
      result.reason = err.message;
    } else if (err instanceof AssertionFailure) {
      result.outcome = 'fail';
      result.reason = err.message;
    } else if (err instanceof HttpError) {
      result.outcome = 'fail';
      result.reason = err.message;
    } else {
      result.outcome = 'fail';
      result.reason = `error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    }
  }
  result.ms = Date.now() - started;
  hooks.onTest?.(result);
  return result;
}

export async function runGroups(groups: GroupDef[], hooks: RunnerHooks = {}, filter?: (groupId: string, testId: string) => boolean): Promise<GroupResult[]> {
  const results: GroupResult[] = [];
  for (const group of groups) {
    hooks.onGroupStart?.(group);
    const groupResult: GroupResult = { id: group.id, title: group.title, ...(group.description ? { description: group.description } : {}), tests: [] };
    let defs: TestDef[];
    try {
      defs = typeof group.tests === 'function' ? await group.tests() : group.tests;
    } catch (err) {
      defs = [test(`${group.id}-setup`, `${group.title}: set-up`, async (t) => t.fail(`group set-up failed: ${err instanceof Error ? err.message : String(err)}`))];
    }
    for (const def of defs) {
      if (filter && !filter(group.id, def.id)) continue;
      groupResult.tests.push(await runTest(def, group.id, hooks));
    }
    results.push(groupResult);
    hooks.onGroupEnd?.(groupResult);
  }
  return results;
}

export interface Summary {
  pass: number;
  fail: number;
  skip: number;
  omit: number;
  requiredSkips: number;
  total: number;
}

export function summarize(tests: TestResult[]): Summary {
  const s: Summary = { pass: 0, fail: 0, skip: 0, omit: 0, requiredSkips: 0, total: tests.length };
  for (const r of tests) {
    s[r.outcome] += 1;
    if (r.outcome === 'skip' && r.required) s.requiredSkips += 1;
  }
  return s;
}

/** Non-zero when any test failed or a required test was skipped. */
export function exitStatus(groups: GroupResult[]): number {
  const s = summarize(groups.flatMap((g) => g.tests));
  return s.fail > 0 || s.requiredSkips > 0 ? 1 : 0;
}
