/**
 * `npm run bench [-- --patients N]`: import and seeding throughput on PostgreSQL (issue 2's target:
 * at least 5,000 resources/s through the import path on the 2-core development machine).
 *
 * In one run, on a fresh database `pa_bench_<random>` (dropped afterwards) on DATABASE_URL:
 *   1. baseline: the same JSON documents into a single jsonb table with plain pg multi-row INSERTs;
 *   2. write path: writeResources() fed by the demo generator (created, re-written unchanged,
 *      re-written changed), and its ratio to the baseline;
 *   3. importPath() on a bulk-data ndjson folder written from the same generated data;
 *   4. a seeding run of --patients N, streamed like `npm run seed`, with its rate per tenth of the
 *      run, extrapolated (from the measured rates only) to 10,000 patients / 5,000,000 resources.
 * Writes scripts/bench/RESULTS.md and scripts/bench/results.json (unless --no-results).
 *
 * Options: --patients N (seeding run, default 1000), --resources-per-patient N (seeding run's
 * generator average, default 500 as in the issue's 10,000 patients / 5,000,000 resources; 0 for the
 * demo's 60-150), --sample-patients N (phases 1-3, demo density, default 200), --database-url URL,
 * --out DIR (default scripts/bench), --no-results, --skip-seed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_NOW, generatePatients, importPath, sharedResources, writeResources, type PatientRecord } from '@patient-access/fhir-api';
import { BASELINE_VARIANTS, runBaseline } from './baseline.js';
import {
  DEFAULT_SERVER_URL,
  cpuSince,
  cpuSnapshot,
  createBenchDatabase,
  serverSettings,
  serverVersion,
  storeSizeBytes,
  type BenchDatabase,
  type CpuUsage,
} from './bench-db.js';
import { writeResults, type BenchResults, type Measurement } from './results.js';

const FHIR_BASE_URL = 'http://localhost:8080/fhir';
/** Patients per transaction, as scripts/src/demo/seed-demo.ts does. */
const PATIENTS_PER_TRANSACTION = 10;
const TARGET_PATIENTS = 10_000;
const TARGET_RESOURCES = 5_000_000;
const TARGET_RATE = 5_000;

const { values: args } = parseArgs({
  options: {
    patients: { type: 'string', default: '1000' },
    'sample-patients': { type: 'string', default: '200' },
    'resources-per-patient': { type: 'string', default: '500' },
    'database-url': { type: 'string' },
    out: { type: 'string' },
    'no-results': { type: 'boolean', default: false },
    'skip-seed': { type: 'boolean', default: false },
  },
});
const seedPatients = nonNegativeInt('--patients', args.patients);
const samplePatients = nonNegativeInt('--sample-patients', args['sample-patients']);
/** Seeding run only: the issue's benchmark shape is 5,000,000 resources for 10,000 patients. 0: the demo's 60-150. */
const resourcesPerPatient = nonNegativeInt('--resources-per-patient', args['resources-per-patient']);
const serverUrl = args['database-url'] ?? process.env['DATABASE_URL'] ?? DEFAULT_SERVER_URL;
const now = new Date(DEFAULT_NOW);
const write = { fhirBaseUrl: FHIR_BASE_URL, now: new Date('2026-11-01T12:00:00Z') };
const generatorOptions = (patients: number, perPatient = 0) => ({ patients, now, ...(perPatient ? { resourcesPerPatient: perPatient } : {}) });

