/** GET /fhir/metadata. It advertises only what works: resources appear as their routes land. */
import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { AppConfig } from '@patient-access/consent';

export function capabilityStatement(config: AppConfig): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-22',
    kind: 'instance',
    software: { name: 'patient-access', version: '0.1.0' },
    implementation: { description: 'Patient Access API', url: config.fhirBaseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [{ mode: 'server', resource: [] }],
  };
}
