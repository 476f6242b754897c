/**
 * What the importer checks on each incoming resource: FHIR R4 structure (structure-validator.ts:
 * elements, types, cardinality, required codes, a few invariants; about 6 µs for a 1 KB resource)
 * and a storable id. It runs on the importing thread, on the resource the importer parsed once.
 *
 * `fullStructureErrors` is @medplum/core's complete validator (every FHIRPath invariant; about
 * 110 µs for a 1 KB resource), kept as a second opinion for tests of what the system produces.
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../search/fhir-definitions.js';
import { validateStructure } from './structure-validator.js';

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

/** FHIR R4 structure problems of a resource, each `path: reason`; empty when valid. */
export function structureErrors(resource: Resource): string[] {
  return validateStructure(resource);
}

/** @medplum/core's validator: structure and every FHIRPath invariant of the base definitions. */
export function fullStructureErrors(resource: Resource): string[] {
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

/** An ndjson line (not blank) parsed and checked: the resource, or why it cannot be imported. */
export function parseNdjsonLine(line: string): { resource: Resource; errors?: undefined } | { resource?: undefined; errors: string[] } {
  let resource: Resource;
  try {
    resource = JSON.parse(line) as Resource;
  } catch (err) {
    return { errors: [`not valid JSON: ${(err as Error).message}`] };
  }
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') return { errors: ['not a FHIR resource (no resourceType)'] };
  const errors = structureErrors(resource);
  if (!errors.length && !ID_RE.test(resource.id ?? '')) errors.push('resource has no valid id');
  return errors.length ? { errors } : { resource };
}
