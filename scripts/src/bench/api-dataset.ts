/**
 * The API benchmark's database: a throw-away `pa_bench_<random>` (dropped afterwards, as the import
 * benchmark does) or a named one given with --database-url, created if missing and reused when it
 * is already seeded (only what is missing is written, so a 5,000,000-resource dataset is seeded once).
 *
 * The dataset: the generator's shared resources, the 8 hard cases and N generated patients at the
 * given density (the same stream `npm run bench` seeds), one extra "big" patient of about 2,000
 * resources for $everything (the generator's 85-115 % spread around 500 never reaches that), the
 * demo login accounts (as scripts/src/demo/seed-demo.ts creates them) and one login account per
 * benchmark patient. Options the data was generated with are kept in `bench_api_meta`, so a reused
 * database generated differently is refused rather than silently measured.
 */
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import type { Resource } from '@medplum/fhirtypes';
import { createAccount, migrateLatest, openDatabase, type Database } from '@patient-access/consent';
import { DEFAULT_NOW, DEFAULT_SEED, demoPeople, generatePatients, sharedResources, writeResources, type PatientRecord } from '@patient-access/fhir-api';
import { allMigrations } from '../runtime.js';
import { demoPassword, demoTotpSecret } from '../demo/credentials.js';
import { createDemoAccount } from '../demo/seed-demo.js';

export const BIG_PATIENT_ID = 'pat-big';
const PATIENTS_PER_TRANSACTION = 10;
const META_TABLE = 'bench_api_meta';

export interface ApiBenchDatabase {
  name: string;
  url: string;
  db: Database;
  /** True when this run created the database. */
  created: boolean;
  /** Drops the database unless it is kept (or existed before this run). */
  close(): Promise<void>;
}

export interface DatasetOptions {
  patients: number;
  resourcesPerPatient: number;
  bigPatientResources: number;
}

export interface DatasetReport {
  seededNow: { patients: number; resources: number; seconds: number; vacuumSeconds: number } | null;
  patients: number;
  resources: number;
  sharedResources: number;
  storeBytes: number;
  bigPatient: { id: string; resources: number };
}

export interface LoginAccount {
  username: string;
  password: string;
  totpSecret: string;
  patientId: string;
}

const log = (line: string) => console.log(`[bench:api] ${line}`);

/**
 * `databaseUrl`: a named database (created if missing, reused otherwise, never dropped when it existed
 * before). Without it: a throw-away `pa_bench_<random>` on `serverUrl`, dropped unless `keep`.
 */
export async function openApiBenchDatabase(serverUrl: string, databaseUrl: string | undefined, keep: boolean): Promise<ApiBenchDatabase> {
  const url = new URL(databaseUrl ?? serverUrl);
  const name = databaseUrl ? decodeURIComponent(url.pathname.replace(/^\//, '')) : `pa_bench_${randomBytes(6).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name "${name}": use lower-case letters, digits and _`);
  url.pathname = `/${name}`;
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const admin = knexFactory({ client: 'pg', connection: adminUrl.toString(), pool: { min: 0, max: 1 } });
  const exists = ((await admin.raw('select 1 from pg_database where datname = ?', [name])) as { rows: unknown[] }).rows.length > 0;
  if (!exists) await admin.raw(`create database ${name}`);
  const db = openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 5 });
  const drop = !exists && !keep;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await db.destroy();
    if (drop) await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  };
  try {
    await migrateLatest(db, allMigrations);
  } catch (err) {
    await close();
    throw err;
  }
  return { name, url: url.toString(), db, created: !exists, close };
}

