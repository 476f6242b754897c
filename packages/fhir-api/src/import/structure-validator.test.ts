import { describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { generateDataset } from '../seed/index.js';
import { fullStructureErrors } from './validate-resource.js';
import { validateStructure } from './structure-validator.js';

const obs = (extra: Record<string, unknown> = {}) => ({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, ...extra });

describe('the import structure validator', () => {
  const valid: [string, Record<string, unknown>][] = [
    ['an Observation with a quantity and a reference range', obs({ valueQuantity: { value: 1.5, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' }, referenceRange: [{ low: { value: 1 } }] })],
    ['a Patient with primitive extensions (null placeholders in a primitive array)', {
      resourceType: 'Patient', id: 'p1', birthDate: '2020-02-29', gender: 'female',
      name: [{ given: ['Ann', null], _given: [null, { extension: [{ url: 'http://example.org/x', valueString: 'y' }] }] }],
      contact: [{ organization: { reference: 'Organization/o' } }],
      _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '2020-02-29T10:00:00Z' }] },
    }],
    ['a MedicationRequest whose required choice is given as a reference', { resourceType: 'MedicationRequest', id: 'm1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' }, medicationReference: { reference: 'Medication/x' } }],
    ['a Questionnaire with nested items (a content reference)', { resourceType: 'Questionnaire', id: 'q1', status: 'active', item: [{ linkId: 'a', type: 'group', item: [{ linkId: 'b', type: 'string' }] }] }],
    ['a Patient with a contained Organization', { resourceType: 'Patient', id: 'p2', contained: [{ resourceType: 'Organization', id: 'o', name: 'Clinic' }], managingOrganization: { reference: '#o' } }],
    ['a DocumentReference with base64 content', { resourceType: 'DocumentReference', id: 'd1', status: 'current', content: [{ attachment: { contentType: 'text/plain', data: 'aGVsbG8=' } }] }],
  ];
  test.each(valid)('valid: %s', (_name, resource) => {
    expect(validateStructure(resource)).toEqual([]);
    expect(fullStructureErrors(resource as unknown as Resource)).toEqual([]); // the fixture itself is valid R4
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['missing required element', { resourceType: 'Observation', id: 'o1', status: 'final' }, 'Observation.code: Missing required property'],
    ['missing required choice element', { resourceType: 'MedicationRequest', id: 'm1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' } }, 'MedicationRequest.medication: Missing required property'],
    ['unknown property', obs({ colour: 'red' }), 'Observation.colour: Invalid additional property "colour"'],
    ['unknown nested property', obs({ code: { text: 'x', label: 'y' } }), 'Observation.code.label: Invalid additional property "label"'],
    ['single value where an array is required', obs({ category: { text: 'lab' } }), 'Observation.category: Expected array of values for property'],
    ['array where a single value is required', obs({ subject: [{ reference: 'Patient/p1' }] }), 'Observation.subject: Expected single value for property'],
    ['wrong JSON type of a primitive', obs({ valueQuantity: { value: '1.5' } }), 'Observation.valueQuantity.value: Invalid JSON type: expected number, but got string'],
    ['object expected', obs({ code: 'x' }), 'Observation.code: Invalid JSON type: expected an object (CodeableConcept), but got string'],
    ['bad date format', obs({ effectiveDateTime: '01/02/2024' }), 'Observation.effectiveDateTime: Invalid dateTime format'],
    ['impossible calendar date', { resourceType: 'Patient', id: 'p1', birthDate: '2023-02-29' }, 'Patient.birthDate: Invalid date value (no such day)'],
    ['bad instant', obs({ issued: '2024-01-01' }), 'Observation.issued: Invalid instant format'],
    ['integer out of range', { resourceType: 'Patient', id: 'p1', multipleBirthInteger: 1.5 }, 'Patient.multipleBirthInteger: Expected number to be an integer'],
    ['code not in a required value set', obs({ status: 'done' }), 'Observation.status: "done" is not a code of the required value set'],
    ['code with two spaces in a row', obs({ code: { coding: [{ system: 'http://loinc.org', code: '1234  5' }] } }), 'Observation.code.coding[0].code: Invalid code format'],
    ['two choices of one element', obs({ valueString: 'a', valueBoolean: true }), 'Observation.valueBoolean: only one of value[x] may be present'],
    ['null value', obs({ issued: null }), 'Observation.issued: Invalid null value'],
    ['empty object', obs({ code: {} }), 'Observation.code: Invalid empty value'],
    ['empty array', obs({ category: [] }), 'Observation.category: Invalid empty value'],
    ['blank string', obs({ code: { text: '  ' } }), 'Observation.code.text: String must contain non-whitespace content'],
    ['base64Binary outside its alphabet', { resourceType: 'Patient', id: 'p1', photo: [{ data: 'not base64!' }] }, 'Patient.photo[0].data: Invalid base64Binary format'],
    ['ext-1: extension with neither value nor extensions', obs({ extension: [{ url: 'http://example.org/x' }] }), 'Observation.extension[0]: ext-1'],
    ['ext-1: extension with both', obs({ extension: [{ url: 'http://example.org/x', valueString: 'a', extension: [{ url: 'y', valueString: 'b' }] }] }), 'Observation.extension[0]: ext-1'],
    ['pat-1: contact without details', { resourceType: 'Patient', id: 'p1', contact: [{ gender: 'male' }] }, 'Patient.contact[0]: pat-1'],
    ['obs-6: value and dataAbsentReason', obs({ valueString: 'a', dataAbsentReason: { text: 'unknown' } }), 'Observation: obs-6'],
    ['qty-3: unit code without system', obs({ valueQuantity: { value: 1, code: 'mg' } }), 'Observation.valueQuantity: qty-3'],
    ['unknown resource type', { resourceType: 'Observaton', id: 'o1' }, 'resource: unknown resourceType "Observaton"'],
    ['contained resource checked as its own type', { resourceType: 'Patient', id: 'p1', contained: [{ resourceType: 'Observation', id: 'c' }] }, 'Patient.contained[0].status: Missing required property'],
    ['dom-4: contained resource with a version', { resourceType: 'Patient', id: 'p1', contained: [{ resourceType: 'Organization', id: 'o', name: 'x', meta: { versionId: '1' } }] }, 'Patient.contained[0]: dom-4'],
    ['Bundle entry checked as its resource type', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Observation', id: 'o', code: { text: 'x' } } }] }, 'Bundle.entry[0].resource.status: Missing required property'],
    ['backbone element', obs({ component: [{ valueString: 'a' }] }), 'Observation.component[0].code: Missing required property'],
    ['nested backbone via a content reference', { resourceType: 'Questionnaire', id: 'q', status: 'active', item: [{ linkId: 'a', type: 'group', item: [{ linkId: 'b', type: 'bogus' }] }] }, 'Questionnaire.item[0].item[0].type: "bogus" is not a code'],
  ];
  test.each(invalid)('invalid: %s', (_name, resource, expected) => {
    const errors = validateStructure(resource);
    expect(errors).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  test('every error the full validator finds in the invalid table (invariants aside) is found too', () => {
    for (const [name, resource] of invalid) {
      if (!resource.resourceType || resource.resourceType === 'Observaton') continue;
      if (fullStructureErrors(resource as unknown as Resource).length) expect([name, validateStructure(resource).length > 0]).toEqual([name, true]);
    }
  });

  test('the generated demo dataset passes, as it passes @medplum/core\'s validator', () => {
    const data = generateDataset({ patients: 5, now: new Date('2026-01-01T00:00:00Z') });
    const all = [...data.shared, ...data.patients.flatMap((p) => p.resources)];
    expect(all.length).toBeGreaterThan(500);
    expect(all.flatMap((r) => validateStructure(r).map((e) => `${r.resourceType}/${r.id} ${e}`))).toEqual([]);
  });
});
