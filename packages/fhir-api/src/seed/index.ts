/**
 * Deterministic US Core 6.1 demo data. `generateDataset({ patients })` for demo sizes;
 * `generatePatients(options)` streams the same records one patient at a time for bulk loads
 * (write `sharedResources()` first). Pure: nothing is written anywhere.
 */
export { DEFAULT_NOW, DEFAULT_SEED, generateDataset, generatePatients, sharedResources } from './generate.js';
export { HARD_CASE_IDS, RELATED_PERSON_IDS, demoPeople } from './hard-cases.js';
export { CLINICIAN_PRACTITIONER_ID } from './shared.js';
export { MRN_SYSTEM } from './terminology.js';
export type { DemoPerson, GenerateOptions, GeneratedDataset, PatientRecord } from './types.js';
