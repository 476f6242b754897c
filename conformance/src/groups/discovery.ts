/**
 * SMART on FHIR discovery (catalogue §3.1, g10 capability lists §4.1/§4.3, US Core §5.8) and the
 * OpenID Connect discovery the launches rely on.
 */
import { importJWK, type JWK } from 'jose';
import { contentTypeProblem, corsProblem, expectStatus, isObject, must, requiredFieldProblems } from '../checks.js';
import { jsonObject } from '../http.js';
import { ensure, test, type GroupDef, type TestContext } from '../runner.js';
import type { Suite } from '../suite.js';

export const G10_STANDALONE_CAPABILITIES = [
  'launch-standalone', 'client-public', 'client-confidential-symmetric', 'client-confidential-asymmetric', 'sso-openid-connect',
  'context-standalone-patient', 'permission-offline', 'permission-patient', 'authorize-post', 'permission-v2', 'permission-v1',
];

export const G10_EHR_CAPABILITIES = [
  'launch-ehr', 'client-confidential-symmetric', 'client-confidential-asymmetric', 'sso-openid-connect', 'context-banner', 'context-style',
  'context-ehr-patient', 'permission-offline', 'permission-user', 'authorize-post', 'permission-v2', 'permission-v1', 'context-ehr-encounter',
];

const RESOURCE_SCOPE = /^(patient|user|system|\*)\/(\*|[A-Z][A-Za-z]+)\.(c?r?u?d?s?|read|write|\*)(\?.*)?$/;

