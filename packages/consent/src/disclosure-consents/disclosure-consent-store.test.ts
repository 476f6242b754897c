import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createAccount } from '../accounts/account-store.js';
import { createDelegation, endDelegation } from '../delegations/delegation-store.js';
import { consentMigrations } from '../migrations/index.js';
import { accessPlan, type GrantedPlan } from '../policy/access-plan.js';
import { PART2_LABEL } from '../policy/consent-required-labels.js';
import { decideResource } from '../policy/decide.js';
import { refusalOf } from '../testing/refusals.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import {
  DisclosureConsentError,
  activeDisclosureConsents,
  getDisclosureConsent,
  grantDisclosureConsent,
  listDisclosureConsents,
  MAX_DISCLOSURE_CONSENT_YEARS,
  revokeDisclosureConsent,
  validateDisclosureConsent,
  type NewDisclosureConsent,
} from './disclosure-consent-store.js';

const T0 = new Date('2026-06-15T12:00:00Z');
const later = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const NEXT_YEAR = new Date('2027-06-15T12:00:00Z');
const STATE_LAW = { system: 'urn:oid:2.16.840.1.113883.3.1', code: 'STATE-CONSENT' };
const PART2 = { system: PART2_LABEL.system!, code: PART2_LABEL.code };

const valid = (patientId: string, extra: Partial<NewDisclosureConsent> = {}): NewDisclosureConsent => ({
  patientId,
  recipient: { kind: 'proxy', proxyAccountId: 'acct-q' },
  grantedBy: `acct-${patientId}`,
  expiresAt: NEXT_YEAR,
  at: T0,
  ...extra,
});

const expectRejection = async (p: Promise<unknown>, code: string, status: number): Promise<void> =>
  expect(await refusalOf(p)).toEqual({ kind: 'DisclosureConsentError', code, status });

