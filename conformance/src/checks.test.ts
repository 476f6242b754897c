import { describe, expect, test } from '@jest/globals';
import {
  contentTypeProblem,
  corsProblem,
  headerProblem,
  identifyingStrings,
  phiLeaks,
  referenceParts,
  requiredFieldProblems,
  sameScopeSet,
  scopeList,
  statusProblem,
} from './checks.js';
import { AssertionFailure } from './runner.js';
import { must } from './checks.js';

describe('check helpers', () => {
  test('status', () => {
    expect(statusProblem({ status: 200 }, 200)).toBeUndefined();
    expect(statusProblem({ status: 403 }, [401, 403])).toBeUndefined();
    expect(statusProblem({ status: 200 }, [401, 403], 'read')).toBe('read: expected HTTP 401 or 403, got 200');
  });
  test('headers, content type and CORS', () => {
    const h = new Headers({ 'cache-control': 'no-cache, No-Store', 'content-type': 'application/json; charset=utf-8', 'access-control-allow-origin': 'https://app' });
    expect(headerProblem(h, 'cache-control', 'no-store')).toBeUndefined();
    expect(headerProblem(h, 'pragma', 'no-cache')).toMatch(/missing/);
    expect(headerProblem(new Headers({ 'cache-control': 'max-age=60' }), 'cache-control', 'no-store')).toMatch(/max-age=60/);
    expect(contentTypeProblem(h, 'application/json')).toBeUndefined();
    expect(contentTypeProblem(new Headers({ 'content-type': 'text/html' }), 'application/json')).toMatch(/text\/html/);
    expect(corsProblem(h, 'https://app')).toBeUndefined();
    expect(corsProblem(new Headers({ 'access-control-allow-origin': '*' }), 'https://x')).toBeUndefined();
    expect(corsProblem(h, 'https://other')).toMatch(/expected/);
    expect(corsProblem(new Headers(), 'https://app')).toMatch(/missing/);
  });
  test('required fields: present, non-blank, typed', () => {
    expect(requiredFieldProblems({ a: 'x', b: [1], c: 3 }, { a: 'string', b: 'array', c: 'number' })).toEqual([]);
    expect(requiredFieldProblems({ a: ' ', b: [], c: '3' }, { a: 'string', b: 'array', c: 'number', d: 'object' })).toEqual([
      'a is blank',
      'b is blank',
      'c should be a number, is a string',
      'd is missing',
    ]);
  });
  test('scope sets are order-insensitive', () => {
    expect(scopeList(' openid  fhirUser ')).toEqual(['openid', 'fhirUser']);
    expect(sameScopeSet(['a', 'b'], ['b', 'a'])).toBe(true);
    expect(sameScopeSet(['a', 'b'], ['a'])).toBe(false);
    expect(scopeList(undefined)).toEqual([]);
  });
  test('references: relative, absolute, versioned', () => {
    expect(referenceParts('Patient/123')).toEqual({ type: 'Patient', id: '123' });
    expect(referenceParts('http://x/fhir/Observation/o-1/_history/2')).toEqual({ type: 'Observation', id: 'o-1' });
    expect(referenceParts('#contained')).toBeUndefined();
    expect(referenceParts('urn:uuid:1234')).toBeUndefined();
  });
  test('PHI: identifying strings and leaks', () => {
    const patient = { name: [{ family: 'Lopez', given: ['Sofia', 'M'] }], birthDate: '2018-05-01', identifier: [{ value: '1000002' }], telecom: [{ value: '413-555-0142' }] };
    const strings = identifyingStrings(patient);
    expect(strings).toEqual(expect.arrayContaining(['Lopez', 'Sofia', '2018-05-01', '1000002', '413-555-0142']));
    expect(strings).not.toContain('M');
    expect(phiLeaks('{"diagnostics":"Patient LOPEZ not found"}', strings)).toEqual(['Lopez']);
    expect(phiLeaks('{"diagnostics":"not found"}', strings)).toEqual([]);
  });
  test('must throws an AssertionFailure with the problem', () => {
    expect(() => must('broken')).toThrow(AssertionFailure);
    expect(() => must(undefined)).not.toThrow();
  });
});
