/**
 * The bare baseline of the API benchmark, run as its own process (not sharing an event loop with the
 * load generator): Koa + @koa/router + a pg Pool of the application's size, named (prepared)
 * statements, the stored JSON passed through as text. What a hand-written server costs for the same
 * two requests on the same tables, with no token, scopes, release policy, audit or rate limit:
 *
 *   GET /baseline/read/:type/:id?patient=P  primary-key lookup in `resource` (patient_id, resource_type, id)
 *   GET /baseline/search/Observation?patient=P&category=C&_count=N
 *       the patient's Observations with a category token C in search_token, by id, as a searchset
 *       Bundle built by string concatenation
 *   GET /baseline/read-audited/:type/:id?patient=P  the same lookup, then the one thing the API may
 *       not skip: the access-log entry (AUD-1), committed before the response through the API's own
 *       group-commit writer; no token, scopes, release policy or rate limit. The floor under any
 *       implementation that logs every read as this one does.
 *
 * Env: BASELINE_DATABASE_URL, BASELINE_PORT, BASELINE_POOL_MAX (default 10), BASELINE_FHIR_BASE.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import pg from 'pg';
import { createAccessLogWriter, openDatabase } from '@patient-access/consent';

const pool = new pg.Pool({ connectionString: process.env['BASELINE_DATABASE_URL'], max: Number(process.env['BASELINE_POOL_MAX'] ?? 10), application_name: 'bench-baseline' });
const base = process.env['BASELINE_FHIR_BASE'] ?? 'http://localhost/fhir';
const app = new Koa();
const router = new Router();

const READ = 'select content::text as c from resource where patient_id = $1 and resource_type = $2 and id = $3';
const SEARCH = `select r.id, r.content::text as c from resource r
  where r.patient_id = $1 and r.resource_type = 'Observation'
    and exists (select 1 from search_token t where t.patient_id = r.patient_id and t.resource_type = r.resource_type
                and t.resource_id = r.id and t.param = 'category' and t.code = $2)
  order by r.id limit $3`;

router.get('/baseline/read/:type/:id', async (ctx) => {
  const { rows } = await pool.query<{ c: string }>({ name: 'read', text: READ, values: [String(ctx.query['patient']), ctx.params['type'], ctx.params['id']] });
  if (!rows[0]) {
    ctx.status = 404;
    return;
  }
  ctx.type = 'application/fhir+json';
  ctx.body = rows[0].c;
});

// The writer gets its own small knex pool: the API's writer has one append in flight at a time.
const auditDb = openDatabase({ kind: 'postgres', url: String(process.env['BASELINE_DATABASE_URL']), poolMax: 2 });
const accessLog = createAccessLogWriter(auditDb);

router.get('/baseline/read-audited/:type/:id', async (ctx) => {
  const patientId = String(ctx.query['patient']);
  const { type, id } = ctx.params as { type: string; id: string };
  const { rows } = await pool.query<{ c: string }>({ name: 'read', text: READ, values: [patientId, type, id] });
  if (!rows[0]) {
    ctx.status = 404;
    return;
  }
  await accessLog.write({
    patientId,
    actor: { kind: 'patient', id: 'baseline', fhirUser: `Patient/${patientId}` },
    onBehalfOf: patientId,
    client: { id: 'baseline' },
    scopes: 'patient/*.rs',
    action: 'read',
    outcome: 'success',
    resourceType: type,
    returned: [`${type}/${id}`],
    resultCount: 1,
    requestId: randomUUID(),
    sourceAddress: ctx.ip,
  });
  ctx.type = 'application/fhir+json';
  ctx.body = rows[0].c;
});

router.get('/baseline/search/Observation', async (ctx) => {
  const count = Math.min(1000, Number(ctx.query['_count'] ?? 20) || 20);
  const { rows } = await pool.query<{ id: string; c: string }>({ name: 'search', text: SEARCH, values: [String(ctx.query['patient']), String(ctx.query['category']), count] });
  const self = JSON.stringify(`${base}/Observation?${ctx.querystring}`);
  const entries = rows.map((r) => `{"fullUrl":${JSON.stringify(`${base}/Observation/${r.id}`)},"resource":${r.c},"search":{"mode":"match"}}`);
  ctx.type = 'application/fhir+json';
  ctx.body = `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":${self}}]${entries.length ? `,"entry":[${entries.join(',')}]` : ''}}`;
});

router.get('/baseline/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});

app.use(router.routes());
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env['BASELINE_PORT'] ?? 18091), '127.0.0.1', () => console.log('baseline listening'));
process.on('SIGTERM', () => {
  server.close(() => void accessLog.close().then(() => Promise.all([pool.end(), auditDb.destroy()])).then(() => process.exit(0)));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 3000).unref();
});
