/**
 * Our own additions to the Inferno kits: cross-patient access attempts (by id, search, `_include`,
 * `_revinclude`, foreign and tampered paging links), `Cache-Control: no-store` on every PHI
 * response, no PHI in error bodies, and proxy access (a parent for a child; the adolescent's
 * confidential data hidden from the parent; a power of attorney for an elder).
 */
import { expectStatus, headerProblem, identifyingStrings, phiLeaks, uniq } from '../checks.js';
import { type AccountInput } from '../config.js';
import { asBundle, entries, nextLink, type FhirResource } from '../fhir.js';
import { jsonObject, type HttpResponse } from '../http.js';
import { ensure, test, type GroupDef, type TestContext, type TestDef } from '../runner.js';
import { SMART_DEFAULT_STANDALONE_SCOPE, type LaunchResult, type Suite } from '../suite.js';
import type { UsCoreState } from './uscore.js';

interface Pair {
  a: string;
  b: string;
  tokenA: string;
  tokenB: string;
  seenB: FhirResource[];
  seenA: FhirResource[];
}

/** Two patients with tokens, B having data: the standalone patient first. */
function pairOf(suite: Suite, state: UsCoreState, t: TestContext): Pair {
  const withData = state.patients.filter((p) => (suite.seen.get(p) ?? []).length > 1);
  if (state.patients.length < 2 || withData.length < 1) t.skip('needs two patients with tokens, one with data (Single Patient API set-up)', { lackOfData: true });
  const b = withData[0]!;
  const a = state.patients.find((p) => p !== b && (suite.seen.get(p) ?? []).length > 1) ?? state.patients.find((p) => p !== b)!;
  return { a, b, tokenA: state.tokens.get(a)!, tokenB: state.tokens.get(b)!, seenA: suite.seen.get(a) ?? [], seenB: suite.seen.get(b) ?? [] };
}

function oneOfEachType(resources: FhirResource[]): FhirResource[] {
  const byType = new Map<string, FhirResource>();
  for (const r of resources) if (!byType.has(r.resourceType)) byType.set(r.resourceType, r);
  return [...byType.values()];
}

/** Entries of B in a response (by type/id), or none when the response is not a 200 Bundle. */
function leaked(res: HttpResponse, pair: Pair): string[] {
  if (res.status !== 200) return [];
  const ids = new Set([...pair.seenB.map((r) => `${r.resourceType}/${r.id}`), `Patient/${pair.b}`]);
  return entries(asBundle(res))
    .map((r) => `${r.resourceType}/${r.id}`)
    .filter((k) => ids.has(k));
}

