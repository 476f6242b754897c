import { describe, expect, test } from '@jest/globals';
import { accessPlan, type AccessPlanInput, type GrantedPlan, type Restriction } from './access-plan.js';
import type { Relationship } from './age-rules.js';
import { ACT_CODE_SYSTEM, CONFIDENTIALITY_SYSTEM } from './labels.js';

const NOW = new Date('2026-06-15T12:00:00Z');
const proxy = (basis: 'parent' | 'guardian' | 'poa' | 'caregiver', proxyAccountId = 'acct-q'): Relationship => ({
  kind: 'proxy',
  proxyAccountId,
  delegation: { basis, status: 'active', accessLevel: 'full', startsAt: new Date('2020-01-01T00:00:00Z') },
});
const granted = (input: AccessPlanInput): GrantedPlan => {
  const plan = accessPlan(input);
  if (plan.level === 'none') throw new Error(`expected a granted plan, got ${plan.reason}`);
  return plan;
};

const social = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'social-history' };
const restrictions: Restriction[] = [
  { id: 'r1', recipient: { kind: 'proxy', proxyAccountId: 'acct-q' }, resourceType: 'Observation', category: social },
  { id: 'r2', recipient: { kind: 'proxy', proxyAccountId: 'acct-other' }, category: social },
  { id: 'r3', recipient: { kind: 'app', clientId: 'app-y' }, category: { code: 'mental-health' } },
];

