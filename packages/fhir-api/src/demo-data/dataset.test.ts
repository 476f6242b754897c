import { describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { structureErrors } from '../import/validate-resource.js';
import { generateDataset } from './dataset.js';

const now = new Date('2026-11-01T00:00:00Z');
const all = (d: ReturnType<typeof generateDataset>): Resource[] => [...d.shared, ...d.patients.flatMap((p) => p.resources)];

describe('demo dataset', () => {
  const data = generateDataset({ patients: 5, now });

  test('is deterministic', () => {
    expect(JSON.stringify(generateDataset({ patients: 5, now }))).toBe(JSON.stringify(data));
  });

  test('every resource is valid FHIR R4 and ids are unique', () => {
    const resources = all(data);
    const keys = resources.map((r) => `${r.resourceType}/${r.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    const errors = resources.flatMap((r) => structureErrors(r).map((e) => `${r.resourceType}/${r.id}: ${e}`));
    expect(errors).toEqual([]);
  });

  test('every reference resolves inside the dataset', () => {
    const keys = new Set(all(data).map((r) => `${r.resourceType}/${r.id}`));
    const refs: string[] = [];
    JSON.stringify(all(data), (k, v) => (k === 'reference' && typeof v === 'string' && refs.push(v), v));
    expect(refs.filter((r) => !keys.has(r))).toEqual([]);
  });

  test('hard cases: ages, proxies, same-name pair, empty record, sensitive data', () => {
    const byId = new Map(data.patients.map((p) => [p.patientId, p]));
    const birth = (id: string) => new Date((byId.get(id)!.resources[0] as { birthDate: string }).birthDate);
    const age = (id: string) => (now.getTime() - birth(id).getTime()) / (365.25 * 86_400_000);
    expect(age('pat-child')).toBeLessThan(12);
    expect(Math.floor(age('pat-teen'))).toBe(15);
    expect(age('pat-elder')).toBeGreaterThan(80);
    const parent = data.people.find((p) => p.key === 'parent')!;
    expect(parent.relatedPersons.map((r) => r.actsForPatientId)).toEqual(['pat-child', 'pat-teen']);
    const a = byId.get('pat-twin-a')!.resources[0] as { name: unknown; birthDate: string };
    const b = byId.get('pat-twin-b')!.resources[0] as { name: unknown; birthDate: string };
    expect([a.name, a.birthDate]).toEqual([b.name, b.birthDate]);
    expect(byId.get('pat-empty')!.resources).toHaveLength(1);
    expect(byId.get('pat-teen')!.resources.filter((r) => r.meta?.security?.length).length).toBeGreaterThan(0);
  });

  test('results in every state', () => {
    const statuses = new Set(
      generateDataset({ patients: 30, now }).patients.flatMap((p) => p.resources).filter((r) => r.resourceType === 'Observation').map((r) => (r as { status: string }).status),
    );
    expect([...statuses].sort()).toEqual(['amended', 'cancelled', 'corrected', 'entered-in-error', 'final', 'preliminary', 'registered']);
  });
});
