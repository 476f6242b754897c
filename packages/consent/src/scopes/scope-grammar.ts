/**
 * The SMART App Launch scope grammar (v1 and v2), parsed into values and printed back canonically.
 * Total: every input either parses or yields a ScopeSyntaxError naming what is wrong; nothing is
 * guessed, so a malformed scope can never turn into a wider one.
 *
 *   clinical scope = context "/" type "." (v1: read | write | *  |  v2: letters of "cruds", in order) ["?" query]
 *   context        = patient | user | system
 *   type           = "*" | a FHIR resource type name
 */

export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';
export type Interaction = 'create' | 'read' | 'update' | 'delete' | 'search';

/** `patient/Observation.rs?category=…`: which resources, which interactions, in which context. */
export interface ResourceScope {
  readonly kind: 'resource';
  readonly context: ScopeContext;
  /** A resource type name, or '*' for every type. */
  readonly resourceType: string;
  /** Granted letters in canonical order, e.g. 'rs'. v1 `.read` is 'rs', `.write` 'cud', `.*` 'cruds'. */
  readonly permissions: string;
  /** v2 query constraints (decoded), all of which a resource must match; empty = unconstrained. */
  readonly query: readonly QueryConstraint[];
  readonly version: 1 | 2;
}

export interface QueryConstraint {
  readonly name: string;
  readonly value: string;
}

export const LAUNCH_SCOPES = ['launch', 'launch/patient', 'launch/encounter'] as const;
export const IDENTITY_SCOPES = ['openid', 'fhirUser', 'profile'] as const;
export const TOKEN_LIFETIME_SCOPES = ['offline_access', 'online_access'] as const;
type FixedScopeName = (typeof LAUNCH_SCOPES)[number] | (typeof IDENTITY_SCOPES)[number] | (typeof TOKEN_LIFETIME_SCOPES)[number];

/** A non-resource SMART/OpenID scope with a fixed meaning. */
export interface FixedScope {
  readonly kind: 'fixed';
  readonly name: FixedScopeName;
}

export type Scope = ResourceScope | FixedScope;

export type ScopeErrorCode =
  | 'empty'
  | 'unknown-scope'
  | 'bad-context'
  | 'bad-resource-type'
  | 'bad-permissions'
  | 'permission-order'
  | 'v1-query'
  | 'bad-query'
  | 'wildcard-query';

export class ScopeSyntaxError extends Error {
  constructor(
    readonly scope: string,
    readonly code: ScopeErrorCode,
    detail: string,
  ) {
    super(`invalid scope "${scope}": ${detail}`);
    this.name = 'ScopeSyntaxError';
  }
}

const FIXED: ReadonlySet<string> = new Set<string>([...LAUNCH_SCOPES, ...IDENTITY_SCOPES, ...TOKEN_LIFETIME_SCOPES]);
const CONTEXTS: ReadonlySet<string> = new Set<ScopeContext>(['patient', 'user', 'system']);
export const PERMISSION_ORDER = 'cruds';
const V1_PERMISSIONS: Readonly<Record<string, string>> = { read: 'rs', write: 'cud', '*': 'cruds' };
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_\-.:]*$/;
// Scope tokens are printable ASCII without space, '"' or '\' (RFC 6749 §3.3).
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Parses one scope token. Throws ScopeSyntaxError for anything that is not a scope we understand. */
export function parseScope(raw: string): Scope {
  if (raw.length === 0) throw new ScopeSyntaxError(raw, 'empty', 'empty scope');
  if (!SCOPE_TOKEN.test(raw)) throw new ScopeSyntaxError(raw, 'unknown-scope', 'contains characters RFC 6749 does not allow in a scope');
  if (FIXED.has(raw)) return { kind: 'fixed', name: raw as FixedScopeName };

  const slash = raw.indexOf('/');
  if (slash < 0) throw new ScopeSyntaxError(raw, 'unknown-scope', 'not a SMART or OpenID scope');
  const context = raw.slice(0, slash);
  if (!CONTEXTS.has(context)) {
    throw new ScopeSyntaxError(raw, context === 'launch' ? 'unknown-scope' : 'bad-context', context === 'launch' ? 'unknown launch context' : `context must be patient, user or system, not "${context}"`);
  }
  const rest = raw.slice(slash + 1);
  const question = rest.indexOf('?');
  const body = question < 0 ? rest : rest.slice(0, question);
  const queryText = question < 0 ? undefined : rest.slice(question + 1);
  const dot = body.indexOf('.');
  if (dot < 0) throw new ScopeSyntaxError(raw, 'bad-permissions', 'expected "<type>.<permissions>"');
  const resourceType = body.slice(0, dot);
  const letters = body.slice(dot + 1);
  if (resourceType !== '*' && !RESOURCE_TYPE.test(resourceType)) {
    throw new ScopeSyntaxError(raw, 'bad-resource-type', `"${resourceType}" is not a resource type or "*"`);
  }

  const v1 = V1_PERMISSIONS[letters];
  if (v1 !== undefined) {
    if (queryText !== undefined) throw new ScopeSyntaxError(raw, 'v1-query', 'query parameters need v2 permissions (e.g. ".rs")');
    return { kind: 'resource', context: context as ScopeContext, resourceType, permissions: v1, query: [], version: 1 };
  }
  const permissions = v2Permissions(raw, letters);
  const query = queryText === undefined ? [] : parseQuery(raw, queryText);
  // "patient/*.rs?category=…" would need every type to share the parameter; refuse rather than guess.
  if (query.length > 0 && resourceType === '*') throw new ScopeSyntaxError(raw, 'wildcard-query', 'query parameters need a specific resource type');
  return { kind: 'resource', context: context as ScopeContext, resourceType, permissions, query, version: 2 };
}

