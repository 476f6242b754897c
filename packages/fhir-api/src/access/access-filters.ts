/**
 * Turns what a token may see (its scopes, the patient, the access plan from packages/consent)
 * into the AccessScope the store ANDs into every query. Pure: the same inputs give the same
 * filters, so the decision matrix of the consent package can be replayed against the SQL.
 */
import { grantFor, parseScope, type GrantedPlan, type Interaction, type Scope, type ScopeContext } from '@patient-access/consent';
import { parseSearch } from '../search/parse-search.js';
import { getSearchParam, isCompartmentType } from '../search/registry.js';
import type { Filter, WithheldTargets } from '../search/search-request.js';
import type { AccessScope, TypeAccess } from '../store/access-scope.js';

export interface AccessInputs {
  patientId: string;
  scopes: readonly Scope[];
  contexts: readonly ScopeContext[];
  plan: GrantedPlan;
  at: Date;
  /** The access epoch of the context these inputs came from; set, every statement checks it. */
  epoch?: string;
}

/** The AccessScope for one interaction (read or search) under a token. */
export function accessScope(inputs: AccessInputs, interaction: Interaction): AccessScope {
  const planInputs: AccessInputs = { ...inputs, scopes: ALL_PATIENT_DATA, contexts: PATIENT_CONTEXT };
  return {
    patientIds: [inputs.patientId],
    ...(inputs.epoch !== undefined ? { epoch: { patientId: inputs.patientId, value: inputs.epoch } } : {}),
    at: inputs.at,
    forType: (type) => compiledTypeAccess(inputs, type, interaction),
    planFor: (type) => compiledTypeAccess(planInputs, type, 'read'),
    withheld: withheldTargets(inputs.plan),
    scopesFor: (type) => scopeTypeAccess(inputs, type, interaction),
  };
}

const scopeAccess = new WeakMap<readonly Scope[], Map<string, TypeAccess | undefined>>();

/** What the scopes alone let the token see of a type (kept per scope list, like compiledTypeAccess). */
function scopeTypeAccess(inputs: AccessInputs, type: string, interaction: Interaction): TypeAccess | undefined {
  let byKey = scopeAccess.get(inputs.scopes);
  if (!byKey) scopeAccess.set(inputs.scopes, (byKey = new Map()));
  const key = `${inputs.contexts.join(',')}|${interaction}|${type}`;
  if (!byKey.has(key)) {
    const grant = grantFor(inputs.scopes, inputs.contexts, type, interaction);
    byKey.set(key, grant.kind === 'none' ? undefined : { anyOf: grant.kind === 'all' ? [[]] : grant.anyOf.map((constraints) => scopeFilters(type, constraints)) });
  }
  return byKey.get(key);
}

const withheldByPlan = new WeakMap<GrantedPlan, WithheldTargets>();

/** The plan's statuses, release rules and holds, as they apply to the target of a reference (kept per plan). */
function withheldTargets(plan: GrantedPlan): WithheldTargets {
  const known = withheldByPlan.get(plan);
  if (known) return known;
  const neverVisible = new Set(plan.neverVisibleStatuses);
  const withheld: WithheldTargets = {
    neverVisibleStatuses: plan.neverVisibleStatuses,
    results: RESULT_TYPES.map((type) => {
      const categories = plan.resultCategories[type];
      return {
        type,
        categories: categories === 'all' ? 'all' : categories.map((c) => ({ ...(c.system !== undefined ? { system: c.system } : {}), code: c.code })),
        released: plan.releasedStatuses[type].filter((code) => !neverVisible.has(code)),
      };
    }),
    holds: plan.holds,
    harmTypes: plan.harmTypes,
  };
  withheldByPlan.set(plan, withheld);
  return withheld;
}

/**
 * Type access by (plan, scopes, contexts, interaction, type), kept while the plan object lives: a
 * plan remembered with its grant's context (token-access.ts) serves every request under it with
 * the same filter objects, which the store compiles to SQL once (ResourceStore). Sound because
 * typeAccess reads nothing else of its inputs: not the patient, the epoch or the clock (holds are
 * evaluated at AccessScope.at, bound per statement).
 */
const compiled = new WeakMap<GrantedPlan, WeakMap<readonly Scope[], Map<string, TypeAccess | undefined>>>();

function compiledTypeAccess(inputs: AccessInputs, type: string, interaction: Interaction): TypeAccess | undefined {
  let byScopes = compiled.get(inputs.plan);
  if (!byScopes) compiled.set(inputs.plan, (byScopes = new WeakMap()));
  let byKey = byScopes.get(inputs.scopes);
  if (!byKey) byScopes.set(inputs.scopes, (byKey = new Map()));
  const key = `${inputs.contexts.join(',')}|${interaction}|${type}`;
  if (byKey.has(key)) return byKey.get(key);
  const access = typeAccess(inputs, type, interaction);
  byKey.set(key, access);
  return access;
}

/** The plan alone, as if every type were in scope (reference redaction, REL-7). */
const ALL_PATIENT_DATA: readonly Scope[] = Object.freeze([parseScope('patient/*.rs')]);
const PATIENT_CONTEXT: readonly ScopeContext[] = Object.freeze(['patient']);

