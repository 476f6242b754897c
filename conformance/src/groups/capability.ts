/** The US Core Capability Statement group (catalogue §5.1) with g10's required profile list (§4.4). */
import { expectStatus } from '../checks.js';
import { asResource } from '../fhir.js';
import { ensure, test, type GroupDef, type TestContext } from '../runner.js';
import type { Suite } from '../suite.js';
import { errorsOf, validateAgainst, loadUsCorePackage } from '../uscore/package.js';
import { G10_REQUIRED_PROFILES_6 } from '../uscore/profiles.js';
import { tlsTest } from './launch.js';

export function capabilityGroup(suite: Suite): GroupDef {
  let cs: Record<string, unknown> | undefined;
  const need = (t: TestContext) => {
    if (!cs) t.skip('no CapabilityStatement');
    return cs;
  };
  const profiles = () =>
    new Set(
      ((cs?.['rest'] as { resource?: { supportedProfile?: string[] }[] }[] | undefined) ?? [])
        .flatMap((r) => r.resource ?? [])
        .flatMap((r) => r.supportedProfile ?? [])
        .map((p) => p.split('|')[0]!),
    );
  return {
    id: 'capability',
    title: 'US Core Capability Statement',
    tests: [
      tlsTest(suite, 'capability-tls', 'FHIR server secured by transport layer security', 'standalone_auth_tls', async () => suite.fhirBase),
      test('capability-conformance-support', 'FHIR server supports the conformance interaction', async (t: TestContext) => {
        const res = await t.http.get(`${suite.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json' } });
        expectStatus(res, 200);
        const body = asResource(res);
        ensure(body?.resourceType === 'CapabilityStatement', `the body is a ${body?.resourceType}, not a CapabilityStatement`);
        cs = body;
        await loadUsCorePackage(suite.inputs.usCorePackage).catch(() => undefined);
        const errors = errorsOf(validateAgainst(body, undefined));
        ensure(errors.length === 0, `the CapabilityStatement is not valid FHIR R4: ${errors.slice(0, 5).map((e) => `${e.where} ${e.text}`).join('; ')}`);
      }, { ref: 'us_core_conformance_support' }),
      test('capability-fhir-version', 'FHIR server declares FHIR R4 (4.0.x)', async (t: TestContext) => {
        const c = need(t);
        ensure(typeof c['fhirVersion'] === 'string' && c['fhirVersion'].startsWith('4.0.'), `fhirVersion is ${JSON.stringify(c['fhirVersion'])}`);
      }, { ref: 'us_core_fhir_version' }),
      test('capability-json', 'FHIR server supports the JSON format', async (t: TestContext) => {
        const formats = (need(t)['format'] as string[] | undefined) ?? [];
        ensure(formats.some((f) => ['json', 'application/json', 'application/fhir+json'].includes(f)), `format is ${JSON.stringify(formats)}`);
      }, { ref: 'us_core_json_support' }),
      // FHIR R4 http.html#mime-type: a format the server does not serve is refused, not answered in another one.
      test('capability-format-refused', 'A request for a format the server does not return is answered in that format or refused with 406', async (t: TestContext) => {
        for (const [label, url, headers] of [
          ['Accept: application/fhir+xml', `${suite.fhirBase}/metadata`, { accept: 'application/fhir+xml' }],
          ['_format=xml', `${suite.fhirBase}/metadata?_format=xml`, {}],
        ] as const) {
          const res = await t.http.get(url, { headers });
          const type = res.headers.get('content-type') ?? '';
          ensure(res.status === 406 || (res.status === 200 && /xml/i.test(type)), `${label}: HTTP ${res.status} with ${type || 'no content type'}, expected XML or 406`);
        }
        const json = await t.http.get(`${suite.fhirBase}/metadata?_format=json`, { headers: { accept: 'application/fhir+xml' } });
        expectStatus(json, 200);
        ensure(asResource(json)?.resourceType === 'CapabilityStatement', '_format=json did not override Accept: application/fhir+xml');
      }),
      test('capability-gzip', 'Responses are gzip-compressed for a client that accepts gzip', async (t: TestContext) => {
        const res = await t.http.get(`${suite.fhirBase}/metadata`, { headers: { accept: 'application/fhir+json', 'accept-encoding': 'gzip' } });
        expectStatus(res, 200);
        ensure(res.headers.get('content-encoding') === 'gzip', `Content-Encoding is ${JSON.stringify(res.headers.get('content-encoding'))} for a CapabilityStatement of ${res.text.length} characters`);
        ensure(asResource(res)?.resourceType === 'CapabilityStatement', 'the decompressed body is not the CapabilityStatement');
      }, { optional: true }),
      test('capability-profiles', 'Capability Statement lists support for required US Core Profiles', async (t: TestContext) => {
        need(t);
        const listed = profiles();
        const missing = G10_REQUIRED_PROFILES_6.filter((p) => !listed.has(p));
        ensure(listed.has('http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'), 'supportedProfile does not include us-core-patient');
        ensure(missing.length === 0, `supportedProfile lacks ${missing.length} of ${G10_REQUIRED_PROFILES_6.length} required profiles: ${missing.map((m) => m.split('/').pop()).join(', ')}`);
      }, { ref: 'us_core_profile_support' }),
      test('capability-instantiates', 'Capability Statement instantiates the US Core Server CapabilityStatement', async (t: TestContext) => {
        const inst = (need(t)['instantiates'] as string[] | undefined) ?? [];
        ensure(inst.some((i) => i.split('|')[0] === 'http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server'), `instantiates is ${JSON.stringify(inst)}`);
      }, { ref: 'us_core_instantiate', optional: true }),
      test('capability-smart-security', 'Capability Statement declares SMART-on-FHIR security with OAuth URIs matching the SMART configuration', async (t: TestContext) => {
        const c = need(t);
        const security = ((c['rest'] as { security?: Record<string, unknown> }[] | undefined) ?? [])[0]?.security;
        const services = ((security?.['service'] as { coding?: { code?: string }[] }[] | undefined) ?? []).flatMap((s) => s.coding ?? []).map((x) => x.code);
        ensure(services.includes('SMART-on-FHIR'), 'rest.security.service has no SMART-on-FHIR coding');
        const ext = ((security?.['extension'] as { url: string; extension?: { url: string; valueUri?: string }[] }[] | undefined) ?? []).find(
          (e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        );
        ensure(ext, 'no oauth-uris extension');
        const smart = await suite.smart(t);
        const map: Record<string, string> = { authorize: 'authorization_endpoint', token: 'token_endpoint', introspect: 'introspection_endpoint', manage: 'management_endpoint', register: 'registration_endpoint', revoke: 'revocation_endpoint' };
        const problems: string[] = [];
        for (const [sub, key] of Object.entries(map)) {
          const v = ext.extension?.find((x) => x.url === sub)?.valueUri;
          if (v !== smart[key]) problems.push(`${sub} is ${JSON.stringify(v)} in the CapabilityStatement and ${JSON.stringify(smart[key])} in the SMART configuration`);
        }
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'SMART STU1 conformance_oauth_endpoints', optional: true }),
    ],
  };
}
