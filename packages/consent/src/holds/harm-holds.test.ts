import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations } from '../migrations/index.js';
import { createReleaseHolds } from '../migrations/202611230002_create_release_holds.js';
import { accessPlan } from '../policy/access-plan.js';
import { decideResource } from '../policy/decide.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { HoldValidationError } from './errors.js';
import { decideHarmHoldReview, getHarmHold, liftHarmHold, placeHarmHold, requestHarmHoldReview, validateHarmHold, type NewHarmHold } from './harm-holds.js';
import { activeHoldsAt, listActiveHoldItems, listHoldItems } from './hold-items.js';

const migrations = consentMigrations.includes(createReleaseHolds) ? consentMigrations : [...consentMigrations, createReleaseHolds];
const T0 = new Date('2026-06-15T12:00:00Z');
const later = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);
const O1 = { resourceType: 'Observation', resourceId: 'o1' };
const O2 = { resourceType: 'Observation', resourceId: 'o2' };

const valid = (patientId: string, extra: Partial<NewHarmHold> = {}): NewHarmHold => ({
  patientId,
  resources: [O1],
  decidedBy: 'Practitioner/prac-1',
  licenseAttestation: 'MD, CA A12345',
  relationshipBasis: 'current',
  harmType: 'life_or_physical_safety',
  reason: 'result reasonably likely to endanger the patient (documented in encounter E1)',
  at: T0,
  expiresAt: later(24 * 14),
  ...extra,
});

function expectHoldError(fn: () => unknown, code: string, rule: string, status: number): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HoldValidationError);
    expect({ code: (err as HoldValidationError).code, rule: (err as HoldValidationError).rule, status: (err as HoldValidationError).status }).toEqual({ code, rule, status });
    return;
  }
  throw new Error(`expected HoldValidationError ${code}`);
}

async function expectHoldRejection(p: Promise<unknown>, code: string, status: number): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(HoldValidationError);
  await p.catch((err: HoldValidationError) => expect({ code: err.code, status: err.status }).toEqual({ code, status }));
}

describe('validateHarmHold (REL-2)', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['by test code, no patient: "holds must name a patient and resources"', { patientId: undefined, resources: undefined, code: 'http://loinc.org|2160-0' }, 'hold-scope-required'],
    ['by category for a patient', { category: 'laboratory' }, 'hold-scope-required'],
    ['by scope object', { scope: { code: 'LOINC 2160-0' } }, 'hold-scope-required'],
    ['no resources', { resources: [] }, 'hold-scope-required'],
    ['a resource without an id', { resources: [{ resourceType: 'Observation' }] }, 'hold-scope-required'],
    ['a resource with a wildcard id', { resources: [{ resourceType: 'Observation', resourceId: '*' }] }, 'hold-scope-required'],
    ['a resource with extra scope', { resources: [{ resourceType: 'Observation', resourceId: 'o1', code: 'x' }] }, 'hold-scope-required'],
    ['no practitioner', { decidedBy: undefined }, 'practitioner-required'],
    ['a non-practitioner decider', { decidedBy: 'RelatedPerson/rp-1' }, 'practitioner-required'],
    ['a bare id as decider', { decidedBy: 'prac-1' }, 'practitioner-required'],
    ['no license attestation', { licenseAttestation: '  ' }, 'license-attestation-required'],
    ['no relationship basis', { relationshipBasis: 'none' }, 'relationship-basis-required'],
    ['emotional distress', { harmType: 'emotional_distress' }, 'harm-type-invalid'],
    ['no reason', { reason: '' }, 'reason-required'],
    ['no end', { expiresAt: undefined }, 'end-required'],
    ['end before start', { expiresAt: new Date('2026-06-01T00:00:00Z') }, 'invalid-window'],
    ['review after the end', { reviewAt: later(24 * 30) }, 'invalid-window'],
    ['an unknown field', { colour: 'red' }, 'unknown-field'],
  ])('%s → %s', (_n, change, code) => {
    expectHoldError(() => validateHarmHold({ ...valid('pat-v'), ...change } as NewHarmHold), code, 'REL-2', 400);
  });

  test('a valid hold passes and its resources are deduplicated', () => {
    expect(validateHarmHold(valid('pat-v', { resources: [O1, O2, { ...O1 }] }))).toEqual([O1, O2]);
  });
});

