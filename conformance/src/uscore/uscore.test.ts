import { gzipSync } from 'node:zlib';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import type { StructureDefinition } from '@medplum/fhirtypes';
import { readTgz, tarOf, untar, parsePax } from './tar.js';
import { ElementWalker, deepContains, inferno61Plan, missingMustSupport } from './must-support.js';
import { dateMatches, dateRange, matchesParam, searchValueFrom, shiftDay, splitPrefix } from './search.js';

describe('tar reader', () => {
  test('reads the files of a gzip tar archive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tar-'));
    const path = join(dir, 'p.tgz');
    await writeFile(path, gzipSync(tarOf({ 'package/package.json': '{"version":"6.1.0"}', 'package/a.json': 'x'.repeat(1000) })));
    const files = await readTgz(path);
    expect([...files.keys()]).toEqual(['package/package.json', 'package/a.json']);
    expect(files.get('package/a.json')!.length).toBe(1000);
    expect(JSON.parse(files.get('package/package.json')!.toString())).toEqual({ version: '6.1.0' });
  });
  test('PAX path records name the next file', () => {
    const record = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 2;
      if (String(len).length !== 2) len = body.length + String(len).length;
      return `${len}${body}`;
    };
    expect(parsePax(Buffer.from(record('path', 'package/long-name.json')))).toEqual({ path: 'package/long-name.json' });
    expect(untar(Buffer.alloc(1024)).size).toBe(0);
  });
});

const bp: StructureDefinition = {
  resourceType: 'StructureDefinition',
  url: 'http://x/bp',
  name: 'USCoreBloodPressureProfile',
  type: 'Observation',
  baseDefinition: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-vital-signs',
  status: 'active',
  kind: 'resource',
  abstract: false,
  snapshot: {
    element: [
      { id: 'Observation', path: 'Observation' },
      { id: 'Observation.category', path: 'Observation.category', mustSupport: true, slicing: { rules: 'open', discriminator: [{ type: 'value', path: 'coding.code' }, { type: 'value', path: 'coding.system' }] } },
      { id: 'Observation.category:VSCat', path: 'Observation.category', sliceName: 'VSCat', mustSupport: true },
      { id: 'Observation.category:VSCat.coding.code', path: 'Observation.category.coding.code', fixedCode: 'vital-signs', mustSupport: true },
      { id: 'Observation.value[x]', path: 'Observation.value[x]', mustSupport: true },
      { id: 'Observation.dataAbsentReason', path: 'Observation.dataAbsentReason', mustSupport: true },
      { id: 'Observation.subject', path: 'Observation.subject', mustSupport: true, type: [{ code: 'Reference', targetProfile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] }] },
      { id: 'Observation.component', path: 'Observation.component', mustSupport: true, slicing: { rules: 'open', discriminator: [{ type: 'pattern', path: 'code' }] } },
      { id: 'Observation.component:systolic', path: 'Observation.component', sliceName: 'systolic', mustSupport: true },
      { id: 'Observation.component:systolic.code', path: 'Observation.component.code', mustSupport: true, patternCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] } },
      { id: 'Observation.component:systolic.value[x]', path: 'Observation.component.value[x]', mustSupport: true },
      { id: 'Observation.component:systolic.dataAbsentReason', path: 'Observation.component.dataAbsentReason', mustSupport: true },
    ],
  },
};

const reading = {
  resourceType: 'Observation',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  subject: { reference: 'Patient/p1' },
  component: [
    { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80 } },
    { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120 } },
  ],
};

describe('Must Support', () => {
  test('patterns match as FHIR patterns', () => {
    expect(deepContains({ coding: [{ system: 's', code: 'c', display: 'd' }] }, { coding: [{ code: 'c' }] })).toBe(true);
    expect(deepContains([{ code: 'a' }, { code: 'b' }], { code: 'b' })).toBe(true);
    expect(deepContains({ coding: [{ code: 'x' }] }, { coding: [{ code: 'c' }] })).toBe(false);
  });
  test('slices keep the instances their discriminators select; type slices are concrete elements', () => {
    const walker = new ElementWalker(bp);
    expect(walker.values(reading, 'Observation.component:systolic.value[x]')).toEqual([{ value: 120 }]);
    expect(walker.values(reading, 'Observation.category:VSCat')).toHaveLength(1);
    expect(walker.values({ ...reading, category: [{ coding: [{ code: 'laboratory' }] }] }, 'Observation.category:VSCat')).toHaveLength(0);
    expect(walker.values({ valueQuantity: { value: 1 } }, 'Observation.value[x]:valueQuantity')).toEqual([{ value: 1 }]);
    expect(walker.values({ valueString: 'x' }, 'Observation.value[x]')).toEqual(['x']);
  });
  test("Inferno's exceptions: blood pressure keeps component.dataAbsentReason, drops value[x] and dataAbsentReason", () => {
    const ids = inferno61Plan(bp).elements.map((e) => e.id);
    expect(ids).not.toContain('Observation.value[x]');
    expect(ids).not.toContain('Observation.dataAbsentReason');
    expect(ids).toContain('Observation.component:systolic.dataAbsentReason');
    expect(missingMustSupport(bp, [reading])).toEqual(['Observation.component:systolic.dataAbsentReason']);
    expect(missingMustSupport(bp, [{ resourceType: 'Observation' }])).toContain('Observation.component:systolic');
  });
  test('other vital signs drop components and data absent reasons', () => {
    const height = { ...bp, name: 'USCoreBodyHeightProfile' };
    const ids = inferno61Plan(height).elements.map((e) => e.id);
    expect(ids.some((id) => id.startsWith('Observation.component'))).toBe(false);
    expect(ids).not.toContain('Observation.dataAbsentReason');
    expect(ids).toContain('Observation.value[x]');
  });
  test('choices: one populated element covers the group', () => {
    const goal: StructureDefinition = {
      ...bp,
      name: 'USCoreGoalProfile',
      type: 'Goal',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Goal',
      snapshot: { element: [{ id: 'Goal', path: 'Goal' }, { id: 'Goal.start[x]', path: 'Goal.start[x]', mustSupport: true }, { id: 'Goal.target.due[x]', path: 'Goal.target.due[x]', mustSupport: true }] },
    };
    expect(missingMustSupport(goal, [{ target: [{ dueDate: '2026-01-01' }] }])).toEqual([]);
    expect(missingMustSupport(goal, [{}])).toEqual(['Goal.start[x]', 'Goal.target.due[x]']);
  });
});