describe('accessPlan', () => {
  test('the patient: full, nothing hidden by label, only life-or-safety harm holds bind', () => {
    const plan = granted({ relationship: { kind: 'self' }, patientBirthDate: '2011-03-02', at: NOW });
    expect(plan).toMatchObject({ level: 'full', levelReason: 'self', hiddenSecurityLabels: [], hideReferencesToHidden: false, restrictions: [] });
    expect(plan.holds).toEqual(['harm', 'data-quality', 'patient-delay', 'legal']);
    expect(plan.harmTypes).toEqual(['life_or_physical_safety']);
    expect(plan.neverVisibleStatuses).toEqual(['entered-in-error']);
    expect(plan.releasedStatuses).toEqual({ Observation: ['final', 'amended', 'corrected', 'appended'], DiagnosticReport: ['final', 'amended', 'corrected', 'appended'] });
  });

  test('a parent of a teen: limited, confidentiality and sensitivity labels hidden, and whatever references them (PRX-3)', () => {
    const plan = granted({ relationship: proxy('parent'), patientBirthDate: '2011-03-02', at: NOW });
    expect(plan.level).toBe('limited');
    expect(plan.levelReason).toBe('proxy-age-limited');
    expect(plan.hideReferencesToHidden).toBe(true);
    for (const code of ['R', 'V']) expect(plan.hiddenSecurityLabels).toContainEqual({ system: CONFIDENTIALITY_SYSTEM, code });
    for (const code of ['ETH', 'PSY', 'MH', 'HIV', 'STD', 'SDV', 'SEX', 'SUD']) expect(plan.hiddenSecurityLabels).toContainEqual({ system: ACT_CODE_SYSTEM, code });
    expect(plan.hiddenSecurityLabels).not.toContainEqual({ system: CONFIDENTIALITY_SYSTEM, code: 'N' });
    expect(plan.harmTypes).toEqual(['life_or_physical_safety', 'substantial_harm']); // PRX-5 binds representatives
  });

  test('a parent of a young child: full, but substantial-harm holds still bind the parent, and Part 2 records need the consent (IB-2)', () => {
    const plan = granted({ relationship: proxy('parent'), patientBirthDate: '2018-01-10', at: NOW });
    const part2 = [
      { system: ACT_CODE_SYSTEM, code: '42CFRPart2' },
      { system: 'http://hl7.org/fhir/v3/ActCode', code: '42CFRPart2' },
    ];
    expect(plan).toMatchObject({ level: 'full', levelReason: 'proxy-minor', hiddenSecurityLabels: part2, consentRequiredLabels: part2, hideReferencesToHidden: true });
    expect(granted({ relationship: proxy('parent'), patientBirthDate: '2018-01-10', at: NOW, consentRequiredLabels: [] })).toMatchObject({ hiddenSecurityLabels: [], hideReferencesToHidden: false });
    expect(plan.harmTypes).toContain('substantial_harm');
  });

  test.each([
    ['no relationship', { kind: 'none' } as Relationship, '2018-01-10', 'proxy-none'],
    ['parent of an adult', proxy('parent'), '1990-01-01', 'proxy-age-majority'],
  ])('%s: denied plan with the reason', (_n, relationship, birth, reason) => {
    expect(accessPlan({ relationship, patientBirthDate: birth, at: NOW })).toEqual({ level: 'none', reason });
  });

  test('releasePreliminary widens the released statuses (REL-7)', () => {
    const plan = granted({ relationship: { kind: 'self' }, at: NOW, releasePolicy: { releasePreliminary: true } });
    expect(plan.releasedStatuses.Observation).toContain('preliminary');
    expect(plan.releasedStatuses.DiagnosticReport).toEqual(expect.arrayContaining(['partial', 'preliminary']));
  });

  test('REL-8: the plan does not depend on the channel; portal and a third-party app get equal plans', () => {
    for (const relationship of [{ kind: 'self' } as Relationship, proxy('parent'), proxy('caregiver')]) {
      const portal = accessPlan({ relationship, patientBirthDate: '2011-03-02', at: NOW, clientId: 'portal' });
      const app = accessPlan({ relationship, patientBirthDate: '2011-03-02', at: NOW, clientId: 'third-party-app' });
      const none = accessPlan({ relationship, patientBirthDate: '2011-03-02', at: NOW });
      expect(app).toEqual(portal);
      expect(none).toEqual(portal);
    }
  });

  describe('restrictions (IB-1)', () => {
    test('a restriction naming proxy Q applies to Q only', () => {
      const q = granted({ relationship: proxy('caregiver', 'acct-q'), patientBirthDate: '1990-01-01', at: NOW, restrictions });
      expect(q.restrictions).toEqual([{ id: 'r1', resourceType: 'Observation', category: social }]);
      expect(q.hideReferencesToHidden).toBe(true);
      const other = granted({ relationship: proxy('caregiver', 'acct-z'), patientBirthDate: '1990-01-01', at: NOW, restrictions });
      expect(other.restrictions).toEqual([]);
    });

    test("proxy restrictions never touch the patient's own access", () => {
      const self = granted({ relationship: { kind: 'self' }, patientBirthDate: '1990-01-01', at: NOW, restrictions });
      expect(self.restrictions).toEqual([]);
      expect(self.hideReferencesToHidden).toBe(false);
    });

    test('a restriction naming app Y applies to tokens issued to Y', () => {
      const viaY = granted({ relationship: { kind: 'self' }, patientBirthDate: '1990-01-01', at: NOW, restrictions, clientId: 'app-y' });
      expect(viaY.restrictions.map((r) => r.id)).toEqual(['r3']);
      const viaPortal = granted({ relationship: { kind: 'self' }, patientBirthDate: '1990-01-01', at: NOW, restrictions, clientId: 'portal' });
      expect(viaPortal.restrictions).toEqual([]);
    });

    test('a denied plan carries no restrictions', () => {
      expect(accessPlan({ relationship: { kind: 'none' }, at: NOW, restrictions })).toEqual({ level: 'none', reason: 'proxy-none' });
    });
  });

  test('the plan is frozen data (safe to cache per request)', () => {
    const plan = granted({ relationship: proxy('parent'), patientBirthDate: '2011-03-02', at: NOW });
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.hiddenSecurityLabels)).toBe(true);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });
});
