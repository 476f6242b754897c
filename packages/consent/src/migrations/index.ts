import type { Migration } from '../db/migrations.js';
import { createAccountsAndDelegations } from './202611220001_create_accounts_and_delegations.js';

export const consentMigrations: Migration[] = [createAccountsAndDelegations];
