/**
 * What the groups share: the inputs, discovery, registered clients, the browser, launches and the
 * tokens they produced, and what the Single Patient API saw (for the granular-scope replays and the
 * cross-patient checks). Helpers record their HTTP exchanges on the test that calls them.
 */
import { randomUUID } from 'node:crypto';
import { BrowserDriver, type AuthorizeOutcome } from './browser.js';
import { routeToPatient, type AccountInput, type Inputs, type PatientRoute } from './config.js';
import { FhirClient, type FhirResource } from './fhir.js';
import { HttpClient, jsonObject, type HttpResponse } from './http.js';
import {
  authorizeParams,
  authorizeUrl,
  exchangeCode,
  newPkce,
  registerClient,
  type AssertionAlg,
  type Client,
  type ClientKind,
  type Pkce,
} from './oauth.js';
import type { TestContext } from './runner.js';
import { G10_TYPES } from './scopes.js';
import { TotpClock } from './totp.js';

export const SMART_DEFAULT_STANDALONE_SCOPE = 'launch/patient openid fhirUser offline_access patient/*.rs';
export const SMART_DEFAULT_EHR_SCOPE = 'launch openid fhirUser offline_access patient/*.rs';
export const G10_STANDALONE_SCOPE = ['launch/patient', 'openid', 'fhirUser', 'offline_access', ...G10_TYPES.map((t) => `patient/${t}.rs`)].join(' ');
export const G10_EHR_SCOPE = ['launch', 'openid', 'fhirUser', 'offline_access', ...G10_TYPES.map((t) => `user/${t}.rs`)].join(' ');

export interface Endpoints {
  authorization: string;
  token: string;
  registration?: string;
  introspection?: string;
  revocation?: string;
  management?: string;
  issuer?: string;
  jwksUri?: string;
}

export interface LaunchOptions {
  account: AccountInput;
  client: Client;
  scope: string;
  patientId?: string;
  /** Keep these offered scopes ticked (default all). */
  keep?: (scope: string) => boolean;
  deny?: boolean;
  /** Send PKCE (default true). */
  pkce?: boolean;
  aud?: string;
  launch?: string;
  method?: 'GET' | 'POST';
  /** Exchange the code right away (default true). */
  exchange?: boolean;
  alg?: AssertionAlg;
}

export interface LaunchResult {
  options: LaunchOptions;
  state: string;
  pkce: Pkce;
  authorize: AuthorizeOutcome;
  requestedScopes: string[];
  code?: string;
  callbackError?: string;
  tokenRes?: HttpResponse;
  token?: Record<string, unknown>;
}

export function tokenString(launch: LaunchResult | undefined, key: string): string | undefined {
  const v = launch?.token?.[key];
  return typeof v === 'string' ? v : undefined;
}

export class Suite {
  readonly totp = new TotpClock();
  readonly http = new HttpClient();
  private browserDriver?: BrowserDriver;
  private smartConfig?: Record<string, unknown>;
  private readonly clients = new Map<string, Client>();
  private readonly patientLaunches = new Map<string, Promise<LaunchResult | { problem: string }>>();
  /** Named launches groups hand to each other (e.g. the standalone launch for the OpenID tests). */
  readonly launches = new Map<string, LaunchResult>();
  /** Resources the Single Patient API returned, by patient. */
  readonly seen = new Map<string, FhirResource[]>();
  /** Condition and Observation searches the Single Patient API ran (for the granular replays). */
  readonly recordedSearches: { patientId: string; type: string; params: [string, string][]; method: 'GET' | 'POST'; ids: string[] }[] = [];
  readonly runId = randomUUID().slice(0, 8);

  constructor(
    readonly inputs: Inputs,
    readonly options: { chromiumPath: string; headed: boolean; screenshots: boolean },
  ) {}

  get fhirBase(): string {
    return this.inputs.fhirBaseUrl;
  }

  async browser(): Promise<BrowserDriver> {
    this.browserDriver ??= await BrowserDriver.launch({
      executablePath: this.options.chromiumPath,
      headed: this.options.headed,
      screenshots: this.options.screenshots,
      totp: this.totp,
    });
    return this.browserDriver;
  }

  async close(): Promise<void> {
    await this.browserDriver?.close();
  }

