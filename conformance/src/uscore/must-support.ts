/**
 * Must Support coverage, as Inferno's "All must support elements are provided" tests judge it: every
 * Must Support element, slice and extension of a profile must be populated in at least one of the
 * resources seen. Elements are walked by their snapshot ids (`Observation.component:systolic.code`);
 * a slice keeps the instances that match its discriminators' fixed or pattern values; a type slice
 * (`value[x]:valueQuantity`) is the concrete element.
 */
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

export interface MustSupportElement {
  id: string;
  /** Reference target types when the element is a Reference. */
  referenceTargets?: string[];
  targetProfiles?: string[];
}

type Json = unknown;

const asArray = (v: Json): Json[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** Whether `actual` contains everything in `pattern` (FHIR pattern semantics; arrays: each pattern item matched by some item). */
export function deepContains(actual: Json, pattern: Json): boolean {
  if (pattern === null || typeof pattern !== 'object') {
    return asArray(actual).some((a) => a === pattern);
  }
  if (Array.isArray(pattern)) return pattern.every((p) => asArray(actual).some((a) => deepContains(a, p)));
  return asArray(actual).some(
    (a) => a !== null && typeof a === 'object' && Object.entries(pattern as Record<string, Json>).every(([k, v]) => deepContains((a as Record<string, Json>)[k], v)),
  );
}

function fixedOrPattern(e: ElementDefinition | undefined): Json {
  if (!e) return undefined;
  for (const [k, v] of Object.entries(e)) if (k.startsWith('fixed') || k.startsWith('pattern')) return v as Json;
  return undefined;
}

/** The Must Support elements of a profile (the root excluded). */
export function mustSupportElements(sd: StructureDefinition): MustSupportElement[] {
  const out: MustSupportElement[] = [];
  for (const e of sd.snapshot?.element ?? []) {
    if (!e.mustSupport || !e.id || !e.id.includes('.')) continue;
    const refs = (e.type ?? []).filter((t) => t.code === 'Reference');
    const targetProfiles = refs.flatMap((t) => t.targetProfile ?? []);
    out.push({
      id: e.id,
      ...(refs.length ? { referenceTargets: targetProfiles.map((p) => p.split('/').pop()!.replace(/^us-core-/, '')), targetProfiles } : {}),
    });
  }
  return out;
}

export class ElementWalker {
  private readonly byId = new Map<string, ElementDefinition>();

  constructor(sd: StructureDefinition) {
    for (const e of sd.snapshot?.element ?? []) if (e.id) this.byId.set(e.id, e);
  }

  /** Split an element id into parts (`name` or `name:slice`; US Core slice names hold no '.'). */
  static parts(id: string): string[] {
    return id.split('.');
  }

  /** The instances of an element (by id) within a resource. */
  values(resource: Json, id: string): Json[] {
    const parts = ElementWalker.parts(id);
    let nodes: Json[] = [resource];
    let prefix = parts[0]!;
    for (const part of parts.slice(1)) {
      const [name, slice] = part.split(':') as [string, string | undefined];
      prefix = `${prefix}.${part}`;
      const keys = (node: Json): string[] => {
        if (!node || typeof node !== 'object') return [];
        if (name.endsWith('[x]')) {
          const base = name.slice(0, -3);
          if (slice && slice.startsWith(base) && slice.length > base.length) return [slice];
          return Object.keys(node).filter((k) => k.startsWith(base) && /^[A-Z]/.test(k.slice(base.length)));
        }
        return [name];
      };
      let next = nodes.flatMap((n) => keys(n).flatMap((k) => asArray((n as Record<string, Json>)[k])));
      if (slice && !(name.endsWith('[x]') && slice.startsWith(name.slice(0, -3)))) {
        const predicate = this.slicePredicate(prefix, name);
        next = next.filter(predicate);
      }
      nodes = next;
      if (nodes.length === 0) break;
    }
    return nodes;
  }

  /** Whether an instance belongs to a slice: its discriminator values match the slice's fixed/pattern values. */
  private slicePredicate(sliceId: string, name: string): (node: Json) => boolean {
    const parentId = sliceId.slice(0, sliceId.lastIndexOf(':'));
    const parent = this.byId.get(parentId);
    const sliceElement = this.byId.get(sliceId);
    const discriminators = parent?.slicing?.discriminator ?? [];
    const checks: ((node: Json) => boolean)[] = [];
    for (const d of discriminators) {
      if (d.type !== 'value' && d.type !== 'pattern') continue;
      const path = d.path ?? '$this';
      let expected: Json;
      if (path === '$this') expected = fixedOrPattern(sliceElement);
      else {
        expected = fixedOrPattern(this.byId.get(`${sliceId}.${path}`));
        // `coding.code` may sit under a sliced or un-sliced coding: look for any element with that tail
        if (expected === undefined) {
          for (const [id, e] of this.byId) {
            if (id.startsWith(`${sliceId}.`) && id.replace(/:[^.]+/g, '').endsWith(`.${path}`)) {
              expected = fixedOrPattern(e);
              if (expected !== undefined) break;
            }
          }
        }
        // or a pattern on the slice itself that covers the path
        if (expected === undefined) {
          const own = fixedOrPattern(sliceElement);
          if (own !== undefined) {
            checks.push((node) => deepContains(node, own));
            continue;
          }
        }
      }
      if (expected === undefined) continue;
      const segments = path === '$this' ? [] : path.split('.');
      checks.push((node) => {
        let values: Json[] = [node];
        for (const s of segments) values = values.flatMap((v) => (v && typeof v === 'object' ? asArray((v as Record<string, Json>)[s]) : []));
        return values.some((v) => deepContains(v, expected));
      });
    }
    // Extension slices: the url is the discriminator; the fixed url sits on `.url` (or the profile).
    if (name === 'extension' || name === 'modifierExtension') {
      const url = (fixedOrPattern(this.byId.get(`${sliceId}.url`)) as string | undefined) ?? sliceElement?.type?.[0]?.profile?.[0];
      if (url) return (node) => !!node && typeof node === 'object' && (node as Record<string, Json>)['url'] === url;
    }
    return (node) => checks.every((c) => c(node));
  }
}

/**
 * The Must Support list Inferno's US Core 6.1.0 tests use: the profile's Must Support elements,
 * less the exceptions its generator makes (must_support_metadata_extractor*.rb), plus the choices
 * where one of several elements suffices.
 */
export interface MustSupportPlan {
  elements: MustSupportElement[];
  /** Groups of element ids of which one populated element covers all. */
  choices: string[][];
}

const VITAL_BASES = ['http://hl7.org/fhir/StructureDefinition/vitalsigns', 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-vital-signs'];

export function inferno61Plan(sd: StructureDefinition): MustSupportPlan {
  let elements = mustSupportElements(sd);
  const drop = (predicate: (id: string) => boolean) => {
    elements = elements.filter((e) => !predicate(e.id));
  };
  const bp = sd.name === 'USCoreBloodPressureProfile';
  const pulseOx = sd.name === 'USCorePulseOximetryProfile';
  if (VITAL_BASES.includes(sd.baseDefinition ?? '') && !bp && !pulseOx) drop((id) => id.startsWith('Observation.component'));
  if (bp) drop((id) => id.startsWith('Observation.value[x]') || id === 'Observation.dataAbsentReason');
  if (sd.type === 'Observation' && !bp) drop((id) => /^Observation\.(component(:[^.]+)?\.)?dataAbsentReason$/.test(id));
  if (sd.type === 'Practitioner') drop((id) => id.startsWith('Practitioner.address'));
  if (sd.id === 'us-core-diagnosticreport-note') drop((id) => id.startsWith('DiagnosticReport.media'));
  if (sd.type === 'Patient') drop((id) => id === 'Patient.extension:genderIdentity');
  if (sd.type === 'Coverage') drop((id) => id === 'Coverage.class:group.name');
  if (sd.id === 'us-core-condition-encounter-diagnosis') {
    drop((id) => ['Condition.extension:assertedDate', 'Condition.onset[x]', 'Condition.clinicalStatus', 'Condition.verificationStatus'].includes(id));
  }
  if (sd.id === 'us-core-smokingstatus') {
    drop((id) => id === 'Observation.effective[x]:effectiveDateTime');
    elements.push({ id: 'Observation.effective[x]' });
  }
  const choices: string[][] = [];
  switch (sd.type) {
    case 'DocumentReference':
      choices.push(['DocumentReference.content.attachment.data', 'DocumentReference.content.attachment.url']);
      break;
    case 'Encounter':
      choices.push(['Encounter.reasonCode', 'Encounter.reasonReference'], ['Encounter.location.location', 'Encounter.serviceProvider']);
      break;
    case 'Goal':
      choices.push(['Goal.start[x]', 'Goal.target.due[x]']);
      break;
    case 'Condition':
      choices.push(['Condition.onset[x]', 'Condition.extension:assertedDate']);
      break;
  }
  return { elements, choices };
}

/** The Must Support elements none of the resources populates (choices: one populated member covers the group). */
export function missingMustSupport(sd: StructureDefinition, resources: Json[], plan: MustSupportPlan = inferno61Plan(sd)): string[] {
  const walker = new ElementWalker(sd);
  const present = (id: string) => resources.some((r) => walker.values(r, id).length > 0);
  const missing = plan.elements.filter((e) => !present(e.id)).map((e) => e.id);
  return missing.filter((id) => {
    const group = plan.choices.find((c) => c.includes(id));
    return !group || !group.some((other) => other !== id && present(other));
  });
}
