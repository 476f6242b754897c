/**
 * Public entry points. `generateDataset` returns everything at once (demo sizes); `generatePatients`
 * yields the same records one at a time, so a loader can write 10,000 patients without holding them.
 * Each record depends only on (seed, patient, now, resourcesPerPatient), never on the others.
 */
import { demoPeople, hardCaseSpecs } from './hard-cases.js';
import { generatedPatientSpec } from './population.js';
import { buildPatientRecord } from './record.js';
import { sharedResources } from './shared.js';
import type { GenerateOptions, GeneratedDataset, PatientRecord } from './types.js';

export const DEFAULT_SEED = 20261101;
export const DEFAULT_NOW = '2026-11-01T00:00:00Z';

export function generateDataset(options: GenerateOptions): GeneratedDataset {
  return { shared: sharedResources(), patients: [...generatePatients(options)], people: demoPeople() };
}

/** The hard-case patients first (fixed ids), then `options.patients` generated ones. */
export function* generatePatients(options: GenerateOptions): Generator<PatientRecord, void, undefined> {
  const seed = options.seed ?? DEFAULT_SEED;
  const now = (options.now ?? new Date(DEFAULT_NOW)).getTime();
  if (!Number.isFinite(now)) throw new Error('generatePatients: options.now is not a valid date');
  if (!Number.isInteger(options.patients) || options.patients < 0) throw new Error('generatePatients: options.patients must be a non-negative integer');
  const recordOptions = { seed, now, ...(options.resourcesPerPatient ? { resourcesPerPatient: options.resourcesPerPatient } : {}) };
  for (const spec of hardCaseSpecs(now)) yield buildPatientRecord(spec, recordOptions);
  for (let n = 1; n <= options.patients; n++) yield buildPatientRecord(generatedPatientSpec(seed, n, now), recordOptions);
}

export { sharedResources };
