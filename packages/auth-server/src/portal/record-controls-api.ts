/**
 * One Koa application for the JSON APIs that control what a record shares, mounted at the
 * origin's root next to the delegation API (same portal session cookie):
 *   /v1/portal/restrictions, /v1/staff/restrictions   (IB-1)           restrictions-api.ts
 *   /v1/portal/disclosure-consents                    (IB-2)           disclosure-consents-api.ts
 *   /v1/portal/harm-holds, /v1/staff/harm-holds       (REL-2/3, PRX-5) harm-hold-api.ts
 *   /v1/portal/delegation-suspensions, /v1/staff/delegation-suspensions, /v1/staff/delegations (PRX-5) suspension-api.ts
 *   /v1/portal/result-delays                          (REL-5)          result-delay-api.ts
 *   /v1/staff/data-quality-holds, /v1/staff/result-releases (REL-4/5/6) data-quality-hold-api.ts
 * `prefixes` are the paths to route to `app` (mount them before the /v1/portal catch-all).
 */
import Koa from 'koa';
import type { AppConfig, Database, Logger } from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { serverSecret } from '../oidc/signing-keys.js';
import { proxyTrust } from '../proxy-trust.js';
import { jsonErrors, unexpectedErrors } from './api-support.js';
import { dataQualityHoldRouter } from './data-quality-hold-api.js';
import { disclosureConsentsRouter } from './disclosure-consents-api.js';
import { harmHoldRouter } from './harm-hold-api.js';
import { portalCookies } from './portal-session.js';
import { restrictionsRouter } from './restrictions-api.js';
import { resultDelayRouter } from './result-delay-api.js';
import { suspensionRouter } from './suspension-api.js';

export interface RecordControlApiDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  now?: () => Date;
  /** When given, staff requests naming an unknown patient are refused. */
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
}

export interface RecordControlApis {
  prefixes: readonly string[];
  app: Koa;
}

export async function recordControlApis(deps: RecordControlApiDeps): Promise<RecordControlApis> {
  const now = deps.now ?? (() => new Date());
  // The same secret (and so the same session) as the portal pages and the delegation API.
  const cookies = portalCookies(await serverSecret(deps.db, 'portal-session-key'), deps.config.auth.secureCookies);
  const shared = { db: deps.db, log: deps.log, now, cookies, ageRules: deps.config.policy.ageRules, consentRequiredLabels: deps.config.policy.consentRequiredLabels, ...(deps.describePatients ? { describePatients: deps.describePatients } : {}) };
  const app = new Koa();
  app.use(proxyTrust(app, deps.config.issuerUrl, deps.config.trustProxy));
  app.use(unexpectedErrors(deps.log));
  app.use(jsonErrors);
  for (const router of [restrictionsRouter(shared), disclosureConsentsRouter(shared), harmHoldRouter(shared), suspensionRouter(shared), resultDelayRouter(shared), dataQualityHoldRouter(shared)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return { prefixes: ['/v1/portal/restrictions', '/v1/portal/disclosure-consents', '/v1/portal/harm-holds', '/v1/portal/delegation-suspensions', '/v1/portal/result-delays', '/v1/staff'], app };
}
