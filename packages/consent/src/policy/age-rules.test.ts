import { describe, expect, test } from '@jest/globals';
import {
  DEFAULT_AGE_RULES,
  ageAt,
  ageRulesFor,
  proxyAccessLevel,
  validateAgeRules,
  validateAgeRulesConfig,
  type DelegationFacts,
  type Relationship,
} from './age-rules.js';
import { PolicyConfigError } from './config-error.js';

const at = (iso: string) => new Date(iso);

describe('ageAt', () => {
  test.each([
    ['2014-06-15', '2026-06-15T00:00:00Z', 'UTC', 12], // the 12th birthday itself
    ['2014-06-15', '2026-06-14T23:59:59Z', 'UTC', 11], // one second before
    ['2008-06-15', '2026-06-15T12:00:00Z', 'UTC', 18],
    ['2008-06-15', '2026-06-14T12:00:00Z', 'UTC', 17],
    ['2008-02-29', '2026-02-28T12:00:00Z', 'UTC', 17], // leap-day birthday: not yet in a non-leap year…
    ['2008-02-29', '2026-03-01T00:00:00Z', 'UTC', 18], // …but on 1 March
    ['2008-02-29', '2028-02-29T00:00:00Z', 'UTC', 20], // and on the day itself in a leap year
    ['2008-02-29', '2028-02-28T23:59:59Z', 'UTC', 19],
    ['2010', '2022-01-01T00:00:00Z', 'UTC', 12], // partial date: earliest possible day (older)
    ['2010', '2021-12-31T23:59:59Z', 'UTC', 11],
    ['2010-05', '2022-05-01T00:00:00Z', 'UTC', 12],
    ['2010-05', '2022-04-30T23:59:59Z', 'UTC', 11],
    ['2014-06-15', '2026-06-15T03:00:00Z', 'America/Los_Angeles', 11], // still 14 June in California
    ['2014-06-15', '2026-06-15T07:00:00Z', 'America/Los_Angeles', 12],
    ['2014-06-15', '2026-06-14T22:30:00Z', 'Pacific/Auckland', 12], // already 15 June in New Zealand
    ['2026-06-16', '2026-06-15T12:00:00Z', 'UTC', -1], // not yet born
    ['2000-01-01', '2026-06-15T12:00:00Z', 'UTC', 26],
  ])('born %s, at %s (%s) → %i', (birth, when, tz, age) => {
    expect(ageAt(birth, at(when), tz)).toBe(age);
  });

  test.each(['2014-02-30', '2013-02-29', '2014-13-01', '2014-00-10', '15/06/2014', '', '2014-6-5', '2014-06-15T00:00:00Z'])('rejects %j', (birth) => {
    expect(() => ageAt(birth, at('2026-01-01T00:00:00Z'))).toThrow(RangeError);
  });
});

const active = (basis: DelegationFacts['basis'], extra: Partial<DelegationFacts> = {}): Relationship => ({
  kind: 'proxy',
  proxyAccountId: 'acct-q',
  delegation: { basis, status: 'active', accessLevel: 'full', startsAt: at('2020-01-01T00:00:00Z'), endsAt: null, ...extra },
});
const NOW = at('2026-06-15T12:00:00Z');
const CHILD = '2018-01-10'; // 8
const TEEN = '2011-03-02'; // 15
const ADULT = '1990-07-04';

