#!/usr/bin/env node
/**
 * npm run conformance -- [--fhir-base <url>] [--config <inputs.json>] [--out <dir>] [--group <ids>]
 *                        [--headed] [--no-screenshots] [--chromium <path>] [--us-core-package <tgz>]
 *
 * Without arguments: reads .data/demo-accounts.json (or $DATA_DIR/demo-accounts.json) and tests the
 * FHIR base it names (http://localhost:8080/fhir for a default `npm start`). Exit status 1 when any
 * test failed or a required test was skipped; 2 when the inputs are unusable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppServer } from './app-server.js';
import { ConfigError, parseInputs, practitionerAccount, readInputsFile, requestedAppUrls, standaloneAccount } from './config.js';
import { attestations, screenshotSaver, summaryLine, testLine, writeReport } from './report.js';
import { exitStatus, runGroups, summarize, type GroupDef } from './runner.js';
import { G10_EHR_SCOPE, G10_STANDALONE_SCOPE, SMART_DEFAULT_STANDALONE_SCOPE, Suite } from './suite.js';
import { discoveryGroup } from './groups/discovery.js';
import { capabilityGroup } from './groups/capability.js';
import { accounts, launchGroup, newHolder, openIdGroup, refreshGroup } from './groups/launch.js';
import { authorizePostGroup, backendServicesGroup, introspectionGroup, invalidRequestsGroup, revocationGroup } from './groups/authz.js';
import { ehrPatientScopesGroup, granularGroup, granularSelectionGroup, limitedAccessGroup, unrestrictedAccessGroup, v1ScopesGroup } from './groups/scope-groups.js';
import { newUsCoreState, usCoreGuidanceGroup, usCorePagingGroup, usCoreProfileGroups, usCoreSetupGroup } from './groups/uscore.js';
import { crossPatientGroup, errorBodiesGroup, noStoreGroup, proxyGroup } from './groups/privacy.js';
import { rateLimitGroup } from './groups/rate-limits.js';
import { accessLogGroup } from './groups/access-log.js';
import type { TestContext } from './runner.js';

export interface CliOptions {
  fhirBase?: string;
  config?: string;
  out: string;
  groups?: string[];
  headed: boolean;
  screenshots: boolean;
  chromium: string;
  usCorePackage: string;
  list: boolean;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** conformance/packages/us-core-6.1.0.tgz, from conformance/src (tests) or conformance/dist. */
export const DEFAULT_US_CORE_PACKAGE = resolve(HERE, '../packages/us-core-6.1.0.tgz');

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  const options: CliOptions = {
    out: 'conformance-report',
    headed: false,
    screenshots: true,
    chromium: env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    // Vendored (HL7 publishes US Core under CC0): the suite runs wherever it is checked out.
    usCorePackage: env['US_CORE_PACKAGE'] ?? DEFAULT_US_CORE_PACKAGE,
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new ConfigError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--fhir-base':
        options.fhirBase = value();
        break;
      case '--config':
        options.config = value();
        break;
      case '--out':
        options.out = value();
        break;
      case '--group':
      case '--groups':
        options.groups = value().split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--headed':
        options.headed = true;
        break;
      case '--no-screenshots':
        options.screenshots = false;
        break;
      case '--chromium':
        options.chromium = value();
        break;
      case '--us-core-package':
        options.usCorePackage = value();
        break;
      case '--list':
        options.list = true;
        break;
      case '--help':
      case '-h':
        throw new ConfigError('usage');
      default:
        throw new ConfigError(`unknown argument ${arg}`);
    }
  }
  return options;
}

const USAGE = `usage: npm run conformance -- [--fhir-base <url>] [--config <inputs.json>] [--out <dir>]
       [--group <id,prefix,…>] [--list] [--headed] [--no-screenshots] [--chromium <path>] [--us-core-package <tgz>]`;

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['DATA_DIR'] ?? '.data', 'demo-accounts.json');
}

