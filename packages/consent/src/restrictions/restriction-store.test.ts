import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations } from '../migrations/index.js';
import { accessPlan, type GrantedPlan } from '../policy/access-plan.js';
import { decideResource } from '../policy/decide.js';
import { refusalFrom, refusalOf } from '../testing/refusals.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import {
  OBSERVATION_CATEGORY_SYSTEM,
  RESTRICTION_CATEGORIES,
  RestrictionValidationError,
  activeRestrictions,
  createRestriction,
  endRestriction,
  getRestriction,
  listRestrictions,
  restrictionCategory,
  validateRestriction,
  type NewRestriction,
} from '../index.js';

const T0 = new Date('2026-06-15T12:00:00Z');
const later = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const SOCIAL = { system: OBSERVATION_CATEGORY_SYSTEM, code: 'social-history' };

const valid = (patientId: string, extra: Partial<NewRestriction> = {}): NewRestriction => ({
  patientId,
  recipient: { kind: 'proxy', proxyAccountId: 'acct-q' },
  resourceType: 'Observation',
  category: SOCIAL,
  requestedBy: `acct-${patientId}`,
  source: 'patient',
  at: T0,
  ...extra,
});

const expectRestrictionError = (fn: () => unknown, code: string, status: number): void =>
  expect(refusalFrom(fn)).toEqual({ kind: 'RestrictionValidationError', code, status });

const expectRejection = async (p: Promise<unknown>, code: string, status: number): Promise<void> =>
  expect(await refusalOf(p)).toEqual({ kind: 'RestrictionValidationError', code, status });

