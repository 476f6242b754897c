/**
 * The Single Patient API (g10 scenario 4, US Core 6.1.0 server tests, catalogue §4.4 and §5): per
 * profile, every SHALL search over all given patients (with POST `_search`, `patient=Patient/id`,
 * `system|code`, date comparators, multipleOr, `_include` variants, paging through `next`), read,
 * `_revinclude=Provenance:target`, profile validation, Must Support coverage and reference
 * resolution; the profiles reached only through references are read from those references.
 */
import { expectStatus, referenceParts, uniq } from '../checks.js';
import { asBundle, asResource, type FhirClient, type FhirResource } from '../fhir.js';
import { ensure, test, type GroupDef, type TestContext, type TestDef } from '../runner.js';
import type { Suite } from '../suite.js';
import { usCorePatients } from '../config.js';
import { ElementWalker, inferno61Plan, missingMustSupport } from '../uscore/must-support.js';
import { errorsOf, loadUsCorePackage, validateAgainst, type SearchParamDef, type UsCorePackage } from '../uscore/package.js';
import { CLINICAL_NOTE_TYPES, CLINICAL_REPORT_CATEGORIES, US_CORE_6_PROFILES, type ProfileSpec } from '../uscore/profiles.js';
import { dateFrom, matchesParam, searchValueFrom, shiftDay, tokensOf, elementsFor } from '../uscore/search.js';

const DAR_SYSTEM = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const DAR_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
/** At most this many referenced resources are read per type and patient. */
const MAX_REFERENCE_READS = 25;

export interface UsCoreState {
  pkg?: UsCorePackage;
  /** Patients with a working token, in order. */
  patients: string[];
  tokens: Map<string, string>;
  /** Resources of each profile, by patient (from its searches). */
  byProfile: Map<string, Map<string, FhirResource[]>>;
  /** Provenance returned by `_revinclude`, by patient. */
  provenance: Map<string, FhirResource[]>;
  /** Resources read through references, by patient. */
  referenced: Map<string, FhirResource[]>;
  dar: { extension: boolean; code: boolean };
}

export function newUsCoreState(): UsCoreState {
  return { patients: [], tokens: new Map(), byProfile: new Map(), provenance: new Map(), referenced: new Map(), dar: { extension: false, code: false } };
}

function addResources(map: Map<string, FhirResource[]>, patientId: string, resources: FhirResource[]): void {
  const list = map.get(patientId) ?? [];
  const seen = new Set(list.map((r) => `${r.resourceType}/${r.id}`));
  for (const r of resources) {
    const key = `${r.resourceType}/${r.id}`;
    if (!seen.has(key)) {
      seen.add(key);
      list.push(r);
    }
  }
  map.set(patientId, list);
}

function allOf(map: Map<string, FhirResource[]> | undefined): FhirResource[] {
  return [...(map?.values() ?? [])].flat();
}

/** Every `reference` string inside a resource. */
export function referencesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) referencesIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else if (k !== 'contained') referencesIn(v, out);
    }
  }
  return out;
}

function noteDar(state: UsCoreState, resource: unknown): void {
  const text = JSON.stringify(resource);
  if (text.includes(DAR_EXTENSION)) state.dar.extension = true;
  if (text.includes(DAR_SYSTEM) && /"code":"unknown"/.test(text)) state.dar.code = true;
}

export function usCoreSetupGroup(suite: Suite, state: UsCoreState): GroupDef {
  return {
    id: 'uscore-setup',
    title: 'Single Patient API: set-up',
    description: 'Loads the US Core 6.1.0 package and obtains a token for each patient whose records together should cover US Core (g10_patient_id_setup).',
    tests: [
      test('uscore-package', 'US Core 6.1.0 StructureDefinitions load into the validator', async (t: TestContext) => {
        state.pkg = await loadUsCorePackage(suite.inputs.usCorePackage);
        ensure(state.pkg.version.startsWith('6.1'), `the package is US Core ${state.pkg.version}, not 6.1.x`);
        for (const note of state.pkg.notes) t.info(note);
        t.evidence('profiles', state.pkg.profiles.size);
      }),
      test('uscore-patient-tokens', 'A token is obtained for each given patient', async (t: TestContext) => {
        const ids = usCorePatients(suite.inputs);
        ensure(ids.length > 0, 'no patient ids: give usCore.patientIds or accounts with patients');
        const problems: string[] = [];
        for (const id of ids) {
          const launch = await suite.patientToken(t, id);
          if ('problem' in launch) problems.push(launch.problem);
          else {
            state.patients.push(id);
            state.tokens.set(id, String(launch.token!['access_token']));
          }
        }
        t.evidence('patients', state.patients);
        ensure(problems.length === 0, problems.join('; '));
      }, { ref: 'g10_patient_id_setup' }),
    ],
  };
}

