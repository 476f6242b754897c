/**
 * Authorization-server groups that need no US Core data: token introspection (§3.7), revocation
 * (RFC 7009 endpoint, and g10's patient-directed revocation §4.6), the invalid-request scenarios
 * (invalid aud, bad code, bad client, the four invalid PKCE verifiers, plus our own: no PKCE, plain
 * PKCE, code reuse, bad client assertions) and backend services authorization (§3.6).
 */
import { randomUUID } from 'node:crypto';
import { expectStatus, sameScopeSet, scopeList } from '../checks.js';
import { secondAccount, standaloneAccount } from '../config.js';
import { jsonObject, type HttpResponse } from '../http.js';
import { clientAssertion, clientAuth, exchangeCode, refreshToken, tokenRequest, type Client } from '../oauth.js';
import { ensure, test, type GroupDef, type TestContext, type TestDef } from '../runner.js';
import { SMART_DEFAULT_STANDALONE_SCOPE, G10_STANDALONE_SCOPE, type LaunchResult, type Suite } from '../suite.js';
import { decodeIdToken } from '../tokens.js';

async function introspect(suite: Suite, t: TestContext, client: Client, token: string): Promise<HttpResponse> {
  const ep = await suite.endpoints(t);
  if (!ep.introspection) t.skip('no introspection_endpoint in the SMART configuration', { lackOfData: true });
  const auth = await clientAuth(client, ep.introspection);
  return t.http.post(ep.introspection, { form: { token, ...auth.form }, headers: { accept: 'application/json', ...auth.headers } });
}

export function introspectionGroup(suite: Suite): GroupDef {
  let launch: LaunchResult | undefined;
  let client: Client | undefined;
  let active: HttpResponse | undefined;
  let inactive: HttpResponse | undefined;
  return {
    id: 'introspection',
    title: 'Token Introspection',
    description: 'A new standalone launch, then POST introspection_endpoint with the access token and with an invalid one (smart_token_introspection_stu2_2).',
    tests: [
      test('introspection-launch', 'Request new access token to introspect', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        client = await suite.client(t, 'public');
        launch = await suite.launch(t, { account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, ...(account.patientId ? { patientId: account.patientId } : {}) });
        suite.requireToken(t, launch, 'introspection launch');
      }),
      test('introspection-active-request', 'Token introspection endpoint returns a response when provided an active token', async (t: TestContext) => {
        if (!launch?.token) t.skip('no token');
        active = await introspect(suite, t, client!, String(launch.token['access_token']));
        expectStatus(active, 200);
      }, { ref: 'smart_token_introspection_active_request' }),
      test('introspection-inactive-request', 'Token introspection endpoint returns a response when provided an invalid token', async (t: TestContext) => {
        if (!client) t.skip('no client');
        inactive = await introspect(suite, t, client, 'invalid_token_value');
        expectStatus(inactive, 200);
      }, { ref: 'smart_token_introspection_invalid_request' }),
      test('introspection-active-response', 'Token introspection response for an active token contains the required fields', async (t: TestContext) => {
        if (!active || active.status !== 200 || !launch?.token) t.skip('no active introspection response');
        if (launch.tokenRes) t.record(launch.tokenRes.exchange);
        t.record(active.exchange);
        const body = jsonObject(active);
        ensure(body, 'not a JSON object');
        const token = launch.token;
        const problems: string[] = [];
        if (body['active'] !== true) problems.push(`active is ${JSON.stringify(body['active'])}, not true`);
        if (body['client_id'] !== client!.clientId) problems.push(`client_id is ${JSON.stringify(body['client_id'])}, not ${client!.clientId}`);
        if (!sameScopeSet(scopeList(body['scope']), scopeList(token['scope']))) problems.push(`scope "${String(body['scope'])}" differs from the token response's "${String(token['scope'])}"`);
        if (typeof body['exp'] !== 'number' || body['exp'] < Date.now() / 1000 - 600) problems.push(`exp ${JSON.stringify(body['exp'])} is missing or in the past`);
        for (const key of ['patient', 'encounter']) if (token[key] !== undefined && body[key] !== token[key]) problems.push(`${key} is ${JSON.stringify(body[key])}, the token response said ${JSON.stringify(token[key])}`);
        if (typeof token['id_token'] === 'string') {
          const { payload } = decodeIdToken(token['id_token']);
          if (body['iss'] !== payload.iss) problems.push(`iss ${JSON.stringify(body['iss'])} differs from the id_token's ${payload.iss}`);
          if (body['sub'] !== payload.sub) problems.push(`sub ${JSON.stringify(body['sub'])} differs from the id_token's ${payload.sub}`);
          if (body['fhirUser'] !== payload['fhirUser']) t.info(`fhirUser ${JSON.stringify(body['fhirUser'])} differs from the id_token's ${String(payload['fhirUser'])}`);
        }
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'smart_token_introspection_response_active' }),
      test('introspection-inactive-response', 'Token introspection response for an invalid token is exactly {"active": false}', async (t: TestContext) => {
        if (!inactive || inactive.status !== 200) t.skip('no inactive introspection response');
        t.record(inactive.exchange);
        const body = jsonObject(inactive);
        ensure(body && body['active'] === false, `active is ${JSON.stringify(body?.['active'])}, not false`);
        const extra = Object.keys(body).filter((k) => k !== 'active');
        if (extra.length) t.warn(`the response should not contain additional information: ${extra.join(', ')}`);
      }, { ref: 'smart_token_introspection_response_inactive' }),
      test('introspection-refresh-lifetime', 'Refresh tokens for offline_access last at least three months (attestation evidence)', async (t: TestContext) => {
        if (!launch?.token || typeof launch.token['refresh_token'] !== 'string') t.skip('no refresh token was issued');
        const res = await introspect(suite, t, client!, launch.token['refresh_token']);
        expectStatus(res, 200);
        const body = jsonObject(res)!;
        ensure(body['active'] === true, 'the refresh token introspects as inactive');
        ensure(typeof body['exp'] === 'number', 'the refresh token introspection has no exp');
        const days = ((body['exp'] as number) - Date.now() / 1000) / 86_400;
        t.evidence('refreshTokenLifetimeDays', Math.round(days * 10) / 10);
        ensure(days >= 89.9, `the refresh token expires in ${days.toFixed(1)} days, less than three months`);
      }, { ref: 'g10 attestation: refresh tokens valid for at least three months' }),
    ],
  };
}

