/**
 * EHR launch contexts: a short-lived, single-use `launch` value bound to the person who started
 * the launch, a patient and optionally an encounter. A bad, expired or reused value is an error,
 * never a silent fall-back to the standalone flow.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

export const LAUNCH_TTL_SECONDS = 300;

export interface LaunchContext {
  id: string;
  patientId: string;
  accountId: string;
  encounterId: string | null;
  clientId: string | null;
}

export type LaunchProblem = 'unknown' | 'expired' | 'used' | 'other-user' | 'other-client';

export async function createLaunch(
  db: Knex,
  input: { accountId: string; patientId: string; encounterId?: string; clientId?: string },
  at = new Date(),
): Promise<string> {
  const id = randomBytes(24).toString('base64url');
  await db('launch_context').insert({
    id,
    patient_id: input.patientId,
    account_id: input.accountId,
    encounter_id: input.encounterId ?? null,
    client_id: input.clientId ?? null,
    created_at: at,
    expires_at: new Date(at.getTime() + LAUNCH_TTL_SECONDS * 1000),
  });
  return id;
}

interface LaunchRow {
  id: string;
  patient_id: string;
  account_id: string;
  encounter_id: string | null;
  client_id: string | null;
  expires_at: Date | string;
  used_at: Date | string | null;
}

/** The launch if `accountId` may use it now for `clientId`, else why not. Does not consume it. */
export async function checkLaunch(db: Knex, id: string, accountId: string, clientId: string, at = new Date()): Promise<LaunchContext | { problem: LaunchProblem }> {
  const row = (await db('launch_context').where({ id }).first()) as LaunchRow | undefined;
  if (!row) return { problem: 'unknown' };
  if (row.used_at !== null) return { problem: 'used' };
  if (new Date(row.expires_at) <= at) return { problem: 'expired' };
  if (row.account_id !== accountId) return { problem: 'other-user' };
  if (row.client_id !== null && row.client_id !== clientId) return { problem: 'other-client' };
  return { id: row.id, patientId: row.patient_id, accountId: row.account_id, encounterId: row.encounter_id, clientId: row.client_id };
}

/** Marks the launch used; false if it already was (two tabs racing). */
export async function consumeLaunch(db: Knex, id: string, at = new Date()): Promise<boolean> {
  return (await db('launch_context').where({ id }).whereNull('used_at').update({ used_at: at })) === 1;
}
