/**
 * The person-facing steps of an authorization: sign in, second factor, whose record (the patient
 * picker: self and the people this account is an active proxy for), and consent with scopes the
 * person may untick. The outcome is an oidc-provider Grant plus our app grant (same id) naming the
 * patient, the approving person and the delegation it rests on; for a user-level authorization
 * (user/ scopes over everyone the person acts for), one app grant per patient ticked, each naming
 * the Grant.
 */
import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import {
  createAppGrant,
  delegationsInForce,
  findAccountById,
  type AppConfig,
  type Database,
  type Logger,
} from '@patient-access/consent';
import { checkLaunch, consumeLaunch, type LaunchProblem } from '../launch/launch-store.js';
import { proxyAllowed } from '../smart/proxy-age.js';
import { grantedScopes, subScopesOf } from './granular-scopes.js';
import { describeScope } from './scope-descriptions.js';
import { codeStep, logAuthEvent, passwordStep, stepMessage, stepStatus, type SignInDeps } from './sign-in.js';
import { formBody } from './form-body.js';
import { consentPage, errorPage, loginPage, mfaPage, noFraming, pickerPage, type PickerOption } from './views.js';

export interface PatientSummary {
  name: string;
  birthDate?: string;
}

export interface InteractionDeps extends SignInDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  provider: Provider;
  now: () => Date;
  /** Display names for the picker and consent screen, read from the FHIR store. */
  describePatients(ids: string[]): Promise<Map<string, PatientSummary>>;
}

/** What the steps remember between requests, kept in the interaction's (server-side) result. */
interface Progress {
  pendingMfa?: { accountId: string };
  subject?: Subject;
}

interface Subject {
  patientId: string;
  /** The delegation the account acts under; absent when the patient is the account holder. */
  delegationId?: string;
  basis?: string;
  encounterId?: string;
  launchId?: string;
}

const LAUNCH_PROBLEMS: Record<LaunchProblem, string> = {
  unknown: 'launch value is not known here',
  expired: 'launch value has expired',
  used: 'launch value was already used',
  'other-user': 'launch value was issued to a different user',
  'other-client': 'launch value was issued for a different app',
};

