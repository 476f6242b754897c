/**
 * Disclosure consents (IB-2, 45 CFR 171.202(b)): where the law lets a record out only with the
 * patient's consent (42 CFR Part 2 substance-use-disorder records: 42 CFR 2.31, a written consent
 * naming the recipient), the patient's own recorded consent that one named proxy may receive the
 * resources carrying one consent-required label. Only the patient gives or revokes one: a proxy
 * cannot consent to its own access. Every consent states when it expires (42 CFR 2.31(a)(6)): at
 * most MAX_DISCLOSURE_CONSENT_YEARS ahead, and it counts only before that instant (access-plan.ts
 * judges it at each request's instant, so a lapse needs no write). Revoking applies at once
 * (42 CFR 2.31(a)(6), 2.31(c)); the row is kept. The patient's own access never depends on a consent.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AccessLogEntry } from '../audit/access-log-types.js';
import { auditPolicyChange } from '../audit/policy-audit.js';
import type { DisclosureConsent } from '../policy/access-plan.js';
import { DEFAULT_CONSENT_REQUIRED_LABELS } from '../policy/consent-required-labels.js';
import type { Coding } from '../policy/labels.js';
import { parseZonedDateTime } from '../policy/zoned-date-time.js';
import { RuleError } from '../rule-error.js';

export type DisclosureConsentErrorCode =
  | 'invalid-input'
  | 'unknown-field'
  | 'patient-required'
  | 'recipient-invalid'
  | 'label-required'
  | 'label-not-consent-required'
  | 'granter-required'
  | 'expiry-required'
  | 'expiry-invalid'
  | 'duplicate'
  | 'already-revoked'
  | 'expired'
  | 'not-found';

/** A refused consent request: 400 malformed, 404 unknown, 409 state conflict. */
export class DisclosureConsentError extends RuleError<DisclosureConsentErrorCode, 'IB-2'> {
  constructor(code: DisclosureConsentErrorCode, message: string) {
    super(code, 'IB-2', message, ['duplicate', 'already-revoked', 'expired']);
  }
}

export interface NewDisclosureConsent {
  patientId: string;
  /** The proxy who may receive the records, named as restrictions name a proxy recipient. */
  recipient: { kind: 'proxy'; proxyAccountId: string };
  /** One of the consent-required labels; may be left out when exactly one is configured. */
  label?: { system: string; code: string };
  /** The patient's account: she alone consents. */
  grantedBy: string;
  /** Where the signed consent is kept, if on paper (a document reference). */
  evidence?: string;
  /**
   * When the consent expires (42 CFR 2.31(a)(6)): after `at`, at most MAX_DISCLOSURE_CONSENT_YEARS
   * later. A string must be an RFC 3339 date-time with its zone (parseZonedDateTime).
   */
  expiresAt: Date | string;
  at: Date;
}

/**
 * The furthest a consent may expire, in years after it is given. Part 2 sets no maximum, only that
 * a consent last no longer than reasonably necessary (2.31(a)(6)); ten years lets a patient cover
 * a long-term carer without yearly renewal while refusing a typo'd or "forever" date.
 */
export const MAX_DISCLOSURE_CONSENT_YEARS = 10;

export interface PatientDisclosureConsent extends DisclosureConsent {
  readonly patientId: string;
  readonly label: Required<Pick<Coding, 'system' | 'code'>>;
  readonly grantedBy: string;
  readonly grantedAt: Date;
  readonly evidence: string | null;
  readonly expiresAt: Date;
  /** As of the instant it was read at: 'expired' once that is at or after expiresAt (unless revoked before). */
  readonly status: 'active' | 'revoked' | 'expired';
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
}

const FIELDS = ['patientId', 'recipient', 'label', 'grantedBy', 'evidence', 'expiresAt', 'at'];
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= 256 && !v.includes('\u0000');