interface SearchRun {
  patientId: string;
  params: [string, string][];
  resources: FhirResource[];
}

export function usCoreProfileGroups(suite: Suite, state: UsCoreState): GroupDef[] {
  return US_CORE_6_PROFILES.map((spec) => ({
    id: `uscore-${spec.id}`,
    title: `US Core ${spec.title}${spec.optional ? ' (optional: not in g10)' : ''}`,
    description: `${spec.profile}`,
    tests: () => (spec.delayed ? delayedTests(suite, state, spec) : profileTests(suite, state, spec)),
  }));
}

function need(t: TestContext, state: UsCoreState): UsCorePackage {
  if (!state.pkg) t.skip('the US Core package did not load');
  if (state.patients.length === 0) t.skip('no patient token');
  return state.pkg;
}

function client(suite: Suite, t: TestContext, state: UsCoreState, patientId: string): FhirClient {
  return suite.fhir(t, state.tokens.get(patientId));
}

function paramDef(pkg: UsCorePackage, type: string, code: string): SearchParamDef {
  const def = pkg.searchParams.get(`${type}.${code}`) ?? pkg.searchParams.get(`Resource.${code}`);
  if (def) return def;
  if (code === '_id') return { code: '_id', type: 'token', expression: `${type}.id` };
  throw new Error(`no SearchParameter ${type}.${code} in the US Core package`);
}

/** Every resource of the searched type must match every parameter. */
function mismatches(pkg: UsCorePackage, suite: Suite, type: string, params: [string, string][], resources: FhirResource[]): string[] {
  const problems: string[] = [];
  for (const r of resources) {
    if (r.resourceType !== type) continue;
    for (const [name, value] of params) {
      if (name.startsWith('_') && name !== '_id') continue;
      const def = paramDef(pkg, type, name);
      if (!matchesParam(r, def, value, suite.fhirBase)) problems.push(`${type}/${r.id} does not match ${name}=${value}`);
    }
  }
  return problems;
}

