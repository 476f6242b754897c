import { describe, expect, test } from '@jest/globals';
import { WITHHELD_EXCEPTIONS } from '../audit/access-log-types.js';
import { accessPlan, type AccessPlan, type AccessPlanInput, type DisclosureConsent } from './access-plan.js';
import type { Relationship } from './age-rules.js';
import { PART2_LABEL, parseConsentRequiredLabels } from './consent-required-labels.js';
import { REASON_RULES, decideResource, type ResourceFacts } from './decide.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM, type Coding } from './labels.js';

const NOW = new Date('2026-06-15T12:00:00Z');
const ADULT = '1990-07-04';
const CHILD = '2018-01-10'; // 8
const TEEN = '2011-03-02'; // 15
const proxy = (basis: 'parent' | 'guardian' | 'poa' | 'caregiver', o: { id?: string; accessLevel?: 'full' | 'limited' } = {}): Relationship => ({
  kind: 'proxy',
  proxyAccountId: o.id ?? 'acct-q',
  delegation: { basis, status: 'active', accessLevel: o.accessLevel ?? 'full', startsAt: new Date('2020-01-01T00:00:00Z') },
});
const SELF: Relationship = { kind: 'self' };
const STATE_LAW: Coding = { system: 'urn:oid:2.16.840.1.113883.3.1', code: 'STATE-CONSENT' };
const SUD = { system: ACT_CODE_SYSTEM, code: 'SUD' };
const R = { system: CONFIDENTIALITY_SYSTEM, code: 'R' };
const NEXT_YEAR = new Date('2027-06-15T12:00:00Z');
const consent = (proxyAccountId: string, label: Coding = PART2_LABEL, expiresAt: Date = NEXT_YEAR): DisclosureConsent => ({ id: `c-${proxyAccountId}-${label.code}`, proxyAccountId, label, expiresAt });
const plan = (relationship: Relationship, birth: string, more: Partial<AccessPlanInput> = {}): AccessPlan => accessPlan({ relationship, patientBirthDate: birth, at: NOW, ...more });
const condition = (securityLabels: Coding[]): ResourceFacts => ({ resourceType: 'Condition', securityLabels });
const part2 = condition([PART2_LABEL]);
const decided = (p: AccessPlan, f: ResourceFacts) => {
  const d = decideResource(p, f);
  return d.visible ? 'visible' : d.reason;
};

