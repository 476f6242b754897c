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
