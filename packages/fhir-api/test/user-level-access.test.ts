/**
 * User-level authorizations: an app asking for user/ scopes and no patient context, approved by a
 * person who may act for several patients (her own record, her young child's, her teenager's),
 * gets one token covering each of them, each under her own grant, plan and epoch, and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { createRestriction, endDelegation, narrowAppGrant, parseScopes, revokeAppGrant } from '@patient-access/consent';
import { fixtureResources, observation, patient } from './fixtures.js';
import { createHarness, entryIds, teenBirthDate, type Harness, type HarnessAccount } from './smart-harness.js';

const ANA: HarnessAccount = { username: 'ana', password: 'correct horse battery', secret: 'JBSWY3DPEHPK3PXP', fhirUser: 'Patient/p1', patientId: 'p1', parentOf: ['kid', 'teen'] };
const OTHER: HarnessAccount = { username: 'other', password: 'correct horse battery', secret: 'JBSWY3DPEHPK3PXQ', fhirUser: 'Patient/p2', patientId: 'p2' };
const VITALS = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' };
const USER_SCOPES = 'openid fhirUser offline_access user/Patient.rs user/Observation.rs user/AuditEvent.rs';

let h: Harness;

beforeAll(async () => {
  h = await createHarness(
    [
      ...fixtureResources(),
      patient('kid', 'Núñez', 'Leo', `${new Date().getUTCFullYear() - 6}-02-01`),
      patient('teen', 'Núñez', 'Sol', teenBirthDate()),
      observation('kid-obs', 'kid'),
      observation('teen-obs', 'teen'),
      // PRX-3: labelled sensitive (behavioural health), so her parent never sees it.
      observation('teen-private', 'teen', { security: 'BH' }),
    ],
    [ANA, OTHER],
  );
});

afterAll(async () => {
  await h.destroy();
});

const launch = (o: { patients?: string[]; scope?: string } = {}) => h.launch({ user: ANA, scope: o.scope ?? USER_SCOPES, ...(o.patients ? { patients: o.patients } : {}) });
const rowsOf = async (token: string) => (decodeJwt(token)['patient_grants'] as { patient: string; grant: string }[]) ?? [];

describe('a user-level authorization', () => {
  it('offers everyone the person may act for, and its token names each with her own grant and no single patient', async () => {
    const token = await launch();
    expect(h.lastOfferedPatients).toEqual(['p1', 'kid', 'teen']);
    expect(h.lastTokenResponse['patient']).toBeUndefined();
    expect(h.lastTokenResponse['need_patient_banner']).toBeUndefined();
    const claims = decodeJwt(token);
    expect(claims['patient']).toBeUndefined();
    expect(claims['fhirUser']).toMatch(/\/Patient\/p1$/);
    const rows = await rowsOf(token);
    expect(rows.map((r) => r.patient)).toEqual(['p1', 'kid', 'teen']);
    // One app grant per patient, each naming the authorization, each delegated one its delegation.
    const stored = (await h.tdb.db('app_grant').whereIn('id', rows.map((r) => r.grant)).orderBy('authorization_position')) as { patient_id: string; authorization_id: string; delegation_id: string | null }[];
    expect(stored.map((r) => [r.patient_id, r.authorization_id, r.delegation_id !== null])).toEqual([
      ['p1', claims['grant_id'], false],
      ['kid', claims['grant_id'], true],
      ['teen', claims['grant_id'], true],
    ]);
  });

  it('reads each covered patient by id, under that patient\'s own limits, and nobody else', async () => {
    const token = await launch();
    for (const path of ['Observation/o1-00', 'Observation/kid-obs', 'Observation/teen-obs', 'Patient/kid', 'Patient/teen']) {
      expect([path, (await h.get(token, path)).status]).toEqual([path, 200]);
    }
    // Another patient's, and what the teenager's parent may not see: the answer for a missing id.
    const missing = await h.get(token, 'Observation/no-such-id');
    for (const path of ['Observation/o2-a', 'Patient/p2', 'Observation/teen-private']) {
      const res = await h.get(token, path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body.issue[0].details.text).toBe(missing.body.issue[0].details.text.replace('Observation/no-such-id', path));
    }
    // AUD-1: the refusal of the teenager's labelled result is in her log, with its reason.
    const refused = await h.get(token, 'Observation/teen-private');
    await h.accessLog.flush();
    const entries = (await h.tdb.db('access_log').where({ request_id: String(refused.headers['x-request-id']) }).select('patient_id', 'withheld')) as { patient_id: string; withheld: unknown }[];
    expect(entries.map((e) => e.patient_id)).toEqual(['teen']);
    const withheld = (typeof entries[0]!.withheld === 'string' ? JSON.parse(entries[0]!.withheld) : entries[0]!.withheld) as { ref: string }[];
    expect(withheld.map((w) => w.ref)).toEqual(['Observation/teen-private']);
  });

  it('searches the patient a search names; a compartment search that names none is refused, not guessed', async () => {
    const token = await launch();
    expect(entryIds((await h.get(token, 'Observation?patient=kid')).body)).toEqual(['Observation/kid-obs']);
    expect(entryIds((await h.get(token, 'Observation?patient=Patient/teen')).body)).toEqual(['Observation/teen-obs']);
    // Her preliminary result is not released (REL-7): 13 of her 14 observations.
    expect((await h.get(token, 'Observation?patient=p1')).body.total).toBe(13);
    // Not covered: nothing, like any search of another patient's record.
    const other = await h.get(token, 'Observation?patient=p2');
    expect([other.status, other.body.total]).toEqual([200, 0]);
    const unnamed = await h.get(token, 'Observation?category=laboratory');
    expect([unnamed.status, unnamed.body.issue[0].details.coding[0].code]).toEqual([400, 'PATIENT_REQUIRED']);
    const two = await h.get(token, 'Observation?patient=kid,teen');
    expect([two.status, two.body.issue[0].details.coding[0].code]).toEqual([400, 'PATIENT_REQUIRED']);
  });

  it('pages a patient\'s search with next links that stay with that patient', async () => {
    const token = await launch();
    const ids: string[] = [];
    let path: string | undefined = 'Observation?patient=p1&_count=5';
    while (path) {
      const res = await h.get(token, path);
      expect(res.status).toBe(200);
      ids.push(...entryIds(res.body));
      const next = (res.body.link as { relation: string; url: string }[]).find((l) => l.relation === 'next')?.url;
      path = next?.slice(next.indexOf('/fhir/') + '/fhir/'.length);
    }
    expect(ids).toHaveLength(13);
    expect(ids.every((id) => id.startsWith('Observation/o1-'))).toBe(true);
  });

  it('lists the covered patients on a Patient search, and writes the access in each one\'s log', async () => {
    const token = await launch();
    const res = await h.get(token, 'Patient');
    expect(res.status).toBe(200);
    expect(entryIds(res.body)).toEqual(['Patient/kid', 'Patient/p1', 'Patient/teen']);
    expect(res.body.total).toBe(3);
    expect(entryIds((await h.get(token, 'Patient?_id=kid,p2')).body)).toEqual(['Patient/kid']);
    expect(entryIds((await h.get(token, 'Patient?_id=kid')).body)).toEqual(['Patient/kid']);
    // A count discloses too: logged in each counted patient's log.
    const counted = await h.get(token, 'Patient?_summary=count');
    expect(counted.body.total).toBe(3);
    await h.accessLog.flush();
    const countEntries = (await h.tdb.db('access_log').where({ request_id: String(counted.headers['x-request-id']), action: 'search' }).select('patient_id')) as { patient_id: string }[];
    expect(countEntries.map((e) => e.patient_id).sort()).toEqual(['kid', 'p1', 'teen']);
    // The first patient's context changed since it was remembered, and nobody matches: an empty page, logged in her log.
    const clientId = String(decodeJwt(token)['client_id']);
    await createRestriction(h.tdb.db, { patientId: 'p1', recipient: { kind: 'app', clientId }, category: VITALS, requestedBy: 'acct-ana', source: 'patient', at: new Date() });
    const none = await h.get(token, 'Patient?name=Nobody');
    expect([none.status, none.body.total]).toEqual([200, 0]);
    await h.accessLog.flush();
    const requestId = String(res.headers['x-request-id']);
    const entries = (await h.tdb.db('access_log').where({ request_id: requestId, action: 'search' }).select('patient_id', 'returned_ids')) as { patient_id: string; returned_ids: string[] }[];
    expect(entries.map((e) => [e.patient_id, e.returned_ids]).sort()).toEqual([
      ['kid', ['Patient/kid']],
      ['p1', ['Patient/p1']],
      ['teen', ['Patient/teen']],
    ]);
  });

  it('answers $everything and the access log for each covered patient, and 404 for others', async () => {
    const token = await launch();
    const kid = await h.get(token, 'Patient/kid/$everything');
    expect(kid.status).toBe(200);
    expect(entryIds(kid.body)).toEqual(['Observation/kid-obs', 'Patient/kid']);
    expect((await h.get(token, 'Patient/p2/$everything')).status).toBe(404);
    const log = await h.get(token, 'AuditEvent?patient=kid');
    expect(log.status).toBe(200);
    expect(log.body.total).toBeGreaterThan(0);
    const entry = (log.body.entry as { resource: { id: string } }[])[0]!.resource.id;
    expect((await h.get(token, `AuditEvent/${entry}`)).status).toBe(200);
    expect((await h.get(token, 'AuditEvent')).status).toBe(400);
  });

  it('needs at least one person ticked', async () => {
    await expect(launch({ patients: [] })).rejects.toThrow('consent screen refused: Choose at least one person whose record the app may read.');
  });

  it('covers only the people left ticked on the consent screen', async () => {
    const token = await launch({ patients: ['kid'] });
    expect((await rowsOf(token)).map((r) => r.patient)).toEqual(['kid']);
    expect((await h.get(token, 'Observation/kid-obs')).status).toBe(200);
    expect((await h.get(token, 'Observation/o1-00')).status).toBe(404);
    expect(entryIds((await h.get(token, 'Patient')).body)).toEqual(['Patient/kid']);
  });

  it('a patient/ or launch/patient request is still one patient\'s, picked; a person with one record gets hers', async () => {
    const own = await h.launch({ user: OTHER, scope: USER_SCOPES });
    expect(decodeJwt(own)['patient']).toBe('p2');
    expect(h.lastOfferedPatients).toEqual([]);
    const picked = await h.launch({ user: ANA, scope: `launch/patient ${USER_SCOPES}`, pick: 'kid' });
    expect(decodeJwt(picked)['patient']).toBe('kid');
    expect((await h.get(picked, 'Observation/o1-00')).status).toBe(404);
  });

  it('one patient narrowing her part leaves the others\' as they were, the first patient\'s included', async () => {
    const token = await launch();
    const rows = await rowsOf(token);
    // The first covered patient keeps demographics and her access log only: no observations.
    await narrowAppGrant(h.tdb.db, rows.find((r) => r.patient === 'p1')!.grant, parseScopes('user/Patient.rs user/AuditEvent.rs').scopes);
    expect((await h.get(token, 'Observation/kid-obs')).status).toBe(200);
    expect(entryIds((await h.get(token, 'Observation?patient=kid')).body)).toEqual(['Observation/kid-obs']);
    // Hers: as for a resource outside what the token covers.
    expect((await h.get(token, 'Observation/o1-00')).status).toBe(404);
    const own = await h.get(token, 'Observation?patient=p1');
    expect([own.status, own.body.issue[0].details.coding[0].code]).toEqual([403, 'INSUFFICIENT_SCOPE']);
    expect(entryIds((await h.get(token, 'Patient')).body)).toEqual(['Patient/kid', 'Patient/p1', 'Patient/teen']);
  });

  it('a refresh covers the patients still in force; revoking the token ends every patient\'s part', async () => {
    const token = await launch();
    const clientId = String(decodeJwt(token)['client_id']);
    const rows = await rowsOf(token);
    await revokeAppGrant(h.tdb.db, rows.find((r) => r.patient === 'kid')!.grant, 'test');
    const refresh = await request(h.app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: h.lastTokenResponse['refresh_token'], client_id: clientId });
    expect(refresh.status).toBe(200);
    const renewed = String(refresh.body.access_token);
    expect((await rowsOf(renewed)).map((r) => r.patient)).toEqual(['p1', 'teen']);
    expect(refresh.body.patient).toBeUndefined();

    // Introspection: active, no single patient, while any patient's part is in force.
    const introspect = async (token: string) => (await request(h.app).post('/auth/token/introspection').type('form').send({ token, client_id: clientId })).body as Record<string, unknown>;
    const live = await introspect(renewed);
    expect([live['active'], live['patient'], live['fhirUser']]).toEqual([true, undefined, expect.stringMatching(/\/Patient\/p1$/)]);

    const revoked = await request(h.app).post('/auth/token/revocation').type('form').send({ token: renewed, client_id: clientId });
    expect(revoked.status).toBe(200);
    const left = (await h.tdb.db('app_grant').where({ authorization_id: decodeJwt(token)['grant_id'] }).select('status')) as { status: string }[];
    expect(left.map((r) => r.status)).toEqual(['revoked', 'revoked', 'revoked']);
    const after = await h.get(renewed, 'Observation/teen-obs');
    expect(after.status).toBe(401);
    expect((await introspect(renewed))['active']).toBe(false);
  });
  it('one patient\'s part ends alone: her row revoked, her delegation ended; the others go on', async () => {
    const token = await launch();
    const rows = await rowsOf(token);
    await revokeAppGrant(h.tdb.db, rows.find((r) => r.patient === 'kid')!.grant, 'test: revoked on the connected-apps page');
    expect((await h.get(token, 'Observation/kid-obs')).status).toBe(404);
    const named = await h.get(token, 'Observation?patient=kid');
    expect([named.status, named.body.issue[0].details.coding[0].code]).toEqual([403, 'INSUFFICIENT_SCOPE']);
    expect((await h.get(token, 'Observation/teen-obs')).status).toBe(200);
    expect(entryIds((await h.get(token, 'Patient')).body)).toEqual(['Patient/p1', 'Patient/teen']);

    // The first covered patient's part ending leaves the rest too.
    await revokeAppGrant(h.tdb.db, rows.find((r) => r.patient === 'p1')!.grant, 'test: revoked by the patient');
    expect((await h.get(token, 'Observation/o1-00')).status).toBe(404);
    expect((await h.get(token, 'Observation/teen-obs')).status).toBe(200);

    // PRX-6: the teenager's delegation ends: a search naming her says so; nothing is left at all.
    const teenDelegation = (await h.tdb.db('app_grant').where({ id: rows.find((r) => r.patient === 'teen')!.grant }).first('delegation_id')) as { delegation_id: string };
    await endDelegation(h.tdb.db, 'teen', teenDelegation.delegation_id, 'revoked', 'test: the teenager withdrew it');
    const ended = await h.get(token, 'Observation/teen-obs');
    expect(ended.status).toBe(403);
    expect(ended.body.issue[0].details.coding[0].code).toBe('PROXY_SCOPE_EXCEEDED');

    // A refresh now covers no one: refused (RFC 6749 invalid_grant).
    const refresh = await request(h.app)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: h.lastTokenResponse['refresh_token'], client_id: decodeJwt(token)['client_id'] });
    expect([refresh.status, refresh.body.error]).toEqual([400, 'invalid_grant']);
  });

});
