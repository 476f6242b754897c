/**
 * Launch groups and the groups that run on a launch's tokens: standalone launch (public,
 * confidential symmetric, confidential asymmetric RS384/ES384), EHR launch (with encounter, banner
 * and style), OpenID Connect id_token checks, token refresh with and without scope (catalogue §3.2
 * to §3.5, g10 §4.1, §4.3, §4.6).
 */
import { contentTypeProblem, corsProblem, expectStatus, must, scopeList } from '../checks.js';
import { standaloneAccount, practitionerAccount, type AccountInput } from '../config.js';
import { asResource } from '../fhir.js';
import { jsonObject } from '../http.js';
import { refreshToken, type AssertionAlg, type Client, type ClientKind } from '../oauth.js';
import { ensure, test, type GroupDef, type TestContext, type TestDef } from '../runner.js';
import { clinicalScopes, NON_COMPARTMENT_TYPES, US_CORE_6_COMPARTMENT_TYPES } from '../scopes.js';
import type { LaunchResult, Suite } from '../suite.js';
import { probeTls, judgeTls } from '../tls.js';
import { decodeIdToken, fhirUserParts, idTokenHeaderProblems, idTokenPayloadProblems, tokenBodyCheck, tokenHeaderProblems } from '../tokens.js';

/** A launch and the tokens it led to, handed from group to group. */
export interface LaunchHolder {
  label: string;
  launch?: LaunchResult;
  client?: Client;
  alg?: AssertionAlg;
  /** The latest token response (after refreshes). */
  latest?: Record<string, unknown>;
  /** The refresh token to use next (rotation keeps the old one when none is returned). */
  refresh?: string;
  /** Scopes of the last token response. */
  scopes?: string[];
  launchUrl?: URL;
}

export function newHolder(label: string): LaunchHolder {
  return { label };
}

function needLaunch(t: TestContext, h: LaunchHolder): LaunchResult {
  if (!h.launch) t.skip(`the ${h.label} did not run`);
  return h.launch;
}

function needToken(t: TestContext, h: LaunchHolder, options: { record?: boolean } = {}): Record<string, unknown> {
  const launch = needLaunch(t, h);
  if (!launch.code) t.skip(`the ${h.label} returned no code`);
  if (!launch.token || launch.tokenRes?.status !== 200) t.skip(`the ${h.label}'s token exchange failed`);
  // The token response this test judges belongs in its report.
  if (options.record) t.record(launch.tokenRes.exchange);
  return h.latest ?? launch.token;
}

function noteToken(h: LaunchHolder, body: Record<string, unknown>): void {
  h.latest = body;
  if (typeof body['refresh_token'] === 'string') h.refresh = body['refresh_token'];
  if (typeof body['scope'] === 'string') h.scopes = scopeList(body['scope']);
}

export function tlsTest(suite: Suite, id: string, title: string, ref: string, url: (t: TestContext) => Promise<string>): TestDef {
  return test(id, title, async (t: TestContext) => {
    const target = await url(t);
    if (!target.startsWith('https://')) t.omit(`${target} is plain http: no TLS to test (Inferno fails this unless INFERNO_DISABLE_TLS_TEST is set)`);
    const probe = await probeTls(target);
    t.evidence('tls', probe);
    const { problems, warnings } = judgeTls(probe);
    for (const w of warnings) t.warn(w);
    ensure(problems.length === 0, problems.join('; '));
  }, { ref, optional: true });
}

export interface LaunchGroupConfig {
  id: string;
  title: string;
  description?: string;
  kind: ClientKind;
  alg?: AssertionAlg;
  scope: string;
  /** 'patient' launches check patient/ scopes; 'user' (EHR practitioner) user/ scopes. */
  scopeContext: 'patient' | 'user';
  account: (suite: Suite) => AccountInput | undefined;
  method?: 'GET' | 'POST';
  /** EHR launch: from the portal's launch page, with an encounter. */
  ehr?: { patientId: (suite: Suite) => string | undefined; encounterId: (suite: Suite, t: TestContext) => Promise<string | undefined> };
}

