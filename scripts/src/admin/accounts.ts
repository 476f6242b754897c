/**
 * Accounts for records that are already in the store: patients, their proxies (with the
 * delegation, verified by the administrator: PRX-2) and practitioners. Refuses unknown ids and
 * duplicates with a message that says which.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  createAccount,
  createDelegation,
  createEnrollment,
  findAccountByUsername,
  generateTotpSecret,
  type AppConfig,
  type Database,
  type DelegationBasis,
} from '@patient-access/consent';
import { patientSummaries } from '@patient-access/fhir-api';
import type { DemoAccount } from '../demo/seed-demo.js';

export class AdminError extends Error {}

export type AccountSubject =
  | { kind: 'patient'; patientId: string }
  | { kind: 'related-person'; relatedPersonId: string; actsFor: string; basis: DelegationBasis }
  | { kind: 'practitioner'; practitionerId: string };

export interface CreateAccountOptions {
  subject: AccountSubject;
  username?: string;
  email?: string;
  /** Generate a password and TOTP secret now (test environments) instead of an enrollment link. */
  demoCredentials?: boolean;
  accountsFile?: string;
  now?: Date;
}

export interface CreatedAccount {
  username: string;
  fhirUser: string;
  enrollmentUrl?: string;
  password?: string;
  totpSecret?: string;
}

const BASES: readonly DelegationBasis[] = ['parent', 'guardian', 'poa', 'caregiver'];

export async function createAccountFor(db: Database, config: AppConfig, o: CreateAccountOptions): Promise<CreatedAccount> {
  const now = o.now ?? new Date();
  const { fhirUser, displayName, patientId } = await resolveSubject(db, o.subject);
  const username = (o.username ?? defaultUsername(o.subject)).trim().toLowerCase();
  if (await findAccountByUsername(db, username)) throw new AdminError(`an account named "${username}" already exists`);
  const linked = (await db('account').where({ fhir_user: fhirUser }).first('username')) as { username: string } | undefined;
  if (linked) throw new AdminError(`${fhirUser} already has an account ("${linked.username}")`);
  if (o.accountsFile && !o.demoCredentials) throw new AdminError('--accounts-file needs --demo-credentials (an enrollment link has no password to write)');

  const password = o.demoCredentials ? `Demo-${randomBytes(9).toString('base64url')}-7` : undefined;
  const totpSecret = o.demoCredentials ? generateTotpSecret() : undefined;
  return db.transaction(async (trx) => {
    const account = await createAccount(trx, {
      username,
      displayName,
      fhirUser,
      ...(patientId ? { patientId } : {}),
      ...(o.email ? { email: o.email } : {}),
      ...(password ? { password, totpSecret: totpSecret! } : {}),
    });
    if (o.subject.kind === 'related-person') {
      await createDelegation(trx, {
        patientId: o.subject.actsFor,
        proxyAccountId: account.id,
        relatedPersonId: o.subject.relatedPersonId,
        basis: o.subject.basis,
        status: 'active',
        startsAt: now,
        verifiedBy: 'administrator (admin CLI)',
        verificationEvidence: 'verified by the administrator who created the account',
      });
    }
    const created: CreatedAccount = { username, fhirUser };
    if (password) {
      created.password = password;
      created.totpSecret = totpSecret!;
    } else {
      created.enrollmentUrl = `${config.issuerUrl}/enroll?token=${await createEnrollment(trx, account.id, now)}`;
    }
    if (o.accountsFile && password) {
      await appendAccountsFile(o.accountsFile, config.fhirBaseUrl, {
        username,
        password,
        totpSecret: totpSecret!,
        displayName,
        fhirUser,
        patientId: patientId ?? null,
        actsFor: o.subject.kind === 'related-person' ? [{ patientId: o.subject.actsFor, relatedPersonId: o.subject.relatedPersonId, basis: o.subject.basis }] : [],
      });
    }
    return created;
  });
}

