/**
 * Scope scenarios: unrestricted resource type access (g10 §4.1 step 5), limited access with
 * unticked scopes (§4.2), SMART v1 scopes (§4.6), EHR launch with patient scopes, granular scopes
 * and granular scope selection (§4.6, §5.6).
 */
import { expectStatus, scopeList, uniq } from '../checks.js';
import { standaloneAccount } from '../config.js';
import { asBundle, type FhirClient, type FhirResource } from '../fhir.js';
import { jsonObject } from '../http.js';
import { ensure, test, type GroupDef, type TestContext, type TestDef } from '../runner.js';
import {
  clinicalScopes,
  G10_V1_TYPES,
  GRANULAR_GROUP_1,
  GRANULAR_GROUP_2,
  grantsType,
  isGranular,
  LIMITED_SCOPE_TYPES_6,
  NON_COMPARTMENT_TYPES,
  parseClinicalScope,
  resourceMatchesScope,
  UNRESTRICTED_TYPES_6,
  type ClinicalScope,
} from '../scopes.js';
import { G10_STANDALONE_SCOPE, type LaunchResult, type Suite } from '../suite.js';
import { g10ScopeProblems, type LaunchHolder } from './launch.js';

/** The first US Core search of each type's group (g10 "Access to <T> resources granted"). */
export function firstSearch(type: string, patientId: string): [string, string][] {
  switch (type) {
    case 'Patient':
      return [['_id', patientId]];
    case 'CarePlan':
      return [['patient', patientId], ['category', 'assess-plan']];
    case 'CareTeam':
      return [['patient', patientId], ['status', 'proposed']];
    case 'DiagnosticReport':
      return [['patient', patientId], ['category', 'LAB']];
    case 'MedicationRequest':
      return [['patient', patientId], ['intent', 'proposal']];
    case 'Observation':
      return [['patient', patientId], ['code', '2708-6']];
    case 'Organization':
    case 'Practitioner':
      return [['_id', 'unknown-id']];
    case 'Provenance':
      return [['target', `Patient/${patientId}`]];
    default:
      return [['patient', patientId]];
  }
}

