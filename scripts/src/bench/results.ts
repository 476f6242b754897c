/** scripts/bench/results.json (everything measured) and scripts/bench/RESULTS.md (the table). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Measurement {
  label: string;
  resources: number;
  seconds: number;
  resourcesPerSecond: number;
  cpu: {
    nodeSeconds: number;
    postgresBackendSeconds: number;
    postgresSharedSeconds: number;
    /** Everything else running on the machine meanwhile. */
    otherSeconds: number;
    nodeMicrosPerResource: number;
    postgresMicrosPerResource: number;
  };
  counts?: { created: number; updated: number; unchanged: number };
  note?: string;
}

export interface BenchResults {
  date: string;
  machine: {
    nproc: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    postgres: string;
    postgresSettings: Record<string, string>;
  };
  options: { seedPatients: number; samplePatients: number; resourcesPerPatient: number | null; patientsPerTransaction: number };
  target: { resourcesPerSecond: number; patients: number; resources: number };
  sample: { patients: number; resources: number; jsonBytes: number; transactions: number };
  generation: Measurement;
  baseline: Measurement[];
  writePath: Measurement[];
  importPath: Measurement[];
  seed?: {
    total: Measurement;
    generatorSeconds: number;
    storeBytes: number;
    segments: { patients: number; resources: number; seconds: number; resourcesPerSecond: number; otherCpuSeconds: number }[];
    extrapolation: {
      basis: string;
      resourcesPerPatient: number;
      storeBytesPerResource: number;
      targetResources: number;
      secondsAtOverallRate: number;
      secondsAtLastTenthRate: number;
      secondsAtSlowestTenthRate: number;
      storeGiBAtTarget: number;
      patientsAtThisDensityFor10k: number;
      resourcesFor10kPatientsAtThisDensity: number;
      secondsFor10kPatientsAtOverallRate: number;
    };
  };
}

export async function writeResults(dir: string, results: BenchResults): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'results.json'), JSON.stringify(results, roundNumbers, 2) + '\n');
  await writeFile(join(dir, 'RESULTS.md'), markdown(results));
}

function roundNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value;
}

