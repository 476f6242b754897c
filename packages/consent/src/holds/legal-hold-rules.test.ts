import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { consentMigrations } from '../migrations/index.js';
import { createReleaseHolds } from '../migrations/202611230002_create_release_holds.js';
import { createTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { placeConditionalHolds, recordReleaseEvent, type ResultArrival } from './conditional-holds.js';
import { HoldValidationError } from './errors.js';
import { listActiveHoldItems } from './hold-items.js';
import { createLegalHoldRule, disableLegalHoldRule, enableLegalHoldRule, getLegalHoldRule, validateLegalHoldRule, type LegalHoldRuleInput } from './legal-hold-rules.js';

const migrations = consentMigrations.includes(createReleaseHolds) ? consentMigrations : [...consentMigrations, createReleaseHolds];
const T0 = new Date('2026-06-15T12:00:00Z');
const later = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);
const LOINC = 'http://loinc.org';
const HIV_AB = { system: LOINC, code: '56888-1' }; // HIV 1+2 Ab + HIV1 p24 Ag
const CBC = { system: LOINC, code: '58410-2' };

// Placeholder values (REL-6 (d)); counsel supplies the real codes and periods.
const caRule = (extra: Partial<LegalHoldRuleInput> = {}): LegalHoldRuleInput => ({
  jurisdiction: 'US-CA',
  description: 'HIV antibody results are discussed before electronic release (placeholder)',
  codes: [HIV_AB],
  condition: 'until_discussed',
  maxDurationHours: 14 * 24,
  citation: 'Cal. Health & Safety Code § 123148',
  effectiveFrom: new Date('2026-01-01T00:00:00Z'),
  expiresAt: new Date('2027-01-01T00:00:00Z'),
  ...extra,
});

describe('validateLegalHoldRule (REL-6)', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['no citation', { citation: '' }, 'citation-required'],
    ['blank citation', { citation: '   ' }, 'citation-required'],
    ['no codes', { codes: [] }, 'code-set-required'],
    ['"all"', { codes: [{ system: LOINC, code: 'all' }] }, 'code-set-required'],
    ['wildcard code', { codes: [{ system: LOINC, code: '*' }] }, 'code-set-required'],
    ['wildcard system', { codes: [{ system: '*', code: '56888-1' }] }, 'code-set-required'],
    ['code without system', { codes: [{ code: '56888-1' }] }, 'code-set-required'],
    ['by category', { category: 'laboratory' }, 'code-set-required'],
    ['no maximum', { maxDurationHours: 0 }, 'rule-duration-required'],
    ['no expiry', { expiresAt: undefined }, 'rule-expiry-required'],
    ['expiry before start', { expiresAt: new Date('2025-01-01T00:00:00Z') }, 'rule-expiry-required'],
    ['no jurisdiction', { jurisdiction: 'California' }, 'jurisdiction-required'],
    ['unknown condition', { condition: 'until_reviewed' }, 'invalid-input'],
  ])('%s → %s', (_n, change, code) => {
    try {
      validateLegalHoldRule({ ...caRule(), ...change } as LegalHoldRuleInput);
      throw new Error('expected a refusal');
    } catch (err) {
      expect(err).toBeInstanceOf(HoldValidationError);
      expect([(err as HoldValidationError).code, (err as HoldValidationError).rule, (err as Error).message.includes('REL-6')]).toEqual([code, 'REL-6', true]);
    }
  });
});