const ACCESS_TYPES = ['Patient', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Condition', 'Device', 'DiagnosticReport', 'DocumentReference', 'Goal', 'Immunization', 'MedicationRequest', 'Observation', 'Procedure', 'Encounter', 'ServiceRequest', 'Coverage', 'MedicationDispense'];

function accessTests(suite: Suite, prefix: string, holder: LaunchHolder, expected: (type: string) => boolean): TestDef[] {
  return ACCESS_TYPES.map((type) =>
    test(`${prefix}-${type.toLowerCase()}`, `Access to ${type} resources is ${expected(type) ? 'granted' : 'refused'} as the granted scopes say`, async (t: TestContext) => {
      const token = holder.latest ?? holder.launch?.token;
      if (!token || typeof token['access_token'] !== 'string' || typeof token['patient'] !== 'string') t.skip('no token with patient context');
      const res = await suite.fhir(t, token['access_token']).search(type, firstSearch(type, token['patient']));
      if (expected(type)) {
        if (res.status === 400) {
          ensure(jsonObject(res)?.['resourceType'] === 'OperationOutcome', '400 without an OperationOutcome');
          t.fail('the search needs a status parameter (400): this suite does not retry with status');
        }
        expectStatus(res, 200);
        ensure(asBundle(res), 'the response is not a Bundle');
      } else {
        ensure(res.status === 401 || res.status === 403, `Unexpected response code: expected 403 (Forbidden) or 401 (Unauthorized), got ${res.status}`);
      }
    }, { ref: expected === allTypes ? 'g10_unrestricted_resource_type_access' : 'g10_restricted_resource_type_access' }),
  );
}

const allTypes = () => true;

export function unrestrictedAccessGroup(suite: Suite, id: string, holder: LaunchHolder, v1 = false): GroupDef {
  return {
    id,
    title: `Unrestricted Resource Type Access (${holder.label})`,
    tests: [
      test(`${id}-scopes`, 'Scope granted enables access to all US Core resource types', async (t: TestContext) => {
        const token = holder.launch?.token;
        if (!token) t.skip(`the ${holder.label} did not produce a token`);
        if (holder.launch?.tokenRes) t.record(holder.launch.tokenRes.exchange);
        const granted = scopeList(token['scope']);
        const missing = UNRESTRICTED_TYPES_6.filter((type) => !grantsType(granted, type, (NON_COMPARTMENT_TYPES as readonly string[]).includes(type) ? ['patient', 'user'] : ['patient']));
        ensure(missing.length === 0, `the granted scopes do not cover ${missing.join(', ')}`);
        if (v1) t.info(`granted: ${granted.join(' ')}`);
      }),
      ...accessTests(suite, id, holder, allTypes),
    ],
  };
}

export function limitedAccessGroup(suite: Suite, holder: LaunchHolder): GroupDef {
  const expected = new Set(suite.inputs.limitedResources);
  return {
    id: 'limited-access',
    title: 'Standalone Patient App - Limited Access',
    description: `The person unticks every resource type except ${[...expected].join(', ')} on the consent screen (g10 scenario 2).`,
    tests: [
      test('limited-launch', 'Standalone launch where the user unticks resource types', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        const client = await suite.client(t, 'symmetric');
        holder.client = client;
        holder.launch = await suite.launch(t, {
          account,
          client,
          scope: G10_STANDALONE_SCOPE,
          ...(account.patientId ? { patientId: account.patientId } : {}),
          keep: (scope) => {
            const s = parseClinicalScope(scope);
            // Whole resource types only: the category scopes offered alongside stay unticked.
            return !s || (expected.has(s.type) && !isGranular(s));
          },
        });
        const unticked = holder.launch.authorize.offeredScopes.length - holder.launch.authorize.keptScopes.length;
        t.evidence('unticked', unticked);
        ensure(unticked > 0, 'the consent screen offered no resource scopes to untick');
        suite.requireToken(t, holder.launch, 'limited launch');
      }),
      test('limited-patient-context', 'Patient from launch context can be retrieved', async (t: TestContext) => {
        const token = holder.launch?.token;
        if (!token) t.skip('no token');
        const res = await suite.fhir(t, String(token['access_token'])).read('Patient', String(token['patient']));
        expectStatus(res, 200);
      }, { ref: 'g10_patient_context' }),
      test('limited-scope-grant', 'OAuth token exchange response grants scope that is limited to those selected by user', async (t: TestContext) => {
        const token = holder.launch?.token;
        if (!token) t.skip('no token');
        if (holder.launch?.tokenRes) t.record(holder.launch.tokenRes.exchange);
        const granted = scopeList(token['scope']);
        const problems: string[] = [];
        let denied = 0;
        for (const type of LIMITED_SCOPE_TYPES_6) {
          const has = grantsType(granted, type);
          if (expected.has(type) && !has) problems.push(`${type} was selected but not granted`);
          if (!expected.has(type) && has) problems.push(`${type} was unticked but granted`);
          if (!has) denied++;
        }
        if (!denied) problems.push('nothing at all was denied');
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'g10_limited_scope_grant' }),
      ...accessTests(suite, 'limited-access', holder, (type) => expected.has(type)),
    ],
  };
}

export function v1ScopesGroup(suite: Suite, holder: LaunchHolder): GroupDef {
  const scope = ['launch/patient', 'openid', 'fhirUser', 'offline_access', ...G10_V1_TYPES.map((t) => `patient/${t}.read`)].join(' ');
  return {
    id: 'v1-scopes',
    title: 'App Launch with SMART v1 scopes',
    tests: [
      test('v1-launch', 'Standalone launch requesting v1 scopes', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        const client = await suite.client(t, 'symmetric');
        holder.client = client;
        holder.launch = await suite.launch(t, { account, client, scope, ...(account.patientId ? { patientId: account.patientId } : {}) });
        suite.requireToken(t, holder.launch, 'v1 launch');
      }),
      test('v1-scopes', 'Patient-level access with OpenID Connect and Refresh Token scopes used (v1 requested, v1 or v2 granted)', async (t: TestContext) => {
        const token = holder.launch?.token;
        if (!token) t.skip('no token');
        if (holder.launch?.tokenRes) t.record(holder.launch.tokenRes.exchange);
        const problems = g10ScopeProblems(scope.split(' '), scopeList(token['scope']), 'patient', { v1Requested: true });
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'g10_smart_scopes' }),
      test('v1-unauthorized', 'Server rejects unauthorized access', async (t: TestContext) => {
        const token = holder.launch?.token;
        if (!token) t.skip('no token');
        const res = await t.http.get(`${suite.fhirBase}/Patient/${String(token['patient'])}`);
        expectStatus(res, 401);
      }, { ref: 'g10_unauthorized_access' }),
      test('v1-patient-context', 'Patient from launch context can be retrieved', async (t: TestContext) => {
        const token = holder.launch?.token;
        if (!token) t.skip('no token');
        const res = await suite.fhir(t, String(token['access_token'])).read('Patient', String(token['patient']));
        expectStatus(res, 200);
      }, { ref: 'g10_patient_context' }),
    ],
  };
}

