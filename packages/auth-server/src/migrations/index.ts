import type { Migration } from '@patient-access/consent';
import { createAuthorizationStore } from './202611230200_create_authorization_store.js';

export const authServerMigrations: Migration[] = [createAuthorizationStore];
