/** FHIR R4 structure validation of an incoming resource (required elements, types, cardinality). */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../search/fhir-definitions.js';

export function structureErrors(resource: Resource): string[] {
  loadFhirDefinitions();
  try {
    validateResource(resource);
    return [];
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? [])
        .filter((i) => i.severity === 'error' || i.severity === 'fatal')
        .map((i) => `${i.expression?.join(', ') ?? resource.resourceType}: ${i.details?.text ?? i.diagnostics ?? 'invalid'}`);
    }
    return [err instanceof Error ? err.message : String(err)];
  }
}
