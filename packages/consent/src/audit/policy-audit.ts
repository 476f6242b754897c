/**
 * Changes to what a record shares (a hold placed, reviewed or lifted; a proxy suspended or
 * reinstated), appended to the patient's hash-chained access log inside the caller's transaction,
 * so the change and its record commit together or not at all (AUD-1, PRX-5 (d), REL-3). Codes and
 * ids only: the documented reasons stay in their own tables.
 */
import type { Knex } from 'knex';
import { appendAccessLog } from './access-log.js';
import type { AccessLogDetail, AccessLogEntry, BlockingException, PolicyAction } from './access-log-types.js';

export interface PolicyChange {
  patientId: string;
  action: PolicyAction;
  actor: AccessLogEntry['actor'];
  at: Date;
  /** The exception the change invokes (e.g. preventing_harm for a harm hold); none for a change that withholds nothing. */
  exception?: BlockingException;
  delegationId?: string;
  detail: AccessLogDetail;
}

export async function auditPolicyChange(trx: Knex, change: PolicyChange): Promise<void> {
  const { at, ...rest } = change;
  const { delegationId, ...entry } = rest;
  await appendAccessLog(trx, [{ ...entry, outcome: 'success', ...(delegationId ? { delegationId } : {}) }], { now: () => at });
}

/** A clinician, named by their Practitioner reference (the decider of a hold or suspension). */
export const clinicianActor = (practitioner: string): AccessLogEntry['actor'] => ({ kind: 'staff', id: practitioner, fhirUser: practitioner });
