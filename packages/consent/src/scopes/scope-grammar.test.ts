import { describe, expect, test } from '@jest/globals';
import { covers, formatScopes, grantFor, intersectScopes, readOnly } from './scope-access.js';
import { ScopeSyntaxError, formatScope, parseScope, parseScopes, type Scope, type ScopeErrorCode } from './scope-grammar.js';

const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';

// [scope, context, type, permissions, version, query, canonical form]
const VALID: [string, string, string, string, 1 | 2, [string, string][], string?][] = [
  ['patient/*.read', 'patient', '*', 'rs', 1, []],
  ['patient/*.write', 'patient', '*', 'cud', 1, []],
  ['patient/*.*', 'patient', '*', 'cruds', 1, []],
  ['user/*.read', 'user', '*', 'rs', 1, []],
  ['system/*.read', 'system', '*', 'rs', 1, []],
  ['patient/Observation.read', 'patient', 'Observation', 'rs', 1, []],
  ['patient/Patient.read', 'patient', 'Patient', 'rs', 1, []],
  ['user/Practitioner.read', 'user', 'Practitioner', 'rs', 1, []],
  ['patient/MedicationRequest.write', 'patient', 'MedicationRequest', 'cud', 1, []],
  ['user/Encounter.*', 'user', 'Encounter', 'cruds', 1, []],
  ['patient/*.rs', 'patient', '*', 'rs', 2, []],
  ['patient/*.r', 'patient', '*', 'r', 2, []],
  ['patient/*.s', 'patient', '*', 's', 2, []],
  ['patient/*.cruds', 'patient', '*', 'cruds', 2, []],
  ['patient/*.c', 'patient', '*', 'c', 2, []],
  ['patient/*.cu', 'patient', '*', 'cu', 2, []],
  ['patient/*.ud', 'patient', '*', 'ud', 2, []],
  ['patient/*.rus', 'patient', '*', 'rus', 2, []],
  ['patient/*.cd', 'patient', '*', 'cd', 2, []],
  ['user/*.rs', 'user', '*', 'rs', 2, []],
  ['system/*.rs', 'system', '*', 'rs', 2, []],
  ['system/Patient.rs', 'system', 'Patient', 'rs', 2, []],
  ['patient/Observation.rs', 'patient', 'Observation', 'rs', 2, []],
  ['patient/Condition.r', 'patient', 'Condition', 'r', 2, []],
  ['patient/DiagnosticReport.s', 'patient', 'DiagnosticReport', 's', 2, []],
  ['user/AllergyIntolerance.crud', 'user', 'AllergyIntolerance', 'crud', 2, []],
  ['patient/ExplanationOfBenefit.rs', 'patient', 'ExplanationOfBenefit', 'rs', 2, []],
  [`patient/Observation.rs?category=${LAB}`, 'patient', 'Observation', 'rs', 2, [['category', LAB]]],
  ['patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs', 'patient', 'Observation', 'rs', 2,
    [['category', 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs']]],
  ['patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis', 'patient', 'Condition', 'rs', 2,
    [['category', 'http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis']]],
  ['patient/Condition.rs?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern', 'patient', 'Condition', 'rs', 2,
    [['category', 'http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern']]],
  ['patient/Observation.rs?category=laboratory', 'patient', 'Observation', 'rs', 2, [['category', 'laboratory']]],
  ['patient/Observation.rs?category=laboratory&status=final', 'patient', 'Observation', 'rs', 2, [['category', 'laboratory'], ['status', 'final']]],
  ['patient/Observation.s?code=http://loinc.org|2339-0', 'patient', 'Observation', 's', 2, [['code', 'http://loinc.org|2339-0']]],
  ['patient/Observation.rs?category=%7Claboratory', 'patient', 'Observation', 'rs', 2, [['category', '|laboratory']], 'patient/Observation.rs?category=|laboratory'],
  ['patient/Observation.rs?code%3Atext=glucose', 'patient', 'Observation', 'rs', 2, [['code:text', 'glucose']], 'patient/Observation.rs?code:text=glucose'],
  ['patient/Observation.rs?category=a%26b', 'patient', 'Observation', 'rs', 2, [['category', 'a&b']]],
  ['patient/Observation.rs?category=a%3Db', 'patient', 'Observation', 'rs', 2, [['category', 'a=b']]],
  ['patient/DocumentReference.rs?category=http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category|clinical-note', 'patient', 'DocumentReference', 'rs', 2,
    [['category', 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category|clinical-note']]],
  ['user/Observation.rs?patient=123', 'user', 'Observation', 'rs', 2, [['patient', '123']]],
];

const FIXED = ['launch', 'launch/patient', 'launch/encounter', 'openid', 'fhirUser', 'profile', 'offline_access', 'online_access'];

const INVALID: [string, ScopeErrorCode][] = [
  ['', 'empty'],
  ['email', 'unknown-scope'],
  ['address', 'unknown-scope'],
  ['phone', 'unknown-scope'],
  ['fhiruser', 'unknown-scope'],
  ['OpenID', 'unknown-scope'],
  ['offline-access', 'unknown-scope'],
  ['launch/practitioner', 'unknown-scope'],
  ['launch/', 'unknown-scope'],
  ['patient/*.read"', 'unknown-scope'],
  ['patient/*.re\\ad', 'unknown-scope'],
  ['patients/*.read', 'bad-context'],
  ['Patient/*.read', 'bad-context'],
  ['admin/*.read', 'bad-context'],
  ['/*.read', 'bad-context'],
  ['patient*.read', 'unknown-scope'],
  ['patient/*', 'bad-permissions'],
  ['patient/Observation', 'bad-permissions'],
  ['patient/.read', 'bad-resource-type'],
  ['patient/observation.read', 'bad-resource-type'],
  ['patient/Obs3rvation.rs', 'bad-resource-type'],
  ['patient/Observation*.read', 'bad-resource-type'],
  ['patient/**.read', 'bad-resource-type'],
  ['patient/Observation.', 'bad-permissions'],
  ['patient/Observation.reads', 'bad-permissions'],
  ['patient/Observation.Read', 'bad-permissions'],
  ['patient/Observation.READ', 'bad-permissions'],
  ['patient/Observation.x', 'bad-permissions'],
  ['patient/Observation.rw', 'bad-permissions'],
  ['patient/Observation.sr', 'permission-order'],
  ['patient/Observation.rr', 'permission-order'],
  ['patient/Observation.sdurc', 'permission-order'],
  ['patient/Observation.rsr', 'permission-order'],
  ['patient/Observation.dc', 'permission-order'],
  ['patient/Observation.read?category=laboratory', 'v1-query'],
  ['patient/Observation.*?category=laboratory', 'v1-query'],
  ['patient/Observation.rs?', 'bad-query'],
  ['patient/Observation.rs?category', 'bad-query'],
  ['patient/Observation.rs?category=', 'bad-query'],
  ['patient/Observation.rs?=laboratory', 'bad-query'],
  ['patient/Observation.rs?category=laboratory&', 'bad-query'],
  ['patient/Observation.rs?category=%E0%A4%A', 'bad-query'],
  ['patient/Observation.rs?_id=1', 'bad-query'],
  ['patient/Observation.rs?1category=x', 'bad-query'],
  ['patient/*.rs?category=laboratory', 'wildcard-query'],
];

describe('parseScope: valid scopes', () => {
  // Rows as one argument: jest would pass `done` where a row omits the optional canonical form.
  test.each(VALID.map((row) => ({ raw: row[0], row })))('$raw', ({ row: [raw, context, resourceType, permissions, version, query, canonical] }) => {
    const scope = parseScope(raw);
    expect(scope).toEqual({ kind: 'resource', context, resourceType, permissions, version, query: query.map(([name, value]) => ({ name, value })) });
    expect(formatScope(scope)).toBe(canonical ?? raw);
    // Printing then parsing again gives the same value.
    expect(parseScope(formatScope(scope))).toEqual(scope);
  });

  test.each(FIXED)('%s', (raw) => {
    expect(parseScope(raw)).toEqual({ kind: 'fixed', name: raw });
    expect(formatScope(parseScope(raw))).toBe(raw);
  });
});

describe('parseScope: invalid forms are typed errors, never a wider scope', () => {
  test.each(INVALID)('%j → %s', (raw, code) => {
    let error: unknown;
    try {
      parseScope(raw);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ScopeSyntaxError);
    expect((error as ScopeSyntaxError).code).toBe(code);
  });
});

describe('parseScopes', () => {
  test('splits on any whitespace, keeps valid scopes once, reports the rest', () => {
    const { scopes, invalid } = parseScopes('  launch/patient openid\tfhirUser\npatient/*.read patient/*.read email patient/Observation.sr ');
    expect(scopes.map(formatScope)).toEqual(['launch/patient', 'openid', 'fhirUser', 'patient/*.read']);
    expect(invalid.map((e) => [e.scope, e.code])).toEqual([['email', 'unknown-scope'], ['patient/Observation.sr', 'permission-order']]);
  });

  test.each([undefined, '', '   '])('%j has no scopes', (text) => {
    expect(parseScopes(text)).toEqual({ scopes: [], invalid: [] });
  });
});

const p = (raw: string): Scope => parseScope(raw);

// [requested scope, what this read-only server grants (null = nothing)]
const READ_ONLY: [string, string | null][] = [
  ['patient/*.read', 'patient/*.read'],
  ['patient/*.write', null],
  ['patient/*.*', 'patient/*.read'],
  ['patient/*.cruds', 'patient/*.rs'],
  ['patient/*.cud', null],
  ['patient/*.c', null],
  ['patient/*.r', 'patient/*.r'],
  ['patient/*.s', 'patient/*.s'],
  ['patient/*.ds', 'patient/*.s'],
  ['patient/*.cr', 'patient/*.r'],
  ['user/Observation.crud', 'user/Observation.r'],
  [`patient/Observation.cruds?category=${LAB}`, `patient/Observation.rs?category=${LAB}`],
  ['openid', 'openid'],
  ['offline_access', 'offline_access'],
];

describe('readOnly: c, u and d are never granted', () => {
  test.each(READ_ONLY)('%s → %s', (raw, expected) => {
    const granted = readOnly(p(raw));
    expect(granted === null ? null : formatScope(granted)).toBe(expected);
  });
});

// [granted, requested, covered]
const COVERS: [string, string, boolean][] = [
  ['patient/*.rs', 'patient/Observation.rs', true],
  ['patient/*.rs', 'patient/Observation.r', true],
  ['patient/*.read', 'patient/Observation.rs', true],
  ['patient/*.rs', 'patient/*.read', true],
  ['patient/Observation.rs', 'patient/*.rs', false],
  ['patient/Observation.rs', 'patient/Condition.rs', false],
  ['patient/Observation.r', 'patient/Observation.rs', false],
  ['patient/*.rs', 'user/*.rs', false],
  ['user/*.rs', 'patient/*.rs', false],
  ['patient/Observation.rs', `patient/Observation.rs?category=${LAB}`, true],
  [`patient/Observation.rs?category=${LAB}`, 'patient/Observation.rs', false],
  [`patient/Observation.rs?category=${LAB}`, `patient/Observation.rs?category=${LAB}`, true],
  [`patient/Observation.rs?category=${LAB}`, `patient/Observation.rs?category=${LAB}&status=final`, true],
  [`patient/Observation.rs?category=${LAB}`, 'patient/Observation.rs?category=vital-signs', false],
  ['openid', 'openid', true],
  ['openid', 'fhirUser', false],
  ['patient/*.rs', 'openid', false],
  ['offline_access', 'online_access', false],
];

describe('covers: refresh may narrow, never widen', () => {
  test.each(COVERS)('%s covers %s: %s', (granted, requested, expected) => {
    expect(covers(p(granted), p(requested))).toBe(expected);
  });
});

// [granted scopes, type, interaction, expected grant]
const GRANTS: [string, string, 'read' | 'search', unknown][] = [
  ['patient/*.read', 'Observation', 'read', { kind: 'all' }],
  ['patient/*.read', 'Observation', 'search', { kind: 'all' }],
  ['patient/*.r', 'Observation', 'search', { kind: 'none' }],
  ['patient/*.s', 'Observation', 'read', { kind: 'none' }],
  ['patient/Condition.rs', 'Observation', 'search', { kind: 'none' }],
  ['patient/Observation.rs?category=laboratory', 'Observation', 'search', { kind: 'constrained', anyOf: [[{ name: 'category', value: 'laboratory' }]] }],
  ['patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs', 'Observation', 'search',
    { kind: 'constrained', anyOf: [[{ name: 'category', value: 'laboratory' }], [{ name: 'category', value: 'vital-signs' }]] }],
  // API-5: v1 and v2 together grant the union: the unconstrained v1 scope wins.
  ['patient/Observation.rs?category=laboratory patient/Observation.read', 'Observation', 'search', { kind: 'all' }],
  ['patient/Observation.rs?category=laboratory patient/*.read', 'Observation', 'read', { kind: 'all' }],
  ['patient/Observation.rs?category=laboratory patient/Condition.read', 'Condition', 'read', { kind: 'all' }],
  ['patient/Observation.rs?category=laboratory patient/Condition.read', 'Patient', 'read', { kind: 'none' }],
  ['system/*.rs', 'Observation', 'read', { kind: 'none' }],
  ['user/*.rs', 'Observation', 'read', { kind: 'all' }],
  ['openid fhirUser launch/patient', 'Patient', 'read', { kind: 'none' }],
];

describe('grantFor: the union of what each scope grants (API-5)', () => {
  test.each(GRANTS)('%s → %s %s', (text, type, interaction, expected) => {
    expect(grantFor(parseScopes(text).scopes, ['patient', 'user'], type, interaction)).toEqual(expected);
  });
});

test('formatScopes prints canonical, de-duplicated scope strings', () => {
  expect(formatScopes([p('patient/*.read'), p('openid'), p('patient/*.read')])).toBe('patient/*.read openid');
});

// [a, b, what both allow] (a token's scopes and its narrowed grant)
const INTERSECTIONS: [string, string, string][] = [
  ['patient/*.rs', 'patient/*.rs', 'patient/*.rs'],
  ['patient/*.rs', 'patient/Observation.rs', 'patient/Observation.rs'],
  ['patient/Observation.rs', 'patient/*.rs', 'patient/Observation.rs'],
  ['patient/*.rs', 'patient/Observation.rs patient/Condition.rs', 'patient/Observation.rs patient/Condition.rs'],
  ['patient/Observation.rs', 'patient/Condition.rs', ''],
  ['patient/*.rs', 'patient/Observation.r', 'patient/Observation.r'],
  ['patient/*.s', 'patient/Observation.r', ''],
  ['patient/*.rs', 'user/*.rs', ''],
  ['patient/Observation.rs', 'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
    'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory'],
  ['patient/Observation.rs?category=laboratory', 'patient/Observation.rs?category=vital-signs', 'patient/Observation.rs?category=laboratory&category=vital-signs'],
  ['patient/Observation.read', 'patient/*.read', 'patient/Observation.read'],
  ['patient/Observation.read', 'patient/*.rs', 'patient/Observation.rs'],
  ['openid fhirUser launch/patient patient/*.rs', 'launch/patient patient/Patient.rs', 'launch/patient patient/Patient.rs'],
  ['offline_access patient/*.rs', 'patient/*.rs', 'patient/*.rs'],
  ['patient/*.rs', 'patient/*.rs patient/Observation.rs', 'patient/*.rs'],
];

describe('intersectScopes: never more than either set allows', () => {
  test.each(INTERSECTIONS)('%s ∩ %s = %s', (a, b, expected) => {
    const both = intersectScopes(parseScopes(a).scopes, parseScopes(b).scopes);
    expect(formatScopes(both)).toBe(expected);
    // Each result is covered by both inputs.
    for (const s of both) {
      expect(parseScopes(a).scopes.some((x) => covers(x, s))).toBe(true);
      expect(parseScopes(b).scopes.some((x) => covers(x, s))).toBe(true);
    }
  });
});