describe('validateDisclosureConsent (IB-2)', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['no patient', { patientId: undefined }, 'patient-required'],
    ['a patient id that is not a FHIR id', { patientId: 'a b' }, 'patient-required'],
    ['no recipient', { recipient: undefined }, 'recipient-invalid'],
    ['an app as recipient', { recipient: { kind: 'app', clientId: 'c1' } }, 'recipient-invalid'],
    ['a proxy without an account id', { recipient: { kind: 'proxy', proxyAccountId: ' ' } }, 'recipient-invalid'],
    ['a recipient with extra fields', { recipient: { kind: 'proxy', proxyAccountId: 'acct-q', also: 'x' } }, 'recipient-invalid'],
    ['the proxy consenting to its own access', { grantedBy: 'acct-q' }, 'recipient-invalid'],
    ['a label that needs no consent', { label: { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' } }, 'label-not-consent-required'],
    ['a label without its system', { label: { code: '42CFRPart2' } }, 'label-not-consent-required'],
    ['no granter', { grantedBy: ' ' }, 'granter-required'],
    ['blank evidence', { evidence: '  ' }, 'invalid-input'],
    ['an invalid instant', { at: new Date('nope') }, 'invalid-input'],
    ['an unknown field', { scope: 'everything' }, 'unknown-field'],
    // 42 CFR 2.31(a)(6): every consent states when it expires, unambiguously, in the future, within the limit.
    ['no expiry', { expiresAt: undefined }, 'expiry-required'],
    ['a null expiry', { expiresAt: null }, 'expiry-required'],
    ['an expiry that is a bare date', { expiresAt: '2027-06-15' }, 'expiry-invalid'],
    ['an expiry without a time zone', { expiresAt: '2027-06-15T12:00:00' }, 'expiry-invalid'],
    ['an expiry on a day that does not exist', { expiresAt: '2027-02-30T00:00:00Z' }, 'expiry-invalid'],
    ['an expiry that is a number', { expiresAt: NEXT_YEAR.getTime() }, 'expiry-invalid'],
    ['an expiry that is an invalid Date', { expiresAt: new Date('nope') }, 'expiry-invalid'],
    ['an expiry in the past', { expiresAt: '2026-06-15T11:59:59Z' }, 'expiry-invalid'],
    ['an expiry at the instant it is given', { expiresAt: '2026-06-15T12:00:00Z' }, 'expiry-invalid'],
    ['an expiry at the instant it is given, written in another zone', { expiresAt: '2026-06-15T05:00:00-07:00' }, 'expiry-invalid'],
    [`an expiry past ${MAX_DISCLOSURE_CONSENT_YEARS} years`, { expiresAt: '2036-06-15T12:00:00.001Z' }, 'expiry-invalid'],
    ['an expiry far in the future', { expiresAt: '9999-12-31T23:59:59Z' }, 'expiry-invalid'],
  ])('%s → %s', (_name, change, code) => {
    expect(() => validateDisclosureConsent({ ...valid('pat-v'), ...change } as NewDisclosureConsent)).toThrow(expect.objectContaining({ code, status: 400 }));
  });

  test('the expiry: a zoned date-time string or a Date, after the consent and at most ten years after it', () => {
    expect(MAX_DISCLOSURE_CONSENT_YEARS).toBe(10);
    expect(validateDisclosureConsent(valid('pat-v', { expiresAt: '2026-06-15T12:00:00.001Z' })).expiresAt).toEqual(new Date('2026-06-15T12:00:00.001Z'));
    expect(validateDisclosureConsent(valid('pat-v', { expiresAt: '2027-01-01T00:00:00-08:00' })).expiresAt).toEqual(new Date('2027-01-01T08:00:00Z'));
    expect(validateDisclosureConsent(valid('pat-v', { expiresAt: '2036-06-15T12:00:00Z' })).expiresAt).toEqual(new Date('2036-06-15T12:00:00Z'));
    expect(validateDisclosureConsent(valid('pat-v', { expiresAt: NEXT_YEAR })).expiresAt).toEqual(NEXT_YEAR);
    // Judged against the consent's own instant, not the machine clock.
    expect(() => validateDisclosureConsent(valid('pat-v', { expiresAt: '2020-01-01T00:00:00Z', at: new Date('2019-12-31T00:00:00Z') }))).not.toThrow();
  });

  test('the label may be left out when one is configured; named when several are', () => {
    expect(validateDisclosureConsent(valid('pat-v')).label).toEqual(PART2);
    expect(() => validateDisclosureConsent(valid('pat-v'), [PART2_LABEL, STATE_LAW])).toThrow(expect.objectContaining({ code: 'label-required' }));
    expect(validateDisclosureConsent(valid('pat-v', { label: STATE_LAW }), [PART2_LABEL, STATE_LAW]).label).toEqual(STATE_LAW);
  });
});

