import { describe, expect, test } from '@jest/globals';
import type { Coding, Condition, DiagnosticReport, DocumentReference, Encounter, MedicationRequest, Observation, Patient, RelatedPerson, Resource } from '@medplum/fhirtypes';
import { fullStructureErrors, structureErrors } from '../import/validate-resource.js';
import { compartmentPatients } from '../store/compartment.js';
import { HARD_CASE_IDS, generateDataset, generatePatients, type GeneratedDataset } from './index.js';

const now = new Date('2026-11-01T00:00:00Z');
const DAY = 86_400_000;
const all = (d: GeneratedDataset): Resource[] => [...d.shared, ...d.patients.flatMap((p) => p.resources)];
const key = (r: Resource) => `${r.resourceType}/${r.id}`;
const ofType = <K extends Resource['resourceType']>(rs: readonly Resource[], type: K) =>
  rs.filter((r): r is Extract<Resource, { resourceType: K }> => r.resourceType === type);
const codes = (cs: { coding?: Coding[] }[] | undefined) => (cs ?? []).flatMap((c) => c.coding ?? []).map((c) => c.code);

function referencesIn(value: unknown): string[] {
  const refs: string[] = [];
  JSON.stringify(value, (k, v: unknown) => {
    if (k === 'reference' && typeof v === 'string') refs.push(v);
    return v;
  });
  return refs;
}

function fullYearsAt(birthDate: string, at: Date): number {
  const b = new Date(`${birthDate}T00:00:00Z`);
  let years = at.getUTCFullYear() - b.getUTCFullYear();
  if (at.getUTCMonth() < b.getUTCMonth() || (at.getUTCMonth() === b.getUTCMonth() && at.getUTCDate() < b.getUTCDate())) years--;
  return years;
}

