/**
 * Seeds the demo dataset through the same write path as `npm run import`, creates the demo login
 * accounts and proxy delegations, and writes them to <data dir>/demo-accounts.json (the input file
 * for the conformance suite and testers).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createAccount, createDelegation, type Database } from '@patient-access/consent';
import { demoPeople, generatePatients, sharedResources, writeResources, type DemoPerson, type PatientRecord } from '@patient-access/fhir-api';
import { registerClient } from '../admin/clients.js';
import { demoPassword, demoTotpSecret } from './credentials.js';

export interface DemoAccount {
  username: string;
  password: string;
  totpSecret: string;
  displayName: string;
  fhirUser: string;
  patientId: string | null;
  actsFor: { patientId: string; relatedPersonId: string; basis: string }[];
}

/** A backend service (client_credentials, private_key_jwt) for the conformance suite's backend group. */
export interface DemoBackendService {
  clientId: string;
  privateJwks: Record<string, unknown>[];
  scope: string;
}

export interface SeedOptions {
  patients: number;
  fhirBaseUrl: string;
  accountsFile?: string;
  now?: Date;
}

export async function seedDemo(db: Database, options: SeedOptions): Promise<{ resources: number; accounts: DemoAccount[]; backendServices: DemoBackendService }> {
  const write = { fhirBaseUrl: options.fhirBaseUrl, ...(options.now ? { now: options.now } : {}) };
  const shared = sharedResources();
  let resources = shared.length;
  await db.transaction((trx) => writeResources(trx, shared, write));
  // Streamed a few patients per transaction, so 10,000 patients never sit in memory at once.
  let batch: PatientRecord[] = [];
  const flush = async (): Promise<void> => {
    const records = batch.flatMap((p) => p.resources);
    batch = [];
    resources += records.length;
    if (records.length > 0) await db.transaction((trx) => writeResources(trx, records, write));
  };
  // Ages are relative to the day of seeding, so the 15-year-old is 15 whenever the demo is started.
  const clinicalNow = options.now ?? new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
  for (const record of generatePatients({ patients: options.patients, now: clinicalNow })) {
    batch.push(record);
    if (batch.length >= 10) await flush();
  }
  await flush();
  // Fresh planner statistics: without them PostgreSQL plans the index subqueries badly.
  await db.raw('analyze');
  const accounts: DemoAccount[] = [];
  for (const person of demoPeople()) accounts.push(await createDemoAccount(db, person, options.now ?? new Date()));
  const backendServices = await registerDemoBackendService(db);
  if (options.accountsFile) {
    await mkdir(dirname(options.accountsFile), { recursive: true });
    await writeFile(options.accountsFile, JSON.stringify({ fhirBaseUrl: options.fhirBaseUrl, accounts, backendServices }, null, 2) + '\n', { mode: 0o600 });
  }
  return { resources, accounts, backendServices };
}

/**
 * Backend services are registered by an administrator, never openly: the demo registers one with a
 * fresh ES384 key and hands the private key to the accounts file (mode 0600) for the conformance
 * suite. Its system/ token authorizes no Patient Access API read (there is no bulk export yet).
 */
async function registerDemoBackendService(db: Database): Promise<DemoBackendService> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const kid = randomUUID();
  const pub = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES384', use: 'sig' };
  const priv = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES384', use: 'sig' };
  const { clientId } = await registerClient(db, { name: 'Demo backend service', redirectUris: [], auth: 'jwks', jwks: { keys: [pub] }, backend: true });
  return { clientId, privateJwks: [priv], scope: 'system/*.rs' };
}

/** A demo person's account with its demo credentials, and their verified delegations. */
export async function createDemoAccount(db: Database, person: DemoPerson, now: Date): Promise<DemoAccount> {
  const fhirUser = person.patientId
    ? `Patient/${person.patientId}`
    : person.practitionerId
      ? `Practitioner/${person.practitionerId}`
      : `RelatedPerson/${person.relatedPersons[0]!.relatedPersonId}`;
  const password = demoPassword(person.username);
  const totpSecret = demoTotpSecret(person.username);
  const account = await createAccount(db, {
    username: person.username,
    displayName: person.displayName,
    password,
    totpSecret,
    fhirUser,
    ...(person.patientId ? { patientId: person.patientId } : {}),
  });
  for (const rel of person.relatedPersons) {
    await createDelegation(db, {
      patientId: rel.actsForPatientId,
      proxyAccountId: account.id,
      relatedPersonId: rel.relatedPersonId,
      basis: rel.basis,
      status: 'active',
      startsAt: now,
      verifiedBy: 'demo-seed',
      verificationEvidence: 'demo dataset',
    });
  }
  return {
    username: account.username,
    password,
    totpSecret,
    displayName: person.displayName,
    fhirUser,
    patientId: person.patientId ?? null,
    actsFor: person.relatedPersons.map((r) => ({ patientId: r.actsForPatientId, relatedPersonId: r.relatedPersonId, basis: r.basis })),
  };
}