async function resolveSubject(db: Database, s: AccountSubject): Promise<{ fhirUser: string; displayName: string; patientId?: string }> {
  switch (s.kind) {
    case 'patient': {
      const found = (await patientSummaries(db, [s.patientId])).get(s.patientId);
      if (!found) throw new AdminError(`Patient/${s.patientId} is not in the store`);
      return { fhirUser: `Patient/${s.patientId}`, displayName: found.name, patientId: s.patientId };
    }
    case 'related-person': {
      if (!BASES.includes(s.basis)) throw new AdminError(`--basis must be one of ${BASES.join(', ')}`);
      if (!(await patientSummaries(db, [s.actsFor])).has(s.actsFor)) throw new AdminError(`Patient/${s.actsFor} is not in the store`);
      const row = (await db('resource').where({ patient_id: s.actsFor, resource_type: 'RelatedPerson', id: s.relatedPersonId }).first('content')) as
        | { content: { name?: { text?: string; given?: string[]; family?: string }[] } | string }
        | undefined;
      if (!row) throw new AdminError(`RelatedPerson/${s.relatedPersonId} is not in the record of Patient/${s.actsFor}`);
      const content = typeof row.content === 'string' ? (JSON.parse(row.content) as { name?: { text?: string }[] }) : row.content;
      return { fhirUser: `RelatedPerson/${s.relatedPersonId}`, displayName: content.name?.[0]?.text ?? s.relatedPersonId };
    }
    case 'practitioner': {
      const row = (await db('shared_resource').where({ resource_type: 'Practitioner', id: s.practitionerId }).first('content')) as
        | { content: { name?: { text?: string; given?: string[]; family?: string; prefix?: string[] }[] } | string }
        | undefined;
      if (!row) throw new AdminError(`Practitioner/${s.practitionerId} is not in the store`);
      const content = typeof row.content === 'string' ? (JSON.parse(row.content) as { name?: { text?: string; given?: string[]; family?: string; prefix?: string[] }[] }) : row.content;
      const n = content.name?.[0];
      return { fhirUser: `Practitioner/${s.practitionerId}`, displayName: n?.text ?? [...(n?.prefix ?? []), ...(n?.given ?? []), n?.family].filter(Boolean).join(' ') };
    }
  }
}

function defaultUsername(s: AccountSubject): string {
  const id = s.kind === 'patient' ? s.patientId : s.kind === 'practitioner' ? s.practitionerId : s.relatedPersonId;
  return `${s.kind === 'patient' ? 'patient' : s.kind === 'practitioner' ? 'practitioner' : 'proxy'}-${id}`.toLowerCase().replace(/[^a-z0-9._@-]/g, '-').slice(0, 64);
}

async function appendAccountsFile(file: string, fhirBaseUrl: string, account: DemoAccount): Promise<void> {
  const existing = await readFile(file, 'utf8')
    .then((t) => JSON.parse(t) as { fhirBaseUrl: string; accounts: DemoAccount[] })
    .catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return { fhirBaseUrl, accounts: [] as DemoAccount[] };
      throw new AdminError(`${file} is not a readable accounts file: ${err.message}`);
    });
  existing.accounts.push(account);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(existing, null, 2) + '\n', { mode: 0o600 });
}

export async function listAccounts(db: Database): Promise<{ username: string; fhirUser: string; status: string; createdAt: string }[]> {
  const rows = (await db('account').orderBy('username').select('username', 'fhir_user', 'status', 'created_at')) as { username: string; fhir_user: string; status: string; created_at: Date | string }[];
  return rows.map((r) => ({ username: r.username, fhirUser: r.fhir_user, status: r.status, createdAt: new Date(r.created_at).toISOString() }));
}

/** Disables sign-in and, through the grant check, every app token of the account at once. */
export async function disableAccount(db: Database, username: string): Promise<void> {
  const n = await db('account').where({ username: username.trim().toLowerCase() }).whereIn('status', ['active', 'pending']).update({ status: 'suspended' });
  if (n === 0) throw new AdminError(`no active account named "${username}"`);
}