describe('proxyAccessLevel', () => {
  test.each<[string, Relationship, string | undefined, string, string]>([
    ['self, any age', { kind: 'self' }, CHILD, 'full', 'self'],
    ['self, no birth date', { kind: 'self' }, undefined, 'full', 'self'],
    ['no relationship', { kind: 'none' }, CHILD, 'none', 'proxy-none'],
    ['parent of an 8-year-old', active('parent'), CHILD, 'full', 'proxy-minor'],
    ['guardian of an 8-year-old', active('guardian'), CHILD, 'full', 'proxy-minor'],
    ['caregiver of an 8-year-old', active('caregiver'), CHILD, 'full', 'proxy-minor'],
    ['parent of a 15-year-old', active('parent'), TEEN, 'limited', 'proxy-age-limited'],
    ['guardian of a 15-year-old', active('guardian'), TEEN, 'limited', 'proxy-age-limited'],
    ['poa of a 15-year-old', active('poa'), TEEN, 'limited', 'proxy-age-limited'],
    ['parent on the 12th birthday', active('parent'), '2014-06-15', 'limited', 'proxy-age-limited'],
    ['parent the day before the 12th birthday', active('parent'), '2014-06-16', 'full', 'proxy-minor'],
    ['parent on the 18th birthday', active('parent'), '2008-06-15', 'none', 'proxy-age-majority'],
    ['parent the day before the 18th birthday', active('parent'), '2008-06-16', 'limited', 'proxy-age-limited'],
    ['parent of an adult', active('parent'), ADULT, 'none', 'proxy-age-majority'],
    ['guardian on the 18th birthday, granted before it', active('guardian'), '2008-06-15', 'none', 'proxy-age-majority'],
    ['poa on the 18th birthday, granted before it', active('poa'), '2008-06-15', 'none', 'proxy-age-majority'],
    ['caregiver on the 18th birthday, granted before it', active('caregiver'), '2008-06-15', 'none', 'proxy-age-majority'],
    ['caregiver the day before the 18th birthday', active('caregiver'), '2008-06-16', 'limited', 'proxy-age-limited'],
    ['caregiver granted by the adult on the 18th birthday', active('caregiver', { startsAt: at('2026-06-15T09:00:00Z') }), '2008-06-15', 'full', 'proxy-adult'],
    ['guardian of an adult, granted while a minor', active('guardian', { startsAt: at('2000-01-01T00:00:00Z') }), ADULT, 'none', 'proxy-age-majority'],
    ['parent basis of an adult, whenever granted (the adult grants a caregiver delegation instead)', active('parent', { startsAt: at('2010-01-01T00:00:00Z') }), ADULT, 'none', 'proxy-age-majority'],
    ['guardian of an adult', active('guardian'), ADULT, 'full', 'proxy-adult'],
    ['poa for an adult', active('poa'), ADULT, 'full', 'proxy-adult'],
    ['caregiver of an adult', active('caregiver'), ADULT, 'full', 'proxy-adult'],
    ['caregiver of an adult, delegation limited', active('caregiver', { accessLevel: 'limited' }), ADULT, 'limited', 'proxy-delegation-limited'],
    ['parent of a child, delegation limited', active('parent', { accessLevel: 'limited' }), CHILD, 'limited', 'proxy-delegation-limited'],
    ['teen, delegation limited: the age reason wins', active('parent', { accessLevel: 'limited' }), TEEN, 'limited', 'proxy-age-limited'],
    ['suspended', active('parent', { status: 'suspended' }), CHILD, 'none', 'delegation-suspended'],
    ['revoked', active('caregiver', { status: 'revoked' }), ADULT, 'none', 'delegation-revoked'],
    ['expired status', active('guardian', { status: 'expired' }), ADULT, 'none', 'delegation-expired'],
    ['requested, not verified', active('parent', { status: 'requested' }), CHILD, 'none', 'delegation-not-active'],
    ['verified, not activated', active('parent', { status: 'verified' }), CHILD, 'none', 'delegation-not-active'],
    ['ends_at passed', active('caregiver', { endsAt: at('2026-06-15T11:59:59Z') }), ADULT, 'none', 'delegation-expired'],
    ['ends_at exactly now', active('caregiver', { endsAt: NOW }), ADULT, 'none', 'delegation-expired'],
    ['ends_at later', active('caregiver', { endsAt: at('2026-06-15T12:00:01Z') }), ADULT, 'full', 'proxy-adult'],
    ['starts later', active('caregiver', { startsAt: at('2026-06-16T00:00:00Z') }), ADULT, 'none', 'delegation-not-started'],
    ['starts now', active('caregiver', { startsAt: NOW }), ADULT, 'full', 'proxy-adult'],
    ['parent, birth date unknown', active('parent'), undefined, 'none', 'birth-date-unknown'],
    ['guardian, birth date malformed', active('guardian'), '2014-02-30', 'none', 'birth-date-unknown'],
    ['parent, patient not yet born', active('parent'), '2027-01-01', 'none', 'birth-date-unknown'],
    ['parent, partial birth date counts as older', active('parent'), '2014', 'limited', 'proxy-age-limited'],
  ])('%s', (_name, rel, birth, level, reason) => {
    expect(proxyAccessLevel(rel, birth, NOW, DEFAULT_AGE_RULES)).toEqual({ level, reason });
  });

  test('jurisdiction rules move the bands (e.g. limited from 13, majority at 19)', () => {
    const rules = validateAgeRules({ limitedProxyFromAge: 13, majorityAge: 19 });
    expect(proxyAccessLevel(active('parent'), '2014-06-15', NOW, rules)).toEqual({ level: 'full', reason: 'proxy-minor' });
    expect(proxyAccessLevel(active('parent'), '2013-06-15', NOW, rules)).toEqual({ level: 'limited', reason: 'proxy-age-limited' });
    expect(proxyAccessLevel(active('parent'), '2008-06-15', NOW, rules)).toEqual({ level: 'limited', reason: 'proxy-age-limited' });
    expect(proxyAccessLevel(active('parent'), '2007-06-15', NOW, rules)).toEqual({ level: 'none', reason: 'proxy-age-majority' });
  });

  test('the birthday follows the jurisdiction time zone', () => {
    const rules = validateAgeRules({ timeZone: 'America/New_York' });
    const justAfterUtcMidnight = at('2026-06-15T02:00:00Z'); // 14 June, 22:00 in New York
    expect(proxyAccessLevel(active('parent'), '2014-06-15', justAfterUtcMidnight, rules).level).toBe('full');
    expect(proxyAccessLevel(active('parent'), '2014-06-15', justAfterUtcMidnight, DEFAULT_AGE_RULES).level).toBe('limited');
  });
});

