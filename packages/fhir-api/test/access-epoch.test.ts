/**
 * The remembered request context and the access epoch that keeps it honest (consent migration
 * 202611260001, token-access.ts): every change to what a request's context is made of moves the
 * patient's epoch in the same transaction, and every PHI statement requires the epoch it was read
 * at. Changes are made here straight in the database, as another instance or an administrator
 * would, never through this process: nothing in memory is told.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt } from 'jose';
import type { Knex } from 'knex';
import { createRestriction, endRestriction, grantInForce, revokeAppGrant, statementsDuring, suspendDelegation } from '@patient-access/consent';
import { writeResources } from '../src/store/resource-writer.js';
import { LAB, MARIA, MARIA_ACCOUNT, usCoreFixtures } from './us-core-fixtures.js';
import { FHIR, createHarness, entryIds, type Harness } from './smart-harness.js';

let h: Harness;
let db: Knex;

beforeAll(async () => {
  h = await createHarness(usCoreFixtures(), [MARIA_ACCOUNT]);
  db = h.tdb.db;
});
afterAll(() => h?.destroy());

const epochOf = async (patientId: string): Promise<number> =>
  Number(((await db('access_epoch').where({ patient_id: patientId }).first()) as { epoch?: string } | undefined)?.epoch ?? 0);

/** A data-quality hold item on one resource, in force for the next day. */
const holdItem = (patientId: string, resourceId: string, resourceType = 'Observation') => ({
  patient_id: patientId,
  resource_type: resourceType,
  resource_id: resourceId,
  kind: 'data-quality',
  source_id: `dq-${resourceId}`,
  held_from: new Date(Date.now() - 60_000),
  release_at: new Date(Date.now() + 86_400_000),
});

const VITALS_CATEGORY = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' };
const LAB_CATEGORY = { system: LAB.coding[0]!.system, code: LAB.coding[0]!.code };

// Before the tests below suspend the teen's delegation.
describe("a grant is served only under its own account's delegation", () => {
  test('a grant row naming a delegation another account holds is denied, not served under it', async () => {
    const token = await h.launch({ user: MARIA, pick: 'teen' });
    const grantId = decodeJwt(token)['grant_id'] as string;
    expect(await grantInForce(db, grantId, new Date())).toMatchObject({ delegation: { id: expect.any(String) } });
    const maria = (await db('account').where({ username: 'maria' }).first()) as Record<string, unknown>;
    await db('account').insert({ ...maria, id: 'acct-other', username: 'other' });
    await db('app_grant').where({ id: grantId }).update({ account_id: 'acct-other' });
    expect(await grantInForce(db, grantId, new Date())).toEqual({ denied: 'delegation-inactive' });
  });
});

