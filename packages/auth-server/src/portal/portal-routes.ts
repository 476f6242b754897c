/**
 * The authorization server's own pages for a signed-in person:
 * - /apps, the SMART `management_endpoint`: every app with access to a record this person
 *   manages (their own, or one they approved as a proxy), its scopes, who approved it, last use;
 *   revoking is immediate and ends the app's tokens (API-3, (g)(10)(vi)).
 * - /launch, the EHR launch: pick a patient (and, for clinicians, an encounter) and a registered
 *   app; issues a single-use `launch` value and opens the app's launch_uri with it.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import {
  delegationsInForce,
  findAccountById,
  listAppGrantsForAccount,
  listAppGrantsForPatient,
  GrantNarrowingError,
  listRestrictions,
  narrowAppGrant,
  parseScopes,
  revokeAppGrant,
  type Account,
  type AppConfig,
  type AppGrant,
  type Database,
  type Logger, appendAccessLog
} from '@patient-access/consent';
import type { PatientSummary } from '../interactions/routes.js';
import { codeStep, passwordStep, stepMessage, stepStatus, type SignInDeps } from '../interactions/sign-in.js';
import { formBody } from '../interactions/form-body.js';
import { escapeHtml, loginPage, mfaPage, noFraming, page } from '../interactions/views.js';
import { describeScope } from '../interactions/scope-descriptions.js';
import { createLaunch } from '../launch/launch-store.js';
import { addRefreshTokenScopes } from '../oidc/knex-adapter.js';
import { launchUriProblem } from '../oidc/redirect-uris.js';
import { proxyAllowed } from '../smart/proxy-age.js';
import { PORTAL_IDLE_SECONDS, type PortalCookies } from './portal-session.js';

export interface PortalDeps extends SignInDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  provider: Provider;
  now: () => Date;
  describePatients(ids: string[]): Promise<Map<string, PatientSummary>>;
  /** Whether an Encounter with this id is in the patient's record. */
  encounterInRecord(patientId: string, encounterId: string): Promise<boolean>;
  /** Patients a practitioner has encounters with, newest first (the staff launch list). */
  patientsSeenBy(practitionerId: string): Promise<{ patientId: string; encounterIds: string[] }[]>;
  cookies: PortalCookies;
}

interface LaunchableApp {
  clientId: string;
  name: string;
  launchUri: string;
}

