/** `npm run import -- <path>…`: imports FHIR Bundles, resources and ndjson files or folders. */
import { importPath, type ImportReport } from '@patient-access/fhir-api';
import { cliLogger, configOrExit, openMigrated } from './runtime.js';

const paths = process.argv.slice(2);
if (!paths.length) {
  console.error('usage: npm run import -- <file-or-folder> [...]');
  process.exit(2);
}
const config = configOrExit();
const db = await openMigrated(config, cliLogger(config, 'import'));
const tty = process.stderr.isTTY;
let failed = false;
try {
  for (const path of paths) {
    const report = await importPath(db, path, {
      fhirBaseUrl: config.fhirBaseUrl,
      releasePolicy: config.policy.releasePolicy,
      onProgress: tty ? (done, total, n) => drawProgress(done, total, n) : undefined,
    });
    if (tty) process.stderr.write('\n');
    printReport(path, report);
    if (report.problems.length) failed = true;
  }
} finally {
  await db.destroy();
}
process.exit(failed ? 1 : 0);

function drawProgress(done: number, total: number, resources: number): void {
  const width = 30;
  const ratio = total ? Math.min(1, done / total) : 1;
  const bar = '#'.repeat(Math.round(ratio * width)).padEnd(width, '.');
  process.stderr.write(`\r[${bar}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${resources.toLocaleString('en-US')} resources`);
}

function printReport(path: string, r: ImportReport): void {
  console.log(`Imported ${path}: ${r.files} file(s), ${r.resources} resource(s) in ${r.seconds.toFixed(1)} s (${Math.round(r.resources / Math.max(r.seconds, 0.001))}/s)`);
  console.log(`  created ${r.created}, updated ${r.updated}, unchanged ${r.unchanged}`);
  for (const [type, n] of Object.entries(r.byType).sort()) console.log(`  ${type.padEnd(28)} ${n}`);
  if (r.problems.length) {
    console.log(`  ${r.problems.length} problem(s):`);
    for (const p of r.problems) console.log(`  ${p.file} ${p.location}: ${p.message}`);
  }
}