/** Checks a consent without touching the database; returns it normalized, its label one of `consentRequiredLabels`. */
export function validateDisclosureConsent(
  input: NewDisclosureConsent,
  consentRequiredLabels: readonly Coding[] = DEFAULT_CONSENT_REQUIRED_LABELS,
): Required<Omit<NewDisclosureConsent, 'evidence' | 'expiresAt'>> & { evidence?: string; expiresAt: Date } {
  if (typeof input !== 'object' || input === null) throw new DisclosureConsentError('invalid-input', 'expected a consent');
  for (const key of Object.keys(input)) if (!FIELDS.includes(key)) throw new DisclosureConsentError('unknown-field', `unknown field "${key}"`);
  if (typeof input.patientId !== 'string' || !FHIR_ID.test(input.patientId)) throw new DisclosureConsentError('patient-required', 'a consent names the patient whose records it discloses');
  const r = input.recipient as unknown as Record<string, unknown> | undefined;
  if (!(r && typeof r === 'object' && r['kind'] === 'proxy' && nonEmpty(r['proxyAccountId']) && Object.keys(r).length === 2))
    throw new DisclosureConsentError('recipient-invalid', 'a consent names one recipient: a proxy (proxyAccountId)');
  const proxyAccountId = (r['proxyAccountId'] as string).trim();
  if (!nonEmpty(input.grantedBy)) throw new DisclosureConsentError('granter-required', 'a consent records who gave it');
  // Part 2: the patient's consent; a proxy cannot consent to its own access.
  if (input.grantedBy.trim() === proxyAccountId) throw new DisclosureConsentError('recipient-invalid', 'a proxy cannot consent to its own access');
  let label: { system: string; code: string } | undefined;
  if (input.label === undefined || input.label === null) {
    if (consentRequiredLabels.length !== 1) throw new DisclosureConsentError('label-required', 'name the label the consent is for (one of the consent-required labels)');
    const [only] = consentRequiredLabels;
    label = { system: only!.system ?? '', code: only!.code };
  } else {
    const l = input.label as unknown as Record<string, unknown>;
    const known = typeof l === 'object' ? consentRequiredLabels.find((c) => c.system === l['system'] && c.code === l['code']) : undefined;
    if (!known || Object.keys(l).length !== 2) throw new DisclosureConsentError('label-not-consent-required', 'label must be one of the consent-required labels (system and code)');
    label = { system: known.system ?? '', code: known.code };
  }
  if (input.evidence !== undefined && !nonEmpty(input.evidence)) throw new DisclosureConsentError('invalid-input', 'evidence must be a non-empty reference of at most 256 characters');
  if (!(input.at instanceof Date) || Number.isNaN(input.at.getTime())) throw new DisclosureConsentError('invalid-input', 'at must be a valid instant');
  const expiresAt = validExpiry(input.expiresAt, input.at);
  return {
    patientId: input.patientId,
    recipient: { kind: 'proxy', proxyAccountId },
    label,
    grantedBy: input.grantedBy.trim(),
    ...(input.evidence !== undefined ? { evidence: input.evidence.trim() } : {}),
    expiresAt,
    at: input.at,
  };
}

/** 42 CFR 2.31(a)(6): an unambiguous instant after `at`, and no more than MAX_DISCLOSURE_CONSENT_YEARS after it. */
function validExpiry(value: unknown, at: Date): Date {
  if (value === undefined || value === null) throw new DisclosureConsentError('expiry-required', 'a consent states when it expires (expiresAt)');
  const expiresAt = value instanceof Date ? (Number.isNaN(value.getTime()) ? undefined : value) : parseZonedDateTime(value);
  if (!expiresAt) throw new DisclosureConsentError('expiry-invalid', 'expiresAt must be a date-time with a time zone, e.g. 2027-07-01T00:00:00-07:00');
  const latest = new Date(at.getTime());
  latest.setUTCFullYear(latest.getUTCFullYear() + MAX_DISCLOSURE_CONSENT_YEARS);
  if (expiresAt.getTime() <= at.getTime() || expiresAt.getTime() > latest.getTime())
    throw new DisclosureConsentError('expiry-invalid', `expiresAt must be in the future and at most ${MAX_DISCLOSURE_CONSENT_YEARS} years ahead`);
  return new Date(expiresAt.getTime());
}

