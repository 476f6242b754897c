/** Shared start-up steps of the command-line entry points: configuration, database, migrations. */
import {
  ConfigError,
  consentMigrations,
  createLogger,
  loadConfig,
  migrateLatest,
  openDatabase,
  type AppConfig,
  type Database,
  type Logger,
  type Migration,
} from '@patient-access/consent';
import { authServerMigrations } from '@patient-access/auth-server';
import { fhirApiMigrations } from '@patient-access/fhir-api';

export const allMigrations: Migration[] = [...consentMigrations, ...fhirApiMigrations, ...authServerMigrations];

/** Loads the configuration or exits with one clear line per wrong setting. */
export function configOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

export async function openMigrated(config: AppConfig, log: Logger): Promise<Database> {
  const db = openDatabase(config.database);
  const applied = await migrateLatest(db, allMigrations);
  if (applied.length) log.info({ applied }, 'migrations applied');
  return db;
}

export function cliLogger(config: AppConfig, name: string): Logger {
  return createLogger(config.logLevel, name);
}