describe('validateRestriction (IB-1)', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['staff without a patient request id → 400', { source: 'staff_on_patient_request', requestedBy: 'acct-staff' }, 'patient-request-required'],
    ['staff with a blank patient request id', { source: 'staff_on_patient_request', patientRequestRef: '   ' }, 'patient-request-required'],
    ['an unknown source', { source: 'admin' }, 'source-invalid'],
    ['no patient', { patientId: undefined }, 'patient-required'],
    ['a patient id that is not a FHIR id', { patientId: 'a b' }, 'patient-required'],
    ['no recipient', { recipient: undefined }, 'recipient-invalid'],
    ['a category of recipients', { recipient: { kind: 'all-apps' } }, 'recipient-invalid'],
    ['a proxy without an account id', { recipient: { kind: 'proxy', proxyAccountId: '' } }, 'recipient-invalid'],
    ['an app named by proxy id', { recipient: { kind: 'app', proxyAccountId: 'acct-q' } }, 'recipient-invalid'],
    ['a recipient with extra fields', { recipient: { kind: 'app', clientId: 'c1', also: 'c2' } }, 'recipient-invalid'],
    ['a category outside the allow-list', { category: { system: OBSERVATION_CATEGORY_SYSTEM, code: 'everything' } }, 'category-not-allowed'],
    ['a category without its system', { category: { code: 'social-history' } }, 'category-not-allowed'],
    ['a type the category is not used on', { resourceType: 'Condition' }, 'resource-type-invalid'],
    ['no requester', { requestedBy: ' ' }, 'requester-required'],
    ['an invalid instant', { at: new Date('nope') }, 'invalid-input'],
    ['an unknown field', { reason: 'because' }, 'unknown-field'],
  ])('%s → %s', (_name, change, code) => {
    expectRestrictionError(() => validateRestriction({ ...valid('pat-v'), ...change } as NewRestriction), code, 400);
  });

  test.each<[string, Partial<NewRestriction>]>([
    ['the patient, for a proxy and one type', {}],
    ['the patient, for an app and every type', { recipient: { kind: 'app', clientId: 'client-1' }, resourceType: undefined }],
    ['staff recording the patient request', { source: 'staff_on_patient_request', requestedBy: 'acct-staff', patientRequestRef: 'REQ-2026-001' }],
  ])('valid: %s', (_name, change) => {
    const input = { ...valid('pat-v'), ...change };
    if ('resourceType' in change && change.resourceType === undefined) delete input.resourceType;
    expect(validateRestriction(input).category).toMatchObject({ ...SOCIAL, display: 'Social History' });
  });

  test('the allow-list has display names and no duplicates', () => {
    const keys = RESTRICTION_CATEGORIES.map((c) => `${c.system}|${c.code}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const c of RESTRICTION_CATEGORIES) expect(c.display.length).toBeGreaterThan(0);
    expect(restrictionCategory(SOCIAL.system, SOCIAL.code)?.display).toBe('Social History');
  });
});

describe('restrictions on a real database', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(consentMigrations);
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  const planFor = async (patientId: string, reader: { kind: 'self' } | { kind: 'proxy'; account: string }, clientId = 'client-1'): Promise<GrantedPlan> => {
    const plan = accessPlan({
      relationship:
        reader.kind === 'self'
          ? { kind: 'self' }
          : { kind: 'proxy', proxyAccountId: reader.account, delegation: { basis: 'caregiver', status: 'active', accessLevel: 'full', startsAt: new Date('2020-01-01T00:00:00Z') } },
      patientBirthDate: '1970-01-01',
      at: T0,
      restrictions: await activeRestrictions(tdb.db, patientId),
      clientId,
    });
    if (plan.level === 'none') throw new Error('expected a granted plan');
    return plan;
  };
  const socialVisible = (plan: GrantedPlan) => decideResource(plan, { resourceType: 'Observation', status: 'final', categories: [SOCIAL] }).visible;

  test('IB-1 (d): a proxy restriction hides the category from that proxy only, never from the patient', async () => {
    const r = await createRestriction(tdb.db, valid('pat-a'));
    expect(r).toMatchObject({ patientId: 'pat-a', status: 'active', source: 'patient', requestedBy: 'acct-pat-a', requestedAt: T0, category: { ...SOCIAL, display: 'Social History' } });
    expect(socialVisible(await planFor('pat-a', { kind: 'proxy', account: 'acct-q' }))).toBe(false);
    expect(socialVisible(await planFor('pat-a', { kind: 'proxy', account: 'acct-other-proxy' }))).toBe(true);
    expect(socialVisible(await planFor('pat-a', { kind: 'self' }))).toBe(true);
    expect(socialVisible(await planFor('pat-b', { kind: 'proxy', account: 'acct-q' }))).toBe(true); // another patient's record
  });

  test('an app restriction hides the category from that app only', async () => {
    await createRestriction(tdb.db, valid('pat-app', { recipient: { kind: 'app', clientId: 'client-x' } }));
    expect(socialVisible(await planFor('pat-app', { kind: 'self' }, 'client-x'))).toBe(false);
    expect(socialVisible(await planFor('pat-app', { kind: 'self' }, 'client-y'))).toBe(true);
  });

  test('the same restriction twice is a conflict; a different type or recipient is not', async () => {
    await createRestriction(tdb.db, valid('pat-d'));
    await expectRejection(createRestriction(tdb.db, valid('pat-d', { at: later(1) })), 'duplicate', 409);
    await createRestriction(tdb.db, valid('pat-d', { resourceType: undefined }));
    await createRestriction(tdb.db, valid('pat-d', { recipient: { kind: 'app', clientId: 'acct-q' } }));
    expect(await activeRestrictions(tdb.db, 'pat-d')).toHaveLength(3);
  });

  test('ending applies at once, keeps the record, and happens once', async () => {
    const r = await createRestriction(tdb.db, valid('pat-e'));
    const ended = await endRestriction(tdb.db, { patientId: 'pat-e', id: r.id, endedBy: 'acct-pat-e', at: later(5) });
    expect(ended).toMatchObject({ status: 'ended', endedAt: later(5), endedBy: 'acct-pat-e' });
    expect(await activeRestrictions(tdb.db, 'pat-e')).toEqual([]);
    expect(socialVisible(await planFor('pat-e', { kind: 'proxy', account: 'acct-q' }))).toBe(true);
    expect((await listRestrictions(tdb.db, 'pat-e')).map((x) => x.status)).toEqual(['ended']);
    await expectRejection(endRestriction(tdb.db, { patientId: 'pat-e', id: r.id, endedBy: 'acct-pat-e', at: later(6) }), 'already-ended', 409);
    // A new identical restriction may follow the ended one.
    await createRestriction(tdb.db, valid('pat-e', { at: later(7) }));
  });

  test('a restriction is found only under its own patient', async () => {
    const r = await createRestriction(tdb.db, valid('pat-x'));
    expect(await getRestriction(tdb.db, 'pat-y', r.id)).toBeUndefined();
    await expectRejection(endRestriction(tdb.db, { patientId: 'pat-y', id: r.id, endedBy: 'acct', at: later(1) }), 'not-found', 404);
  });

  test('staff: refused without the patient request, recorded with it', async () => {
    await expectRejection(createRestriction(tdb.db, valid('pat-s', { source: 'staff_on_patient_request', requestedBy: 'acct-staff' })), 'patient-request-required', 400);
    expect(await listRestrictions(tdb.db, 'pat-s')).toEqual([]);
    const r = await createRestriction(tdb.db, valid('pat-s', { source: 'staff_on_patient_request', requestedBy: 'acct-staff', patientRequestRef: 'REQ-1' }));
    expect(r).toMatchObject({ source: 'staff_on_patient_request', patientRequestRef: 'REQ-1', requestedBy: 'acct-staff' });
  });

  test.each<[string, Record<string, unknown>]>([
    ['staff without a request reference', { source: 'staff_on_patient_request', patient_request_ref: null }],
    ['an app restriction naming a proxy too', { recipient_kind: 'app', client_id: 'c', proxy_account_id: 'p' }],
    ['an ended row without an end time', { status: 'ended' }],
    ['an unknown status', { status: 'paused' }],
  ])('the database itself refuses %s', async (_name, change) => {
    const row = {
      patient_id: 'pat-db',
      id: `r-${Math.random().toString(36).slice(2)}`,
      recipient_kind: 'proxy',
      proxy_account_id: 'acct-q',
      client_id: null,
      resource_type: null,
      category_system: SOCIAL.system,
      category_code: SOCIAL.code,
      requested_by: 'acct',
      requested_at: T0,
      source: 'patient',
      patient_request_ref: null,
      status: 'active',
      ...change,
    };
    await expect(tdb.db('patient_restriction').insert(row)).rejects.toThrow();
  });
});