function profileTests(suite: Suite, state: UsCoreState, spec: ProfileSpec): TestDef[] {
  const runs: SearchRun[] = [];
  const resourcesOf = () => state.byProfile.get(spec.id) ?? new Map<string, FhirResource[]>();
  const prefix = `uscore-${spec.id}`;
  const optional = spec.optional ? { optional: true } : {};
  const tests: TestDef[] = [];
  const [first, ...rest] = spec.searches;

  tests.push(
    test(`${prefix}-search-${first!.params.join('-')}`, `Server returns valid results for ${spec.type} search by ${first!.params.join(' + ')}`, async (t: TestContext) => {
      const pkg = need(t, state);
      const fixedParam = Object.keys(spec.fixed ?? {})[0];
      const problems: string[] = [];
      let variantsDone = false;
      for (const patientId of state.patients) {
        const fhir = client(suite, t, state, patientId);
        const combos: [string, string][][] = [];
        const base: [string, string][] = first!.params.map((p): [string, string] => [p, p === 'patient' ? patientId : p === '_id' ? patientId : '']);
        if (fixedParam) for (const v of spec.fixed![fixedParam]!) combos.push(base.map(([k, val]) => [k, k === fixedParam ? v : val]));
        else combos.push(base);
        for (const params of combos) {
          const result = await fhir.searchAll(spec.type, params);
          if (result.problem) {
            problems.push(`${spec.type}?${new URLSearchParams(params)}: ${result.problem}`);
            continue;
          }
          problems.push(...mismatches(pkg, suite, spec.type, params, result.resources));
          const own = result.resources.filter((r) => r.resourceType === spec.type);
          if (own.length) {
            runs.push({ patientId, params, resources: own });
            const map = resourcesOf();
            addResources(map, patientId, own);
            state.byProfile.set(spec.id, map);
            addResources(suite.seen, patientId, own);
            if (spec.type === 'Condition' || spec.type === 'Observation') {
              for (const method of ['GET', 'POST'] as const) suite.recordedSearches.push({ patientId, type: spec.type, params, method, ids: own.map((r) => r.id!) });
            }
          }
          // Variants, once, on the first search that returned data.
          if (own.length && !variantsDone) {
            variantsDone = true;
            const post = await fhir.searchAll(spec.type, params, 'POST');
            const postCount = post.resources.filter((r) => r.resourceType === spec.type).length;
            if (post.problem) problems.push(`POST ${spec.type}/_search: ${post.problem}`);
            else if (postCount !== own.length) problems.push(`POST ${spec.type}/_search returned ${postCount} resources, GET returned ${own.length}`);
            if (params.some(([k]) => k === 'patient')) {
              const ref = await fhir.searchAll(spec.type, params.map(([k, v]) => [k, k === 'patient' ? `Patient/${v}` : v]));
              const refCount = ref.resources.filter((r) => r.resourceType === spec.type).length;
              if (ref.problem) problems.push(`patient=Patient/${patientId}: ${ref.problem}`);
              else if (refCount !== own.length) problems.push(`patient=Patient/${patientId} returned ${refCount} resources, patient=${patientId} returned ${own.length}`);
            }
            if (spec.include) problems.push(...(await includeProblems(fhir, spec, params, own)));
          }
        }
      }
      if (!runs.length) t.skip(`no ${spec.type} resources for the ${spec.title} profile for any of the patients (${state.patients.join(', ')})`, { lackOfData: true });
      t.evidence('resources', runs.reduce((n, r) => n + r.resources.length, 0));
      ensure(problems.length === 0, problems.slice(0, 12).join('; ') + (problems.length > 12 ? ` (and ${problems.length - 12} more)` : ''));
    }, optional),
  );

  for (const search of rest) {
    tests.push(
      test(`${prefix}-search-${search.params.join('-')}`, `Server returns valid results for ${spec.type} search by ${search.params.join(' + ')}`, async (t: TestContext) => {
        const pkg = need(t, state);
        if (!runs.length) t.skip('the first search returned no resources', { lackOfData: true });
        const problems: string[] = [];
        let done = 0;
        let systemDone = false;
        let comparatorsDone = false;
        for (const patientId of state.patients) {
          const fhir = client(suite, t, state, patientId);
          const seeds = resourcesOf().get(patientId) ?? [];
          const seed = seeds.find((r) => search.params.every((p) => p === 'patient' || searchValueFrom(r, paramDef(pkg, spec.type, p)) !== undefined));
          if (!seed) continue;
          const params = search.params.map((p): [string, string] => [p, p === 'patient' ? patientId : searchValueFrom(seed, paramDef(pkg, spec.type, p))!]);
          const result = await fhir.searchAll(spec.type, params);
          done++;
          if (result.problem) {
            problems.push(`${spec.type}?${new URLSearchParams(params)}: ${result.problem}`);
            continue;
          }
          problems.push(...mismatches(pkg, suite, spec.type, params, result.resources));
          if (!result.resources.some((r) => r.resourceType === spec.type && r.id === seed.id)) {
            problems.push(`${spec.type}?${new URLSearchParams(params)} did not return ${spec.type}/${seed.id}, whose values it searched for`);
          }
          // system|code on the token parameters
          const tokenParams = search.params.filter((p) => p !== '_id' && paramDef(pkg, spec.type, p).type === 'token');
          if (tokenParams.length && !systemDone) {
            const withSystem = params.map(([k, v]): [string, string] => [k, tokenParams.includes(k) ? (searchValueFrom(seed, paramDef(pkg, spec.type, k), { withSystem: true }) ?? v) : v]);
            if (withSystem.some(([k, v], i) => v !== params[i]![1] && k)) {
              systemDone = true;
              const r = await fhir.searchAll(spec.type, withSystem);
              const n = r.resources.filter((x) => x.resourceType === spec.type).length;
              if (r.problem) problems.push(`${spec.type}?${new URLSearchParams(withSystem)}: ${r.problem}`);
              else if (n === 0) problems.push(`${spec.type}?${new URLSearchParams(withSystem)} (system|code) returned nothing`);
              else problems.push(...mismatches(pkg, suite, spec.type, withSystem, r.resources));
            }
          }
          // date comparators
          for (const dateParam of search.params.filter((p) => spec.comparators?.includes(p))) {
            if (comparatorsDone) break;
            const date = dateFrom(seed, paramDef(pkg, spec.type, dateParam));
            if (!date) continue;
            comparatorsDone = true;
            for (const cmp of ['gt', 'ge', 'lt', 'le']) {
              const value = `${cmp}${shiftDay(date, cmp.startsWith('g') ? -1 : 1)}`;
              const cmpParams = params.map(([k, v]): [string, string] => [k, k === dateParam ? value : v]);
              const r = await fhir.searchAll(spec.type, cmpParams);
              if (r.problem) problems.push(`${spec.type}?${new URLSearchParams(cmpParams)}: ${r.problem}`);
              else {
                problems.push(...mismatches(pkg, suite, spec.type, cmpParams, r.resources));
                if (!r.resources.some((x) => x.id === seed.id)) problems.push(`${dateParam}=${value} did not return ${spec.type}/${seed.id} (${dateParam} ${date})`);
              }
            }
          }
          // multipleOr: all values seen, comma-joined, must cover them all
          for (const orParam of search.params.filter((p) => spec.multipleOr?.includes(p))) {
            const def = paramDef(pkg, spec.type, orParam);
            const seen = uniq(seeds.flatMap((r) => tokensOf(elementsFor(r, def)).map((x) => x.code)));
            if (seen.length < 2) continue;
            const orParams = params.map(([k, v]): [string, string] => [k, k === orParam ? seen.join(',') : v]);
            const r = await fhir.searchAll(spec.type, orParams);
            if (r.problem) problems.push(`${spec.type}?${new URLSearchParams(orParams)}: ${r.problem}`);
            else {
              const got = new Set(r.resources.flatMap((x) => tokensOf(elementsFor(x, def)).map((c) => c.code)));
              const missing = seen.filter((v) => !got.has(v));
              if (missing.length) problems.push(`${orParam}=${seen.join(',')} returned no resource with ${missing.join(', ')}`);
            }
          }
        }
        if (!done) t.skip(`no resource has values for ${search.params.join(' + ')}`, { lackOfData: true });
        ensure(problems.length === 0, problems.slice(0, 12).join('; ') + (problems.length > 12 ? ` (and ${problems.length - 12} more)` : ''));
      }, optional),
    );
  }

  tests.push(
    test(`${prefix}-read`, `Server returns correct ${spec.type} resource from ${spec.type} read interaction`, async (t: TestContext) => {
      need(t, state);
      const problems: string[] = [];
      let reads = 0;
      for (const [patientId, list] of resourcesOf()) {
        const r = list[0];
        if (!r?.id) continue;
        const res = await client(suite, t, state, patientId).read(spec.type, r.id);
        reads++;
        const body = asResource(res);
        if (res.status !== 200) problems.push(`read ${spec.type}/${r.id}: HTTP ${res.status}`);
        else if (body?.resourceType !== spec.type || body.id !== r.id) problems.push(`read ${spec.type}/${r.id} returned ${body?.resourceType}/${body?.id}`);
      }
      if (!reads) t.skip(`no ${spec.type} resource was found to read`, { lackOfData: true });
      ensure(problems.length === 0, problems.join('; '));
    }, optional),

    test(`${prefix}-provenance-revinclude`, `Server returns Provenance resources from ${spec.type} search by ${first!.params.join(' + ')} + _revinclude=Provenance:target`, async (t: TestContext) => {
      need(t, state);
      if (!runs.length) t.skip('the first search returned no resources', { lackOfData: true });
      let found = 0;
      const problems: string[] = [];
      for (const run of runs) {
        if ((state.provenance.get(run.patientId) ?? []).length && found) continue;
        const r = await client(suite, t, state, run.patientId).searchAll(spec.type, [...run.params, ['_revinclude', 'Provenance:target']]);
        if (r.problem) {
          problems.push(`${spec.type}?${new URLSearchParams(run.params)}&_revinclude=Provenance:target: ${r.problem}`);
          continue;
        }
        const provenance = r.resources.filter((x) => x.resourceType === 'Provenance');
        const ids = new Set(run.resources.map((x) => `${spec.type}/${x.id}`));
        for (const p of provenance) {
          const targets = ((p['target'] as { reference?: string }[] | undefined) ?? []).map((x) => referenceParts(x.reference ?? ''));
          if (!targets.some((x) => x && ids.has(`${x.type}/${x.id}`))) problems.push(`Provenance/${p.id} targets none of the ${spec.type} resources returned`);
        }
        found += provenance.length;
        addResources(state.provenance, run.patientId, provenance);
        if (found) break;
      }
      if (!found && !problems.length) t.skip(`no Provenance targets any ${spec.type} returned`, { lackOfData: true });
      ensure(problems.length === 0, problems.slice(0, 10).join('; '));
    }, optional),
  );
  tests.push(...conformanceTests(suite, state, spec, () => allOf(resourcesOf()), () => resourcesOf(), optional));
  return tests;
}

