/**
 * Disclosure consents over HTTP (IB-2, 45 CFR 171.202(b): "consent required by law", e.g. 42 CFR
 * Part 2 substance-use-disorder records, which a proxy receives only with the patient's consent
 * naming that proxy).
 *
 * For the signed-in patient, on her own record only (a proxy cannot consent to its own access,
 * nor to anyone else's, so no patient id is ever taken from the request):
 *   GET    /v1/portal/disclosure-consents        my consents, whom I can name, and the labels
 *   POST   /v1/portal/disclosure-consents        { recipient: {kind:'proxy', proxyAccountId},
 *                                                   label?: {system, code}, expiresAt, evidence? }  → 201
 *   DELETE /v1/portal/disclosure-consents/{id}   revoke it at once → 204 (409 once expired or revoked)
 * `label` may be left out when the deployment has one consent-required label. `expiresAt` is
 * required (42 CFR 2.31(a)(6)): a date-time with its time zone, in the future, at most
 * MAX_DISCLOSURE_CONSENT_YEARS ahead (else 400 expiry-required / expiry-invalid); the consent counts
 * only before it, and the list shows it `expired` after. The recipient must
 * be one of the patient's proxies (a delegation that has not ended, as for restrictions); anything
 * else is 400 INVALID_RECIPIENT, without saying whether such an account exists elsewhere.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import {
  grantDisclosureConsent,
  listDisclosureConsents,
  revokeDisclosureConsent,
  validateDisclosureConsent,
  type Coding,
  type Logger,
  type NewDisclosureConsent,
  type PatientDisclosureConsent,
} from '@patient-access/consent';
import { ApiError, jsonBody, signedInAccount, type SessionDeps } from './api-support.js';
import { restrictionRecipients } from './restrictions-api.js';

export interface DisclosureConsentsApiDeps extends SessionDeps {
  log: Logger;
  /** The deployment's consent-required labels (PolicyConfig.consentRequiredLabels). */
  consentRequiredLabels: readonly Coding[];
}

const json = bodyParser({ enableTypes: ['json'], jsonLimit: '8kb' });
const FIELDS = ['recipient', 'label', 'expiresAt', 'evidence'];

export function disclosureConsentView(c: PatientDisclosureConsent) {
  return {
    id: c.id,
    patientId: c.patientId,
    recipient: { kind: 'proxy', proxyAccountId: c.proxyAccountId },
    label: c.label,
    evidence: c.evidence,
    grantedBy: c.grantedBy,
    grantedAt: c.grantedAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
    status: c.status,
    revokedAt: c.revokedAt?.toISOString() ?? null,
  };
}

export function disclosureConsentsRouter(deps: DisclosureConsentsApiDeps): Router {
  const { db, now } = deps;
  const router = new Router();

  const ownPatient = async (ctx: Context) => {
    const account = await signedInAccount(deps, ctx);
    // IB-2 (45 CFR 171.202(b)): the consent is the patient's own (42 CFR 2.31); a proxy consents to nothing.
    if (!account.patientId) throw new ApiError(403, 'NOT_A_PATIENT', 'Only a patient can consent to sharing her own record');
    return { account, patientId: account.patientId };
  };

  router.get('/v1/portal/disclosure-consents', async (ctx) => {
    const { patientId } = await ownPatient(ctx);
    ctx.body = {
      consents: (await listDisclosureConsents(db, patientId, now())).map(disclosureConsentView),
      recipients: { proxies: (await restrictionRecipients(deps, patientId)).proxies },
      labels: deps.consentRequiredLabels,
    };
  });

  router.post('/v1/portal/disclosure-consents', json, async (ctx) => {
    const { account, patientId } = await ownPatient(ctx);
    const body = jsonBody(ctx);
    for (const key of Object.keys(body)) if (!FIELDS.includes(key)) throw new ApiError(400, 'UNKNOWN_FIELD', `unknown field "${key}"`);
    const input: NewDisclosureConsent = {
      patientId,
      recipient: body['recipient'] as NewDisclosureConsent['recipient'],
      ...(body['label'] !== undefined && body['label'] !== null ? { label: body['label'] as NewDisclosureConsent['label'] } : {}),
      ...(body['evidence'] !== undefined && body['evidence'] !== null ? { evidence: body['evidence'] as string } : {}),
      // Checked by the store: a zoned date-time string, future, within MAX_DISCLOSURE_CONSENT_YEARS.
      expiresAt: body['expiresAt'] as string,
      grantedBy: account.id,
      at: now(),
    };
    // Shapes first (typed 400s from the store), then whether the recipient is one of her proxies.
    const valid = validateDisclosureConsent(input, deps.consentRequiredLabels);
    const { proxies } = await restrictionRecipients(deps, patientId);
    if (!proxies.some((p) => p.proxyAccountId === valid.recipient.proxyAccountId)) throw new ApiError(400, 'INVALID_RECIPIENT', 'recipient must be one of this patient\u2019s proxies');
    const c = await grantDisclosureConsent(db, input, deps.consentRequiredLabels);
    deps.log.info({ event: 'disclosure-consent.granted.v1', consentId: c.id }, 'disclosure consent recorded');
    ctx.status = 201;
    ctx.body = disclosureConsentView(c);
  });

  router.delete('/v1/portal/disclosure-consents/:id', async (ctx) => {
    const { account, patientId } = await ownPatient(ctx);
    const revoked = await revokeDisclosureConsent(db, { patientId, id: ctx.params['id']!, revokedBy: account.id, at: now() });
    deps.log.info({ event: 'disclosure-consent.revoked.v1', consentId: revoked.id }, 'disclosure consent revoked');
    ctx.status = 204;
  });

  return router;
}
