/**
 * Which record a portal request is about, for the APIs a person uses on their own record or on
 * one they represent: their own, or one they hold a delegation in force for that the age rules
 * still open (PRX-4: a child now an adult closes the parent's delegation here as everywhere).
 */
import { DEFAULT_AGE_RULES, delegationsInForce, proxyAccessLevel, type Account, type AgeRules, type DelegationBasis } from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import type { SessionDeps } from './api-support.js';

export interface RecordAccessDeps extends SessionDeps {
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
  /** The deployment's age rules (PRX-3, PRX-4); the defaults when not given. */
  ageRules?: AgeRules;
}

export type ConcernedRecord =
  | { patientId: string; self: true }
  /** level: what the age rules leave the proxy today (a parent of a 12–17-year-old is limited, PRX-3). */
  | { patientId: string; self: false; delegationId: string; basis: DelegationBasis; level: 'full' | 'limited' };

/** The record `patientId` (default: the person's own) if this person may act on it; undefined otherwise. */
export async function concernedRecord(deps: RecordAccessDeps, account: Account, patientId: string | undefined): Promise<ConcernedRecord | undefined> {
  const target = patientId ?? account.patientId ?? undefined;
  if (!target) return undefined;
  if (target === account.patientId) return { patientId: target, self: true };
  const delegation = (await delegationsInForce(deps.db, account.id, deps.now())).find((d) => d.patientId === target);
  if (!delegation) return undefined;
  const birthDate = deps.describePatients ? (await deps.describePatients([target])).get(target)?.birthDate : undefined;
  const access = proxyAccessLevel(
    { kind: 'proxy', proxyAccountId: account.id, delegation: { basis: delegation.basis, accessLevel: delegation.accessLevel, status: 'active', startsAt: delegation.startsAt, endsAt: null } },
    birthDate,
    deps.now(),
    deps.ageRules ?? DEFAULT_AGE_RULES,
  );
  if (access.level === 'none') return undefined;
  return { patientId: target, self: false, delegationId: delegation.id, basis: delegation.basis, level: access.level };
}