async function includeProblems(fhir: FhirClient, spec: ProfileSpec, params: [string, string][], own: FhirResource[]): Promise<string[]> {
  const refs = own
    .map((r) => (r['medicationReference'] as { reference?: string } | undefined)?.reference)
    .filter((r): r is string => typeof r === 'string' && !r.startsWith('#'));
  if (!refs.length) return [];
  const r = await fhir.searchAll(spec.type, [...params, ['_include', spec.include!]]);
  if (r.problem) return [`_include=${spec.include}: ${r.problem}`];
  const meds = r.resources.filter((x) => x.resourceType === 'Medication');
  const medIds = new Set(meds.map((m) => m.id));
  const problems: string[] = [];
  const wanted = uniq(refs.map((x) => referenceParts(x)?.id).filter((x): x is string => !!x));
  const missing = wanted.filter((id) => !medIds.has(id));
  if (missing.length) problems.push(`_include=${spec.include} did not include Medication ${missing.slice(0, 5).join(', ')}`);
  for (const m of meds) if (!wanted.includes(m.id!)) problems.push(`_include=${spec.include} included Medication/${m.id}, which no result references`);
  return problems;
}

/** Validation, Must Support and reference resolution (shared by searched and delayed profiles). */
function conformanceTests(
  suite: Suite,
  state: UsCoreState,
  spec: ProfileSpec,
  all: () => FhirResource[],
  byPatient: () => Map<string, FhirResource[]>,
  optional: { optional?: boolean },
): TestDef[] {
  const prefix = `uscore-${spec.id}`;
  return [
    test(`${prefix}-validation`, `${spec.type} resources returned during previous tests conform to the ${spec.title} profile`, async (t: TestContext) => {
      const pkg = need(t, state);
      const sd = pkg.profiles.get(spec.profile);
      ensure(sd, `${spec.profile} is not in the package`);
      const resources = all();
      if (!resources.length) t.skip(`no ${spec.type} resources to validate`, { lackOfData: true });
      const failures: string[] = [];
      for (const r of resources) {
        noteDar(state, r);
        const errors = errorsOf(validateAgainst(r, sd));
        if (errors.length) failures.push(`${spec.type}/${r.id}: ${errors.slice(0, 3).map((e) => `${e.where} ${e.text}`).join(' | ')}`);
      }
      t.evidence('validated', resources.length);
      ensure(failures.length === 0, `${failures.length}/${resources.length} ${spec.type} resources failed validation against ${spec.profile}: ${failures.slice(0, 5).join('; ')}`);
    }, optional),

    test(`${prefix}-must-support`, `All must support elements are provided in the ${spec.title} resources returned`, async (t: TestContext) => {
      const pkg = need(t, state);
      const sd = pkg.profiles.get(spec.profile);
      ensure(sd, `${spec.profile} is not in the package`);
      const resources = all();
      if (!resources.length) t.skip(`no ${spec.type} resources`, { lackOfData: true });
      const missing = missingMustSupport(sd, resources);
      t.evidence('mustSupportElements', inferno61Plan(sd).elements.length);
      if (missing.length) t.skip(`not populated in any of the ${resources.length} resources: ${missing.join(', ')}`, { lackOfData: true });
    }, optional),

    test(`${prefix}-reference-resolution`, `MustSupport references within ${spec.title} resources are valid`, async (t: TestContext) => {
      const pkg = need(t, state);
      const sd = pkg.profiles.get(spec.profile);
      ensure(sd, `${spec.profile} is not in the package`);
      const walker = new ElementWalker(sd);
      const elements = inferno61Plan(sd).elements.filter((e) => e.referenceTargets);
      if (!elements.length) t.omit('the profile has no Must Support references');
      const problems: string[] = [];
      const unresolvedElements: string[] = [];
      let resolvedAny = 0;
      for (const element of elements) {
        let resolved = false;
        let tried = 0;
        const failures: string[] = [];
        for (const [patientId, resources] of byPatient()) {
          if (resolved) break;
          for (const r of resources) {
            if (resolved || tried >= 5) break;
            for (const value of walker.values(r, element.id)) {
              const ref = (value as { reference?: unknown } | null)?.['reference'];
              if (typeof ref !== 'string') continue;
              if (ref.startsWith('#')) {
                resolved = ((r['contained'] as FhirResource[] | undefined) ?? []).some((c) => `#${c.id}` === ref);
                if (!resolved) failures.push(`${spec.type}/${r.id} ${element.id}: contained ${ref} is missing`);
                break;
              }
              const parts = referenceParts(ref);
              if (!parts) continue;
              if (ref.includes('://') && !ref.startsWith(`${suite.fhirBase}/`)) {
                t.info(`${element.id}: external reference ${ref} not resolved`);
                continue;
              }
              tried++;
              const res = await client(suite, t, state, patientId).read(parts.type, parts.id);
              const body = asResource(res);
              if (res.status === 200 && body?.resourceType === parts.type && body.id === parts.id) {
                resolved = true;
                resolvedAny++;
                addResources(state.referenced, patientId, [body]);
                // The target must conform to one of the profiles the element allows for its type
                // (DiagnosticReport.result: a lab result or any clinical result observation).
                const candidates = (element.targetProfiles ?? []).filter((p) => pkg.profiles.get(p)?.type === parts.type);
                if (candidates.length) {
                  const outcomes = candidates.map((p) => ({ profile: p, errors: errorsOf(validateAgainst(body, pkg.profiles.get(p)!)) }));
                  if (!outcomes.some((o) => o.errors.length === 0)) {
                    const first = outcomes[0]!;
                    problems.push(`${ref} (from ${element.id}) conforms to none of ${candidates.join(', ')}: ${first.errors.slice(0, 2).map((e) => `${e.where} ${e.text}`).join(' | ')}`);
                  }
                }
              } else failures.push(`${ref}: HTTP ${res.status}`);
              break;
            }
          }
        }
        if (!resolved) {
          // A choice of types (reported[x]: boolean or Reference) populated without a reference is fine.
          const otherType = element.id.endsWith('[x]') && [...byPatient().values()].flat().some((r) => walker.values(r, element.id).length > 0);
          if (failures.length) problems.push(`${element.id}: no reference resolved (${failures.slice(0, 3).join(', ')})`);
          else if (!otherType) unresolvedElements.push(element.id);
        }
      }
      ensure(problems.length === 0, problems.slice(0, 10).join('; '));
      if (unresolvedElements.length) t.skip(`no references found for ${unresolvedElements.join(', ')}`, { lackOfData: true });
      t.evidence('resolved', resolvedAny);
    }, optional),
  ];
}

