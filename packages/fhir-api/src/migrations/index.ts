import type { Migration } from '@patient-access/consent';
import { createResourceStore } from './202611220100_create_resource_store.js';
import { patientAccessEpoch } from './202611260002_patient_access_epoch.js';
import { resourceRowTokens } from './202611280001_resource_row_tokens.js';
import { searchTokenReferencesIdx } from './202612080100_search_token_references_idx.js';

export const fhirApiMigrations: Migration[] = [createResourceStore, patientAccessEpoch, resourceRowTokens, searchTokenReferencesIdx];
