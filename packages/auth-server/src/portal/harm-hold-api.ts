/**
 * Harm holds over HTTP (REL-2, REL-3, PRX-5), on the store in packages/consent/src/holds/harm-holds.ts.
 *
 * For a signed-in clinician (an account that is a Practitioner; 401 without a session, 403 for
 * anyone else):
 *   POST /v1/staff/harm-holds                 { patientId, resources: [{resourceType, resourceId}], decidedBy,
 *                                               licenseAttestation, relationshipBasis, harmType, reason,
 *                                               expiresAt, reviewAt? } → 201.
 *        decidedBy is the determining clinician and must be the signed-in one (403 otherwise);
 *        without it 400 practitioner-required; a code/category/scope instead of named resources
 *        400 "holds must name a patient and resources".
 *   GET  /v1/staff/harm-holds?patient=ID      the patient's holds, with their full record
 *   GET  /v1/staff/harm-holds/{id}?patient=ID one hold: decided, review requested, reviewed, lifted
 *   POST /v1/staff/harm-holds/{id}/review     { patientId, outcome: 'lifted'|'upheld', note? } by a clinician who
 *                                             did not make the determination (409 otherwise, and 409
 *                                             before the patient asked for review)
 *   POST /v1/staff/harm-holds/{id}/lift       { patientId, reason } the clinician ends the hold early
 * For the patient (or a representative, for the holds that withhold from them):
 *   GET  /v1/portal/harm-holds[?patient=ID]   holds in force withholding part of a record from me (no resource ids)
 *   POST /v1/portal/harm-holds/{id}/review-request [{ patientId }]  ask for review by another clinician (REL-3)
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import {
  decideHarmHoldReview,
  getHarmHold,
  liftHarmHold,
  placeHarmHold,
  requestHarmHoldReview,
  validateHarmHold,
  type Account,
  type HarmHold,
  type Logger,
  type NewHarmHold,
} from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { ApiError, dateField, jsonBody, signedInAccount, signedInPractitioner, type SessionDeps } from './api-support.js';
import { concernedRecord, type RecordAccessDeps } from './record-access.js';

export interface HarmHoldApiDeps extends RecordAccessDeps {
  log: Logger;
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' });
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The staff view: the whole determination and its review trail (ISO instants). */
export const staffHoldView = (h: HarmHold) => JSON.parse(JSON.stringify(h)) as Record<string, unknown>;

/** What a patient or representative is told: that part of the record is withheld, why in kind, and the review path. Not which resources. */
function patientHoldView(h: HarmHold) {
  return {
    id: h.id,
    patientId: h.patientId,
    status: h.status,
    harmType: h.harmType,
    withheldResourceCount: h.resources.length,
    createdAt: h.createdAt.toISOString(),
    expiresAt: h.expiresAt.toISOString(),
    reviewRequestedAt: h.reviewRequestedAt?.toISOString() ?? null,
    reviewedAt: h.reviewedAt?.toISOString() ?? null,
    reviewOutcome: h.reviewOutcome,
  };
}

