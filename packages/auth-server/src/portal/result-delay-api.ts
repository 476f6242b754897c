/**
 * The patient's own delays of their results over HTTP (REL-5), on the store in
 * packages/consent/src/holds/patient-delays.ts. For the signed-in patient, or a representative
 * whose delegation is in force (`?patient=` / `patientId` names the record; default: one's own):
 *   GET    /v1/portal/result-delays[?patient=ID]       the record's delay preferences, with how many results each holds now
 *   POST   /v1/portal/result-delays                    { patientId?, scope: { kind: 'category', category: { system?, code } }
 *                                                      | { kind: 'order', orderId }, condition: { kind: 'after_duration', hours }
 *                                                      | { kind: 'until_clinician_release' }, maxHours } → 201
 *   DELETE /v1/portal/result-delays/{id}[?patient=ID]  cancel: everything it holds is released at once
 * A preference holds results that reach the record after it is set (never re-hides one already
 * shown); every change is in the record's access log.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { activeHoldItemWhere, cancelPatientDelay, createPatientDelay, getPatientDelay, listPatientDelays, type Account, type DelayRequester, type Logger, type NewPatientDelay, type PatientDelay } from '@patient-access/consent';
import { ApiError, jsonBody, signedInAccount } from './api-support.js';
import { concernedRecord, type ConcernedRecord, type RecordAccessDeps } from './record-access.js';

export interface ResultDelayApiDeps extends RecordAccessDeps {
  log: Logger;
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' });
const FIELDS = new Set(['patientId', 'scope', 'condition', 'maxHours']);

export function resultDelayRouter(deps: ResultDelayApiDeps): Router {
  const { db, now, log } = deps;
  const router = new Router();

  const record = async (account: Account, asked: unknown): Promise<ConcernedRecord> => {
    if (asked !== undefined && typeof asked !== 'string') throw new ApiError(400, 'PATIENT_REQUIRED', 'patientId must be a patient id');
    const r = await concernedRecord(deps, account, asked);
    if (!r) throw new ApiError(404, 'RECORD_NOT_FOUND', 'No such record among those you can act on');
    return r;
  };
  // REL-5, PRX-1, PRX-3: a delay withholds results from the patient too, so only the patient or
  // a personal representative treated as the patient may set or cancel one: not a patient-granted
  // caregiver, nor a parent whose access the age rules limit (the teen's own results are his).
  const representative = (r: ConcernedRecord): ConcernedRecord => {
    if (!r.self && (r.basis === 'caregiver' || r.level !== 'full'))
      throw new ApiError(403, 'NOT_PERSONAL_REPRESENTATIVE', "Only the patient or their personal representative with full access can set or cancel a delay of the patient's results");
    return r;
  };
  const requester = (account: Account, r: ConcernedRecord): DelayRequester =>
    r.self ? { kind: 'patient', accountId: account.id } : { kind: 'proxy', accountId: account.id, delegationId: r.delegationId };
  const heldNow = async (patientId: string): Promise<Map<string, number>> => {
    const active = activeHoldItemWhere(now(), 'release_hold_item');
    const rows = (await db('release_hold_item')
      .where({ patient_id: patientId, kind: 'patient-delay' })
      .whereRaw(active.sql, active.bindings)
      .groupBy('source_id')
      .select('source_id')
      .count({ n: '*' })) as { source_id: string; n: string | number }[];
    return new Map(rows.map((r) => [r.source_id, Number(r.n)]));
  };
  const view = (d: PatientDelay, held: Map<string, number>) => ({
    id: d.id,
    patientId: d.patientId,
    requestedBy: d.requestedBy.kind,
    scope: d.scope,
    condition: d.condition,
    maxHours: d.maxHours,
    status: d.status,
    createdAt: d.createdAt.toISOString(),
    cancelledAt: d.cancelledAt?.toISOString() ?? null,
    resultsHeldNow: d.status === 'active' ? (held.get(d.id) ?? 0) : 0,
  });

  router.get('/v1/portal/result-delays', async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    const r = await record(account, ctx.query['patient']);
    const held = await heldNow(r.patientId);
    ctx.body = { delays: (await listPatientDelays(db, r.patientId)).map((d) => view(d, held)) };
  });

  router.post('/v1/portal/result-delays', json, async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    const body = jsonBody(ctx);
    const unknown = Object.keys(body).filter((k) => !FIELDS.has(k));
    if (unknown.length) throw new ApiError(400, 'UNKNOWN_FIELD', `unknown field(s): ${unknown.join(', ')}`);
    const r = representative(await record(account, body['patientId']));
    const input = { patientId: r.patientId, requestedBy: requester(account, r), scope: body['scope'], condition: body['condition'], maxHours: body['maxHours'], at: now() } as NewPatientDelay;
    const delay = await createPatientDelay(db, input); // 400 with REL-5 for a scope, condition or maximum out of bounds
    log.info({ event: 'result-delay.created.v1', preferenceId: delay.id, requester: delay.requestedBy.kind }, 'result delay created');
    ctx.status = 201;
    ctx.body = view(delay, new Map());
  });

  router.delete('/v1/portal/result-delays/:id', async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    const r = representative(await record(account, ctx.query['patient']));
    if (!(await getPatientDelay(db, r.patientId, ctx.params['id']!))) throw new ApiError(404, 'DELAY_NOT_FOUND', 'No such delay on this record');
    const delay = await cancelPatientDelay(db, { patientId: r.patientId, preferenceId: ctx.params['id']!, cancelledBy: requester(account, r), at: now() }); // 409 if already cancelled
    log.info({ event: 'result-delay.cancelled.v1', preferenceId: delay.id }, 'result delay cancelled');
    ctx.body = view(delay, new Map());
  });

  return router;
}