describe('search semantics', () => {
  test('date ranges by precision', () => {
    expect(dateRange('2024')).toEqual({ low: Date.UTC(2024, 0, 1), high: Date.UTC(2025, 0, 1) - 1 });
    expect(dateRange('2024-02-29')!.high - dateRange('2024-02-29')!.low).toBe(86_400_000 - 1);
    expect(dateRange('2024-02-29T10:00:00+02:00')!.low).toBe(Date.UTC(2024, 1, 29, 8));
    expect(dateRange('not a date')).toBeUndefined();
    expect(shiftDay('2024-03-01T10:00:00Z', -1)).toBe('2024-02-29');
    expect(splitPrefix('ge2024-01-01')).toEqual({ prefix: 'ge', date: '2024-01-01' });
  });
  test('comparators', () => {
    const day = dateRange('2024-05-10')!;
    const after = dateRange('2024-05-12T09:00:00Z')!;
    const before = dateRange('2024-05-08T09:00:00Z')!;
    expect(dateMatches('gt', day, after)).toBe(true);
    expect(dateMatches('gt', day, before)).toBe(false);
    expect(dateMatches('lt', day, before)).toBe(true);
    expect(dateMatches('le', day, after)).toBe(false);
    expect(dateMatches('ge', day, after)).toBe(true);
  });
  const def = (code: string, type: string, expression: string) => ({ code, type, expression });
  test('tokens, references, strings and dates as Inferno matches them', () => {
    const obs = {
      resourceType: 'Observation',
      id: 'o1',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2024-05-10T09:30:00Z',
    };
    expect(matchesParam(obs, def('code', 'token', 'Observation.code'), '85354-9')).toBe(true);
    expect(matchesParam(obs, def('code', 'token', 'Observation.code'), 'http://loinc.org|85354-9')).toBe(true);
    expect(matchesParam(obs, def('code', 'token', 'Observation.code'), 'http://snomed.info/sct|85354-9')).toBe(false);
    expect(matchesParam(obs, def('code', 'token', 'Observation.code'), '1234-5,85354-9')).toBe(true);
    const patient = def('patient', 'reference', 'Observation.subject.where(resolve() is Patient)');
    expect(matchesParam(obs, patient, 'p1')).toBe(true);
    expect(matchesParam(obs, patient, 'Patient/p1')).toBe(true);
    expect(matchesParam(obs, patient, 'http://fhir/Patient/p1', 'http://fhir')).toBe(true);
    expect(matchesParam(obs, patient, 'p2')).toBe(false);
    const date = def('date', 'date', 'Observation.effective');
    expect(matchesParam(obs, date, 'gt2024-05-09')).toBe(true);
    expect(matchesParam(obs, date, 'lt2024-05-09')).toBe(false);
    expect(searchValueFrom(obs, def('code', 'token', 'Observation.code'), { withSystem: true })).toBe('http://loinc.org|85354-9');
    expect(searchValueFrom(obs, date)).toBe('2024-05-10T09:30:00Z');
    expect(searchValueFrom({ resourceType: 'Procedure', performedPeriod: { start: '2024-01-05' } }, def('date', 'date', 'Procedure.performed'))).toBe('gt2024-01-04');
    const name = def('name', 'string', 'Patient.name');
    expect(matchesParam({ resourceType: 'Patient', name: [{ family: 'Lopez', given: ['Sofia'] }] }, name, 'sof')).toBe(true);
    expect(matchesParam({ resourceType: 'Patient', name: [{ family: 'Lopez' }] }, name, 'opez')).toBe(false);
  });
});
