/**
 * What a caller may see, as data the store ANDs into every query it runs (search, read, count,
 * _include, _revinclude). Built once per request by the access layer from the token, the scopes,
 * the proxy delegation and the release policy; the store never runs a PHI query without one.
 */
import type { Filter, WithheldTargets } from '../search/search-request.js';

export interface TypeAccess {
  /**
   * Alternative filter sets (OR of ANDs): a resource is visible when it satisfies every filter of
   * at least one set. `[[]]` means unrestricted; `[]` means nothing of this type is visible.
   */
  anyOf: Filter[][];
  /** Filters ANDed on top of anyOf (release policy, sensitivity exclusions). */
  allOf?: Filter[];
}

export interface AccessScope {
  /** Patient compartments visible to the caller. Empty = no compartment resource is visible. */
  patientIds: readonly string[];
  /**
   * The instant time-dependent access filters (release holds) are evaluated at: the request's.
   * Required whenever a TypeAccess has such a filter (the store refuses to run it without).
   */
  at?: Date;
  /** Per-type access; undefined = the type is not visible at all. Treated as immutable: it may be shared between requests. */
  forType(resourceType: string): TypeAccess | undefined;
  /**
   * What the reader's access plan (compartment, release policy, holds, labels, restrictions) lets
   * them see of a type, whatever the token's scopes. References to results outside it are removed
   * from the resources returned (REL-7). Defaults to forType.
   */
  planFor?(resourceType: string): TypeAccess | undefined;
  /**
   * The access epoch the caller's context was read at (consent migration 202611260001): every
   * statement then returns rows only while the patient's epoch is still this value, so a context
   * changed by a commit anywhere (revocation, ended delegation, restriction) serves nothing more.
   */
  epoch?: { patientId: string; value: string };
  /**
   * What withholds a referenced resource from the reader (the plan's statuses, release and holds):
   * references to such resources are removed from what is returned, and a search by reference to
   * one matches nothing. Unset (trusted internal callers): nothing is withheld.
   */
  withheld?: WithheldTargets;
  /**
   * The token's scopes alone for a type (no plan): with forType, what the reader was refused
   * and why (ResourceStore.withheldMatches, for the access log). Unset: nothing is reported.
   */
  scopesFor?(resourceType: string): TypeAccess | undefined;
}

/** Full access to the given compartments (trusted internal callers, tests of the store itself). */
export function compartmentScope(patientIds: readonly string[]): AccessScope {
  return { patientIds, forType: () => ({ anyOf: [[]] }) };
}