export function revocationGroup(suite: Suite): GroupDef {
  let endpointLaunch: LaunchResult | undefined;
  let portalLaunch: LaunchResult | undefined;
  let client: Client | undefined;
  let portalClient: Client | undefined;
  return {
    id: 'revocation',
    title: 'Token Revocation',
    description: 'RFC 7009 revocation at revocation_endpoint, and the patient-directed revocation of g10 (the person revokes the app on the management page).',
    tests: [
      test('revocation-endpoint-access-token', 'Revoking an access token at the revocation endpoint ends FHIR access', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        const ep = await suite.endpoints(t);
        if (!ep.revocation) t.skip('no revocation_endpoint', { lackOfData: true });
        client = await suite.client(t, 'public');
        endpointLaunch = await suite.launch(t, { account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, ...(account.patientId ? { patientId: account.patientId } : {}) });
        const token = suite.requireToken(t, endpointLaunch, 'launch');
        const access = String(token['access_token']);
        const before = await suite.fhir(t, access).read('Patient', String(token['patient']));
        expectStatus(before, 200, 'read before revocation');
        const revoke = await t.http.post(ep.revocation, { form: { token: access, token_type_hint: 'access_token', client_id: client.clientId } });
        expectStatus(revoke, 200, 'revocation');
        const after = await suite.fhir(t, access).read('Patient', String(token['patient']));
        expectStatus(after, [401, 403, 404], 'read with the revoked access token');
        if (ep.introspection) {
          const i = await introspect(suite, t, client, access);
          if (i.status === 200) ensure(jsonObject(i)?.['active'] === false, 'the revoked access token still introspects as active');
        }
      }),
      test('revocation-endpoint-refresh-token', 'Revoking a refresh token at the revocation endpoint ends refreshing', async (t: TestContext) => {
        const token = endpointLaunch?.token;
        if (!token || typeof token['refresh_token'] !== 'string') t.skip('no refresh token from the previous launch');
        const ep = await suite.endpoints(t);
        const revoke = await t.http.post(ep.revocation!, { form: { token: token['refresh_token'], token_type_hint: 'refresh_token', client_id: client!.clientId } });
        expectStatus(revoke, 200, 'revocation');
        const refresh = await refreshToken(t.http, token['refresh_token'], undefined, { client: client!, tokenEndpoint: ep.token });
        expectStatus(refresh, [400, 401], 'refresh with the revoked refresh token');
      }),
      test('revocation-unknown-token', 'Revoking an unknown token is answered 200 (RFC 7009 §2.2)', async (t: TestContext) => {
        const ep = await suite.endpoints(t);
        if (!ep.revocation || !client) t.skip('no revocation endpoint or client');
        const res = await t.http.post(ep.revocation, { form: { token: randomUUID(), client_id: client.clientId } });
        expectStatus(res, 200);
      }),
      test('revocation-patient-directed', 'The patient revokes the app on the management page (attestation evidence)', async (t: TestContext) => {
        const main = standaloneAccount(suite.inputs);
        const account = (main && secondAccount(suite.inputs, main.username)) ?? main;
        if (!account) t.skip('no test user', { lackOfData: true });
        const ep = await suite.endpoints(t);
        if (!ep.management) t.skip('no management_endpoint to revoke from', { lackOfData: true });
        portalClient = await suite.client(t, 'symmetric');
        portalLaunch = await suite.launch(t, { account, client: portalClient, scope: G10_STANDALONE_SCOPE, ...(account.patientId ? { patientId: account.patientId } : {}) });
        suite.requireToken(t, portalLaunch, 'launch');
        const browser = await suite.browser();
        const result = await browser.revokeApp({ account, managementUrl: ep.management, appName: portalClient.name ?? portalClient.clientId }, t);
        t.evidence('revokedBy', account.username);
        t.evidence('managementPage', result.text);
        ensure(result.revoked, `the app is still listed after revoking: ${result.text}`);
      }, { ref: 'g10_token_revocation (attestation)' }),
      test('revocation-revoked-access-token', 'Access to a patient is denied with the revoked access token', async (t: TestContext) => {
        const token = portalLaunch?.token;
        if (!token) t.skip('the patient-directed revocation did not run');
        const res = await suite.fhir(t, String(token['access_token'])).read('Patient', String(token['patient']));
        expectStatus(res, [401, 403, 404]);
      }, { ref: 'g10_token_revocation' }),
      test('revocation-revoked-refresh-token', 'Refresh with the revoked refresh token fails', async (t: TestContext) => {
        const token = portalLaunch?.token;
        if (!token || typeof token['refresh_token'] !== 'string') t.skip('no refresh token from the revoked launch');
        const ep = await suite.endpoints(t);
        const res = await refreshToken(t.http, token['refresh_token'], undefined, { client: portalClient!, tokenEndpoint: ep.token });
        expectStatus(res, [400, 401]);
      }, { ref: 'g10_token_revocation' }),
    ],
  };
}