export function portalRouter(deps: PortalDeps): Router {
  const { db, now, config } = deps;
  const base = new URL(config.issuerUrl).pathname;
  const { session, pending } = deps.cookies;
  const form = formBody();
  const router = new Router();

  const html = (ctx: Context, body: string, status = 200) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    noFraming(ctx);
    ctx.body = body;
  };
  /** Only paths of this server's own pages: never an open redirect. */
  const safeNext = (next: unknown) => (typeof next === 'string' && /^\/(apps|launch)(\?[\w=&%-]*)?$/.test(next) ? next : '/apps');

  /** The signed-in account, refreshing the idle timer; otherwise a redirect to sign in. */
  const signedIn = async (ctx: Context): Promise<Account | undefined> => {
    const accountId = session.read(ctx, 'session', now());
    const account = accountId ? await findAccountById(db, accountId) : undefined;
    if (!account || account.status !== 'active') {
      ctx.redirect(`${base}/portal/login?next=${encodeURIComponent(ctx.path)}`);
      return undefined;
    }
    session.write(ctx, account.id, 'session', PORTAL_IDLE_SECONDS, now());
    return account;
  };

  router.get('/portal/login', (ctx) => {
    html(ctx, loginPage(`${base}/portal/login?next=${encodeURIComponent(safeNext(ctx.query['next']))}`, undefined, undefined, ''));
  });

  router.post('/portal/login', form, async (ctx) => {
    const next = safeNext(ctx.query['next']);
    const body = ctx.request.body as Record<string, string | undefined>;
    const result = await passwordStep(deps, ctx, String(body['username'] ?? ''), String(body['password'] ?? ''));
    if (!result.ok) {
      if (result.retryAfterSeconds) ctx.set('Retry-After', String(result.retryAfterSeconds));
      html(ctx, loginPage(`${base}/portal/login?next=${encodeURIComponent(next)}`, undefined, stepMessage(result, 'The username or password is not correct.'), ''), stepStatus(result));
      return;
    }
    if (!result.needsTotp) {
      session.write(ctx, result.account.id, 'session', PORTAL_IDLE_SECONDS, now());
      ctx.redirect(`${base}${next}`);
      return;
    }
    pending.write(ctx, result.account.id, 'mfa', 300, now());
    html(ctx, mfaPage(`${base}/portal/mfa?next=${encodeURIComponent(next)}`));
  });

  router.post('/portal/mfa', form, async (ctx) => {
    const next = safeNext(ctx.query['next']);
    const accountId = pending.read(ctx, 'mfa', now());
    if (!accountId) {
      ctx.redirect(`${base}/portal/login?next=${encodeURIComponent(next)}`);
      return;
    }
    const result = await codeStep(deps, ctx, accountId, String((ctx.request.body as Record<string, unknown>)['code'] ?? ''));
    if (!result.ok) {
      if (result.retryAfterSeconds) ctx.set('Retry-After', String(result.retryAfterSeconds));
      html(ctx, mfaPage(`${base}/portal/mfa?next=${encodeURIComponent(next)}`, stepMessage(result, 'That code is not correct.')), stepStatus(result));
      return;
    }
    pending.clear(ctx);
    session.write(ctx, accountId, 'session', PORTAL_IDLE_SECONDS, now());
    ctx.redirect(`${base}${next}`);
  });

  router.post('/portal/logout', (ctx) => {
    session.clear(ctx);
    ctx.redirect(`${base}/portal/login`);
  });

  /** Grants this person may see and revoke: apps on their own record, and apps they approved. */
  const manageableGrants = async (account: Account): Promise<AppGrant[]> => {
    const own = account.patientId ? await listAppGrantsForPatient(db, account.patientId) : [];
    const approved = await listAppGrantsForAccount(db, account.id);
    const byId = new Map([...own, ...approved].map((g) => [g.id, g]));
    return [...byId.values()].sort((a, b) => +b.createdAt - +a.createdAt);
  };

  router.get('/apps', async (ctx) => {
    const account = await signedIn(ctx);
    if (!account) return;
    const grants = (await manageableGrants(account)).filter((g) => g.status === 'active');
    const names = await deps.describePatients([...new Set(grants.map((g) => g.patientId))]);
    // IB-1: what the patient chose not to share with each app on her own record.
    const restrictions = account.patientId ? (await listRestrictions(db, account.patientId)).filter((r) => r.status === 'active' && r.recipient.kind === 'app') : [];
    const notShared = (g: AppGrant) =>
      restrictions
        .filter((r) => g.patientId === account.patientId && r.recipient.kind === 'app' && r.recipient.clientId === g.clientId)
        .map((r) => `${r.category.display}${r.resourceType ? ` (${r.resourceType})` : ''}`);
    const rows = grants
      .map((g) => {
        const approver = g.accountId === account.id ? 'you' : 'your proxy';
        const restricted = notShared(g);
        return `<li><h2>${escapeHtml(g.clientName ?? g.clientId)}</h2>
<p>Record: ${escapeHtml(names.get(g.patientId)?.name ?? g.patientId)} · approved by ${approver} on ${g.createdAt.toISOString().slice(0, 10)} · last used ${g.lastUsedAt ? g.lastUsedAt.toISOString().slice(0, 10) : 'never'}</p>
<p class="note">Access: ${escapeHtml(g.scope)}</p>${restricted.length ? `\n<p class="note">Not shared with this app: ${escapeHtml(restricted.join(', '))}</p>` : ''}
${narrowForm(g)}
<form method="post" action="${base}/apps/${encodeURIComponent(g.id)}/revoke"><button type="submit" aria-label="Revoke access for ${escapeHtml(g.clientName ?? g.clientId)}">Revoke access</button></form></li>`;
      })
      .join('\n');
    html(
      ctx,
      page(
        'Connected apps',
        `<p>Signed in as ${escapeHtml(account.displayName)}. <a href="${base}/launch">Launch an app</a></p>
${rows ? `<ul>${rows}</ul>` : '<p>No apps have access.</p>'}
<form method="post" action="${base}/portal/logout"><button type="submit">Sign out</button></form>`,
      ),
    );
  });

  /** Untick kinds of data to take them away from an app (never to add any). */
  const narrowForm = (g: AppGrant): string => {
    const resource = g.scope.split(' ').filter((s) => s.includes('/') && !s.startsWith('launch'));
    if (resource.length === 0) return '';
    const name = escapeHtml(g.clientName ?? g.clientId);
    const boxes = resource
      .map((s, i) => {
        const id = `scope-${escapeHtml(g.id)}-${i}`;
        return `<li><input type="checkbox" name="scope" id="${id}" value="${escapeHtml(s)}" checked> <label for="${id}">${escapeHtml(describeScope(s))}</label></li>`;
      })
      .join('');
    return `<form method="post" action="${base}/apps/${encodeURIComponent(g.id)}/scopes"><fieldset><legend>What ${name} may read</legend><ul>${boxes}</ul>
<button type="submit" aria-label="Update access for ${name}">Update access</button></fieldset></form>`;
  };

  /** AUD-1: a change of what an app may read, in the record's hash-chained log (not only pino). */
  const logGrantChange = (account: Account, grant: AppGrant, action: 'consent' | 'token.revoke', change: 'narrowed' | 'revoked') =>
    appendAccessLog(db, [
      {
        patientId: grant.patientId,
        actor: { kind: account.patientId === grant.patientId ? 'patient' : 'proxy', id: account.id },
        onBehalfOf: grant.patientId,
        client: { id: grant.clientId },
        grantId: grant.id,
        action,
        outcome: 'success',
        detail: { change, via: 'connected-apps' },
      },
    ]);

  router.post('/apps/:grantId/scopes', form, async (ctx) => {
    const account = await signedIn(ctx);
    if (!account) return;
    const grantId = ctx.params['grantId']!;
    const grant = (await manageableGrants(account)).find((g) => g.id === grantId && g.status === 'active');
    if (!grant) {
      html(ctx, page('Not found', '<p>That app connection does not exist.</p>'), 404);
      return;
    }
    // Repeated form fields are read from the raw body (the body parser folds many into an object).
    const raw = new URLSearchParams(String((ctx.request as { rawBody?: string }).rawBody ?? '')).getAll('scope');
    const parsed = parseScopes(raw.join(' '));
    if (parsed.invalid.length || raw.some((s) => /\s/.test(s))) {
      html(ctx, page('Not changed', '<p>That is not a scope this app was given.</p>'), 400);
      return;
    }
    try {
      const narrowed = await narrowAppGrant(db, grant.id, parsed.scopes);
      // Refreshes follow the narrowed grant; tokens already issued are narrowed by the API at once.
      const isResource = (s: string) => s.includes('/') && !s.startsWith('launch');
      const resources = narrowed.scope.split(' ').filter(isResource);
      const oidcGrant = await deps.provider.Grant.find(grant.id);
      if (oidcGrant) {
        (oidcGrant.resources as Record<string, string>)[config.fhirBaseUrl] = resources.join(' ');
        await oidcGrant.save();
      }
      // The provider gives a refresh only scopes named by both the refresh token and the Grant, by
      // exact string: the token must name the narrowed scopes (a category scope, API-4) too.
      await addRefreshTokenScopes(db, grant.id, resources);
      await logGrantChange(account, grant, 'consent', 'narrowed');
      deps.log.info({ event: 'grant.narrowed', grantId: grant.id, clientId: grant.clientId }, 'app access narrowed');
      ctx.redirect(`${base}/apps`);
    } catch (err) {
      if (!(err instanceof GrantNarrowingError)) throw err;
      const message = err.code === 'no-resource-scope' ? 'Keep at least one kind of data, or revoke the app instead.' : 'Access can only be reduced here.';
      html(ctx, page('Not changed', `<p>${escapeHtml(message)}</p><p><a href="${base}/apps">Back to connected apps</a></p>`), 400);
    }
  });

  router.post('/apps/:grantId/revoke', async (ctx) => {
    const account = await signedIn(ctx);
    if (!account) return;
    const grantId = ctx.params['grantId']!;
    const grant = (await manageableGrants(account)).find((g) => g.id === grantId);
    if (!grant) {
      html(ctx, page('Not found', '<p>That app connection does not exist.</p>'), 404);
      return;
    }
    // API-3: the grant row stops the FHIR API at once; the provider's grant takes its tokens.
    await revokeAppGrant(db, grant.id, `revoked by ${account.id === grant.accountId ? 'the approver' : 'the patient'}`, now());
    // (by id: Grant.find no longer returns a grant whose app grant is revoked)
    await deps.provider.Grant.adapter.revokeByGrantId?.(grant.id);
    await logGrantChange(account, grant, 'token.revoke', 'revoked');
    deps.log.info({ event: 'grant.revoked', grantId: grant.id, clientId: grant.clientId }, 'app access revoked');
    ctx.redirect(`${base}/apps`);
  });

  router.get('/launch', async (ctx) => {
    const account = await signedIn(ctx);
    if (!account) return;
    html(ctx, await launchPage(account));
  });

  router.post('/launch', form, async (ctx) => {
    const account = await signedIn(ctx);
    if (!account) return;
    const body = ctx.request.body as Record<string, string | undefined>;
    const app = (await launchableApps()).find((a) => a.clientId === body['client_id']);
    const patientId = String(body['patient'] ?? '').trim();
    const encounterId = String(body['encounter'] ?? '').trim();
    const clinician = account.fhirUser.startsWith('Practitioner/');
    const allowed = clinician ? (await deps.describePatients([patientId])).has(patientId) : (await subjectsOf(account)).includes(patientId);
    const problem = !app
      ? 'Choose an app.'
      : !allowed
        ? 'Choose a patient you may open.'
        : encounterId && !(await deps.encounterInRecord(patientId, encounterId))
          ? 'That encounter is not in this patient’s record.'
          : undefined;
    if (problem) {
      html(ctx, await launchPage(account, problem), 400);
      return;
    }
    const launch = await createLaunch(db, { accountId: account.id, patientId, clientId: app!.clientId, ...(encounterId ? { encounterId } : {}) }, now());
    const target = new URL(app!.launchUri);
    target.searchParams.set('iss', config.fhirBaseUrl);
    target.searchParams.set('launch', launch);
    deps.log.info({ event: 'launch.created', clientId: app!.clientId }, 'EHR launch');
    ctx.redirect(target.href);
  });

  async function subjectsOf(account: Account): Promise<string[]> {
    const delegations = await delegationsInForce(db, account.id, now());
    const births = await deps.describePatients(delegations.map((d) => d.patientId));
    const delegated = delegations.filter((d) => proxyAllowed(d, births.get(d.patientId)?.birthDate, now(), config.policy.ageRules)).map((d) => d.patientId);
    return [...(account.patientId ? [account.patientId] : []), ...delegated];
  }

  async function launchableApps(): Promise<LaunchableApp[]> {
    const rows = (await db('oidc_payload').where({ kind: 'Client' }).select('payload')) as { payload: Record<string, unknown> | string }[];
    return rows
      .map((r) => (typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload))
      // Only launch URIs registration accepts today (https, or http on loopback): a row stored
      // before that rule is never offered as a target.
      .filter((c) => typeof c['launch_uri'] === 'string' && launchUriProblem(c['launch_uri']) === undefined)
      .map((c) => ({ clientId: String(c['client_id']), name: String(c['client_name'] ?? c['client_id']), launchUri: String(c['launch_uri']) }));
  }

  async function launchPage(account: Account, error?: string): Promise<string> {
    const apps = await launchableApps();
    const clinician = account.fhirUser.startsWith('Practitioner/');
    const subjects = clinician ? [] : await subjectsOf(account);
    const names = await deps.describePatients(subjects);
    const appField = apps.length
      ? `<fieldset><legend>App</legend>${apps
          .map((a, i) => `<label><input type="radio" name="client_id" value="${escapeHtml(a.clientId)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(a.name)}</label>`)
          .join('\n')}</fieldset>`
      : '<p>No registered app has a launch URL.</p>';
    if (clinician) {
      // Staff: the patients this practitioner has seen, each with a launch button for its latest
      // encounter, and a form for any other patient id.
      const seen = await deps.patientsSeenBy(account.fhirUser.slice('Practitioner/'.length));
      const seenNames = await deps.describePatients(seen.map((p) => p.patientId));
      const rows = seen
        .map(
          (p) => `<li><form method="post" action="${base}/launch">
