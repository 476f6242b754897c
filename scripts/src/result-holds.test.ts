/**
 * REL-4, REL-5 and REL-6 through HTTP, the whole server: the patient (or their child's parent)
 * sets a delay on a category of results in the portal; results that arrive afterwards in that
 * category are withheld from every app until the delay ends, the clinician releases them or the
 * patient cancels; results already shown stay shown. Staff withhold a misfiled record while it is
 * fixed. An enabled state-law rule holds the codes it names for patients of its state until the
 * result is discussed. Every change is in the hash-chained access log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { Resource } from '@medplum/fhirtypes';
import { createDelegation, createLegalHoldRule, enableLegalHoldRule, verifyAccessLog } from '@patient-access/consent';
import { writeResources } from '@patient-access/fhir-api';
import { createHttpHarness, createTestAccount, type HttpHarness, type Launched, type TestUser } from './testing/http-harness.js';

const PIA = { username: 'pia', password: 'violet hills', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const MOM = { username: 'mom', password: 'paper boats', secret: 'ONSWG4TFORZWK4TUMVZXI2LOM5SGC3TB' };
const ANA = { username: 'ana', password: 'river stones', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const DOC = { username: 'dr.grey', password: 'seattle grace', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };

const PATHOLOGY = { system: 'http://loinc.org', code: 'LP7839-6' };
const LAB = { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' };
const HIV = { system: 'http://loinc.org', code: '75622-1' };
const report = (id: string, patient: string, category: { system: string; code: string }, extra: Record<string, unknown> = {}) =>
  ({
    resourceType: 'DiagnosticReport',
    id,
    status: 'final',
    category: [{ coding: [category] }],
    code: { coding: [{ system: 'http://loinc.org', code: '60567-5' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-11-01',
    ...extra,
  }) as Resource;
const RESOURCES = [
  { resourceType: 'Patient', id: 'pia', name: [{ family: 'Park' }], birthDate: '1980-02-02', address: [{ use: 'home', state: 'CA', country: 'US' }] },
  { resourceType: 'Patient', id: 'kid', name: [{ family: 'Park' }], birthDate: '2019-03-03' },
  { resourceType: 'Patient', id: 'teen', name: [{ family: 'Park' }], birthDate: `${new Date().getUTCFullYear() - 15}-01-01` },
  { resourceType: 'Patient', id: 'gran', name: [{ family: 'Park' }], birthDate: '1940-04-04' },
  { resourceType: 'Patient', id: 'ana', name: [{ family: 'Ruiz' }], birthDate: '1950-01-01', address: [{ state: 'NY' }] },
  report('shown-path', 'pia', PATHOLOGY),
  { resourceType: 'Observation', id: 'pia-obs', status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }], code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, subject: { reference: 'Patient/pia' } },
] as Resource[];

let h: HttpHarness;
const ids: Record<string, string> = {};
let policyDir: string;

beforeAll(async () => {
  // This organization shows preliminary results (its POLICY_FILE), so results "arrive" when preliminary.
  policyDir = await mkdtemp(join(tmpdir(), 'pa-policy-'));
  await writeFile(join(policyDir, 'policy.json'), JSON.stringify({ releasePolicy: { releasePreliminary: true } }));
  h = await createHttpHarness({
    env: { POLICY_FILE: join(policyDir, 'policy.json') },
    resources: RESOURCES,
    async setup(db) {
      const account = (u: TestUser, fhirUser: string, patientId?: string) => createTestAccount(db, u, fhirUser, patientId);
      ids['pia'] = await account(PIA, 'Patient/pia', 'pia');
      ids['mom'] = await account(MOM, 'RelatedPerson/rp-mom');
      ids['ana'] = await account(ANA, 'Patient/ana', 'ana');
      await account(DOC, 'Practitioner/prac-7');
      ids['momDelegation'] = await createDelegation(db, { patientId: 'kid', proxyAccountId: ids['mom'], basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
      await createDelegation(db, { patientId: 'teen', proxyAccountId: ids['mom'], basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
      await createDelegation(db, { patientId: 'gran', proxyAccountId: ids['mom'], basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2020-01-01') });
    },
  });
});

afterAll(async () => {
  await h?.close();
  if (policyDir) await rm(policyDir, { recursive: true, force: true });
});

/** A result reaching the record now, as the import does. */
const arrive = (...resources: Resource[]) => h.db.transaction((trx) => writeResources(trx, resources, { fhirBaseUrl: h.fhirBase, now: h.now(), releasePolicy: h.config.policy.releasePolicy }));
const status = async (l: Launched, path: string) => (await h.fhir(l.token, path)).status;
const reportIds = async (l: Launched, patient: string) =>
  ((await h.fhir(l.token, `DiagnosticReport?patient=${patient}`)).body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id).sort();