export function invalidRequestsGroup(suite: Suite): GroupDef {
  const account = () => standaloneAccount(suite.inputs);
  const launchFor = async (t: TestContext, o: { aud?: string; pkce?: boolean; exchange?: boolean; extra?: Record<string, string> } = {}) => {
    const a = account();
    if (!a) t.skip('no test user', { lackOfData: true });
    const client = await suite.client(t, 'symmetric');
    const launch = await suite.launch(t, {
      account: a,
      client,
      scope: G10_STANDALONE_SCOPE,
      ...(a.patientId ? { patientId: a.patientId } : {}),
      exchange: false,
      ...(o.aud ? { aud: o.aud } : {}),
      ...(o.pkce === false ? { pkce: false } : {}),
    });
    return { launch, client };
  };
  const codeOrSkip = (t: TestContext, launch: LaunchResult) => {
    if (!launch.code) t.fail(`the launch returned no code (${launch.callbackError ?? launch.authorize.stoppedAt?.text ?? 'no redirect'}), so the token request cannot be tested`);
    return launch.code;
  };
  const pkceCase = (id: string, title: string, verifier: (launch: LaunchResult) => string | undefined): TestDef =>
    test(id, title, async (t: TestContext) => {
      const { launch, client } = await launchFor(t);
      const code = codeOrSkip(t, launch);
      const ep = await suite.endpoints(t);
      const res = await exchangeCode(t.http, code, suite.inputs.redirectUri, verifier(launch), { client, tokenEndpoint: ep.token });
      expectStatus(res, [400, 401]);
    }, { ref: 'g10_smart_invalid_pkce_code_verifier_group' });
  return {
    id: 'invalid-requests',
    title: 'Invalid authorization and token requests',
    description: 'g10 scenario 6: invalid aud, invalid token request (bad code, bad client), the four invalid PKCE verifiers; and our own: no PKCE, plain PKCE, code reuse, bad client assertions.',
    tests: [
      test('invalid-aud', 'Client app does not receive a code when aud is not the FHIR server', async (t: TestContext) => {
        const { launch } = await launchFor(t, { aud: 'https://inferno.healthit.gov/invalid_aud' });
        ensure(!launch.code, 'the server issued a code for an authorization request whose aud is not its FHIR base');
        t.evidence('outcome', launch.callbackError ? `error redirect: ${launch.callbackError}` : `error page: ${launch.authorize.stoppedAt?.heading}`);
      }, { ref: 'g10_smart_invalid_aud' }),
      test('invalid-code', 'Token exchange with an invalid code fails with 400', async (t: TestContext) => {
        const { launch, client } = await launchFor(t);
        codeOrSkip(t, launch);
        const ep = await suite.endpoints(t);
        const res = await exchangeCode(t.http, 'BAD_CODE', suite.inputs.redirectUri, launch.pkce.verifier, { client, tokenEndpoint: ep.token });
        expectStatus(res, 400);
      }, { ref: 'g10 Test03 (invalid code)' }),
      test('invalid-client', 'Token exchange with an invalid client id fails with 400 or 401', async (t: TestContext) => {
        const { launch, client } = await launchFor(t);
        const code = codeOrSkip(t, launch);
        const ep = await suite.endpoints(t);
        const bad: Client = { ...client, clientId: 'BAD_CLIENT_ID' };
        const res = await exchangeCode(t.http, code, suite.inputs.redirectUri, launch.pkce.verifier, { client: bad, tokenEndpoint: ep.token, override: { client_id: 'BAD_CLIENT_ID' } });
        expectStatus(res, [400, 401]);
      }, { ref: 'g10 Test04 (invalid client)' }),
      pkceCase('invalid-pkce-missing', 'Token exchange fails without code_verifier', () => undefined),
      pkceCase('invalid-pkce-blank', 'Token exchange fails with a blank code_verifier', () => ''),
      pkceCase('invalid-pkce-wrong', 'Token exchange fails with a different code_verifier', () => `${randomUUID()}-${randomUUID()}`),
      pkceCase('invalid-pkce-challenge', 'Token exchange fails when the code_verifier is the S256 code_challenge (plain misuse)', (l) => l.pkce.challenge),
      test('invalid-no-pkce', 'The server issues no code to an authorization request without PKCE', async (t: TestContext) => {
        const { launch } = await launchFor(t, { pkce: false });
        ensure(!launch.code, 'a code was issued without code_challenge');
      }),
      test('invalid-plain-pkce', 'The server refuses code_challenge_method=plain', async (t: TestContext) => {
        const a = account();
        if (!a) t.skip('no test user', { lackOfData: true });
        const ep = await suite.endpoints(t);
        const client = await suite.client(t, 'symmetric');
        const url = new URL(ep.authorization);
        const verifier = `${randomUUID()}-${randomUUID()}`;
        for (const [k, v] of Object.entries({
          response_type: 'code', client_id: client.clientId, redirect_uri: suite.inputs.redirectUri, scope: SMART_DEFAULT_STANDALONE_SCOPE, state: randomUUID(), aud: suite.fhirBase,
          code_challenge: verifier, code_challenge_method: 'plain',
        })) url.searchParams.set(k, v);
        const browser = await suite.browser();
        const outcome = await browser.authorize({ account: a, url: url.href, redirectUri: suite.inputs.redirectUri, ...(a.patientId ? { patientId: a.patientId } : {}) }, t);
        const code = outcome.callback?.searchParams.get('code');
        if (code) {
          const res = await exchangeCode(t.http, code, suite.inputs.redirectUri, verifier, { client, tokenEndpoint: ep.token });
          ensure(res.status !== 200, 'a plain PKCE challenge was accepted and exchanged for a token');
        }
      }),
      test('invalid-code-reuse', 'An authorization code works once', async (t: TestContext) => {
        const { launch, client } = await launchFor(t);
        const code = codeOrSkip(t, launch);
        const ep = await suite.endpoints(t);
        const first = await exchangeCode(t.http, code, suite.inputs.redirectUri, launch.pkce.verifier, { client, tokenEndpoint: ep.token });
        expectStatus(first, 200, 'first exchange');
        const second = await exchangeCode(t.http, code, suite.inputs.redirectUri, launch.pkce.verifier, { client, tokenEndpoint: ep.token });
        expectStatus(second, [400, 401], 'second exchange of the same code');
        const access = jsonObject(first)?.['access_token'];
        if (typeof access === 'string') {
          // RFC 6749 §4.1.2: on code reuse the server should revoke the tokens issued with it.
          const read = await suite.fhir(t, access).read('Patient', String(jsonObject(first)?.['patient']));
          if (read.status === 200) t.warn('the access token issued for the reused code still works (RFC 6749 §4.1.2: SHOULD revoke)');
        }
      }),
      test('invalid-redirect-uri', 'Token exchange with a different redirect_uri fails', async (t: TestContext) => {
        const { launch, client } = await launchFor(t);
        const code = codeOrSkip(t, launch);
        const ep = await suite.endpoints(t);
        const res = await exchangeCode(t.http, code, `${suite.inputs.redirectUri}/other`, launch.pkce.verifier, { client, tokenEndpoint: ep.token });
        expectStatus(res, [400, 401]);
      }),
      test('invalid-client-secret', 'Token exchange with a wrong client secret fails with 400 or 401', async (t: TestContext) => {
        const { launch, client } = await launchFor(t);
        const code = codeOrSkip(t, launch);
        const ep = await suite.endpoints(t);
        const res = await exchangeCode(t.http, code, suite.inputs.redirectUri, launch.pkce.verifier, { client: { ...client, clientSecret: 'wrong-secret' }, tokenEndpoint: ep.token });
        expectStatus(res, [400, 401]);
      }),
      ...assertionCases(suite),
    ],
  };
}