function delayedTests(suite: Suite, state: UsCoreState, spec: ProfileSpec): TestDef[] {
  const prefix = `uscore-${spec.id}`;
  const optional = spec.optional ? { optional: true } : {};
  const read = new Map<string, FhirResource[]>();
  return [
    test(`${prefix}-read`, `Server returns correct ${spec.type} resources from ${spec.type} read interaction (every reference)`, async (t: TestContext) => {
      need(t, state);
      const problems: string[] = [];
      let count = 0;
      for (const patientId of state.patients) {
        const sources = [...(suite.seen.get(patientId) ?? []), ...(state.provenance.get(patientId) ?? []), ...(state.referenced.get(patientId) ?? [])];
        const already = new Set((read.get(patientId) ?? []).map((r) => r.id));
        const ids = uniq(
          sources
            .flatMap((r) => referencesIn(r))
            .filter((ref) => !ref.includes('://') || ref.startsWith(`${suite.fhirBase}/`))
            .map((ref) => referenceParts(ref))
            .filter((p): p is { type: string; id: string } => p?.type === spec.type)
            .map((p) => p.id),
        ).filter((id) => !already.has(id));
        // Provenance also arrives by _revinclude: those count as read only if a direct read works too.
        if (spec.type === 'Provenance') for (const p of state.provenance.get(patientId) ?? []) if (p.id && !ids.includes(p.id)) ids.push(p.id);
        for (const id of ids.slice(0, MAX_REFERENCE_READS)) {
          const res = await client(suite, t, state, patientId).read(spec.type, id);
          count++;
          const body = asResource(res);
          if (res.status !== 200) problems.push(`${spec.type}/${id} (referenced from Patient/${patientId}'s data): HTTP ${res.status}`);
          else if (body?.resourceType !== spec.type || body.id !== id) problems.push(`${spec.type}/${id} returned ${body?.resourceType}/${body?.id}`);
          else addResources(read, patientId, [body]);
        }
      }
      if (!count) t.skip(`no ${spec.type} is referenced by the resources seen`, { lackOfData: true });
      t.evidence('read', count);
      ensure(problems.length === 0, problems.slice(0, 10).join('; ') + (problems.length > 10 ? ` (and ${problems.length - 10} more)` : ''));
    }, { ...optional, ref: 'read_all_resources' }),
    ...conformanceTests(suite, state, spec, () => allOf(read), () => read, optional),
    ...(spec.type === 'Practitioner' ? [practitionerAddressTest(suite, state, read)] : []),
  ];
}

