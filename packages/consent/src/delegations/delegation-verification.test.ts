/**
 * PRX-2: a claim of legal authority opens nothing until staff verify it with evidence, and is
 * never refused without a reason code; every change of who may act for the patient is in the
 * patient's hash-chained access log (AUD-1), and a lapsed delegation is no duplicate of a new one.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createAccount } from '../accounts/account-store.js';
import { verifyAccessLog } from '../audit/access-log.js';
import { consentMigrations } from '../migrations/index.js';
import { DEFAULT_AGE_RULES, proxyAccessLevel } from '../policy/age-rules.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { createDelegation, delegationsInForce, endDelegation, findDelegation, openDelegation } from './delegation-store.js';
import { DelegationError, denyDelegation, verifyDelegation } from './delegation-verification.js';

const P = 'pat-claims';
const AT = new Date('2026-06-15T12:00:00Z');
let tdb: TestDatabase;
let proxy: string;

beforeAll(async () => {
  tdb = await createTestDatabase(consentMigrations);
  proxy = (await createAccount(tdb.db, { username: 'claimant', displayName: 'C', password: 'x-Password-1', fhirUser: 'RelatedPerson/rp-c' })).id;
});
afterAll(() => tdb?.destroy());

const claim = (basis: 'parent' | 'guardian' | 'poa' = 'guardian') =>
  createDelegation(tdb.db, { patientId: P, proxyAccountId: proxy, basis, status: 'requested', startsAt: AT, grantedBy: { kind: 'patient', id: 'acct-patient' }, at: AT });
const actions = async () => ((await tdb.db('access_log').where({ patient_id: P }).orderBy('seq')) as { action: string; actor_kind: string; actor_id: string; detail: Record<string, string> | null }[]);

describe('verifying a claim of authority (PRX-2)', () => {
  test('a delegation in force without a verifier and evidence cannot be recorded', async () => {
    await expect(createDelegation(tdb.db, { patientId: P, proxyAccountId: proxy, basis: 'poa', status: 'active', startsAt: AT })).rejects.toThrow(/PRX-2/);
    await expect(createDelegation(tdb.db, { patientId: P, proxyAccountId: proxy, basis: 'poa', status: 'verified', startsAt: AT, verifiedBy: 'staff-1' })).rejects.toThrow(/PRX-2/);
  });

  test('a requested claim opens nothing; verified with evidence, it is in force and logged', async () => {
    const id = await claim();
    expect(proxyAccessLevel({ kind: 'proxy', proxyAccountId: proxy, delegation: { ...(await findDelegation(tdb.db, id))!, endsAt: null } }, '1950-01-01', AT, DEFAULT_AGE_RULES).level).toBe('none');
    expect(await delegationsInForce(tdb.db, proxy, AT)).toEqual([]);
    const verified = await verifyDelegation(tdb.db, { patientId: P, delegationId: id, verifiedBy: 'Practitioner/prac-1', evidence: { type: 'guardianship-letters', reference: 'DOC-42' }, at: AT });
    expect(verified.status).toBe('active');
    expect((await delegationsInForce(tdb.db, proxy, AT)).map((d) => d.id)).toEqual([id]);
    const row = (await tdb.db('proxy_delegation').where({ id }).first()) as { verified_by: string; verification_evidence: string };
    expect([row.verified_by, row.verification_evidence]).toEqual(['Practitioner/prac-1', 'guardianship-letters:DOC-42']);
    // Verified once: a second verification or a denial finds nothing awaiting it.
    await expect(verifyDelegation(tdb.db, { patientId: P, delegationId: id, verifiedBy: 'x', evidence: { type: 'court-order' }, at: AT })).rejects.toMatchObject({ code: 'not-requested', status: 409 });
    await expect(denyDelegation(tdb.db, { patientId: P, delegationId: id, deniedBy: 'x', reason: 'authority-not-shown', at: AT })).rejects.toMatchObject({ code: 'not-requested' });
    expect(await endDelegation(tdb.db, P, id, 'revoked', 'revoked by the patient', AT, { kind: 'patient', id: 'acct-patient' })).toBe(true);
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['no verifier', { verifiedBy: '' }, 'verifier-required'],
    ['no evidence', { evidence: undefined }, 'evidence-required'],
    ['unknown evidence type', { evidence: { type: 'a-letter-from-my-friend' } }, 'evidence-required'],
    ['a document reference with spaces (free text)', { evidence: { type: 'court-order', reference: 'see the file in the cabinet' } }, 'evidence-required'],
  ])('refused: %s', async (_name, change, code) => {
    const id = await claim();
    const err = await verifyDelegation(tdb.db, { patientId: P, delegationId: id, verifiedBy: 'staff-1', evidence: { type: 'court-order' }, at: AT, ...change } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DelegationError);
    expect([(err as DelegationError).code, (err as DelegationError).status]).toEqual([code, 400]);
    expect((await findDelegation(tdb.db, id))!.status).toBe('requested');
    await denyDelegation(tdb.db, { patientId: P, delegationId: id, deniedBy: 'staff-1', reason: 'duplicate-request', at: AT });
  });

  test('a denial needs a reason code; with one, the claim ends and the reason is kept', async () => {
    const id = await claim('parent');
    await expect(denyDelegation(tdb.db, { patientId: P, delegationId: id, deniedBy: 'staff-1', reason: 'because' as never, at: AT })).rejects.toMatchObject({ code: 'reason-required', status: 400 });
    const denied = await denyDelegation(tdb.db, { patientId: P, delegationId: id, deniedBy: 'staff-1', reason: 'identity-not-verified', at: AT });
    expect(denied.status).toBe('revoked');
    expect(((await tdb.db('proxy_delegation').where({ id }).first()) as { status_reason: string }).status_reason).toBe('denied: identity-not-verified');
    await expect(verifyDelegation(tdb.db, { patientId: 'another-patient', delegationId: id, verifiedBy: 'x', evidence: { type: 'court-order' }, at: AT })).rejects.toMatchObject({ code: 'not-found', status: 404 });
  });

  test('every change of who may act for the patient is in their access log, and the chain verifies', async () => {
    const logged = await actions();
    expect(logged.map((r) => r.action)).toEqual(
      expect.arrayContaining(['delegation.grant', 'delegation.verify', 'delegation.end', 'delegation.deny']),
    );
    const verify = logged.find((r) => r.action === 'delegation.verify')!;
    expect([verify.actor_kind, verify.actor_id, verify.detail]).toEqual(['staff', 'Practitioner/prac-1', { evidence: 'guardianship-letters' }]);
    const grant = logged.find((r) => r.action === 'delegation.grant')!;
    expect([grant.actor_kind, grant.actor_id]).toEqual(['patient', 'acct-patient']);
    expect(await verifyAccessLog(tdb.db)).toEqual([]);
  });
});

describe('openDelegation: what a new grant would duplicate', () => {
  test('a delegation past its end, or one the age rules ended, is no duplicate', async () => {
    const other = (await createAccount(tdb.db, { username: 'mum', displayName: 'M', password: 'x-Password-1', fhirUser: 'RelatedPerson/rp-m' })).id;
    await createDelegation(tdb.db, {
      patientId: 'pat-grown',
      proxyAccountId: other,
      basis: 'parent',
      status: 'active',
      startsAt: new Date('2010-01-01T00:00:00Z'),
      endsAt: new Date('2027-01-01T00:00:00Z'),
      verifiedBy: 'staff-1',
      verificationEvidence: 'birth-certificate',
    });
    expect(await openDelegation(tdb.db, 'pat-grown', other, AT)).toBeDefined();
    expect(await openDelegation(tdb.db, 'pat-grown', other, new Date('2027-01-01T00:00:00Z'))).toBeUndefined();
    // The patient turned 18 in 2025: the parent's delegation lapsed, so she may grant a new one.
    const lapsed = (d: { basis: 'parent'; accessLevel: 'full' | 'limited'; startsAt: Date; status: 'active' }) =>
      proxyAccessLevel({ kind: 'proxy', proxyAccountId: other, delegation: { ...d, endsAt: null } }, '2007-03-01', AT, DEFAULT_AGE_RULES).level !== 'none';
    expect(await openDelegation(tdb.db, 'pat-grown', other, AT, (d) => lapsed({ ...d, basis: 'parent', status: 'active' }))).toBeUndefined();
  });
});
