/**
 * `npm start`: one process serving the authorization server (under /auth) and the FHIR API
 * (under /fhir) on one port. Migrates, seeds the demo dataset on first start with an empty database, then listens.
 * SIGTERM/SIGINT: stop accepting, finish in-flight requests, close the pool.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { countAccounts, createAccessLogWriter, createRateLimits, dataDirectory } from '@patient-access/consent';
import { seedDemo, type DemoAccount } from './demo/seed-demo.js';
import { readFile } from 'node:fs/promises';
import { cliLogger, configOrExit, openMigrated } from './runtime.js';
import { createServerApp } from './server.js';

const config = configOrExit();
const log = cliLogger(config, 'patient-access');
const db = await openMigrated(config, log);
const accountsFile = join(dataDirectory(), 'demo-accounts.json');

let demoAccounts: DemoAccount[] = [];
if (config.demoData) {
  if ((await countAccounts(db)) === 0) {
    log.info({ patients: config.demoPatients }, 'seeding the demo dataset (first start)');
    demoAccounts = (await seedDemo(db, { patients: config.demoPatients, fhirBaseUrl: config.fhirBaseUrl, accountsFile })).accounts;
  } else {
    demoAccounts = await readFile(accountsFile, 'utf8')
      .then((t) => (JSON.parse(t) as { accounts: DemoAccount[] }).accounts)
      .catch(() => []);
  }
}

const rateLimits = createRateLimits({
  redisUrl: config.redisUrl,
  policies: config.rateLimits.policies,
  instances: config.rateLimits.instances,
  onStoreError: (err: unknown) => log.warn({ err: String(err) }, 'rate-limit store unavailable; in-memory insurance limits apply'),
});
const accessLog = createAccessLogWriter(db);
const app = await createServerApp({ config, db, log, rateLimits, accessLog });
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port, config.host, resolve);
});

console.log(`
Patient Access is running.
  FHIR base URL:         ${config.fhirBaseUrl}
  CapabilityStatement:   ${config.fhirBaseUrl}/metadata
  SMART discovery:       ${config.fhirBaseUrl}/.well-known/smart-configuration
  Authorization server:  ${config.issuerUrl} (OpenID discovery at ${config.issuerUrl}/.well-known/openid-configuration)
  Database:              ${config.database.kind === 'embedded' ? `embedded PostgreSQL (PGlite) in ${config.database.dataDir}` : 'PostgreSQL (DATABASE_URL)'}`);
if (demoAccounts.length) {
  console.log(`\nDemo logins (demo dataset only; also in ${accountsFile}):`);
  for (const a of demoAccounts) {
    const acts = a.actsFor.length ? `  acts for ${a.actsFor.map((r) => `Patient/${r.patientId} (${r.basis})`).join(', ')}` : '';
    console.log(`  ${a.username.padEnd(20)} password ${a.password}  TOTP secret ${a.totpSecret}  ${a.fhirUser}${acts}`);
  }
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    app.close();
    server.close(async () => {
      await accessLog.close();
      await rateLimits.close();
      await db.destroy();
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 15_000).unref();
  });
}
