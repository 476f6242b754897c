import { describe, expect, test } from '@jest/globals';
import { ConfigError, parseInputs, routeToPatient, standaloneAccount, usCorePatients } from './config.js';
import { parseArgs } from './cli.js';

const demo = {
  fhirBaseUrl: 'http://localhost:8080/fhir/',
  accounts: [
    { username: 'maria', password: 'p', totpSecret: 'S', fhirUser: 'Patient/parent', patientId: 'parent', actsFor: [{ patientId: 'child' }, { patientId: 'teen' }] },
    { username: 'mateo', password: 'p', totpSecret: 'S', fhirUser: 'Patient/teen', patientId: 'teen', actsFor: [] },
    { username: 'john', password: 'p', totpSecret: 'S', fhirUser: 'Patient/john', patientId: 'john', actsFor: [] },
    { username: 'dr', password: 'p', totpSecret: 'S', fhirUser: 'Practitioner/prac-1', actsFor: [] },
  ],
};
const overrides = { usCorePackage: '/x.tgz', app: { redirectUri: 'http://127.0.0.1:1/r', launchUri: 'http://127.0.0.1:1/l', origin: 'http://127.0.0.1:1' } };

describe('inputs', () => {
  test('the demo accounts file is a valid input', () => {
    const inputs = parseInputs(demo, overrides);
    expect(inputs.fhirBaseUrl).toBe('http://localhost:8080/fhir');
    expect(inputs.redirectUri).toBe('http://127.0.0.1:1/r');
    expect(inputs.limitedResources).toEqual(['Patient', 'Condition', 'Observation']);
    expect(standaloneAccount(inputs)?.username).toBe('john');
    expect(usCorePatients(inputs)).toEqual(['john', 'parent', 'teen', 'child']);
  });
  test('routes to a patient: self, proxy, or an EHR launch by the practitioner', () => {
    const inputs = parseInputs(demo, overrides);
    expect(routeToPatient(inputs, 'teen')).toMatchObject({ kind: 'self', account: { username: 'mateo' } });
    expect(routeToPatient(inputs, 'child')).toMatchObject({ kind: 'proxy', account: { username: 'maria' } });
    expect(routeToPatient(inputs, 'other')).toMatchObject({ kind: 'ehr', account: { username: 'dr' } });
  });
  test('problems name the field', () => {
    expect(() => parseInputs({ accounts: [] }, overrides)).toThrow(ConfigError);
    expect(() => parseInputs({ fhirBaseUrl: 'http://x', accounts: [{ username: 'a' }] }, overrides)).toThrow('accounts[0].password must be a non-empty string');
    expect(() => parseInputs({ ...demo, standaloneUsername: 'nobody' }, overrides)).toThrow('"nobody" is not one of the accounts');
  });
  test('command line', () => {
    expect(parseArgs(['--fhir-base', 'http://x/fhir', '--config=in.json', '--group', 'discovery,uscore', '--no-screenshots'], {})).toMatchObject({
      fhirBase: 'http://x/fhir',
      config: 'in.json',
      groups: ['discovery', 'uscore'],
      screenshots: false,
      out: 'conformance-report',
    });
    expect(() => parseArgs(['--bogus'], {})).toThrow(/unknown argument/);
  });
});