describe('age rules configuration', () => {
  test('defaults are 12 and 18', () => {
    expect(validateAgeRules(undefined)).toEqual({ limitedProxyFromAge: 12, majorityAge: 18, timeZone: 'UTC' });
    expect(validateAgeRules({})).toEqual(DEFAULT_AGE_RULES);
  });

  test.each<[unknown, string[]]>([
    [{ limitedProxyFromAge: 19 }, ['ageRules.limitedProxyFromAge: must not exceed majorityAge (18) (PRX-4)']],
    [{ majorityAge: 30 }, ['ageRules.majorityAge: expected an integer from 14 to 21, got 30']],
    [{ majorityAge: '18' }, ['ageRules.majorityAge: expected an integer from 14 to 21, got "18"']],
    [{ limitedProxyFromAge: -1 }, ['ageRules.limitedProxyFromAge: expected a non-negative integer, got -1']],
    [{ limitedProxyFromAge: 12.5 }, ['ageRules.limitedProxyFromAge: expected a non-negative integer, got 12.5']],
    [{ timeZone: 'Mars/Olympus' }, ['ageRules.timeZone: expected an IANA time zone, got "Mars/Olympus"']],
    [{ teenAge: 13 }, ['ageRules.teenAge: unknown setting']],
    [[12, 18], ['ageRules: expected an object']],
  ])('%j is refused', (raw, problems) => {
    try {
      validateAgeRules(raw);
      throw new Error('expected a PolicyConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyConfigError);
      expect((err as PolicyConfigError).problems).toEqual(problems);
    }
  });

  test('per-jurisdiction overrides inherit the default and are looked up by code', () => {
    const config = validateAgeRulesConfig({
      default: { timeZone: 'America/Chicago' },
      jurisdictions: { 'US-MS': { majorityAge: 21 }, 'US-AL': { majorityAge: 19, timeZone: 'America/Chicago' } },
    });
    expect(ageRulesFor(config, 'US-MS')).toEqual({ limitedProxyFromAge: 12, majorityAge: 21, timeZone: 'America/Chicago' });
    expect(ageRulesFor(config, 'US-TX')).toEqual({ limitedProxyFromAge: 12, majorityAge: 18, timeZone: 'America/Chicago' });
    expect(ageRulesFor(config, undefined)).toBe(config.default);
    expect(validateAgeRulesConfig(undefined)).toEqual({ default: DEFAULT_AGE_RULES, jurisdictions: {} });
  });

  test('every bad jurisdiction entry is reported at once', () => {
    try {
      validateAgeRulesConfig({ jurisdictions: { california: {}, 'US-CA': { majorityAge: 10 } }, extra: 1 });
      throw new Error('expected a PolicyConfigError');
    } catch (err) {
      expect((err as PolicyConfigError).problems).toEqual([
        'ageRules.extra: unknown setting',
        'ageRules.jurisdictions.california: expected an ISO 3166-2 code such as US-CA',
        'ageRules.jurisdictions.US-CA.majorityAge: expected an integer from 14 to 21, got 10',
      ]);
    }
  });
});