interface DisclosureConsentRow {
  patient_id: string;
  id: string;
  proxy_account_id: string;
  label_system: string;
  label_code: string;
  granted_at: Date | string;
  granted_by: string;
  evidence: string | null;
  expires_at: Date | string;
  revoked_at: Date | string | null;
  revoked_by: string | null;
}

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function fromRow(row: DisclosureConsentRow, at: Date): PatientDisclosureConsent {
  const expiresAt = toDate(row.expires_at);
  return Object.freeze<PatientDisclosureConsent>({
    id: row.id,
    patientId: row.patient_id,
    proxyAccountId: row.proxy_account_id,
    label: { system: row.label_system, code: row.label_code },
    grantedBy: row.granted_by,
    grantedAt: toDate(row.granted_at),
    evidence: row.evidence,
    expiresAt,
    // Only a consent still in force can be revoked (revokeDisclosureConsent), so a revoked one was revoked before it expired.
    status: row.revoked_at !== null ? 'revoked' : at.getTime() < expiresAt.getTime() ? 'active' : 'expired',
    revokedAt: row.revoked_at === null ? null : toDate(row.revoked_at),
    revokedBy: row.revoked_by,
  });
}

/** Records the patient's consent; it applies to the proxy's very next request (the row moves the access epoch). */
export async function grantDisclosureConsent(db: Knex, input: NewDisclosureConsent, consentRequiredLabels?: readonly Coding[]): Promise<PatientDisclosureConsent> {
  const v = validateDisclosureConsent(input, consentRequiredLabels);
  const row: DisclosureConsentRow = {
    patient_id: v.patientId,
    id: randomUUID(),
    proxy_account_id: v.recipient.proxyAccountId,
    label_system: v.label.system,
    label_code: v.label.code,
    granted_at: v.at,
    granted_by: v.grantedBy,
    evidence: v.evidence ?? null,
    expires_at: v.expiresAt,
    revoked_at: null,
    revoked_by: null,
  };
  await db.transaction(async (trx) => {
    // One consent in force per proxy and label: "in force" depends on the clock, which no partial unique index can express, so it is checked here under the patient's access-epoch row lock (the insert's trigger takes it anyway).
    await trx.raw('select access_epoch_bump(?)', [v.patientId]);
    const inForce = (await trx('disclosure_consent')
      .where({ patient_id: row.patient_id, proxy_account_id: row.proxy_account_id, label_system: row.label_system, label_code: row.label_code })
      .whereNull('revoked_at')
      .andWhere('expires_at', '>', v.at)
      .first('id')) as { id: string } | undefined;
    if (inForce) throw new DisclosureConsentError('duplicate', 'this proxy already has the patient\u2019s consent for these records');
    await trx('disclosure_consent').insert(row);
    // AUD-1: a change to what the record shares, in the same transaction.
    await auditPolicyChange(trx, {
      patientId: v.patientId,
      action: 'disclosure-consent.grant',
      actor: { kind: 'patient', id: v.grantedBy },
      at: v.at,
      exception: 'privacy_precondition',
      detail: { consentId: row.id, proxyAccountId: row.proxy_account_id, label: row.label_code, expiresAt: v.expiresAt.toISOString() },
    });
  });
  return fromRow(row, v.at);
}

/** Revokes a consent in force, at once; the row is kept. An expired one is no longer in force: 409 `expired`. */
export async function revokeDisclosureConsent(db: Knex, input: { patientId: string; id: string; revokedBy: string; at: Date }): Promise<PatientDisclosureConsent> {
  if (!nonEmpty(input.revokedBy)) throw new DisclosureConsentError('granter-required', 'revoking a consent records who revoked it');
  const n = await db.transaction(async (trx) => {
    const revoked = await trx('disclosure_consent')
      .where({ patient_id: input.patientId, id: input.id })
      .whereNull('revoked_at')
      .andWhere('expires_at', '>', input.at)
      .update({ revoked_at: input.at, revoked_by: input.revokedBy.trim() });
    if (revoked) {
      await auditPolicyChange(trx, {
        patientId: input.patientId,
        action: 'disclosure-consent.revoke',
        actor: { kind: 'patient', id: input.revokedBy.trim() },
        at: input.at,
        exception: 'privacy_precondition',
        detail: { consentId: input.id },
      });
    }
    return revoked;
  });
  const current = await getDisclosureConsent(db, input.patientId, input.id, input.at);
  // The same answer for another patient's consent as for none at all, and the id is not echoed.
  if (!current) throw new DisclosureConsentError('not-found', 'no such consent on this record');
  if (n === 0) throw current.status === 'expired' ? new DisclosureConsentError('expired', 'this consent has already expired') : new DisclosureConsentError('already-revoked', 'this consent has already been revoked');
  return current;
}