export function crossPatientGroup(suite: Suite, state: UsCoreState): GroupDef {
  const probe = (id: string, title: string, run: (t: TestContext, pair: Pair) => Promise<string[]>): TestDef =>
    test(id, title, async (t: TestContext) => {
      const pair = pairOf(suite, state, t);
      t.evidence('patients', { token: pair.a, target: pair.b });
      const problems = await run(t, pair);
      ensure(problems.length === 0, problems.slice(0, 10).join('; '));
    });
  return {
    id: 'cross-patient',
    title: 'Cross-patient access attempts',
    description: "With patient A's token, every way of reaching patient B's data must fail or return nothing of B.",
    tests: [
      probe('cross-patient-read-patient', "Reading another patient's Patient resource is refused", async (t: TestContext, pair: Pair) => {
        const res = await suite.fhir(t, pair.tokenA).read('Patient', pair.b);
        return res.status === 200 ? [`Patient/${pair.b} was returned to Patient/${pair.a}'s token`] : [];
      }),
      probe('cross-patient-read-resources', "Reading another patient's resources by id is refused", async (t: TestContext, pair: Pair) => {
        const problems: string[] = [];
        for (const r of oneOfEachType(pair.seenB)) {
          const res = await suite.fhir(t, pair.tokenA).read(r.resourceType, r.id!);
          if (res.status === 200 && jsonObject(res)?.['id'] === r.id) problems.push(`${r.resourceType}/${r.id} was returned`);
        }
        return problems;
      }),
      probe('cross-patient-search-patient', "Searching with patient=<other patient> returns nothing of theirs", async (t: TestContext, pair: Pair) => {
        const problems: string[] = [];
        const fhir = suite.fhir(t, pair.tokenA);
        for (const type of uniq(pair.seenB.map((r) => r.resourceType)).filter((x) => x !== 'Patient')) {
          for (const value of [pair.b, `Patient/${pair.b}`, `${suite.fhirBase}/Patient/${pair.b}`]) {
            const res = await fhir.search(type, [['patient', value]]);
            problems.push(...leaked(res, pair).map((k) => `${type}?patient=${value} returned ${k}`));
          }
        }
        const post = await fhir.search('Condition', [['patient', pair.b]], 'POST');
        problems.push(...leaked(post, pair).map((k) => `POST Condition/_search patient=${pair.b} returned ${k}`));
        const both = await suite.fhir(t, pair.tokenA).get(`${suite.fhirBase}/Condition?patient=${pair.a},${pair.b}`);
        problems.push(...leaked(both, pair).map((k) => `Condition?patient=${pair.a},${pair.b} returned ${k}`));
        return problems;
      }),
      probe('cross-patient-search-id', "Searching by another patient's resource ids returns nothing", async (t: TestContext, pair: Pair) => {
        const problems: string[] = [];
        for (const r of [{ resourceType: 'Patient', id: pair.b } as FhirResource, ...oneOfEachType(pair.seenB)]) {
          const res = await suite.fhir(t, pair.tokenA).search(r.resourceType, [['_id', r.id!]]);
          problems.push(...leaked(res, pair).map((k) => `${r.resourceType}?_id=${r.id} returned ${k}`));
        }
        return problems;
      }),
      probe('cross-patient-include', "_include and _revinclude do not reach another patient's data", async (t: TestContext, pair: Pair) => {
        const problems: string[] = [];
        const fhir = suite.fhir(t, pair.tokenA);
        const queries: [string, [string, string][]][] = [
          ['Patient', [['_id', pair.b], ['_revinclude', 'Provenance:target']]],
          ['MedicationRequest', [['patient', pair.b], ['intent', 'order'], ['_include', 'MedicationRequest:medication']]],
          ['Encounter', [['patient', pair.a], ['_revinclude', 'Provenance:target']]],
          ['Observation', [['patient', pair.a], ['_include', 'Observation:patient']]],
        ];
        for (const r of oneOfEachType(pair.seenB).slice(0, 6)) queries.push([r.resourceType, [['_id', r.id!], ['_revinclude', 'Provenance:target']]]);
        for (const [type, params] of queries) {
          const res = await fhir.search(type, params);
          problems.push(...leaked(res, pair).map((k) => `${type}?${new URLSearchParams(params)} returned ${k}`));
        }
        return problems;
      }),
      probe('cross-patient-foreign-paging', "Another patient's paging link is refused", async (t: TestContext, pair: Pair) => {
        const type = (['Observation', 'Encounter', 'Condition', 'DocumentReference'] as const).find((x) => pair.seenB.filter((r) => r.resourceType === x).length > 1);
        if (!type) t.skip("the other patient's data is too small to page", { lackOfData: true });
        const first = await suite.fhir(t, pair.tokenB).search(type, [['patient', pair.b], ['_count', '1']]);
        expectStatus(first, 200, "the other patient's own search");
        const next = nextLink(asBundle(first));
        if (!next) t.skip(`${type}?_count=1 returned no next link`, { lackOfData: true });
        const res = await suite.fhir(t, pair.tokenA).get(next);
        return leaked(res, pair).map((k) => `the other patient's next link returned ${k}`);
      }),
      probe('cross-patient-tampered-paging', 'A paging link edited to name another patient returns nothing of theirs', async (t: TestContext, pair: Pair) => {
        const type = (['Observation', 'Encounter', 'Condition', 'DocumentReference'] as const).find((x) => pair.seenA.filter((r) => r.resourceType === x).length > 1);
        if (!type) t.skip('the token patient has too little data to page', { lackOfData: true });
        const first = await suite.fhir(t, pair.tokenA).search(type, [['patient', pair.a], ['_count', '1']]);
        expectStatus(first, 200);
        const next = nextLink(asBundle(first));
        if (!next) t.skip(`${type}?_count=1 returned no next link`, { lackOfData: true });
        const url = new URL(next);
        const problems: string[] = [];
        const variants: URL[] = [];
        if (url.searchParams.has('patient')) {
          const v = new URL(url);
          v.searchParams.set('patient', pair.b);
          variants.push(v);
        }
        const added = new URL(url);
        added.searchParams.append('patient', pair.b);
        variants.push(added);
        for (const [k, v] of url.searchParams) {
          // a cursor-like parameter: flip a character
          if (/cursor|page|_getpages|offset|token/i.test(k) && v.length > 4) {
            const tampered = new URL(url);
            tampered.searchParams.set(k, `${v.slice(0, -2)}${v.slice(-2) === 'AA' ? 'BB' : 'AA'}`);
            variants.push(tampered);
          }
        }
        for (const v of variants) {
          const res = await suite.fhir(t, pair.tokenA).get(v.href);
          problems.push(...leaked(res, pair).map((k) => `${v.href} returned ${k}`));
        }
        return problems;
      }),
    ],
  };
}

