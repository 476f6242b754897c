import { describe, expect, test } from '@jest/globals';
import { negotiateFormat } from './content-negotiation.js';

describe('negotiateFormat (FHIR R4 http.html#mime-type)', () => {
  const cases: [accept: string | undefined, format: string | undefined, ok: boolean][] = [
    // No preference: JSON.
    [undefined, undefined, true],
    ['', undefined, true],
    ['*/*', undefined, true],
    ['application/*', undefined, true],
    // The FHIR JSON types, with R4's version parameter or none, and charset.
    ['application/fhir+json', undefined, true],
    ['application/json', undefined, true],
    ['application/json+fhir', undefined, true],
    ['application/fhir+json; fhirVersion=4.0', undefined, true],
    ['application/fhir+json;fhirVersion="4.0.1"', undefined, true],
    ['Application/FHIR+JSON; charset=utf-8', undefined, true],
    // A browser's header: JSON through */*.
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', undefined, true],
    // A list with JSON anywhere in it.
    ['application/fhir+xml, application/fhir+json;q=0.5', undefined, true],
    // What we do not serve.
    ['application/fhir+xml', undefined, false],
    ['application/xml, text/xml', undefined, false],
    ['text/turtle', undefined, false],
    ['text/html', undefined, false],
    ['text/*', undefined, false],
    // JSON of another FHIR version.
    ['application/fhir+json; fhirVersion=3.0', undefined, false],
    ['application/fhir+json; fhirVersion=5.0', undefined, false],
    // q=0 refuses; a q that is not a number is not an acceptance.
    ['application/fhir+json;q=0', undefined, false],
    ['application/fhir+json;q=0, application/fhir+xml', undefined, false],
    ['*/*;q=0', undefined, false],
    ['application/fhir+json;q=abc', undefined, false],
    // Empty list members are skipped.
    [' , application/fhir+json', undefined, true],
    // _format overrides Accept, either way.
    ['application/fhir+xml', 'json', true],
    ['application/fhir+xml', 'application/fhir+json', true],
    [undefined, 'application/json', true],
    [undefined, 'application/json+fhir', true],
    [undefined, 'application/fhir+json;fhirVersion=4.0', true],
    ['application/fhir+json', 'xml', false],
    [undefined, 'application/fhir+xml', false],
    [undefined, 'text/xml', false],
    [undefined, 'ttl', false],
    [undefined, 'html', false],
    [undefined, '', false],
    [undefined, 'application/fhir+json;fhirVersion=3.0', false],
  ];
  test.each(cases)('Accept %p, _format %p → %p', (accept, format, ok) => {
    expect(negotiateFormat(accept, format).ok).toBe(ok);
  });

  test('a refusal says what is served and echoes nothing from the request', () => {
    const refused = negotiateFormat(undefined, 'xml<script>');
    expect(refused).toEqual({ ok: false, reason: expect.stringContaining('application/fhir+json') });
    expect(JSON.stringify(refused)).not.toContain('script');
  });
});
