/**
 * The portal's proxy delegation API (PORTAL-US-012/013), for the signed-in person (portal session
 * cookie, SameSite=Strict, and JSON bodies only, so another site cannot drive it):
 *   GET    /v1/portal/proxy/delegations        delegations on my record, and those I hold
 *   POST   /v1/portal/proxy/delegations        grant a proxy access to my record
 *   DELETE /v1/portal/proxy/delegations/{id}   revoke (grantor) or give up (proxy), at once
 * A patient-granted caregiver delegation is active at once; a parent, guardian or power of
 * attorney claim starts as `requested` until staff verify the legal authority (PRX-2).
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import {
  createDelegation,
  delegationsForPatient,
  delegationsHeldBy,
  endDelegation,
  findAccountById,
  findAccountByUsername,
  findDelegation,
  openDelegation,
  parseZonedDateTime,
  type Account,
  type AppConfig,
  type Database,
  type Delegation,
  type DelegationBasis,
  type Logger,
} from '@patient-access/consent';
import { proxyTrust } from '../proxy-trust.js';
import { ApiError, jsonBody, jsonErrors, textField, unexpectedErrors } from './api-support.js';
import type { PatientSummary } from '../interactions/routes.js';
import { proxyAllowed } from '../smart/proxy-age.js';
import type { PortalCookies } from './portal-session.js';
import { PORTAL_IDLE_SECONDS } from './portal-session.js';

export interface DelegationApiDeps {
  config: Pick<AppConfig, 'issuerUrl' | 'trustProxy' | 'policy'>;
  db: Database;
  log: Logger;
  now: () => Date;
  cookies: PortalCookies;
  /** Birth dates, for the age rules: a delegation that lapsed at the patient's majority is no duplicate of a new one (PRX-4). */
  describePatients?(ids: string[]): Promise<Map<string, PatientSummary>>;
}

