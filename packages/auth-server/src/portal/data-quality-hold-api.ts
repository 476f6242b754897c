/**
 * Data-quality holds (REL-4) and clinician release events (REL-5, REL-6) over HTTP, for a
 * signed-in clinician (401 without a session, 403 STAFF_ONLY for anyone else):
 *   POST /v1/staff/data-quality-holds            { patientId, resources: [{resourceType, resourceId}], problem, reason, expiresAt? } → 201
 *                                                (misidentified, mismatched_patient, corrupt or erroneous records, withheld while fixed;
 *                                                default 7 days, at most 30)
 *   GET  /v1/staff/data-quality-holds?patient=ID
 *   GET  /v1/staff/data-quality-holds/{id}?patient=ID
 *   POST /v1/staff/data-quality-holds/{id}/lift  { patientId, reason: 'fixed'|'not-an-error' }: released at once
 *   POST /v1/staff/result-releases               { patientId, resourceType, resourceId, event: 'clinician-released'|'discussed' }:
 *                                                ends the patient's "until my clinician releases it" delays on that result and,
 *                                                for 'discussed', the state-law holds "until discussed with the patient"
 * The stores write each change to the record's access log in the same transaction.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { getDataQualityHold, liftDataQualityHold, placeDataQualityHold, recordReleaseEvent, type DataQualityHold, type Logger, type NewDataQualityHold } from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { ApiError, dateField, jsonBody, signedInPractitioner, type SessionDeps } from './api-support.js';

export interface DataQualityHoldApiDeps extends SessionDeps {
  log: Logger;
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' });
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const view = (h: DataQualityHold) => JSON.parse(JSON.stringify(h)) as Record<string, unknown>;

export function dataQualityHoldRouter(deps: DataQualityHoldApiDeps): Router {
  const { db, now, log } = deps;
  const router = new Router();

  const patientParam = (v: unknown): string => {
    if (typeof v !== 'string' || !FHIR_ID.test(v)) throw new ApiError(400, 'PATIENT_REQUIRED', 'patientId (or ?patient=) must name the patient whose record the hold is on');
    return v;
  };
  const holdOf = async (patientId: string, id: string): Promise<DataQualityHold> => {
    const hold = await getDataQualityHold(db, patientId, id);
    if (!hold) throw new ApiError(404, 'HOLD_NOT_FOUND', 'No such data-quality hold on this record');
    return hold;
  };

  router.post('/v1/staff/data-quality-holds', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const input = { ...body, placedBy: staff.fhirUser, at: now(), ...(body['expiresAt'] !== undefined ? { expiresAt: dateField(body['expiresAt']) } : {}) } as unknown as NewDataQualityHold;
    if (deps.describePatients && typeof input.patientId === 'string' && !(await deps.describePatients([input.patientId])).has(input.patientId))
      throw new ApiError(400, 'UNKNOWN_PATIENT', 'holds must name a patient and resources: no such patient');
    const hold = await placeDataQualityHold(db, input); // 400 with REL-4: named records of one patient, a problem, a reason, a bounded end
    log.info({ event: 'data-quality-hold.placed.v1', holdId: hold.id, placedBy: hold.placedBy, problem: hold.problem, resources: hold.resources.length }, 'data-quality hold placed');
    ctx.status = 201;
    ctx.body = view(hold);
  });

  router.get('/v1/staff/data-quality-holds', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    const patientId = patientParam(ctx.query['patient']);
    const ids = (await db('data_quality_hold').where({ patient_id: patientId }).orderBy('created_at', 'desc').select('id')) as { id: string }[];
    ctx.body = { holds: (await Promise.all(ids.map((r) => holdOf(patientId, r.id)))).map(view) };
  });

  router.get('/v1/staff/data-quality-holds/:id', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    ctx.body = view(await holdOf(patientParam(ctx.query['patient']), ctx.params['id']!));
  });

  router.post('/v1/staff/data-quality-holds/:id/lift', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const patientId = patientParam(body['patientId']);
    await holdOf(patientId, ctx.params['id']!);
    const hold = await liftDataQualityHold(db, { patientId, holdId: ctx.params['id']!, liftedBy: staff.fhirUser, reason: body['reason'] as 'fixed', at: now() }); // 409 if already lifted
    log.info({ event: 'data-quality-hold.lifted.v1', holdId: hold.id, liftedBy: hold.liftedBy }, 'data-quality hold lifted');
    ctx.body = view(hold);
  });

  router.post('/v1/staff/result-releases', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const patientId = patientParam(body['patientId']);
    const { resourceType, resourceId, event } = body;
    if (typeof resourceType !== 'string' || typeof resourceId !== 'string' || !FHIR_ID.test(resourceId) || !['Observation', 'DiagnosticReport'].includes(resourceType))
      throw new ApiError(400, 'RESULT_REQUIRED', 'resourceType (Observation or DiagnosticReport) and resourceId must name one result');
    const released = await recordReleaseEvent(db, { patientId, resourceType, resourceId, event: event as 'discussed', by: staff.fhirUser, at: now() }); // 400 for another event
    log.info({ event: 'result.release-event.v1', kind: event, by: staff.fhirUser, released }, 'result release event recorded');
    ctx.body = { released };
  });

  return router;
}