export function discoveryGroup(suite: Suite): GroupDef {
  let config: Record<string, unknown> | undefined;
  const need = (t: { skip(m: string): never }) => config ?? t.skip('the SMART configuration was not retrieved');

  return {
    id: 'discovery',
    title: 'SMART on FHIR Discovery',
    description: 'GET {fhirBase}/.well-known/smart-configuration and the OpenID Connect configuration (SMART App Launch 2.2 §2.1, Inferno smart_discovery_stu2_2).',
    tests: [
      test('discovery-well-known', 'FHIR server makes SMART configuration available from well-known endpoint', async (t: TestContext) => {
        const res = await t.http.get(`${suite.fhirBase}/.well-known/smart-configuration`, { headers: { accept: 'application/json' } });
        expectStatus(res, 200);
        must(contentTypeProblem(res.headers, 'application/json'));
        const body = jsonObject(res);
        ensure(body, 'the body is not a JSON object');
        config = body;
        await suite.smart(t);
      }, { ref: 'well_known_endpoint' }),

      test('discovery-required-fields', 'Well-known configuration contains required fields', async (t: TestContext) => {
        const c = need(t);
        const problems = requiredFieldProblems(c, {
          authorization_endpoint: 'string', token_endpoint: 'string', capabilities: 'array', grant_types_supported: 'array', code_challenge_methods_supported: 'array',
        });
        const grants = (c['grant_types_supported'] as unknown[] | undefined) ?? [];
        if (!grants.includes('authorization_code')) problems.push('grant_types_supported does not include authorization_code');
        const methods = (c['code_challenge_methods_supported'] as unknown[] | undefined) ?? [];
        if (!methods.includes('S256')) problems.push('code_challenge_methods_supported does not include S256');
        if (methods.includes('plain')) problems.push('code_challenge_methods_supported includes plain');
        const caps = (c['capabilities'] as unknown[] | undefined) ?? [];
        if (caps.some((x) => typeof x !== 'string')) problems.push('capabilities holds a value that is not a string');
        if (caps.includes('sso-openid-connect')) {
          if (typeof c['issuer'] !== 'string') problems.push('sso-openid-connect is declared but issuer is not a string');
          if (typeof c['jwks_uri'] !== 'string') problems.push('sso-openid-connect is declared but jwks_uri is not a string');
        } else if (c['issuer'] !== undefined) t.warn('issuer is present although sso-openid-connect is not declared');
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'well_known_capabilities_stu2' }),

      test('discovery-cors-well-known', 'SMART configuration endpoint enables CORS', async (t: TestContext) => {
        const res = await t.http.get(`${suite.fhirBase}/.well-known/smart-configuration`, { headers: { accept: 'application/json', origin: suite.inputs.origin } });
        expectStatus(res, 200);
        must(corsProblem(res.headers, suite.inputs.origin));
      }, { ref: 'smart_cors_well_known_endpoint', optional: true }),

      test('discovery-cors-metadata', 'CapabilityStatement endpoint enables CORS', async (t: TestContext) => {
        const res = await t.http.get(`${suite.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json', origin: suite.inputs.origin } });
        expectStatus(res, 200);
        must(corsProblem(res.headers, suite.inputs.origin));
      }, { ref: 'smart_cors_metadata_request', optional: true }),

      test('discovery-g10-standalone-capabilities', 'Well-known configuration declares support for required capabilities (standalone patient app)', async (t: TestContext) => {
        const caps = new Set((need(t)['capabilities'] as unknown[] | undefined) ?? []);
        const missing = G10_STANDALONE_CAPABILITIES.filter((c) => !caps.has(c));
        ensure(missing.length === 0, `capabilities is missing ${missing.join(', ')}`);
      }, { ref: 'g10_smart_well_known_capabilities' }),

      test('discovery-g10-ehr-capabilities', 'Well-known configuration declares support for required capabilities (EHR practitioner app)', async (t: TestContext) => {
        const caps = new Set((need(t)['capabilities'] as unknown[] | undefined) ?? []);
        const missing = G10_EHR_CAPABILITIES.filter((c) => !caps.has(c));
        ensure(missing.length === 0, `capabilities is missing ${missing.join(', ')}`);
      }, { ref: 'g10_smart_well_known_capabilities' }),

      test('discovery-us-core-scopes', 'Well-known configuration lists resource scopes and an introspection endpoint', async (t: TestContext) => {
        const c = need(t);
        ensure(Array.isArray(c['scopes_supported']), 'scopes_supported is not an array');
        const resourceScopes = (c['scopes_supported'] as unknown[]).filter((s) => typeof s === 'string' && RESOURCE_SCOPE.test(s));
        ensure(resourceScopes.length > 0, 'scopes_supported has no FHIR resource scope');
        ensure(typeof c['introspection_endpoint'] === 'string', 'introspection_endpoint is not a string');
      }, { ref: 'us_core_smart_well_known_capabilities' }),

      test('discovery-checklist', 'Well-known configuration carries every endpoint and grant the (g)(10) scenarios use', async (t: TestContext) => {
        const c = need(t);
        const problems: string[] = [];
        for (const key of ['issuer', 'jwks_uri', 'registration_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'management_endpoint']) {
          if (typeof c[key] !== 'string') problems.push(`${key} is missing`);
        }
        const grants = (c['grant_types_supported'] as unknown[] | undefined) ?? [];
        for (const g of ['authorization_code', 'refresh_token', 'client_credentials']) if (!grants.includes(g)) problems.push(`grant_types_supported lacks ${g}`);
        const methods = (c['code_challenge_methods_supported'] as unknown[] | undefined) ?? [];
        if (methods.length !== 1 || methods[0] !== 'S256') problems.push(`code_challenge_methods_supported is ${JSON.stringify(methods)}, expected ["S256"]`);
        const auth = (c['token_endpoint_auth_methods_supported'] as unknown[] | undefined) ?? [];
        for (const m of ['client_secret_basic', 'private_key_jwt']) if (!auth.includes(m)) problems.push(`token_endpoint_auth_methods_supported lacks ${m}`);
        const algs = (c['token_endpoint_auth_signing_alg_values_supported'] as unknown[] | undefined) ?? [];
        for (const a of ['RS384', 'ES384']) if (!algs.includes(a)) problems.push(`token_endpoint_auth_signing_alg_values_supported lacks ${a}`);
        const caps = new Set((c['capabilities'] as unknown[] | undefined) ?? []);
        for (const cap of ['context-ehr-encounter', 'permission-user', 'launch-ehr']) if (!caps.has(cap)) problems.push(`capabilities lacks ${cap}`);
        ensure(problems.length === 0, problems.join('; '));
      }),

      test('discovery-openid-configuration', 'OpenID Connect configuration of the SMART issuer is available and complete', async (t: TestContext) => {
        const c = need(t);
        if (typeof c['issuer'] !== 'string') t.skip('the SMART configuration names no issuer');
        const res = await t.http.get(`${(c['issuer'] as string).replace(/\/+$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
        expectStatus(res, 200);
        must(contentTypeProblem(res.headers, 'application/json'));
        const oidc = jsonObject(res);
        ensure(oidc, 'not a JSON object');
        const problems: string[] = [];
        for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
          if (oidc[key] === undefined) problems.push(`${key} is missing`);
        }
        if (!((oidc['id_token_signing_alg_values_supported'] as unknown[] | undefined) ?? []).includes('RS256')) problems.push('id_token_signing_alg_values_supported lacks RS256');
        if (oidc['issuer'] !== c['issuer']) problems.push(`issuer "${String(oidc['issuer'])}" differs from the SMART configuration's "${String(c['issuer'])}"`);
        for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
          if (c[key] !== undefined && oidc[key] !== c[key]) problems.push(`${key} differs between the SMART (${String(c[key])}) and OpenID (${String(oidc[key])}) configurations`);
        }
        ensure(problems.length === 0, problems.join('; '));
      }),

      test('discovery-jwks', 'The issuer publishes a JWKS with importable RSA keys', async (t: TestContext) => {
        const c = need(t);
        if (typeof c['jwks_uri'] !== 'string') t.skip('no jwks_uri');
        const res = await t.http.get(c['jwks_uri'] as string, { headers: { accept: 'application/json' } });
        expectStatus(res, 200);
        const jwks = jsonObject(res);
        ensure(jwks && Array.isArray(jwks['keys']), 'the JWKS has no keys array');
        const keys = (jwks['keys'] as unknown[]).filter(isObject);
        const rsa = keys.filter((k) => k['kty'] === 'RSA');
        ensure(rsa.length > 0, 'the JWKS has no RSA key');
        for (const k of rsa) {
          try {
            await importJWK(k as JWK, 'RS256');
          } catch (err) {
            t.fail(`RSA key ${String(k['kid'])} does not import: ${(err as Error).message}`);
          }
          if ('d' in k || 'p' in k) t.fail(`key ${String(k['kid'])} in the public JWKS carries private parameters`);
        }
      }, { ref: 'smart_openid_retrieve_jwks' }),
    ],
  };
}