/** Bad client assertions for an asymmetric client: wrong signature key, wrong aud, expired. */
function assertionCases(suite: Suite): TestDef[] {
  const cases: [string, string, (client: Client, tokenEndpoint: string) => Promise<Record<string, string>>][] = [
    [
      'invalid-assertion-signature',
      'Token request fails when the client assertion is signed with a key the client did not register',
      async (client, tokenEndpoint) => {
        const { generateAssertionKeys } = await import('../oauth.js');
        const other = await generateAssertionKeys();
        return { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await clientAssertion(client.clientId, tokenEndpoint, { ...other.privateKeys.RS384, kid: client.privateKeys!.RS384!.kid! }) };
      },
    ],
    [
      'invalid-assertion-aud',
      'Token request fails when the client assertion is for another audience',
      async (client, tokenEndpoint) => ({
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(client.clientId, tokenEndpoint, client.privateKeys!.RS384!, { aud: 'https://other.example/token' }),
      }),
    ],
    [
      'invalid-assertion-expired',
      'Token request fails when the client assertion has expired',
      async (client, tokenEndpoint) => ({
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(client.clientId, tokenEndpoint, client.privateKeys!.RS384!, { expSeconds: -600 }),
      }),
    ],
  ];
  return cases.map(([id, title, make]) =>
    test(id, title, async (t: TestContext) => {
      const a = standaloneAccount(suite.inputs);
      if (!a) t.skip('no test user', { lackOfData: true });
      const client = await suite.client(t, 'asymmetric');
      if (!client.privateKeys?.RS384) t.skip('the asymmetric client has no RS384 key in the inputs', { lackOfData: true });
      const launch = await suite.launch(t, { account: a, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, ...(a.patientId ? { patientId: a.patientId } : {}), exchange: false });
      if (!launch.code) t.fail(`the launch returned no code (${launch.callbackError ?? 'no redirect'})`);
      const ep = await suite.endpoints(t);
      const res = await t.http.post(ep.token, {
        form: { grant_type: 'authorization_code', code: launch.code, redirect_uri: suite.inputs.redirectUri, code_verifier: launch.pkce.verifier, ...(await make(client, ep.token)) },
        headers: { accept: 'application/json' },
      });
      expectStatus(res, [400, 401]);
    }),
  );
}

