/** Proxy delegations: a person acting for another patient (PRX-1). */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AccessLogEntry } from '../audit/access-log-types.js';
import { auditPolicyChange } from '../audit/policy-audit.js';
import { revokeProxyDisclosureConsents } from '../disclosure-consents/disclosure-consent-store.js';

export type DelegationBasis = 'parent' | 'guardian' | 'poa' | 'caregiver';
export type DelegationStatus = 'requested' | 'verified' | 'active' | 'revoked' | 'expired' | 'suspended';

export interface NewDelegation {
  patientId: string;
  proxyAccountId: string;
  relatedPersonId?: string;
  basis: DelegationBasis;
  accessLevel?: 'full' | 'limited';
  status: DelegationStatus;
  startsAt: Date;
  endsAt?: Date;
  verifiedBy?: string;
  verificationEvidence?: string;
  /** Who granted or asked for it, as the access log names them (default: the verifier, as a system actor). */
  grantedBy?: AccessLogEntry['actor'];
  /** When it was granted (the log's time; default now). */
  at?: Date;
}

/**
 * Records a delegation and logs the grant in the patient's access log, in one transaction (AUD-1:
 * a change of privileges). One in force (verified or active) names who verified the authority
 * behind it and on what evidence (PRX-2); a claim awaiting that is `requested`.
 */
export async function createDelegation(db: Knex, d: NewDelegation): Promise<string> {
  const inForce = d.status === 'active' || d.status === 'verified';
  if (inForce && (!d.verifiedBy?.trim() || !d.verificationEvidence?.trim()))
    throw new Error(`a ${d.status} delegation needs verifiedBy and verificationEvidence (PRX-2); a claim not yet verified is 'requested'`);
  const id = randomUUID();
  await db.transaction(async (trx) => {
    await trx('proxy_delegation').insert({
      id,
      patient_id: d.patientId,
      proxy_account_id: d.proxyAccountId,
      related_person_id: d.relatedPersonId ?? null,
      basis: d.basis,
      access_level: d.accessLevel ?? 'full',
      status: d.status,
      starts_at: d.startsAt,
      ends_at: d.endsAt ?? null,
      verified_by: d.verifiedBy ?? null,
      verification_evidence: d.verificationEvidence ?? null,
    });
    await auditPolicyChange(trx, {
      patientId: d.patientId,
      action: 'delegation.grant',
      actor: d.grantedBy ?? { kind: 'system', id: d.verifiedBy ?? 'system' },
      at: d.at ?? new Date(),
      delegationId: id,
      detail: { basis: d.basis, status: d.status, accessLevel: d.accessLevel ?? 'full' },
    });
  });
  return id;
}

export interface Delegation {
  id: string;
  patientId: string;
  proxyAccountId: string;
  relatedPersonId: string | null;
  basis: DelegationBasis;
  accessLevel: 'full' | 'limited';
  status: DelegationStatus;
  startsAt: Date;
  endsAt: Date | null;
}

interface DelegationRow {
  id: string;
  patient_id: string;
  proxy_account_id: string;
  related_person_id: string | null;
  basis: DelegationBasis;
  access_level: 'full' | 'limited';
  status: DelegationStatus;
  starts_at: Date | string;
  ends_at: Date | string | null;
}

const toDelegation = (r: DelegationRow): Delegation => ({
  id: r.id,
  patientId: r.patient_id,
  proxyAccountId: r.proxy_account_id,
  relatedPersonId: r.related_person_id,
  basis: r.basis,
  accessLevel: r.access_level,
  status: r.status,
  startsAt: new Date(r.starts_at),
  endsAt: r.ends_at === null ? null : new Date(r.ends_at),
});

/** Delegations a proxy holds that are in force at `at` (active, started, not ended). */
export async function delegationsInForce(db: Knex, proxyAccountId: string, at: Date): Promise<Delegation[]> {
  const rows = (await db('proxy_delegation')
    .where({ proxy_account_id: proxyAccountId, status: 'active' })
    .andWhere('starts_at', '<=', at)
    .andWhere((q) => q.whereNull('ends_at').orWhere('ends_at', '>', at))
    .orderBy('created_at')) as DelegationRow[];
  return rows.map(toDelegation);
}

