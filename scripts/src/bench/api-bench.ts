/**
 * `npm run bench:api`: API performance on PostgreSQL (issue 4), measured in one run against a bare
 * Koa + pg baseline on the same tables and the same machine:
 *   1. read by id with a patient token through the whole pipeline, vs a bare primary-key lookup, and
 *      the audited floor: that lookup plus only its access-log entry (AUD-1), through the API's writer;
 *   2. Observation?patient=…&category=laboratory&_count=20, vs the bare indexed SQL; EXPLAIN of the
 *      API's own SQL (captured from the API's code in a probe, with the same token);
 *   3. Patient/{id}/$everything for a patient of about 2,000 resources: time and streaming.
 * The server is the real one (`node scripts/dist/start.js`, NODE_ENV=production, Redis rate limits,
 * access log), a child process; the baseline is another child; autocannon runs in this process.
 * Tokens come from the real authorization server (password + TOTP sign-in, consent, PKCE code flow).
 * Writes scripts/bench/API-RESULTS.md and api-results.json (unless --no-results).
 *
 * Options: --patients N (10000) --resources-per-patient N (500) --big-patient-resources N (2000)
 * --database-url URL (a named database: created or reused, only what is missing is seeded; never
 * dropped when it existed before) --keep (do not drop a database this run created)
 * --load-patients N (16) --apps N (48: tokens = load patients × apps, one rate-limit key each)
 * --ids-per-patient N (200) --connections N (32) --warmup S (20) --duration S (20)
 * --everything-runs N (7) --port N (18090) --baseline-port N (18091) --out DIR --no-results
 * --no-total-none (skip the extra search row without the total) --seed-only (prepare the database, measure nothing)
 * --server-node-options=OPTS (NODE_OPTIONS for the server, e.g. --cpu-prof; for investigating only)
 * --no-profile (skip the CPU-profiled runs at the end) --profile-seconds S (10).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVER_URL, serverSettings, serverVersion } from './bench-db.js';
import { BIG_PATIENT_ID, ensureAccounts, ensureDataset, openApiBenchDatabase } from './api-dataset.js';
import { patientTokens, registerApps, type PatientToken } from './api-auth.js';
import { SERVER_NODE_ARGS, runLoad, spawnChild, waitForHttp, type Child, type Target } from './api-load.js';
import { startProbe } from './api-explain.js';
import { newestProfile, summarizeProfile, type ProfileSummary } from './api-profile.js';
import { everythingOnce, median } from './api-everything.js';
import { TARGETS, writeApiResults, type ApiBenchResults } from './api-results.js';

const { values: args } = parseArgs({
  options: {
    patients: { type: 'string', default: '10000' },
    'resources-per-patient': { type: 'string', default: '500' },
    'big-patient-resources': { type: 'string', default: '2000' },
    'database-url': { type: 'string' },
    keep: { type: 'boolean', default: false },
    'load-patients': { type: 'string', default: '16' },
    apps: { type: 'string', default: '48' },
    'ids-per-patient': { type: 'string', default: '200' },
    connections: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '20' },
    duration: { type: 'string', default: '20' },
    'everything-runs': { type: 'string', default: '7' },
    port: { type: 'string', default: '18090' },
    'baseline-port': { type: 'string', default: '18091' },
    'no-total-none': { type: 'boolean', default: false },
    'seed-only': { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    'profile-seconds': { type: 'string', default: '10' },
    'server-node-options': { type: 'string' },
    out: { type: 'string' },
    'no-results': { type: 'boolean', default: false },
  },
});
const int = (flag: keyof typeof args, min = 1): number => {
  const n = Number(args[flag]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${flag}: expected an integer of at least ${min}, got ${String(args[flag])}`);
    process.exit(2);
  }
  return n;
};
const opts = {
  patients: int('patients'),
  resourcesPerPatient: int('resources-per-patient'),
  bigPatientResources: int('big-patient-resources'),
  loadPatients: int('load-patients'),
  apps: int('apps'),
  idsPerPatient: int('ids-per-patient'),
  connections: int('connections'),
  warmupSeconds: int('warmup'),
  seconds: int('duration'),
  everythingRuns: int('everything-runs'),
  profileSeconds: int('profile-seconds'),
  port: int('port'),
  baselinePort: int('baseline-port'),
};
const serverUrl = process.env['DATABASE_URL'] ?? DEFAULT_SERVER_URL;
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const origin = `http://127.0.0.1:${opts.port}`;
const baselineOrigin = `http://127.0.0.1:${opts.baselinePort}`;
const log = (line: string) => console.log(`[bench:api] ${line}`);

const bench = await openApiBenchDatabase(serverUrl, args['database-url'], args.keep);
const dataDir = await mkdtemp(join(tmpdir(), 'pa-bench-api-'));
const children: Child[] = [];
let stopping = false;
const cleanup = async () => {
  for (const c of children.reverse()) await c.stop().catch(() => undefined);
  await bench.close().catch((err: unknown) => console.error(err));
  await rm(dataDir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    void cleanup().finally(() => process.exit(130));
  });
}
log(`database ${bench.name}${bench.created ? ' (created by this run)' : ' (reused)'}; ${bench.created && !args.keep ? 'dropped at the end' : 'kept'}`);

try {
  if (args['seed-only']) {
    const d = await ensureDataset(bench.db, opts);
    log(`dataset ready: ${d.patients} patients, ${d.resources} compartment resources; --seed-only: nothing measured`);
  } else {
    const results = await run();
    if (!args['no-results']) {
      const dir = args.out ?? resolve(import.meta.dirname, '..', '..', 'bench');
      await writeApiResults(dir, results);
      log(`wrote ${join(dir, 'API-RESULTS.md')} and api-results.json`);
    }
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  stopping = true;
  await cleanup();
}

async function run(): Promise<ApiBenchResults> {
  const { db } = bench;
  const dataset = await ensureDataset(db, opts);
  log(`dataset: ${dataset.patients} patients, ${dataset.resources} compartment resources + ${dataset.sharedResources} shared, store ${(dataset.storeBytes / 2 ** 30).toFixed(1)} GiB`);

  // Benchmark patients: generated ones spread evenly over the dataset (typical records at the chosen density).
  const generated = ((await db('resource').where({ resource_type: 'Patient' }).whereRaw("patient_id = id and id ~ '^pat-[0-9]+$'").orderBy('id').select('id')) as { id: string }[]).map((r) => r.id);
  if (generated.length < opts.loadPatients) throw new Error(`only ${generated.length} generated patients for --load-patients ${opts.loadPatients}`);
  const loadPatients = Array.from({ length: opts.loadPatients }, (_, i) => generated[Math.floor(((i + 0.5) * generated.length) / opts.loadPatients)]!);
  const accounts = await ensureAccounts(db, [...loadPatients, BIG_PATIENT_ID]);
  const apps = await registerApps(db, opts.apps);

  const env: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: bench.url,
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    PORT: String(opts.port),
    PUBLIC_URL: origin,
    LOG_LEVEL: 'warn',
    DEMO_DATA: 'false',
    DATA_DIR: dataDir,
    // The default limits, whatever the shell running the benchmark sets (an empty value is unset).
    ...Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('RATE_LIMIT_')).map((k) => [k, ''])),
  };
  const serverScript = resolve(import.meta.dirname, '..', 'start.js');
  // --server-node-options (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is for investigating, not for measuring.
  const server = spawnChild(serverScript, { ...env, ...(args['server-node-options'] ? { NODE_OPTIONS: args['server-node-options'] } : {}) }, join(dataDir, 'server.log'), SERVER_NODE_ARGS);
  children.push(server);
  await waitForHttp(`${origin}/healthz`, server);
  log(`server pid ${server.pid} (NODE_ENV=production, LOG_LEVEL=warn, pool ${env['DATABASE_POOL_MAX'] ?? 10}, Redis rate limits)`);

  const t0 = Date.now();
  const tokens = new Map<string, PatientToken[]>();
  for (const account of accounts) tokens.set(account.patientId, await patientTokens(origin, account, account.patientId === BIG_PATIENT_ID ? apps.slice(0, 1) : apps));
  log(`${[...tokens.values()].flat().length} access tokens from the authorization server in ${((Date.now() - t0) / 1000).toFixed(1)} s (scope ${tokens.get(loadPatients[0]!)![0]!.scope})`);
  const bearer = (patientId: string) => {
    const list = tokens.get(patientId)!;
    return `Bearer ${list[Math.floor(Math.random() * list.length)]!.accessToken}`;
  };

  // Read targets: resources of each token's own patient, checked through the probe (the API's own
  // code): what the release policy withholds from the patient (404) is left out and counted.
  const probe = await startProbe(bench.url, env);
  let withheld = 0;
  const readIds: { patientId: string; type: string; id: string }[] = [];
  for (const patientId of loadPatients) {
    const rows = (await db.raw('select resource_type, id from resource where patient_id = ? order by random() limit ?', [patientId, opts.idsPerPatient])) as { rows: { resource_type: string; id: string }[] };
    for (const r of rows.rows) {
      const res = await probe.get(`/fhir/${r.resource_type}/${r.id}`, bearer(patientId));
      if (res.status === 200) readIds.push({ patientId, type: r.resource_type, id: r.id });
      else if (res.status === 404) withheld++;
      else throw new Error(`probe read ${r.resource_type}/${r.id}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    }
  }
  const searchPath = (p: string) => `Observation?patient=${p}&category=laboratory&_count=20`;
  const searchEntries: number[] = [];
  for (const p of loadPatients) {
    const res = await probe.get(`/fhir/${searchPath(p)}`, bearer(p));
    if (res.status !== 200) throw new Error(`probe search for ${p}: HTTP ${res.status}`);
    searchEntries.push((JSON.parse(res.body) as { entry?: unknown[] }).entry?.length ?? 0);
  }
  log(`read targets: ${readIds.length} resources of ${loadPatients.length} patients (${withheld} withheld from the patient by the release policy, left out); lab search pages: ${searchEntries.join(', ')} entries`);

  const PAIRS = 50_000;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  const readPairs = Array.from({ length: PAIRS }, () => {
    const r = pick(readIds);
    return { ...r, authorization: bearer(r.patientId) };
  });
  const searchPairs = Array.from({ length: PAIRS }, () => {
    const p = pick(loadPatients);
    return { patientId: p, authorization: bearer(p) };
  });
  // The baseline gets the same Authorization header (ignored), so requests are the same size.
  const apiRead: Target[] = readPairs.map((r) => ({ path: `/fhir/${r.type}/${r.id}`, headers: { authorization: r.authorization } }));
  const baseRead: Target[] = readPairs.map((r) => ({ path: `/baseline/read/${r.type}/${r.id}?patient=${r.patientId}`, headers: { authorization: r.authorization } }));
  // The audited floor: the baseline's lookup plus the access-log entry, through the API's own writer.
  const floorRead: Target[] = baseRead.map((t) => ({ ...t, path: t.path.replace('/baseline/read/', '/baseline/read-audited/') }));
  const apiSearch: Target[] = searchPairs.map((s) => ({ path: `/fhir/${searchPath(s.patientId)}`, headers: { authorization: s.authorization } }));
  const apiSearchNoTotal: Target[] = apiSearch.map((t) => ({ ...t, path: `${t.path}&_total=none` }));
  const baseSearch: Target[] = searchPairs.map((s) => ({
    path: `/baseline/search/Observation?patient=${s.patientId}&category=laboratory&_count=20`,
    headers: { authorization: s.authorization },
  }));

  const baseline = spawnChild(
    resolve(import.meta.dirname, 'api-baseline-server.js'),
    { NODE_ENV: 'production', BASELINE_DATABASE_URL: bench.url, BASELINE_PORT: String(opts.baselinePort), BASELINE_POOL_MAX: env['DATABASE_POOL_MAX'] ?? '10', BASELINE_FHIR_BASE: `${origin}/fhir` },
    join(dataDir, 'baseline.log'),
  );
  children.push(baseline);
  await waitForHttp(`${baselineOrigin}/baseline/healthz`, baseline);

  const common = { connections: opts.connections, warmupSeconds: opts.warmupSeconds, seconds: opts.seconds, dbName: bench.name };
  const keys = loadPatients.length * apps.length;
  log(`load: ${opts.connections} connections, ${opts.warmupSeconds} s warm-up + ${opts.seconds} s measured per row; ${keys} (app, patient) rate-limit keys at 600/min each`);
  const load = {
    baselineRead: await runLoad({ ...common, label: 'baseline: primary-key read', origin: baselineOrigin, targets: baseRead, serverPid: baseline.pid }),
    apiRead: await runLoad({ ...common, label: 'API: read by id (patient token)', origin, targets: apiRead, serverPid: server.pid }),
    auditedFloorRead: await runLoad({ ...common, label: 'floor: primary-key read + access-log append', origin: baselineOrigin, targets: floorRead, serverPid: baseline.pid }),
    baselineSearch: await runLoad({ ...common, label: 'baseline: indexed lab search', origin: baselineOrigin, targets: baseSearch, serverPid: baseline.pid }),
    apiSearch: await runLoad({ ...common, label: 'API: Observation lab search', origin, targets: apiSearch, serverPid: server.pid }),
    // Not a target: the same search without the total (the API counts every match by default).
    ...(args['no-total-none']
      ? {}
      : { apiSearchNoTotal: await runLoad({ ...common, label: 'API: the same search with _total=none', origin, targets: apiSearchNoTotal, serverPid: server.pid }) }),
  };

  // $everything, one request at a time, on the real server.
  const big = accounts.find((a) => a.patientId === BIG_PATIENT_ID)!;
  const everythingPath = `/fhir/Patient/${big.patientId}/$everything`;
  const everythingRuns = [];
  // One unrecorded request first (reported apart): the first one after the load runs.
  const everythingWarmup = await everythingOnce(origin, everythingPath, bearer(big.patientId));
  for (let i = 0; i < opts.everythingRuns; i++) {
    const r = await everythingOnce(origin, everythingPath, bearer(big.patientId));
    if (r.status !== 200) throw new Error(`$everything: HTTP ${r.status}`);
    everythingRuns.push(r);
  }
  const everything = {
    patientId: big.patientId,
    storedResources: dataset.bigPatient.resources,
    warmup: everythingWarmup,
    runs: everythingRuns,
    medianFirstByteMs: median(everythingRuns.map((r) => r.firstByteMs)),
    medianTotalMs: median(everythingRuns.map((r) => r.totalMs)),
    streamed: everythingRuns.every((r) => r.transferEncoding === 'chunked' && r.contentLength === null),
  };
  log(`$everything ${big.patientId}: median first byte ${everything.medianFirstByteMs.toFixed(0)} ms, total ${everything.medianTotalMs.toFixed(0)} ms, ` +
    `${everythingRuns[0]!.entries} entries, ${(everythingRuns[0]!.bytes / 2 ** 20).toFixed(1)} MiB, ${everything.streamed ? 'chunked' : 'NOT chunked'}`);

  // The API's own SQL for one request of each kind, with EXPLAIN (ANALYZE, BUFFERS), after the load (warm).
  const sample = readIds.find((r) => r.type === 'Observation') ?? readIds[0]!;
  const traces = {
    read: await probe.trace('read by id', `/fhir/${sample.type}/${sample.id}`, bearer(sample.patientId)),
    search: await probe.trace('lab search', `/fhir/${searchPath(loadPatients[0]!)}`, bearer(loadPatients[0]!)),
  };
  await probe.close();
  for (const t of Object.values(traces)) {
    const seq = t.explained.flatMap((e) => e.phiSeqScans);
    log(`${t.label}: ${t.queries.total} statements (${t.queries.selects} selects, ${t.queries.writes} writes); sequential scans on PHI tables: ${seq.length ? seq.join(', ') : 'none'}`);
  }

  // Where the server's CPU goes: the server again under --cpu-prof, one short run per kind (not in the table).
  let profiles: { read: ProfiledRun; search: ProfiledRun } | undefined;
  if (!args['no-profile']) {
    await server.stop();
    const profiled = async (kind: string, label: string, targets: Target[]): Promise<ProfiledRun> => {
      const dir = join(dataDir, `prof-${kind}`);
      const child = spawnChild(serverScript, { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` }, join(dataDir, `server-prof-${kind}.log`), SERVER_NODE_ARGS);
      children.push(child);
      try {
        await waitForHttp(`${origin}/healthz`, child);
        let fromUs = 0;
        const r = await runLoad({ ...common, warmupSeconds: 3, seconds: opts.profileSeconds, label, origin, targets, serverPid: child.pid, onMeasureStart: () => (fromUs = Number(process.hrtime.bigint() / 1000n)) });
        await child.stop();
        return { requestsPerSecond: r.requestsPerSecond, serverMicrosPerRequest: r.cpuMicrosPerRequest.server, summary: summarizeProfile(newestProfile(dir), fromUs) };
      } finally {
        await child.stop();
      }
    };
    profiles = {
      read: await profiled('read', 'profiled (--cpu-prof) API read', apiRead),
      search: await profiled('search', 'profiled (--cpu-prof) API search', apiSearch),
    };
    for (const [k, p] of Object.entries(profiles)) {
      log(`profile ${k}: ${p.summary.packages.slice(0, 5).map((x) => `${x.name} ${(x.share * 100).toFixed(0)} %`).join(', ')}; pg socket writes ${(p.summary.pgSocketWriteShare * 100).toFixed(0)} %`);
    }
  }

  return {
    date: new Date().toISOString(),
    machine: {
      nproc: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: await serverVersion(db),
      postgresSettings: {
        ...(await serverSettings(db)),
        ...Object.fromEntries(
          await Promise.all(
            ['work_mem', 'effective_cache_size', 'random_page_cost', 'jit', 'max_connections'].map(async (n) => [n, ((await db.raw(`show ${n}`)) as { rows: Record<string, string>[] }).rows[0]![n]!] as const),
          ),
        ),
      },
    },
    options: { ...opts, serverNodeOptions: args['server-node-options'] ?? null, databaseName: bench.name, databaseKept: !(bench.created && !args.keep) },
    server: { env: Object.fromEntries(Object.entries(env).filter(([k]) => !['DATABASE_URL', 'DATA_DIR'].includes(k))), poolMax: Number(env['DATABASE_POOL_MAX'] ?? 10) },
    dataset,
    targets: TARGETS,
    load: {
      patients: loadPatients,
      apps: apps.length,
      rateLimitKeys: keys,
      readTargets: readIds.length,
      readWithheld: withheld,
      readTypes: countBy(readIds.map((r) => r.type)),
      searchEntries,
      ...load,
    },
    everything,
    traces,
    ...(profiles ? { profiles } : {}),
  };
}

interface ProfiledRun {
  requestsPerSecond: number;
  serverMicrosPerRequest: number;
  summary: ProfileSummary;
}

function countBy(xs: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}