describe('legal hold rules on a real database', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(migrations);
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  const result = (patientId: string, id: string, code: { system: string; code: string }, jurisdiction: string | undefined, at: Date): ResultArrival => ({
    patientId,
    resourceType: 'Observation',
    resourceId: id,
    categories: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }],
    codes: [code],
    ...(jurisdiction ? { jurisdiction } : {}),
    at,
  });
  const held = async (patientId: string, at: Date) => (await listActiveHoldItems(tdb.db, patientId, at)).map((i) => i.resourceId);

  test('no rule ships enabled: a created rule holds nothing until enabled', async () => {
    const rule = await createLegalHoldRule(tdb.db, caRule(), { createdBy: 'counsel@example.org', at: T0 });
    expect(rule).toMatchObject({ enabled: false, codes: [HIV_AB], citation: 'Cal. Health & Safety Code § 123148' });
    expect(await placeConditionalHolds(tdb.db, result('pat-ca-0', 'o-hiv', HIV_AB, 'US-CA', later(1)))).toEqual([]);
  });

  test('REL-6 (d): HIV result in CA held until discussed (max 14 d); CBC not; another state not', async () => {
    const rule = await createLegalHoldRule(tdb.db, caRule(), { createdBy: 'counsel@example.org', at: T0 });
    await enableLegalHoldRule(tdb.db, { ruleId: rule.id, enabledBy: 'privacy-officer', at: T0 });
    const items = await placeConditionalHolds(tdb.db, result('pat-ca', 'o-hiv', HIV_AB, 'US-CA', later(1)));
    expect(items.map((i) => [i.kind, i.sourceId, i.condition, i.releaseAt])).toEqual([['legal', rule.id, 'until_discussed', later(1 + 14 * 24)]]);
    expect(await placeConditionalHolds(tdb.db, result('pat-ca', 'o-cbc', CBC, 'US-CA', later(1)))).toEqual([]);
    expect(await placeConditionalHolds(tdb.db, result('pat-tx', 'o-hiv', HIV_AB, 'US-TX', later(1)))).toEqual([]);
    expect(await placeConditionalHolds(tdb.db, result('pat-unknown', 'o-hiv', HIV_AB, undefined, later(1)))).toEqual([]);
    // Same code in a different system is not the rule's code (code sets are exact).
    expect(await placeConditionalHolds(tdb.db, result('pat-ca', 'o-local', { system: 'http://example.org/local', code: '56888-1' }, 'US-CA', later(1)))).toEqual([]);
    expect(await held('pat-ca', later(2))).toEqual(['o-hiv']);

    // A clinician's review alone does not satisfy "until discussed"; the discussion does.
    expect(await recordReleaseEvent(tdb.db, { patientId: 'pat-ca', resourceType: 'Observation', resourceId: 'o-hiv', event: 'clinician-released', by: 'Practitioner/prac-1', at: later(3) })).toBe(0);
    expect(await recordReleaseEvent(tdb.db, { patientId: 'pat-ca', resourceType: 'Observation', resourceId: 'o-hiv', event: 'discussed', by: 'Practitioner/prac-1', at: later(4) })).toBe(1);
    expect(await held('pat-ca', later(4))).toEqual([]);

    // Never discussed → released at the maximum.
    await placeConditionalHolds(tdb.db, result('pat-ca-2', 'o-hiv', HIV_AB, 'US-CA', later(5)));
    expect(await held('pat-ca-2', later(5 + 14 * 24 - 0.001))).toEqual(['o-hiv']);
    expect(await held('pat-ca-2', later(5 + 14 * 24))).toEqual([]);
  });

  test('a hold never outlives its rule, and disabling the rule releases everything at once', async () => {
    const rule = await createLegalHoldRule(tdb.db, caRule({ jurisdiction: 'US-NV', condition: 'max_duration', expiresAt: later(48) }), { createdBy: 'counsel', at: T0 });
    await enableLegalHoldRule(tdb.db, { ruleId: rule.id, enabledBy: 'privacy-officer', at: T0 });
    const [item] = await placeConditionalHolds(tdb.db, result('pat-exp', 'o-hiv', HIV_AB, 'US-NV', later(1)));
    expect(item!.releaseAt).toEqual(later(48));
    await placeConditionalHolds(tdb.db, result('pat-exp-2', 'o-hiv', HIV_AB, 'US-NV', later(2)));
    expect(await held('pat-exp-2', later(3))).toEqual(['o-hiv']);
    const disabled = await disableLegalHoldRule(tdb.db, { ruleId: rule.id, disabledBy: 'privacy-officer', at: later(3) });
    expect(disabled).toMatchObject({ enabled: false, disabledAt: later(3) });
    expect(await held('pat-exp', later(3))).toEqual([]);
    expect(await held('pat-exp-2', later(3))).toEqual([]);
    // Rules past their expiry neither hold new results nor can be re-enabled.
    await expect(enableLegalHoldRule(tdb.db, { ruleId: rule.id, enabledBy: 'x', at: later(48) })).rejects.toMatchObject({ code: 'rule-expired', status: 409 });
  });

  test('the database refuses a rule without a citation or with "all" codes even if the validator is bypassed', async () => {
    const base = { jurisdiction: 'US-CA', description: 'd', condition: 'max_duration', max_duration_hours: 1, effective_from: T0, expires_at: later(1), created_by: 'x', created_at: T0 };
    await expect(tdb.db('legal_hold_rule').insert({ ...base, id: 'r-no-cite', citation: ' ' })).rejects.toThrow();
    await tdb.db('legal_hold_rule').insert({ ...base, id: 'r-ok', citation: 'statute' });
    await expect(tdb.db('legal_hold_rule_code').insert({ rule_id: 'r-ok', system: LOINC, code: 'ALL' })).rejects.toThrow();
    expect(await getLegalHoldRule(tdb.db, 'r-ok')).toMatchObject({ enabled: false, codes: [] });
  });
});