/** Seeds whatever of the dataset is missing; returns what is there. */
export async function ensureDataset(db: Database, o: DatasetOptions): Promise<DatasetReport> {
  const now = new Date(DEFAULT_NOW);
  const write = { fhirBaseUrl: 'http://localhost:8080/fhir', now: new Date('2026-11-01T12:00:00Z') };
  await db.raw(`create table if not exists ${META_TABLE} (key text primary key, value jsonb not null)`);
  const wanted = { seed: DEFAULT_SEED, now: DEFAULT_NOW, resourcesPerPatient: o.resourcesPerPatient };
  const metaRow = (await db(META_TABLE).where({ key: 'generator' }).first()) as { value: typeof wanted } | undefined;
  if (metaRow && (Object.keys(wanted) as (keyof typeof wanted)[]).some((k) => metaRow.value[k] !== wanted[k])) {
    throw new Error(`this database was generated with ${JSON.stringify(metaRow.value)}, not ${JSON.stringify(wanted)}: use another --database-url`);
  }
  if (!metaRow) await db(META_TABLE).insert({ key: 'generator', value: JSON.stringify(wanted) });

  const existing = new Set(
    ((await db('resource').where({ resource_type: 'Patient' }).whereRaw('patient_id = id').select('id')) as { id: string }[]).map((r) => r.id),
  );
  const start = process.hrtime.bigint();
  let seededPatients = 0;
  let seededResources = 0;
  if (((await db('shared_resource').count({ n: '*' }).first()) as { n: string }).n === '0') {
    const shared = sharedResources();
    await db.transaction((trx) => writeResources(trx, shared, write));
    seededResources += shared.length;
  }
  // The generator's stream (hard cases first), 10 patients per transaction as `npm run seed` writes it.
  // A patient is written whole in one transaction, so a patient id present means the whole record is.
  const generatedIds = Array.from({ length: o.patients }, (_, i) => `pat-${String(i + 1).padStart(4, '0')}`);
  const missing = generatedIds.filter((id) => !existing.has(id)).length + (existing.has('pat-parent') ? 0 : 8);
  if (missing > 0) {
    log(`seeding ${missing} of ${o.patients + 8} patients at ${o.resourcesPerPatient} resources/patient (about ${Math.round((missing * o.resourcesPerPatient) / 1000)}k resources)`);
    let batch: PatientRecord[] = [];
    let lastLog = Date.now();
    const flush = async () => {
      const input = batch.flatMap((p) => p.resources);
      seededPatients += batch.length;
      batch = [];
      if (!input.length) return;
      await db.transaction((trx) => writeResources(trx, input, write));
      seededResources += input.length;
      if (Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        const s = Number(process.hrtime.bigint() - start) / 1e9;
        log(`  ${seededPatients}/${missing} patients, ${seededResources} resources, ${Math.round(seededResources / s)}/s`);
      }
    };
    for (const record of generatePatients({ patients: o.patients, now, resourcesPerPatient: o.resourcesPerPatient })) {
      if (existing.has(record.patientId)) continue;
      batch.push(record);
      if (batch.length >= PATIENTS_PER_TRANSACTION) await flush();
    }
    await flush();
  }
  if (!existing.has(BIG_PATIENT_ID)) {
    const big = bigPatient(o.bigPatientResources, now);
    await db.transaction((trx) => writeResources(trx, big, write));
    seededResources += big.length;
    seededPatients += 1;
    log(`big patient ${BIG_PATIENT_ID}: ${big.length} resources`);
  }
  const seedSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  let vacuumSeconds = 0;
  if (seededResources > 0) {
    // Planner statistics and the visibility map, so that the measurement neither plans on empty
    // statistics nor meets autovacuum working through the fresh rows.
    log(`seeded ${seededResources} resources in ${seedSeconds.toFixed(0)} s; vacuum analyze…`);
    const v0 = process.hrtime.bigint();
    await db.raw('vacuum (analyze)');
    vacuumSeconds = Number(process.hrtime.bigint() - v0) / 1e9;
    log(`vacuum analyze: ${vacuumSeconds.toFixed(0)} s`);
  }
  const count = async (sql: string, bindings: unknown[] = []) => Number(((await db.raw(sql, bindings as never)) as { rows: { n: string }[] }).rows[0]!.n);
  const { rows: sizeRows } = (await db.raw(
    `select sum(pg_total_relation_size(c.oid))::bigint as n from pg_class c
      where c.relname in ('resource', 'shared_resource', 'search_token', 'search_date', 'search_string') and c.relkind = 'r'`,
  )) as { rows: { n: string }[] };
  return {
    seededNow: seededResources > 0 ? { patients: seededPatients, resources: seededResources, seconds: seedSeconds, vacuumSeconds } : null,
    patients: await count(`select count(*) as n from resource where resource_type = 'Patient' and patient_id = id`),
    resources: await count('select count(*) as n from resource'),
    sharedResources: await count('select count(*) as n from shared_resource'),
    storeBytes: Number(sizeRows[0]!.n),
    bigPatient: { id: BIG_PATIENT_ID, resources: await count('select count(*) as n from resource where patient_id = ?', [BIG_PATIENT_ID]) },
  };
}

/**
 * One generated patient of about `target` resources, renamed from the generator's `pat-0001` (and
 * its `<prefix>-0001-<n>` resource ids) to `pat-big`, so it collides with no generated patient.
 * The generator draws the count around the requested average: one correction gets it close.
 */
function bigPatient(target: number, now: Date): Resource[] {
  const generate = (perPatient: number) => [...generatePatients({ patients: 1, now, resourcesPerPatient: perPatient, seed: DEFAULT_SEED + 1 })].at(-1)!;
  let record = generate(target);
  record = generate(Math.round((target * target) / record.resources.length));
  const json = JSON.stringify(record.resources)
    .replace(/\b([a-z]+)-0001(?=-\d{4}\b)/g, '$1-big')
    .replace(/\bpat-0001\b/g, BIG_PATIENT_ID);
  const resources = JSON.parse(json) as Resource[];
  const leftover = resources.filter((r) => !r.id!.includes('big'));
  if (resources[0]!.id !== BIG_PATIENT_ID || leftover.length) throw new Error(`big patient: renaming left ids ${leftover.slice(0, 3).map((r) => r.id)}`);
  return resources;
}

/**
 * The demo logins (as seed-demo.ts makes them) and one login per benchmark patient (`bench-<id>`,
 * the demo's derived credentials). Existing accounts are kept.
 */
export async function ensureAccounts(db: Database, patientIds: readonly string[]): Promise<LoginAccount[]> {
  const usernames = new Set(((await db('account').select('username')) as { username: string }[]).map((r) => r.username));
  for (const person of demoPeople()) {
    if (usernames.has(person.username)) continue;
    await createDemoAccount(db, person, new Date());
  }
  const out: LoginAccount[] = [];
  for (const patientId of patientIds) {
    const username = `bench-${patientId}`;
    if (!usernames.has(username)) {
      await createAccount(db, {
        username,
        displayName: `Benchmark ${patientId}`,
        password: demoPassword(username),
        totpSecret: demoTotpSecret(username),
        fhirUser: `Patient/${patientId}`,
        patientId,
      });
    }
    out.push({ username, password: demoPassword(username), totpSecret: demoTotpSecret(username), patientId });
  }
  return out;
}
