/**
 * App grants (issue: consent): written by the authorization server when a person approves an app,
 * read on every FHIR request to confirm the grant, its account and the delegation behind it are
 * still in force (API-3, PRX-6: revoking any of them ends access at once).
 */
import type { Knex } from 'knex';
import { preparedFirst } from '../db/prepared.js';
import type { DelegationBasis } from '../delegations/delegation-store.js';
import { coveredBy, formatScopes } from '../scopes/scope-access.js';
import { parseScopes, type Scope } from '../scopes/scope-grammar.js';

export interface NewAppGrant {
  id: string;
  patientId: string;
  clientId: string;
  clientName?: string;
  accountId: string;
  delegationId?: string;
  scope: string;
  encounterId?: string;
  /** The user-level authorization (oidc-provider Grant) this row is one patient of, and its place in it; unset: the row's id is the Grant's. */
  authorization?: { id: string; position: number };
}

export interface AppGrant {
  id: string;
  patientId: string;
  clientId: string;
  clientName: string | null;
  accountId: string;
  delegationId: string | null;
  scope: string;
  encounterId: string | null;
  authorizationId: string | null;
  status: 'active' | 'revoked';
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** Why a grant no longer gives access; stable codes for the audit log. */
export type GrantDenial = 'grant-unknown' | 'grant-revoked' | 'account-inactive' | 'delegation-inactive';

/** A grant confirmed to be in force at a given time, with the delegation it rests on. */
export interface GrantInForce {
  grant: AppGrant;
  /** startsAt: when the delegation began (a delegation made before the patient's majority ends at it, PRX-4). */
  delegation: { id: string; basis: DelegationBasis; accessLevel: 'full' | 'limited'; relatedPersonId: string | null; startsAt: Date } | null;
}

interface GrantRow {
  id: string;
  patient_id: string;
  client_id: string;
  client_name: string | null;
  account_id: string;
  delegation_id: string | null;
  scope: string;
  encounter_id: string | null;
  authorization_id: string | null;
  status: 'active' | 'revoked';
  created_at: Date | string;
  last_used_at: Date | string | null;
}

const toGrant = (r: GrantRow): AppGrant => ({
  id: r.id,
  patientId: r.patient_id,
  clientId: r.client_id,
  clientName: r.client_name,
  accountId: r.account_id,
  delegationId: r.delegation_id,
  scope: r.scope,
  encounterId: r.encounter_id,
  authorizationId: r.authorization_id ?? null,
  status: r.status,
  createdAt: new Date(r.created_at),
  lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at),
});

export async function createAppGrant(db: Knex, g: NewAppGrant): Promise<void> {
  await db('app_grant').insert({
    id: g.id,
    patient_id: g.patientId,
    client_id: g.clientId,
    client_name: g.clientName ?? null,
    account_id: g.accountId,
    delegation_id: g.delegationId ?? null,
    scope: g.scope,
    encounter_id: g.encounterId ?? null,
    authorization_id: g.authorization?.id ?? null,
    authorization_position: g.authorization?.position ?? null,
  });
}

export async function findAppGrant(db: Knex, id: string): Promise<AppGrant | undefined> {
  const row = (await db('app_grant').where({ id }).first()) as GrantRow | undefined;
  return row && toGrant(row);
}

/** The row `grantInForceQuery` selects: the grant, its account's status and its delegation. */
export type GrantContextRow = GrantRow & {
  account_status: string;
  d_status: string | null;
  d_basis: DelegationBasis | null;
  d_access_level: 'full' | 'limited' | null;
  d_related_person_id: string | null;
  d_starts_at: Date | string | null;
  d_ends_at: Date | string | null;
};

/**
 * The grant with its account and delegation, one indexed lookup. The FHIR API adds columns of its
 * own to it (the request context in one round trip), so it is exported as a query, with
 * `grantDecision` to read the row.
 */
export function grantInForceQuery(db: Knex, id: string): Knex.QueryBuilder {
  return db('app_grant as g')
    .join('account as a', 'a.id', 'g.account_id')
    // The delegation must be the grant's own account's: a grant row naming another's (a bug, a
    // bad restore) finds none and is denied as delegation-inactive, never served under it.
    .leftJoin('proxy_delegation as d', function joinDelegation() {
      this.on('d.patient_id', '=', 'g.patient_id').andOn('d.id', '=', 'g.delegation_id').andOn('d.proxy_account_id', '=', 'g.account_id');
    })
    .where('g.id', id)
    .select(
      'g.*',
      'a.status as account_status',
      'd.status as d_status',
      'd.basis as d_basis',
      'd.access_level as d_access_level',
      'd.related_person_id as d_related_person_id',
      'd.starts_at as d_starts_at',
      'd.ends_at as d_ends_at',
    )
    .limit(1);
}

/** The grant if it, its account and its delegation are all in force at `at`; else the reason not. */
export function grantDecision(row: GrantContextRow | undefined, at: Date): GrantInForce | { denied: GrantDenial } {
  if (!row) return { denied: 'grant-unknown' };
  if (row.account_status !== 'active') return { denied: 'account-inactive' };
  if (row.delegation_id !== null) {
    // PRX-6: a grant made by a proxy lasts only while the delegation does. Checked before the
    // grant's own status, since ending a delegation also revokes its grants.
    const inWindow =
      row.d_status === 'active' &&
      row.d_starts_at !== null &&
      new Date(row.d_starts_at) <= at &&
      (row.d_ends_at === null || new Date(row.d_ends_at) > at);
    if (!inWindow) return { denied: 'delegation-inactive' };
  }
  if (row.status !== 'active') return { denied: 'grant-revoked' };
  if (row.delegation_id === null) return { grant: toGrant(row), delegation: null };
  return {
    grant: toGrant(row),
    delegation: { id: row.delegation_id, basis: row.d_basis!, accessLevel: row.d_access_level!, relatedPersonId: row.d_related_person_id, startsAt: new Date(row.d_starts_at!) },
  };
}

