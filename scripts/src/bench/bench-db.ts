/**
 * The benchmark's throw-away database (`pa_bench_<random>` on the server named by DATABASE_URL,
 * dropped afterwards, as the tests do) and CPU accounting: the Node process through
 * process.cpuUsage, PostgreSQL through /proc (the backends serving the benchmark database, found by
 * their process title, plus the server's shared background processes).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import knexFactory from 'knex';
import { consentMigrations, migrateLatest, openDatabase, type Database } from '@patient-access/consent';
import { fhirApiMigrations } from '@patient-access/fhir-api';

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface BenchDatabase {
  name: string;
  url: string;
  db: Database;
  /** Empties the resource store tables (and any baseline table), so each phase starts empty. */
  reset(): Promise<void>;
  drop(): Promise<void>;
}

export const STORE_TABLES = ['resource', 'shared_resource', 'search_token', 'search_date', 'search_string'];

export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `pa_bench_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 5 });
  let dropped = false;
  try {
    await migrateLatest(db, [...consentMigrations, ...fhirApiMigrations]); // as a deployment has them: the writer places holds (consent) and moves access epochs
  } catch (err) {
    await db.destroy();
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
    throw err;
  }
  return {
    name,
    url: url.toString(),
    db,
    async reset() {
      await db.raw(`truncate ${STORE_TABLES.join(', ')}`);
      await db.raw('drop table if exists bench_baseline');
      await db.raw('checkpoint');
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

/** Version string of the server, e.g. "PostgreSQL 15.20". */
export async function serverVersion(db: Database): Promise<string> {
  const { rows } = (await db.raw('show server_version')) as { rows: { server_version: string }[] };
  return `PostgreSQL ${rows[0]!.server_version.split(' ')[0]}`;
}

export async function serverSettings(db: Database): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of ['shared_buffers', 'synchronous_commit', 'fsync', 'max_wal_size', 'wal_level']) {
    const { rows } = (await db.raw(`show ${name}`)) as { rows: Record<string, string>[] };
    out[name] = rows[0]![name]!;
  }
  return out;
}

export async function storeSizeBytes(db: Database): Promise<number> {
  const { rows } = (await db.raw(
    `select sum(pg_total_relation_size(c.oid))::bigint as n from pg_class c where c.relname = any(?) and c.relkind = 'r'`,
    [STORE_TABLES],
  )) as { rows: { n: string }[] };
  return Number(rows[0]!.n);
}

export interface CpuSnapshot {
  wallNs: bigint;
  node: NodeJS.CpuUsage;
  /** Clock ticks per postgres pid. */
  pg: Map<number, { ticks: number; title: string }>;
  /** Busy clock ticks of the whole machine (all processes), from /proc/stat. */
  machineBusy: number;
}

const TICKS_PER_SECOND = 100;
/** The postmaster and the server-wide background processes (not other databases' backends). */
const SHARED_PROCESS = /^\S*\/postgres -D |: (checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|archiver|stats collector) *$/;

export function cpuSnapshot(): CpuSnapshot {
  return { wallNs: process.hrtime.bigint(), node: process.cpuUsage(), pg: postgresTicks(), machineBusy: machineBusyTicks() };
}

export interface CpuUsage {
  seconds: number;
  /** CPU seconds of this Node process (all threads). */
  nodeCpu: number;
  /** CPU seconds of the PostgreSQL backends connected to the benchmark database. */
  pgBackendCpu: number;
  /** CPU seconds of the server's shared processes (WAL writer, checkpointer, background writer…). */
  pgSharedCpu: number;
  /** CPU seconds used by everything else on the machine meanwhile (other work competing for the cores). */
  otherCpu: number;
}

/** CPU used since `start`. Other databases' backends (other users of the server) are not counted. */
export function cpuSince(start: CpuSnapshot, dbName: string): CpuUsage {
  const end = cpuSnapshot();
  const node = process.cpuUsage(start.node);
  let backend = 0;
  let shared = 0;
  for (const [pid, now] of end.pg) {
    const before = start.pg.get(pid)?.ticks ?? 0;
    const delta = Math.max(0, now.ticks - before) / TICKS_PER_SECOND;
    if (now.title.includes(` ${dbName} `)) backend += delta;
    else if (SHARED_PROCESS.test(now.title)) shared += delta;
  }
  const nodeCpu = (node.user + node.system) / 1e6;
  const machine = (end.machineBusy - start.machineBusy) / TICKS_PER_SECOND;
  return {
    seconds: Number(end.wallNs - start.wallNs) / 1e9,
    nodeCpu,
    pgBackendCpu: backend,
    pgSharedCpu: shared,
    otherCpu: Math.max(0, machine - nodeCpu - backend - shared),
  };
}

function postgresTicks(): Map<number, { ticks: number; title: string }> {
  const out = new Map<number, { ticks: number; title: string }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out; // not Linux: PostgreSQL CPU is reported as 0
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if (comm !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
      const ticks = Number(fields[11]) + Number(fields[12]);
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.set(Number(entry), { ticks, title: `${title} ` });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function machineBusyTicks(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    return user! + nice! + system! + irq! + softirq!;
  } catch {
    return 0;
  }
}
