import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createAccount } from '../accounts/account-store.js';
import { createDelegation } from '../delegations/delegation-store.js';
import { consentMigrations } from '../migrations/index.js';
import { createReleaseHolds } from '../migrations/202611230002_create_release_holds.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { placeConditionalHolds, recordReleaseEvent, type ResultArrival } from './conditional-holds.js';
import { HoldValidationError } from './errors.js';
import { listActiveHoldItems } from './hold-items.js';
import { PATIENT_DELAY_MAX_HOURS, cancelPatientDelay, createPatientDelay, listPatientDelays, validatePatientDelay, type NewPatientDelay } from './patient-delays.js';

const migrations = consentMigrations.includes(createReleaseHolds) ? consentMigrations : [...consentMigrations, createReleaseHolds];
const T0 = new Date('2026-06-15T12:00:00Z');
const later = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);
const PATHOLOGY = { system: 'http://loinc.org', code: 'LP7839-6' };
const LAB = { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' };

describe('validatePatientDelay (REL-5)', () => {
  const base: NewPatientDelay = {
    patientId: 'p',
    requestedBy: { kind: 'patient', accountId: 'a' },
    scope: { kind: 'category', category: PATHOLOGY },
    condition: { kind: 'until_clinician_release' },
    maxHours: 7 * 24,
    at: T0,
  };
  test.each<[string, Record<string, unknown>, string]>([
    ['no maximum', { maxHours: undefined }, 'delay-maximum-required'],
    ['zero maximum', { maxHours: 0 }, 'delay-maximum-required'],
    ['maximum beyond the product limit', { maxHours: PATIENT_DELAY_MAX_HOURS + 1 }, 'delay-maximum-required'],
    ['delay longer than the maximum', { condition: { kind: 'after_duration', hours: 200 } }, 'delay-condition-invalid'],
    ['fractional delay', { condition: { kind: 'after_duration', hours: 1.5 } }, 'delay-condition-invalid'],
    ['unknown condition', { condition: { kind: 'until_i_say_so' } }, 'delay-condition-invalid'],
    ['all categories', { scope: { kind: 'category', category: { code: '*' } } }, 'delay-scope-invalid'],
    ['"all"', { scope: { kind: 'category', category: { code: 'ALL' } } }, 'delay-scope-invalid'],
    ['no scope', { scope: undefined }, 'delay-scope-invalid'],
    ['order without id', { scope: { kind: 'order', orderId: '' } }, 'delay-scope-invalid'],
    ['no patient', { patientId: '' }, 'hold-scope-required'],
    ['unknown field', { department: 'pathology' }, 'hold-scope-required'],
  ])('%s → %s', (_n, change, code) => {
    try {
      validatePatientDelay({ ...base, ...change } as NewPatientDelay);
      throw new Error('expected a refusal');
    } catch (err) {
      expect(err).toBeInstanceOf(HoldValidationError);
      expect([(err as HoldValidationError).code, (err as HoldValidationError).rule, (err as HoldValidationError).status]).toEqual([code, 'REL-5', 400]);
    }
  });

  test.each([
    [{ scope: { kind: 'order', orderId: 'ServiceRequest/sr-1' } }],
    [{ condition: { kind: 'after_duration', hours: 72 } }],
    [{ scope: { kind: 'category', category: { code: 'LP7839-6' } } }],
  ])('%j is accepted', (change) => {
    expect(() => validatePatientDelay({ ...base, ...change } as NewPatientDelay)).not.toThrow();
  });
});

describe('patient delays on a real database', () => {
  let tdb: TestDatabase;
  let patientAcct: string;
  let otherAcct: string;
  let proxyAcct: string;
  let delegationId: string;
  let revokedDelegationId: string;
  const P = 'pat-delay';

  beforeAll(async () => {
    tdb = await createTestDatabase(migrations);
    patientAcct = (await createAccount(tdb.db, { username: 'delay.patient', displayName: 'P', password: 'x-Password-1', fhirUser: `Patient/${P}`, patientId: P })).id;
    otherAcct = (await createAccount(tdb.db, { username: 'other.patient', displayName: 'O', password: 'x-Password-1', fhirUser: 'Patient/pat-other', patientId: 'pat-other' })).id;
    proxyAcct = (await createAccount(tdb.db, { username: 'delay.proxy', displayName: 'Q', password: 'x-Password-1', fhirUser: 'RelatedPerson/rp-q' })).id;
    delegationId = await createDelegation(tdb.db, { patientId: P, proxyAccountId: proxyAcct, basis: 'caregiver', status: 'active', verifiedBy: 'staff:test', verificationEvidence: 'test fixture', startsAt: new Date('2026-01-01T00:00:00Z') });
    revokedDelegationId = await createDelegation(tdb.db, { patientId: P, proxyAccountId: proxyAcct, basis: 'caregiver', status: 'revoked', startsAt: new Date('2025-01-01T00:00:00Z') });
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  const pathologyReport = (id: string, at: Date, extra: Partial<ResultArrival> = {}): ResultArrival => ({
    patientId: P,
    resourceType: 'DiagnosticReport',
    resourceId: id,
    categories: [PATHOLOGY],
    codes: [{ system: 'http://loinc.org', code: '22637-3' }],
    at,
    ...extra,
  });
  const held = async (at: Date) => (await listActiveHoldItems(tdb.db, P, at)).map((i) => i.resourceId);

  test('REL-5 (d): "hold pathology until reviewed, max 7 days": hidden, clinician releases, or released at 7 days', async () => {
    const pref = await createPatientDelay(tdb.db, {
      patientId: P,
      requestedBy: { kind: 'patient', accountId: patientAcct },
      scope: { kind: 'category', category: PATHOLOGY },
      condition: { kind: 'until_clinician_release' },
      maxHours: 7 * 24,
      at: T0,
    });
    expect(pref).toMatchObject({ status: 'active', requestedBy: { kind: 'patient', id: patientAcct } });

    const items = await placeConditionalHolds(tdb.db, pathologyReport('dr-path-1', later(1)));
    expect(items.map((i) => [i.kind, i.sourceId, i.condition, i.releaseAt])).toEqual([['patient-delay', pref.id, 'until_clinician_release', later(1 + 7 * 24)]]);
    await placeConditionalHolds(tdb.db, pathologyReport('dr-path-2', later(2)));
    // A lab report outside the scope is not held.
    expect(await placeConditionalHolds(tdb.db, pathologyReport('dr-cbc', later(2), { categories: [LAB] }))).toEqual([]);
    expect(await held(later(3))).toEqual(['dr-path-1', 'dr-path-2']);

    // Clinician marks dr-path-1 reviewed → visible on the next request.
    expect(await recordReleaseEvent(tdb.db, { patientId: P, resourceType: 'DiagnosticReport', resourceId: 'dr-path-1', event: 'clinician-released', by: 'Practitioner/prac-1', at: later(4) })).toBe(1);
    expect(await held(later(4))).toEqual(['dr-path-2']);
    // Never reviewed → visible at T0+7d (from its arrival).
    expect(await held(later(2 + 7 * 24 - 0.001))).toEqual(['dr-path-2']);
    expect(await held(later(2 + 7 * 24))).toEqual([]);
    // Re-delivery of the same result does not restart the clock.
    await placeConditionalHolds(tdb.db, pathologyReport('dr-path-2', later(100)));
    expect(await held(later(2 + 7 * 24))).toEqual([]);

    // The patient cancels → everything held is released at once.
    await placeConditionalHolds(tdb.db, pathologyReport('dr-path-3', later(5)));
    await placeConditionalHolds(tdb.db, pathologyReport('dr-path-4', later(6)));
    expect(await held(later(7))).toEqual(['dr-path-2', 'dr-path-3', 'dr-path-4']);
    const cancelled = await cancelPatientDelay(tdb.db, { patientId: P, preferenceId: pref.id, cancelledBy: { kind: 'patient', accountId: patientAcct }, at: later(8) });
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelledAt: later(8) });
    expect(await held(later(8))).toEqual([]);
    // And no new result is held by a cancelled preference.
    expect(await placeConditionalHolds(tdb.db, pathologyReport('dr-path-5', later(9)))).toEqual([]);
    await expect(cancelPatientDelay(tdb.db, { patientId: P, preferenceId: pref.id, cancelledBy: { kind: 'patient', accountId: patientAcct }, at: later(9) })).rejects.toMatchObject({ code: 'hold-not-active' });
  });

  test('"after 3 days" for one order: a clinician cannot shorten it; the preference never reaches back', async () => {
    await placeConditionalHolds(tdb.db, pathologyReport('dr-before', later(10), { orderIds: ['ServiceRequest/sr-9'] }));
    const pref = await createPatientDelay(tdb.db, {
      patientId: P,
      requestedBy: { kind: 'proxy', accountId: proxyAcct, delegationId },
      scope: { kind: 'order', orderId: 'sr-9' },
      condition: { kind: 'after_duration', hours: 72 },
      maxHours: 72,
      at: later(11),
    });
    const items = await placeConditionalHolds(tdb.db, pathologyReport('dr-order', later(12), { categories: [LAB], orderIds: ['ServiceRequest/sr-9'] }));
    expect(items.map((i) => [i.sourceId, i.releaseAt])).toEqual([[pref.id, later(12 + 72)]]);
    expect(await recordReleaseEvent(tdb.db, { patientId: P, resourceType: 'DiagnosticReport', resourceId: 'dr-order', event: 'discussed', by: 'Practitioner/prac-1', at: later(13) })).toBe(0);
    expect(await held(later(13))).toEqual(['dr-order']);
    expect(await held(later(12 + 72))).toEqual([]);
    expect(await held(later(12))).not.toContain('dr-before'); // arrived before the preference
  });

  test.each<[string, () => NewPatientDelay['requestedBy'], string]>([
    ['staff without the patient request', () => ({ kind: 'staff', staffId: 'staff-1' }), 'patient-request-required'],
    ['another patient', () => ({ kind: 'patient', accountId: otherAcct }), 'requester-not-authorized'],
    ['a proxy account posing as the patient', () => ({ kind: 'patient', accountId: proxyAcct }), 'requester-not-authorized'],
    ['a proxy under a revoked delegation', () => ({ kind: 'proxy', accountId: proxyAcct, delegationId: revokedDelegationId }), 'requester-not-authorized'],
    ['a proxy naming another delegation', () => ({ kind: 'proxy', accountId: patientAcct, delegationId }), 'requester-not-authorized'],
    ['an unknown kind', () => ({ kind: 'admin', accountId: 'x' }) as never, 'requester-not-authorized'],
  ])('REL-5 (d): created by %s → %s', async (_n, requester, code) => {
    const before = (await listPatientDelays(tdb.db, P)).length;
    await expect(
      createPatientDelay(tdb.db, { patientId: P, requestedBy: requester(), scope: { kind: 'category', category: PATHOLOGY }, condition: { kind: 'until_clinician_release' }, maxHours: 24, at: T0 }),
    ).rejects.toMatchObject({ code, rule: 'REL-5' });
    expect(await listPatientDelays(tdb.db, P)).toHaveLength(before);
  });

  test("staff may record the patient's documented request", async () => {
    const pref = await createPatientDelay(tdb.db, {
      patientId: P,
      requestedBy: { kind: 'staff', staffId: 'staff-1', patientRequestRef: 'Communication/c-77' },
      scope: { kind: 'category', category: { system: 'http://loinc.org', code: 'LP29708-2' } },
      condition: { kind: 'after_duration', hours: 24 },
      maxHours: 48,
      at: later(20),
    });
    expect(pref.requestedBy).toEqual({ kind: 'staff', id: 'staff-1', delegationId: null, patientRequestRef: 'Communication/c-77' });
  });

  test('release events need a practitioner', async () => {
    await expect(recordReleaseEvent(tdb.db, { patientId: P, resourceType: 'DiagnosticReport', resourceId: 'x', event: 'clinician-released', by: 'nurse', at: T0 })).rejects.toMatchObject({
      code: 'practitioner-required',
    });
  });
});
