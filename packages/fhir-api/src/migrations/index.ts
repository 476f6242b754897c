import type { Migration } from '@patient-access/consent';
import { createResourceStore } from './202611220100_create_resource_store.js';

export const fhirApiMigrations: Migration[] = [createResourceStore];
