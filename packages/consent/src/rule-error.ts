/**
 * A store's typed refusal of a request: a stable code, the rule of docs/regulations it enforces,
 * and the HTTP status an API answers with (404 unknown, 409 a state conflict, else 400). One base
 * for every store, so an API maps them all in one place.
 */
export abstract class RuleError<Code extends string = string, Rule extends string = string> extends Error {
  readonly status: 400 | 404 | 409;
  constructor(
    readonly code: Code,
    readonly rule: Rule,
    message: string,
    conflicts: readonly Code[],
  ) {
    super(`${message} (${rule})`);
    this.name = new.target.name;
    this.status = code === 'not-found' ? 404 : conflicts.includes(code) ? 409 : 400;
  }
}
