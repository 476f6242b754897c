/**
 * PRX-5 through HTTP, the whole server: a clinician suspends one parent's delegation for a child
 * with a recorded harm determination; that parent's tokens and refresh tokens stop at once while
 * the other parent is unaffected; the parent asks for review; the clinician who decided may not
 * review; another clinician lifts it and the delegation is back (its app grants are not: the parent
 * authorizes apps again); the hash-chained access log shows the determination and the reviewer.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { Resource } from '@medplum/fhirtypes';
import { createDelegation, verifyAccessLog } from '@patient-access/consent';
import { createHttpHarness, createTestAccount, type HttpHarness, type Launched, type TestUser } from './testing/http-harness.js';

const DAY = 86_400_000;
const DAD = { username: 'dad', password: 'kite flying', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const MUM = { username: 'mum', password: 'garden party', secret: 'ONSWG4TFORZWK4TUMVZXI2LOM5SGC3TB' };
const ANA = { username: 'ana', password: 'river stones', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const COUSIN = { username: 'cousin', password: 'board games', secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' };
const DOC = { username: 'dr.house', password: 'vicodin please', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };
const DOC2 = { username: 'dr.cuddy', password: 'dean of medicine', secret: 'MZXW6YTBOI3TEMRSGQ2DKNJWG44TQOJQ' };

const obs = (id: string, patient: string) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: '2026-10-01',
});
const RESOURCES = [
  { resourceType: 'Patient', id: 'kid', name: [{ given: ['Leo'], family: 'Diaz' }], birthDate: '2018-05-01' },
  { resourceType: 'Patient', id: 'ana', name: [{ given: ['Ana'], family: 'Ruiz' }], birthDate: '1950-01-01' },
  obs('kid-1', 'kid'),
  obs('kid-2', 'kid'),
  obs('ana-1', 'ana'),
] as Resource[];

let h: HttpHarness;
const ids: Record<string, string> = {};

beforeAll(async () => {
  h = await createHttpHarness({
    resources: RESOURCES,
    async setup(db) {
      const account = (u: TestUser, fhirUser: string, patientId?: string) => createTestAccount(db, u, fhirUser, patientId);
      ids['dad'] = await account(DAD, 'RelatedPerson/rp-dad');
      ids['mum'] = await account(MUM, 'RelatedPerson/rp-mum');
      ids['ana'] = await account(ANA, 'Patient/ana', 'ana');
      ids['cousin'] = await account(COUSIN, 'RelatedPerson/rp-cousin');
      await account(DOC, 'Practitioner/prac-9');
      await account(DOC2, 'Practitioner/prac-2');
      const since = new Date('2020-01-01');
      ids['dadDelegation'] = await createDelegation(db, { patientId: 'kid', proxyAccountId: ids['dad'], basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: since });
      ids['mumDelegation'] = await createDelegation(db, { patientId: 'kid', proxyAccountId: ids['mum'], basis: 'parent', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: since });
      ids['cousinDelegation'] = await createDelegation(db, { patientId: 'ana', proxyAccountId: ids['cousin'], basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: since });
    },
  });
});

afterAll(async () => {
  await h?.close();
});

const suspension = (extra: Record<string, unknown> = {}) => ({
  patientId: 'kid',
  delegationId: ids['dadDelegation'],
  licenseAttestation: 'MD, CA A12345',
  relationshipBasis: 'current',
  grounds: 'abuse_neglect_endangerment',
  reason: 'documented concern for the child (encounter E7)',
  reviewAt: new Date(h.now().getTime() + 30 * DAY).toISOString(),
  ...extra,
});
const kidObservations = async (l: Launched) => {
  const res = await h.fhir(l.token, 'Observation?patient=kid');
  return res.status === 200 ? (res.body.entry as { resource: { id: string } }[]).map((e) => e.resource.id).sort() : res.status;
};
const policyRows = async (patientId: string) =>
  (await h.db('access_log').where({ patient_id: patientId }).whereLike('action', 'delegation.%').orderBy('seq')) as {
    action: string;
    actor_kind: string;
    actor_id: string;
    actor_fhir_user: string | null;
    delegation_id: string;
    exception: string;
    detail: Record<string, string>;
  }[];

describe('proxy suspension with a harm determination (PRX-5)', () => {
  let dad: Launched;
  let mum: Launched;
  let doc: TestAgent;
  let doc2: TestAgent;
  let dadPortal: TestAgent;
  let suspensionId: string;

  beforeAll(async () => {
    dad = await h.launch(DAD);
    mum = await h.launch(MUM);
    doc = await h.portalLogin(DOC);
    doc2 = await h.portalLogin(DOC2);
    dadPortal = await h.portalLogin(DAD);
    expect(dad.patient).toBe('kid');
    expect(await kidObservations(dad)).toEqual(['kid-1', 'kid-2']);
  });

  test('only a signed-in clinician may suspend, and only with a complete determination', async () => {
    expect((await request(h.app).post('/v1/staff/delegation-suspensions').send(suspension())).status).toBe(401);
    expect((await dadPortal.post('/v1/staff/delegation-suspensions').send(suspension())).status).toBe(403);
    expect((await doc.post('/v1/staff/delegation-suspensions').send(suspension({ decidedBy: 'Practitioner/prac-2' }))).status).toBe(403);
    for (const [change, code] of [
      [{ licenseAttestation: ' ' }, 'license-attestation-required'],
      [{ grounds: 'disagreement' }, 'harm-type-invalid'],
      [{ reason: '' }, 'reason-required'],
      [{ reviewAt: undefined }, 'end-required'],
      [{ category: 'laboratory' }, 'hold-scope-required'],
    ] as const) {
      const res = await doc.post('/v1/staff/delegation-suspensions').send(suspension(change));
      expect([res.status, res.body.error.code, res.body.error.rule]).toEqual([400, code, 'PRX-5']);
    }
    // A delegation on another record, or none at all: 404, nothing suspended.
    expect((await doc.post('/v1/staff/delegation-suspensions').send(suspension({ patientId: 'ana' }))).status).toBe(404);
    expect((await doc.post('/v1/staff/delegation-suspensions').send(suspension({ delegationId: '00000000-0000-4000-8000-000000000000' }))).status).toBe(404);
    expect(await kidObservations(dad)).toEqual(['kid-1', 'kid-2']);
  });

  test("(d) the suspended parent's tokens stop at once; the other parent is unaffected", async () => {
    const listed = await doc.get('/v1/staff/delegations?patient=kid');
    expect(listed.body.delegations.map((d: { id: string; status: string }) => [d.id, d.status]).sort()).toEqual(
      [
        [ids['dadDelegation'], 'active'],
        [ids['mumDelegation'], 'active'],
      ].sort(),
    );
    const placed = await doc.post('/v1/staff/delegation-suspensions').send(suspension());
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ status: 'active', decidedBy: 'Practitioner/prac-9', delegationId: ids['dadDelegation'], proxyAccountId: ids['dad'] });
    suspensionId = placed.body.id;

    // 403 as for any delegation no longer in force (the same answer as a revoked one: nothing about why).
    expect(await kidObservations(dad)).toBe(403);
    const read = await h.fhir(dad.token, 'Observation/kid-1');
    expect([read.status, read.body.issue[0].details.coding[0].code]).toEqual([403, 'PROXY_SCOPE_EXCEEDED']);
    expect(JSON.stringify(read.body)).not.toMatch(/suspen|harm/i);
    const refresh = await h.refresh(dad);
    expect([refresh.status, refresh.body.error]).toEqual([400, 'invalid_grant']);
    expect(await kidObservations(mum)).toEqual(['kid-1', 'kid-2']);
    expect((await h.refresh(mum)).status).toBe(200);
    // One determination in force per delegation.
    expect((await doc.post('/v1/staff/delegation-suspensions').send(suspension())).status).toBe(409);
    const held = (await dadPortal.get('/v1/portal/proxy/delegations')).body;
    expect(JSON.stringify(held)).toContain('suspended');
  });

  test('the representative learns that access is suspended and how to ask for review, not why', async () => {
    const mine = await dadPortal.get('/v1/portal/delegation-suspensions');
    expect(mine.status).toBe(200);
    expect(mine.body.suspensions).toEqual([expect.objectContaining({ id: suspensionId, patientId: 'kid', status: 'active', reviewRequestedAt: null })]);
    expect(JSON.stringify(mine.body)).not.toMatch(/abuse|concern|E7|prac-9|A12345/);
    const mumView = await (await h.portalLogin(MUM)).get('/v1/portal/delegation-suspensions');
    expect(mumView.body.suspensions).toEqual([]);
    expect((await (await h.portalLogin(MUM)).post(`/v1/portal/delegation-suspensions/${suspensionId}/review-request`)).status).toBe(404);
  });

  test('REL-3 review: not before it is asked for, not by the deciding clinician; lifting reinstates the delegation, not its app grants', async () => {
    const early = await doc2.post(`/v1/staff/delegation-suspensions/${suspensionId}/review`).send({ patientId: 'kid', outcome: 'lifted' });
    expect([early.status, early.body.error.code]).toEqual([409, 'review-not-requested']);
    h.advance(60_000);
    const asked = await dadPortal.post(`/v1/portal/delegation-suspensions/${suspensionId}/review-request`);
    expect(asked.status).toBe(200);
    expect(Date.parse(asked.body.reviewRequestedAt)).not.toBeNaN();
    const self = await doc.post(`/v1/staff/delegation-suspensions/${suspensionId}/review`).send({ patientId: 'kid', outcome: 'lifted' });
    expect([self.status, self.body.error.code]).toEqual([409, 'reviewer-conflict']);
    expect((await dadPortal.post(`/v1/staff/delegation-suspensions/${suspensionId}/review`).send({ patientId: 'kid', outcome: 'lifted' })).status).toBe(403);

    h.advance(60_000);
    const reviewed = await doc2.post(`/v1/staff/delegation-suspensions/${suspensionId}/review`).send({ patientId: 'kid', outcome: 'lifted', note: 'concern not substantiated' });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body).toMatchObject({ status: 'lifted', reviewOutcome: 'lifted', reviewerId: 'Practitioner/prac-2', liftedBy: 'Practitioner/prac-2', reviewRequestedBy: ids['dad'] });
    expect((await doc2.post(`/v1/staff/delegation-suspensions/${suspensionId}/review`).send({ patientId: 'kid', outcome: 'upheld' })).status).toBe(409);
    const trail = await doc.get(`/v1/staff/delegation-suspensions/${suspensionId}?patient=kid`);
    expect(trail.body).toMatchObject({ decidedBy: 'Practitioner/prac-9', licenseAttestation: 'MD, CA A12345', grounds: 'abuse_neglect_endangerment', reviewNote: 'concern not substantiated' });

    // The old app grant stays revoked; a new authorization works again.
    expect(await kidObservations(dad)).toBe(401);
    expect(await kidObservations(await h.launch(DAD))).toEqual(['kid-1', 'kid-2']);
  });

  test('(d) the hash-chained access log shows the determination and the reviewer, and verifies; the patient-facing log leaves them out', async () => {
    const all = await policyRows('kid');
    // Both parents' delegations were logged when granted (AUD-1), before any determination.
    expect(all.slice(0, 2).map((r) => r.action)).toEqual(['delegation.grant', 'delegation.grant']);
    const rows = all.filter((r) => r.action !== 'delegation.grant');
    expect(rows.map((r) => [r.action, r.actor_kind, r.actor_fhir_user ?? r.actor_id])).toEqual([
      ['delegation.suspend', 'staff', 'Practitioner/prac-9'],
      ['delegation.review-request', 'proxy', ids['dad']],
      ['delegation.review', 'staff', 'Practitioner/prac-2'],
      ['delegation.reinstate', 'staff', 'Practitioner/prac-2'],
    ]);
    for (const r of rows) expect([r.delegation_id, r.exception, r.detail['suspensionId']]).toEqual([ids['dadDelegation'], 'preventing_harm', suspensionId]);
    expect(rows[0]!.detail['grounds']).toBe('abuse_neglect_endangerment');
    expect(rows[2]!.detail['outcome']).toBe('lifted');
    expect(JSON.stringify(rows)).not.toContain('concern'); // the documented reasons stay in their table (AUD-1)
    expect(await verifyAccessLog(h.db)).toEqual([]);
    const log = await h.fhir(mum.token, 'Patient/kid/$access-log');
    expect(log.status).toBe(200);
    expect(JSON.stringify(log.body)).not.toContain('delegation.');
  });

  test('PRX-6: the patient can revoke a suspended delegation; lifting the suspension afterwards does not bring it back', async () => {
    const cousin = await h.launch(COUSIN);
    expect(cousin.patient).toBe('ana');
    const placed = await doc.post('/v1/staff/delegation-suspensions').send(suspension({ patientId: 'ana', delegationId: ids['cousinDelegation'], grounds: 'substantial_harm' }));
    expect(placed.status).toBe(201);
    expect((await h.fhir(cousin.token, 'Observation?patient=ana')).status).toBe(403);
    // The adult patient keeps her own access and may see and act on the suspension of her proxy.
    const ana = await h.portalLogin(ANA);
    expect((await ana.get('/v1/portal/delegation-suspensions')).body.suspensions.map((s: { id: string }) => s.id)).toEqual([placed.body.id]);
    expect((await ana.delete(`/v1/portal/proxy/delegations/${ids['cousinDelegation']}`)).status).toBe(204);
    const lifted = await doc.post(`/v1/staff/delegation-suspensions/${placed.body.id}/lift`).send({ patientId: 'ana', reason: 'new information' });
    expect(lifted.status).toBe(200);
    const [delegation] = (await h.db('proxy_delegation').where({ id: ids['cousinDelegation'] })) as { status: string }[];
    expect(delegation!.status).toBe('revoked');
    expect((await policyRows('ana')).at(-1)).toMatchObject({ action: 'delegation.reinstate', detail: { delegation: 'ended', reason: 'lifted' } });
  });

  test('holds placed and lifted by a clinician are in the access log too (REL-2, AUD-1)', async () => {
    const placed = await doc.post('/v1/staff/harm-holds').send({
      patientId: 'kid',
      resources: [{ resourceType: 'Observation', resourceId: 'kid-2' }],
      decidedBy: 'Practitioner/prac-9',
      licenseAttestation: 'MD, CA A12345',
      relationshipBasis: 'current',
      harmType: 'substantial_harm',
      reason: 'documented',
      expiresAt: new Date(h.now().getTime() + 7 * DAY).toISOString(),
    });
    expect(placed.status).toBe(201);
    expect(await kidObservations(mum)).toEqual(['kid-1']);
    expect((await doc.post(`/v1/staff/harm-holds/${placed.body.id}/lift`).send({ patientId: 'kid', reason: 'discussed' })).status).toBe(200);
    const rows = (await h.db('access_log').where({ patient_id: 'kid' }).whereLike('action', 'hold.%').orderBy('seq')) as { action: string; actor_fhir_user: string; detail: Record<string, unknown> }[];
    expect(rows.map((r) => [r.action, r.actor_fhir_user, r.detail['holdId']])).toEqual([
      ['hold.place', 'Practitioner/prac-9', placed.body.id],
      ['hold.lift', 'Practitioner/prac-9', placed.body.id],
    ]);
    expect(await verifyAccessLog(h.db)).toEqual([]);
  });
});