describe('seed generator', () => {
  const data = generateDataset({ patients: 12, now });
  const resources = all(data);
  const hardOnly = generateDataset({ patients: 0, now });
  const hardResources = all(hardOnly);
  const record = (id: string) => data.patients.find((p) => p.patientId === id)!.resources;

  test('is deterministic, and the seed matters', () => {
    expect(JSON.stringify(generateDataset({ patients: 12, now }))).toBe(JSON.stringify(data));
    const other = generateDataset({ patients: 12, now, seed: 7 });
    expect(JSON.stringify(other.patients.slice(8))).not.toBe(JSON.stringify(data.patients.slice(8)));
    // Ids do not depend on the seed.
    expect(other.patients.map((p) => p.patientId)).toEqual(data.patients.map((p) => p.patientId));
  });

  test('streaming yields the same records as the array, lazily', () => {
    const streamed = [...generatePatients({ patients: 12, now })];
    expect(streamed).toEqual(data.patients);
    const it = generatePatients({ patients: 1_000_000, now });
    const first = [it.next().value, it.next().value];
    expect(first).toEqual(data.patients.slice(0, 2));
  });

  test('ids are unique and URL-safe; every record starts with its Patient', () => {
    const keys = resources.map(key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(resources.filter((r) => !/^[A-Za-z0-9\-.]{1,64}$/.test(r.id ?? ''))).toEqual([]);
    for (const p of data.patients) {
      expect(p.resources[0]).toMatchObject({ resourceType: 'Patient', id: p.patientId });
      expect(ofType(p.resources, 'Patient')).toHaveLength(1);
    }
    expect(data.patients.slice(8, 12).map((p) => p.patientId)).toEqual(['pat-0001', 'pat-0002', 'pat-0003', 'pat-0004']);
  });

  test('every reference resolves, relatively, within the dataset; records never point at other patients', () => {
    const keys = new Set(resources.map(key));
    expect(referencesIn(resources).filter((r) => !keys.has(r))).toEqual([]);
    const shared = new Set(data.shared.map(key));
    for (const p of data.patients) {
      const own = new Set(p.resources.map(key));
      expect(referencesIn(p.resources).filter((r) => !own.has(r) && !shared.has(r))).toEqual([]);
    }
    expect(referencesIn(data.shared).filter((r) => !shared.has(r))).toEqual([]);
  });

  test("every resource is in its patient's compartment (Provenance through its targets)", () => {
    for (const p of data.patients) {
      const own = new Set(p.resources.map(key));
      for (const r of p.resources) {
        if (r.resourceType === 'Provenance') {
          expect(r.target.every((t) => own.has(t.reference!))).toBe(true);
          continue;
        }
        expect([key(r), compartmentPatients(r)]).toEqual([key(r), [p.patientId]]);
      }
    }
  });

  test('every resource is structurally valid FHIR R4 (the importer\'s validator and @medplum/core\'s)', () => {
    const errors = resources.flatMap((r) => [...structureErrors(r), ...fullStructureErrors(r)].map((e) => `${key(r)} ${e}`));
    expect(errors.slice(0, 20)).toEqual([]);
  });

  test('every US Core resource type is present, even with no generated patients', () => {
    const types = new Set<string>(hardResources.map((r) => r.resourceType));
    for (const t of [
      'AllergyIntolerance', 'Appointment', 'CarePlan', 'CareTeam', 'Condition', 'Coverage', 'Device', 'DiagnosticReport', 'DocumentReference',
      'Encounter', 'Endpoint', 'ExplanationOfBenefit', 'Goal', 'Immunization', 'Location', 'Medication', 'MedicationDispense', 'MedicationRequest',
      'Observation', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole', 'Procedure', 'Provenance', 'QuestionnaireResponse',
      'RelatedPerson', 'ServiceRequest', 'Specimen',
    ]) expect([t, types.has(t)]).toEqual([t, true]);
    expect(ofType(hardOnly.shared, 'Practitioner').every((p) => p.identifier?.some((i) => i.system === 'http://hl7.org/fhir/sid/us-npi' && /^\d{10}$/.test(i.value!)))).toBe(true);
  });

  test('results in every state, for observations and reports, most of them final', () => {
    const want = ['amended', 'cancelled', 'corrected', 'entered-in-error', 'final', 'preliminary', 'registered'];
    const obs = ofType(hardResources, 'Observation');
    const reports = ofType(hardResources, 'DiagnosticReport');
    expect([...new Set(obs.map((o) => o.status))].sort()).toEqual(want);
    expect([...new Set(reports.map((r) => r.status))].filter((s) => want.includes(s)).sort()).toEqual(want);
    const generatedObs = ofType(resources, 'Observation');
    expect(generatedObs.filter((o) => o.status === 'final').length / generatedObs.length).toBeGreaterThan(0.8);
  });

  test('US Core content: categories, codes and shapes', () => {
    const conditions = ofType(hardResources, 'Condition');
    const categories = new Set(conditions.flatMap((c) => codes(c.category)));
    for (const c of ['problem-list-item', 'encounter-diagnosis', 'health-concern']) expect(categories).toContain(c);

    const obs = ofType(hardResources, 'Observation');
    const obsCodes = new Set(obs.flatMap((o) => codes([o.code])));
    for (const c of ['85353-1', '85354-9', '8867-4', '9279-1', '8310-5', '59408-5', '29463-7', '8302-2', '39156-5', '72166-2', '59576-9', '77606-2', '9843-4', '88121-9']) {
      expect([c, obsCodes.has(c)]).toEqual([c, true]);
    }
    expect(obs.some((o) => codes(o.category).includes('survey') && codes(o.category).includes('sdoh'))).toBe(true);
    const bp = obs.find((o) => codes([o.code]).includes('85354-9'))!;
    expect(bp.component?.map((c) => codes([c.code])[0])).toEqual(['8480-6', '8462-4']);
    const lab = obs.find((o) => codes(o.category).includes('laboratory') && o.status === 'final' && o.valueQuantity)!;
    expect(lab.valueQuantity?.system).toBe('http://unitsofmeasure.org');
    expect(lab.referenceRange?.length).toBeGreaterThan(0);
    expect(lab.interpretation?.length).toBeGreaterThan(0);

    const reports = ofType(hardResources, 'DiagnosticReport');
    const radiology = reports.filter((r) => codes(r.category).includes('LP29684-5'));
    expect(new Set(radiology.flatMap((r) => codes([r.code])))).toEqual(new Set(['24558-9', '24627-2', '24590-2', ...radiology.flatMap((r) => codes([r.code]))]));
    for (const study of ['24558-9', '24627-2', '24590-2']) expect(radiology.some((r) => codes([r.code]).includes(study))).toBe(true);
    for (const r of radiology) {
      expect(r.conclusion).toBeTruthy();
      expect(r.presentedForm?.[0]?.contentType).toBe('text/plain');
      expect(Buffer.from(r.presentedForm![0]!.data!, 'base64').toString('utf8')).toContain('IMPRESSION');
    }
    expect(reports.some((r) => codes(r.category).includes('LAB') && (r.result?.length ?? 0) > 1)).toBe(true);

    const docs = ofType(hardResources, 'DocumentReference');
    for (const type of ['11506-3', '18842-5', '34117-2', '28570-0']) expect(docs.some((d) => codes([d.type!]).includes(type))).toBe(true);
    for (const d of docs) {
      expect(codes(d.category)).toContain('clinical-note');
      expect(d.content[0]?.attachment.data).toBeTruthy();
      expect(d.content[0]?.format?.code).toBe('urn:ihe:iti:xds:2017:mimeTypeSufficient');
    }

    const requests = ofType(hardResources, 'MedicationRequest');
    expect(requests.some((r) => r.medicationReference)).toBe(true);
    expect(requests.some((r) => r.medicationCodeableConcept)).toBe(true);
    expect(new Set(requests.map((r) => r.intent))).toEqual(new Set(['order', 'plan']));
    for (const s of ['active', 'completed', 'stopped']) expect(requests.some((r) => r.status === s)).toBe(true);

    const encounters = ofType(hardResources, 'Encounter');
    expect(encounters.some((e) => e.hospitalization?.dischargeDisposition)).toBe(true);
    expect(new Set(encounters.map((e) => e.class.code))).toEqual(new Set(['AMB', 'EMER', 'IMP', ...encounters.map((e) => e.class.code)]));
    const appointments = ofType(hardResources, 'Appointment');
    for (const s of ['booked', 'fulfilled']) expect(appointments.some((a) => a.status === s)).toBe(true);
    const device = ofType(hardResources, 'Device')[0]!;
    expect(device.udiCarrier?.[0]?.carrierHRF).toMatch(/^\(01\)\d{14}\(11\)\d{6}\(17\)\d{6}\(10\)\w+\(21\)\d+$/);

    const patient = ofType(hardResources, 'Patient')[0]!;
    const extensions = patient.extension?.map((e) => e.url);
    expect(extensions).toEqual([
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex',
    ]);
    expect(patient.identifier?.[0]?.system).toBe('http://hospital.example.org/mrn');
  });

  test('US Core 6.1 coverage: every profile the conformance suite searches has data for the hard-case patients', () => {
    const obsOf = (id: string, code: string) => ofType(record(id), 'Observation').filter((o) => codes([o.code]).includes(code));
    const targeted = (rs: readonly Resource[]) => new Set(ofType(rs, 'Provenance').flatMap((p) => p.target.map((t) => t.reference)));
    const cat = (o: { category?: { coding?: Coding[] }[] }) => codes(o.category);

    // Social history: occupation with industry, pregnancy status and intent, sexual orientation.
    const [occupation] = obsOf(HARD_CASE_IDS.parent, '11341-5');
    expect(cat(occupation!)).toContain('social-history');
    expect(occupation!.effectivePeriod?.start).toBeTruthy();
    expect(occupation!.valueCodeableConcept?.coding?.[0]?.system).toBe('http://terminology.hl7.org/CodeSystem/PHOccupationalDataForHealthODH');
    expect(codes([occupation!.component![0]!.code])).toEqual(['86188-0']);
    expect(codes([obsOf(HARD_CASE_IDS.parent, '82810-3')[0]!.valueCodeableConcept!])).toEqual(['60001007']);
    expect(obsOf(HARD_CASE_IDS.parent, '86645-9')[0]!.valueCodeableConcept?.coding?.[0]?.system).toBe('http://snomed.info/sct');
    for (const id of [HARD_CASE_IDS.parent, HARD_CASE_IDS.adultChild, HARD_CASE_IDS.elderlyParent, HARD_CASE_IDS.sameNameA, HARD_CASE_IDS.sameNameB]) {
      expect([id, obsOf(id, '11341-5').length, obsOf(id, '76690-7').length]).toEqual([id, 1, 1]);
    }
    // Minors get none of it; nor does anyone get pregnancy observations but women of child-bearing age.
    for (const id of [HARD_CASE_IDS.child, HARD_CASE_IDS.adolescent]) expect(['11341-5', '76690-7', '82810-3', '86645-9'].flatMap((c) => obsOf(id, c))).toEqual([]);
    expect(obsOf(HARD_CASE_IDS.elderlyParent, '82810-3')).toEqual([]);

    // Missing data: the data-absent-reason extension, and the code "unknown".
    const [unknownJob] = obsOf(HARD_CASE_IDS.elderlyParent, '11341-5');
    expect(unknownJob!.valueCodeableConcept?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' });
    expect(unknownJob!.effectivePeriod?.extension?.[0]?.url).toBe('http://hl7.org/fhir/StructureDefinition/data-absent-reason');

    // Vital signs: head circumference percentile next to each head circumference; a BP with absent
    // components; pulse oximetry on oxygen (flow rate and concentration).
    expect(obsOf(HARD_CASE_IDS.child, '8289-1').length).toBe(obsOf(HARD_CASE_IDS.child, '9843-4').length);
    expect(obsOf(HARD_CASE_IDS.child, '8289-1')[0]).toMatchObject({ valueQuantity: { system: 'http://unitsofmeasure.org', code: '%' } });
    const failedBp = obsOf(HARD_CASE_IDS.sameNameA, '85354-9').find((o) => o.component?.every((c) => c.dataAbsentReason && !c.valueQuantity));
    expect(failedBp?.component?.map((c) => codes([c.code])[0])).toEqual(['8480-6', '8462-4']);
    const onOxygen = obsOf(HARD_CASE_IDS.elderlyParent, '59408-5').find((o) => o.component?.length);
    expect(onOxygen?.component?.map((c) => [codes([c.code])[0], c.valueQuantity?.code])).toEqual([['3151-8', 'L/min'], ['3150-0', '%']]);

    // A declined vaccine (Immunization.statusReason), whatever the date.
    expect(ofType(record(HARD_CASE_IDS.sameNameA), 'Immunization').some((i) => i.status === 'not-done' && i.statusReason)).toBe(true);

    // A resolved problem with its abatement.
    const resolved = ofType(record(HARD_CASE_IDS.parent), 'Condition').find((c) => c.abatementDateTime && codes(c.category).includes('problem-list-item'));
    expect(codes(resolved!.category)).toEqual(['problem-list-item']);
    expect(codes([resolved!.clinicalStatus!])).toEqual(['resolved']);

    // Reports: Cardiology and Pathology; the pathology report's results are released lab results of
    // the same record; every report's presentedForm is also a DocumentReference attachment.
    const reports = ofType(hardResources, 'DiagnosticReport');
    for (const c of ['LP29684-5', 'LP29708-2', 'LP7839-6']) expect([c, reports.some((r) => codes(r.category).includes(c))]).toEqual([c, true]);
    const pathology = ofType(record(HARD_CASE_IDS.parent), 'DiagnosticReport').find((r) => codes(r.category).includes('LP7839-6'))!;
    const results = pathology.result!.map((ref) => record(HARD_CASE_IDS.parent).find((r) => key(r) === ref.reference) as Observation);
    expect(results.map((o) => [o.status, codes(o.category)])).toEqual(results.map(() => ['final', ['laboratory']]));
    for (const p of hardOnly.patients) {
      const urls = new Set(ofType(p.resources, 'DocumentReference').flatMap((d) => d.content.map((c) => c.attachment.url)));
      for (const r of ofType(p.resources, 'DiagnosticReport')) for (const f of r.presentedForm ?? []) expect([r.id, urls.has(f.url)]).toEqual([r.id, true]);
    }
    const docTypes = new Set(ofType(hardResources, 'DocumentReference').flatMap((d) => codes([d.type!])));
    for (const t of ['11488-4', '11506-3', '18842-5', '34117-2', '28570-0', '18748-4', '11502-2', '11526-1']) expect([t, docTypes.has(t)]).toEqual([t, true]);

    // PractitionerRole: referenced from patient data, with its Direct endpoint.
    const roles = ofType(hardOnly.shared, 'PractitionerRole');
    const endpoints = new Set(ofType(hardOnly.shared, 'Endpoint').map(key));
    expect(roles.every((r) => r.endpoint?.length === 1 && endpoints.has(r.endpoint[0]!.reference!) && r.telecom?.length === 1)).toBe(true);
    expect(referencesIn(record(HARD_CASE_IDS.parent)).some((r) => r.startsWith('PractitionerRole/'))).toBe(true);

    // Everything added has its Provenance.
    for (const p of hardOnly.patients) {
      const provenanceTargets = targeted(p.resources);
      const untargeted = p.resources.filter((r) => r.resourceType !== 'Provenance' && r.resourceType !== 'Patient' && !provenanceTargets.has(key(r)));
      expect([p.patientId, untargeted.map(key)]).toEqual([p.patientId, []]);
    }
  });

  test('hard cases: the parent, the child under 12 and the 15-year-old with labelled data', () => {
    const birth = (id: string) => (record(id)[0] as Patient).birthDate!;
    expect(fullYearsAt(birth(HARD_CASE_IDS.parent), now)).toBeGreaterThanOrEqual(18);
    expect(fullYearsAt(birth(HARD_CASE_IDS.child), now)).toBeLessThan(12);
    expect(fullYearsAt(birth(HARD_CASE_IDS.adolescent), now)).toBe(15);
    expect(record(HARD_CASE_IDS.parent).length).toBeGreaterThan(1);

    const parent = data.people.find((p) => p.key === 'parent')!;
    expect(parent.patientId).toBe(HARD_CASE_IDS.parent);
    expect(parent.relatedPersons.map((r) => [r.actsForPatientId, r.basis])).toEqual([[HARD_CASE_IDS.child, 'parent'], [HARD_CASE_IDS.adolescent, 'parent']]);
    for (const rel of parent.relatedPersons) {
      const rp = ofType(record(rel.actsForPatientId), 'RelatedPerson').find((r) => r.id === rel.relatedPersonId)!;
      expect(rp.patient.reference).toBe(`Patient/${rel.actsForPatientId}`);
      expect(rp.name?.[0]).toMatchObject({ family: 'Lopez', given: ['Maria'] });
      expect(codes(rp.relationship)).toContain('MTH');
    }

    const teen = record(HARD_CASE_IDS.adolescent);
    const labelled = teen.filter((r) => r.meta?.security?.length);
    const labels = new Set(labelled.flatMap((r) => r.meta!.security!.map((s) => s.code)));
    for (const l of ['PSY', 'HIV', 'SEX', 'R']) expect(labels).toContain(l);
    expect(labelled.some((r) => r.resourceType === 'Condition' && r.meta!.security!.some((s) => s.code === 'PSY'))).toBe(true);
    expect(labelled.some((r) => r.resourceType === 'Observation' && codes([r.code]).includes('56888-1') && r.meta!.security!.some((s) => s.code === 'HIV'))).toBe(true);
    // Provenance and payer statements about sensitive resources are labelled too, ordinary ones are not.
    expect(teen.some((r) => r.resourceType === 'Provenance' && !r.meta?.security)).toBe(true);
    for (const p of ofType(teen, 'Provenance')) {
      const targets = p.target.map((t) => teen.find((r) => key(r) === t.reference)!);
      const targetLabels = new Set(targets.flatMap((t) => (t.meta?.security ?? []).map((s) => s.code)));
      expect(new Set((p.meta?.security ?? []).map((s) => s.code))).toEqual(targetLabels);
    }
    // The visit note of an ordinary visit never mentions a labelled result.
    for (const d of ofType(teen, 'DocumentReference').filter((x) => !x.meta?.security)) {
      expect(Buffer.from(d.content[0]!.attachment.data!, 'base64').toString('utf8')).not.toMatch(/HIV|Chlamydia|PHQ-9 score ([5-9]|\d\d)/);
    }
  });

  test('nothing unlabelled points at a labelled resource (hiding one never leaves a dangling pointer)', () => {
    const problems: string[] = [];
    for (const p of data.patients) {
      const byKey = new Map(p.resources.map((r) => [key(r), r]));
      for (const r of p.resources) {
        const mine = new Set((r.meta?.security ?? []).map((s) => s.code));
        for (const ref of referencesIn(r)) {
          for (const s of byKey.get(ref)?.meta?.security ?? []) if (!mine.has(s.code)) problems.push(`${key(r)} -> ${ref} (${s.code})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test('hard cases: adult child with power of attorney for a parent over 80', () => {
    const person = data.people.find((p) => p.key === 'adult-child')!;
    expect(fullYearsAt((record(person.patientId!)[0] as Patient).birthDate!, now)).toBeGreaterThanOrEqual(18);
    expect(person.relatedPersons).toEqual([{ relatedPersonId: 'rp-son-elder', actsForPatientId: HARD_CASE_IDS.elderlyParent, basis: 'poa' }]);
    const elder = record(HARD_CASE_IDS.elderlyParent);
    expect(fullYearsAt((elder[0] as Patient).birthDate!, now)).toBeGreaterThanOrEqual(80);
    const rp = ofType(elder, 'RelatedPerson').find((r) => r.id === 'rp-son-elder')!;
    expect(rp.patient.reference).toBe(`Patient/${HARD_CASE_IDS.elderlyParent}`);
    expect(codes(rp.relationship)).toEqual(['SON', 'HPOWATT']);
  });

  test('hard cases: same name and birth date, different people; a patient with no data; a clinician', () => {
    const a = record(HARD_CASE_IDS.sameNameA);
    const b = record(HARD_CASE_IDS.sameNameB);
    const pa = a[0] as Patient;
    const pb = b[0] as Patient;
    expect([pa.name, pa.birthDate]).toEqual([pb.name, pb.birthDate]);
    expect(pa.id).not.toBe(pb.id);
    expect(pa.identifier?.[0]?.value).not.toBe(pb.identifier?.[0]?.value);
    expect(a.length).toBeGreaterThan(20);
    expect(b.length).toBeGreaterThan(20);

    expect(record(HARD_CASE_IDS.empty)).toHaveLength(1);
    expect(resources.filter((r) => referencesIn(r).includes(`Patient/${HARD_CASE_IDS.empty}`))).toEqual([]);

    const clinician = data.people.find((p) => p.key === 'clinician')!;
    expect(data.shared.some((r) => r.resourceType === 'Practitioner' && r.id === clinician.practitionerId)).toBe(true);
    for (const p of data.people) expect(p.username).toMatch(/^[a-z][a-z0-9.]*$/);
  });

  test('dates are relative to now: nothing happens after it except booked appointments', () => {
    const later = (s: string | undefined) => s !== undefined && Date.parse(s) > now.getTime();
    for (const r of resources) {
      if (r.resourceType === 'Appointment' && r.status === 'booked') continue;
      const fields = r as unknown as Record<string, unknown>;
      for (const f of ['effectiveDateTime', 'issued', 'authoredOn', 'recordedDate', 'occurrenceDateTime', 'recorded', 'date', 'created', 'whenHandedOver', 'birthDate']) {
        expect([key(r), f, later(fields[f] as string | undefined)]).toEqual([key(r), f, false]);
      }
    }
    const shifted = generateDataset({ patients: 0, now: new Date(now.getTime() + 365 * DAY) });
    const teen = shifted.patients.find((p) => p.patientId === HARD_CASE_IDS.adolescent)!.resources[0] as Patient;
    expect(fullYearsAt(teen.birthDate!, new Date(now.getTime() + 365 * DAY))).toBe(15);
  });

  test('sizes: 60–150 resources per generated patient by default, ~500 on request', () => {
    const perPatient = (d: { resources: Resource[] }[]) => d.reduce((n, p) => n + p.resources.length, 0) / d.length;
    const demo = generateDataset({ patients: 40, now }).patients.slice(8);
    expect(perPatient(demo)).toBeGreaterThan(60);
    expect(perPatient(demo)).toBeLessThan(170);
    const big = [...generatePatients({ patients: 20, now, resourcesPerPatient: 500 })].slice(8);
    expect(perPatient(big)).toBeGreaterThan(380);
    expect(perPatient(big)).toBeLessThan(650);
  });
});
