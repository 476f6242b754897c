/** `npm run migrate`: applies every package's pending migrations. */
import { cliLogger, configOrExit, openMigrated } from './runtime.js';

const config = configOrExit();
const log = cliLogger(config, 'migrate');
const db = await openMigrated(config, log);
console.log('Database schema is up to date.');
await db.destroy();
