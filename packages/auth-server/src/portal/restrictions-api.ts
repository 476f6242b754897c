/**
 * Patient restrictions over HTTP (IB-1: "do not share this category with this proxy or app").
 *
 * For the signed-in patient, on their own record only (a proxy cannot restrict or un-restrict
 * someone else's record, so no patient id is ever taken from the request):
 *   GET    /v1/portal/restrictions        my restrictions, whom I can name, and the categories
 *   POST   /v1/portal/restrictions        { recipient: {kind:'proxy', proxyAccountId} | {kind:'app', clientId},
 *                                           category: {system, code}, resourceType? }  → 201
 *   DELETE /v1/portal/restrictions/{id}   end it at once → 204
 * For a signed-in clinician recording the patient's own request (never on staff's initiative):
 *   GET    /v1/staff/restrictions?patient=ID
 *   POST   /v1/staff/restrictions         { patientId, patientRequestId, recipient, category, resourceType? } → 201;
 *                                         400 PATIENT_REQUEST_REQUIRED without patientRequestId
 * The recipient must be one of the patient's proxies (a delegation that has not ended) or one of
 * the patient's connected apps (an active grant on the record); anything else is 400, without
 * saying whether such an account or app exists elsewhere.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import {
  RESTRICTION_CATEGORIES,
  createRestriction,
  delegationsForPatient,
  endRestriction,
  findAccountById,
  listAppGrantsForPatient,
  listRestrictions,
  validateRestriction,
  type Logger,
  type NewRestriction,
  type PatientRestriction,
  type RestrictionRecipient,
} from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { ApiError, jsonBody, signedInAccount, signedInPractitioner, type SessionDeps } from './api-support.js';

export interface RestrictionsApiDeps extends SessionDeps {
  log: Logger;
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '8kb' });
const OPEN_DELEGATION = new Set(['requested', 'verified', 'active', 'suspended']);

export interface RestrictionRecipients {
  proxies: { proxyAccountId: string; displayName: string; basis: string; status: string }[];
  apps: { clientId: string; clientName: string }[];
}

/** Whom the patient may name: their proxies (delegations not ended) and their connected apps. */
export async function restrictionRecipients(deps: SessionDeps, patientId: string): Promise<RestrictionRecipients> {
  const delegations = (await delegationsForPatient(deps.db, patientId)).filter((d) => OPEN_DELEGATION.has(d.status));
  const proxies = await Promise.all(
    delegations.map(async (d) => ({ proxyAccountId: d.proxyAccountId, displayName: (await findAccountById(deps.db, d.proxyAccountId))?.displayName ?? 'Unknown', basis: d.basis, status: d.status })),
  );
  const apps = new Map<string, string>();
  for (const g of await listAppGrantsForPatient(deps.db, patientId)) if (g.status === 'active' && !apps.has(g.clientId)) apps.set(g.clientId, g.clientName ?? g.clientId);
  return { proxies, apps: [...apps].map(([clientId, clientName]) => ({ clientId, clientName })) };
}

export function restrictionView(r: PatientRestriction) {
  return {
    id: r.id,
    patientId: r.patientId,
    recipient: r.recipient,
    resourceType: r.resourceType ?? null,
    category: r.category,
    requestedBy: r.requestedBy,
    requestedAt: r.requestedAt.toISOString(),
    source: r.source,
    patientRequestId: r.patientRequestRef,
    status: r.status,
    endedAt: r.endedAt?.toISOString() ?? null,
  };
}