/** g10_patient_scope: an EHR launch can be granted patient-level scopes. */
export function ehrPatientScopesGroup(suite: Suite, launchWithPatientScope: (t: TestContext) => Promise<LaunchResult | undefined>): GroupDef {
  let launch: LaunchResult | undefined;
  return {
    id: 'ehr-patient-scopes',
    title: 'EHR Launch with Patient Scopes',
    tests: [
      test('ehr-patient-scopes-launch', 'EHR launch requesting launch openid fhirUser offline_access patient/Patient.rs', async (t: TestContext) => {
        launch = await launchWithPatientScope(t);
        ensure(launch, 'the EHR launch did not run');
        suite.requireToken(t, launch, 'EHR launch');
      }),
      test('ehr-patient-scopes-context', 'Patient from launch context can be retrieved', async (t: TestContext) => {
        const token = launch?.token;
        if (!token) t.skip('no token');
        ensure(typeof token['patient'] === 'string', 'no patient in the token response');
        const res = await suite.fhir(t, String(token['access_token'])).read('Patient', token['patient']);
        expectStatus(res, 200);
      }, { ref: 'g10_patient_context' }),
      test('ehr-patient-scopes-granted', 'Patient-level scopes were granted', async (t: TestContext) => {
        const token = launch?.token;
        if (!token) t.skip('no token');
        const granted = scopeList(token['scope']);
        const rs = granted.some((s) => /^patient\/Patient\.rs?$/.test(s)) && granted.some((s) => /^patient\/Patient\.r?s$/.test(s));
        ensure(rs, `the granted scopes (${granted.join(' ')}) lack patient/Patient.rs (or .r and .s)`);
      }, { ref: 'g10_patient_scope' }),
    ],
  };
}

function grantedGranular(granted: string[]): ClinicalScope[] {
  return clinicalScopes(granted).filter(isGranular);
}

/** Inferno's "query within a granted scope": same type, `s` access, every scope parameter present with an equal value. */
function queryWithinScope(type: string, params: [string, string][], scopes: ClinicalScope[]): boolean {
  return scopes.some((s) => s.type === type && s.letters.includes('s') && s.query.every(([k, v]) => params.some(([pk, pv]) => pk === k && pv === v)));
}

async function replay(fhir: FhirClient, type: string, params: [string, string][], method: 'GET' | 'POST'): Promise<{ status: number; resources: FhirResource[] }> {
  const r = await fhir.searchAll(type, params, method);
  return { status: r.first.status, resources: r.problem ? [] : r.resources.filter((x) => x.resourceType === type) };
}