/**
 * Ends a delegation (revoked, suspended or expired) and, in the same transaction, every app grant
 * approved under it (PRX-6, API-3), so no token or refresh token issued under it works afterwards.
 */
export async function endDelegation(
  db: Knex,
  patientId: string,
  id: string,
  status: 'revoked' | 'suspended' | 'expired',
  reason: string,
  at: Date = new Date(),
  /** Who ended it, for the access log (the patient, the proxy giving it up, staff); default a system actor. */
  by?: AccessLogEntry['actor'],
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const ended = (await trx('proxy_delegation')
      .where({ patient_id: patientId, id })
      // PRX-6: the patient can end a suspended delegation too; a suspension applies to an open one only.
      .whereIn('status', status === 'suspended' ? ['requested', 'verified', 'active'] : ['requested', 'verified', 'active', 'suspended'])
      .update({ status, status_reason: reason, updated_at: at })
      .returning('proxy_account_id')) as { proxy_account_id: string }[];
    if (ended.length === 0) return false;
    await trx('app_grant')
      .where({ patient_id: patientId, delegation_id: id, status: 'active' })
      .update({ status: 'revoked', status_reason: `delegation ${status}: ${reason}`, revoked_at: at });
    // AUD-1: a change of privileges (a suspension is logged with its determination instead).
    if (status !== 'suspended') {
      await auditPolicyChange(trx, { patientId, action: 'delegation.end', actor: by ?? { kind: 'system', id: 'system' }, at, delegationId: id, detail: { status } });
      // IB-2: the consents given to this person as proxy end with their last open delegation.
      const proxyAccountId = ended[0]!.proxy_account_id;
      const open = await trx('proxy_delegation').where({ patient_id: patientId, proxy_account_id: proxyAccountId }).whereIn('status', ['requested', 'verified', 'active', 'suspended']).first('id');
      if (!open) await revokeProxyDisclosureConsents(trx, { patientId, proxyAccountId, at, actor: by ?? { kind: 'system', id: 'system' } });
    }
    return true;
  });
}

/** Delegations on a patient's record (the patient's "who can see my record" list). */
export async function delegationsForPatient(db: Knex, patientId: string): Promise<Delegation[]> {
  return ((await db('proxy_delegation').where({ patient_id: patientId }).orderBy('created_at')) as DelegationRow[]).map(toDelegation);
}

/** Delegations a person holds as a proxy, whatever their state. */
export async function delegationsHeldBy(db: Knex, proxyAccountId: string): Promise<Delegation[]> {
  return ((await db('proxy_delegation').where({ proxy_account_id: proxyAccountId }).orderBy('created_at')) as DelegationRow[]).map(toDelegation);
}

/**
 * A delegation from this patient to this proxy that has not ended at `at` (requested, verified,
 * active or suspended, and not past its end), and that `stillOpen` (e.g. the age rules, PRX-4)
 * does not say has lapsed: what a new grant to the same person would duplicate.
 */
export async function openDelegation(
  db: Knex,
  patientId: string,
  proxyAccountId: string,
  at: Date = new Date(),
  stillOpen: (d: Delegation) => boolean = () => true,
): Promise<Delegation | undefined> {
  const rows = (await db('proxy_delegation')
    .where({ patient_id: patientId, proxy_account_id: proxyAccountId })
    .whereIn('status', ['requested', 'verified', 'active', 'suspended'])
    .andWhere((q) => q.whereNull('ends_at').orWhere('ends_at', '>', at))) as DelegationRow[];
  return rows.map(toDelegation).find(stillOpen);
}

export async function findDelegation(db: Knex, id: string): Promise<Delegation | undefined> {
  const row = (await db('proxy_delegation').where({ id }).first()) as DelegationRow | undefined;
  return row && toDelegation(row);
}
