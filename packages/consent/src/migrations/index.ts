import type { Migration } from '../db/migrations.js';
import { createAccountsAndDelegations } from './202611220001_create_accounts_and_delegations.js';
import { createAppGrants } from './202611230001_create_app_grants.js';
import { createReleaseHolds } from './202611230002_create_release_holds.js';
import { createAccessLog } from './202611230003_create_access_log.js';
import { createAccountEnrollment } from './202611230004_create_account_enrollment.js';
import { createPatientRestrictions } from './202611240001_create_patient_restrictions.js';
import { createDelegationSuspensions } from './202611250001_create_delegation_suspensions.js';
import { createAccessEpoch } from './202611260001_create_access_epoch.js';
import { createAccessLogExpectHeads } from './202611260003_create_access_log_expect_heads.js';
import { cheaperAccessLogHashChecks } from './202611270001_access_log_cheaper_hash_checks.js';
import { holdItemsMoveAccessEpoch } from './202612070001_hold_items_move_access_epoch.js';
import { accessLogEventIdIndex } from './202612080001_access_log_event_id_index.js';
import { delegationPrivilegeActions } from './202612080002_delegation_privilege_actions.js';
import { createDisclosureConsents } from './202612090001_create_disclosure_consents.js';
import { appGrantAuthorization } from './202612100001_app_grant_authorization.js';
import { createUnknownLoginFailures } from './202612100002_create_unknown_login_failures.js';

export const consentMigrations: Migration[] = [createAccountsAndDelegations, createAppGrants, createReleaseHolds, createAccessLog, createAccountEnrollment, createPatientRestrictions, createDelegationSuspensions, createAccessEpoch, createAccessLogExpectHeads, cheaperAccessLogHashChecks, holdItemsMoveAccessEpoch, accessLogEventIdIndex, delegationPrivilegeActions, createDisclosureConsents, appGrantAuthorization, createUnknownLoginFailures];