function typeAccess(inputs: Pick<AccessInputs, 'scopes' | 'contexts' | 'plan'>, type: string, interaction: Interaction): TypeAccess | undefined {
  const grant = grantFor(inputs.scopes, inputs.contexts, type, interaction);
  if (grant.kind === 'none') return undefined;
  // v2 query scopes (e.g. ?category=…|laboratory): a resource must match one constrained scope.
  const scopeSets: Filter[][] = grant.kind === 'all' ? [[]] : grant.anyOf.map((constraints) => scopeFilters(type, constraints));
  if (!isCompartmentType(type)) return { anyOf: scopeSets };
  const { plan } = inputs;
  const allOf: Filter[] = [];
  // REL-4: entered-in-error is never shown as a result (for results, within releaseAlternatives).
  if (plan.neverVisibleStatuses.length && hasStatus(type) && !isResultType(type)) allOf.push(tokenNot('status', plan.neverVisibleStatuses.map((code) => ({ code }))));
  // PRX-3: a limited proxy sees nothing labelled confidential or sensitive, nor what points at it.
  // IB-2 (45 CFR 171.202(b)): nor does any proxy see what is labelled as needing the patient's
  // consent (42 CFR Part 2) until she has recorded it for that proxy: the plan lists those labels too.
  // A label recorded without a system matches on its code alone (fail-closed, as decide.ts does).
  if (plan.hiddenSecurityLabels.length) {
    const codes = [...new Set(plan.hiddenSecurityLabels.map((l) => l.code))];
    allOf.push(tokenNot('_security', [...plan.hiddenSecurityLabels.map((l) => ({ system: l.system, code: l.code })), ...codes.map((code) => ({ system: null, code }))]));
    if (plan.hideReferencesToHidden) {
      const labels = plan.hiddenSecurityLabels.flatMap((l) => (l.system ? [{ system: l.system, code: l.code }] : []));
      allOf.push({ kind: 'notReferencingLabelled', labels });
      // ...nor a result of a labelled report: it would reveal the report.
      if (type === 'Observation') allOf.push({ kind: 'notResultOfLabelled', labels });
    }
  }
  // IB-1: categories the patient chose not to share with this proxy or app. A category recorded
  // without a system matches too (fail-closed, as decide.ts specifies).
  for (const r of plan.restrictions) {
    if (r.resourceType !== undefined && r.resourceType !== type) continue;
    const { system, code } = r.category;
    allOf.push(tokenNot('category', system === undefined ? [{ code }] : [{ system, code }, { system: null, code }]));
  }
  // Plan rule 4: nothing that references a restricted resource (it would reveal it).
  if (plan.hideReferencesToHidden && plan.restrictions.length) {
    allOf.push({
      kind: 'notReferencingCategory',
      categories: plan.restrictions.map((r) => ({
        code: r.category.code,
        ...(r.category.system !== undefined ? { system: r.category.system } : {}),
        ...(r.resourceType !== undefined ? { resourceType: r.resourceType } : {}),
      })),
    });
  }
  // REL-2…6: documented holds, applied in the query so counts and paging agree (none to apply
  // when the patient has no hold item: the access epoch guards that fact).
  // A hold on a DiagnosticReport holds the results it names too.
  if (plan.holds.length) allOf.push({ kind: 'notHeld', holds: plan.holds, harmTypes: plan.harmTypes, ...(type === 'Observation' ? { viaReport: true } : {}) });
  // A Provenance whose every target is withheld would only say that they exist.
  if (type === 'Provenance') allOf.push({ kind: 'someTargetNotWithheld', param: 'target', withheld: withheldTargets(plan) });
  // REL-7: results are visible once released; non-result observations are unaffected.
  const releaseSets = releaseAlternatives(plan, type);
  const anyOf = scopeSets.flatMap((set) => releaseSets.map((alt) => [...set, ...alt]));
  return { anyOf, allOf };
}

/**
 * REL-4 and REL-7 for a result type: (not a result category, and not entered-in-error) or a
 * released status. A resource has one status, so a released status already excludes
 * entered-in-error: a result row costs two index probes (category, status), not three.
 */
function releaseAlternatives(plan: GrantedPlan, type: string): Filter[][] {
  if (!isResultType(type)) return [[]];
  const neverVisible = new Set(plan.neverVisibleStatuses);
  const released: Filter = { kind: 'token', param: 'status', values: plan.releasedStatuses[type].filter((code) => !neverVisible.has(code)).map((code) => ({ code })) };
  const categories = plan.resultCategories[type];
  if (categories === 'all') return [[released]];
  // A category recorded without a system counts as a result category (fail-closed, as decide.ts does).
  const codes = [...new Set(categories.map((c) => c.code))];
  const notResult = [tokenNot('category', [...categories.map((c) => ({ system: c.system, code: c.code })), ...codes.map((code) => ({ system: null, code }))])];
  if (neverVisible.size) notResult.push(tokenNot('status', [...neverVisible].map((code) => ({ code }))));
  return [notResult, [released]];
}

const RESULT_TYPES = ['Observation', 'DiagnosticReport'] as const;
const isResultType = (type: string): type is 'Observation' | 'DiagnosticReport' => type === 'Observation' || type === 'DiagnosticReport';

function scopeFilters(type: string, constraints: readonly { name: string; value: string }[]): Filter[] {
  // Parsed with the search grammar in strict mode: a constraint we cannot enforce grants nothing.
  try {
    return parseSearch(type, constraints.map((c) => [c.name, c.value]), { strict: true }).filters;
  } catch {
    return [{ kind: 'id', values: [] }];
  }
}

const tokenNot = (param: string, values: { system?: string | null; code: string }[]): Filter => ({ kind: 'token', param, not: true, values });

const hasStatus = (type: string): boolean => getSearchParam(type, 'status')?.type === 'token';