export function harmHoldRouter(deps: HarmHoldApiDeps): Router {
  const { db, now, log } = deps;
  const router = new Router();

  const patientParam = (v: unknown): string => {
    if (typeof v !== 'string' || !FHIR_ID.test(v)) throw new ApiError(400, 'PATIENT_REQUIRED', 'patientId (or ?patient=) must name the patient whose record the hold is on');
    return v;
  };
  const holdOf = async (patientId: string, id: string): Promise<HarmHold> => {
    const hold = await getHarmHold(db, patientId, id);
    if (!hold) throw new ApiError(404, 'HOLD_NOT_FOUND', 'No such harm hold on this record');
    return hold;
  };
  /** An explicit clinician id in the body must be the signed-in clinician: nobody records another's judgement. */
  const sameClinician = (staff: Account, given: unknown, field: string) => {
    if (given !== undefined && given !== staff.fhirUser) throw new ApiError(403, 'NOT_YOUR_DETERMINATION', `${field} must be the signed-in clinician (${staff.fhirUser})`);
  };

  router.post('/v1/staff/harm-holds', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    // Every field reaches the store's validation, so a category, code or scope is refused there (REL-2).
    const input = {
      ...body,
      at: now(),
      expiresAt: dateField(body['expiresAt']),
      ...(body['reviewAt'] !== undefined ? { reviewAt: dateField(body['reviewAt']) } : {}),
    } as unknown as NewHarmHold;
    validateHarmHold(input); // 400: named resources of one patient, a practitioner, a license, a reason, an end
    sameClinician(staff, body['decidedBy'], 'decidedBy');
    if (deps.describePatients && !(await deps.describePatients([input.patientId])).has(input.patientId))
      throw new ApiError(400, 'UNKNOWN_PATIENT', 'holds must name a patient and resources: no such patient');
    const hold = await placeHarmHold(db, input);
    log.info({ event: 'harm-hold.placed.v1', holdId: hold.id, decidedBy: hold.decidedBy, harmType: hold.harmType, resources: hold.resources.length }, 'harm hold placed');
    ctx.status = 201;
    ctx.body = staffHoldView(hold);
  });

  router.get('/v1/staff/harm-holds', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    const patientId = patientParam(ctx.query['patient']);
    const ids = (await db('harm_hold').where({ patient_id: patientId }).orderBy('created_at', 'desc').select('id')) as { id: string }[];
    ctx.body = { holds: (await Promise.all(ids.map((r) => holdOf(patientId, r.id)))).map(staffHoldView) };
  });

  router.get('/v1/staff/harm-holds/:id', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    ctx.body = staffHoldView(await holdOf(patientParam(ctx.query['patient']), ctx.params['id']!));
  });

  router.post('/v1/staff/harm-holds/:id/review', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    sameClinician(staff, body['reviewerId'], 'reviewerId');
    const patientId = patientParam(body['patientId']);
    await holdOf(patientId, ctx.params['id']!);
    const outcome = body['outcome'] as 'upheld' | 'lifted';
    const note = typeof body['note'] === 'string' ? body['note'] : undefined;
    // REL-3: the store refuses (409) a reviewer who made the determination, and a second review.
    const hold = await decideHarmHoldReview(db, { patientId, holdId: ctx.params['id']!, reviewerId: staff.fhirUser, outcome, ...(note !== undefined ? { note } : {}), at: now() });
    log.info({ event: 'harm-hold.reviewed.v1', holdId: hold.id, reviewerId: hold.reviewerId, outcome: hold.reviewOutcome }, 'harm hold reviewed');
    ctx.body = staffHoldView(hold);
  });

  router.post('/v1/staff/harm-holds/:id/lift', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const patientId = patientParam(body['patientId']);
    await holdOf(patientId, ctx.params['id']!);
    const hold = await liftHarmHold(db, { patientId, holdId: ctx.params['id']!, liftedBy: staff.fhirUser, reason: body['reason'] as string, at: now() });
    log.info({ event: 'harm-hold.lifted.v1', holdId: hold.id, liftedBy: hold.liftedBy }, 'harm hold lifted');
    ctx.body = staffHoldView(hold);
  });

  /**
   * The records this person may ask about and whether each is their own: their own record, and
   * those they hold a delegation in force for. A patient is only concerned by holds that withhold
   * from them (life or physical safety); a representative also by substantial-harm holds (PRX-5).
   */
  const concerns = async (account: Account, patientId: string | undefined): Promise<{ patientId: string; self: boolean }> => {
    const record = await concernedRecord(deps, account, patientId);
    if (!record) throw new ApiError(404, 'HOLD_NOT_FOUND', 'No such harm hold on a record you can see');
    return record;
  };
  const appliesTo = (h: HarmHold, self: boolean) => !self || h.harmType === 'life_or_physical_safety';

  router.get('/v1/portal/harm-holds', async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    const asked = typeof ctx.query['patient'] === 'string' ? ctx.query['patient'] : undefined;
    if (!asked && !account.patientId) {
      ctx.body = { holds: [] };
      return;
    }
    const { patientId, self } = await concerns(account, asked);
    const ids = (await db('harm_hold').where({ patient_id: patientId }).orderBy('created_at', 'desc').select('id')) as { id: string }[];
    const at = now().getTime();
    const holds = (await Promise.all(ids.map((r) => holdOf(patientId, r.id)))).filter((h) => appliesTo(h, self) && h.status === 'active' && h.expiresAt.getTime() > at);
    ctx.body = { holds: holds.map(patientHoldView) };
  });

  router.post('/v1/portal/harm-holds/:id/review-request', json, async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    const body = ctx.request.length ? jsonBody(ctx) : {};
    const { patientId, self } = await concerns(account, body['patientId'] === undefined ? undefined : String(body['patientId']));
    const existing = await getHarmHold(db, patientId, ctx.params['id']!);
    if (!existing || !appliesTo(existing, self)) throw new ApiError(404, 'HOLD_NOT_FOUND', 'No such harm hold on a record you can see');
    const hold = await requestHarmHoldReview(db, { patientId, holdId: existing.id, requestedBy: account.id, requester: self ? 'patient' : 'proxy', at: now() });
    log.info({ event: 'harm-hold.review-requested.v1', holdId: hold.id, requestedBy: account.id }, 'harm hold review requested');
    ctx.body = patientHoldView(hold);
  });

  return router;
}