/** The grant if it, its account and its delegation are all in force at `at`; else the reason not. */
export async function grantInForce(db: Knex, id: string, at: Date): Promise<GrantInForce | { denied: GrantDenial }> {
  return grantDecision(await preparedFirst<GrantContextRow>(db, grantInForceQuery(db, id)), at);
}

export async function touchAppGrant(db: Knex, id: string, at: Date): Promise<void> {
  await db('app_grant').where({ id }).update({ last_used_at: at });
}

/**
 * Revokes an app grant, or every patient's row of a user-level authorization when `id` is the
 * authorization's (a revoked token or Grant ends the whole authorization; one patient's row, revoked
 * from her connected-apps page, ends her part only).
 */
export async function revokeAppGrant(db: Knex, id: string, reason: string, at: Date = new Date()): Promise<boolean> {
  const n = await db('app_grant')
    .where((q) => q.where({ id }).orWhere({ authorization_id: id }))
    .andWhere({ status: 'active' })
    .update({ status: 'revoked', status_reason: reason, revoked_at: at });
  return n > 0;
}

/** One patient's part of an authorization: the app grant that covers her record. */
export interface PatientGrant {
  patient: string;
  grant: string;
}

/**
 * The `patient_grants` claim of a user-level access token: each patient it covers with her app
 * grant. Anything malformed yields nothing (a token covering no one).
 */
export function patientGrantsOf(claims: Record<string, unknown>): PatientGrant[] {
  const list = claims['patient_grants'];
  if (!Array.isArray(list)) return [];
  const valid = list.every((x) => typeof x === 'object' && x !== null && typeof (x as PatientGrant).patient === 'string' && typeof (x as PatientGrant).grant === 'string');
  return valid ? (list as PatientGrant[]).map(({ patient, grant }) => ({ patient, grant })) : [];
}

/**
 * What an authorization (an oidc-provider Grant id) covers at `at`: its own app grant when it is a
 * single-patient one, else each patient's row of the user-level authorization still in force, in
 * the order they were approved. A denial only when nothing is left (the reason of the first row).
 */
export async function authorizationInForce(db: Knex, id: string, at: Date): Promise<{ grants: GrantInForce[]; userLevel: boolean } | { denied: GrantDenial }> {
  const single = await grantInForce(db, id, at);
  if (!('denied' in single) || single.denied !== 'grant-unknown') return 'denied' in single ? single : { grants: [single], userLevel: false };
  const rows = (await db('app_grant').where({ authorization_id: id }).orderBy('authorization_position').select('id')) as { id: string }[];
  const decisions = await Promise.all(rows.map((r) => grantInForce(db, r.id, at)));
  const grants = decisions.filter((d): d is GrantInForce => !('denied' in d));
  if (grants.length) return { grants, userLevel: true };
  const denied = decisions.find((d): d is { denied: GrantDenial } => 'denied' in d);
  return denied ?? { denied: 'grant-unknown' };
}

export class GrantNarrowingError extends Error {
  constructor(readonly code: 'grant-not-active' | 'not-narrower' | 'no-resource-scope', message: string) {
    super(message);
    this.name = 'GrantNarrowingError';
  }
}

/**
 * Narrows an active grant to `scopes` (the patient's connected-apps page): every new scope must be
 * covered by the grant as it stands (narrowing never widens), and at least one resource scope must
 * remain (to remove them all, revoke). Tokens already issued lose the difference at once: the API
 * intersects each token's scopes with its grant's on every request.
 */
export async function narrowAppGrant(db: Knex, id: string, scopes: readonly Scope[]): Promise<AppGrant> {
  return db.transaction(async (trx) => {
    const row = (await trx('app_grant').where({ id }).forUpdate().first()) as GrantRow | undefined;
    if (!row || row.status !== 'active') throw new GrantNarrowingError('grant-not-active', 'this app no longer has access');
    const current = parseScopes(row.scope).scopes;
    const wider = scopes.filter((s) => !coveredBy(current, s));
    if (wider.length) throw new GrantNarrowingError('not-narrower', `${formatScopes(wider)} is more than this app was given`);
    if (!scopes.some((s) => s.kind === 'resource')) throw new GrantNarrowingError('no-resource-scope', 'keep at least one kind of data, or revoke the app');
    // Launch, identity and lifetime scopes stay as they were: narrowing is about data.
    const kept = [...current.filter((s) => s.kind === 'fixed'), ...scopes.filter((s) => s.kind === 'resource')];
    await trx('app_grant').where({ id }).update({ scope: formatScopes(kept) });
    return toGrant({ ...row, scope: formatScopes(kept) });
  });
}

/** The apps a person approved, for their connected-apps page. */
export async function listAppGrantsForAccount(db: Knex, accountId: string): Promise<AppGrant[]> {
  const rows = (await db('app_grant').where({ account_id: accountId }).orderBy('created_at', 'desc')) as GrantRow[];
  return rows.map(toGrant);
}

/** The apps with access to a patient's record, whoever approved them. */
export async function listAppGrantsForPatient(db: Knex, patientId: string): Promise<AppGrant[]> {
  const rows = (await db('app_grant').where({ patient_id: patientId }).orderBy('created_at', 'desc')) as GrantRow[];
  return rows.map(toGrant);
}