/** US Core 6.1 patch FHIR-44693: Practitioner.address, or a PractitionerRole for the practitioner. */
function practitionerAddressTest(suite: Suite, state: UsCoreState, read: Map<string, FhirResource[]>): TestDef {
  return test('uscore-practitioner-address', 'Server supports either Practitioner.address or PractitionerRole', async (t: TestContext) => {
    const pkg = need(t, state);
    const entries = [...read.entries()].flatMap(([patientId, list]) => list.map((p) => ({ patientId, p })));
    if (!entries.length) t.skip('no Practitioner was read', { lackOfData: true });
    const complete = entries.find(({ p }) =>
      ((p['address'] as Record<string, unknown>[] | undefined) ?? []).some((a) => ['line', 'city', 'state', 'postalCode', 'country'].every((k) => a[k] !== undefined)),
    );
    if (complete) {
      t.info(`Practitioner/${complete.p.id} has an address with line, city, state, postalCode and country`);
      return;
    }
    const sd = pkg.profiles.get('http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitionerrole');
    for (const { patientId, p } of entries.slice(0, 5)) {
      const r = await client(suite, t, state, patientId).searchAll('PractitionerRole', [['practitioner', String(p.id)]]);
      const roles = r.resources.filter((x) => x.resourceType === 'PractitionerRole');
      const valid = roles.find((role) => errorsOf(validateAgainst(role, sd)).length === 0);
      if (valid) {
        t.info(`PractitionerRole/${valid.id} for Practitioner/${p.id} conforms to US Core PractitionerRole`);
        return;
      }
    }
    t.fail('no Practitioner has a complete address (line, city, state, postalCode, country) and no valid US Core PractitionerRole was found for them');
  }, { ref: 'us_core_v610_practitioner_address_test' });
}