describe('the epoch moves with every change a request context is made of', () => {
  let grantId: string;
  let delegationId: string;
  beforeAll(async () => {
    const token = await h.launch({ user: MARIA, pick: 'teen' });
    grantId = decodeJwt(token)['grant_id'] as string;
    delegationId = ((await db('proxy_delegation').where({ patient_id: 'teen' }).first()) as { id: string }).id;
  });

  // [what changes, the patient whose epoch must move (undefined: none may), the change]
  test.each<[string, string | undefined, () => Promise<unknown>]>([
    ['the grant is stamped "last used" (nothing it allows changes)', undefined, () => db('app_grant').where({ id: grantId }).update({ last_used_at: new Date() })],
    ['the grant is narrowed', 'teen', () => db('app_grant').where({ id: grantId }).update({ scope: 'launch/patient patient/Observation.rs' })],
    ['the account is suspended', 'teen', () => db('account').where({ username: 'maria' }).update({ status: 'suspended' })],
    ['the account is reinstated', 'teen', () => db('account').where({ username: 'maria' }).update({ status: 'active' })],
    ['an unrelated account column changes', undefined, () => db('account').where({ username: 'maria' }).update({ failed_attempts: 1 })],
    ['the delegation is limited', 'teen', () => db('proxy_delegation').where({ id: delegationId }).update({ access_level: 'limited' })],
    ['the grant is revoked', 'teen', () => revokeAppGrant(db, grantId, 'test')],
    [
      'the delegation is suspended by a clinician',
      'teen',
      () =>
        suspendDelegation(db, {
          patientId: 'teen',
          delegationId,
          grounds: 'substantial_harm',
          decidedBy: 'Practitioner/prac-1',
          licenseAttestation: 'MD 12345',
          relationshipBasis: 'current',
          reason: 'documented determination',
          at: new Date(),
          reviewAt: new Date(Date.now() + 86_400_000),
        }),
    ],
    [
      'a restriction is recorded',
      'teen',
      () => createRestriction(db, { patientId: 'teen', recipient: { kind: 'app', clientId: 'any-app' }, category: VITALS_CATEGORY, requestedBy: 'acct-teen', source: 'patient', at: new Date() }),
    ],
    [
      'a restriction ends',
      'teen',
      async () => {
        const { id } = (await db('patient_restriction').where({ patient_id: 'teen', status: 'active' }).first()) as { id: string };
        return endRestriction(db, { patientId: 'teen', id, endedBy: 'acct-teen', at: new Date() });
      },
    ],
    ['the Patient resource is written again (birth date)', 'teen', () => db.transaction((trx) => writeResources(trx, [{ resourceType: 'Patient', id: 'teen', birthDate: '2000-01-01' }], { fhirBaseUrl: FHIR }))],
    ['another type of resource is written', undefined, () => db.transaction((trx) => writeResources(trx, [{ resourceType: 'Observation', id: 'teen-new', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/teen' } }], { fhirBaseUrl: FHIR }))],
    ['a hold item is placed', 'teen', () => db('release_hold_item').insert(holdItem('teen', 'teen-new'))],
    ['a hold item is released', 'teen', () => db('release_hold_item').where({ patient_id: 'teen' }).update({ released_at: new Date(), released_by: 'Practitioner/prac-1', release_reason: 'lifted' })],
    ['a hold item is removed', 'teen', () => db('release_hold_item').where({ patient_id: 'teen' }).delete()],
  ])('%s', async (_what, patient, change) => {
    const before = { teen: await epochOf('teen'), mom: await epochOf('mom') };
    await change();
    const after = { teen: await epochOf('teen'), mom: await epochOf('mom') };
    // Moved (one change may touch several rows: a suspension also ends the delegation's grants), or not at all.
    expect({ mom: after.mom, teenMoved: after.teen > before.teen }).toEqual({ mom: before.mom, teenMoved: patient === 'teen' });
  });
});

describe('a remembered context', () => {
  /** SELECTs naming the table while `run` runs (writes, e.g. the hourly "last used" stamp, are not reads of the context). */
  const statementsOn = async (table: string, run: () => Promise<unknown>): Promise<number> =>
    (await statementsDuring(db, run)).filter((sql) => /^select/i.test(sql) && sql.includes(`"${table}"`)).length;

  test('is read once, then served from memory while the epoch holds', async () => {
    const token = await h.launch({ user: MARIA, pick: 'self:mom' });
    expect(await statementsOn('app_grant', async () => expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200))).toBe(1);
    expect(await statementsOn('app_grant', async () => expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200))).toBe(0);
    expect(await statementsOn('app_grant', async () => expect(entryIds((await h.get(token, 'Observation?patient=mom')).body)).toEqual(['Observation/mom-hgb']))).toBe(0);
  });

  test('a restriction committed elsewhere applies to the next read and search; a change that hides nothing still answers in full', async () => {
    const token = await h.launch({ user: MARIA, pick: 'self:mom' });
    const clientId = decodeJwt(token)['client_id'] as string;
    expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200);

    // Vital signs restricted: the context changed, the lab result is still visible (answered again under the new context).
    await createRestriction(db, { patientId: 'mom', recipient: { kind: 'app', clientId }, category: VITALS_CATEGORY, requestedBy: 'acct-mom', source: 'patient', at: new Date() });
    expect(entryIds((await h.get(token, 'Observation?patient=mom')).body)).toEqual(['Observation/mom-hgb']);

    // Laboratory restricted: gone from read, search, count and $everything.
    const lab = await createRestriction(db, { patientId: 'mom', recipient: { kind: 'app', clientId }, category: LAB_CATEGORY, requestedBy: 'acct-mom', source: 'patient', at: new Date() });
    expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(404);
    const search = await h.get(token, 'Observation?patient=mom');
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(0);
    expect(entryIds((await h.get(token, 'Patient/mom/$everything')).body)).not.toContain('Observation/mom-hgb');

    // Ended: visible again at once.
    await endRestriction(db, { patientId: 'mom', id: lab.id, endedBy: 'acct-mom', at: new Date() });
    expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200);
    expect((await h.get(token, 'Observation?patient=mom&_summary=count')).body.total).toBe(1);
  });

  test('a patient without hold items is read without the hold check; a hold placed elsewhere withholds at once', async () => {
    const token = await h.launch({ user: MARIA, pick: 'self:mom' });
    expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200);
    const holdChecks = async (path: string) => (await statementsDuring(db, () => h.get(token, path))).filter((sql) => sql.includes('release_hold_item h where h.patient_id = r.patient_id')).length;
    expect(await holdChecks('Observation/mom-hgb')).toBe(0);

    await db('release_hold_item').insert(holdItem('mom', 'mom-hgb'));
    // Refused under the context read again, and logged with that context's reason, not the remembered one's.
    const requestId = randomUUID();
    expect((await h.get(token, 'Observation/mom-hgb', { 'X-Request-Id': requestId })).status).toBe(404);
    const [entry] = (await db('access_log').where({ request_id: requestId })) as { withheld: { ref: string; reason: string }[] | string }[];
    const withheld = typeof entry!.withheld === 'string' ? (JSON.parse(entry!.withheld) as { ref: string; reason: string }[]) : entry!.withheld;
    expect(withheld.map((w) => [w.ref, w.reason])).toEqual([['Observation/mom-hgb', 'data-quality-hold']]);
    expect((await h.get(token, 'Observation?patient=mom&_summary=count')).body.total).toBe(0);
    expect(entryIds((await h.get(token, 'Patient/mom/$everything')).body)).not.toContain('Observation/mom-hgb');
    // One statement: the page, and the access log's account of what the search withheld (AUD-1).
    expect(await holdChecks('Observation?patient=mom')).toBe(1);

    await db('release_hold_item').where({ patient_id: 'mom', resource_id: 'mom-hgb' }).update({ released_at: new Date(), released_by: 'Practitioner/prac-1', release_reason: 'lifted' });
    expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200);
    await db('release_hold_item').where({ patient_id: 'mom' }).delete();
  });

  test('a grant revoked elsewhere: the next read, search and $everything are 401 invalid_token', async () => {
    const token = await h.launch({ user: MARIA, pick: 'self:mom' });
    expect((await h.get(token, 'Observation/mom-hgb')).status).toBe(200);
    expect((await h.get(token, 'Patient/mom/$everything')).status).toBe(200);
    await revokeAppGrant(db, decodeJwt(token)['grant_id'] as string, 'revoked by another instance');
    for (const path of ['Observation/mom-hgb', 'Observation?patient=mom', 'Patient/mom/$everything', 'Patient/mom/$access-log']) {
      const res = await h.get(token, path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    }
  });

  test('a grant narrowed elsewhere: a type no longer granted is 403 on the next request', async () => {
    const token = await h.launch({ user: MARIA, pick: 'self:mom' });
    expect((await h.get(token, 'Condition?patient=mom')).status).toBe(200);
    await db('app_grant').where({ id: decodeJwt(token)['grant_id'] as string }).update({ scope: 'launch/patient openid fhirUser patient/Observation.rs' });
    expect((await h.get(token, 'Condition?patient=mom')).status).toBe(403);
    expect((await h.get(token, 'Observation?patient=mom')).status).toBe(200);
  });
});
