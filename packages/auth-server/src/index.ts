export { createAuthServer, SMART_STYLE, type AuthServer, type AuthServerDeps } from './app.js';
export { authServerMigrations } from './migrations/index.js';
export { smartConfiguration } from './smart/smart-configuration.js';
export { createLaunch, checkLaunch, consumeLaunch, LAUNCH_TTL_SECONDS } from './launch/launch-store.js';
export { rotateSigningKey, loadSigningKeys, publishedKeyResolver, signingKeyFingerprint } from './oidc/signing-keys.js';
export { purgeExpired } from './oidc/knex-adapter.js';
export type { PatientSummary } from './interactions/routes.js';
export { knexAdapterFactory } from './oidc/knex-adapter.js';
export { recordControlApis, type RecordControlApis, type RecordControlApiDeps } from './portal/record-controls-api.js';