describe('IB-2 (45 CFR 171.202(b)): consent-required labels hide from proxies until the patient consents', () => {
  test.each<[string, AccessPlan, ResourceFacts, string]>([
    // IB-2 (d): returned to the patient; hidden from a proxy with no recorded consent; visible after it.
    ['the patient herself', plan(SELF, ADULT), part2, 'visible'],
    ['the patient through an app she authorized', plan(SELF, ADULT, { clientId: 'app-1' }), part2, 'visible'],
    ['the patient, even with no consent on record and other labels configured', plan(SELF, ADULT, { consentRequiredLabels: [PART2_LABEL, STATE_LAW] }), condition([STATE_LAW]), 'visible'],
    ['caregiver of an adult, no consent', plan(proxy('caregiver'), ADULT), part2, 'consent-required'],
    ['power of attorney, no consent', plan(proxy('poa'), ADULT), part2, 'consent-required'],
    ['guardian, no consent', plan(proxy('guardian'), ADULT), part2, 'consent-required'],
    ['parent of a child under 12 (full access), no consent', plan(proxy('parent'), CHILD), part2, 'consent-required'],
    ['caregiver with the patient\u2019s consent', plan(proxy('caregiver'), ADULT, { disclosureConsents: [consent('acct-q')] }), part2, 'visible'],
    ['caregiver whose consent was revoked (no longer in force)', plan(proxy('caregiver'), ADULT, { disclosureConsents: [] }), part2, 'consent-required'],
    ['a consent naming another proxy does not count', plan(proxy('caregiver'), ADULT, { disclosureConsents: [consent('acct-other')] }), part2, 'consent-required'],
    [
      'a consent for another label does not count',
      plan(proxy('caregiver'), ADULT, { consentRequiredLabels: [PART2_LABEL, STATE_LAW], disclosureConsents: [consent('acct-q', STATE_LAW)] }),
      part2,
      'consent-required',
    ],
    ['a configured state-law label, no consent', plan(proxy('caregiver'), ADULT, { consentRequiredLabels: [PART2_LABEL, STATE_LAW] }), condition([STATE_LAW]), 'consent-required'],
    ['an unlabelled resource', plan(proxy('caregiver'), ADULT), condition([]), 'visible'],
    ['the label under the pre-R4 system (fail-closed)', plan(proxy('caregiver'), ADULT), condition([{ system: 'http://hl7.org/fhir/v3/ActCode', code: '42CFRPart2' }]), 'consent-required'],
    ['the label without a system (fail-closed)', plan(proxy('caregiver'), ADULT), condition([{ code: '42CFRPart2' }]), 'consent-required'],
    ['the same code under a foreign system is not Part 2', plan(proxy('caregiver'), ADULT), condition([{ system: 'http://example.org/x', code: '42CFRPart2' }]), 'visible'],
    ['a deployment that requires no consent', plan(proxy('caregiver'), ADULT, { consentRequiredLabels: [] }), part2, 'visible'],
    // A limited (12–17) proxy keeps its own rule: a consent cannot lift PRX-3, and that reason wins when both apply.
    ['parent of a teen, Part 2 + SUD, no consent', plan(proxy('parent'), TEEN), condition([PART2_LABEL, SUD]), 'proxy-age-limited'],
    ['parent of a teen, Part 2 + SUD, with the teen\u2019s consent', plan(proxy('parent'), TEEN, { disclosureConsents: [consent('acct-q')] }), condition([PART2_LABEL, SUD]), 'proxy-age-limited'],
    ['parent of a teen, Part 2 only, no consent', plan(proxy('parent'), TEEN), part2, 'consent-required'],
    ['parent of a teen, Part 2 only, with the teen\u2019s consent', plan(proxy('parent'), TEEN, { disclosureConsents: [consent('acct-q')] }), part2, 'visible'],
    ['parent of a teen, a restricted label only', plan(proxy('parent'), TEEN), condition([R]), 'proxy-age-limited'],
    ['an adult\u2019s limited delegation, Part 2 + R', plan(proxy('caregiver', { accessLevel: 'limited' }), ADULT), condition([PART2_LABEL, R]), 'proxy-delegation-limited'],
    ['a configured label the limit hides anyway stays the limit\u2019s', plan(proxy('parent'), TEEN, { consentRequiredLabels: [SUD] }), condition([SUD]), 'proxy-age-limited'],
    // What references a hidden Part 2 resource is hidden too (plan rule 4), until the consent.
    ['an Encounter naming a Part 2 diagnosis, no consent', plan(proxy('caregiver'), ADULT), { resourceType: 'Encounter', referencesHidden: true }, 'references-hidden'],
    ['an entered-in-error Part 2 resource stays entered-in-error', plan(proxy('caregiver'), ADULT), { ...part2, status: 'entered-in-error' }, 'entered-in-error'],
  ])('%s → %s', (_name, p, facts, expected) => {
    expect(decided(p, facts)).toBe(expected);
  });

  // 42 CFR 2.31(a)(6): a consent counts only while the request's instant is before its expiry.
  const ms = (n: number) => new Date(NOW.getTime() + n);
  test.each<[string, Partial<AccessPlanInput>, string]>([
    ['expiring a year after the request', { disclosureConsents: [consent('acct-q', PART2_LABEL, NEXT_YEAR)] }, 'visible'],
    ['expiring 1 ms after the request', { disclosureConsents: [consent('acct-q', PART2_LABEL, ms(1))] }, 'visible'],
    ['expiring at the very instant of the request', { disclosureConsents: [consent('acct-q', PART2_LABEL, NOW)] }, 'consent-required'],
    ['expired 1 ms before the request', { disclosureConsents: [consent('acct-q', PART2_LABEL, ms(-1))] }, 'consent-required'],
    ['expired a year before the request', { disclosureConsents: [consent('acct-q', PART2_LABEL, new Date('2025-06-15T12:00:00Z'))] }, 'consent-required'],
    ['an expiry that is not a valid instant never counts', { disclosureConsents: [consent('acct-q', PART2_LABEL, new Date(Number.NaN))] }, 'consent-required'],
    ['an expired consent beside one in force for the same label', { disclosureConsents: [consent('acct-q', PART2_LABEL, ms(-1)), consent('acct-q', PART2_LABEL, NEXT_YEAR)] }, 'visible'],
    [
      'one label’s consent expired, another’s in force: only that label opens',
      { consentRequiredLabels: [PART2_LABEL, STATE_LAW], disclosureConsents: [consent('acct-q', PART2_LABEL, ms(-1)), consent('acct-q', STATE_LAW, NEXT_YEAR)] },
      'consent-required',
    ],
    ['another proxy’s consent in force does not count', { disclosureConsents: [consent('acct-other', PART2_LABEL, NEXT_YEAR), consent('acct-q', PART2_LABEL, ms(-1))] }, 'consent-required'],
  ])('a consent %s → %s', (_name, more, expected) => {
    expect(decided(plan(proxy('caregiver'), ADULT, more), part2)).toBe(expected);
  });

  test('the same consent, judged before, at and after its expiry (the plan is recomputed at each request)', () => {
    const expiresAt = new Date('2026-09-01T00:00:00-07:00');
    const at = (iso: string) => decided(accessPlan({ relationship: proxy('caregiver'), patientBirthDate: ADULT, at: new Date(iso), disclosureConsents: [consent('acct-q', PART2_LABEL, expiresAt)] }), part2);
    expect([at('2026-08-31T23:59:59.999-07:00'), at('2026-09-01T07:00:00Z'), at('2026-09-01T07:00:00.001Z')]).toEqual(['visible', 'consent-required', 'consent-required']);
    expect(decided(accessPlan({ relationship: SELF, patientBirthDate: ADULT, at: new Date('2030-01-01T00:00:00Z'), disclosureConsents: [] }), part2)).toBe('visible');
  });

  test.each<[string, AccessPlan, boolean]>([
    ['the patient', plan(SELF, ADULT), false],
    ['a proxy without consent', plan(proxy('caregiver'), ADULT), true],
    ['a proxy with consent', plan(proxy('caregiver'), ADULT, { disclosureConsents: [consent('acct-q')] }), false],
    ['a proxy whose consent has expired', plan(proxy('caregiver'), ADULT, { disclosureConsents: [consent('acct-q', PART2_LABEL, NOW)] }), true],
  ])('plan for %s: hides what references the hidden labels: %s', (_name, p, hides) => {
    if (p.level === 'none') throw new Error('expected a granted plan');
    expect(p.hideReferencesToHidden).toBe(hides);
    expect(p.consentRequiredLabels.length > 0).toBe(hides);
  });

  test('the reason names IB-2 and the precondition-not-satisfied exception', () => {
    expect(REASON_RULES['consent-required']).toBe('IB-2');
    expect(WITHHELD_EXCEPTIONS['consent-required']).toBe('privacy_precondition');
    const d = decideResource(plan(proxy('caregiver'), ADULT), part2);
    expect(d).toEqual({ visible: false, reason: 'consent-required', rule: 'IB-2' });
  });

  test('a plan is the same for every channel (REL-8) and frozen', () => {
    const viaPortal = plan(proxy('caregiver'), ADULT, { clientId: 'portal' });
    expect(plan(proxy('caregiver'), ADULT, { clientId: 'app' })).toEqual(viaPortal);
    if (viaPortal.level === 'none') throw new Error('expected a granted plan');
    expect(Object.isFrozen(viaPortal.consentRequiredLabels)).toBe(true);
    expect(Object.isFrozen(viaPortal.hiddenSecurityLabels)).toBe(true);
  });
});

describe('parseConsentRequiredLabels', () => {
  test('system|code entries, or none', () => {
    expect(parseConsentRequiredLabels(`${ACT_CODE_SYSTEM}|42CFRPart2`)).toEqual([PART2_LABEL]);
    expect(parseConsentRequiredLabels(' none ')).toEqual([]);
  });
  test.each(['42CFRPart2', '|42CFRPart2', `${ACT_CODE_SYSTEM}|`, 'mailto:x|A', `${ACT_CODE_SYSTEM}|a b`, ''])('refuses %j', (text) => {
    expect(() => parseConsentRequiredLabels(text)).toThrow(/expected system\|code/);
  });
});
