/**
 * GET /fhir/metadata: capability-statement.json at the repository root, generated from the search
 * registry by scripts/src/generate-capability-statement.ts (so it advertises exactly what the
 * parser accepts), with this deployment's FHIR base and issuer URLs filled in, and the rate limits
 * in force (RL-1: published, the same for every client of a class).
 */
import { readFileSync } from 'node:fs';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { rateLimitPolicyDocument, type AppConfig, type RateLimitPolicies } from '@patient-access/consent';

// Same depth from src/http (tests) and dist/http (compiled): packages/fhir-api/{src,dist}/http.
const TEMPLATE_URL = new URL('../../../../capability-statement.json', import.meta.url);

let template: string | undefined;
/** Filled statements by the policy object they summarize (none: NO_LIMITS), then by the URLs: no serialization per request. */
const filled = new WeakMap<object, Map<string, CapabilityStatement>>();
const NO_LIMITS = {};

/**
 * `serving` is false when the app runs without token keys: then no resource route exists, and the
 * statement advertises none (only what works). `rateLimits`: the policy the routes enforce,
 * summarized in the REST documentation with where its full text is (GET /rate-limits).
 */
export function capabilityStatement(config: Pick<AppConfig, 'fhirBaseUrl' | 'issuerUrl' | 'publicUrl'>, serving = true, rateLimits?: RateLimitPolicies): CapabilityStatement {
  if (!serving) {
    const full = capabilityStatement(config, true, rateLimits);
    return { ...full, rest: (full.rest ?? []).map((r) => ({ ...r, resource: [], operation: [] })) };
  }
  let byUrls = filled.get(rateLimits ?? NO_LIMITS);
  if (!byUrls) filled.set(rateLimits ?? NO_LIMITS, (byUrls = new Map()));
  const key = `${config.fhirBaseUrl} ${config.issuerUrl} ${config.publicUrl}`;
  let statement = byUrls.get(key);
  if (!statement) {
    template ??= readFileSync(TEMPLATE_URL, 'utf8');
    // Substituted as JSON string content, so a URL can never break out of its string.
    const asJson = (s: string) => JSON.stringify(s).slice(1, -1);
    const text = template.replaceAll('{{FHIR_BASE_URL}}', asJson(config.fhirBaseUrl)).replaceAll('{{ISSUER_URL}}', asJson(config.issuerUrl));
    statement = JSON.parse(text) as CapabilityStatement;
    if (rateLimits) {
      const rest = statement.rest ?? [];
      statement.rest = rest.map((r, i) => (i === 0 ? { ...r, documentation: `${r.documentation ?? ''} ${rateLimitSummary(rateLimits, config.publicUrl)}`.trim() } : r));
    }
    byUrls.set(key, statement);
  }
  return statement;
}

/** The FHIR limiters in a sentence each, then where the whole policy is published. */
function rateLimitSummary(policies: RateLimitPolicies, publicUrl: string): string {
  const doc = rateLimitPolicyDocument(policies);
  const fhir = doc.limits.filter((l) => l.limiter === 'fhir' || l.limiter === 'fhirUnauthenticated');
  const each = fhir.map((l) => `${l.limit} requests per ${l.windowSeconds} s per ${l.per} for ${l.appliesTo}`);
  return `Rate limits: ${each.join('; ')}. ${doc.policy} ${doc.responses} The whole policy: ${publicUrl}/rate-limits.`;
}
