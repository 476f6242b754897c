/**
 * Proxy suspensions over HTTP (PRX-5, with REL-3's review path), on the store in
 * packages/consent/src/delegations/delegation-suspensions.ts.
 *
 * For a signed-in clinician (401 without a session, 403 STAFF_ONLY for anyone else):
 *   GET  /v1/staff/delegations?patient=ID                   the record's delegations (to verify a claim, or pick one to suspend)
 *   POST /v1/staff/delegations/{id}/verify                   { patientId, evidence: { type, reference? } } → the claim of
 *                                                            authority checked: active, evidence and verifier recorded (PRX-2)
 *   POST /v1/staff/delegations/{id}/deny                     { patientId, reason } → refused, with a reason code (PRX-2)
 *   POST /v1/staff/delegation-suspensions                    { patientId, delegationId, licenseAttestation, relationshipBasis,
 *                                                            grounds, reason, reviewAt, decidedBy? } → 201; the delegation
 *                                                            and every app grant under it stop at once
 *   GET  /v1/staff/delegation-suspensions?patient=ID         the record's determinations, with their trail
 *   GET  /v1/staff/delegation-suspensions/{id}?patient=ID
 *   POST /v1/staff/delegation-suspensions/{id}/review        { patientId, outcome: 'lifted'|'upheld', note? } by another clinician
 *   POST /v1/staff/delegation-suspensions/{id}/lift          { patientId, reason }
 * For the representative whose access is suspended, and the patient whose record it is:
 *   GET  /v1/portal/delegation-suspensions                   determinations concerning me, without the documented reasons
 *   POST /v1/portal/delegation-suspensions/{id}/review-request
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import {
  decideSuspensionReview,
  delegationsForPatient,
  denyDelegation,
  verifyDelegation,
  getDelegationSuspension,
  liftDelegationSuspension,
  requestSuspensionReview,
  suspendDelegation,
  suspensionsForPatient,
  suspensionsOfProxy,
  validateDelegationSuspension,
  type Account,
  type Delegation,
  type DelegationDenialReason,
  type DelegationSuspension,
  type Logger,
  type NewDelegationSuspension,
  type VerificationEvidenceType,
} from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { ApiError, dateField, jsonBody, signedInAccount, signedInPractitioner, type SessionDeps } from './api-support.js';

export interface SuspensionApiDeps extends SessionDeps {
  log: Logger;
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' });
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const staffView = (s: DelegationSuspension) => JSON.parse(JSON.stringify(s)) as Record<string, unknown>;

/**
 * What the representative and the patient are told: that access is suspended by a clinician's
 * determination, since when, and where the review stands. Not the grounds nor the documented
 * reason: telling a person suspected of abuse why could itself endanger the patient (PRX-5).
 */
const personView = (s: DelegationSuspension) => ({
  id: s.id,
  patientId: s.patientId,
  delegationId: s.delegationId,
  status: s.status,
  createdAt: s.createdAt.toISOString(),
  reviewRequestedAt: s.reviewRequestedAt?.toISOString() ?? null,
  reviewedAt: s.reviewedAt?.toISOString() ?? null,
  reviewOutcome: s.reviewOutcome,
  liftedAt: s.liftedAt?.toISOString() ?? null,
});

