/** `npm run import -- <path>…`: imports FHIR Bundles, resources and ndjson files or folders. */
import { importPath, type ImportReport } from '@patient-access/fhir-api';
import { cliLogger, configOrExit, openMigrated } from './runtime.js';

const USAGE = 'usage: npm run import -- [--source-base <FHIR base URL of the exporting system>]… <file-or-folder> [...]';
const paths: string[] = [];
const sourceBaseUrls: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg !== '--source-base' && !arg.startsWith('--source-base=')) {
    paths.push(arg);
    continue;
  }
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
  let url: URL | undefined;
  try {
    url = value ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
    console.error(`--source-base: expected the http(s) FHIR base URL of the system the data comes from, got ${value === undefined ? 'nothing' : `"${value}"`}\n${USAGE}`);
    process.exit(2);
  }
  sourceBaseUrls.push(value!.replace(/\/+$/, ''));
}
if (!paths.length) {
  console.error(USAGE);
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
      sourceBaseUrls,
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
  if (r.unassigned.count) {
    const more = r.unassigned.count > r.unassigned.examples.length ? ', …' : '';
    console.log(`  warning: ${r.unassigned.count} resource(s) name no patient of this server, so no patient sees them: ${r.unassigned.examples.join(', ')}${more}`);
    console.log('  (an absolute reference to the exporting server stays foreign unless imported with --source-base <its FHIR base>)');
  }
  if (r.problems.length) {
    console.log(`  ${r.problems.length} problem(s):`);
    for (const p of r.problems) console.log(`  ${p.file} ${p.location}: ${p.message}`);
  }
}