export function interactionRouter(deps: InteractionDeps): Router {
  const { provider, db, now } = deps;
  const base = new URL(deps.config.issuerUrl).pathname;
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = formBody();

  const details = (ctx: Context) => provider.interactionDetails(ctx.req, ctx.res);
  const progressOf = (interaction: Awaited<ReturnType<typeof details>>) => (interaction.result ?? {}) as Progress;
  const save = (ctx: Context, progress: Progress) => provider.interactionResult(ctx.req, ctx.res, progress as InteractionResults, { mergeWithLastSubmission: false });
  const action = (uid: string, step: string) => `${base}/interaction/${uid}/${step}`;
  const html = (ctx: Context, body: string, status = 200) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    noFraming(ctx);
    ctx.body = body;
  };
  const clientName = async (clientId: string) => {
    const client = await provider.Client.find(clientId);
    return (client?.['clientName'] as string | undefined) ?? clientId;
  };
  const finishWithError = async (ctx: Context, error: string, description: string) => {
    await provider.interactionFinished(ctx.req, ctx.res, { error, error_description: description }, { mergeWithLastSubmission: false });
  };

  router.get('/', async (ctx) => {
    const interaction = await details(ctx);
    const { uid, prompt, params } = interaction;
    const name = await clientName(String(params['client_id']));
    if (prompt.name === 'login') {
      const progress = progressOf(interaction);
      html(ctx, progress.pendingMfa ? mfaPage(action(uid, 'mfa')) : loginPage(action(uid, 'login'), name));
      return;
    }
    await renderConsentStep(ctx, interaction);
  });

  router.post('/login', form, async (ctx) => {
    const interaction = await details(ctx);
    const body = ctx.request.body as Record<string, string | undefined>;
    const name = await clientName(String(interaction.params['client_id']));
    const result = await passwordStep(deps, ctx, String(body['username'] ?? ''), String(body['password'] ?? ''));
    if (!result.ok) {
      if (result.retryAfterSeconds) ctx.set('Retry-After', String(result.retryAfterSeconds));
      html(ctx, loginPage(action(interaction.uid, 'login'), name, stepMessage(result, 'The username or password is not correct.')), stepStatus(result));
      return;
    }
    if (result.needsTotp) {
      await save(ctx, { pendingMfa: { accountId: result.account.id } });
      html(ctx, mfaPage(action(interaction.uid, 'mfa')));
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: result.account.id } }, { mergeWithLastSubmission: false });
  });

  router.post('/mfa', form, async (ctx) => {
    const interaction = await details(ctx);
    const pending = progressOf(interaction).pendingMfa;
    if (!pending) {
      html(ctx, loginPage(action(interaction.uid, 'login'), await clientName(String(interaction.params['client_id'])), 'Please sign in first.'), 400);
      return;
    }
    const code = String((ctx.request.body as Record<string, unknown>)['code'] ?? '');
    const result = await codeStep(deps, ctx, pending.accountId, code);
    if (!result.ok) {
      if (result.retryAfterSeconds) ctx.set('Retry-After', String(result.retryAfterSeconds));
      html(ctx, mfaPage(action(interaction.uid, 'mfa'), stepMessage(result, 'That code is not correct.')), stepStatus(result));
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: pending.accountId } }, { mergeWithLastSubmission: false });
  });

  router.post('/select', form, async (ctx) => {
    const interaction = await details(ctx);
    const accountId = interaction.session?.accountId;
    if (!accountId) return finishWithError(ctx, 'login_required', 'the sign-in session ended');
    // An EHR launch names the patient: the picker cannot replace it (nor leave the launch value
    // unconsumed for later). Nothing changes; the consent step still shows the launched patient.
    if (typeof interaction.params['launch'] === 'string' || progressOf(interaction).subject?.launchId) {
      html(ctx, errorPage('invalid_request', 'this launch already names the patient; the patient cannot be changed'), 400);
      return;
    }
    const choice = String((ctx.request.body as Record<string, unknown>)['subject'] ?? '');
    const subject = (await subjectsFor(accountId)).find((s) => subjectValue(s) === choice);
    if (!subject) {
      // Only people this account may act for right now can be picked; anything else is refused.
      await renderConsentStep(ctx, interaction, 'Choose one of the listed people.');
      return;
    }
    await save(ctx, { ...progressOf(interaction), subject });
    await renderConsentStep(ctx, await details(ctx));
  });

  router.post('/consent', form, async (ctx) => {
    const interaction = await details(ctx);
    const { params, session } = interaction;
    const accountId = session?.accountId;
    if (!accountId) return finishWithError(ctx, 'login_required', 'the sign-in session ended');
    const requested = String(params['scope'] ?? '').split(' ').filter(Boolean);
    // Read repeated fields from the raw form: the parser folds more than 20 repeats into an object.
    const raw = new URLSearchParams(String((ctx.request as { rawBody?: string }).rawBody ?? ''));
    // Whose records: the one picked (or launched), or, for a user-level authorization, those ticked.
    let subjects: Subject[];
    let userLevel = false;
    const picked = progressOf(interaction).subject;
    if (picked) {
      // Deny by default: a launched authorization is approved only for the launch's own subject,
      // whose launch value is consumed below exactly once.
      if (typeof params['launch'] === 'string' && !picked.launchId) return finishWithError(ctx, 'invalid_request', 'the launch context was not resolved');
      // Re-check: a delegation may have ended while the consent screen was open.
      if (picked.delegationId && !(await subjectsFor(accountId)).some((s) => s.delegationId === picked.delegationId)) {
        return finishWithError(ctx, 'access_denied', 'you can no longer act for this patient');
      }
      subjects = [picked];
    } else {
      const current = await subjectsFor(accountId);
      if (!isUserLevelRequest(params, requested, current)) return renderConsentStep(ctx, interaction);
      // Only people this account may act for right now (a delegation may have ended while the
      // screen was open): anything else refuses the whole choice rather than dropping it silently.
      const chosen = raw.getAll('patient');
      if (chosen.some((v) => !current.some((s) => subjectValue(s) === v))) return renderConsentStep(ctx, interaction, 'Choose among the listed people.');
      subjects = current.filter((s) => chosen.includes(subjectValue(s)));
      if (!subjects.length) return renderConsentStep(ctx, interaction, 'Choose at least one person whose record the app may read.');
      userLevel = true;
    }
    const ticked = new Set(raw.getAll('scope'));
    const optional = (s: string) => isResourceScope(s) || s === 'offline_access';
    // Requested scopes, or the category scopes the person chose instead (granular selection).
    const granted = grantedScopes(requested, ticked, optional);
    const rejected = requested.filter((s) => !granted.includes(s));
    if (granted.some((s) => !requested.includes(s))) {
      // The authorization resumes with these scopes: the code and its tokens carry what was chosen.
      interaction.params['scope'] = granted.join(' ');
      await interaction.save(Math.max(1, (interaction.exp ?? 0) - Math.floor(Date.now() / 1000)));
    }
    const clientId = String(params['client_id']);

    if (picked?.launchId && !(await consumeLaunch(db, picked.launchId, now()))) {
      return finishWithError(ctx, 'invalid_request', LAUNCH_PROBLEMS.used);
    }
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope(granted.filter((s) => !isResourceScope(s)).join(' '));
    grant.addResourceScope(deps.config.fhirBaseUrl, granted.filter(isResourceScope).join(' '));
    if (rejected.some((s) => !isResourceScope(s))) grant.rejectOIDCScope(rejected.filter((s) => !isResourceScope(s)).join(' '));
    if (rejected.some(isResourceScope)) grant.rejectResourceScope(deps.config.fhirBaseUrl, rejected.filter(isResourceScope).join(' '));
    const grantId = await grant.save();
    // One app grant per patient: a single-patient authorization's has the Grant's id; a user-level
    // one's each have their own, naming the Grant, so each patient sees, narrows and revokes hers.
    const rows = subjects.map((subject, position) => ({ subject, id: userLevel ? randomUUID() : grantId, ...(userLevel ? { authorization: { id: grantId, position } } : {}) }));
    const appName = await clientName(clientId);
    await db.transaction(async (trx) => {
      for (const { subject, id, authorization } of rows) {
        await createAppGrant(trx, {
          id,
          patientId: subject.patientId,
          clientId,
          clientName: appName,
          accountId,
          ...(subject.delegationId ? { delegationId: subject.delegationId } : {}),
          ...(subject.encounterId ? { encounterId: subject.encounterId } : {}),
          ...(authorization ? { authorization } : {}),
          scope: granted.join(' '),
        });
      }
    });
    deps.log.info({ event: 'consent.granted', grantId, clientId, patients: rows.length, scopes: granted.length, rejected: rejected.length }, 'consent granted');
    const approver = await findAccountById(db, accountId);
    for (const { subject, id } of rows) {
      await logAuthEvent(deps, ctx, {
        patientId: subject.patientId,
        actor: { kind: subject.delegationId ? 'proxy' : approver?.fhirUser.startsWith('Practitioner/') ? 'staff' : 'patient', id: accountId, ...(approver ? { fhirUser: approver.fhirUser } : {}) },
        onBehalfOf: subject.patientId,
        client: { id: clientId },
        scopes: granted.join(' '),
        grantId: id,
        ...(subject.delegationId ? { delegationId: subject.delegationId } : {}),
        action: 'consent',
        outcome: 'success',
      });
    }
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  });

  router.post('/abort', async (ctx) => {
    await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user denied the request' }, { mergeWithLastSubmission: false });
  });

  /** The consent step: resolve the EHR launch or pick a patient, then show the scopes. */
  async function renderConsentStep(ctx: Context, interaction: Awaited<ReturnType<typeof details>>, pickerError?: string): Promise<void> {
    const { uid, params, session } = interaction;
    const accountId = session?.accountId;
    if (!accountId) return finishWithError(ctx, 'login_required', 'the sign-in session ended');
    const clientId = String(params['client_id']);
    const name = await clientName(clientId);
    let progress = progressOf(interaction);

    if (!progress.subject && typeof params['launch'] === 'string') {
      const launch = await checkLaunch(db, params['launch'], accountId, clientId, now());
      if ('problem' in launch) return finishWithError(ctx, 'invalid_request', LAUNCH_PROBLEMS[launch.problem]);
      const subjects = await subjectsFor(accountId);
      const account = await findAccountById(db, accountId);
      const viaSubject = subjects.find((s) => s.patientId === launch.patientId);
      // A practitioner's launch opens the launched patient; anyone else must be able to act for them.
      if (!viaSubject && !account?.fhirUser.startsWith('Practitioner/')) return finishWithError(ctx, 'access_denied', 'you cannot act for the launched patient');
      progress = {
        ...progress,
        subject: { ...(viaSubject ?? { patientId: launch.patientId }), launchId: launch.id, ...(launch.encounterId ? { encounterId: launch.encounterId } : {}) },
      };
      await save(ctx, progress);
    }

    // params.scope is already the canonical read-only projection (see the aud check in provider.ts).
    const requested = String(params['scope'] ?? '').split(' ').filter(Boolean);
    let patients: PickerOption[] | undefined;
    if (!progress.subject) {
      const subjects = await subjectsFor(accountId);
      if (subjects.length === 0) return finishWithError(ctx, 'access_denied', 'this account is not linked to any patient record');
      if (subjects.length > 1 || pickerError) {
        const names = await deps.describePatients(subjects.map((s) => s.patientId));
        const options: PickerOption[] = subjects.map((s) => ({
          value: subjectValue(s),
          name: names.get(s.patientId)?.name ?? 'Unnamed patient',
          detail: s.delegationId ? `you are their ${s.basis === 'poa' ? 'power of attorney' : s.basis}` : '(you)',
        }));
        // A user-level request covers everyone the person may act for: they untick, not pick.
        if (!isUserLevelRequest(params, requested, subjects)) {
          html(ctx, pickerPage(action(uid, 'select'), name, options, pickerError));
          return;
        }
        patients = options;
      } else {
        progress = { ...progress, subject: subjects[0]! };
        await save(ctx, progress);
      }
    }

    const subject = progress.subject;
    const names = await deps.describePatients(subject ? [subject.patientId] : []);
    const client = await provider.Client.find(clientId);
    const fixed = requested.filter((s) => !isResourceScope(s));
    html(
      ctx,
      consentPage({
        action: action(uid, 'consent'),
        abortAction: action(uid, 'abort'),
        client: {
          name,
          ...(client?.['clientUri'] ? { uri: String(client['clientUri']) } : {}),
          ...(client?.['logoUri'] ? { logoUri: String(client['logoUri']) } : {}),
          ...(client?.['policyUri'] ? { policyUri: String(client['policyUri']) } : {}),
          ...(client?.['tosUri'] ? { tosUri: String(client['tosUri']) } : {}),
        },
        patientName: (subject && names.get(subject.patientId)?.name) ?? 'the selected patient',
        ...(subject?.delegationId ? { actingAs: subject.basis === 'poa' ? 'power of attorney' : String(subject.basis) } : {}),
        ...(patients ? { patients, ...(pickerError ? { error: pickerError } : {}) } : {}),
        resourceScopes: requested.filter(isResourceScope).map((scope) => ({ scope, description: describeScope(scope), subScopes: subScopesOf(scope) })),
        offlineAccess: fixed.includes('offline_access'),
        identity: [
          ...(fixed.includes('openid') || fixed.includes('fhirUser') ? ['who you are'] : []),
          ...(fixed.includes('profile') ? ['your name and username'] : []),
        ],
      }),
    );
  }

  /** Whose record this account may open now: its own, then each delegation in force. */
  async function subjectsFor(accountId: string): Promise<Subject[]> {
    const account = await findAccountById(db, accountId);
    if (!account || account.status !== 'active') return [];
    const own: Subject[] = account.patientId ? [{ patientId: account.patientId }] : [];
    const delegations = await delegationsInForce(db, accountId, now());
    const births = await deps.describePatients(delegations.map((d) => d.patientId));
    // PRX-4: a parent's delegation ends when the child comes of age, whatever its end date says.
    const delegated = delegations
      .filter((d) => proxyAllowed(d, births.get(d.patientId)?.birthDate, now(), deps.config.policy.ageRules))
      .map((d) => ({ patientId: d.patientId, delegationId: d.id, basis: d.basis }));
    return [...own, ...delegated];
  }

  return router;
}

const isResourceScope = (s: string) => s.includes('/') && !s.startsWith('launch/');

/**
 * A user-level authorization: the app asked for user/ scopes and for no patient context (no EHR
 * launch, no launch/patient, no patient/ scopes), and the person may act for more than one
 * patient. Its tokens then cover each of them (SMART: user/ scopes reach what the user may see);
 * with only one, the authorization is that patient's, as before.
 */
function isUserLevelRequest(params: Record<string, unknown>, requested: readonly string[], subjects: readonly Subject[]): boolean {
  return (
    subjects.length > 1 &&
    typeof params['launch'] !== 'string' &&
    !requested.includes('launch/patient') &&
    requested.some((s) => s.startsWith('user/')) &&
    !requested.some((s) => s.startsWith('patient/'))
  );
}
const subjectValue = (s: Subject) => (s.delegationId ? `delegation:${s.delegationId}` : `self:${s.patientId}`);