export function restrictionsRouter(deps: RestrictionsApiDeps): Router {
  const { db, now } = deps;
  const router = new Router();

  const ownPatient = async (ctx: Context) => {
    const account = await signedInAccount(deps, ctx);
    // IB-1: the restriction is the patient's own request; a proxy acts on nobody's restrictions.
    if (!account.patientId) throw new ApiError(403, 'NOT_A_PATIENT', 'Only a patient can restrict sharing of their own record');
    return { account, patientId: account.patientId };
  };

  /** Builds the store input from a JSON body, validates it (typed 400s), then checks the recipient. */
  const create = async (ctx: Context, input: NewRestriction) => {
    const valid = validateRestriction(input);
    const recipients = await restrictionRecipients(deps, valid.patientId);
    if (!isRecipient(recipients, valid.recipient)) throw new ApiError(400, 'INVALID_RECIPIENT', 'recipient must be one of this patient\u2019s proxies or connected apps');
    const r = await createRestriction(db, input);
    deps.log.info({ event: 'restriction.created.v1', restrictionId: r.id, source: r.source, recipientKind: r.recipient.kind }, 'restriction recorded');
    ctx.status = 201;
    ctx.body = restrictionView(r);
  };

  router.get('/v1/portal/restrictions', async (ctx) => {
    const { patientId } = await ownPatient(ctx);
    ctx.body = {
      restrictions: (await listRestrictions(db, patientId)).map(restrictionView),
      recipients: await restrictionRecipients(deps, patientId),
      categories: RESTRICTION_CATEGORIES,
    };
  });

  router.post('/v1/portal/restrictions', json, async (ctx) => {
    const { account, patientId } = await ownPatient(ctx);
    const body = jsonBody(ctx);
    await create(ctx, { ...requestFields(body), patientId, requestedBy: account.id, source: 'patient', at: now() });
  });

  router.delete('/v1/portal/restrictions/:id', async (ctx) => {
    const { account, patientId } = await ownPatient(ctx);
    const ended = await endRestriction(db, { patientId, id: ctx.params['id']!, endedBy: account.id, at: now() });
    deps.log.info({ event: 'restriction.ended.v1', restrictionId: ended.id }, 'restriction ended');
    ctx.status = 204;
  });

  router.get('/v1/staff/restrictions', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    const patientId = typeof ctx.query['patient'] === 'string' ? ctx.query['patient'] : '';
    if (!patientId) throw new ApiError(400, 'PATIENT_REQUIRED', 'patient is required');
    ctx.body = { restrictions: (await listRestrictions(db, patientId)).map(restrictionView) };
  });

  router.post('/v1/staff/restrictions', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const patientId = body['patientId'];
    if (typeof patientId === 'string' && deps.describePatients && !(await deps.describePatients([patientId])).has(patientId))
      throw new ApiError(400, 'UNKNOWN_PATIENT', 'patientId must name a patient in the record');
    await create(ctx, {
      ...requestFields(body, ['patientId', 'patientRequestId']),
      patientId: patientId as string,
      requestedBy: staff.id,
      source: 'staff_on_patient_request',
      ...(body['patientRequestId'] !== undefined ? { patientRequestRef: body['patientRequestId'] as string } : {}),
      at: now(),
    });
  });

  return router;
}

/** The recipient, category and type of a request body (the store validates their shapes). */
function requestFields(body: Record<string, unknown>, extra: readonly string[] = []): Pick<NewRestriction, 'recipient' | 'category' | 'resourceType'> {
  for (const key of Object.keys(body)) {
    if (!['recipient', 'category', 'resourceType', ...extra].includes(key)) throw new ApiError(400, 'UNKNOWN_FIELD', `unknown field "${key}"`);
  }
  return {
    recipient: body['recipient'] as RestrictionRecipient,
    category: body['category'] as NewRestriction['category'],
    ...(body['resourceType'] !== undefined && body['resourceType'] !== null ? { resourceType: body['resourceType'] as string } : {}),
  };
}

function isRecipient(recipients: RestrictionRecipients, r: RestrictionRecipient): boolean {
  return r.kind === 'proxy' ? recipients.proxies.some((p) => p.proxyAccountId === r.proxyAccountId) : recipients.apps.some((a) => a.clientId === r.clientId);
}