function v2Permissions(raw: string, letters: string): string {
  if (letters.length === 0) throw new ScopeSyntaxError(raw, 'bad-permissions', 'no permissions after "."');
  let last = -1;
  for (const letter of letters) {
    const at = PERMISSION_ORDER.indexOf(letter);
    if (at < 0) throw new ScopeSyntaxError(raw, 'bad-permissions', `"${letters}" is not read/write/* or letters of "cruds"`);
    if (at <= last) throw new ScopeSyntaxError(raw, 'permission-order', `permission letters must appear once each, in the order c r u d s`);
    last = at;
  }
  return letters;
}

function parseQuery(raw: string, text: string): QueryConstraint[] {
  if (text.length === 0) throw new ScopeSyntaxError(raw, 'bad-query', 'empty query after "?"');
  const constraints: QueryConstraint[] = [];
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) throw new ScopeSyntaxError(raw, 'bad-query', `"${pair}" is not name=value`);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(pair.slice(0, eq));
      value = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new ScopeSyntaxError(raw, 'bad-query', `"${pair}" has a malformed percent-encoding`);
    }
    if (!PARAM_NAME.test(name) || name.startsWith('_')) {
      throw new ScopeSyntaxError(raw, 'bad-query', `"${name}" is not a search parameter a scope can constrain`);
    }
    constraints.push({ name, value });
  }
  return constraints;
}

/** Prints a scope canonically: v1 scopes in v1 form, v2 letters in order, the query re-encoded. */
export function formatScope(scope: Scope): string {
  if (scope.kind === 'fixed') return scope.name;
  const base = `${scope.context}/${scope.resourceType}.`;
  if (scope.version === 1) {
    const v1 = Object.entries(V1_PERMISSIONS).find(([, letters]) => letters === scope.permissions)?.[0];
    if (v1 !== undefined) return base + v1;
  }
  const query = scope.query.map((q) => `${encodeQueryPart(q.name)}=${encodeQueryPart(q.value)}`).join('&');
  return base + scope.permissions + (query ? `?${query}` : '');
}

// Keeps `|`, `:` and `/` readable (token values are system|code URLs) while escaping separators.
function encodeQueryPart(text: string): string {
  return encodeURIComponent(text).replace(/%7C/gi, '|').replace(/%3A/gi, ':').replace(/%2F/gi, '/');
}

export interface ParsedScopes {
  readonly scopes: readonly Scope[];
  readonly invalid: readonly ScopeSyntaxError[];
}

/** Parses a space-separated scope parameter, keeping every valid scope (once) and every error. */
export function parseScopes(text: string | undefined): ParsedScopes {
  const scopes: Scope[] = [];
  const invalid: ScopeSyntaxError[] = [];
  const seen = new Set<string>();
  for (const token of (text ?? '').split(/[ \t\n\r]+/)) {
    if (!token) continue;
    try {
      const scope = parseScope(token);
      const key = formatScope(scope);
      if (seen.has(key)) continue;
      seen.add(key);
      scopes.push(scope);
    } catch (err) {
      if (!(err instanceof ScopeSyntaxError)) throw err;
      invalid.push(err);
    }
  }
  return { scopes, invalid };
}