const bench = await createBenchDatabase(serverUrl);
const stop = () => {
  void bench.drop().finally(() => process.exit(130));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
log(`database ${bench.name} on ${redact(serverUrl)}`);
try {
  const results = await run(bench);
  if (!args['no-results']) {
    const dir = args.out ?? resolve(import.meta.dirname, '..', '..', 'bench');
    await writeResults(dir, results);
    log(`wrote ${join(dir, 'RESULTS.md')} and results.json`);
  }
} finally {
  await bench.drop();
}

async function run(bench: BenchDatabase): Promise<BenchResults> {
  const { db } = bench;
  const machine = {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: await serverVersion(db),
    postgresSettings: await serverSettings(db),
  };
  log(`${machine.nproc} cores (${machine.cpuModel}), Node ${machine.node}, ${machine.postgres}`);

  // The sample for phases 1-3, held in memory so that generation is not timed with the writes.
  let start = cpuSnapshot();
  const shared = sharedResources();
  const records = [...generatePatients(generatorOptions(samplePatients))];
  const generation = report('generate sample (in memory)', shared.length + records.reduce((n, r) => n + r.resources.length, 0), cpuSince(start, bench.name));
  const batches = [shared, ...chunk(records, PATIENTS_PER_TRANSACTION).map((rs) => rs.flatMap((r) => r.resources))];
  const sample = {
    patients: records.length,
    resources: generation.resources,
    jsonBytes: batches.flat().reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0),
    transactions: batches.length,
  };
  log(`sample: ${sample.patients} patients (8 hard cases + ${samplePatients}), ${sample.resources} resources, ${mib(sample.jsonBytes)} MiB JSON`);

  // 1. Baseline.
  const baseline: Measurement[] = [];
  for (const variant of BASELINE_VARIANTS) {
    await bench.reset();
    const { rows, cpu } = await runBaseline(bench.url, bench.name, variant, batches);
    baseline.push(report(`baseline: ${variant.name}`, rows, cpu));
  }

  // 2. The write path, fed by the generator (pre-generated, same batches as the baseline).
  await bench.reset();
  const writePath: Measurement[] = [];
  for (const [label, transform] of [
    ['writeResources: new resources', (r: Resource) => r],
    ['writeResources: same data again (unchanged)', (r: Resource) => r],
    ['writeResources: every resource changed (new versions)', (r: Resource) => ({ ...r, language: 'en-US' }) as Resource],
  ] as const) {
    start = cpuSnapshot();
    let n = 0;
    const counts = { created: 0, updated: 0, unchanged: 0 };
    for (const batch of batches) {
      const input = batch.map(transform);
      const result = await db.transaction((trx) => writeResources(trx, input, write));
      n += input.length;
      counts.created += result.created;
      counts.updated += result.updated;
      counts.unchanged += result.unchanged;
    }
    writePath.push(report(label, n, cpuSince(start, bench.name), counts));
  }

  // 3. importPath on an ndjson folder (one file per type, as a bulk-data export writes them).
  await bench.reset();
  const folder = await mkdtemp(join(tmpdir(), 'pa-bench-ndjson-'));
  const importPathResults: Measurement[] = [];
  try {
    const byType = new Map<string, string[]>();
    for (const r of batches.flat()) {
      const lines = byType.get(r.resourceType) ?? [];
      lines.push(JSON.stringify(r));
      byType.set(r.resourceType, lines);
    }
    for (const [type, lines] of byType) await writeFile(join(folder, `${type}.ndjson`), lines.join('\n') + '\n');
    // An importing process does not hold the data in memory: neither should this one while it imports.
    byType.clear();
    batches.length = 0;
    records.length = 0;
    for (const label of ['importPath (ndjson): new resources', 'importPath (ndjson): same files again (unchanged)']) {
      start = cpuSnapshot();
      const r = await importPath(db, folder, { fhirBaseUrl: FHIR_BASE_URL, now: write.now });
      const cpu = cpuSince(start, bench.name);
      if (r.problems.length) throw new Error(`import reported problems: ${JSON.stringify(r.problems.slice(0, 3))}`);
      importPathResults.push(report(label, r.resources, cpu, { created: r.created, updated: r.updated, unchanged: r.unchanged }, `${byType.size} files`));
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }

  // 4. Seeding run: generated and written as it streams, like `npm run seed`.
  const seed = args['skip-seed'] ? undefined : await seedRun(bench);

  return {
    date: new Date().toISOString(),
    machine,
    options: {
      seedPatients,
      samplePatients,
      resourcesPerPatient: resourcesPerPatient || null,
      patientsPerTransaction: PATIENTS_PER_TRANSACTION,
    },
    target: { resourcesPerSecond: TARGET_RATE, patients: TARGET_PATIENTS, resources: TARGET_RESOURCES },
    sample,
    generation,
    baseline,
    writePath,
    importPath: importPathResults,
    ...(seed ? { seed } : {}),
  };
}

async function seedRun(bench: BenchDatabase): Promise<BenchResults['seed']> {
  await bench.reset();
  const { db } = bench;
  const start = cpuSnapshot();
  let resources = 0;
  let patients = 0;
  let generateNs = 0n;
  const segments: NonNullable<BenchResults['seed']>['segments'] = [];
  const totalPatients = seedPatients + 8; // the hard cases come first
  let segment = { patients: 0, resources: 0, cpu: cpuSnapshot() };
  const shared = sharedResources();
  await db.transaction((trx) => writeResources(trx, shared, write));
  resources += shared.length;
  segment.resources += shared.length;
  const generator = generatePatients(generatorOptions(seedPatients, resourcesPerPatient));
  for (;;) {
    const t0 = process.hrtime.bigint();
    const batch: PatientRecord[] = [];
    for (let i = 0; i < PATIENTS_PER_TRANSACTION; i++) {
      const next = generator.next();
      if (next.done) break;
      batch.push(next.value);
    }
    generateNs += process.hrtime.bigint() - t0;
    if (!batch.length) break;
    const input = batch.flatMap((p) => p.resources);
    await db.transaction((trx) => writeResources(trx, input, write));
    resources += input.length;
    patients += batch.length;
    segment.resources += input.length;
    segment.patients += batch.length;
    if (patients >= ((segments.length + 1) * totalPatients) / 10) closeSegment();
  }
  if (segment.patients) closeSegment();
  const cpu = cpuSince(start, bench.name);
  const storeBytes = await storeSizeBytes(db);
  const total = report(`seeding run: ${patients} patients`, resources, cpu);

  const last = segments.at(-1)!;
  const slowest = segments.reduce((a, b) => (b.resourcesPerSecond < a.resourcesPerSecond ? b : a));
  const perPatient = (resources - shared.length) / patients;
  const extrapolation = {
    basis:
      `Measured: ${resources} resources (${patients} patients, ${perPatient.toFixed(0)} resources/patient) in ${cpu.seconds.toFixed(1)} s. ` +
      `These times divide the target size by measured rates (overall, last tenth, slowest tenth); the run did not go beyond ${resources} resources, ` +
      'so any slow-down from larger indexes (beyond what the tenths show) or from checkpoints at larger WAL volumes is not included.',
    resourcesPerPatient: perPatient,
    storeBytesPerResource: storeBytes / resources,
    targetResources: TARGET_RESOURCES,
    secondsAtOverallRate: TARGET_RESOURCES / total.resourcesPerSecond,
    secondsAtLastTenthRate: TARGET_RESOURCES / last.resourcesPerSecond,
    secondsAtSlowestTenthRate: TARGET_RESOURCES / slowest.resourcesPerSecond,
    storeGiBAtTarget: (storeBytes / resources) * TARGET_RESOURCES / 2 ** 30,
    patientsAtThisDensityFor10k: TARGET_PATIENTS,
    resourcesFor10kPatientsAtThisDensity: Math.round(TARGET_PATIENTS * perPatient),
    secondsFor10kPatientsAtOverallRate: (TARGET_PATIENTS * perPatient) / total.resourcesPerSecond,
  };
  log(
    `  extrapolated: 5,000,000 resources in ${minutes(extrapolation.secondsAtOverallRate)} at the overall rate, ` +
      `${minutes(extrapolation.secondsAtSlowestTenthRate)} at the slowest tenth's; store ≈ ${extrapolation.storeGiBAtTarget.toFixed(1)} GiB`,
  );
  return {
    total,
    generatorSeconds: Number(generateNs) / 1e9,
    storeBytes,
    segments,
    extrapolation,
  };

  function closeSegment(): void {
    const cpu = cpuSince(segment.cpu, bench.name);
    segments.push({ patients: segment.patients, resources: segment.resources, seconds: cpu.seconds, resourcesPerSecond: segment.resources / cpu.seconds, otherCpuSeconds: cpu.otherCpu });
    log(
      `  seeding: ${patients} patients, ${resources} resources, last tenth ${Math.round(segment.resources / cpu.seconds)}/s ` +
        `(other load ${cpu.otherCpu.toFixed(1)} CPU-s)`,
    );
    segment = { patients: 0, resources: 0, cpu: cpuSnapshot() };
  }
}

function measure(label: string, resources: number, cpu: CpuUsage, counts?: Measurement['counts'], note?: string): Measurement {
  return {
    label,
    resources,
    seconds: cpu.seconds,
    resourcesPerSecond: resources / cpu.seconds,
    cpu: {
      nodeSeconds: cpu.nodeCpu,
      postgresBackendSeconds: cpu.pgBackendCpu,
      postgresSharedSeconds: cpu.pgSharedCpu,
      otherSeconds: cpu.otherCpu,
      nodeMicrosPerResource: (cpu.nodeCpu / resources) * 1e6,
      postgresMicrosPerResource: ((cpu.pgBackendCpu + cpu.pgSharedCpu) / resources) * 1e6,
    },
    ...(counts ? { counts } : {}),
    ...(note ? { note } : {}),
  };
}

function report(label: string, resources: number, cpu: CpuUsage, counts?: Measurement['counts'], note?: string): Measurement {
  const m = measure(label, resources, cpu, counts, note);
  log(
    `${label}: ${resources} in ${m.seconds.toFixed(2)} s = ${Math.round(m.resourcesPerSecond)}/s ` +
      `(CPU µs/resource: node ${m.cpu.nodeMicrosPerResource.toFixed(0)}, postgres ${m.cpu.postgresMicrosPerResource.toFixed(0)}; ` +
      `other load ${cpu.otherCpu.toFixed(1)} CPU-s)${counts ? ` ${JSON.stringify(counts)}` : ''}`,
  );
  return m;
}

function chunk<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

function nonNegativeInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${flag}: expected a non-negative integer, got ${value}`);
    process.exit(2);
  }
  return n;
}

function log(line: string): void {
  console.log(`[bench] ${line}`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function minutes(seconds: number): string {
  return seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(0)} s`;
}