export function granularGroup(suite: Suite, n: 1 | 2): GroupDef {
  const required = suite.inputs.granular[n === 1 ? 'group1' : 'group2'].length ? suite.inputs.granular[n === 1 ? 'group1' : 'group2'] : n === 1 ? GRANULAR_GROUP_1 : GRANULAR_GROUP_2;
  const scope = ['launch/patient', 'openid', 'fhirUser', 'offline_access', ...required].join(' ');
  let launch: LaunchResult | undefined;
  const id = `granular-${n}`;
  const perType = (type: 'Condition' | 'Observation'): TestDef[] => [
    test(`${id}-${type.toLowerCase()}-searches`, `${type} searches return only resources matching the granted granular scopes`, async (t: TestContext) => {
      const token = launch?.token;
      if (!token) t.skip('no granular token');
      const patientId = String(token['patient']);
      const granted = grantedGranular(scopeList(token['scope'])).filter((s) => s.type === type);
      const recorded = suite.recordedSearches.filter((r) => r.patientId === patientId && r.type === type);
      if (!recorded.length) t.skip(`the Single Patient API ran no ${type} searches for Patient/${patientId}`, { lackOfData: true });
      const seen = new Map((suite.seen.get(patientId) ?? []).map((r) => [`${r.resourceType}/${r.id}`, r]));
      const fhir = suite.fhir(t, String(token['access_token']));
      const problems: string[] = [];
      let nonEmpty = 0;
      for (const r of recorded) {
        const { status, resources } = await replay(fhir, type, r.params, r.method);
        const label = `${r.method} ${type}?${new URLSearchParams(r.params)}`;
        const wrong = resources.filter((x) => !granted.some((s) => resourceMatchesScope(x, s)));
        if (wrong.length) problems.push(`${label}: ${wrong.map((x) => x.id).slice(0, 5).join(', ')} received even though they do not match the granted granular scopes`);
        if (queryWithinScope(type, r.params, granted) || resources.length) {
          const expected = new Set(r.ids.filter((i) => {
            const res = seen.get(`${type}/${i}`);
            return res && granted.some((s) => resourceMatchesScope(res, s));
          }));
          const got = new Set(resources.map((x) => x.id!));
          const missing = [...expected].filter((i) => !got.has(i));
          const extra = [...got].filter((i) => !expected.has(i));
          if (missing.length) problems.push(`${label}: missing ${missing.slice(0, 5).join(', ')} (HTTP ${status})`);
          if (extra.length) problems.push(`${label}: unexpected ${extra.slice(0, 5).join(', ')}`);
        }
        if (resources.length) nonEmpty++;
      }
      t.evidence('replayed', recorded.length);
      t.evidence('withResults', nonEmpty);
      ensure(problems.length === 0, problems.slice(0, 8).join('; '));
    }, { ref: 'us_core_granular_scope_search' }),
    test(`${id}-${type.toLowerCase()}-reads`, `${type} reads are allowed only for resources matching the granted granular scopes`, async (t: TestContext) => {
      const token = launch?.token;
      if (!token) t.skip('no granular token');
      const patientId = String(token['patient']);
      const granted = grantedGranular(scopeList(token['scope'])).filter((s) => s.type === type);
      const mine = (suite.seen.get(patientId) ?? []).filter((r) => r.resourceType === type);
      if (!mine.length) t.skip(`no ${type} resources of Patient/${patientId} were seen`, { lackOfData: true });
      const fhir = suite.fhir(t, String(token['access_token']));
      const problems: string[] = [];
      for (const s of granted.filter((x) => x.letters.includes('r'))) {
        const match = mine.find((r) => resourceMatchesScope(r, s));
        if (!match) {
          t.info(`no seen ${type} matches ${s.raw}`);
          continue;
        }
        const res = await fhir.read(type, match.id!);
        if (res.status !== 200) problems.push(`read ${type}/${match.id} (matches ${s.raw}): HTTP ${res.status}`);
      }
      const outside = mine.find((r) => !granted.some((s) => resourceMatchesScope(r, s)));
      if (outside) {
        const res = await fhir.read(type, outside.id!);
        if (res.status === 200) problems.push(`read ${type}/${outside.id}, which matches no granted scope, returned 200`);
        else if (res.text && jsonObject(res)?.['resourceType'] !== 'OperationOutcome') problems.push(`read ${type}/${outside.id}: the ${res.status} body is not an OperationOutcome`);
      } else t.info(`every seen ${type} matches a granted scope: no out-of-scope read to try`);
      ensure(problems.length === 0, problems.join('; '));
    }, { ref: 'us_core_granular_scope_read' }),
  ];
  return {
    id,
    title: `SMART App Launch with fine-grained scopes ${n}`,
    description: `Requests ${required.join(' ')} and replays the Single Patient API's Condition and Observation searches with the granular token.`,
    tests: [
      test(`${id}-launch`, 'Standalone launch requesting granular scopes', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        const client = await suite.client(t, 'public');
        launch = await suite.launch(t, { account, client, scope, ...(account.patientId ? { patientId: account.patientId } : {}) });
        suite.requireToken(t, launch, 'granular launch');
      }),
      test(`${id}-granted`, 'Required granular scopes were granted', async (t: TestContext) => {
        const token = launch?.token;
        if (!token) t.skip('no token');
        const granted = scopeList(token['scope']);
        const grantedScopes = clinicalScopes(granted);
        const problems: string[] = [];
        for (const raw of required) {
          const want = parseClinicalScope(raw)!;
          const key = (s: ClinicalScope) => `${s.type}?${s.query.map(([k, v]) => `${k}=${v}`).join('&')}`;
          const matching = grantedScopes.filter((s) => isGranular(s) && key(s) === key(want));
          const letters = uniq(matching.flatMap((s) => s.letters.split(''))).join('');
          if (!(letters.includes('r') && letters.includes('s'))) problems.push(`${raw} was not granted (as .rs or .r + .s)`);
        }
        const resourceLevel = grantedScopes.filter((s) => (s.type === 'Condition' || s.type === 'Observation') && !isGranular(s));
        if (resourceLevel.length) problems.push(`resource-level scopes were granted too: ${resourceLevel.map((s) => s.raw).join(' ')}`);
        const wildcard = grantedScopes.filter((s) => s.type === '*');
        if (wildcard.length) problems.push(`wildcard scopes were granted: ${wildcard.map((s) => s.raw).join(' ')}`);
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'us_core_granted_granular_scopes' }),
      ...perType('Condition'),
      ...perType('Observation'),
    ],
  };
}

