/**
 * Which record a portal request is about, for the APIs a person uses on their own record or on
 * one they represent: their own, or one they hold a delegation in force for that the age rules
 * still open (PRX-4: a child now an adult closes the parent's delegation here as everywhere).
 */
import { delegationsInForce, type Account, type AgeRules } from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { proxyAllowed } from '../smart/proxy-age.js';
import type { SessionDeps } from './api-support.js';

export interface RecordAccessDeps extends SessionDeps {
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
  /** The deployment's age rules (PRX-3, PRX-4); the defaults when not given. */
  ageRules?: AgeRules;
}

export type ConcernedRecord = { patientId: string; self: true } | { patientId: string; self: false; delegationId: string };

/** The record `patientId` (default: the person's own) if this person may act on it; undefined otherwise. */
export async function concernedRecord(deps: RecordAccessDeps, account: Account, patientId: string | undefined): Promise<ConcernedRecord | undefined> {
  const target = patientId ?? account.patientId ?? undefined;
  if (!target) return undefined;
  if (target === account.patientId) return { patientId: target, self: true };
  const delegation = (await delegationsInForce(deps.db, account.id, deps.now())).find((d) => d.patientId === target);
  if (!delegation) return undefined;
  const birthDate = deps.describePatients ? (await deps.describePatients([target])).get(target)?.birthDate : undefined;
  return proxyAllowed(delegation, birthDate, deps.now(), deps.ageRules) ? { patientId: target, self: false, delegationId: delegation.id } : undefined;
}