const holdRows = async (patientId: string) =>
  (await h.db('access_log').where({ patient_id: patientId }).whereLike('action', 'hold.%').orderBy('seq')) as { action: string; actor_kind: string; actor_id: string; exception: string; delegation_id: string | null; detail: Record<string, unknown> }[];
const delay = (extra: Record<string, unknown> = {}) => ({
  scope: { kind: 'category', category: PATHOLOGY },
  condition: { kind: 'after_duration', hours: 72 },
  maxHours: 168,
  ...extra,
});

describe("the patient's own delay (REL-5)", () => {
  let pia: Launched;
  let piaPortal: TestAgent;
  let delayId: string;

  beforeAll(async () => {
    pia = await h.launch(PIA);
    piaPortal = await h.portalLogin(PIA);
  });

  test('refuses what REL-5 does not allow: no maximum, a wildcard scope, an over-long delay, unknown fields', async () => {
    for (const [body, code] of [
      [delay({ maxHours: undefined }), 'delay-maximum-required'],
      [delay({ maxHours: 24 * 91 }), 'delay-maximum-required'],
      [delay({ scope: { kind: 'category', category: { code: '*' } } }), 'delay-scope-invalid'],
      [delay({ condition: { kind: 'after_duration', hours: 500 } }), 'delay-condition-invalid'],
    ] as const) {
      const res = await piaPortal.post('/v1/portal/result-delays').send(body);
      expect([res.status, res.body.error.code, res.body.error.rule]).toEqual([400, code, 'REL-5']);
    }
    expect((await piaPortal.post('/v1/portal/result-delays').send(delay({ requestedBy: { kind: 'staff', staffId: 'x' } }))).body.error.code).toBe('UNKNOWN_FIELD');
    expect((await request(h.app).post('/v1/portal/result-delays').send(delay())).status).toBe(401);
    expect((await piaPortal.get('/v1/portal/result-delays')).body.delays).toEqual([]);
  });

  test('a pathology delay holds pathology results that arrive afterwards, from every app; others and earlier ones stay visible', async () => {
    const created = await piaPortal.post('/v1/portal/result-delays').send(delay());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ patientId: 'pia', requestedBy: 'patient', status: 'active', maxHours: 168 });
    delayId = created.body.id;

    h.advance(60_000);
    await arrive(report('new-path', 'pia', PATHOLOGY), report('new-lab', 'pia', LAB), report('shown-path', 'pia', PATHOLOGY, { status: 'amended' }));
    expect(await status(pia, 'DiagnosticReport/new-path')).toBe(404);
    expect(await reportIds(pia, 'pia')).toEqual(['new-lab', 'shown-path']);
    // The patient portal is a client like any other (REL-8).
    const listed = await piaPortal.get('/v1/portal/result-delays');
    expect(listed.body.delays).toEqual([expect.objectContaining({ id: delayId, resultsHeldNow: 1 })]);
    // Re-delivery does not restart the clock.
    h.advance(71 * 3_600_000);
    await arrive(report('new-path', 'pia', PATHOLOGY, { conclusion: 'reissued' }));
    expect(await status(pia, 'DiagnosticReport/new-path')).toBe(404);
    h.advance(3_600_000);
    expect(await status(pia, 'DiagnosticReport/new-path')).toBe(200);
    piaPortal = await h.portalLogin(PIA); // the portal session timed out meanwhile
  });

  test('cancelling releases at once; another person cannot see or cancel it', async () => {
    await arrive(report('path-2', 'pia', PATHOLOGY));
    expect(await status(pia, 'DiagnosticReport/path-2')).toBe(404);

    const ana = await h.portalLogin(ANA);
    expect((await ana.get('/v1/portal/result-delays?patient=pia')).status).toBe(404);
    expect((await ana.delete(`/v1/portal/result-delays/${delayId}?patient=pia`)).status).toBe(404);
    expect((await ana.delete(`/v1/portal/result-delays/${delayId}`)).status).toBe(404);
    expect(await status(pia, 'DiagnosticReport/path-2')).toBe(404);

    const cancelled = await piaPortal.delete(`/v1/portal/result-delays/${delayId}`);
    expect([cancelled.status, cancelled.body.status]).toEqual([200, 'cancelled']);
    expect(await status(pia, 'DiagnosticReport/path-2')).toBe(200);
    expect((await piaPortal.delete(`/v1/portal/result-delays/${delayId}`)).status).toBe(409);
    h.advance(60_000);
    await arrive(report('path-3', 'pia', PATHOLOGY));
    expect(await status(pia, 'DiagnosticReport/path-3')).toBe(200);
  });

  test('"until my clinician releases it": held until a clinician does, never past the maximum', async () => {
    const created = await piaPortal.post('/v1/portal/result-delays').send(delay({ condition: { kind: 'until_clinician_release' } }));
    expect(created.status).toBe(201);
    h.advance(60_000);
    await arrive(report('path-4', 'pia', PATHOLOGY));
    expect(await status(pia, 'DiagnosticReport/path-4')).toBe(404);

    const release = { patientId: 'pia', resourceType: 'DiagnosticReport', resourceId: 'path-4', event: 'clinician-released' };
    expect((await piaPortal.post('/v1/staff/result-releases').send(release)).status).toBe(403);
    const doc = await h.portalLogin(DOC);
    expect((await doc.post('/v1/staff/result-releases').send({ ...release, event: 'whenever' })).status).toBe(400);
    expect((await doc.post('/v1/staff/result-releases').send(release)).body).toEqual({ released: 1 });
    expect(await status(pia, 'DiagnosticReport/path-4')).toBe(200);
    expect((await piaPortal.delete(`/v1/portal/result-delays/${created.body.id}`)).status).toBe(200);
  });

  test('with preliminary results shown (POLICY_FILE), a preliminary result is one that arrives: held, and never shown before the delay ends', async () => {
    const created = await piaPortal.post('/v1/portal/result-delays').send(delay({ condition: { kind: 'after_duration', hours: 24 } }));
    h.advance(60_000);
    await arrive(report('path-5', 'pia', PATHOLOGY, { status: 'preliminary' }), report('lab-prelim', 'pia', LAB, { status: 'preliminary' }), report('lab-registered', 'pia', LAB, { status: 'registered' }));
    const visible = await reportIds(pia, 'pia');
    expect(visible).toContain('lab-prelim'); // the organization's choice reaches the API (REL-7)
    expect(visible).not.toContain('lab-registered');
    expect(visible).not.toContain('path-5');
    h.advance(3_600_000);
    await arrive(report('path-5', 'pia', PATHOLOGY, { status: 'final' })); // final is not a second arrival: same hold
    expect(await status(pia, 'DiagnosticReport/path-5')).toBe(404);
    h.advance(23 * 3_600_000);
    expect(await status(pia, 'DiagnosticReport/path-5')).toBe(200);
    piaPortal = await h.portalLogin(PIA);
    expect((await piaPortal.delete(`/v1/portal/result-delays/${created.body.id}`)).status).toBe(200);
  });

  test("a parent sets a delay on their young child's record; it is logged as the proxy's", async () => {
    const mom = await h.portalLogin(MOM);
    expect((await mom.post('/v1/portal/result-delays').send(delay())).status).toBe(404); // no record of her own
    const created = await mom.post('/v1/portal/result-delays').send(delay({ patientId: 'kid' }));
    expect([created.status, created.body.requestedBy]).toEqual([201, 'proxy']);
    expect((await mom.get('/v1/portal/result-delays?patient=kid')).body.delays).toHaveLength(1);
    expect((await mom.get('/v1/portal/result-delays?patient=pia')).status).toBe(404);
    const rows = await holdRows('kid');
    expect(rows.map((r) => [r.action, r.actor_kind, r.actor_id, r.delegation_id, r.exception])).toEqual([['hold.place', 'proxy', ids['mom'], ids['momDelegation'], 'patient_requested_delay']]);
  });

  test("neither a teen's parent (limited by age) nor a patient-granted caregiver may delay the patient's results (REL-5, PRX-3)", async () => {
    const mom = await h.portalLogin(MOM);
    for (const patientId of ['teen', 'gran']) {
      const res = await mom.post('/v1/portal/result-delays').send(delay({ patientId }));
      expect([patientId, res.status, res.body.error?.code]).toEqual([patientId, 403, 'NOT_PERSONAL_REPRESENTATIVE']);
      // Reading which delays exist stays open to them: it withholds nothing.
      expect((await mom.get(`/v1/portal/result-delays?patient=${patientId}`)).status).toBe(200);
    }
    expect(await holdRows('teen')).toEqual([]);
  });

  test("the record's access log holds every change, and verifies", async () => {
    const rows = await holdRows('pia');
    expect(rows.map((r) => [r.action, r.actor_kind, r.exception])).toEqual([
      ['hold.place', 'patient', 'patient_requested_delay'],
      ['hold.lift', 'patient', 'patient_requested_delay'],
      ['hold.place', 'patient', 'patient_requested_delay'],
      ['hold.lift', 'staff', 'patient_requested_delay'],
      ['hold.lift', 'patient', 'patient_requested_delay'],
      ['hold.place', 'patient', 'patient_requested_delay'],
      ['hold.lift', 'patient', 'patient_requested_delay'],
    ]);
    expect(rows[1]!.detail).toMatchObject({ preferenceId: delayId, released: 1 });
    expect(await verifyAccessLog(h.db)).toEqual([]);
  });
});

