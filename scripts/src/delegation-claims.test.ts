/**
 * PRX-2 and PRX-4 through HTTP, the whole server: a claim of legal authority made in the portal
 * opens nothing until a clinician verifies it with typed evidence; a claim is refused only with a
 * reason code; both are in the patient's hash-chained access log; and a patient who has come of
 * age can grant their parent access again (the delegation that lapsed at majority is no duplicate).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { createDelegation, verifyAccessLog } from '@patient-access/consent';
import { createHttpHarness, createTestAccount, type HttpHarness, type TestUser } from './testing/http-harness.js';

const ANA = { username: 'ana', password: 'river stones', secret: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
const GARY = { username: 'gary', password: 'fishing lines', secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const MUM = { username: 'mum', password: 'garden party', secret: 'ONSWG4TFORZWK4TUMVZXI2LOM5SGC3TB' };
const SAM = { username: 'sam', password: 'first job', secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' };
const DOC = { username: 'dr.house', password: 'vicodin please', secret: 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF' };

const adultAt20 = `${new Date().getUTCFullYear() - 20}-03-01`;
const RESOURCES = [
  { resourceType: 'Patient', id: 'ana', birthDate: '1950-01-01' },
  { resourceType: 'Patient', id: 'sam', birthDate: adultAt20 },
] as Resource[];

let h: HttpHarness;
const ids: Record<string, string> = {};

beforeAll(async () => {
  h = await createHttpHarness({
    resources: RESOURCES,
    async setup(db) {
      const account = (u: TestUser, fhirUser: string, patientId?: string) => createTestAccount(db, u, fhirUser, patientId);
      ids['ana'] = await account(ANA, 'Patient/ana', 'ana');
      ids['gary'] = await account(GARY, 'RelatedPerson/rp-gary');
      ids['mum'] = await account(MUM, 'RelatedPerson/rp-mum');
      ids['sam'] = await account(SAM, 'Patient/sam', 'sam');
      await account(DOC, 'Practitioner/prac-9');
      // Mum was Sam's parent proxy while he was a child; he turned 18 two years ago.
      await createDelegation(db, { patientId: 'sam', proxyAccountId: ids['mum']!, basis: 'parent', status: 'active', startsAt: new Date('2012-01-01'), verifiedBy: 'staff:test', verificationEvidence: 'birth-certificate' });
    },
  });
});
afterAll(() => h?.close());

const claimsOn = async (patientId: string) => {
  const doc = await h.portalLogin(DOC);
  return (await doc.get(`/v1/staff/delegations?patient=${patientId}`)).body.delegations as { id: string; proxyAccountId: string; status: string; basis: string }[];
};

describe('a claim of authority (PRX-2)', () => {
  let claimId: string;

  test('made in the portal, it waits for verification and opens nothing', async () => {
    const ana = await h.portalLogin(ANA);
    const claim = await ana.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'gary', basis: 'poa' });
    expect([claim.status, claim.body.status]).toEqual([201, 'requested']);
    claimId = claim.body.id as string;
    const gary = await h.portalLogin(GARY);
    expect((await gary.get('/v1/portal/proxy/delegations')).body.heldByMe).toEqual([expect.objectContaining({ id: claimId, status: 'requested' })]);
  });

  test('only staff verify, with typed evidence; then it is in force', async () => {
    const ana = await h.portalLogin(ANA);
    expect((await ana.post(`/v1/staff/delegations/${claimId}/verify`).send({ patientId: 'ana', evidence: { type: 'power-of-attorney' } })).status).toBe(403);
    const doc = await h.portalLogin(DOC);
    const noEvidence = await doc.post(`/v1/staff/delegations/${claimId}/verify`).send({ patientId: 'ana', evidence: { type: 'he seemed honest' } });
    expect([noEvidence.status, noEvidence.body.error.code, noEvidence.body.error.rule]).toEqual([400, 'evidence-required', 'PRX-2']);
    const otherRecord = await doc.post(`/v1/staff/delegations/${claimId}/verify`).send({ patientId: 'sam', evidence: { type: 'power-of-attorney' } });
    expect(otherRecord.status).toBe(404);
    const verified = await doc.post(`/v1/staff/delegations/${claimId}/verify`).send({ patientId: 'ana', evidence: { type: 'power-of-attorney', reference: 'DOC-2026-117' } });
    expect([verified.status, verified.body.status]).toEqual([200, 'active']);
    expect((await doc.post(`/v1/staff/delegations/${claimId}/verify`).send({ patientId: 'ana', evidence: { type: 'power-of-attorney' } })).status).toBe(409);
    const gary = await h.launch(GARY);
    expect(gary.patient).toBe('ana');
    expect((await h.fhir(gary.token, 'Patient/ana')).status).toBe(200);
  });

  test('a refusal needs a reason code', async () => {
    const ana = await h.portalLogin(ANA);
    const claim = await ana.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'mum', basis: 'guardian' });
    expect(claim.body.status).toBe('requested');
    const doc = await h.portalLogin(DOC);
    const noReason = await doc.post(`/v1/staff/delegations/${claim.body.id}/deny`).send({ patientId: 'ana' });
    expect([noReason.status, noReason.body.error.code]).toEqual([400, 'reason-required']);
    const denied = await doc.post(`/v1/staff/delegations/${claim.body.id}/deny`).send({ patientId: 'ana', reason: 'authority-not-shown' });
    expect([denied.status, denied.body.status]).toEqual([200, 'revoked']);
  });

  test("every change of who may act for Ana is in her access log, by whom, and the chain verifies", async () => {
    const rows = (await h.db('access_log').where({ patient_id: 'ana' }).whereLike('action', 'delegation.%').orderBy('seq')) as { action: string; actor_kind: string; actor_id: string }[];
    expect(rows.map((r) => [r.action, r.actor_kind, r.actor_id])).toEqual([
      ['delegation.grant', 'patient', ids['ana']],
      ['delegation.verify', 'staff', 'Practitioner/prac-9'],
      ['delegation.grant', 'patient', ids['ana']],
      ['delegation.deny', 'staff', 'Practitioner/prac-9'],
    ]);
    expect(await verifyAccessLog(h.db)).toEqual([]);
  });
});

describe('an end date', () => {
  test('must say its time zone: a bare date would end at midnight somewhere else', async () => {
    const ana = await h.portalLogin(ANA);
    const year = h.now().getUTCFullYear() + 1;
    for (const endsAt of [`${year}-07-01`, `${year}-07-01T00:00:00`, 'next tuesday', 42, `${year}-02-30T00:00:00Z`, `${year}-07-01T24:30:00Z`]) {
      const res = await ana.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'sam', basis: 'caregiver', endsAt });
      expect([String(endsAt), res.status, res.body.error?.code]).toEqual([String(endsAt), 400, 'INVALID_END']);
    }
    const ok = await ana.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'sam', basis: 'caregiver', endsAt: `${year}-07-01T00:00:00-07:00` });
    expect([ok.status, ok.body.endsAt]).toEqual([201, `${year}-07-01T07:00:00.000Z`]);
  });
});

describe('after majority (PRX-4)', () => {
  test('the parent delegation has lapsed, so the adult may grant their parent access anew', async () => {
    expect((await claimsOn('sam')).map((d) => [d.basis, d.status])).toEqual([['parent', 'active']]);
    const sam = await h.portalLogin(SAM);
    const grant = await sam.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'mum', basis: 'caregiver' });
    expect([grant.status, grant.body.status, grant.body.basis]).toEqual([201, 'active', 'caregiver']);
    // And that one is a duplicate of itself.
    expect((await sam.post('/v1/portal/proxy/delegations').send({ proxyUsername: 'mum', basis: 'caregiver' })).status).toBe(409);
    const mum = await h.launch(MUM, { subject: `delegation:${grant.body.id as string}` });
    expect(mum.patient).toBe('sam');
  });
});
