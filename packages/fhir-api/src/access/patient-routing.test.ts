import { describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../outcomes/operation-outcome.js';
import { parseSearch } from '../search/parse-search.js';
import { searchRoute, type PatientRoute } from './patient-routing.js';

const COVERED = ['p1', 'kid', 'teen'];

const cases: [string, string, [string, string][], PatientRoute | 'PATIENT_REQUIRED'][] = [
  ['names a covered patient', 'Observation', [['patient', 'kid']], { kind: 'patient', patient: 'kid' }],
  ['names her as a reference', 'Observation', [['patient', 'Patient/teen'], ['category', 'laboratory']], { kind: 'patient', patient: 'teen' }],
  ['names the same patient twice', 'Observation', [['patient', 'kid,Patient/kid']], { kind: 'patient', patient: 'kid' }],
  ['names a covered and an uncovered patient', 'Observation', [['patient', 'kid,p2']], { kind: 'patient', patient: 'kid' }],
  ['names only an uncovered patient', 'Observation', [['patient', 'p2']], { kind: 'any' }],
  ['names two covered patients', 'Observation', [['patient', 'kid,teen']], 'PATIENT_REQUIRED'],
  ['names nobody', 'Observation', [['category', 'laboratory']], 'PATIENT_REQUIRED'],
  ['names nobody, by id', 'Condition', [['_id', 'c1']], 'PATIENT_REQUIRED'],
  ['the access log, naming nobody', 'AuditEvent', [], 'PATIENT_REQUIRED'],
  ['the access log of a covered patient', 'AuditEvent', [['patient', 'kid']], { kind: 'patient', patient: 'kid' }],
  ['Patient, naming nobody', 'Patient', [['name', 'Núñez']], { kind: 'each' }],
  ['Patient by one covered id', 'Patient', [['_id', 'teen']], { kind: 'patient', patient: 'teen' }],
  ['Patient by several covered ids', 'Patient', [['_id', 'teen,kid']], { kind: 'each' }],
  ['Patient by an uncovered id', 'Patient', [['_id', 'p2']], { kind: 'any' }],
  ['a shared type', 'Practitioner', [['name', 'Smith']], { kind: 'any' }],
  ['a shared type by id', 'Medication', [['_id', 'med1']], { kind: 'any' }],
];

describe('searchRoute: which covered patient a user-level token\'s search is answered for', () => {
  it.each(cases)('%s (%s)', (_name, type, pairs, expected) => {
    const filters = parseSearch(type, pairs).filters;
    if (expected === 'PATIENT_REQUIRED') {
      let thrown: unknown;
      try {
        searchRoute(type, filters, COVERED);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(OperationOutcomeError);
      expect([(thrown as OperationOutcomeError).code, (thrown as OperationOutcomeError).status]).toEqual(['PATIENT_REQUIRED', 400]);
    } else {
      expect(searchRoute(type, filters, COVERED)).toEqual(expected);
    }
  });
});