describe('data-quality holds (REL-4)', () => {
  test('staff withhold a misfiled record while it is fixed, then release it', async () => {
    const pia = await h.launch(PIA);
    const doc = await h.portalLogin(DOC);
    const hold = { patientId: 'pia', resources: [{ resourceType: 'Observation', resourceId: 'pia-obs' }], problem: 'mismatched_patient', reason: 'filed to the wrong chart (ticket 88)' };
    expect((await (await h.portalLogin(PIA)).post('/v1/staff/data-quality-holds').send(hold)).status).toBe(403);
    for (const [change, code] of [
      [{ resources: [], category: 'laboratory' }, 'hold-scope-required'],
      [{ resources: [] }, 'hold-scope-required'],
      [{ reason: ' ' }, 'reason-required'],
      [{ expiresAt: new Date(h.now().getTime() + 31 * 86_400_000).toISOString() }, 'invalid-window'],
    ] as const) {
      const res = await doc.post('/v1/staff/data-quality-holds').send({ ...hold, ...change });
      expect([res.status, res.body.error.code, res.body.error.rule]).toEqual([400, code, 'REL-4']);
    }
    const placed = await doc.post('/v1/staff/data-quality-holds').send(hold);
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ placedBy: 'Practitioner/prac-7', status: 'active', problem: 'mismatched_patient' });
    expect(await status(pia, 'Observation/pia-obs')).toBe(404);
    expect((await h.fhir(pia.token, 'Observation?patient=pia&_summary=count')).body.total).toBe(0);
    expect((await doc.get('/v1/staff/data-quality-holds?patient=pia')).body.holds).toHaveLength(1);

    const lift = await doc.post(`/v1/staff/data-quality-holds/${placed.body.id}/lift`).send({ patientId: 'pia', reason: 'not-an-error' });
    expect([lift.status, lift.body.status, lift.body.liftReason]).toEqual([200, 'lifted', 'not-an-error']);
    expect(await status(pia, 'Observation/pia-obs')).toBe(200);
    expect((await doc.post(`/v1/staff/data-quality-holds/${placed.body.id}/lift`).send({ patientId: 'pia', reason: 'fixed' })).status).toBe(409);
    expect((await doc.get(`/v1/staff/data-quality-holds/${placed.body.id}?patient=ana`)).status).toBe(404);
    const rows = (await holdRows('pia')).filter((r) => r.detail['kind'] === 'data-quality');
    expect(rows.map((r) => [r.action, r.actor_id, r.exception])).toEqual([
      ['hold.place', 'Practitioner/prac-7', 'preventing_harm'],
      ['hold.lift', 'Practitioner/prac-7', 'preventing_harm'],
    ]);
  });
});