describe('harm holds on a real database', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(migrations);
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  const visibleTo = async (patientId: string, at: Date, relationship: 'self' | 'proxy') => {
    const items = await listActiveHoldItems(tdb.db, patientId, at);
    const plan = accessPlan({
      relationship:
        relationship === 'self'
          ? { kind: 'self' }
          : { kind: 'proxy', proxyAccountId: 'q', delegation: { basis: 'caregiver', status: 'active', accessLevel: 'full', startsAt: new Date('2020-01-01T00:00:00Z') } },
      patientBirthDate: '1970-01-01',
      at,
    });
    return [O1, O2].filter((r) => decideResource(plan, { resourceType: 'Observation', status: 'final', categories: [{ code: 'laboratory' }], activeHolds: activeHoldsAt(items, r, at) }).visible).map((r) => r.resourceId);
  };

  test('REL-2 (d)(1): a hold on O1 hides O1 only, until its end', async () => {
    const hold = await placeHarmHold(tdb.db, valid('pat-a'));
    expect(hold).toMatchObject({ patientId: 'pat-a', resources: [O1], status: 'active', decidedBy: 'Practitioner/prac-1', harmType: 'life_or_physical_safety' });
    expect(await visibleTo('pat-a', later(1), 'self')).toEqual(['o2']);
    expect(await visibleTo('pat-a', later(-1), 'self')).toEqual(['o1', 'o2']); // not before it was placed
    expect(await visibleTo('pat-a', later(24 * 14), 'self')).toEqual(['o1', 'o2']); // released at its end without a job
    expect(await visibleTo('pat-b-none', later(1), 'self')).toEqual(['o1', 'o2']); // another patient's O1 is untouched
  });

  test('REL-3 (d): a review by the original decider is a conflict; another clinician lifts it at once', async () => {
    const hold = await placeHarmHold(tdb.db, valid('pat-r'));
    await expectHoldRejection(decideHarmHoldReview(tdb.db, { patientId: 'pat-r', holdId: hold.id, reviewerId: 'Practitioner/prac-2', outcome: 'lifted', at: later(1) }), 'review-not-requested', 409);
    const requested = await requestHarmHoldReview(tdb.db, { patientId: 'pat-r', holdId: hold.id, requestedBy: 'account-patient-r', at: later(2) });
    expect(requested.reviewRequestedAt).toEqual(later(2));
    await requestHarmHoldReview(tdb.db, { patientId: 'pat-r', holdId: hold.id, requestedBy: 'account-patient-r', at: later(3) }); // idempotent while pending
    expect((await getHarmHold(tdb.db, 'pat-r', hold.id))!.reviewRequestedAt).toEqual(later(2));
    await expectHoldRejection(decideHarmHoldReview(tdb.db, { patientId: 'pat-r', holdId: hold.id, reviewerId: 'Practitioner/prac-1', outcome: 'lifted', at: later(4) }), 'reviewer-conflict', 409);
    expect(await visibleTo('pat-r', later(4), 'self')).toEqual(['o2']);
    const lifted = await decideHarmHoldReview(tdb.db, { patientId: 'pat-r', holdId: hold.id, reviewerId: 'Practitioner/prac-2', outcome: 'lifted', note: 'no danger', at: later(5) });
    expect(lifted).toMatchObject({ status: 'lifted', reviewerId: 'Practitioner/prac-2', reviewOutcome: 'lifted', liftedAt: later(5) });
    expect(await visibleTo('pat-r', later(5), 'self')).toEqual(['o1', 'o2']);
    expect(await visibleTo('pat-r', later(4.5), 'self')).toEqual(['o2']); // the record of when it was held is kept
    const [item] = await listHoldItems(tdb.db, 'pat-r', O1);
    expect(item).toMatchObject({ releasedBy: 'Practitioner/prac-2', releaseReason: 'review-lifted' });
    await expectHoldRejection(decideHarmHoldReview(tdb.db, { patientId: 'pat-r', holdId: hold.id, reviewerId: 'Practitioner/prac-3', outcome: 'upheld', at: later(6) }), 'review-already-decided', 409);
  });

  test('the database itself refuses reviewer = decider', async () => {
    const hold = await placeHarmHold(tdb.db, valid('pat-db'));
    await expect(tdb.db('harm_hold').where({ patient_id: 'pat-db', id: hold.id }).update({ reviewer_id: 'Practitioner/prac-1' })).rejects.toThrow();
  });

  test('an upheld review keeps the hold to its end', async () => {
    const hold = await placeHarmHold(tdb.db, valid('pat-u', { resources: [O1, O2] }));
    await requestHarmHoldReview(tdb.db, { patientId: 'pat-u', holdId: hold.id, requestedBy: 'acct', at: later(1) });
    const upheld = await decideHarmHoldReview(tdb.db, { patientId: 'pat-u', holdId: hold.id, reviewerId: 'Practitioner/prac-9', outcome: 'upheld', at: later(2) });
    expect(upheld).toMatchObject({ status: 'active', reviewOutcome: 'upheld' });
    expect(await visibleTo('pat-u', later(3), 'self')).toEqual([]);
  });

  test('PRX-5: a substantial-harm hold withholds from a representative, not from the patient', async () => {
    await placeHarmHold(tdb.db, valid('pat-s', { harmType: 'substantial_harm', relationshipBasis: 'prior' }));
    expect(await visibleTo('pat-s', later(1), 'self')).toEqual(['o1', 'o2']);
    expect(await visibleTo('pat-s', later(1), 'proxy')).toEqual(['o2']);
  });

  test('lifting: needs a practitioner and a reason; releases at once; only once', async () => {
    const hold = await placeHarmHold(tdb.db, valid('pat-l'));
    await expectHoldRejection(liftHarmHold(tdb.db, { patientId: 'pat-l', holdId: hold.id, liftedBy: 'admin', reason: 'x', at: later(1) }), 'practitioner-required', 400);
    await liftHarmHold(tdb.db, { patientId: 'pat-l', holdId: hold.id, liftedBy: 'Practitioner/prac-1', reason: 'discussed in person', at: later(1) });
    expect(await visibleTo('pat-l', later(1), 'self')).toEqual(['o1', 'o2']);
    await expectHoldRejection(liftHarmHold(tdb.db, { patientId: 'pat-l', holdId: hold.id, liftedBy: 'Practitioner/prac-1', reason: 'again', at: later(2) }), 'hold-not-active', 409);
    await expectHoldRejection(requestHarmHoldReview(tdb.db, { patientId: 'pat-l', holdId: hold.id, requestedBy: 'acct', at: later(2) }), 'hold-not-active', 409);
  });

  test('a hold is found only under its own patient', async () => {
    const hold = await placeHarmHold(tdb.db, valid('pat-x'));
    expect(await getHarmHold(tdb.db, 'pat-y', hold.id)).toBeUndefined();
    await expectHoldRejection(liftHarmHold(tdb.db, { patientId: 'pat-y', holdId: hold.id, liftedBy: 'Practitioner/prac-1', reason: 'x', at: later(1) }), 'not-found', 404);
  });

  test('a refused hold writes nothing', async () => {
    await expect(placeHarmHold(tdb.db, { ...valid('pat-n'), decidedBy: '' })).rejects.toBeInstanceOf(HoldValidationError);
    expect(await tdb.db('harm_hold').where({ patient_id: 'pat-n' })).toEqual([]);
    expect(await listHoldItems(tdb.db, 'pat-n')).toEqual([]);
  });
});