export function granularSelectionGroup(suite: Suite): GroupDef {
  const scope = 'launch/patient openid fhirUser offline_access patient/Condition.rs patient/Observation.rs patient/Patient.rs';
  let launch: LaunchResult | undefined;
  return {
    id: 'granular-selection',
    title: 'SMART Granular Scope Selection',
    description: 'Requests resource-level Condition, Observation and Patient scopes; on the consent screen the person keeps only category (sub-resource) scopes for Condition and Observation.',
    tests: [
      test('granular-selection-launch', 'The consent screen lets the person choose category scopes for Condition and Observation', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        const client = await suite.client(t, 'public');
        launch = await suite.launch(t, {
          account,
          client,
          scope,
          ...(account.patientId ? { patientId: account.patientId } : {}),
          keep: (s) => {
            const c = parseClinicalScope(s);
            return !c || c.type === 'Patient' || isGranular(c);
          },
        });
        const offered = launch.authorize.offeredScopes.map((o) => o.scope);
        t.evidence('offered', offered);
        const granularOffered = offered.map(parseClinicalScope).filter((c): c is ClinicalScope => !!c && isGranular(c));
        ensure(granularOffered.some((c) => c.type === 'Condition') && granularOffered.some((c) => c.type === 'Observation'),
          `the consent screen offers no category sub-scopes for Condition and Observation (offered: ${offered.join(', ')}); the CCG asks for Encounter Diagnosis, Problem List, Health Concern and Clinical Test, Laboratory, Social History, SDOH, Survey, Vital Signs`);
        suite.requireToken(t, launch, 'granular selection launch');
      }),
      test('granular-selection-scopes', 'Patient-level access with OpenID Connect and Refresh Token scopes used', async (t: TestContext) => {
        const token = launch?.token;
        if (!token) t.skip('no token');
        const problems = g10ScopeProblems(scope.split(' '), scopeList(token['scope']), 'patient', { coverage: false });
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'g10_smart_scopes' }),
      test('granular-selection-granted', 'Granular scopes selected by the user were granted instead of resource-level ones', async (t: TestContext) => {
        const token = launch?.token;
        if (!token) t.skip('no token (the selection could not be made)');
        const granted = clinicalScopes(scopeList(token['scope']));
        const problems: string[] = [];
        const resourceLevel = granted.filter((s) => (s.type === 'Condition' || s.type === 'Observation') && !isGranular(s));
        if (resourceLevel.length) problems.push(`resource-level scopes were granted: ${resourceLevel.map((s) => s.raw).join(' ')}`);
        for (const type of ['Condition', 'Observation']) if (!granted.some((s) => s.type === type && isGranular(s) && /^r?s?$/.test(s.letters))) problems.push(`no granular ${type} scope was granted`);
        if (!granted.some((s) => s.type === 'Patient' && !isGranular(s) && s.version === 2)) problems.push('no v2 resource-level Patient scope was granted');
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'g10_smart_granular_scope_selection' }),
    ],
  };
}

