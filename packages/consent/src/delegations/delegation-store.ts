/** Proxy delegations: a person acting for another patient (PRX-1). */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

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
}

export async function createDelegation(db: Knex, d: NewDelegation): Promise<string> {
  const id = randomUUID();
  await db('proxy_delegation').insert({
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
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const n = await trx('proxy_delegation')
      .where({ patient_id: patientId, id })
      // PRX-6: the patient can end a suspended delegation too; a suspension applies to an open one only.
      .whereIn('status', status === 'suspended' ? ['requested', 'verified', 'active'] : ['requested', 'verified', 'active', 'suspended'])
      .update({ status, status_reason: reason, updated_at: at });
    if (n === 0) return false;
    await trx('app_grant')
      .where({ patient_id: patientId, delegation_id: id, status: 'active' })
      .update({ status: 'revoked', status_reason: `delegation ${status}: ${reason}`, revoked_at: at });
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

/** A delegation from this patient to this proxy that has not ended (requested, verified, active or suspended). */
export async function openDelegation(db: Knex, patientId: string, proxyAccountId: string): Promise<Delegation | undefined> {
  const row = (await db('proxy_delegation')
    .where({ patient_id: patientId, proxy_account_id: proxyAccountId })
    .whereIn('status', ['requested', 'verified', 'active', 'suspended'])
    .first()) as DelegationRow | undefined;
  return row && toDelegation(row);
}

export async function findDelegation(db: Knex, id: string): Promise<Delegation | undefined> {
  const row = (await db('proxy_delegation').where({ id }).first()) as DelegationRow | undefined;
  return row && toDelegation(row);
}
