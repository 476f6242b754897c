/**
 * `npm run audit:verify`: walks every patient's access-log hash chain (AUD-2, SEC-3) and exits
 * non-zero when a row was altered, deleted or reordered, or a chain head does not match.
 *
 *   --write-anchors <file>  also save every chain's current head; keep the file outside the database
 *   --anchors <file>        also check the heads saved earlier (finds a removed tail or a removed chain)
 *   --json                  print the result as JSON
 *
 * Exit status: 0 verified, 1 problems found, 2 usage, configuration or database error.
 * With the embedded database, stop the server first (the data folder has one user at a time).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { accessLogAnchors, openDatabase, verifyAccessLogReport, type AccessLogAnchor } from '@patient-access/consent';
import { configOrExit } from './runtime.js';

const { values } = parseArgs({
  options: {
    anchors: { type: 'string' },
    'write-anchors': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log('Usage: npm run audit:verify -- [--anchors <file>] [--write-anchors <file>] [--json]');
  process.exit(0);
}

function readAnchors(file: string): AccessLogAnchor[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { anchors?: AccessLogAnchor[] };
  if (!Array.isArray(parsed.anchors)) throw new Error(`${file}: no "anchors" list`);
  return parsed.anchors;
}

const config = configOrExit();
const db = openDatabase(config.database);
let status = 0;
try {
  const tables = (await db.raw(`select to_regclass('access_log') as log, to_regclass('access_log_head') as head`)) as { rows: { log: string | null; head: string | null }[] };
  if (!tables.rows[0]?.log || !tables.rows[0]?.head) {
    console.error('No access log in this database (run `npm run migrate` first).');
    status = 2;
  } else {
    const anchors = values.anchors ? readAnchors(values.anchors) : undefined;
    const result = await verifyAccessLogReport(db, anchors ? { anchors } : {});
    if (values['write-anchors']) {
      const current = await accessLogAnchors(db);
      writeFileSync(values['write-anchors'], JSON.stringify({ createdAt: new Date().toISOString(), anchors: current }, null, 1));
    }
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
    } else if (result.problems.length === 0) {
      console.log(`Access log verified: ${result.rows} rows in ${result.chains} chains, no problems.`);
    } else {
      for (const p of result.problems) console.log(`${p.kind}\tpatient=${JSON.stringify(p.patientId)}${p.seq === undefined ? '' : `\tseq=${p.seq}`}\t${p.message}`);
      console.log(`${result.problems.length}${result.truncated ? '+' : ''} problems in ${result.rows} rows, ${result.chains} chains.`);
    }
    status = result.problems.length ? 1 : 0;
  }
} catch (err) {
  console.error(`audit:verify failed: ${err instanceof Error ? err.message : String(err)}`);
  status = 2;
} finally {
  await db.destroy();
}
process.exit(status);
