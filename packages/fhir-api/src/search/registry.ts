/**
 * The search parameters the API supports, per resource type, and the Patient compartment paths.
 * Generated from the US Core 6.1.0 server CapabilityStatement and the R4 SearchParameters by
 * scripts/src/generate-search-registry.ts; loaded once and compiled to FHIRPath atoms.
 */
import { readFileSync } from 'node:fs';
import { parseFhirPath, type FhirPathAtom } from '@medplum/core';
import { loadFhirDefinitions } from './fhir-definitions.js';

loadFhirDefinitions();

export type SearchParamType = 'token' | 'reference' | 'date' | 'string' | 'quantity' | 'number' | 'uri' | 'composite' | 'special';

export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  expression: string;
  atom: FhirPathAtom;
  target?: string[];
}

interface RegistryFile {
  searchParameters: Record<string, Record<string, { type: SearchParamType; expression: string; definition: string; target?: string[] }>>;
  /** Per searched type, the accepted `_include` / `_revinclude` values (`Source:param[:Target]`). */
  includes: Record<string, string[]>;
  revincludes: Record<string, string[]>;
  compartment: Record<string, string[]>;
}

const file = JSON.parse(readFileSync(new URL('./registry.generated.json', import.meta.url), 'utf8')) as RegistryFile;

const params = new Map<string, Map<string, SearchParamDef>>();
for (const [type, defs] of Object.entries(file.searchParameters)) {
  const byCode = new Map<string, SearchParamDef>();
  for (const [code, d] of Object.entries(defs)) {
    byCode.set(code, { code, type: d.type, expression: d.expression, atom: parseFhirPath(d.expression), ...(d.target ? { target: d.target } : {}) });
  }
  params.set(type, byCode);
}

// Security labels drive the sensitivity rules (adolescent confidentiality); indexed for every type.
const securityParam: SearchParamDef = { code: '_security', type: 'token', expression: 'meta.security', atom: parseFhirPath('meta.security') };
const tagParam: SearchParamDef = { code: '_tag', type: 'token', expression: 'meta.tag', atom: parseFhirPath('meta.tag') };

const compartmentAtoms = new Map<string, FhirPathAtom[]>(
  Object.entries(file.compartment).map(([type, exprs]) => [type, exprs.map((e) => parseFhirPath(e))]),
);

/** Resource types the API serves (US Core 6.1 plus the portal's extra types). */
export const supportedResourceTypes: ReadonlySet<string> = new Set(params.keys());

export function searchParamsFor(resourceType: string): SearchParamDef[] {
  return [...(params.get(resourceType)?.values() ?? []), securityParam, tagParam];
}

export function getSearchParam(resourceType: string, code: string): SearchParamDef | undefined {
  if (code === '_security') return securityParam;
  if (code === '_tag') return tagParam;
  return params.get(resourceType)?.get(code);
}

const includeValues = new Map(Object.entries(file.includes).map(([type, values]) => [type, new Set(values)]));
const revincludeValues = new Map(Object.entries(file.revincludes).map(([type, values]) => [type, new Set(values)]));

/** Whether `_include=value` (or `_revinclude` when rev) is supported on searches of resourceType. */
export function isSupportedInclude(resourceType: string, value: string, rev: boolean): boolean {
  return (rev ? revincludeValues : includeValues).get(resourceType)?.has(value) ?? false;
}

/**
 * Types stored per patient compartment. Patient is in its own compartment; Provenance joins the
 * compartments of the resources it targets (R4 only counts Provenance.target Patients, which would
 * leave a lab result's Provenance outside every compartment and unreachable by _revinclude).
 */
export function isCompartmentType(resourceType: string): boolean {
  return resourceType === 'Patient' || resourceType === 'Provenance' || compartmentAtoms.has(resourceType);
}

export function compartmentPaths(resourceType: string): FhirPathAtom[] {
  return compartmentAtoms.get(resourceType) ?? [];
}