describe('disclosure consents on a real database', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(consentMigrations);
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  const planFor = async (patientId: string, reader: { kind: 'self' } | { kind: 'proxy'; account: string }, at: Date = T0): Promise<GrantedPlan> => {
    const plan = accessPlan({
      relationship:
        reader.kind === 'self'
          ? { kind: 'self' }
          : { kind: 'proxy', proxyAccountId: reader.account, delegation: { basis: 'caregiver', status: 'active', accessLevel: 'full', startsAt: new Date('2020-01-01T00:00:00Z') } },
      patientBirthDate: '1970-01-01',
      at,
      disclosureConsents: await activeDisclosureConsents(tdb.db, patientId),
    });
    if (plan.level === 'none') throw new Error('expected a granted plan');
    return plan;
  };
  const part2Visible = (plan: GrantedPlan) => decideResource(plan, { resourceType: 'Condition', securityLabels: [PART2_LABEL] }).visible;
  const epoch = async (patientId: string) => Number(((await tdb.db('access_epoch').where({ patient_id: patientId }).first()) as { epoch: string | number } | undefined)?.epoch ?? 0);

  test('IB-2 (d): hidden from the proxy until the patient consents, then visible to that proxy only; never hidden from the patient', async () => {
    expect(part2Visible(await planFor('pat-a', { kind: 'proxy', account: 'acct-q' }))).toBe(false);
    expect(part2Visible(await planFor('pat-a', { kind: 'self' }))).toBe(true);
    const before = await epoch('pat-a');
    const c = await grantDisclosureConsent(tdb.db, valid('pat-a', { evidence: 'scan-2026-17' }));
    expect(c).toMatchObject({ patientId: 'pat-a', proxyAccountId: 'acct-q', label: PART2, grantedBy: 'acct-pat-a', grantedAt: T0, evidence: 'scan-2026-17', expiresAt: NEXT_YEAR, status: 'active', revokedAt: null });
    expect(await epoch('pat-a')).toBeGreaterThan(before); // cached request contexts are stale at once
    expect(part2Visible(await planFor('pat-a', { kind: 'proxy', account: 'acct-q' }))).toBe(true);
    expect(part2Visible(await planFor('pat-a', { kind: 'proxy', account: 'acct-other' }))).toBe(false);
    expect(part2Visible(await planFor('pat-b', { kind: 'proxy', account: 'acct-q' }))).toBe(false); // another patient's record
  });

  test("a proxy's consents end with the proxy's last open delegation, not with a suspension", async () => {
    const proxy = (await createAccount(tdb.db, { username: 'carer', displayName: 'C', password: 'x-Password-1', fhirUser: 'RelatedPerson/rp-carer' })).id;
    const open = () => createDelegation(tdb.db, { patientId: 'pat-cascade', proxyAccountId: proxy, basis: 'caregiver', status: 'requested', startsAt: T0, grantedBy: { kind: 'patient', id: 'acct-pat-cascade' }, at: T0 });
    const first = await open();
    const mine = await grantDisclosureConsent(tdb.db, valid('pat-cascade', { recipient: { kind: 'proxy', proxyAccountId: proxy } }));
    const other = await grantDisclosureConsent(tdb.db, valid('pat-cascade'));
    // Suspended (PRX-5): the delegation may come back, and the consent with it.
    expect(await endDelegation(tdb.db, 'pat-cascade', first, 'suspended', 'harm determination', later(1))).toBe(true);
    expect((await activeDisclosureConsents(tdb.db, 'pat-cascade')).map((c) => c.id).sort()).toEqual([mine.id, other.id].sort());
    // Revoked by the patient: this proxy's consents end with it, in the log; another proxy's stay.
    expect(await endDelegation(tdb.db, 'pat-cascade', first, 'revoked', 'revoked by the patient', later(2), { kind: 'patient', id: 'acct-pat-cascade' })).toBe(true);
    expect((await activeDisclosureConsents(tdb.db, 'pat-cascade')).map((c) => c.id)).toEqual([other.id]);
    expect(await getDisclosureConsent(tdb.db, 'pat-cascade', mine.id, later(2))).toMatchObject({ status: 'revoked', revokedAt: later(2), revokedBy: 'acct-pat-cascade' });
    const logged = (await tdb.db('access_log').where({ patient_id: 'pat-cascade', action: 'disclosure-consent.revoke' })) as { detail: unknown }[];
    expect(logged.map((l) => (typeof l.detail === 'string' ? JSON.parse(l.detail) : l.detail))).toEqual([{ consentId: mine.id, cause: 'delegation-ended' }]);
    // A new delegation to the same person does not find the old consent in force.
    await open();
    expect((await activeDisclosureConsents(tdb.db, 'pat-cascade')).map((c) => c.id)).toEqual([other.id]);
  });

  test('revoking applies at once, keeps the record, and happens once', async () => {
    const c = await grantDisclosureConsent(tdb.db, valid('pat-r'));
    const before = await epoch('pat-r');
    const revoked = await revokeDisclosureConsent(tdb.db, { patientId: 'pat-r', id: c.id, revokedBy: 'acct-pat-r', at: later(5) });
    expect(revoked).toMatchObject({ status: 'revoked', revokedAt: later(5), revokedBy: 'acct-pat-r' });
    expect(await epoch('pat-r')).toBeGreaterThan(before);
    expect(await activeDisclosureConsents(tdb.db, 'pat-r')).toEqual([]);
    expect(part2Visible(await planFor('pat-r', { kind: 'proxy', account: 'acct-q' }))).toBe(false);
    expect((await listDisclosureConsents(tdb.db, 'pat-r', later(5))).map((x) => x.status)).toEqual(['revoked']);
    expect((await listDisclosureConsents(tdb.db, 'pat-r', new Date('2030-01-01T00:00:00Z'))).map((x) => x.status)).toEqual(['revoked']); // revoked stays revoked after its expiry
    await expectRejection(revokeDisclosureConsent(tdb.db, { patientId: 'pat-r', id: c.id, revokedBy: 'acct-pat-r', at: later(6) }), 'already-revoked', 409);
    // The patient may consent again.
    await grantDisclosureConsent(tdb.db, valid('pat-r', { at: later(7) }));
    expect(part2Visible(await planFor('pat-r', { kind: 'proxy', account: 'acct-q' }))).toBe(true);
  });

  test('the same consent twice is a conflict; another proxy or label is not', async () => {
    await grantDisclosureConsent(tdb.db, valid('pat-d'));
    await expectRejection(grantDisclosureConsent(tdb.db, valid('pat-d', { at: later(1) })), 'duplicate', 409);
    await grantDisclosureConsent(tdb.db, valid('pat-d', { recipient: { kind: 'proxy', proxyAccountId: 'acct-z' } }));
    await grantDisclosureConsent(tdb.db, valid('pat-d', { label: STATE_LAW }), [PART2_LABEL, STATE_LAW]);
    expect(await activeDisclosureConsents(tdb.db, 'pat-d')).toHaveLength(3);
  });

  test('a consent is found only under its own patient, and the error does not echo the id', async () => {
    const c = await grantDisclosureConsent(tdb.db, valid('pat-x'));
    expect(await getDisclosureConsent(tdb.db, 'pat-y', c.id, T0)).toBeUndefined();
    expect(await getDisclosureConsent(tdb.db, 'pat-x', c.id, T0)).toMatchObject({ id: c.id, status: 'active' });
    await expectRejection(revokeDisclosureConsent(tdb.db, { patientId: 'pat-y', id: c.id, revokedBy: 'acct', at: later(1) }), 'not-found', 404);
    const err = await revokeDisclosureConsent(tdb.db, { patientId: 'pat-y', id: c.id, revokedBy: 'acct', at: later(1) }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).not.toContain(c.id);
    expect((await getDisclosureConsent(tdb.db, 'pat-x', c.id, later(2)))?.status).toBe('active'); // untouched
  });

  test('42 CFR 2.31(a)(6): a consent counts until it expires, then lists as expired, with no write and no epoch change', async () => {
    const c = await grantDisclosureConsent(tdb.db, valid('pat-e', { expiresAt: later(10) }));
    const epochBefore = await epoch('pat-e');
    expect(c).toMatchObject({ expiresAt: later(10), status: 'active' });
    expect(part2Visible(await planFor('pat-e', { kind: 'proxy', account: 'acct-q' }, later(9)))).toBe(true);
    expect(part2Visible(await planFor('pat-e', { kind: 'proxy', account: 'acct-q' }, later(10)))).toBe(false);
    expect(part2Visible(await planFor('pat-e', { kind: 'proxy', account: 'acct-q' }, later(11)))).toBe(false);
    expect(part2Visible(await planFor('pat-e', { kind: 'self' }, later(11)))).toBe(true);
    expect((await listDisclosureConsents(tdb.db, 'pat-e', later(9))).map((x) => x.status)).toEqual(['active']);
    expect((await listDisclosureConsents(tdb.db, 'pat-e', later(10))).map((x) => x.status)).toEqual(['expired']);
    expect(await epoch('pat-e')).toBe(epochBefore);
    // An expired consent is no longer in force: nothing to revoke, and nothing written.
    await expectRejection(revokeDisclosureConsent(tdb.db, { patientId: 'pat-e', id: c.id, revokedBy: 'acct-pat-e', at: later(10) }), 'expired', 409);
    expect(await getDisclosureConsent(tdb.db, 'pat-e', c.id, later(10))).toMatchObject({ status: 'expired', revokedAt: null });
    expect(await tdb.db('access_log').where({ patient_id: 'pat-e', action: 'disclosure-consent.revoke' })).toEqual([]);
  });

  test('an expired (never revoked) consent does not block a new one; one in force still does', async () => {
    await grantDisclosureConsent(tdb.db, valid('pat-n', { expiresAt: later(10) }));
    await expectRejection(grantDisclosureConsent(tdb.db, valid('pat-n', { at: later(9), expiresAt: later(60) })), 'duplicate', 409);
    const renewed = await grantDisclosureConsent(tdb.db, valid('pat-n', { at: later(10), expiresAt: later(60) }));
    expect((await listDisclosureConsents(tdb.db, 'pat-n', later(10))).map((x) => [x.id === renewed.id, x.status])).toEqual([
      [true, 'active'],
      [false, 'expired'],
    ]);
    expect(part2Visible(await planFor('pat-n', { kind: 'proxy', account: 'acct-q' }, later(30)))).toBe(true);
    await expectRejection(grantDisclosureConsent(tdb.db, valid('pat-n', { at: later(30), expiresAt: later(90) })), 'duplicate', 409);
    // Revoking the renewed one hides the records again at once: the expired one opens nothing.
    await revokeDisclosureConsent(tdb.db, { patientId: 'pat-n', id: renewed.id, revokedBy: 'acct-pat-n', at: later(31) });
    expect(part2Visible(await planFor('pat-n', { kind: 'proxy', account: 'acct-q' }, later(32)))).toBe(false);
  });

  test('consents given at the same moment: exactly one is recorded', async () => {
    const results = await Promise.allSettled([1, 2, 3].map(() => grantDisclosureConsent(tdb.db, valid('pat-race'))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'duplicate', status: 409 });
    expect(await listDisclosureConsents(tdb.db, 'pat-race', T0)).toHaveLength(1);
    expect(await tdb.db('access_log').where({ patient_id: 'pat-race', action: 'disclosure-consent.grant' })).toHaveLength(1);
  });

  test('giving and revoking are in the hash-chained access log as the patient\u2019s acts (AUD-1)', async () => {
    const c = await grantDisclosureConsent(tdb.db, valid('pat-l'));
    await revokeDisclosureConsent(tdb.db, { patientId: 'pat-l', id: c.id, revokedBy: 'acct-pat-l', at: later(1) });
    const rows = (await tdb.db('access_log').where({ patient_id: 'pat-l' }).orderBy('seq')) as { action: string; actor_kind: string; actor_id: string; exception: string }[];
    expect(rows.map((r) => [r.action, r.actor_kind, r.actor_id, r.exception])).toEqual([
      ['disclosure-consent.grant', 'patient', 'acct-pat-l', 'privacy_precondition'],
      ['disclosure-consent.revoke', 'patient', 'acct-pat-l', 'privacy_precondition'],
    ]);
  });

  const dbRow = (change: Record<string, unknown> = {}) => ({
    patient_id: 'pat-db',
    id: `c-${Math.random().toString(36).slice(2)}`,
    proxy_account_id: 'acct-q',
    label_system: PART2.system,
    label_code: PART2.code,
    granted_at: T0,
    granted_by: 'acct-pat',
    expires_at: NEXT_YEAR,
    ...change,
  });

  test('the database accepts a well-formed row (the control for the refusals below)', async () => {
    await expect(tdb.db('disclosure_consent').insert(dbRow())).resolves.toBeDefined();
  });

  test.each<[string, Record<string, unknown>]>([
    ['a consent given by its own recipient', { granted_by: 'acct-q' }],
    ['a revocation without who revoked', { revoked_at: T0 }],
    ['a blank label', { label_code: ' ' }],
    ['a consent without an expiry', { expires_at: null }],
    ['a consent that expires when it is given', { expires_at: T0 }],
    ['a consent that expired before it was given', { expires_at: later(-1) }],
  ])('the database itself refuses %s', async (_name, change) => {
    await expect(tdb.db('disclosure_consent').insert(dbRow(change))).rejects.toThrow();
  });
});
