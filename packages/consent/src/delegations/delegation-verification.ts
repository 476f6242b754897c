/**
 * Verifying a proxy's claim of legal authority before it opens the record (PRX-2): a parent,
 * guardian or power-of-attorney claim made in the portal starts as `requested`; staff who checked
 * the person's identity and the document behind the claim verify it (the evidence type, who, when)
 * and activate it, or deny it with a reason code. Nothing else moves a delegation into force, and
 * no claim is refused without a reason (refusing adequate proof is interference, 45 CFR 171).
 */
import type { Knex } from 'knex';
import { auditPolicyChange } from '../audit/policy-audit.js';
import { isStaffId } from '../holds/errors.js';
import { RuleError } from '../rule-error.js';
import { findDelegation, type Delegation } from './delegation-store.js';

/** What the verifier saw: the kind of document or check behind the claimed authority. */
export const VERIFICATION_EVIDENCE_TYPES = [
  'birth-certificate', // parent
  'court-order', // guardian, custody
  'guardianship-letters',
  'power-of-attorney', // health care power of attorney / agent designation
  'in-person-identity-check', // identity, with one of the above
  'patient-attestation', // the (adult or capable) patient confirmed the claim
] as const;
export type VerificationEvidenceType = (typeof VERIFICATION_EVIDENCE_TYPES)[number];

/** Why a claim was refused (PRX-2: never without one). */
export const DELEGATION_DENIAL_REASONS = ['identity-not-verified', 'authority-not-shown', 'document-expired', 'patient-objected', 'duplicate-request'] as const;
export type DelegationDenialReason = (typeof DELEGATION_DENIAL_REASONS)[number];

export type DelegationErrorCode = 'not-found' | 'not-requested' | 'evidence-required' | 'verifier-required' | 'reason-required';

/** 400 for a malformed request, 404 for a missing delegation, 409 for one not awaiting verification. */
export class DelegationError extends RuleError<DelegationErrorCode, 'PRX-2'> {
  constructor(code: DelegationErrorCode, message: string) {
    super(code, 'PRX-2', message, ['not-requested']);
  }
}

/** A document reference (an id in the document system, never its content): printable, short. */
const isDocumentRef = (v: unknown): v is string => typeof v === 'string' && /^[\x21-\x7e]{1,128}$/.test(v);

export interface DelegationVerification {
  patientId: string;
  delegationId: string;
  /** The staff member who checked, as the access log names them (e.g. `Practitioner/prac-1`). */
  verifiedBy: string;
  evidence: { type: VerificationEvidenceType; reference?: string };
  at: Date;
}

/** The stored form of the evidence: its type, and the document's reference when there is one. */
export function verificationEvidenceText(e: DelegationVerification['evidence']): string {
  return e.reference ? `${e.type}:${e.reference}` : e.type;
}

/** requested → active, with the evidence and the verifier recorded and logged in the patient's chain. */
export async function verifyDelegation(db: Knex, v: DelegationVerification): Promise<Delegation> {
  if (!isStaffId(v.verifiedBy)) throw new DelegationError('verifier-required', 'verifiedBy must name the staff member who checked');
  if (!VERIFICATION_EVIDENCE_TYPES.includes(v.evidence?.type) || (v.evidence.reference !== undefined && !isDocumentRef(v.evidence.reference)))
    throw new DelegationError('evidence-required', `evidence.type must be one of ${VERIFICATION_EVIDENCE_TYPES.join(', ')} (with an optional document reference)`);
  return db.transaction(async (trx) => {
    await pendingClaim(trx, v.patientId, v.delegationId);
    await trx('proxy_delegation')
      .where({ patient_id: v.patientId, id: v.delegationId })
      .update({ status: 'active', verified_by: v.verifiedBy, verification_evidence: verificationEvidenceText(v.evidence), status_reason: null, updated_at: v.at });
    // AUD-1: a change to who may see the record, in the same transaction.
    await auditPolicyChange(trx, {
      patientId: v.patientId,
      action: 'delegation.verify',
      actor: { kind: 'staff', id: v.verifiedBy },
      at: v.at,
      delegationId: v.delegationId,
      detail: { evidence: v.evidence.type },
    });
    return (await findDelegation(trx, v.delegationId))!;
  });
}

export interface DelegationDenial {
  patientId: string;
  delegationId: string;
  deniedBy: string;
  reason: DelegationDenialReason;
  at: Date;
}

/** requested → revoked, with the reason code (PRX-2: a denial needs one) recorded and logged. */
export async function denyDelegation(db: Knex, d: DelegationDenial): Promise<Delegation> {
  if (!isStaffId(d.deniedBy)) throw new DelegationError('verifier-required', 'deniedBy must name the staff member who decided');
  if (!DELEGATION_DENIAL_REASONS.includes(d.reason)) throw new DelegationError('reason-required', `reason must be one of ${DELEGATION_DENIAL_REASONS.join(', ')}`);
  return db.transaction(async (trx) => {
    await pendingClaim(trx, d.patientId, d.delegationId);
    await trx('proxy_delegation').where({ patient_id: d.patientId, id: d.delegationId }).update({ status: 'revoked', status_reason: `denied: ${d.reason}`, updated_at: d.at });
    await auditPolicyChange(trx, {
      patientId: d.patientId,
      action: 'delegation.deny',
      actor: { kind: 'staff', id: d.deniedBy },
      at: d.at,
      delegationId: d.delegationId,
      detail: { reason: d.reason },
    });
    return (await findDelegation(trx, d.delegationId))!;
  });
}

/** The claim, locked, if it still awaits verification. */
async function pendingClaim(trx: Knex, patientId: string, id: string): Promise<void> {
  const row = (await trx('proxy_delegation').where({ patient_id: patientId, id }).forUpdate().first()) as { status: string } | undefined;
  if (!row) throw new DelegationError('not-found', 'no such delegation on this record');
  if (row.status !== 'requested' && row.status !== 'verified') throw new DelegationError('not-requested', `this delegation is ${row.status}, not awaiting verification`);
}