/** The requested-and-granted scope check of g10_smart_scopes. */
export function g10ScopeProblems(requested: string[], granted: string[], context: 'patient' | 'user', options: { coverage?: boolean; v1Requested?: boolean } = {}): string[] {
  const problems: string[] = [];
  const required = ['openid', 'fhirUser', context === 'patient' ? 'launch/patient' : 'launch', 'offline_access'];
  for (const s of required) {
    if (!requested.includes(s)) problems.push(`the request lacks ${s}`);
    if (!granted.includes(s)) problems.push(`${s} was not granted`);
  }
  for (const raw of requested.filter((s) => s.includes('/') && !s.startsWith('launch'))) {
    const s = clinicalScopes([raw])[0];
    if (!s) problems.push(`requested scope ${raw} is not a SMART resource scope`);
    else if (options.v1Requested ? s.version !== 1 : s.version !== 2) problems.push(`requested scope ${raw} is not a v${options.v1Requested ? 1 : 2} scope`);
    else if (s.context !== context && !(context === 'patient' && s.context === 'user' && (NON_COMPARTMENT_TYPES as readonly string[]).includes(s.type))) {
      problems.push(`requested scope ${raw} is not a ${context}/ scope`);
    }
  }
  const grantedScopes = clinicalScopes(granted);
  if (options.coverage !== false && !grantedScopes.some((s) => s.context === context && s.type === '*')) {
    const missing = US_CORE_6_COMPARTMENT_TYPES.filter((type) => !grantedScopes.some((s) => s.context === context && s.type === type && s.letters.includes('r')));
    if (missing.length) problems.push(`Request scopes ${missing.map((m) => `${context}/${m}`).join(', ')} were not granted by authorization server.`);
  }
  return problems;
}

