/** Whether a delegation in force still opens the record under the age rules (PRX-3, PRX-4). */
import { DEFAULT_AGE_RULES, proxyAccessLevel, type AgeRules, type DelegationBasis } from '@patient-access/consent';

export function proxyAllowed(
  delegation: { basis: DelegationBasis; accessLevel: 'full' | 'limited'; startsAt: Date },
  birthDate: string | undefined,
  at: Date,
  rules: AgeRules = DEFAULT_AGE_RULES,
): boolean {
  const access = proxyAccessLevel(
    { kind: 'proxy', proxyAccountId: '', delegation: { basis: delegation.basis, accessLevel: delegation.accessLevel, status: 'active', startsAt: delegation.startsAt, endsAt: null } },
    birthDate,
    at,
    rules,
  );
  return access.level !== 'none';
}