describe('a state-law rule (REL-6)', () => {
  test("holds the codes it names for its state's patients until the result is discussed; the rule's changes are logged", async () => {
    const at = h.now();
    const rule = await createLegalHoldRule(
      h.db,
      { jurisdiction: 'US-CA', description: 'HIV test results', codes: [HIV], condition: 'until_discussed', maxDurationHours: 168, citation: 'Cal. Health & Safety Code § 123148', effectiveFrom: at, expiresAt: new Date(at.getTime() + 365 * 86_400_000) },
      { createdBy: 'compliance-officer', at },
    );
    h.advance(60_000);
    await arrive(report('hiv-before', 'pia', LAB, { code: { coding: [HIV] } })); // the rule is still disabled
    await enableLegalHoldRule(h.db, { ruleId: rule.id, enabledBy: 'compliance-officer', at: h.now() });
    h.advance(60_000);
    await arrive(report('hiv-1', 'pia', LAB, { code: { coding: [HIV] } }), report('hiv-ny', 'ana', LAB, { code: { coding: [HIV] } }), report('cbc', 'pia', LAB));

    const pia = await h.launch(PIA);
    expect(await reportIds(pia, 'pia')).not.toContain('hiv-1');
    expect(await reportIds(pia, 'pia')).toEqual(expect.arrayContaining(['hiv-before', 'cbc']));
    const ana = await h.launch(ANA);
    expect(await status(ana, 'DiagnosticReport/hiv-ny')).toBe(200); // not a patient of the rule's state

    const doc = await h.portalLogin(DOC);
    const clinicianReleased = await doc.post('/v1/staff/result-releases').send({ patientId: 'pia', resourceType: 'DiagnosticReport', resourceId: 'hiv-1', event: 'clinician-released' });
    expect(clinicianReleased.body).toEqual({ released: 0 }); // review alone is not the discussion the law requires
    expect(await status(pia, 'DiagnosticReport/hiv-1')).toBe(404);
    expect((await doc.post('/v1/staff/result-releases').send({ patientId: 'pia', resourceType: 'DiagnosticReport', resourceId: 'hiv-1', event: 'discussed' })).body).toEqual({ released: 1 });
    expect(await status(pia, 'DiagnosticReport/hiv-1')).toBe(200);

    const ruleRows = (await h.db('access_log').where({ patient_id: '' }).whereLike('action', 'rule.%').orderBy('seq')) as { action: string; actor_id: string; exception: string; detail: Record<string, unknown> }[];
    expect(ruleRows.map((r) => [r.action, r.actor_id, r.exception, r.detail['ruleId']])).toEqual([
      ['rule.create', 'compliance-officer', 'required_by_law', rule.id],
      ['rule.enable', 'compliance-officer', 'required_by_law', rule.id],
    ]);
    expect(await verifyAccessLog(h.db)).toEqual([]);
  });
});
