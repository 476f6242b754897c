/**
 * Granular scope selection on the consent screen (ONC (g)(10) CCG, SMART App Launch 2 scopes with
 * query parameters): when an app asks for Condition or Observation as a whole, the person may
 * share only some categories instead. The choices are the ones the CCG names: Condition
 * (encounter diagnosis, problem list, health concern) and Observation (clinical test, laboratory,
 * social history, SDOH, survey, vital signs). A category scope is always narrower than the
 * resource-level scope it comes from, so offering it never lets the app get more than it asked.
 */
import { covers, formatScope, parseScope, type ResourceScope, type Scope } from '@patient-access/consent';

const CONDITION = 'http://terminology.hl7.org/CodeSystem/condition-category';
const US_CORE_CONDITION = 'http://hl7.org/fhir/us/core/CodeSystem/condition-category';
const OBSERVATION = 'http://terminology.hl7.org/CodeSystem/observation-category';
const US_CORE_CATEGORY = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category';

const CATEGORIES: Readonly<Record<string, readonly { system: string; code: string; label: string }[]>> = {
  Condition: [
    { system: CONDITION, code: 'encounter-diagnosis', label: 'Conditions: only diagnoses from visits' },
    { system: CONDITION, code: 'problem-list-item', label: 'Conditions: only the problem list' },
    { system: US_CORE_CONDITION, code: 'health-concern', label: 'Conditions: only health concerns' },
  ],
  Observation: [
    { system: OBSERVATION, code: 'clinical-test', label: 'Observations: only clinical tests' },
    { system: OBSERVATION, code: 'laboratory', label: 'Observations: only laboratory results' },
    { system: OBSERVATION, code: 'social-history', label: 'Observations: only social history' },
    { system: US_CORE_CATEGORY, code: 'sdoh', label: 'Observations: only social needs (SDOH)' },
    { system: OBSERVATION, code: 'survey', label: 'Observations: only surveys and questionnaires' },
    { system: OBSERVATION, code: 'vital-signs', label: 'Observations: only vital signs' },
  ],
};

export interface SubScope {
  scope: string;
  label: string;
}

/** The category scopes the person may choose instead of `raw` (none for other types or constrained scopes). */
export function subScopesOf(raw: string): SubScope[] {
  let scope: Scope;
  try {
    scope = parseScope(raw);
  } catch {
    return [];
  }
  if (scope.kind !== 'resource' || scope.query.length > 0 || scope.context === 'system') return [];
  const choices = CATEGORIES[scope.resourceType];
  const permissions = [...scope.permissions].filter((l) => l === 'r' || l === 's').join('');
  if (!choices || !permissions) return [];
  return choices.map((c) => {
    const sub: ResourceScope = { kind: 'resource', context: scope.context, resourceType: scope.resourceType, permissions, query: [{ name: 'category', value: `${c.system}|${c.code}` }], version: 2 };
    return { scope: formatScope(sub), label: c.label };
  });
}

/**
 * What the person granted, from what the app asked and what the form says: scopes that cannot be
 * unticked (launch, identity) always; every other requested scope and every offered category
 * scope only when ticked; anything else in the form is ignored (the form is not trusted). A scope
 * covered by another granted one is dropped, so ticking both a resource and one of its categories
 * grants the resource once.
 */
export function grantedScopes(requested: readonly string[], ticked: ReadonlySet<string>, optional: (scope: string) => boolean): string[] {
  const offered = [...requested, ...requested.flatMap((s) => subScopesOf(s).map((x) => x.scope))];
  const granted = [...new Set(offered.filter((s) => !optional(s) || ticked.has(s)))];
  const parsed = new Map(granted.map((s) => [s, parseScope(s)] as const));
  return granted.filter((s) => !granted.some((other) => other !== s && !sameMeaning(other, s, parsed) && covers(parsed.get(other)!, parsed.get(s)!)));
}

function sameMeaning(a: string, b: string, parsed: ReadonlyMap<string, Scope>): boolean {
  const x = parsed.get(a)!;
  const y = parsed.get(b)!;
  return covers(x, y) && covers(y, x);
}
