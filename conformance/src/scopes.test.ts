import { describe, expect, test } from '@jest/globals';
import { allows, grantsType, parseClinicalScope, resourceMatchesScope } from './scopes.js';
import { g10ScopeProblems } from './groups/launch.js';
import { tokenBodyCheck, fhirUserParts, idTokenHeaderProblems } from './tokens.js';

describe('SMART scopes', () => {
  test('v1 and v2 forms, queries, wildcards', () => {
    expect(parseClinicalScope('patient/Observation.read')).toMatchObject({ context: 'patient', type: 'Observation', letters: 'rs', version: 1 });
    expect(parseClinicalScope('user/*.rs')).toMatchObject({ context: 'user', type: '*', letters: 'rs', version: 2 });
    expect(parseClinicalScope('patient/Condition.rs?category=http://x|problem-list-item')?.query).toEqual([['category', 'http://x|problem-list-item']]);
    expect(parseClinicalScope('patient/Observation.sr')).toBeUndefined();
    expect(parseClinicalScope('openid')).toBeUndefined();
  });
  test('what a scope list allows', () => {
    expect(allows(['patient/*.rs'], 'Condition', 'r')).toBe(true);
    expect(allows(['patient/Condition.s'], 'Condition', 'r')).toBe(false);
    expect(allows(['patient/Condition.rs?category=x'], 'Condition', 's')).toBe(false);
    expect(grantsType(['user/Practitioner.read'], 'Practitioner', ['patient', 'user'])).toBe(true);
    expect(grantsType(['user/Practitioner.read'], 'Practitioner')).toBe(false);
  });
  test('a resource matches a granular scope by system|code', () => {
    const s = parseClinicalScope('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory')!;
    const lab = { resourceType: 'Observation', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }] };
    const vital = { resourceType: 'Observation', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }] };
    expect(resourceMatchesScope(lab, s)).toBe(true);
    expect(resourceMatchesScope(vital, s)).toBe(false);
    expect(resourceMatchesScope({ ...lab, resourceType: 'Condition' }, s)).toBe(false);
  });
  test('g10_smart_scopes: required scopes and compartment coverage', () => {
    const requested = ['launch/patient', 'openid', 'fhirUser', 'offline_access', 'patient/*.rs'];
    expect(g10ScopeProblems(requested, requested, 'patient')).toEqual([]);
    const problems = g10ScopeProblems(requested, ['launch/patient', 'openid', 'fhirUser', 'patient/Patient.rs'], 'patient');
    expect(problems[0]).toBe('offline_access was not granted');
    expect(problems[1]).toMatch(/^Request scopes patient\/AllergyIntolerance.*were not granted by authorization server\.$/);
    expect(g10ScopeProblems([...requested.slice(0, 4), 'patient/Patient.read'], requested, 'patient')).toEqual(['requested scope patient/Patient.read is not a v2 scope']);
  });
});

describe('token response checks', () => {
  test('required fields, bearer, types', () => {
    expect(tokenBodyCheck({ access_token: 'a', token_type: 'bearer', expires_in: 3600, scope: 'openid' }, ['openid']).problems).toEqual([]);
    const { problems, warnings } = tokenBodyCheck({ access_token: 'a', token_type: 'mac', expires_in: '3600', scope: 'openid' }, ['openid', 'fhirUser']);
    expect(problems).toEqual(['expires_in is not a number', 'token_type is "mac", not Bearer']);
    expect(warnings).toEqual(['requested scopes not granted: fhirUser']);
  });
  test('a refresh may not widen the scopes', () => {
    expect(tokenBodyCheck({ access_token: 'a', token_type: 'Bearer', expires_in: 1, scope: 'openid patient/*.rs' }, [], ['openid']).problems).toEqual([
      'the refresh granted scopes not granted before: patient/*.rs',
    ]);
  });
  test('fhirContext shapes (STU 2.2)', () => {
    const base = { access_token: 'a', token_type: 'Bearer', expires_in: 1, scope: 's' };
    expect(tokenBodyCheck({ ...base, fhirContext: [{ reference: 'Encounter/e1' }, { canonical: 'http://x/Questionnaire/q|1' }, { identifier: {} }] }, []).problems).toEqual([]);
    expect(tokenBodyCheck({ ...base, fhirContext: ['Encounter/e1', { reference: 'http://x/Encounter/1' }, {}] }, []).problems).toHaveLength(3);
  });
  test('fhirUser and id_token header rules', () => {
    expect(fhirUserParts('http://x/fhir/Patient/p1')).toEqual({ type: 'Patient', id: 'p1' });
    expect(fhirUserParts('http://x/fhir/Group/g')).toBeUndefined();
    const keys = [{ kty: 'RSA', kid: 'a' }, { kty: 'RSA', kid: 'b' }];
    expect(idTokenHeaderProblems({ alg: 'RS256', kid: 'b' }, keys).problems).toEqual([]);
    expect(idTokenHeaderProblems({ alg: 'RS256' }, keys).problems).toEqual(['kid is missing although the JWKS has several RSA keys']);
    expect(idTokenHeaderProblems({ alg: 'ES256' }, [keys[0]!]).problems).toEqual(['alg is ES256, not RS256']);
  });
});
