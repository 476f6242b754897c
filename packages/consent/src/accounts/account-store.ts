/** Portal accounts: the people who log in, each linked to the FHIR resource that is them. */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { hashPassword } from './password.js';

export interface NewAccount {
  username: string;
  displayName: string;
  /** Omitted for an account that enrolls itself later (status `pending`). */
  password?: string;
  totpSecret?: string;
  email?: string;
  /** `Patient/…`, `RelatedPerson/…` or `Practitioner/…`. */
  fhirUser: string;
  patientId?: string;
}

export interface Account {
  id: string;
  username: string;
  displayName: string;
  fhirUser: string;
  patientId: string | null;
  status: 'pending' | 'active' | 'suspended' | 'closed';
}

export class AccountExistsError extends Error {}

export async function createAccount(db: Knex, input: NewAccount): Promise<Account> {
  const username = input.username.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9._@-]{2,63}$/.test(username)) throw new Error(`invalid username "${input.username}"`);
  if (!/^(Patient|RelatedPerson|Practitioner)\/[A-Za-z0-9\-.]{1,64}$/.test(input.fhirUser)) throw new Error(`invalid fhirUser "${input.fhirUser}"`);
  const existing = await db('account').where({ username }).first();
  if (existing) throw new AccountExistsError(`an account named "${username}" already exists`);
  const row = {
    id: randomUUID(),
    username,
    display_name: input.displayName,
    // '!' matches no password: a pending account cannot sign in before it enrolls.
    password_hash: input.password === undefined ? '!' : await hashPassword(input.password),
    totp_secret: input.totpSecret ?? null,
    fhir_user: input.fhirUser,
    patient_id: input.patientId ?? null,
    ...(input.email ? { email: input.email } : {}),
    status: input.password === undefined ? ('pending' as const) : ('active' as const),
  };
  await db('account').insert(row);
  return { id: row.id, username, displayName: row.display_name, fhirUser: row.fhir_user, patientId: row.patient_id, status: row.status };
}

export async function countAccounts(db: Knex): Promise<number> {
  const row = (await db('account').count({ n: '*' }).first()) as { n: string | number } | undefined;
  return Number(row?.n ?? 0);
}