  /** The SMART configuration (fetched once; recorded on the test that first needs it). */
  async smart(t: TestContext): Promise<Record<string, unknown>> {
    if (this.smartConfig) return this.smartConfig;
    const res = await t.http.get(`${this.fhirBase}/.well-known/smart-configuration`, { headers: { accept: 'application/json' } });
    const body = jsonObject(res);
    if (res.status !== 200 || !body) t.skip(`the SMART configuration is not available (HTTP ${res.status}): nothing to launch with`);
    this.smartConfig = body;
    return body;
  }

  async endpoints(t: TestContext): Promise<Endpoints> {
    const c = await this.smart(t);
    const url = (k: string) => (typeof c[k] === 'string' ? new URL(c[k] as string, `${this.fhirBase}/`).href : undefined);
    const authorization = url('authorization_endpoint');
    const token = url('token_endpoint');
    if (!authorization || !token) t.skip('the SMART configuration names no authorization or token endpoint');
    const optional = (key: keyof Endpoints, value: string | undefined) => (value ? { [key]: value } : {});
    return {
      authorization,
      token,
      ...optional('registration', url('registration_endpoint')),
      ...optional('introspection', url('introspection_endpoint')),
      ...optional('revocation', url('revocation_endpoint')),
      ...optional('management', url('management_endpoint')),
      ...optional('issuer', url('issuer')),
      ...optional('jwksUri', url('jwks_uri')),
    } as Endpoints;
  }