/**
 * When a proxy's last open delegation for the patient ends, the consents naming that proxy end
 * with it (in the caller's transaction, each in the access log): they were given to a person in
 * that role, and a later delegation to the same person must not find them in force again.
 */
export async function revokeProxyDisclosureConsents(
  trx: Knex.Transaction,
  o: { patientId: string; proxyAccountId: string; at: Date; actor: AccessLogEntry['actor'] },
): Promise<number> {
  const ids = (await trx('disclosure_consent')
    .where({ patient_id: o.patientId, proxy_account_id: o.proxyAccountId })
    .whereNull('revoked_at')
    .andWhere('expires_at', '>', o.at)
    .update({ revoked_at: o.at, revoked_by: o.actor.id ?? o.actor.kind })
    .returning('id')) as { id: string }[];
  for (const { id } of ids) {
    await auditPolicyChange(trx, { patientId: o.patientId, action: 'disclosure-consent.revoke', actor: o.actor, at: o.at, exception: 'privacy_precondition', detail: { consentId: id, cause: 'delegation-ended' } });
  }
  return ids.length;
}

/** One consent on the patient's record, its status as of `at`. */
export async function getDisclosureConsent(db: Knex, patientId: string, id: string, at: Date): Promise<PatientDisclosureConsent | undefined> {
  const row = (await db<DisclosureConsentRow>('disclosure_consent').where({ patient_id: patientId, id }).first()) as DisclosureConsentRow | undefined;
  return row && fromRow(row, at);
}

/** Every consent on a patient's record, in force, expired and revoked (status as of `at`), newest first (the patient's list). */
export async function listDisclosureConsents(db: Knex, patientId: string, at: Date): Promise<PatientDisclosureConsent[]> {
  const rows = (await db<DisclosureConsentRow>('disclosure_consent').where({ patient_id: patientId }).orderBy([{ column: 'granted_at', order: 'desc' }, 'id'])) as DisclosureConsentRow[];
  return rows.map((r) => fromRow(r, at));
}

/** The columns `disclosureConsentFromRow` reads. */
export const ACTIVE_DISCLOSURE_CONSENT_COLUMNS = ['id', 'proxy_account_id', 'label_system', 'label_code', 'expires_at'] as const;
export type ActiveDisclosureConsentRow = Pick<DisclosureConsentRow, (typeof ACTIVE_DISCLOSURE_CONSENT_COLUMNS)[number]>;

/** A consent row in the shape `accessPlan` takes (expires_at a Date, or its ISO 8601 text from JSON). */
export function disclosureConsentFromRow(r: ActiveDisclosureConsentRow): DisclosureConsent {
  return { id: r.id, proxyAccountId: r.proxy_account_id, label: { system: r.label_system, code: r.label_code }, expiresAt: toDate(r.expires_at) };
}

/**
 * The consents not revoked on a patient's record, in the shape `accessPlan` takes. Expired ones are
 * included: the plan judges expiry at each request's own instant.
 */
export async function activeDisclosureConsents(db: Knex, patientId: string): Promise<DisclosureConsent[]> {
  const rows = (await db<DisclosureConsentRow>('disclosure_consent')
    .where({ patient_id: patientId })
    .whereNull('revoked_at')
    .select(...ACTIVE_DISCLOSURE_CONSENT_COLUMNS)) as ActiveDisclosureConsentRow[];
  return rows.map(disclosureConsentFromRow);
}
