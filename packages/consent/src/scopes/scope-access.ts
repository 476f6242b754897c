/**
 * What a set of granted scopes allows: the read-only projection the authorization server grants,
 * the coverage check for refresh narrowing, and the per-type access the FHIR API turns into SQL.
 */
import { formatScope, type Interaction, type QueryConstraint, type ResourceScope, type Scope, type ScopeContext } from './scope-grammar.js';

const LETTER: Readonly<Record<Interaction, string>> = { create: 'c', read: 'r', update: 'u', delete: 'd', search: 's' };

/**
 * The part of a scope this read-only server can grant: `c`, `u` and `d` are dropped, and a scope
 * left with no permission is not granted at all (null). v1 `.*` becomes `.read`, `.write` nothing.
 */
export function readOnly(scope: Scope): Scope | null {
  if (scope.kind === 'fixed') return scope;
  const permissions = [...scope.permissions].filter((l) => l === 'r' || l === 's').join('');
  if (!permissions) return null;
  return { ...scope, permissions };
}

/** True when `granted` allows everything `requested` does (used to let refresh narrow, never widen). */
export function covers(granted: Scope, requested: Scope): boolean {
  if (granted.kind === 'fixed' || requested.kind === 'fixed') {
    return granted.kind === 'fixed' && requested.kind === 'fixed' && granted.name === requested.name;
  }
  if (granted.context !== requested.context) return false;
  if (granted.resourceType !== '*' && granted.resourceType !== requested.resourceType) return false;
  if (![...requested.permissions].every((l) => granted.permissions.includes(l))) return false;
  // A constrained grant covers only requests carrying at least the same constraints.
  return granted.query.every((g) => requested.query.some((r) => r.name === g.name && r.value === g.value));
}

/** True when some scope in `granted` covers `requested`. */
export function coveredBy(granted: readonly Scope[], requested: Scope): boolean {
  return granted.some((g) => covers(g, requested));
}

/**
 * Access to one resource type for one interaction, as the union of every scope that grants it
 * (API-5: mixed v1/v2 scopes grant the union of each, never more):
 * - `none`: nothing grants it;
 * - `all`: some scope grants it without constraints;
 * - `constrained`: a resource must satisfy every constraint of at least one of `anyOf`.
 */
export type TypeGrant = { kind: 'none' } | { kind: 'all' } | { kind: 'constrained'; anyOf: readonly (readonly QueryConstraint[])[] };

export function grantFor(scopes: readonly Scope[], contexts: readonly ScopeContext[], resourceType: string, interaction: Interaction): TypeGrant {
  const letter = LETTER[interaction];
  const anyOf: QueryConstraint[][] = [];
  for (const scope of scopes) {
    if (scope.kind !== 'resource' || !contexts.includes(scope.context)) continue;
    if (scope.resourceType !== '*' && scope.resourceType !== resourceType) continue;
    if (!scope.permissions.includes(letter)) continue;
    if (scope.query.length === 0) return { kind: 'all' };
    anyOf.push([...scope.query]);
  }
  return anyOf.length ? { kind: 'constrained', anyOf } : { kind: 'none' };
}

/** Resource scopes only, for callers that work per resource type. */
export function resourceScopes(scopes: readonly Scope[]): ResourceScope[] {
  return scopes.filter((s): s is ResourceScope => s.kind === 'resource');
}

/** The space-separated scope string of a list of scopes, canonical and without duplicates. */
export function formatScopes(scopes: readonly Scope[]): string {
  return [...new Set(scopes.map(formatScope))].join(' ');
}

/**
 * What two scope sets both allow, as scopes: a token's scopes limited by its grant after the
 * patient narrowed it on the connected-apps page. Pairwise: same context; `*` yields the other
 * type; the common permission letters; the constraints of both (a resource must meet all of them).
 * Fixed scopes survive when both sets hold them. Never more than either set allows.
 */
export function intersectScopes(a: readonly Scope[], b: readonly Scope[]): Scope[] {
  const out: Scope[] = [];
  for (const x of a) {
    for (const y of b) {
      if (x.kind === 'fixed' || y.kind === 'fixed') {
        if (x.kind === 'fixed' && y.kind === 'fixed' && x.name === y.name) out.push(x);
        continue;
      }
      if (x.context !== y.context) continue;
      if (x.resourceType !== '*' && y.resourceType !== '*' && x.resourceType !== y.resourceType) continue;
      const permissions = [...x.permissions].filter((l) => y.permissions.includes(l)).join('');
      if (!permissions) continue;
      const query = [...x.query, ...y.query.filter((q) => !x.query.some((p) => p.name === q.name && p.value === q.value))];
      out.push({ kind: 'resource', context: x.context, resourceType: x.resourceType === '*' ? y.resourceType : x.resourceType, permissions, query, version: query.length || x.version === 2 || y.version === 2 ? 2 : 1 });
    }
  }
  // Drop what another result already covers, so the set stays canonical.
  return out.filter((s, i) => !out.some((t, j) => j !== i && covers(t, s) && (!covers(s, t) || j < i)));
}
