import { describe, expect, test } from '@jest/globals';
import { isAbsoluteReference, normalizeReference } from './normalize.js';
import { parseSearch } from './parse-search.js';
import { SearchError } from './search-request.js';

const BASE = 'https://fhir.example.org/r4';

describe('normalizeReference: only this server\'s resources are local', () => {
  test.each<[string, string | undefined, string | undefined]>([
    ['Patient/p1', undefined, 'Patient/p1'],
    ['Patient/p1', BASE, 'Patient/p1'],
    [' Patient/p1 ', BASE, 'Patient/p1'],
    ['Patient/p1/_history/3', BASE, 'Patient/p1'],
    [`${BASE}/Patient/p1`, BASE, 'Patient/p1'],
    [`${BASE}/Observation/o.1-a/_history/2`, BASE, 'Observation/o.1-a'],
    // Another server's patient, even with the same id: never ours.
    ['https://other.example/fhir/Patient/p1', BASE, undefined],
    ['http://fhir.example.org/r4/Patient/p1', BASE, undefined],
    [`${BASE}/extra/Patient/p1`, BASE, undefined],
    [`${BASE}Patient/p1`, BASE, undefined],
    [`${BASE}/Patient/p1`, undefined, undefined],
    ['fhir/Patient/p1', BASE, undefined],
    ['urn:uuid:7a1d0000-0000-4000-8000-0000000000a1', BASE, undefined],
    ['#contained-1', BASE, undefined],
    ['Patient/p1/extra', BASE, undefined],
    ['patient/p1', BASE, undefined],
    ['Patient/', BASE, undefined],
    [`Patient/${'x'.repeat(65)}`, BASE, undefined],
  ])('%j (base %j) → %j', (ref, base, expected) => {
    expect(normalizeReference(ref, base)).toBe(expected);
  });

  test.each([
    ['https://other.example/fhir/Patient/p1', true],
    ['urn:uuid:7a1d', false],
    ['Patient/p1', false],
    ['HTTP://x/Patient/1', true],
  ])('isAbsoluteReference(%j) → %j', (ref, expected) => {
    expect(isAbsoluteReference(ref)).toBe(expected);
  });
});

describe('reference search parameters', () => {
  test('this server\'s absolute URL, Type/id and a bare id name the same patient', () => {
    for (const value of ['p1', 'Patient/p1', `${BASE}/Patient/p1`]) {
      expect(parseSearch('Observation', [['patient', value]], { fhirBaseUrl: BASE }).filters).toEqual(parseSearch('Observation', [['patient', 'Patient/p1']], { fhirBaseUrl: BASE }).filters);
    }
  });

  test('another server\'s URL is refused with what would match, not read as a local patient', () => {
    expect(() => parseSearch('Observation', [['patient', 'https://other.example/fhir/Patient/p1']], { fhirBaseUrl: BASE })).toThrow(SearchError);
    expect(() => parseSearch('Observation', [['patient', 'https://other.example/fhir/Patient/p1']], { fhirBaseUrl: BASE })).toThrow(`not on this server: only ${BASE}/Type/id or Type/id can match`);
  });
});