export function launchGroup(suite: Suite, cfg: LaunchGroupConfig, holder: LaunchHolder): GroupDef {
  const p = cfg.id;
  const tests: TestDef[] = [];
  tests.push(
    tlsTest(suite, `${p}-auth-tls`, 'OAuth 2.0 authorize endpoint secured by TLS', cfg.ehr ? 'ehr_auth_tls' : 'standalone_auth_tls', async (t: TestContext) => (await suite.endpoints(t)).authorization),
  );
  if (cfg.ehr) {
    const ehr = cfg.ehr;
    tests.push(
      test(`${p}-launch`, 'EHR server redirects client browser to the app launch URI', async (t: TestContext) => {
        const account = cfg.account(suite);
        if (!account) t.skip('no practitioner account in the inputs (ehr.username)', { lackOfData: true });
        const ep = await suite.endpoints(t);
        if (!ep.management) t.skip('no management_endpoint: the suite finds the launch page from it', { lackOfData: true });
        const client = await suite.client(t, cfg.kind, 'ehr');
        holder.client = client;
        const patientId = ehr.patientId(suite);
        if (!patientId) t.skip('no patient to launch into (ehr.patientId)', { lackOfData: true });
        const encounterId = await ehr.encounterId(suite, t);
        if (!encounterId) t.warn('no encounter id found: launching without an encounter');
        const browser = await suite.browser();
        const launched = await browser.ehrLaunch(
          { account, managementUrl: ep.management, appName: client.name ?? client.clientId, patientId, ...(encounterId ? { encounterId } : {}), launchUri: suite.inputs.launchUri },
          t,
        );
        ensure(launched.launchUrl, `the browser did not reach the launch URI (${launched.stoppedAt?.heading}: ${launched.stoppedAt?.text})`);
        holder.launchUrl = launched.launchUrl;
        const iss = launched.launchUrl.searchParams.get('iss');
        ensure(iss === suite.fhirBase, `iss is "${iss}", expected exactly the FHIR base "${suite.fhirBase}"`);
        t.evidence('encounterRequested', encounterId ?? null);
      }, { ref: 'smart_app_launch' }),
      test(`${p}-launch-received`, 'EHR server sends launch parameter', async (t: TestContext) => {
        if (!holder.launchUrl) t.skip('the EHR launch did not reach the app');
        ensure(holder.launchUrl.searchParams.get('launch'), 'the launch URI was called without a launch parameter');
      }, { ref: 'smart_launch_received' }),
    );
  }
  tests.push(
    test(`${p}-redirect`, 'OAuth server redirects client browser to app redirect URI', async (t: TestContext) => {
      const ep = await suite.endpoints(t);
      ensure(/^https?:\/\//.test(ep.authorization), `the authorization endpoint ${ep.authorization} is not an http(s) URL`);
      const account = cfg.account(suite);
      if (!account) t.skip('no test user in the inputs', { lackOfData: true });
      const launchValue = cfg.ehr ? holder.launchUrl?.searchParams.get('launch') : undefined;
      if (cfg.ehr && !launchValue) t.skip('no launch value from the EHR launch');
      const client = holder.client ?? (await suite.client(t, cfg.kind));
      holder.client = client;
      holder.alg = cfg.alg;
      holder.launch = await suite.launch(t, {
        account,
        client,
        scope: cfg.scope,
        ...(account.patientId ? { patientId: account.patientId } : {}),
        ...(launchValue ? { launch: launchValue } : {}),
        ...(cfg.method ? { method: cfg.method } : {}),
        ...(cfg.alg ? { alg: cfg.alg } : {}),
      });
      const cb = holder.launch.authorize.callback;
      ensure(cb, `the browser never reached the redirect URI (${holder.launch.authorize.stoppedAt?.heading}: ${holder.launch.authorize.stoppedAt?.text.slice(0, 300)})`);
      ensure(cb.searchParams.get('state') === holder.launch.state, `state "${cb.searchParams.get('state')}" differs from the state sent`);
    }, { ref: 'smart_app_redirect_stu2' }),
    test(`${p}-code`, 'OAuth server sends code parameter', async (t: TestContext) => {
      const launch = needLaunch(t, holder);
      ensure(!launch.callbackError, `the redirect carried error ${launch.callbackError}`);
      ensure(launch.code, 'the redirect carried no code');
    }, { ref: 'smart_code_received' }),
    tlsTest(suite, `${p}-token-tls`, 'OAuth 2.0 token endpoint secured by TLS', cfg.ehr ? 'ehr_token_tls' : 'standalone_token_tls', async (t: TestContext) => (await suite.endpoints(t)).token),
    test(`${p}-token-exchange`, 'OAuth token exchange request succeeds when supplied correct information', async (t: TestContext) => {
      const launch = needLaunch(t, holder);
      if (!launch.code) t.skip('no code');
      ensure(launch.tokenRes, 'no token request was made');
      t.record(launch.tokenRes.exchange);
      expectStatus(launch.tokenRes, 200);
      ensure(launch.token, 'the token response is not a JSON object');
      noteToken(holder, launch.token);
    }, { ref: 'smart_token_exchange' }),
    test(`${p}-token-body`, 'Token exchange response body contains required information encoded in JSON', async (t: TestContext) => {
      const body = needToken(t, holder, { record: true });
      const { problems, warnings } = tokenBodyCheck(body, holder.launch!.requestedScopes);
      for (const w of warnings) t.warn(w);
      ensure(problems.length === 0, problems.join('; '));
      for (const key of ['patient', 'encounter', 'need_patient_banner', 'smart_style_url', 'refresh_token', 'id_token']) t.evidence(key, key.endsWith('token') ? (body[key] ? 'present' : 'absent') : (body[key] ?? null));
    }, { ref: 'smart_token_response_body_stu2_2' }),
    test(`${p}-token-headers`, 'Response includes correct HTTP Cache-Control and Pragma headers', async (t: TestContext) => {
      needToken(t, holder, { record: true });
      const problems = tokenHeaderProblems(holder.launch!.tokenRes!.headers);
      ensure(problems.length === 0, problems.join('; '));
    }, { ref: 'smart_token_response_headers' }),
    test(`${p}-token-cors`, 'SMART Token Endpoint Enables CORS', async (t: TestContext) => {
      if (cfg.kind !== 'public') t.omit('only for public clients');
      needToken(t, holder, { record: true });
      must(corsProblem(holder.launch!.tokenRes!.headers, suite.inputs.origin));
    }, { ref: 'smart_cors_token_exchange' }),
    test(`${p}-scopes`, `${cfg.scopeContext === 'patient' ? 'Patient' : 'User'}-level access with OpenID Connect and Refresh Token scopes used`, async (t: TestContext) => {
      const body = needToken(t, holder, { record: true });
      const consent = holder.launch!.authorize;
      t.info(`consent screen: ${consent.offeredScopes.length} choices offered, ${consent.keptScopes.length} left ticked; the token response grants ${scopeList(body['scope']).length} scopes`);
      const problems = g10ScopeProblems(holder.launch!.requestedScopes, scopeList(body['scope']), cfg.scopeContext);
      ensure(problems.length === 0, problems.join('; '));
    }, { ref: 'g10_smart_scopes' }),
    test(`${p}-unauthorized`, 'Server rejects unauthorized access', async (t: TestContext) => {
      const body = needToken(t, holder);
      if (typeof body['patient'] !== 'string') t.skip('the token response has no patient');
      const res = await t.http.get(`${suite.fhirBase}/Patient/${body['patient']}`, { headers: { accept: 'application/fhir+json' } });
      expectStatus(res, 401);
    }, { ref: 'g10_unauthorized_access' }),
    test(`${p}-patient-context`, 'Patient from launch context can be retrieved', async (t: TestContext) => {
      const body = needToken(t, holder);
      ensure(typeof body['patient'] === 'string', 'the token response has no patient');
      const res = await suite.fhir(t, String(body['access_token'])).read('Patient', body['patient']);
      expectStatus(res, 200);
      const patient = asResource(res);
      ensure(patient?.resourceType === 'Patient' && patient.id === body['patient'], `the read returned ${patient?.resourceType}/${patient?.id}`);
      const expected = cfg.account(suite);
      if (!cfg.ehr && expected?.patientId) ensure(body['patient'] === expected.patientId, `patient is ${String(body['patient'])}, expected ${expected.patientId} (the test user's record)`);
    }, { ref: 'g10_patient_context' }),
    test(`${p}-id-token`, 'OAuth token exchange response contains OpenID Connect id_token', async (t: TestContext) => {
      const body = needToken(t, holder, { record: true });
      ensure(typeof body['id_token'] === 'string', 'the token response has no id_token');
    }, { ref: cfg.kind === 'asymmetric' ? 'g10_asymmetric_launch_id_token' : 'g10_public_launch_id_token' }),
  );
  if (cfg.ehr) {
    tests.push(
      test(`${p}-encounter`, 'OAuth token exchange response body contains encounter context and encounter resource can be retrieved', async (t: TestContext) => {
        const body = needToken(t, holder);
        if (typeof body['encounter'] !== 'string') t.skip('the token response has no encounter (none was chosen at launch)', { lackOfData: true });
        const res = await suite.fhir(t, String(body['access_token'])).read('Encounter', body['encounter']);
        expectStatus(res, 200);
        ensure(asResource(res)?.resourceType === 'Encounter', 'the read did not return an Encounter');
        const asked = (holder.launch && (await cfg.ehr!.encounterId(suite, t))) ?? undefined;
        if (asked) ensure(body['encounter'] === asked, `encounter is ${String(body['encounter'])}, but the launch was for ${asked}`);
      }, { ref: 'g10_encounter_context' }),
      test(`${p}-style`, 'OAuth token exchange response body contains a smart_style_url that returns JSON', async (t: TestContext) => {
        const body = needToken(t, holder);
        ensure(typeof body['smart_style_url'] === 'string', 'the token response has no smart_style_url');
        const res = await t.http.get(body['smart_style_url'], { headers: { accept: 'application/json' } });
        expectStatus(res, 200);
        ensure(jsonObject(res), 'smart_style_url did not return a JSON object');
      }, { ref: 'g10_smart_style_url' }),
      test(`${p}-banner`, 'OAuth token exchange response body contains need_patient_banner', async (t: TestContext) => {
        const body = needToken(t, holder, { record: true });
        ensure('need_patient_banner' in body, 'the token response has no need_patient_banner');
      }, { ref: 'g10_smart_need_patient_banner' }),
    );
  }
  return { id: p, title: cfg.title, ...(cfg.description ? { description: cfg.description } : {}), tests };
}

export function openIdGroup(suite: Suite, id: string, holder: LaunchHolder): GroupDef {
  let idToken: string | undefined;
  let decoded: ReturnType<typeof decodeIdToken> | undefined;
  let oidc: Record<string, unknown> | undefined;
  let jwks: import('jose').JWK[] | undefined;
  const need = (t: TestContext) => {
    if (!decoded || !idToken) t.skip('no id_token was decoded');
    return decoded;
  };
  return {
    id,
    title: `OpenID Connect (${holder.label})`,
    tests: [
      test(`${id}-decode`, 'ID token can be decoded', async (t: TestContext) => {
        const body = needToken(t, holder);
        if (typeof body['id_token'] !== 'string') t.skip('no id_token in the token response');
        idToken = body['id_token'] as string;
        try {
          decoded = decodeIdToken(idToken);
        } catch (err) {
          t.fail(`the id_token is not a JWT: ${(err as Error).message}`);
        }
      }, { ref: 'smart_openid_decode_id_token' }),
      test(`${id}-configuration`, 'OpenID Connect well-known configuration can be retrieved (from the id_token iss)', async (t: TestContext) => {
        const d = need(t);
        ensure(typeof d.payload.iss === 'string', 'the id_token has no iss');
        const res = await t.http.get(`${d.payload.iss.replace(/\/+$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
        expectStatus(res, 200);
        must(contentTypeProblem(res.headers, 'application/json'));
        oidc = jsonObject(res);
        ensure(oidc, 'not a JSON object');
      }, { ref: 'smart_openid_retrieve_configuration' }),
      test(`${id}-required-fields`, 'OpenID Connect well-known configuration contains all required fields', async (t: TestContext) => {
        if (!oidc) t.skip('no configuration');
        const missing = ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported'].filter(
          (k) => oidc![k] === undefined,
        );
        ensure(missing.length === 0, `missing ${missing.join(', ')}`);
        ensure(((oidc['id_token_signing_alg_values_supported'] as unknown[]) ?? []).includes('RS256'), 'id_token_signing_alg_values_supported lacks RS256');
      }, { ref: 'smart_openid_required_configuration_fields' }),
      test(`${id}-jwks`, 'JWKS can be retrieved', async (t: TestContext) => {
        if (typeof oidc?.['jwks_uri'] !== 'string') t.skip('no jwks_uri');
        const res = await t.http.get(oidc['jwks_uri'] as string, { headers: { accept: 'application/json' } });
        expectStatus(res, 200);
        const body = jsonObject(res);
        ensure(body && Array.isArray(body['keys']), 'keys is not an array');
        jwks = body['keys'] as import('jose').JWK[];
        ensure(jwks.some((k) => k.kty === 'RSA'), 'no RSA key');
      }, { ref: 'smart_openid_retrieve_jwks' }),
      test(`${id}-header`, 'ID token header contains required information', async (t: TestContext) => {
        const d = need(t);
        if (!jwks) t.skip('no JWKS');
        const { problems } = idTokenHeaderProblems(d.header, jwks);
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'smart_openid_token_header' }),
      test(`${id}-payload`, 'ID token payload has required claims and a valid signature', async (t: TestContext) => {
        const d = need(t);
        if (!jwks || !oidc) t.skip('no JWKS or configuration');
        const { key } = idTokenHeaderProblems(d.header, jwks);
        ensure(key, 'no key of the JWKS matches the id_token');
        const problems = await idTokenPayloadProblems(idToken!, key, String(oidc['issuer']), holder.client!.clientId);
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'smart_openid_token_payload' }),
      test(`${id}-fhir-user`, 'FHIR resource representing the current user can be retrieved', async (t: TestContext) => {
        const d = need(t);
        if (!holder.launch!.requestedScopes.includes('fhirUser')) t.skip('fhirUser was not requested');
        const parts = fhirUserParts(d.payload['fhirUser']);
        ensure(parts, `fhirUser "${String(d.payload['fhirUser'])}" is missing or not a Patient, Practitioner, RelatedPerson or Person URL`);
        const body = needToken(t, holder);
        const res = await suite.fhir(t, String(body['access_token'])).read(parts.type, parts.id);
        expectStatus(res, 200);
        ensure(asResource(res)?.resourceType === parts.type, `the read did not return a ${parts.type}`);
      }, { ref: 'smart_openid_fhir_user_claim' }),
      test(`${id}-fhir-user-cors`, 'FHIR resource representing the current user can be retrieved with CORS', async (t: TestContext) => {
        const d = need(t);
        const parts = fhirUserParts(d.payload['fhirUser']);
        if (!parts) t.skip('no fhirUser');
        const body = needToken(t, holder);
        const res = await t.http.get(`${suite.fhirBase}/${parts.type}/${parts.id}`, { bearer: String(body['access_token']), headers: { accept: 'application/fhir+json', origin: suite.inputs.origin } });
        expectStatus(res, 200);
        must(corsProblem(res.headers, suite.inputs.origin));
      }, { ref: 'smart_cors_openid_fhir_user_claim', optional: true }),
    ],
  };
}

export function refreshGroup(suite: Suite, id: string, holder: LaunchHolder): GroupDef {
  const results: { without?: Awaited<ReturnType<typeof refreshToken>>; with?: Awaited<ReturnType<typeof refreshToken>>; previous?: string[]; previousWith?: string[] } = {};
  const doRefresh = async (t: TestContext, withScope: boolean) => {
    needToken(t, holder);
    if (!holder.refresh) t.skip('no refresh token was issued');
    const ep = await suite.endpoints(t);
    const previous = holder.scopes ?? [];
    const res = await refreshToken(t.http, holder.refresh, withScope ? previous.join(' ') : undefined, {
      client: holder.client!,
      tokenEndpoint: ep.token,
      ...(holder.alg ? { alg: holder.alg } : {}),
      ...(holder.client!.kind === 'public' ? { origin: suite.inputs.origin } : {}),
    });
    expectStatus(res, 200);
    const body = jsonObject(res);
    ensure(body, 'the refresh response is not a JSON object');
    noteToken(holder, body);
    return { res, previous };
  };
  const bodyTest = (which: 'without' | 'with') => async (t: TestContext) => {
    const r = which === 'without' ? results.without : results.with;
    const previous = which === 'without' ? results.previous : results.previousWith;
    if (!r) t.skip('the refresh did not succeed');
    t.record(r.exchange);
    const { problems } = tokenBodyCheck(jsonObject(r) ?? {}, [], previous ?? []);
    ensure(problems.length === 0, problems.join('; '));
  };
  const headerTest = (which: 'without' | 'with') => async (t: TestContext) => {
    const r = which === 'without' ? results.without : results.with;
    if (!r) t.skip('the refresh did not succeed');
    t.record(r.exchange);
    const problems = tokenHeaderProblems(r.headers);
    ensure(problems.length === 0, problems.join('; '));
  };
  return {
    id,
    title: `Token Refresh (${holder.label})`,
    tests: [
      test(`${id}-without-scope`, 'Server successfully refreshes the access token when optional scope parameter omitted', async (t: TestContext) => {
        const { res, previous } = await doRefresh(t, false);
        results.without = res;
        results.previous = previous;
      }, { ref: 'smart_token_refresh_stu2' }),
      test(`${id}-without-scope-body`, 'Token refresh response contains all required fields (without scope)', bodyTest('without'), { ref: 'smart_token_refresh_body' }),
      test(`${id}-without-scope-headers`, 'Token refresh response includes correct Cache-Control and Pragma headers (without scope)', headerTest('without'), { ref: 'smart_token_response_headers' }),
      test(`${id}-with-scope`, 'Server successfully refreshes the access token when optional scope parameter provided', async (t: TestContext) => {
        const { res, previous } = await doRefresh(t, true);
        results.with = res;
        results.previousWith = previous;
      }, { ref: 'smart_token_refresh_stu2' }),
      test(`${id}-with-scope-body`, 'Token refresh response contains all required fields (with scope)', bodyTest('with'), { ref: 'smart_token_refresh_body' }),
      test(`${id}-with-scope-headers`, 'Token refresh response includes correct Cache-Control and Pragma headers (with scope)', headerTest('with'), { ref: 'smart_token_response_headers' }),
      test(`${id}-patient-context`, 'Patient from launch context can be retrieved with the refreshed token', async (t: TestContext) => {
        const body = needToken(t, holder);
        if (!results.without && !results.with) t.skip('no refresh succeeded');
        const patient = (holder.launch!.token!['patient'] as string | undefined) ?? (body['patient'] as string | undefined);
        ensure(patient, 'no patient in context');
        if (body['patient'] !== undefined && body['patient'] !== patient) t.fail(`the refreshed token's patient ${String(body['patient'])} differs from ${patient}`);
        const res = await suite.fhir(t, String(body['access_token'])).read('Patient', patient);
        expectStatus(res, 200);
      }, { ref: 'g10_patient_context' }),
      // After the patient-context check, which reads with the full refreshed token.
      test(`${id}-narrower-scope`, 'A refresh asking for fewer scopes is granted no more than asked', async (t: TestContext) => {
        needToken(t, holder);
        if (!holder.refresh) t.skip('no refresh token');
        const resource = (holder.scopes ?? []).filter((s) => s.includes('/') && !s.startsWith('launch'));
        if (resource.length < 2) t.skip('the token has fewer than two resource scopes to narrow');
        const keep = [...(holder.scopes ?? []).filter((s) => !resource.includes(s)), resource[0]!];
        const ep = await suite.endpoints(t);
        const res = await refreshToken(t.http, holder.refresh, keep.join(' '), { client: holder.client!, tokenEndpoint: ep.token, ...(holder.alg ? { alg: holder.alg } : {}) });
        expectStatus(res, 200);
        const body = jsonObject(res)!;
        const granted = scopeList(body['scope']);
        const extra = granted.filter((s) => !keep.includes(s));
        // Later groups (unrestricted access) read with the full token: keep only the rotated refresh token.
        if (typeof body['refresh_token'] === 'string') holder.refresh = body['refresh_token'];
        ensure(extra.length === 0, `the refresh granted ${extra.join(' ')} although only ${keep.join(' ')} was asked for`);
      }, { optional: true }),
      test(`${id}-invalid-refresh`, 'Refresh token exchange fails when supplied an invalid refresh token', async (t: TestContext) => {
        needLaunch(t, holder);
        if (!holder.client) t.skip('no client');
        const ep = await suite.endpoints(t);
        const res = await refreshToken(t.http, crypto.randomUUID(), undefined, { client: holder.client, tokenEndpoint: ep.token, ...(holder.alg ? { alg: holder.alg } : {}) });
        expectStatus(res, [400, 401]);
      }, { ref: 'g10_invalid_token_refresh' }),
    ],
  };
}

/** Default accounts for the launch groups. */
export const accounts = {
  standalone: (suite: Suite) => standaloneAccount(suite.inputs),
  practitioner: (suite: Suite) => practitionerAccount(suite.inputs),
};
