/**
 * REL-8: the portal (a first-party confidential client registered by an administrator) and a
 * third-party app registered openly get exactly the same data for the same person with equivalent
 * scopes: same matches, same includes, same counts, byte for byte. Release rules, holds, labels
 * and redaction take no client input, so the only differences allowed are the Bundle's own id,
 * timestamp and paging links (bound to each token's grant).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Resource } from '@medplum/fhirtypes';
import { placeDataQualityHold } from '@patient-access/consent';
import { registerClient } from '../../../scripts/src/admin/clients.js';
import { LAB, MARIA, MARIA_ACCOUNT, obs, usCoreFixtures, VITALS } from './us-core-fixtures.js';
import { createHarness, REDIRECT, type Harness } from './smart-harness.js';

const CONFIDENTIAL = { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] };

/** Results in every release state, a held one, a labelled note and a report naming them all. */
const extra: Resource[] = [
  obs('mom-final-2', 'mom', 'final', LAB, { effectiveDateTime: '2026-10-05' }),
  obs('mom-corrected', 'mom', 'corrected', LAB, { effectiveDateTime: '2026-10-06' }),
  obs('mom-error', 'mom', 'entered-in-error', LAB),
  obs('mom-registered', 'mom', 'registered', LAB),
  obs('mom-held', 'mom', 'final', LAB),
  obs('mom-bp', 'mom', 'final', VITALS),
  {
    resourceType: 'DiagnosticReport',
    id: 'mom-panel',
    status: 'final',
    category: [LAB],
    code: { text: 'panel' },
    subject: { reference: 'Patient/mom' },
    effectiveDateTime: '2026-10-06',
    result: ['mom-final-2', 'mom-corrected', 'mom-error', 'mom-registered', 'mom-held'].map((id) => ({ reference: `Observation/${id}` })),
  },
  { resourceType: 'DiagnosticReport', id: 'mom-prelim-report', status: 'preliminary', category: [LAB], code: { text: 'culture' }, subject: { reference: 'Patient/mom' } },
  { resourceType: 'DocumentReference', id: 'teen-note', status: 'current', meta: CONFIDENTIAL, subject: { reference: 'Patient/teen' }, content: [{ attachment: { contentType: 'text/plain', data: 'aGk=' } }] },
  { resourceType: 'DocumentReference', id: 'teen-visit', status: 'current', subject: { reference: 'Patient/teen' }, content: [{ attachment: { contentType: 'text/plain', data: 'aGk=' } }] },
] as Resource[];

const SEARCHES = {
  mom: [
    'Observation?patient=mom',
    'Observation?patient=mom&category=laboratory',
    'Observation?patient=mom&_summary=count',
    'Observation?patient=mom&_count=2',
    'DiagnosticReport?patient=mom',
    'DiagnosticReport?patient=mom&_include=DiagnosticReport:result',
    'DiagnosticReport?patient=mom&_revinclude=Provenance:target',
    'DocumentReference?patient=mom',
    'Observation/mom-final-2',
    'DiagnosticReport/mom-panel',
    'Patient/mom/$everything',
  ],
  teen: ['Observation?patient=teen', 'DiagnosticReport?patient=teen&_include=DiagnosticReport:result', 'DocumentReference?patient=teen', 'Condition?patient=teen', 'Patient/teen/$everything'],
};

let h: Harness;
const tokens: Record<'portal' | 'app', Record<'mom' | 'teen', string>> = { portal: { mom: '', teen: '' }, app: { mom: '', teen: '' } };

beforeAll(async () => {
  h = await createHarness([...usCoreFixtures(), ...extra], [MARIA_ACCOUNT]);
  await placeDataQualityHold(h.tdb.db, {
    patientId: 'mom',
    resources: [{ resourceType: 'Observation', resourceId: 'mom-held' }],
    problem: 'mismatched_patient',
    reason: 'specimen label check',
    placedBy: 'lab-supervisor',
    at: new Date(),
  });
  const portal = await registerClient(h.tdb.db, { name: 'Patient Portal', redirectUris: [REDIRECT], auth: 'secret' });
  const client = { clientId: portal.clientId, clientSecret: portal.clientSecret! };
  const scope = 'launch/patient openid fhirUser patient/*.rs';
  tokens.portal.mom = await h.launch({ user: MARIA, pick: 'self:mom', scope, client });
  tokens.app.mom = await h.launch({ user: MARIA, pick: 'self:mom', scope });
  tokens.portal.teen = await h.launch({ user: MARIA, pick: 'teen', scope, client });
  tokens.app.teen = await h.launch({ user: MARIA, pick: 'teen', scope });
});
afterAll(() => h?.destroy());

/** The response without what legitimately differs per token: the Bundle's id, timestamp and links. */
async function view(token: string, path: string): Promise<{ status: number; body: string }> {
  const res = await h.get(token, path);
  const body = res.body as Record<string, unknown>;
  if (body['resourceType'] === 'Bundle') {
    delete body['id'];
    delete body['meta'];
    delete body['link'];
  }
  return { status: res.status, body: JSON.stringify(body) };
}

describe('the portal and a third-party app see the same released data (REL-8)', () => {
  for (const who of ['mom', 'teen'] as const) {
    test(`${who === 'mom' ? 'her own record' : 'her 15-year-old son’s record, as his parent'}: identical responses`, async () => {
      for (const path of SEARCHES[who]) {
        const portal = await view(tokens.portal[who], path);
        const app = await view(tokens.app[who], path);
        expect([path, portal.status]).toEqual([path, 200]);
        expect([path, app.body]).toEqual([path, portal.body]);
      }
    });
  }

  test('the comparison is not vacuous: both saw the released results and neither saw the withheld ones', async () => {
    const { body } = await view(tokens.portal.mom, 'Observation?patient=mom&category=laboratory');
    const ids = (JSON.parse(body) as { entry: { resource: { id: string } }[] }).entry.map((e) => e.resource.id).sort();
    expect(ids).toEqual(['mom-corrected', 'mom-final-2', 'mom-hgb']);
    const panel = JSON.parse((await view(tokens.app.mom, 'DiagnosticReport/mom-panel')).body) as { result: { reference: string }[] };
    expect(panel.result.map((r) => r.reference)).toEqual(['Observation/mom-final-2', 'Observation/mom-corrected']);
    const teenDocs = JSON.parse((await view(tokens.app.teen, 'DocumentReference?patient=teen')).body) as { entry: { resource: { id: string } }[] };
    expect(teenDocs.entry.map((e) => e.resource.id)).toEqual(['teen-visit']);
  });
});