/** Every group, in the order they run (later groups use what earlier ones found). */
export function buildGroups(suite: Suite): GroupDef[] {
  const publicLaunch = newHolder('standalone launch (public client)');
  const symmetricLaunch = newHolder('standalone launch (confidential symmetric client)');
  const rsLaunch = newHolder('standalone launch (confidential asymmetric client, RS384)');
  const esLaunch = newHolder('standalone launch (confidential asymmetric client, ES384)');
  const ehrLaunch = newHolder('EHR launch (practitioner, confidential symmetric client)');
  const limited = newHolder('limited access launch');
  const v1 = newHolder('SMART v1 scopes launch');
  const usCore = newUsCoreState();

  let encounter: Promise<string | undefined> | undefined;
  const ehrPatient = (s: Suite) => s.inputs.ehr.patientId ?? standaloneAccount(s.inputs)?.patientId;
  const ehrEncounter = (s: Suite, t: TestContext): Promise<string | undefined> => {
    if (s.inputs.ehr.encounterId) return Promise.resolve(s.inputs.ehr.encounterId);
    encounter ??= (async () => {
      const patientId = ehrPatient(s);
      if (!patientId) return undefined;
      const launch = await s.patientToken(t, patientId);
      if ('problem' in launch) return undefined;
      const res = await s.fhir(t, String(launch.token!['access_token'])).search('Encounter', [['patient', patientId]]);
      const entry = (res.json as { entry?: { resource?: { id?: string } }[] } | undefined)?.entry?.[0]?.resource?.id;
      return entry;
    })();
    return encounter;
  };

  const ehrPatientScopes = async (t: TestContext) => {
    const account = practitionerAccount(suite.inputs);
    const patientId = ehrPatient(suite);
    if (!account || !patientId) t.skip('no practitioner account or patient for an EHR launch', { lackOfData: true });
    const ep = await suite.endpoints(t);
    if (!ep.management) t.skip('no management_endpoint', { lackOfData: true });
    const client = await suite.client(t, 'symmetric', 'ehr');
    const browser = await suite.browser();
    const launched = await browser.ehrLaunch({ account, managementUrl: ep.management, appName: client.name ?? client.clientId, patientId, launchUri: suite.inputs.launchUri }, t);
    const launchValue = launched.launchUrl?.searchParams.get('launch');
    if (!launchValue) t.fail(`the EHR launch did not reach the app (${launched.stoppedAt?.text ?? 'no launch parameter'})`);
    return suite.launch(t, { account, client, scope: 'launch openid fhirUser offline_access patient/Patient.rs', launch: launchValue });
  };

  return [
    discoveryGroup(suite),
    capabilityGroup(suite),
    launchGroup(suite, { id: 'standalone-public', title: 'Standalone Launch (public client)', kind: 'public', scope: G10_STANDALONE_SCOPE, scopeContext: 'patient', account: accounts.standalone }, publicLaunch),
    openIdGroup(suite, 'openid-standalone', publicLaunch),
    refreshGroup(suite, 'refresh-standalone-public', publicLaunch),
    launchGroup(
      suite,
      { id: 'standalone-symmetric', title: 'Standalone Launch (confidential symmetric client)', description: 'g10 scenario 1: full access, client_secret_basic.', kind: 'symmetric', scope: G10_STANDALONE_SCOPE, scopeContext: 'patient', account: accounts.standalone },
      symmetricLaunch,
    ),
    refreshGroup(suite, 'refresh-standalone-symmetric', symmetricLaunch),
    unrestrictedAccessGroup(suite, 'unrestricted-access', symmetricLaunch),
    launchGroup(
      suite,
      { id: 'standalone-asymmetric-rs384', title: 'Standalone Launch (confidential asymmetric client, RS384)', kind: 'asymmetric', alg: 'RS384', scope: G10_STANDALONE_SCOPE, scopeContext: 'patient', account: accounts.standalone },
      rsLaunch,
    ),
    refreshGroup(suite, 'refresh-asymmetric-rs384', rsLaunch),
    launchGroup(
      suite,
      { id: 'standalone-asymmetric-es384', title: 'Standalone Launch (confidential asymmetric client, ES384)', kind: 'asymmetric', alg: 'ES384', scope: SMART_DEFAULT_STANDALONE_SCOPE, scopeContext: 'patient', account: accounts.standalone },
      esLaunch,
    ),
    refreshGroup(suite, 'refresh-asymmetric-es384', esLaunch),
    introspectionGroup(suite),
    revocationGroup(suite),
    invalidRequestsGroup(suite),
    backendServicesGroup(suite),
    limitedAccessGroup(suite, limited),
    v1ScopesGroup(suite, v1),
    unrestrictedAccessGroup(suite, 'unrestricted-access-v1', v1, true),
    launchGroup(
      suite,
      {
        id: 'ehr',
        title: 'EHR Launch (practitioner, encounter, banner and style)',
        description: 'g10 scenario 3: the practitioner launches the app from the launch page with a patient and an encounter (authorization by GET here; the form POST g10 uses is tested on its own in authorize-post).',
        kind: 'symmetric',
        scope: G10_EHR_SCOPE,
        scopeContext: 'user',
        account: accounts.practitioner,
        ehr: { patientId: ehrPatient, encounterId: ehrEncounter },
      },
      ehrLaunch,
    ),
    openIdGroup(suite, 'openid-ehr', ehrLaunch),
    refreshGroup(suite, 'refresh-ehr', ehrLaunch),
    ehrPatientScopesGroup(suite, ehrPatientScopes),
    authorizePostGroup(suite),
    usCoreSetupGroup(suite, usCore),
    ...usCoreProfileGroups(suite, usCore),
    usCorePagingGroup(suite, usCore),
    usCoreGuidanceGroup(suite, usCore),
    granularGroup(suite, 1),
    granularGroup(suite, 2),
    granularSelectionGroup(suite),
    crossPatientGroup(suite, usCore),
    noStoreGroup(suite, usCore),
    rateLimitGroup(suite, usCore),
    errorBodiesGroup(suite, usCore),
    accessLogGroup(suite, usCore),
    proxyGroup(suite),
  ];
}