  /** A client of a kind: the configured one, else registered dynamically (once per run and name). */
  async client(t: TestContext, kind: ClientKind, purpose: 'app' | 'ehr' = 'app'): Promise<Client> {
    const key = `${kind}:${purpose}`;
    const known = this.clients.get(key);
    if (known) return known;
    const configured = purpose === 'ehr' ? this.inputs.clients.ehr : this.inputs.clients[kind];
    if (configured) {
      const client: Client = {
        kind,
        clientId: configured.clientId,
        ...(configured.clientSecret ? { clientSecret: configured.clientSecret } : {}),
        ...(configured.privateJwks
          ? { privateKeys: Object.fromEntries(configured.privateJwks.map((k) => [k.alg, k])), alg: (configured.privateJwks[0]?.alg as AssertionAlg) ?? 'RS384' }
          : {}),
        name: configured.clientId,
      };
      this.clients.set(key, client);
      return client;
    }
    const { registration } = await this.endpoints(t);
    if (!registration) t.skip(`no ${kind} client in the inputs and no registration_endpoint to register one`, { lackOfData: true });
    const name = `Conformance ${purpose === 'ehr' ? 'EHR ' : ''}${kind} app ${this.runId}`;
    const { client, res } = await registerClient(t.http, registration, {
      kind,
      name,
      redirectUri: this.inputs.redirectUri,
      ...(purpose === 'ehr' ? { launchUri: this.inputs.launchUri } : {}),
    });
    if (!client) t.fail(`dynamic registration of a ${kind} client failed: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    t.info(`registered ${kind} client ${client.clientId} ("${name}")`);
    this.clients.set(key, client);
    return client;
  }

  /** An authorization in the browser, then (by default) the code exchange. */
  async launch(t: TestContext, o: LaunchOptions): Promise<LaunchResult> {
    const ep = await this.endpoints(t);
    const browser = await this.browser();
    const state = randomUUID();
    const pkce = newPkce();
    const params = {
      authorizationEndpoint: ep.authorization,
      clientId: o.client.clientId,
      redirectUri: this.inputs.redirectUri,
      scope: o.scope,
      state,
      aud: o.aud ?? this.fhirBase,
      ...(o.pkce === false ? {} : { pkce }),
      ...(o.launch ? { launch: o.launch } : {}),
    };
    const authorize = await browser.authorize(
      {
        account: o.account,
        url: o.method === 'POST' ? ep.authorization : authorizeUrl(params),
        ...(o.method === 'POST' ? { post: authorizeParams(params) } : {}),
        redirectUri: this.inputs.redirectUri,
        ...(o.patientId ? { patientId: o.patientId } : {}),
        ...(o.keep ? { keep: o.keep } : {}),
        ...(o.deny ? { deny: true } : {}),
      },
      t,
    );
    const result: LaunchResult = { options: o, state, pkce, authorize, requestedScopes: o.scope.split(' ') };
    const cb = authorize.callback;
    if (cb) {
      const code = cb.searchParams.get('code');
      if (code) result.code = code;
      const error = cb.searchParams.get('error');
      if (error) result.callbackError = `${error}${cb.searchParams.get('error_description') ? `: ${cb.searchParams.get('error_description')}` : ''}`;
      if (cb.searchParams.get('state') !== state) t.warn(`the redirect carried state "${cb.searchParams.get('state')}", not the "${state}" sent`);
    }
    if (result.code && o.exchange !== false) {
      result.tokenRes = await exchangeCode(t.http, result.code, this.inputs.redirectUri, pkce.verifier, {
        client: o.client,
        tokenEndpoint: ep.token,
        ...(o.client.kind === 'public' ? { origin: this.inputs.origin } : {}),
        ...(o.alg ? { alg: o.alg } : {}),
      });
      const body = jsonObject(result.tokenRes);
      if (body) result.token = body;
      if (typeof body?.['patient'] === 'string') browser.learn(o.account, authorize.pickedLabel, body['patient']);
    }
    return result;
  }

  /** Fails the test unless the launch produced a code and a 200 token response; returns the token body. */
  requireToken(t: TestContext, launch: LaunchResult, what = 'launch'): Record<string, unknown> {
    if (!launch.code) {
      t.fail(
        `${what}: no authorization code${launch.callbackError ? ` (redirect error ${launch.callbackError})` : ''}${launch.authorize.stoppedAt ? ` (stopped on "${launch.authorize.stoppedAt.heading}": ${launch.authorize.stoppedAt.text.slice(0, 300)})` : ''}`,
      );
    }
    if (!launch.tokenRes || launch.tokenRes.status !== 200 || !launch.token) t.fail(`${what}: token exchange failed with HTTP ${launch.tokenRes?.status}: ${launch.tokenRes?.text.slice(0, 300)}`);
    return launch.token;
  }

  route(patientId: string): PatientRoute | undefined {
    return routeToPatient(this.inputs, patientId);
  }

  /**
   * A token for one patient's record, for the Single Patient API: a standalone launch as the
   * patient or their proxy, or an EHR launch by the practitioner. Cached per patient.
   */
  async patientToken(t: TestContext, patientId: string): Promise<LaunchResult | { problem: string }> {
    let pending = this.patientLaunches.get(patientId);
    if (!pending) {
      pending = this.obtainPatientToken(t, patientId);
      this.patientLaunches.set(patientId, pending);
    }
    return pending;
  }

  private async obtainPatientToken(t: TestContext, patientId: string): Promise<LaunchResult | { problem: string }> {
    const route = this.route(patientId);
    if (!route) return { problem: `no account in the inputs can open Patient/${patientId}` };
    const client = await this.client(t, 'public');
    let launchValue: string | undefined;
    if (route.kind === 'ehr') {
      const ehrClient = await this.client(t, 'symmetric', 'ehr');
      const ep = await this.endpoints(t);
      if (!ep.management) return { problem: 'no management_endpoint to start an EHR launch from' };
      const browser = await this.browser();
      const launched = await browser.ehrLaunch(
        { account: route.account, managementUrl: ep.management, appName: ehrClient.name ?? ehrClient.clientId, patientId, launchUri: this.inputs.launchUri },
        t,
      );
      launchValue = launched.launchUrl?.searchParams.get('launch') ?? undefined;
      if (!launchValue) return { problem: `the EHR launch into Patient/${patientId} did not reach the app (${launched.stoppedAt?.text ?? 'no launch parameter'})` };
      const launch = await this.launch(t, { account: route.account, client: ehrClient, scope: SMART_DEFAULT_EHR_SCOPE, launch: launchValue });
      return this.checkPatientLaunch(launch, patientId);
    }
    const launch = await this.launch(t, { account: route.account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, patientId });
    if (route.kind === 'proxy' && launch.token?.['patient'] !== patientId && launch.token?.['patient']) {
      // The picker option was learned now: one more launch picks the right person.
      const again = await this.launch(t, { account: route.account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, patientId });
      return this.checkPatientLaunch(again, patientId);
    }
    return this.checkPatientLaunch(launch, patientId);
  }

  private checkPatientLaunch(launch: LaunchResult, patientId: string): LaunchResult | { problem: string } {
    if (!launch.token || typeof launch.token['access_token'] !== 'string') {
      return { problem: `no token for Patient/${patientId}: ${launch.callbackError ?? launch.authorize.stoppedAt?.text ?? `HTTP ${launch.tokenRes?.status}`}` };
    }
    if (launch.token['patient'] !== patientId) return { problem: `the launch for Patient/${patientId} produced a token for ${String(launch.token['patient'])}` };
    return launch;
  }

  fhir(t: TestContext, token?: string): FhirClient {
    return new FhirClient(t.http, this.fhirBase, token);
  }
}
