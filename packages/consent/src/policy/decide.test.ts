import { describe, expect, test } from '@jest/globals';
import { accessPlan, type AccessPlan } from './access-plan.js';
import type { Relationship } from './age-rules.js';
import { REASON_RULES, decideResource, type ResourceFacts } from './decide.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM } from './labels.js';

const NOW = new Date('2026-06-15T12:00:00Z');
const TEEN = '2011-03-02';
const ADULT = '1990-07-04';
const proxy = (basis: 'parent' | 'guardian' | 'poa' | 'caregiver', extra: { accessLevel?: 'full' | 'limited'; id?: string } = {}): Relationship => ({
  kind: 'proxy',
  proxyAccountId: extra.id ?? 'acct-q',
  delegation: { basis, status: 'active', accessLevel: extra.accessLevel ?? 'full', startsAt: new Date('2020-01-01T00:00:00Z') },
});
const SELF: Relationship = { kind: 'self' };
const plan = (relationship: Relationship, birth = ADULT, more: Partial<Parameters<typeof accessPlan>[0]> = {}): AccessPlan =>
  accessPlan({ relationship, patientBirthDate: birth, at: NOW, ...more });

const LAB = [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }];
const SOCIAL = [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'social-history' }];
const R = { system: CONFIDENTIALITY_SYSTEM, code: 'R' };
const STD = { system: ACT_CODE_SYSTEM, code: 'STD' };
const lab = (f: Partial<ResourceFacts> = {}): ResourceFacts => ({ resourceType: 'Observation', status: 'final', categories: LAB, ...f });
const reason = (p: AccessPlan, f: ResourceFacts) => {
  const d = decideResource(p, f);
  return d.visible ? 'visible' : d.reason;
};