const BASES: readonly DelegationBasis[] = ['parent', 'guardian', 'poa', 'caregiver'];
export function delegationApi(deps: DelegationApiDeps): Koa {
  const { db, now, cookies } = deps;
  const app = new Koa();
  const router = new Router({ prefix: '/v1/portal/proxy/delegations' });

  app.use(proxyTrust(app, deps.config.issuerUrl, deps.config.trustProxy));
  // Unexpected errors: logged through pino (no PHI) and answered in the API's shape; the client's
  // own mistakes (malformed JSON, wrong types) are 4xx in the same shape (jsonErrors).
  app.use(unexpectedErrors(deps.log));
  app.use(jsonErrors);

  const signedIn = async (ctx: Context): Promise<Account> => {
    const id = cookies.session.read(ctx, 'session', now());
    const account = id ? await findAccountById(db, id) : undefined;
    if (!account || account.status !== 'active') throw new ApiError(401, 'NOT_SIGNED_IN', 'Sign in to the portal first');
    cookies.session.write(ctx, account.id, 'session', PORTAL_IDLE_SECONDS, now());
    return account;
  };

  router.get('/', async (ctx) => {
    const account = await signedIn(ctx);
    ctx.body = {
      onMyRecord: account.patientId ? (await delegationsForPatient(db, account.patientId)).map(view) : [],
      heldByMe: (await delegationsHeldBy(db, account.id)).map(view),
    };
  });

  router.post('/', bodyParser({ enableTypes: ['json'], jsonLimit: '8kb' }), async (ctx) => {
    const account = await signedIn(ctx);
    const body = jsonBody(ctx);
    if (!account.patientId) throw new ApiError(403, 'NOT_A_PATIENT', 'Only a patient can share their own record');
    const basis = body['basis'] ?? 'caregiver';
    if (typeof basis !== 'string' || !BASES.includes(basis as DelegationBasis)) throw new ApiError(400, 'INVALID_BASIS', `basis must be one of ${BASES.join(', ')}`);
    const accessLevel = body['accessLevel'] ?? 'full';
    if (accessLevel !== 'full' && accessLevel !== 'limited') throw new ApiError(400, 'INVALID_ACCESS_LEVEL', 'accessLevel must be full or limited');
    // An end without a time zone ("2026-07-01") would end at midnight somewhere else (UTC, or the
    // server's zone): the instant must be unambiguous.
    const endsAt = body['endsAt'] === undefined ? undefined : parseZonedDateTime(body['endsAt']);
    if (body['endsAt'] !== undefined && (!endsAt || endsAt <= now()))
      throw new ApiError(400, 'INVALID_END', 'endsAt must be a future date-time with a time zone, e.g. 2026-07-01T00:00:00-07:00');
    const proxyAccountId = textField(body['proxyAccountId']);
    const proxyUsername = textField(body['proxyUsername']);
    const proxy = proxyAccountId ? await findAccountById(db, proxyAccountId) : proxyUsername ? await findAccountByUsername(db, proxyUsername) : undefined;
    // One answer for unknown and unusable accounts: the API does not reveal who has an account.
    if (!proxy || proxy.status !== 'active' || proxy.id === account.id) throw new ApiError(400, 'INVALID_PROXY', 'proxyAccountId or proxyUsername must name another active portal account');
    // PRX-4: a delegation the age rules ended (a parent's, at the patient's majority) is no duplicate:
    // the adult patient may grant that person access anew.
    const birthDate = (await deps.describePatients?.([account.patientId]))?.get(account.patientId)?.birthDate;
    const inForce = (d: Delegation) => proxyAllowed(d, birthDate, now(), deps.config.policy.ageRules);
    if (await openDelegation(db, account.patientId, proxy.id, now(), inForce)) throw new ApiError(409, 'DELEGATION_ALREADY_EXISTS', 'This person already has, or has asked for, access to your record');
    // PRX-2: the patient's own choice of caregiver needs no proof; a legal-authority claim does.
    const status = basis === 'caregiver' ? 'active' : 'requested';
    const id = await createDelegation(db, {
      patientId: account.patientId,
      proxyAccountId: proxy.id,
      basis: basis as DelegationBasis,
      accessLevel,
      status,
      startsAt: now(),
      ...(endsAt ? { endsAt } : {}),
      ...(status === 'active' ? { verifiedBy: `patient:${account.id}`, verificationEvidence: 'granted by the patient in the portal' } : {}),
      grantedBy: { kind: 'patient', id: account.id },
      at: now(),
    });
    deps.log.info({ event: 'portal.proxy.delegation.granted.v1', delegationId: id, basis, status }, 'delegation granted');
    ctx.status = 201;
    ctx.body = view((await findDelegation(db, id))!);
  });

  router.delete('/:id', async (ctx) => {
    const account = await signedIn(ctx);
    const id = textField(ctx.params['id']);
    const d = id ? await findDelegation(db, id) : undefined;
    const mine = d && (d.patientId === account.patientId || d.proxyAccountId === account.id);
    if (!d || !mine) throw new ApiError(404, 'DELEGATION_NOT_FOUND', 'No such delegation');
    // PRX-6: ends the delegation and every app grant made under it, in one transaction.
    const byPatient = d.patientId === account.patientId;
    const ended = await endDelegation(db, d.patientId, d.id, 'revoked', byPatient ? 'revoked by the patient' : 'given up by the proxy', now(), { kind: byPatient ? 'patient' : 'proxy', id: account.id });
    if (ended) deps.log.info({ event: 'portal.proxy.delegation.revoked.v1', delegationId: d.id }, 'delegation revoked');
    ctx.status = 204;
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

function view(d: Delegation) {
  return {
    id: d.id,
    patientId: d.patientId,
    proxyAccountId: d.proxyAccountId,
    basis: d.basis,
    accessLevel: d.accessLevel,
    status: d.status,
    startsAt: d.startsAt.toISOString(),
    endsAt: d.endsAt?.toISOString() ?? null,
  };
}
