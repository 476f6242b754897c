/**
 * The access log's vocabulary: who acted, what they did, what came back and what was withheld
 * and why. Codes and ids only: an entry never carries a PHI value (a name, a result, a search
 * value), and `validateAccessLogEntry` refuses shapes that could.
 */
import type { ReasonCode } from '../policy/decide.js';

export const ACTOR_KINDS = ['patient', 'proxy', 'app', 'staff', 'system'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** Holds placed, reviewed and lifted; delegations suspended and reinstated; legal hold rules changed: not accesses, so not in the patient's AuditEvent view. */
export const POLICY_ACTIONS = [
  'hold.place',
  'hold.review-request',
  'hold.review',
  'hold.lift',
  'delegation.suspend',
  'delegation.review-request',
  'delegation.review',
  'delegation.reinstate',
  // Who may act for the patient (AUD-1: changes of privileges; PRX-2, PRX-6).
  'delegation.grant',
  'delegation.verify',
  'delegation.deny',
  'delegation.end',
  // The patient's "do not share" instructions (IB-1), made and ended.
  'restriction.create',
  'restriction.end',
  // The patient's consent that a proxy may receive records the law lets out only with it (IB-2), given and revoked.
  'disclosure-consent.grant',
  'disclosure-consent.revoke',
  // State-law rules (REL-6) concern no one patient: they are logged in the '' chain.
  'rule.create',
  'rule.enable',
  'rule.disable',
] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

export const ACCESS_LOG_ACTIONS = [
  'read',
  'search',
  'everything',
  'token.issue',
  'token.refresh',
  'token.revoke',
  'login',
  'login.failed',
  'lockout',
  'consent',
  'registration',
  'denied',
  // The purge records itself in the '' chain (AUD-4: each purge is logged).
  'audit.purge',
  // Changes to what a record shares, in the same transaction as the change (REL-2…6, PRX-5).
  ...POLICY_ACTIONS,
] as const;
export type AccessLogAction = (typeof ACCESS_LOG_ACTIONS)[number];

export const ACCESS_LOG_OUTCOMES = ['success', 'denied', 'error'] as const;
export type AccessLogOutcome = (typeof ACCESS_LOG_OUTCOMES)[number];

/** Why one resource was left out of a response: the access policy's reason, or outside the granted scopes. */
export type WithheldReason = ReasonCode | 'scope';

/**
 * The information-blocking classification of a non-release (45 CFR 171; "other" is not allowed),
 * or the reason it is not an interference at all (not EHI yet, not requested, not authorized).
 */
export const BLOCKING_EXCEPTIONS = [
  'preventing_harm', // 171.201 (REL-2, REL-4, PRX-5)
  'privacy_minor', // 171.202, HIPAA personal-representative limits for minors (PRX-3)
  'privacy_individual_request', // 171.202(e) (IB-1)
  'privacy_precondition', // 171.202(b) (IB-2)
  'security', // 171.203 (IB-3)
  'infeasibility_segmentation', // 171.204(a)(2) (IB-4)
  'infeasibility', // 171.204 (IB-4)
  'health_it_performance', // 171.205: rate limits and maintenance (IB-5, RL-1)
  'protecting_care_access', // 171.206 (IB-6)
  'manner', // 171.301 (IB-7)
  'required_by_law', // outside the definition (REL-6)
  'patient_requested_delay', // ONC FAQ on delays (REL-5)
  'not_yet_final', // not a completed result (REL-7)
  'not_requested', // outside the scopes the patient granted
  'not_authorized', // the requester has no right of access (no or ended delegation, bad token)
] as const;
export type BlockingException = (typeof BLOCKING_EXCEPTIONS)[number];

/** The exception recorded for a withheld item when the caller gives none (AUD-1: every withheld id carries one). */
export const WITHHELD_EXCEPTIONS: Readonly<Record<WithheldReason, BlockingException>> = Object.freeze({
  'proxy-none': 'not_authorized',
  'proxy-age-majority': 'not_authorized',
  'birth-date-unknown': 'privacy_minor',
  'delegation-not-active': 'not_authorized',
  'delegation-suspended': 'preventing_harm',
  'delegation-revoked': 'not_authorized',
  'delegation-expired': 'not_authorized',
  'delegation-not-started': 'not_authorized',
  'proxy-age-limited': 'privacy_minor',
  'proxy-delegation-limited': 'privacy_individual_request',
  'entered-in-error': 'preventing_harm',
  'consent-required': 'privacy_precondition',
  restriction: 'privacy_individual_request',
  'references-hidden': 'infeasibility_segmentation',
  'release-status': 'not_yet_final',
  'legal-hold': 'required_by_law',
  'harm-hold': 'preventing_harm',
  'data-quality-hold': 'preventing_harm',
  'patient-delay': 'patient_requested_delay',
  scope: 'not_requested',
});

export interface WithheldItem {
  /** "Type/id" */
  readonly ref: string;
  readonly reason: WithheldReason;
  /** Defaults to WITHHELD_EXCEPTIONS[reason]. */
  readonly exception?: BlockingException;
}

export type AccessLogDetail = Readonly<Record<string, string | number | boolean | null>>;

/** One event to log. Optional fields left out are stored as null. */
export interface AccessLogEntry {
  /** Whose record: the patient compartment read or the patient in context; '' when none (a login, a registration). */
  readonly patientId: string;
  /** When it happened (default: now). */
  readonly at?: Date;
  readonly actor: {
    readonly kind: ActorKind;
    /** The account id (patient, proxy, staff), or the client id for an app acting for itself, or the job name for system. */
    readonly id?: string;
    /** Patient/…, RelatedPerson/…, Practitioner/… */
    readonly fhirUser?: string;
  };
  /** The patient the actor acted for (the token's patient context). */
  readonly onBehalfOf?: string;
  readonly client?: { readonly id: string; readonly name?: string };
  /** The scopes in force (space-separated, as granted). */
  readonly scopes?: string;
  readonly grantId?: string;
  readonly delegationId?: string;
  readonly action: AccessLogAction;
  readonly outcome: AccessLogOutcome;
  /** Stable code for a denial or error (insufficient_scope, invalid_token, PROXY_SCOPE_EXCEEDED, rate_limited…); required unless success. */
  readonly reason?: string;
  /** The information-blocking classification of a denial. */
  readonly exception?: BlockingException;
  /** The resource type read or searched. */
  readonly resourceType?: string;
  /** Search parameter names only, never their values (AUD-1: no PHI). */
  readonly queryParams?: readonly string[];
  /** How many resources the response disclosed (a count-only search discloses a number, not ids). */
  readonly resultCount?: number;
  /** "Type/id" of every resource returned (AUD-1: so "who saw result X" is answerable). */
  readonly returned?: readonly string[];
  readonly withheld?: readonly WithheldItem[];
  readonly requestId?: string;
  /** Source of access (AUD-1): the client address. */
  readonly sourceAddress?: string;
  /** Further non-PHI facts (the limiter that refused, the purge's counts…). */
  readonly detail?: AccessLogDetail;
}

/** A stored row, as hashed and verified. */
export interface AccessLogRecord {
  readonly patientId: string;
  readonly seq: number;
  readonly recordedAt: Date;
  readonly actorKind: ActorKind;
  readonly actorId: string | null;
  readonly actorFhirUser: string | null;
  readonly onBehalfOf: string | null;
  readonly clientId: string | null;
  readonly clientName: string | null;
  readonly scopes: string | null;
  readonly grantId: string | null;
  readonly delegationId: string | null;
  readonly action: AccessLogAction;
  readonly outcome: AccessLogOutcome;
  readonly reason: string | null;
  readonly exception: BlockingException | null;
  readonly resourceType: string | null;
  readonly queryParams: readonly string[] | null;
  readonly resultCount: number | null;
  readonly returnedIds: readonly string[];
  readonly withheld: readonly Required<WithheldItem>[];
  readonly requestId: string | null;
  readonly sourceAddress: string | null;
  readonly detail: AccessLogDetail | null;
  readonly prevHash: string;
  readonly hash: string;
}

export class AccessLogEntryError extends Error {
  constructor(
    readonly index: number,
    readonly problem: string,
  ) {
    super(`access log entry ${index}: ${problem}`);
    this.name = 'AccessLogEntryError';
  }
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const REF = /^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const CODE = /^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$/;
// Names with modifiers and chains (code:text, subject:Patient.name, _has:Observation:patient:code); no '=' so no values.
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_.:\-]{0,127}$/;
const PRINTABLE = /^[\x20-\x7e]*$/;
const NO_CONTROLS = /^[^\u0000-\u001f\u007f]*$/;
const IDENTIFIER = /^[\x21-\x7e]{1,256}$/;

/**
 * The rules validateAccessLogEntry applies, for writers that record what a client sent (a
 * parameter name, a type from the URL): they keep what passes and account for the rest, so an
 * entry is never refused (and the request never fails) because of the client's spelling.
 */
export const isLoggableParamName = (name: string): boolean => PARAM_NAME.test(name);
export const isLoggableResourceType = (type: string): boolean => RESOURCE_TYPE.test(type);
export const isLoggableIdentifier = (value: string): boolean => IDENTIFIER.test(value);

/** Refuses an entry that breaks the log's rules (unknown codes, a value where only names or ids belong). */
export function validateAccessLogEntry(entry: AccessLogEntry, index = 0): void {
  const fail = (problem: string): never => {
    throw new AccessLogEntryError(index, problem);
  };
  if (entry.patientId !== '' && !FHIR_ID.test(entry.patientId)) fail('patientId must be a FHIR id or empty');
  if (entry.at !== undefined && !(entry.at instanceof Date && Number.isFinite(entry.at.getTime()))) fail('at must be a valid Date');
  if (!(ACTOR_KINDS as readonly string[]).includes(entry.actor.kind)) fail(`unknown actor kind ${entry.actor.kind}`);
  if (!(ACCESS_LOG_ACTIONS as readonly string[]).includes(entry.action)) fail(`unknown action ${entry.action}`);
  if (!(ACCESS_LOG_OUTCOMES as readonly string[]).includes(entry.outcome)) fail(`unknown outcome ${entry.outcome}`);
  // SEC-1: every successful access names its actor.
  if (entry.actor.id === undefined && entry.outcome === 'success' && entry.action !== 'registration') fail('a successful access needs actor.id');
  for (const [name, value] of [
    ['actor.id', entry.actor.id],
    ['client.id', entry.client?.id],
    ['grantId', entry.grantId],
    ['delegationId', entry.delegationId],
    ['requestId', entry.requestId],
    ['sourceAddress', entry.sourceAddress],
  ] as const) {
    if (value !== undefined && !IDENTIFIER.test(value)) fail(`${name} must be 1-256 printable characters without spaces`);
  }
  if (entry.actor.fhirUser !== undefined && !REF.test(entry.actor.fhirUser)) fail('actor.fhirUser must be Type/id');
  if (entry.onBehalfOf !== undefined && !FHIR_ID.test(entry.onBehalfOf)) fail('onBehalfOf must be a FHIR id');
  if (entry.client?.name !== undefined && (!NO_CONTROLS.test(entry.client.name) || entry.client.name.length > 200)) fail('client.name must be at most 200 characters without control characters');
  if (entry.scopes !== undefined && (!PRINTABLE.test(entry.scopes) || entry.scopes.length > 4000)) fail('scopes must be printable and at most 4000 characters');
  if (entry.outcome !== 'success' && entry.reason === undefined) fail('a denial or error needs a reason code');
  if (entry.reason !== undefined && !CODE.test(entry.reason)) fail('reason must be a code');
  if (entry.exception !== undefined && !(BLOCKING_EXCEPTIONS as readonly string[]).includes(entry.exception)) fail(`unknown exception ${entry.exception}`);
  if (entry.resourceType !== undefined && !RESOURCE_TYPE.test(entry.resourceType)) fail('resourceType must be a resource type');
  for (const p of entry.queryParams ?? []) if (!PARAM_NAME.test(p)) fail('queryParams holds parameter names only, never values');
  if (entry.resultCount !== undefined && !(Number.isInteger(entry.resultCount) && entry.resultCount >= 0 && entry.resultCount <= 2_147_483_647)) fail('resultCount must be a non-negative integer');
  for (const r of entry.returned ?? []) if (!REF.test(r)) fail(`returned holds Type/id references only, got "${r.slice(0, 80)}"`);
  for (const w of entry.withheld ?? []) {
    if (!REF.test(w.ref)) fail(`withheld holds Type/id references only, got "${w.ref.slice(0, 80)}"`);
    if (!Object.hasOwn(WITHHELD_EXCEPTIONS, w.reason)) fail(`unknown withheld reason ${w.reason}`);
    if (w.exception !== undefined && !(BLOCKING_EXCEPTIONS as readonly string[]).includes(w.exception)) fail(`unknown exception ${w.exception}`);
  }
  for (const [k, v] of Object.entries(entry.detail ?? {})) {
    if (!CODE.test(k)) fail('detail keys must be codes');
    if (typeof v === 'number' && !Number.isFinite(v)) fail('detail numbers must be finite');
    if (typeof v === 'string' && (!NO_CONTROLS.test(v) || v.length > 200)) fail('detail strings must be at most 200 characters without control characters');
    if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) fail('detail values must be strings, numbers, booleans or null');
  }
}
