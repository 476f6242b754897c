/**
 * The suite's inputs: what Inferno asks a tester for. The demo dataset's accounts file
 * (`.data/demo-accounts.json`: fhirBaseUrl + accounts) is a valid input on its own; every other
 * field is optional and defaults to "register dynamically" or to a choice made from the accounts.
 */
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';

export interface ActsFor {
  patientId: string;
  relatedPersonId?: string;
  basis?: string;
}

export interface AccountInput {
  username: string;
  password: string;
  /** Base32 TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s). Absent: the account has no second factor. */
  totpSecret?: string;
  displayName?: string;
  /** `Patient/id`, `Practitioner/id` or `RelatedPerson/id`. */
  fhirUser?: string;
  patientId?: string;
  actsFor?: ActsFor[];
}

export interface ClientInput {
  clientId: string;
  clientSecret?: string;
  /** private_key_jwt: the private keys (JWK with `d`, `kid` and `alg` RS384 or ES384). */
  privateJwks?: JWK[];
}

export interface Inputs {
  fhirBaseUrl: string;
  accounts: AccountInput[];
  /**
   * Where the authorization server sends the browser back, and the app's launch URL: served by the
   * suite on a loopback address (default: an ephemeral port; give them for pre-registered clients).
   */
  redirectUri: string;
  launchUri: string;
  /** The Origin the app sends (CORS checks): the app server's origin. */
  origin: string;
  /** Pre-registered clients; those absent are registered dynamically. */
  clients: { public?: ClientInput; symmetric?: ClientInput; asymmetric?: ClientInput; ehr?: ClientInput };
  /** The account for the standalone launches (Inferno's test user). */
  standaloneUsername?: string;
  /** A second account for the patient-directed revocation (so its TOTP code does not wait). */
  revocationUsername?: string;
  /** The EHR launch: a practitioner account, the patient and encounter to launch into. */
  ehr: { username?: string; patientId?: string; encounterId?: string };
  /** g10 Limited Access: the resource types the tester keeps ticked. */
  limitedResources: string[];
  granular: { group1: string[]; group2: string[] };
  /** Single Patient API: the patients whose records together cover US Core (Inferno's patient ids). */
  usCorePatientIds?: string[];
  /** Labels that mark data hidden from a limited proxy (teen confidential care). */
  hiddenLabels: { system?: string; code: string }[];
  backendServices?: { clientId: string; privateJwks: JWK[]; scope: string; tokenEndpoint?: string };
  /** Path of the US Core package (.tgz). */
  usCorePackage: string;
}