export function suspensionRouter(deps: SuspensionApiDeps): Router {
  const { db, now, log } = deps;
  const router = new Router();

  const patientParam = (v: unknown): string => {
    if (typeof v !== 'string' || !FHIR_ID.test(v)) throw new ApiError(400, 'PATIENT_REQUIRED', 'patientId (or ?patient=) must name the patient whose record the delegation opens');
    return v;
  };
  const suspensionOf = async (patientId: string, id: string) => {
    const s = await getDelegationSuspension(db, patientId, id);
    if (!s) throw new ApiError(404, 'SUSPENSION_NOT_FOUND', 'No such suspension on this record');
    return s;
  };
  const sameClinician = (staff: Account, given: unknown, field: string) => {
    if (given !== undefined && given !== staff.fhirUser) throw new ApiError(403, 'NOT_YOUR_DETERMINATION', `${field} must be the signed-in clinician (${staff.fhirUser})`);
  };

  const delegationView = (d: Delegation) => ({
    id: d.id,
    patientId: d.patientId,
    proxyAccountId: d.proxyAccountId,
    relatedPersonId: d.relatedPersonId,
    basis: d.basis,
    accessLevel: d.accessLevel,
    status: d.status,
    startsAt: d.startsAt.toISOString(),
    endsAt: d.endsAt?.toISOString() ?? null,
  });

  router.get('/v1/staff/delegations', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    const patientId = patientParam(ctx.query['patient']);
    ctx.body = { delegations: (await delegationsForPatient(db, patientId)).map(delegationView) };
  });

  // PRX-2: a claim of legal authority (parent, guardian, power of attorney) made in the portal
  // opens nothing until staff have checked it; the store refuses a verification without typed
  // evidence and a denial without a reason code (400), and a delegation not awaiting it (409).
  router.post('/v1/staff/delegations/:id/verify', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const evidence = (body['evidence'] ?? {}) as { type?: unknown; reference?: unknown };
    const d = await verifyDelegation(db, {
      patientId: patientParam(body['patientId']),
      delegationId: ctx.params['id']!,
      verifiedBy: staff.fhirUser,
      evidence: { type: evidence.type as VerificationEvidenceType, ...(evidence.reference !== undefined ? { reference: evidence.reference as string } : {}) },
      at: now(),
    });
    log.info({ event: 'delegation.verified.v1', delegationId: d.id, verifiedBy: staff.fhirUser }, 'delegation verified');
    ctx.body = delegationView(d);
  });

  router.post('/v1/staff/delegations/:id/deny', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const d = await denyDelegation(db, { patientId: patientParam(body['patientId']), delegationId: ctx.params['id']!, deniedBy: staff.fhirUser, reason: body['reason'] as DelegationDenialReason, at: now() });
    log.info({ event: 'delegation.denied.v1', delegationId: d.id, deniedBy: staff.fhirUser }, 'delegation denied');
    ctx.body = delegationView(d);
  });

  router.post('/v1/staff/delegation-suspensions', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    sameClinician(staff, body['decidedBy'], 'decidedBy');
    const input = { ...body, decidedBy: staff.fhirUser, at: now(), reviewAt: dateField(body['reviewAt']) } as unknown as NewDelegationSuspension;
    validateDelegationSuspension(input); // 400 with the rule: a practitioner, a license, grounds, a reason, a review date
    const suspension = await suspendDelegation(db, input); // 404 for a delegation not on this record, 409 if already suspended or ended
    log.info({ event: 'delegation.suspended.v1', suspensionId: suspension.id, delegationId: suspension.delegationId, decidedBy: suspension.decidedBy }, 'delegation suspended');
    ctx.status = 201;
    ctx.body = staffView(suspension);
  });

  router.get('/v1/staff/delegation-suspensions', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    ctx.body = { suspensions: (await suspensionsForPatient(db, patientParam(ctx.query['patient']))).map(staffView) };
  });

  router.get('/v1/staff/delegation-suspensions/:id', async (ctx) => {
    await signedInPractitioner(deps, ctx);
    ctx.body = staffView(await suspensionOf(patientParam(ctx.query['patient']), ctx.params['id']!));
  });

  router.post('/v1/staff/delegation-suspensions/:id/review', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    sameClinician(staff, body['reviewerId'], 'reviewerId');
    const patientId = patientParam(body['patientId']);
    await suspensionOf(patientId, ctx.params['id']!);
    const note = typeof body['note'] === 'string' ? body['note'] : undefined;
    // REL-3: the store refuses (409) the clinician who decided, a review nobody asked for, and a second review.
    const s = await decideSuspensionReview(db, {
      patientId,
      suspensionId: ctx.params['id']!,
      reviewerId: staff.fhirUser,
      outcome: body['outcome'] as 'upheld' | 'lifted',
      ...(note !== undefined ? { note } : {}),
      at: now(),
    });
    log.info({ event: 'delegation.suspension.reviewed.v1', suspensionId: s.id, reviewerId: s.reviewerId, outcome: s.reviewOutcome }, 'suspension reviewed');
    ctx.body = staffView(s);
  });

  router.post('/v1/staff/delegation-suspensions/:id/lift', json, async (ctx) => {
    const staff = await signedInPractitioner(deps, ctx);
    const body = jsonBody(ctx);
    const patientId = patientParam(body['patientId']);
    await suspensionOf(patientId, ctx.params['id']!);
    const s = await liftDelegationSuspension(db, { patientId, suspensionId: ctx.params['id']!, liftedBy: staff.fhirUser, reason: body['reason'] as string, at: now() });
    log.info({ event: 'delegation.suspension.lifted.v1', suspensionId: s.id, liftedBy: s.liftedBy }, 'suspension lifted');
    ctx.body = staffView(s);
  });

  /** Determinations concerning this person: on their own record, and on the delegations they hold. */
  const concerning = async (account: Account) => {
    const own = account.patientId ? await suspensionsForPatient(db, account.patientId) : [];
    const held = await suspensionsOfProxy(db, account.id);
    return [...own.map((s) => ({ s, as: 'patient' as const })), ...held.map((s) => ({ s, as: 'proxy' as const }))];
  };

  router.get('/v1/portal/delegation-suspensions', async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    ctx.body = { suspensions: (await concerning(account)).map(({ s }) => personView(s)) };
  });

  router.post('/v1/portal/delegation-suspensions/:id/review-request', async (ctx) => {
    const account = await signedInAccount(deps, ctx);
    const found = (await concerning(account)).find(({ s }) => s.id === ctx.params['id']);
    if (!found) throw new ApiError(404, 'SUSPENSION_NOT_FOUND', 'No such suspension concerning you');
    const s = await requestSuspensionReview(db, { patientId: found.s.patientId, suspensionId: found.s.id, requestedBy: account.id, requester: found.as, at: now() });
    log.info({ event: 'delegation.suspension.review-requested.v1', suspensionId: s.id }, 'suspension review requested');
    ctx.body = personView(s);
  });

  return router;
}
