/**
 * Every resource the API returns from the demo dataset is valid FHIR R4 (structure: required
 * elements, types, cardinality, value sets bound as required, by the importer's validator and by
 * @medplum/core's with its invariants), as served: after release rules and
 * report redaction. Each demo patient signs in and reads their whole record through
 * `Patient/{id}/$everything`, following `next` links; one error anywhere fails the test.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { fullStructureErrors, structureErrors } from '../src/import/validate-resource.js';
import { generateDataset } from '../src/seed/index.js';
import { createHarness, type Harness, type HarnessAccount } from './smart-harness.js';

const dataset = generateDataset({ patients: 3, now: new Date() });
const accounts: HarnessAccount[] = dataset.patients.map((p, i) => ({
  username: `patient-${i}`,
  password: `demo password ${i}`,
  secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
  fhirUser: `Patient/${p.patientId}`,
  patientId: p.patientId,
}));

let h: Harness;
beforeAll(async () => {
  h = await createHarness([...dataset.shared, ...dataset.patients.flatMap((p) => p.resources)], accounts);
}, 120_000);
afterAll(() => h?.destroy());

describe('the demo dataset as the API serves it', () => {
  test('every returned resource is valid FHIR R4, and every stored type is returned to someone', async () => {
    const returnedTypes = new Set<string>();
    const problems: string[] = [];
    let returned = 0;
    for (const [i, record] of dataset.patients.entries()) {
      const token = await h.launch({ user: accounts[i]!, pick: `self:${record.patientId}` });
      let path: string | undefined = `Patient/${record.patientId}/$everything?_count=500`;
      while (path) {
        const res = await h.get(token, path);
        expect([path, res.status]).toEqual([path, 200]);
        const bundle = res.body as { entry?: { resource: Resource }[]; link?: { relation: string; url: string }[] };
        for (const { resource } of bundle.entry ?? []) {
          returned++;
          returnedTypes.add(resource.resourceType);
          for (const e of [...structureErrors(resource), ...fullStructureErrors(resource)]) problems.push(`${resource.resourceType}/${resource.id}: ${e}`);
        }
        const next = bundle.link?.find((l) => l.relation === 'next')?.url;
        path = next ? next.slice(next.indexOf('/fhir/') + '/fhir/'.length) : undefined;
      }
    }
    expect(problems).toEqual([]);
    expect(returned).toBeGreaterThan(100);
    // Everything stored in a compartment reached its patient (nothing is silently unreadable).
    const storedTypes = new Set(dataset.patients.flatMap((p) => p.resources.map((r) => r.resourceType)));
    expect([...storedTypes].filter((t) => !returnedTypes.has(t))).toEqual([]);
  }, 120_000);
});