/** Paging through `next` links, as Inferno's client follows them (catalogue §1), with a small page size. */
export function usCorePagingGroup(suite: Suite, state: UsCoreState): GroupDef {
  const busiest = () => {
    const counts = state.patients.map((p) => [p, (suite.seen.get(p) ?? []).filter((r) => r.resourceType === 'Observation').length] as const);
    return counts.sort((a, b) => b[1] - a[1])[0];
  };
  const pageThrough = async (t: TestContext, method: 'GET' | 'POST') => {
    need(t, state);
    const top = busiest();
    if (!top || top[1] < 4) t.skip('no patient has more than three Observations to page through', { lackOfData: true });
    const [patientId] = top;
    const fhir = client(suite, t, state, patientId);
    const all = await fhir.searchAll('Observation', [['patient', patientId]], 'GET', 200);
    if (all.problem) t.fail(`the unpaged search failed: ${all.problem}`);
    const paged = await fhir.searchAll('Observation', [['patient', patientId], ['_count', '3']], method, 200);
    if (paged.problem) t.fail(`paging failed: ${paged.problem}`);
    const problems: string[] = [];
    if (paged.pages.length < 2) problems.push(`_count=3 over ${all.resources.length} resources returned ${paged.pages.length} page(s)`);
    for (const page of paged.pages) {
      const bundle = asBundle(page);
      for (const link of bundle?.link ?? []) if (!/^https?:\/\//.test(link.url)) problems.push(`link ${link.relation} is not an absolute URL: ${link.url}`);
      if ((bundle?.entry?.length ?? 0) > 3) problems.push(`a page holds ${bundle?.entry?.length} entries with _count=3`);
    }
    const ids = paged.resources.map((r) => r.id);
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (dupes.length) problems.push(`resources repeated across pages: ${uniq(dupes).slice(0, 5).join(', ')}`);
    const expected = new Set(all.resources.map((r) => r.id));
    const missing = [...expected].filter((id) => !ids.includes(id));
    const extra = ids.filter((id) => !expected.has(id));
    if (missing.length) problems.push(`${missing.length} resources never appeared on any page (e.g. ${missing.slice(0, 3).join(', ')})`);
    if (extra.length) problems.push(`pages returned resources the unpaged search did not: ${extra.slice(0, 3).join(', ')}`);
    t.evidence('pages', paged.pages.length);
    t.evidence('resources', ids.length);
    ensure(problems.length === 0, problems.join('; '));
  };
  return {
    id: 'uscore-paging',
    title: 'Search paging through next links',
    tests: [
      test('uscore-paging-get', 'Paging a GET search through next links returns every resource once', (t: TestContext) => pageThrough(t, 'GET')),
      test('uscore-paging-post', 'Paging a POST _search through next links returns every resource once', (t: TestContext) => pageThrough(t, 'POST')),
    ],
  };
}

/** Clinical Notes Guidance and Missing Data (catalogue §5.7). */
export function usCoreGuidanceGroup(suite: Suite, state: UsCoreState): GroupDef {
  return {
    id: 'uscore-guidance',
    title: 'US Core Clinical Notes Guidance and Missing Data',
    tests: [
      test('uscore-clinical-notes-types', 'Server returns every required clinical note type (DocumentReference.type)', async (t: TestContext) => {
        need(t, state);
        const types = new Set(allOf(state.byProfile.get('documentreference')).flatMap((d) => tokensOf([d['type']]).map((c) => c.code)));
        const missing = CLINICAL_NOTE_TYPES.filter((c) => !types.has(c));
        if (missing.length) t.skip(`no DocumentReference of type ${missing.join(', ')} (LOINC)`, { lackOfData: true });
      }),
      test('uscore-clinical-notes-categories', 'Server returns every required DiagnosticReport category (Cardiology, Pathology, Radiology)', async (t: TestContext) => {
        need(t, state);
        const cats = new Set(allOf(state.byProfile.get('diagnosticreport-note')).flatMap((d) => tokensOf((d['category'] as unknown[]) ?? []).map((c) => c.code)));
        const missing = CLINICAL_REPORT_CATEGORIES.filter((c) => !cats.has(c));
        if (missing.length) t.skip(`no DiagnosticReport with category ${missing.join(', ')}`, { lackOfData: true });
      }),
      test('uscore-clinical-notes-attachments', 'DiagnosticReport presentedForm attachments are also DocumentReference attachments', async (t: TestContext) => {
        need(t, state);
        const problems: string[] = [];
        let checked = 0;
        for (const patientId of state.patients) {
          const reports = state.byProfile.get('diagnosticreport-note')?.get(patientId) ?? [];
          const docs = state.byProfile.get('documentreference')?.get(patientId) ?? [];
          const urls = new Set(docs.flatMap((d) => ((d['content'] as { attachment?: { url?: string } }[] | undefined) ?? []).map((c) => c.attachment?.url)).filter(Boolean));
          for (const r of reports) {
            for (const form of (r['presentedForm'] as { url?: string }[] | undefined) ?? []) {
              if (!form.url) continue;
              checked++;
              if (!urls.has(form.url)) problems.push(`DiagnosticReport/${r.id} presentedForm ${form.url} is in no DocumentReference of Patient/${patientId}`);
            }
          }
        }
        if (!checked) t.skip('no DiagnosticReport.presentedForm.url among the report notes', { lackOfData: true });
        ensure(problems.length === 0, problems.slice(0, 8).join('; '));
      }),
      test('uscore-missing-data', 'At least one resource uses the data-absent-reason extension and one the data-absent-reason code "unknown"', async (t: TestContext) => {
        need(t, state);
        const missing = [...(state.dar.extension ? [] : ['the data-absent-reason extension']), ...(state.dar.code ? [] : ['the data-absent-reason code unknown'])];
        ensure(missing.length === 0, `no validated resource used ${missing.join(' or ')}`);
      }, { ref: 'us_core_311_data_absent_reason' }),
    ],
  };
}