export function noStoreGroup(suite: Suite, state: UsCoreState): GroupDef {
  return {
    id: 'no-store',
    title: 'Cache-Control: no-store on PHI',
    tests: [
      test('no-store-phi-responses', 'Every response carrying PHI says Cache-Control: no-store', async (t: TestContext) => {
        const patientId = state.patients[0];
        if (!patientId) t.skip('no patient token', { lackOfData: true });
        const fhir = suite.fhir(t, state.tokens.get(patientId));
        const seen = suite.seen.get(patientId) ?? [];
        const responses: HttpResponse[] = [await fhir.read('Patient', patientId), await fhir.search('Patient', [['_id', patientId]]), await fhir.search('Patient', [['_id', patientId]], 'POST')];
        for (const r of oneOfEachType(seen).slice(0, 8)) responses.push(await fhir.read(r.resourceType, r.id!));
        const paged = await fhir.search('Observation', [['patient', patientId], ['_count', '1']]);
        responses.push(paged);
        const next = nextLink(asBundle(paged));
        if (next) responses.push(await fhir.get(next));
        responses.push(await fhir.search('Encounter', [['patient', patientId], ['_revinclude', 'Provenance:target']]));
        const problems = responses
          .filter((r) => r.status === 200)
          .map((r) => {
            const p = headerProblem(r.headers, 'cache-control', 'no-store');
            return p ? `${r.exchange.request.method} ${r.exchange.request.url}: ${p}` : undefined;
          })
          .filter((p): p is string => !!p);
        ensure(problems.length === 0, problems.join('; '));
      }),
      test('no-store-error-responses', 'Error responses of PHI routes also say Cache-Control: no-store', async (t: TestContext) => {
        const patientId = state.patients[0];
        if (!patientId) t.skip('no patient token', { lackOfData: true });
        const fhir = suite.fhir(t, state.tokens.get(patientId));
        const responses = [await fhir.read('Condition', 'no-such-id'), await t.http.get(`${suite.fhirBase}/Patient/${patientId}`), await fhir.search('Observation', [['patient', patientId], ['date', 'not-a-date']])];
        const problems = responses
          .map((r) => {
            const p = headerProblem(r.headers, 'cache-control', 'no-store');
            return p ? `${r.status} ${r.exchange.request.url}: ${p}` : undefined;
          })
          .filter((p): p is string => !!p);
        ensure(problems.length === 0, problems.join('; '));
      }),
    ],
  };
}