describe('decideResource', () => {
  test.each<[string, AccessPlan, ResourceFacts, string]>([
    // PRX-3 (d): the teen sees everything; the parent sees the immunization but not the labelled STI test.
    ['teen, labelled STI test', plan(SELF, TEEN), lab({ securityLabels: [STD, R] }), 'visible'],
    ['parent of teen, labelled STI test', plan(proxy('parent'), TEEN), lab({ securityLabels: [STD, R] }), 'proxy-age-limited'],
    ['parent of teen, immunization', plan(proxy('parent'), TEEN), { resourceType: 'Immunization', status: 'completed' }, 'visible'],
    ['parent of teen, report whose result is labelled', plan(proxy('parent'), TEEN), { resourceType: 'DiagnosticReport', status: 'final', referencesHidden: true }, 'references-hidden'],
    ['parent of teen, Provenance of a labelled resource', plan(proxy('parent'), TEEN), { resourceType: 'Provenance', referencesHidden: true }, 'references-hidden'],
    ['teen, the same report', plan(SELF, TEEN), { resourceType: 'DiagnosticReport', status: 'final', referencesHidden: true }, 'visible'],
    ['limited by code only (label without system): fail closed', plan(proxy('parent'), TEEN), lab({ securityLabels: [{ code: 'R' }] }), 'proxy-age-limited'],
    ['label N is not hidden', plan(proxy('parent'), TEEN), lab({ securityLabels: [{ system: CONFIDENTIALITY_SYSTEM, code: 'N' }] }), 'visible'],
    ['R from another system is not v3 R', plan(proxy('parent'), TEEN), lab({ securityLabels: [{ system: 'http://example.org/x', code: 'R' }] }), 'visible'],
    ['adult caregiver with a limited delegation', plan(proxy('caregiver', { accessLevel: 'limited' })), lab({ securityLabels: [R] }), 'proxy-delegation-limited'],
    // REL-7 (d): final report, final O1, preliminary O2 with releasePreliminary off.
    ['REL-7 report R (final)', plan(SELF), { resourceType: 'DiagnosticReport', status: 'final' }, 'visible'],
    ['REL-7 O1 (final)', plan(SELF), lab(), 'visible'],
    ['REL-7 O2 (preliminary)', plan(SELF), lab({ status: 'preliminary' }), 'release-status'],
    ['REL-7 O2 once amended to final', plan(SELF), lab({ status: 'amended' }), 'visible'],
    ['preliminary shown when configured', plan(SELF, ADULT, { releasePolicy: { releasePreliminary: true } }), lab({ status: 'preliminary' }), 'visible'],
    ['partial report shown when configured', plan(SELF, ADULT, { releasePolicy: { releasePreliminary: true } }), { resourceType: 'DiagnosticReport', status: 'partial' }, 'visible'],
    ['partial report hidden by default', plan(SELF), { resourceType: 'DiagnosticReport', status: 'partial' }, 'release-status'],
    ['appended report', plan(SELF), { resourceType: 'DiagnosticReport', status: 'appended' }, 'visible'],
    ['result without a status is not released', plan(SELF), lab({ status: undefined }), 'release-status'],
    ['unknown status is not released', plan(SELF), lab({ status: 'unknown' }), 'release-status'],
    ['a registered vital sign is not a result', plan(SELF), { resourceType: 'Observation', status: 'registered', categories: SOCIAL }, 'visible'],
    // REL-4: entered-in-error is never shown as valid, result or not.
    ['entered-in-error lab', plan(SELF), lab({ status: 'entered-in-error' }), 'entered-in-error'],
    ['entered-in-error DocumentReference', plan(SELF), { resourceType: 'DocumentReference', status: 'entered-in-error' }, 'entered-in-error'],
    ['current DocumentReference (not a result)', plan(SELF), { resourceType: 'DocumentReference', status: 'current' }, 'visible'],
    // Holds.
    ['harm hold on the patient', plan(SELF), lab({ activeHolds: [{ kind: 'harm', harmType: 'life_or_physical_safety' }] }), 'harm-hold'],
    ['harm hold without a type binds everyone', plan(SELF), lab({ activeHolds: [{ kind: 'harm' }] }), 'harm-hold'],
    ['substantial-harm hold: not for the patient (REL-2)', plan(SELF), lab({ activeHolds: [{ kind: 'harm', harmType: 'substantial_harm' }] }), 'visible'],
    ['substantial-harm hold: binds a representative (PRX-5)', plan(proxy('guardian')), lab({ activeHolds: [{ kind: 'harm', harmType: 'substantial_harm' }] }), 'harm-hold'],
    ['data-quality hold on a report', plan(SELF), { resourceType: 'DiagnosticReport', status: 'final', activeHolds: [{ kind: 'data-quality' }] }, 'data-quality-hold'],
    ['patient delay binds a caregiver too', plan(proxy('caregiver')), lab({ activeHolds: [{ kind: 'patient-delay' }] }), 'patient-delay'],
    ['legal hold', plan(SELF), lab({ activeHolds: [{ kind: 'legal' }] }), 'legal-hold'],
    ['holds apply to non-results (a note)', plan(SELF), { resourceType: 'DocumentReference', status: 'current', activeHolds: [{ kind: 'harm' }] }, 'harm-hold'],
    ['legal wins over harm, harm over data quality, data quality over patient delay', plan(SELF), lab({ activeHolds: [{ kind: 'patient-delay' }, { kind: 'data-quality' }, { kind: 'harm' }, { kind: 'legal' }] }), 'legal-hold'],
    ['harm over patient delay', plan(SELF), lab({ activeHolds: [{ kind: 'patient-delay' }, { kind: 'harm' }] }), 'harm-hold'],
    ['data quality over patient delay', plan(SELF), lab({ activeHolds: [{ kind: 'patient-delay' }, { kind: 'data-quality' }] }), 'data-quality-hold'],
    ['release status before holds', plan(SELF), lab({ status: 'registered', activeHolds: [{ kind: 'legal' }] }), 'release-status'],
    ['entered-in-error before labels', plan(proxy('parent'), TEEN), lab({ status: 'entered-in-error', securityLabels: [R] }), 'entered-in-error'],
    ['labels before release status', plan(proxy('parent'), TEEN), lab({ status: 'preliminary', securityLabels: [R] }), 'proxy-age-limited'],
    // Denied plans.
    ['no relationship', plan({ kind: 'none' }), lab(), 'proxy-none'],
    ['parent of an adult', plan(proxy('parent')), lab(), 'proxy-age-majority'],
  ])('%s → %s', (_name, p, facts, expected) => {
    expect(reason(p, facts)).toBe(expected);
  });

  describe('restrictions (IB-1 (d))', () => {
    const restrictions = [{ id: 'r1', recipient: { kind: 'proxy' as const, proxyAccountId: 'acct-q' }, resourceType: 'Observation', category: SOCIAL[0]! }];
    const smoking: ResourceFacts = { resourceType: 'Observation', status: 'final', categories: SOCIAL };
    test('proxy Q does not get social history', () => {
      expect(reason(plan(proxy('caregiver'), ADULT, { restrictions }), smoking)).toBe('restriction');
    });
    test('the patient still does', () => {
      expect(reason(plan(SELF, ADULT, { restrictions }), smoking)).toBe('visible');
    });
    test('another proxy still does', () => {
      expect(reason(plan(proxy('caregiver', { id: 'acct-z' }), ADULT, { restrictions }), smoking)).toBe('visible');
    });
    test('other categories and other types are unaffected', () => {
      const p = plan(proxy('caregiver'), ADULT, { restrictions });
      expect(reason(p, lab())).toBe('visible');
      expect(reason(p, { resourceType: 'Condition', categories: SOCIAL })).toBe('visible');
    });
    test('what references a restricted resource is hidden from Q', () => {
      expect(reason(plan(proxy('caregiver'), ADULT, { restrictions }), { resourceType: 'Provenance', referencesHidden: true })).toBe('references-hidden');
    });
  });

  test('every hidden decision carries the rule behind its reason', () => {
    const d = decideResource(plan(SELF), lab({ activeHolds: [{ kind: 'patient-delay' }] }));
    expect(d).toEqual({ visible: false, reason: 'patient-delay', rule: 'REL-5' });
    expect(REASON_RULES['harm-hold']).toBe('REL-2');
    expect(REASON_RULES['legal-hold']).toBe('REL-6');
    expect(REASON_RULES['proxy-age-limited']).toBe('PRX-3');
    expect(REASON_RULES['restriction']).toBe('IB-1');
  });

  test('plans are channel-free, so portal and app decisions are identical (REL-8)', () => {
    const facts = [lab(), lab({ status: 'preliminary' }), lab({ securityLabels: [R] }), lab({ activeHolds: [{ kind: 'harm' }] })];
    for (const rel of [SELF, proxy('parent')]) {
      const portal = plan(rel, TEEN, { clientId: 'portal' });
      const app = plan(rel, TEEN, { clientId: 'some-app' });
      expect(facts.map((f) => decideResource(app, f))).toEqual(facts.map((f) => decideResource(portal, f)));
    }
  });
});
