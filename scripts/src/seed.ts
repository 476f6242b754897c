/** `npm run seed [-- --patients N]`: seeds the demo dataset into an empty database. */
import { join } from 'node:path';
import { countAccounts, dataDirectory } from '@patient-access/consent';
import { seedDemo } from './demo/seed-demo.js';
import { cliLogger, configOrExit, openMigrated } from './runtime.js';

const config = configOrExit();
const args = process.argv.slice(2);
const flag = args.indexOf('--patients');
const patients = flag >= 0 ? Number(args[flag + 1]) : config.demoPatients;
if (!Number.isInteger(patients) || patients < 0) {
  console.error('--patients: expected a non-negative integer');
  process.exit(2);
}
const db = await openMigrated(config, cliLogger(config, 'seed'));
try {
  if ((await countAccounts(db)) > 0) {
    console.error('The database already has accounts; the demo dataset is only seeded into an empty database.');
    process.exit(1);
  }
  const started = Date.now();
  const { resources, accounts } = await seedDemo(db, {
    patients,
    fhirBaseUrl: config.fhirBaseUrl,
    accountsFile: join(dataDirectory(), 'demo-accounts.json'),
  });
  console.log(`Seeded ${resources} resources and ${accounts.length} accounts in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
} finally {
  await db.destroy();
}
