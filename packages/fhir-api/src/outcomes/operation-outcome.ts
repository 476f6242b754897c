/**
 * The FHIR API's one error type: an OperationOutcome with a stable machine-readable code in
 * issue.details.coding, mapped to HTTP status by one table. Messages never carry PHI or internals.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';

export const OUTCOME_CODE_SYSTEM = 'https://patient-access.dev/fhir/CodeSystem/outcome-code';

type IssueType = 'invalid' | 'not-found' | 'forbidden' | 'login' | 'throttled' | 'not-supported' | 'too-costly' | 'exception' | 'transient' | 'security';

const CATALOG = {
  INVALID_SEARCH_PARAMETER: { status: 400, type: 'invalid' },
  UNSUPPORTED_SEARCH_PARAMETER: { status: 400, type: 'not-supported' },
  INVALID_PARAMETER_VALUE: { status: 400, type: 'invalid' },
  INVALID_REQUEST: { status: 400, type: 'invalid' },
  PATIENT_REQUIRED: { status: 400, type: 'invalid' },
  UNAUTHORIZED: { status: 401, type: 'login' },
  INSUFFICIENT_SCOPE: { status: 403, type: 'forbidden' },
  PROXY_SCOPE_EXCEEDED: { status: 403, type: 'forbidden' },
  NOT_FOUND: { status: 404, type: 'not-found' },
  METHOD_NOT_ALLOWED: { status: 405, type: 'not-supported' },
  NOT_ACCEPTABLE: { status: 406, type: 'not-supported' },
  PAYLOAD_TOO_LARGE: { status: 413, type: 'too-costly' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, type: 'not-supported' },
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
    /** A client-error status the catalog has no code of its own for (fromHttpError). */
    private readonly statusOverride?: number,
  ) {
    super(diagnostics);
    this.name = 'OperationOutcomeError';
  }

  get status(): number {
    return this.statusOverride ?? CATALOG[this.code].status;
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

// Client errors raised by HTTP plumbing (body reading, decompression), by status. Fixed messages:
// a library's own message may quote the request.
const HTTP_ERRORS: Readonly<Record<number, [OutcomeCode, string]>> = {
  400: ['INVALID_REQUEST', 'The request body could not be read'],
  413: ['PAYLOAD_TOO_LARGE', 'The request body is too large'],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'The request body\'s media type or content encoding is not supported'],
};

/**
 * A client error from the HTTP plumbing as an OperationOutcomeError, or undefined for anything
 * else (server errors stay 500 and are logged): an http-errors 4xx (`expose` true), or a 4xx
 * `status` set by hand without `expose` (inflation's 415 for an unknown Content-Encoding). Only
 * an explicit `expose: false` keeps it internal; the message is never used either way.
 */
export function fromHttpError(err: unknown): OperationOutcomeError | undefined {
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown } | null;
  const status = typeof e?.status === 'number' ? e.status : e?.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status >= 500 || e?.expose === false) return undefined;
  const known = HTTP_ERRORS[status];
  if (known) return new OperationOutcomeError(known[0], known[1]);
  // Another 4xx (411, 408…): its status kept, under the generic invalid-request code.
  return new OperationOutcomeError('INVALID_REQUEST', 'The request could not be processed', {}, status);
}