export const DEFAULT_HIDDEN_LABELS = [
  { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' },
  { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'V' },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const string = (v: unknown, where: string): string => {
  if (typeof v !== 'string' || !v.trim()) throw new ConfigError(`${where} must be a non-empty string`);
  return v;
};

export interface InputOverrides {
  fhirBaseUrl?: string;
  usCorePackage: string;
  /** The app server's URLs, used where the inputs name none. */
  app?: { redirectUri: string; launchUri: string; origin: string };
}

/** The app URLs an inputs file asks for (pre-registered clients), so the app server can listen there. */
export function requestedAppUrls(raw: unknown): { redirectUri?: string; launchUri?: string } {
  const o = (raw ?? {}) as Record<string, unknown>;
  return {
    ...(typeof o['redirectUri'] === 'string' ? { redirectUri: o['redirectUri'] } : {}),
    ...(typeof o['launchUri'] === 'string' ? { launchUri: o['launchUri'] } : {}),
  };
}

export function parseInputs(raw: unknown, overrides: InputOverrides): Inputs {
  if (!raw || typeof raw !== 'object') throw new ConfigError('the inputs file must hold a JSON object');
  const o = raw as Record<string, unknown>;
  const fhirBaseUrl = (overrides.fhirBaseUrl ?? string(o['fhirBaseUrl'] ?? o['fhirBase'], 'fhirBaseUrl')).replace(/\/+$/, '');
  if (!URL.canParse(fhirBaseUrl)) throw new ConfigError(`fhirBaseUrl "${fhirBaseUrl}" is not a URL`);
  if (!Array.isArray(o['accounts'])) throw new ConfigError('accounts must be an array of test user logins');
  const accounts = (o['accounts'] as unknown[]).map((a, i): AccountInput => {
    const r = (a ?? {}) as Record<string, unknown>;
    const where = `accounts[${i}]`;
    const acts = Array.isArray(r['actsFor']) ? (r['actsFor'] as Record<string, unknown>[]) : [];
    return {
      username: string(r['username'], `${where}.username`),
      password: string(r['password'], `${where}.password`),
      ...(typeof r['totpSecret'] === 'string' ? { totpSecret: r['totpSecret'] } : {}),
      ...(typeof r['displayName'] === 'string' ? { displayName: r['displayName'] } : {}),
      ...(typeof r['fhirUser'] === 'string' ? { fhirUser: r['fhirUser'] } : {}),
      ...(typeof r['patientId'] === 'string' ? { patientId: r['patientId'] } : {}),
      actsFor: acts.map((x, j) => ({
        patientId: string(x['patientId'], `${where}.actsFor[${j}].patientId`),
        ...(typeof x['relatedPersonId'] === 'string' ? { relatedPersonId: x['relatedPersonId'] } : {}),
        ...(typeof x['basis'] === 'string' ? { basis: x['basis'] } : {}),
      })),
    };
  });
  if (accounts.length === 0) throw new ConfigError('accounts is empty: give at least one test user');
  const clients = (o['clients'] ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const client = (key: string): ClientInput | undefined => {
    const c = clients[key];
    if (!c) return undefined;
    return {
      clientId: string(c['clientId'], `clients.${key}.clientId`),
      ...(typeof c['clientSecret'] === 'string' ? { clientSecret: c['clientSecret'] } : {}),
      ...(Array.isArray(c['privateJwks']) ? { privateJwks: c['privateJwks'] as JWK[] } : {}),
    };
  };
  const ehr = (o['ehr'] ?? {}) as Record<string, unknown>;
  const granular = (o['granular'] ?? {}) as Record<string, unknown>;
  const backend = o['backendServices'] as Record<string, unknown> | undefined;
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
  const usCore = (o['usCore'] ?? {}) as Record<string, unknown>;
  const inputs: Inputs = {
    fhirBaseUrl,
    accounts,
    redirectUri: typeof o['redirectUri'] === 'string' ? o['redirectUri'] : (overrides.app?.redirectUri ?? 'http://127.0.0.1:0/conformance/redirect'),
    launchUri: typeof o['launchUri'] === 'string' ? o['launchUri'] : (overrides.app?.launchUri ?? 'http://127.0.0.1:0/conformance/launch'),
    origin: typeof o['origin'] === 'string' ? o['origin'] : (overrides.app?.origin ?? 'http://127.0.0.1'),
    clients: {
      ...(client('public') ? { public: client('public')! } : {}),
      ...(client('symmetric') ? { symmetric: client('symmetric')! } : {}),
      ...(client('asymmetric') ? { asymmetric: client('asymmetric')! } : {}),
      ...(client('ehr') ? { ehr: client('ehr')! } : {}),
    },
    ...(typeof o['standaloneUsername'] === 'string' ? { standaloneUsername: o['standaloneUsername'] } : {}),
    ...(typeof o['revocationUsername'] === 'string' ? { revocationUsername: o['revocationUsername'] } : {}),
    ehr: {
      ...(typeof ehr['username'] === 'string' ? { username: ehr['username'] } : {}),
      ...(typeof ehr['patientId'] === 'string' ? { patientId: ehr['patientId'] } : {}),
      ...(typeof ehr['encounterId'] === 'string' ? { encounterId: ehr['encounterId'] } : {}),
    },
    limitedResources: strings(o['limitedResources']) ?? ['Patient', 'Condition', 'Observation'],
    granular: { group1: strings(granular['group1']) ?? [], group2: strings(granular['group2']) ?? [] },
    ...(strings(usCore['patientIds']) ? { usCorePatientIds: strings(usCore['patientIds'])! } : {}),
    hiddenLabels: Array.isArray(o['hiddenLabels']) ? (o['hiddenLabels'] as { system?: string; code: string }[]) : DEFAULT_HIDDEN_LABELS,
    ...(backend
      ? {
          backendServices: {
            clientId: string(backend['clientId'], 'backendServices.clientId'),
            privateJwks: Array.isArray(backend['privateJwks']) ? (backend['privateJwks'] as JWK[]) : [],
            scope: typeof backend['scope'] === 'string' ? backend['scope'] : 'system/*.rs',
            ...(typeof backend['tokenEndpoint'] === 'string' ? { tokenEndpoint: backend['tokenEndpoint'] } : {}),
          },
        }
      : {}),
    usCorePackage: typeof o['usCorePackage'] === 'string' ? o['usCorePackage'] : overrides.usCorePackage,
  };
  for (const name of [inputs.standaloneUsername, inputs.revocationUsername, inputs.ehr.username]) {
    if (name && !accounts.some((a) => a.username === name)) throw new ConfigError(`"${name}" is not one of the accounts`);
  }
  return inputs;
}

export async function readInputsFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the inputs file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not JSON: ${(err as Error).message}`);
  }
  return raw;
}

/** Accounts that are a patient themselves (not only a proxy or a practitioner). */
export function patientAccounts(inputs: Inputs): AccountInput[] {
  return inputs.accounts.filter((a) => a.patientId && (!a.fhirUser || a.fhirUser.startsWith('Patient/')));
}

export function practitionerAccount(inputs: Inputs): AccountInput | undefined {
  if (inputs.ehr.username) return inputs.accounts.find((a) => a.username === inputs.ehr.username);
  return inputs.accounts.find((a) => a.fhirUser?.startsWith('Practitioner/'));
}

/**
 * The standalone test user: the configured one, else a patient with no proxies who is nobody's
 * proxy subject (a plain adult record), else the first patient account.
 */
export function standaloneAccount(inputs: Inputs): AccountInput | undefined {
  if (inputs.standaloneUsername) return inputs.accounts.find((a) => a.username === inputs.standaloneUsername);
  const subjects = new Set(inputs.accounts.flatMap((a) => (a.actsFor ?? []).map((x) => x.patientId)));
  const plain = patientAccounts(inputs).filter((a) => (a.actsFor ?? []).length === 0 && !subjects.has(a.patientId!));
  return plain[0] ?? patientAccounts(inputs)[0];
}

/** Another plain patient account (for the revocation scenario), different from `not`. */
export function secondAccount(inputs: Inputs, not: string): AccountInput | undefined {
  if (inputs.revocationUsername) return inputs.accounts.find((a) => a.username === inputs.revocationUsername);
  const subjects = new Set(inputs.accounts.flatMap((a) => (a.actsFor ?? []).map((x) => x.patientId)));
  return patientAccounts(inputs).find((a) => a.username !== not && (a.actsFor ?? []).length === 0 && !subjects.has(a.patientId!));
}

/** How to get a token for a patient: their own account, a proxy's, or an EHR launch by a practitioner. */
export type PatientRoute =
  | { kind: 'self'; account: AccountInput; patientId: string }
  | { kind: 'proxy'; account: AccountInput; patientId: string }
  | { kind: 'ehr'; account: AccountInput; patientId: string };

export function routeToPatient(inputs: Inputs, patientId: string): PatientRoute | undefined {
  const self = patientAccounts(inputs).find((a) => a.patientId === patientId);
  if (self) return { kind: 'self', account: self, patientId };
  const proxy = inputs.accounts.find((a) => (a.actsFor ?? []).some((x) => x.patientId === patientId));
  if (proxy) return { kind: 'proxy', account: proxy, patientId };
  const practitioner = practitionerAccount(inputs);
  return practitioner ? { kind: 'ehr', account: practitioner, patientId } : undefined;
}

/** Default Single Patient API patients: every patient an account opens (own record or as proxy). */
export function usCorePatients(inputs: Inputs): string[] {
  if (inputs.usCorePatientIds) return inputs.usCorePatientIds;
  const ids = new Set<string>();
  const main = standaloneAccount(inputs)?.patientId;
  if (main) ids.add(main);
  for (const a of patientAccounts(inputs)) ids.add(a.patientId!);
  for (const a of inputs.accounts) for (const x of a.actsFor ?? []) ids.add(x.patientId);
  return [...ids];
}
