import type { Knex } from 'knex';
import type { Migration } from '../db/migrations.js';

/**
 * Changes to who may act for a patient go into the patient's hash-chained access log (AUD-1:
 * "changes to user privileges"): a delegation granted, a claim of authority verified or denied
 * (PRX-2), a delegation ended (revoked, given up, expired; PRX-6), a patient's "do not share"
 * restriction made or ended (IB-1). Suspensions were logged already
 * (migration 202611250001). The check only widens, so existing rows need no validation: NOT VALID
 * spares a scan of the whole log, and every new row is still checked.
 */
const ACTIONS = [
  'read', 'search', 'everything', 'token.issue', 'token.refresh', 'token.revoke', 'login', 'login.failed', 'lockout', 'consent', 'registration', 'denied', 'audit.purge',
  'hold.place', 'hold.review-request', 'hold.review', 'hold.lift', 'delegation.suspend', 'delegation.review-request', 'delegation.review', 'delegation.reinstate', 'rule.create', 'rule.enable', 'rule.disable',
];
const NEW_ACTIONS = ['delegation.grant', 'delegation.verify', 'delegation.deny', 'delegation.end', 'restriction.create', 'restriction.end'];
const actionCheck = (actions: string[], notValid: boolean) =>
  `alter table access_log add constraint access_log_action_check check (action in (${actions.map((a) => `'${a}'`).join(', ')}))${notValid ? ' not valid' : ''}`;

export const delegationPrivilegeActions: Migration = {
  name: '202612080002_delegation_privilege_actions',
  async up(db: Knex) {
    await db.schema.raw('alter table access_log drop constraint access_log_action_check');
    await db.schema.raw(actionCheck([...ACTIONS, ...NEW_ACTIONS], true));
  },
  async down(db: Knex) {
    await db.schema.raw('alter table access_log drop constraint access_log_action_check');
    await db.schema.raw(actionCheck(ACTIONS, true));
  },
};
