/** A policy setting that is refused at start-up; `problems` lists every bad setting at once. */
export class PolicyConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid access policy configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyConfigError';
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
