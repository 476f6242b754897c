/**
 * The FHIR API's one error type: an OperationOutcome with a stable machine-readable code in
 * issue.details.coding, mapped to HTTP status by one table. Messages never carry PHI or internals.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';

export const OUTCOME_CODE_SYSTEM = 'https://patient-access.dev/fhir/CodeSystem/outcome-code';

type IssueType = 'invalid' | 'not-found' | 'forbidden' | 'login' | 'throttled' | 'not-supported' | 'exception' | 'transient' | 'security';

const CATALOG = {
  INVALID_SEARCH_PARAMETER: { status: 400, type: 'invalid' },
  UNSUPPORTED_SEARCH_PARAMETER: { status: 400, type: 'not-supported' },
  INVALID_PARAMETER_VALUE: { status: 400, type: 'invalid' },
  INVALID_REQUEST: { status: 400, type: 'invalid' },
  UNAUTHORIZED: { status: 401, type: 'login' },
  INSUFFICIENT_SCOPE: { status: 403, type: 'forbidden' },
  PROXY_SCOPE_EXCEEDED: { status: 403, type: 'forbidden' },
  NOT_FOUND: { status: 404, type: 'not-found' },
  METHOD_NOT_ALLOWED: { status: 405, type: 'not-supported' },
  NOT_ACCEPTABLE: { status: 406, type: 'not-supported' },
  RATE_LIMITED: { status: 429, type: 'throttled' },
  INTERNAL_ERROR: { status: 500, type: 'exception' },
  UPSTREAM_UNAVAILABLE: { status: 503, type: 'transient' },
} as const satisfies Record<string, { status: number; type: IssueType }>;

export type OutcomeCode = keyof typeof CATALOG;

export class OperationOutcomeError extends Error {
  constructor(
    readonly code: OutcomeCode,
    readonly diagnostics: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(diagnostics);
    this.name = 'OperationOutcomeError';
  }

  get status(): number {
    return CATALOG[this.code].status;
  }

  toOutcome(): OperationOutcome {
    return outcome(this.code, this.diagnostics);
  }
}

export function outcome(code: OutcomeCode, diagnostics: string): OperationOutcome {
  const severity = CATALOG[code].status >= 500 ? 'fatal' : 'error';
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code: CATALOG[code].type, details: { coding: [{ system: OUTCOME_CODE_SYSTEM, code }], text: diagnostics }, diagnostics }],
  };
}
