/**
 * Which patients' compartments a resource belongs to (R4 CompartmentDefinition/patient), computed
 * at write time and stored as the first column of every PHI row's key.
 */
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { normalizeReference } from '../search/normalize.js';
import { compartmentPaths } from '../search/registry.js';

/** Patient ids from the compartment paths. Provenance is resolved by the writer from its targets. */
export function compartmentPatients(resource: Resource, fhirBaseUrl?: string): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [resource.id] : [];
  const ids = new Set<string>();
  const input = [toTypedValue(resource)];
  for (const atom of compartmentPaths(resource.resourceType)) {
    let values;
    try {
      values = evalFhirPathTyped(atom, input);
    } catch {
      continue;
    }
    for (const v of values) {
      const ref = (v.value as { reference?: string } | undefined)?.reference;
      const norm = ref ? normalizeReference(ref, fhirBaseUrl) : undefined;
      if (norm?.startsWith('Patient/')) ids.add(norm.slice('Patient/'.length));
    }
  }
  return [...ids].sort();
}

/** References a Provenance points at (its compartments are those of its targets). */
export function provenanceTargets(resource: Resource, fhirBaseUrl?: string): string[] {
  if (resource.resourceType !== 'Provenance') return [];
  return (resource.target ?? [])
    .map((t) => (t.reference ? normalizeReference(t.reference, fhirBaseUrl) : undefined))
    .filter((r): r is string => r !== undefined);
}