export function backendServicesGroup(suite: Suite): GroupDef {
  let success: HttpResponse | undefined;
  const backendClient = (t: TestContext): { client: Client; scope: string; tokenEndpoint?: string } => {
    const b = suite.inputs.backendServices;
    if (!b) t.skip('no backend services client in the inputs (backendServices: clientId, privateJwks, scope); open registration refuses client_credentials clients', { lackOfData: true });
    return {
      client: { kind: 'asymmetric', clientId: b.clientId, privateKeys: Object.fromEntries(b.privateJwks.map((k) => [k.alg, k])), alg: (b.privateJwks[0]?.alg as 'RS384' | 'ES384') ?? 'RS384' },
      scope: b.scope,
      ...(b.tokenEndpoint ? { tokenEndpoint: b.tokenEndpoint } : {}),
    };
  };
  /** Any private_key_jwt client will do for the requests that must fail. */
  const anyAsymmetric = async (t: TestContext) => {
    if (suite.inputs.backendServices) return backendClient(t);
    return { client: await suite.client(t, 'asymmetric'), scope: 'system/*.rs' };
  };
  return {
    id: 'backend-services',
    title: 'Backend Services Authorization',
    description: 'client_credentials with a signed client assertion (smart_backend_services); the failing requests use any private_key_jwt client when no backend client is given.',
    tests: [
      test('backend-invalid-grant-type', 'Authorization request fails when client supplies invalid grant_type', async (t: TestContext) => {
        const { client, scope, tokenEndpoint } = await anyAsymmetric(t);
        const ep = tokenEndpoint ?? (await suite.endpoints(t)).token;
        const res = await tokenRequest(t.http, { grant_type: 'not_a_grant_type', scope }, { client, tokenEndpoint: ep });
        expectStatus(res, 400);
      }, { ref: 'smart_backend_services_invalid_grant_type' }),
      test('backend-invalid-assertion-type', 'Authorization request fails when supplied invalid client_assertion_type', async (t: TestContext) => {
        const { client, scope, tokenEndpoint } = await anyAsymmetric(t);
        const ep = tokenEndpoint ?? (await suite.endpoints(t)).token;
        const res = await tokenRequest(t.http, { grant_type: 'client_credentials', scope }, { client, tokenEndpoint: ep, override: { client_assertion_type: 'not_an_assertion_type' } });
        expectStatus(res, [400, 401]);
      }, { ref: 'smart_backend_services_invalid_client_assertion' }),
      test('backend-invalid-jwt', 'Authorization request fails when client supplies invalid JWT token', async (t: TestContext) => {
        const { client, scope, tokenEndpoint } = await anyAsymmetric(t);
        const ep = tokenEndpoint ?? (await suite.endpoints(t)).token;
        const res = await tokenRequest(t.http, { grant_type: 'client_credentials', scope }, { client, tokenEndpoint: ep, override: { client_assertion: 'not.a.jwt' } });
        expectStatus(res, [400, 401]);
      }, { ref: 'smart_backend_services_invalid_jwt' }),
      test('backend-success', 'Authorization request succeeds when supplied correct information', async (t: TestContext) => {
        const { client, scope, tokenEndpoint } = backendClient(t);
        const ep = tokenEndpoint ?? (await suite.endpoints(t)).token;
        success = await tokenRequest(t.http, { grant_type: 'client_credentials', scope }, { client, tokenEndpoint: ep });
        expectStatus(success, [200, 201]);
      }, { ref: 'smart_backend_services_auth_request_success' }),
      test('backend-response-body', 'Authorization request response body contains required information encoded in JSON', async (t: TestContext) => {
        if (!success || (success.status !== 200 && success.status !== 201)) t.skip('the backend services request did not succeed', { lackOfData: !suite.inputs.backendServices });
        t.record(success.exchange);
        const body = jsonObject(success);
        ensure(body, 'not JSON');
        const problems: string[] = [];
        if (typeof body['access_token'] !== 'string') problems.push('access_token is missing');
        if (typeof body['token_type'] !== 'string' || body['token_type'].toLowerCase() !== 'bearer') problems.push('token_type is not bearer');
        if (typeof body['expires_in'] !== 'number') problems.push('expires_in is not numeric');
        if (body['scope'] === undefined) problems.push('scope is missing');
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'smart_backend_services_auth_response_body' }),
    ],
  };
}

/** SMART 2's authorize-post (g10 scenario 3 locks the authorization request to a form POST). */
export function authorizePostGroup(suite: Suite): GroupDef {
  return {
    id: 'authorize-post',
    title: 'Authorization request by form POST',
    description: 'The capability authorize-post: the same authorization request as an HTML form POST (application/x-www-form-urlencoded).',
    tests: [
      test('authorize-post', 'The authorization endpoint accepts a form POST and redirects back with a code', async (t: TestContext) => {
        const account = standaloneAccount(suite.inputs);
        if (!account) t.skip('no test user', { lackOfData: true });
        const caps = ((await suite.smart(t))['capabilities'] as unknown[] | undefined) ?? [];
        if (!caps.includes('authorize-post')) t.warn('authorize-post is not declared, but g10 requires it');
        const client = await suite.client(t, 'symmetric');
        const launch = await suite.launch(t, { account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, method: 'POST', ...(account.patientId ? { patientId: account.patientId } : {}) });
        suite.requireToken(t, launch, 'authorization by POST');
      }, { ref: 'smart_app_redirect_stu2 (auth_request_method POST)' }),
    ],
  };
}