export function errorBodiesGroup(suite: Suite, state: UsCoreState): GroupDef {
  return {
    id: 'no-phi-in-errors',
    title: 'No PHI in error bodies',
    tests: [
      test('no-phi-in-errors', 'Error responses say nothing about the patients whose data was asked for', async (t: TestContext) => {
        const pair = pairOf(suite, state, t);
        const patients: Record<string, unknown>[] = [];
        for (const [p, token] of [[pair.a, pair.tokenA], [pair.b, pair.tokenB]] as const) {
          const res = await suite.fhir(t, token).read('Patient', p);
          if (res.status === 200 && jsonObject(res)) patients.push(jsonObject(res)!);
        }
        const identifying = uniq(patients.flatMap((p) => identifyingStrings(p)));
        if (!identifying.length) t.skip('no identifying strings found in the two Patient resources', { lackOfData: true });
        const fhirA = suite.fhir(t, pair.tokenA);
        const target = oneOfEachType(pair.seenB)[0];
        const requests: (() => Promise<HttpResponse>)[] = [
          () => fhirA.read('Patient', pair.b),
          ...(target ? [() => fhirA.read(target.resourceType, target.id!)] : []),
          () => fhirA.search('Observation', [['patient', pair.a], ['date', 'not-a-date']]),
          () => fhirA.search('Patient', [['birthdate', 'lt-garbage']]),
          () => t.http.get(`${suite.fhirBase}/Patient/${pair.a}`, { headers: { accept: 'application/fhir+json' } }),
          () => t.http.get(`${suite.fhirBase}/Patient/${pair.a}`, { bearer: `${pair.tokenA.slice(0, -4)}AAAA` }),
          () => t.http.request('DELETE', `${suite.fhirBase}/Patient/${pair.a}`, { bearer: pair.tokenA }),
          () => t.http.request('PUT', `${suite.fhirBase}/Patient/${pair.a}`, { bearer: pair.tokenA, json: { resourceType: 'Patient', id: pair.a } }),
          () => fhirA.get(`${suite.fhirBase}/NotAType/${pair.a}`),
          () => fhirA.search('Condition', [['patient', pair.a], ['_count', 'many']]),
          () => fhirA.get(`${suite.fhirBase}/Observation?patient=${pair.a}&_cursor=not-a-cursor`),
        ];
        const problems: string[] = [];
        let errors = 0;
        for (const make of requests) {
          const res = await make();
          if (res.status < 400) continue;
          errors++;
          const leaks = phiLeaks(res.text, identifying).filter((s) => !decodeURIComponent(res.exchange.request.url).toLowerCase().includes(s.toLowerCase()));
          if (leaks.length) problems.push(`${res.exchange.request.method} ${res.exchange.request.url} (${res.status}) names ${leaks.join(', ')}`);
          if (res.text && jsonObject(res)?.['resourceType'] !== 'OperationOutcome' && /\/fhir\//.test(res.exchange.request.url)) t.warn(`${res.status} from ${res.exchange.request.url} is not an OperationOutcome`);
        }
        t.evidence('errorResponses', errors);
        ensure(problems.length === 0, problems.join('; '));
      }),
    ],
  };
}

function hasHiddenLabel(resource: FhirResource, labels: { system?: string; code: string }[]): boolean {
  const security = ((resource['meta'] as { security?: { system?: string; code?: string }[] } | undefined)?.security ?? []);
  return security.some((s) => labels.some((l) => l.code === s.code && (!l.system || !s.system || l.system === s.system)));
}

const PROXY_TYPES = ['Condition', 'Observation', 'Encounter', 'DiagnosticReport', 'DocumentReference', 'Procedure', 'MedicationRequest', 'ServiceRequest', 'CarePlan', 'Immunization', 'AllergyIntolerance'];

export function proxyGroup(suite: Suite): GroupDef {
  const proxies = suite.inputs.accounts.flatMap((account) => (account.actsFor ?? []).map((x) => ({ account, subject: x.patientId, basis: x.basis })));
  const launches = new Map<string, LaunchResult>();
  const labelledPairs: string[] = [];
  const proxyToken = async (t: TestContext, account: AccountInput, subject: string): Promise<LaunchResult> => {
    const key = `${account.username}>${subject}`;
    const known = launches.get(key);
    if (known) return known;
    const client = await suite.client(t, 'public');
    let launch = await suite.launch(t, { account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, patientId: subject });
    if (launch.token?.['patient'] && launch.token['patient'] !== subject) launch = await suite.launch(t, { account, client, scope: SMART_DEFAULT_STANDALONE_SCOPE, patientId: subject });
    launches.set(key, launch);
    return launch;
  };
  const ownView = async (t: TestContext, patientId: string): Promise<FhirResource[] | undefined> => {
    const self = suite.inputs.accounts.find((a) => a.patientId === patientId && (!a.fhirUser || a.fhirUser.startsWith('Patient/')));
    if (!self) return undefined;
    const launch = await suite.patientToken(t, patientId);
    if ('problem' in launch) t.fail(launch.problem);
    const fhir = suite.fhir(t, String(launch.token!['access_token']));
    const out: FhirResource[] = [];
    for (const type of PROXY_TYPES) {
      const r = await fhir.searchAll(type, [['patient', patientId]]);
      out.push(...r.resources.filter((x) => x.resourceType === type));
    }
    return out;
  };

  const tests: TestDef[] = [
    test('proxy-picker', 'The patient picker offers the account holder and exactly the people they act for', async (t: TestContext) => {
      const first = proxies[0];
      if (!first) t.skip('no account in the inputs acts for anyone (actsFor)', { lackOfData: true });
      const launch = await proxyToken(t, first.account, first.subject);
      const options = launch.authorize.pickerOptions;
      ensure(options, 'no patient picker was shown to an account that acts for others');
      const expected = (first.account.patientId ? 1 : 0) + (first.account.actsFor ?? []).length;
      ensure(options.length === expected, `the picker offered ${options.length} people (${options.join(' | ')}), expected ${expected}`);
    }),
  ];
  tests.push(
    test(
      'proxy-user-level',
      'A user-level token (user/ scopes, no launch/patient) covers the account holder and exactly the people they act for, one named patient per search',
      async (t: TestContext) => {
        const account = proxies.map((p) => p.account).find((a) => (a.patientId ? 1 : 0) + (a.actsFor ?? []).length > 1);
        if (!account) t.skip('no account in the inputs acts for two or more people, counting their own record', { lackOfData: true });
        const covered = [...(account.patientId ? [account.patientId] : []), ...(account.actsFor ?? []).map((x) => x.patientId)];
        const launch = await suite.launch(t, { account, client: await suite.client(t, 'public'), scope: 'openid fhirUser user/Patient.rs user/Observation.rs' });
        const token = suite.requireToken(t, launch, 'user-level launch');
        ensure(token['patient'] === undefined, `the token response names one patient (${String(token['patient'])}) for a user-level request`);
        ensure(launch.authorize.offeredPatients?.length === covered.length, `the consent screen offered ${launch.authorize.offeredPatients?.length ?? 0} people, expected ${covered.length}`);
        const fhir = suite.fhir(t, String(token['access_token']));
        const patients = await fhir.search('Patient', []);
        expectStatus(patients, 200, 'search Patient');
        const listed = entries(asBundle(patients))
          .map((r) => String(r.id))
          .sort();
        ensure(JSON.stringify(listed) === JSON.stringify([...covered].sort()), `GET Patient listed ${listed.join(', ')}, expected ${[...covered].sort().join(', ')}`);
        for (const patientId of covered) {
          const res = await fhir.search('Observation', [['patient', patientId]]);
          expectStatus(res, 200, `search Observation?patient=${patientId}`);
          const found = entries(asBundle(res));
          const strays = found.filter((r) => r.resourceType === 'Observation' && (r['subject'] as { reference?: string } | undefined)?.reference !== `Patient/${patientId}`);
          ensure(!strays.length, `Observation?patient=${patientId} returned others' observations: ${strays.map((r) => r.id).join(', ')}`);
        }
        const unnamed = await fhir.search('Observation', [['category', 'laboratory']]);
        ensure(unnamed.status === 400, `a search naming no patient answered ${unnamed.status}, not 400: it cannot say whose record it searched`);
        const outsider = suite.inputs.accounts.map((a) => a.patientId).find((p): p is string => !!p && !covered.includes(p));
        if (outsider) ensure((await fhir.read('Patient', outsider)).status === 404, `the user-level token reads Patient/${outsider}, whom the account does not act for`);
      },
    ),
  );
  for (const { account, subject, basis } of proxies) {
    tests.push(
      test(`proxy-${account.username}-${subject}`, `${account.username} (${basis ?? 'proxy'}) can open Patient/${subject}'s record, and only that record`, async (t: TestContext) => {
        const launch = await proxyToken(t, account, subject);
        const token = suite.requireToken(t, launch, 'proxy launch');
        ensure(token['patient'] === subject, `the token is for ${String(token['patient'])}, not ${subject}`);
        const fhir = suite.fhir(t, String(token['access_token']));
        const own = await fhir.read('Patient', subject);
        expectStatus(own, 200, `read Patient/${subject}`);
        if (account.patientId) {
          const self = await fhir.read('Patient', account.patientId);
          ensure(self.status !== 200, `the token for ${subject} also reads the proxy's own Patient/${account.patientId}`);
        }
        for (const other of (account.actsFor ?? []).map((x) => x.patientId).filter((p) => p !== subject)) {
          const res = await fhir.read('Patient', other);
          ensure(res.status !== 200, `the token for ${subject} also reads Patient/${other}`);
        }
        const fhirUser = String(token['fhirUser'] ?? '');
        if (fhirUser && account.fhirUser) ensure(fhirUser.endsWith(account.fhirUser), `fhirUser is ${fhirUser}, not the proxy ${account.fhirUser}`);
      }),
    );
  }
  for (const { account, subject } of proxies) {
    const hasOwnAccount = suite.inputs.accounts.some((a) => a.patientId === subject && a.username !== account.username);
    if (!hasOwnAccount) continue;
    tests.push(
      test(`proxy-confidential-${account.username}-${subject}`, `Data labelled confidential in Patient/${subject}'s record is hidden from ${account.username}`, async (t: TestContext) => {
        const view = await ownView(t, subject);
        if (!view) t.skip(`Patient/${subject} has no account of their own to compare with`, { lackOfData: true });
        const hidden = view.filter((r) => hasHiddenLabel(r, suite.inputs.hiddenLabels));
        t.evidence('labelledInOwnView', hidden.length);
        const launch = await proxyToken(t, account, subject);
        const token = suite.requireToken(t, launch, 'proxy launch');
        const fhir = suite.fhir(t, String(token['access_token']));
        const proxyView: FhirResource[] = [];
        for (const type of PROXY_TYPES) {
          const r = await fhir.searchAll(type, [['patient', subject]]);
          proxyView.push(...r.resources.filter((x) => x.resourceType === type));
        }
        const problems: string[] = [];
        const labelledSeen = proxyView.filter((r) => hasHiddenLabel(r, suite.inputs.hiddenLabels));
        if (labelledSeen.length) problems.push(`the proxy's searches returned labelled resources: ${labelledSeen.slice(0, 5).map((r) => `${r.resourceType}/${r.id}`).join(', ')}`);
        for (const r of hidden.slice(0, 15)) {
          const res = await fhir.read(r.resourceType, r.id!);
          if (res.status === 200) problems.push(`the proxy read ${r.resourceType}/${r.id} (labelled ${JSON.stringify((r['meta'] as { security?: unknown }).security)})`);
        }
        const ownIds = new Set(view.map((r) => `${r.resourceType}/${r.id}`));
        const extra = proxyView.filter((r) => !ownIds.has(`${r.resourceType}/${r.id}`));
        if (extra.length) problems.push(`the proxy sees resources the patient does not: ${extra.slice(0, 5).map((r) => `${r.resourceType}/${r.id}`).join(', ')}`);
        t.evidence('patientView', view.length);
        t.evidence('proxyView', proxyView.length);
        ensure(problems.length === 0, problems.join('; '));
        if (hidden.length) labelledPairs.push(`${account.username} → ${subject}`);
        else t.omit(`Patient/${subject}'s own view has no resource labelled ${suite.inputs.hiddenLabels.map((l) => l.code).join('/')}: nothing to hide`);
      }),
    );
  }
  tests.push(
    test('proxy-confidential-data-present', 'Some proxy subject has data labelled confidential, so hiding it was tested', async (t: TestContext) => {
      if (!labelledPairs.length) t.skip(`no proxy subject's own view holds a resource labelled ${suite.inputs.hiddenLabels.map((l) => l.code).join('/')}`, { lackOfData: true });
      t.evidence('pairs', labelledPairs);
    }),
  );
  return {
    id: 'proxy',
    title: 'Proxy access',
    description: 'Accounts acting for others (actsFor): the picker, the record opened, and confidential data hidden from a proxy (adolescent confidentiality).',
    tests,
  };
}
