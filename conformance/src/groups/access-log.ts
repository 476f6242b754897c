/**
 * Our own addition: the patient's access log as FHIR AuditEvent (AUD-3). After the Single Patient
 * API tests have read a patient's record, `AuditEvent?patient=<id>` with that patient's token
 * must list those accesses, naming resources the suite received; each entry reads by id; and
 * another patient's log is out of reach by search and by id.
 */
import { expectStatus, headerProblem } from '../checks.js';
import { asBundle, entries, type FhirResource } from '../fhir.js';
import { jsonObject } from '../http.js';
import { ensure, test, type GroupDef, type TestContext } from '../runner.js';
import type { Suite } from '../suite.js';
import type { UsCoreState } from './uscore.js';

interface Entity {
  what?: { reference?: string };
}

/** A patient with a token and data the suite has read, and that patient's log (newest first). */
async function ownLog(suite: Suite, state: UsCoreState, t: TestContext, which = 0): Promise<{ patientId: string; token: string; events: FhirResource[] }> {
  const withData = state.patients.filter((p) => (suite.seen.get(p) ?? []).length > 0 && state.tokens.has(p));
  const patientId = withData[which];
  if (!patientId) t.skip(which ? 'needs a second patient with a token and data' : 'needs a patient with a token and data (Single Patient API set-up)', { lackOfData: true });
  const token = state.tokens.get(patientId)!;
  const res = await suite.fhir(t, token).search('AuditEvent', [['patient', patientId], ['_count', '100']]);
  expectStatus(res, 200);
  const noStore = headerProblem(res.headers, 'cache-control', 'no-store');
  ensure(!noStore, `AuditEvent search: ${noStore}`);
  return { patientId, token, events: entries(asBundle(res)) };
}

export function accessLogGroup(suite: Suite, state: UsCoreState): GroupDef {
  return {
    id: 'access-log',
    title: 'The access log as AuditEvent',
    description: "The patient reads who accessed the record, as AuditEvent resources: AuditEvent?patient=<own id> and AuditEvent/<id>, never another patient's.",
    tests: [
      test('access-log-search', "AuditEvent?patient=<own id> lists the suite's reads of the record", async (t: TestContext) => {
        const { patientId, events } = await ownLog(suite, state, t);
        ensure(events.length > 0, `no AuditEvent for Patient/${patientId}, whose record the suite has read`);
        const others = events.filter((e) => e.resourceType !== 'AuditEvent').map((e) => `${e.resourceType}/${e.id}`);
        ensure(others.length === 0, `not AuditEvents: ${others.slice(0, 5).join(', ')}`);
        const read = new Set((suite.seen.get(patientId) ?? []).map((r) => `${r.resourceType}/${r.id}`));
        const named = events.flatMap((e) => ((e['entity'] as Entity[] | undefined) ?? []).map((x) => x.what?.reference ?? ''));
        ensure(named.some((ref) => read.has(ref)), `none of ${events.length} AuditEvents names a resource the suite received for Patient/${patientId}`);
        const recorded = events.map((e) => Date.parse(String(e['recorded'])));
        ensure(recorded.every((v, i) => !Number.isNaN(v) && (i === 0 || v <= recorded[i - 1]!)), 'entries are not newest first with a recorded instant each');
        t.evidence('entries on the first page', events.length);
      }),
      test('access-log-read', 'An AuditEvent of the list reads by id', async (t: TestContext) => {
        const { token, events } = await ownLog(suite, state, t);
        const first = events[0];
        if (!first?.id) t.skip('no AuditEvent listed', { lackOfData: true });
        const res = await suite.fhir(t, token).read('AuditEvent', first.id);
        expectStatus(res, 200);
        const body = jsonObject(res);
        ensure(body?.['resourceType'] === 'AuditEvent' && body['id'] === first.id, `AuditEvent/${first.id} read back a different resource`);
      }),
      test('access-log-cross-patient', "Another patient's log is out of reach, by search and by id", async (t: TestContext) => {
        const a = await ownLog(suite, state, t, 0);
        const b = await ownLog(suite, state, t, 1);
        const fhir = suite.fhir(t, a.token);
        const problems: string[] = [];
        for (const value of [b.patientId, `Patient/${b.patientId}`]) {
          const res = await fhir.search('AuditEvent', [['patient', value]]);
          const leaked = entries(asBundle(res)).filter((e) => b.events.some((x) => x.id === e.id));
          if (res.status === 200 && leaked.length) problems.push(`AuditEvent?patient=${value} returned ${leaked.length} of Patient/${b.patientId}'s entries`);
        }
        for (const e of b.events.slice(0, 3)) {
          const res = await fhir.read('AuditEvent', e.id!);
          if (res.status === 200) problems.push(`AuditEvent/${e.id} (Patient/${b.patientId}'s) was returned to Patient/${a.patientId}'s token`);
        }
        ensure(problems.length === 0, problems.join('; '));
      }),
    ],
  };
}