function selected(groups: string[] | undefined): ((groupId: string) => boolean) | undefined {
  if (!groups) return undefined;
  // An exact group id, `prefix*`, or `prefix` for every `prefix-…` group (e.g. `uscore`, `refresh`).
  return (id) => groups.some((g) => id === g || id.startsWith(g.endsWith('*') ? g.slice(0, -1) : `${g}-`));
}

export async function main(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (err) {
    console.error(err instanceof ConfigError && err.message !== 'usage' ? `${err.message}\n${USAGE}` : USAGE);
    return 2;
  }
  const configPath = options.config ?? defaultConfigPath();
  let raw: unknown;
  try {
    raw = await readInputsFile(configPath);
  } catch (err) {
    console.error(`${(err as Error).message}${options.config ? '' : '\n(no --config given: start the server with `npm start` first, which writes .data/demo-accounts.json)'}`);
    return 2;
  }
  const wanted = requestedAppUrls(raw);
  const port = wanted.redirectUri ? Number(new URL(wanted.redirectUri).port) || undefined : undefined;
  const app = await startAppServer(port ? { port } : {});
  let suite: Suite | undefined;
  try {
    const fromFile = (raw as { fhirBaseUrl?: string } | undefined)?.fhirBaseUrl;
    const inputs = parseInputs(raw, {
      fhirBaseUrl: options.fhirBase ?? fromFile ?? 'http://localhost:8080/fhir',
      usCorePackage: options.usCorePackage,
      app: { redirectUri: app.redirectUri, launchUri: app.launchUri, origin: app.origin },
    });
    if (!existsSync(inputs.usCorePackage)) throw new ConfigError(`the US Core package ${inputs.usCorePackage} does not exist (--us-core-package)`);
    suite = new Suite(inputs, { chromiumPath: options.chromium, headed: options.headed, screenshots: options.screenshots });
    const groups = buildGroups(suite);
    const pick = selected(options.groups);
    const chosen = pick ? groups.filter((g) => pick(g.id)) : groups;
    if (options.list) {
      for (const g of chosen) console.log(`${g.id}\t${g.title}`);
      return 0;
    }
    const outDir = resolve(options.out);
    const startedAt = new Date().toISOString();
    console.log(`Conformance suite against ${inputs.fhirBaseUrl} (${chosen.length} groups; report in ${outDir})`);
    const results = await runGroups(chosen, {
      onGroupStart: (g) => console.log(`\n== ${g.title} [${g.id}]`),
      onTest: (r) => console.log(testLine(r)),
      onGroupEnd: (g) => console.log(summaryLine(`-- ${g.title}`, summarize(g.tests))),
      saveScreenshot: screenshotSaver(outDir),
    });
    const info = {
      suite: '@patient-access/conformance',
      version: readVersion(),
      fhirBase: inputs.fhirBaseUrl,
      startedAt,
      finishedAt: new Date().toISOString(),
      inputs: {
        config: resolve(configPath),
        accounts: inputs.accounts.map((a) => ({ username: a.username, patientId: a.patientId, fhirUser: a.fhirUser, actsFor: a.actsFor?.map((x) => x.patientId) })),
        standaloneUser: standaloneAccount(inputs)?.username,
        practitioner: practitionerAccount(inputs)?.username,
        redirectUri: inputs.redirectUri,
        launchUri: inputs.launchUri,
        usCorePackage: inputs.usCorePackage,
        limitedResources: inputs.limitedResources,
        backendServices: inputs.backendServices ? inputs.backendServices.clientId : null,
      },
    };
    const files = await writeReport(outDir, info, results, attestations(results));
    console.log('\n== Summary');
    for (const g of results) console.log(summaryLine(g.title, summarize(g.tests)));
    console.log(summaryLine('\nOverall', summarize(results.flatMap((g) => g.tests))));
    console.log(`Report: ${files.html}\nResults: ${files.json}`);
    return exitStatus(results);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  } finally {
    await suite?.close().catch(() => undefined);
    await app.close();
  }
}

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(resolve(HERE, '../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
