/** How SMART scopes meet oidc-provider: which are OIDC scopes, and the read-only projection of a request. */
import { LAUNCH_SCOPES, IDENTITY_SCOPES, TOKEN_LIFETIME_SCOPES, formatScope, parseScopes, readOnly, type Scope } from '@patient-access/consent';

/** Non-resource scopes oidc-provider handles itself (stored as the grant's OIDC scope). */
export const OIDC_SCOPES: string[] = [...IDENTITY_SCOPES, ...LAUNCH_SCOPES, ...TOKEN_LIFETIME_SCOPES];

export const SUPPORTED_SCOPES: string[] = [
  ...OIDC_SCOPES,
  'patient/*.rs',
  'user/*.rs',
  'system/*.rs',
  'patient/*.read',
  'user/*.read',
  'system/*.read',
];

/**
 * The scopes this read-only server can grant for a request: write permissions dropped (a scope
 * left with none is dropped), malformed and unknown scopes dropped, canonical and de-duplicated.
 */
export function grantableScopes(requested: string | undefined): { oidc: string[]; resource: string[]; all: string } {
  const granted = parseScopes(requested).scopes.map(readOnly).filter((s): s is Scope => s !== null);
  const oidc = granted.filter((s) => s.kind === 'fixed').map(formatScope);
  const resource = [...new Set(granted.filter((s) => s.kind === 'resource').map(formatScope))];
  return { oidc, resource, all: [...oidc, ...resource].join(' ') };
}