function markdown(r: BenchResults): string {
  const base = r.baseline[0]!;
  const rate = (m: Measurement) => Math.round(m.resourcesPerSecond).toLocaleString('en-US');
  const ratio = (m: Measurement) => `${((m.resourcesPerSecond / base.resourcesPerSecond) * 100).toFixed(0)} %`;
  const row = (m: Measurement, withRatio = true) =>
    `| ${m.label} | ${m.resources.toLocaleString('en-US')} | ${m.seconds.toFixed(2)} | **${rate(m)}** | ${withRatio ? ratio(m) : '–'} | ` +
    `${m.cpu.nodeMicrosPerResource.toFixed(0)} | ${m.cpu.postgresMicrosPerResource.toFixed(0)} | ${m.cpu.otherSeconds.toFixed(1)} |`;
  const importNew = r.importPath[0]!;
  const verdict = importNew.resourcesPerSecond >= r.target.resourcesPerSecond ? 'met' : 'NOT met';
  const lines = [
    '# Import and seeding benchmark',
    '',
    'Written by `npm run bench` (scripts/src/bench/import-bench.ts); the raw figures are in `results.json`.',
    'Re-run with `npm run bench` (options: `-- --patients N --resources-per-patient N --sample-patients N`).',
    '',
    `- Date: ${r.date}`,
    `- Machine: ${r.machine.nproc} cores (\`nproc\`), ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB RAM; Node ${r.machine.node}; ${r.machine.postgres} ` +
      `(${Object.entries(r.machine.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ')}), on the same machine`,
    `- Sample for the first three sections: ${r.sample.patients} patients (the 8 hard cases + ${r.options.samplePatients} generated), ` +
      `${r.sample.resources.toLocaleString('en-US')} resources, ${(r.sample.jsonBytes / 2 ** 20).toFixed(1)} MiB of JSON ` +
      `(${Math.round(r.sample.jsonBytes / r.sample.resources)} bytes/resource), ${r.sample.transactions} transactions of ${r.options.patientsPerTransaction} patients; ` +
      `generated beforehand in ${r.generation.seconds.toFixed(2)} s (${rate(r.generation)}/s), not timed with the writes`,
    '- importPath: one ndjson file per resource type (as a bulk-data export writes them); each line parsed once and validated on the importing thread',
    `- Target (issue 2): at least ${r.target.resourcesPerSecond.toLocaleString('en-US')} resources/s into PostgreSQL through the import path: **${verdict}** ` +
      `(${rate(importNew)}/s for new resources through \`importPath\`).`,
    '',
    '**Caveats.** Node, PostgreSQL and everything else share the same 2 cores, and the VM is noisy (see ../shared/docs/performance.md).',
    'The last column is the CPU time used by other processes during the measurement (e.g. another test run); when it is not near zero, the figure is low.',
    'Figures are single runs: treat differences under about 20 % as noise.',
    '',
    '| measurement | resources | seconds | resources/s | vs baseline | Node CPU µs/resource | PostgreSQL CPU µs/resource | other CPU-s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.baseline.map((m) => row(m)),
    ...r.writePath.map((m) => row(m)),
    ...r.importPath.map((m) => row(m)),
    ...(r.seed ? [row(r.seed.total)] : []),
    '',
    `"vs baseline" is relative to the first row (${base.label}). PostgreSQL CPU counts the backends serving the benchmark database plus the server's WAL writer, ` +
      'checkpointer and background writer. The write-path and seeding rows include compartment resolution, search-index extraction (FHIRPath) ' +
      'and five tables with their indexes; the import rows also include reading, JSON parsing and FHIR structure validation of every resource.',
    '',
    cpuReading(r),
  ];
  if (r.seed) {
    const s = r.seed;
    const e = s.extrapolation;
    lines.push(
      '',
      `## Seeding run (${r.options.seedPatients} generated patients${r.options.resourcesPerPatient ? `, ${r.options.resourcesPerPatient} resources/patient on average` : ', demo density'})`,
      '',
      `Generated and written as it streams (generator time ${s.generatorSeconds.toFixed(1)} s of ${s.total.seconds.toFixed(1)} s), ${r.options.patientsPerTransaction} patients per transaction, ` +
        `store size afterwards ${(s.storeBytes / 2 ** 20).toFixed(0)} MiB (${Math.round(e.storeBytesPerResource)} bytes/resource with indexes).`,
      '',
      '| tenth | patients | resources | seconds | resources/s | other CPU-s |',
      '|---:|---:|---:|---:|---:|---:|',
      ...s.segments.map(
        (g, i) =>
          `| ${i + 1} | ${g.patients} | ${g.resources.toLocaleString('en-US')} | ${g.seconds.toFixed(1)} | ${Math.round(g.resourcesPerSecond).toLocaleString('en-US')} | ${g.otherCpuSeconds.toFixed(1)} |`,
      ),
      '',
      `**Extrapolation to ${e.targetResources.toLocaleString('en-US')} resources** (${r.target.patients.toLocaleString('en-US')} patients at ` +
        `${Math.round(e.targetResources / r.target.patients)} resources each), from the measured rates only:`,
      '',
      `- at the overall rate: ${duration(e.secondsAtOverallRate)}; at the last tenth's rate: ${duration(e.secondsAtLastTenthRate)}; at the slowest tenth's rate: ${duration(e.secondsAtSlowestTenthRate)}`,
      `- store size at ${Math.round(e.storeBytesPerResource)} bytes/resource: about ${e.storeGiBAtTarget.toFixed(1)} GiB`,
      `- ${r.target.patients.toLocaleString('en-US')} patients at this run's density (${e.resourcesPerPatient.toFixed(0)} resources/patient) is ` +
        `${e.resourcesFor10kPatientsAtThisDensity.toLocaleString('en-US')} resources: ${duration(e.secondsFor10kPatientsAtOverallRate)} at the overall rate`,
      `- ${e.basis}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Where the CPU of a new resource goes, from the measured rows only, and the ceiling that sets on this machine. */
function cpuReading(r: BenchResults): string {
  const write = r.writePath[0]!;
  const imp = r.importPath[0]!;
  const perResource = (m: Measurement) => m.cpu.nodeMicrosPerResource + m.cpu.postgresMicrosPerResource;
  const ceiling = (m: Measurement) => Math.round((r.machine.nproc * 1e6) / perResource(m)).toLocaleString('en-US');
  const importOnly = imp.cpu.nodeMicrosPerResource - write.cpu.nodeMicrosPerResource;
  return (
    `**Where the CPU goes (new resources).** writeResources: Node ${write.cpu.nodeMicrosPerResource.toFixed(0)} µs + PostgreSQL ` +
    `${write.cpu.postgresMicrosPerResource.toFixed(0)} µs = ${perResource(write).toFixed(0)} CPU-µs per resource, so even with both cores fully busy ` +
    `this machine cannot exceed about ${ceiling(write)}/s. importPath: Node ${imp.cpu.nodeMicrosPerResource.toFixed(0)} µs + PostgreSQL ` +
    `${imp.cpu.postgresMicrosPerResource.toFixed(0)} µs = ${perResource(imp).toFixed(0)} CPU-µs, a ceiling of about ${ceiling(imp)}/s; the ` +
    `${importOnly.toFixed(0)} µs more than writeResources are reading the files, parsing each line once and FHIR structure validation ` +
    '(structure-validator.ts: about 6 µs for a 1 KB resource measured on its own, where @medplum/core\'s validateResource took about 110 µs).'
  );
}

function duration(seconds: number): string {
  return seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(0)} s`;
}