<input type="hidden" name="patient" value="${escapeHtml(p.patientId)}"><input type="hidden" name="encounter" value="${escapeHtml(p.encounterIds[0] ?? '')}">
${escapeHtml(seenNames.get(p.patientId)?.name ?? p.patientId)} <span class="note">(Patient/${escapeHtml(p.patientId)}, Encounter/${escapeHtml(p.encounterIds[0] ?? '')})</span>
${apps.map((a) => `<button type="submit" name="client_id" value="${escapeHtml(a.clientId)}" aria-label="Launch ${escapeHtml(a.name)} for ${escapeHtml(seenNames.get(p.patientId)?.name ?? p.patientId)}">Launch ${escapeHtml(a.name)}</button>`).join(' ')}
</form></li>`,
        )
        .join('\n');
      return page(
        'Launch an app',
        `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<h2>Your patients</h2>
${rows ? `<ul>${rows}</ul>` : '<p>No encounters name you yet.</p>'}
<h2>Another patient</h2>
<form method="post" action="${base}/launch">
<label for="patient">Patient id</label><input id="patient" name="patient" type="text" required>
<label for="encounter">Encounter id (optional)</label><input id="encounter" name="encounter" type="text">
${appField}
<button type="submit">Launch app</button>
</form>`,
      );
    }
    const patientField = `<fieldset><legend>Patient</legend>${subjects
      .map((id, i) => `<label><input type="radio" name="patient" value="${escapeHtml(id)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(names.get(id)?.name ?? id)}</label>`)
      .join('\n')}</fieldset>`;
    return page(
      'Launch an app',
      `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${base}/launch">
${patientField}
${appField}
<button type="submit">Launch app</button>
</form>
<p><a href="${base}/apps">Connected apps</a></p>`,
    );
  }

  return router;
}
