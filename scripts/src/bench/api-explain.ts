/**
 * A probe: the FHIR API's own Koa application (createFhirApp, the same code the server runs) in this
 * process, on the benchmark database through a knex instance whose queries are recorded. A request
 * made to it with a real access token shows the exact SQL and bindings the API runs for that
 * request (token check, access plan, the read or search, the access-log append); the SELECTs are
 * then run again under EXPLAIN (ANALYZE, BUFFERS). No rate limiter is attached, so the probe's
 * requests (also used to check that every benchmark target answers 200) use no one's limit.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { publishedKeyResolver } from '@patient-access/auth-server';
import { createAccessLogWriter, createLogger, loadConfig, openDatabase, type AccessLogWriter, type Database } from '@patient-access/consent';
import { createFhirApp } from '@patient-access/fhir-api';

/**
 * Tables of patient data that grow with the dataset (every resource, every index row, every access):
 * a sequential scan on one of them is the failure the target names. Other tables (grants, accounts,
 * holds, restrictions) are small here, and the planner rightly scans a table of a few rows; for
 * those the plan is checked again with enable_seqscan off, to show whether an index could serve
 * the statement once the table is large.
 */
export const PHI_TABLES = ['resource', 'search_token', 'search_date', 'search_string', 'access_log'];

export interface CapturedQuery {
  sql: string;
  bindings: unknown[];
  kind: 'select' | 'write' | 'other';
}

export interface ExplainedQuery {
  sql: string;
  bindings: unknown[];
  plan: string;
  planningMs: number;
  executionMs: number;
  /** Shared buffers hit + read by the whole statement (top node). */
  buffers: number;
  seqScans: string[];
  phiSeqScans: string[];
  /** Rows of each sequentially scanned table (pg_class.reltuples). */
  seqScanRows: Record<string, number>;
  /** Sequential scans left with enable_seqscan off: no index can serve these. */
  seqScansWithoutIndex: string[];
}

export interface RequestTrace {
  label: string;
  path: string;
  status: number;
  bytes: number;
  queries: { selects: number; writes: number; other: number; total: number };
  explained: ExplainedQuery[];
  writes: string[];
}

export interface Probe {
  get(path: string, authorization: string): Promise<{ status: number; body: string }>;
  trace(label: string, path: string, authorization: string): Promise<RequestTrace>;
  close(): Promise<void>;
}

export async function startProbe(databaseUrl: string, env: Record<string, string>): Promise<Probe> {
  const config = loadConfig({ ...env, DATABASE_URL: databaseUrl });
  const db: Database = openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 4 });
  let recording: CapturedQuery[] | undefined;
  db.on('query', (q: { sql: string; bindings?: unknown[] }) => {
    if (!recording) return;
    const head = q.sql.trimStart().slice(0, 12).toLowerCase();
    // A WITH that modifies data (the access-log append) is a write: EXPLAIN ANALYZE would run it.
    const modifies = /(^|[(),])\s*(insert|update|delete)\b/i.test(q.sql.trim());
    const kind = modifies ? 'write' : head.startsWith('select') || head.startsWith('with') ? 'select' : 'other';
    recording.push({ sql: q.sql, bindings: q.bindings ?? [], kind });
  });
  const accessLog: AccessLogWriter = createAccessLogWriter(db);
  const app = createFhirApp({ config, db, log: createLogger('silent', 'bench-probe'), tokenKeys: publishedKeyResolver(db), accessLog });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const explainer = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-explain' });
  await explainer.connect();

  const get = async (path: string, authorization: string) => {
    const res = await fetch(`${origin}${path}`, { headers: { authorization } });
    return { status: res.status, body: await res.text() };
  };

  return {
    get,
    async trace(label, path, authorization) {
      await get(path, authorization); // warm: the key set, plans, pages
      await accessLog.flush();
      recording = [];
      const res = await get(path, authorization);
      await accessLog.flush();
      const queries = recording;
      recording = undefined;
      const explained: ExplainedQuery[] = [];
      for (const q of queries.filter((x) => x.kind === 'select')) {
        // Twice: the second run is the warm one reported.
        let rows: { 'QUERY PLAN': string }[] = [];
        for (let i = 0; i < 2; i++) rows = (await explainer.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${q.sql}`, q.bindings)).rows;
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        const seqScans = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!);
        const seqScanRows: Record<string, number> = {};
        let seqScansWithoutIndex: string[] = [];
        if (seqScans.length) {
          for (const t of new Set(seqScans)) {
            // Counted, up to 100,001 (the statistics of a table created after the last analyze say nothing).
            const { rows: c } = await explainer.query<{ n: string }>(`select count(*) as n from (select 1 from "${t}" limit 100001) x`);
            seqScanRows[t] = Number(c[0]?.n ?? 0);
          }
          await explainer.query('begin');
          try {
            await explainer.query('set local enable_seqscan = off');
            const forced = (await explainer.query<{ 'QUERY PLAN': string }>(`explain ${q.sql}`, q.bindings)).rows.map((r) => r['QUERY PLAN']).join('\n');
            seqScansWithoutIndex = [...forced.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!);
          } finally {
            await explainer.query('rollback');
          }
        }
        explained.push({
          sql: q.sql,
          bindings: q.bindings,
          plan,
          planningMs: Number(/Planning Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
          executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
          buffers: Number(/Buffers: shared hit=(\d+)/.exec(plan)?.[1] ?? 0) + Number(/Buffers: shared (?:hit=\d+ )?read=(\d+)/.exec(plan)?.[1] ?? 0),
          seqScans,
          phiSeqScans: seqScans.filter((t) => PHI_TABLES.includes(t)),
          seqScanRows,
          seqScansWithoutIndex,
        });
      }
      return {
        label,
        path,
        status: res.status,
        bytes: Buffer.byteLength(res.body),
        queries: {
          selects: queries.filter((q) => q.kind === 'select').length,
          writes: queries.filter((q) => q.kind === 'write').length,
          other: queries.filter((q) => q.kind === 'other').length,
          total: queries.length,
        },
        explained,
        writes: queries.filter((q) => q.kind !== 'select').map((q) => q.sql.replace(/\s+/g, ' ').slice(0, 160)),
      };
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await accessLog.close();
      await explainer.end();
      await db.destroy();
    },
  };
}
