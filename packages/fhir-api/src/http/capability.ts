/**
 * GET /fhir/metadata: capability-statement.json at the repository root, generated from the search
 * registry by scripts/src/generate-capability-statement.ts (so it advertises exactly what the
 * parser accepts), with this deployment's FHIR base and issuer URLs filled in.
 */
import { readFileSync } from 'node:fs';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { AppConfig } from '@patient-access/consent';

// Same depth from src/http (tests) and dist/http (compiled): packages/fhir-api/{src,dist}/http.
const TEMPLATE_URL = new URL('../../../../capability-statement.json', import.meta.url);

let template: string | undefined;
const filled = new Map<string, CapabilityStatement>();

/**
 * `serving` is false when the app runs without token keys: then no resource route exists, and the
 * statement advertises none (only what works).
 */
export function capabilityStatement(config: Pick<AppConfig, 'fhirBaseUrl' | 'issuerUrl'>, serving = true): CapabilityStatement {
  if (!serving) {
    const full = capabilityStatement(config);
    return { ...full, rest: (full.rest ?? []).map((r) => ({ ...r, resource: [], operation: [] })) };
  }
  const key = `${config.fhirBaseUrl} ${config.issuerUrl}`;
  let statement = filled.get(key);
  if (!statement) {
    template ??= readFileSync(TEMPLATE_URL, 'utf8');
    // Substituted as JSON string content, so a URL can never break out of its string.
    const asJson = (s: string) => JSON.stringify(s).slice(1, -1);
    const text = template.replaceAll('{{FHIR_BASE_URL}}', asJson(config.fhirBaseUrl)).replaceAll('{{ISSUER_URL}}', asJson(config.issuerUrl));
    statement = JSON.parse(text) as CapabilityStatement;
    filled.set(key, statement);
  }
  return statement;
}
