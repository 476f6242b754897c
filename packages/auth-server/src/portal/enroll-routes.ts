/**
 * /enroll: the one-time link an administrator's `accounts create` prints. The person chooses a
 * password and adds the shown secret to an authenticator app; the first code proves it works.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { completeEnrollment, enrollmentAccount, generateTotpSecret, MIN_PASSWORD_LENGTH, type AppConfig, type Database, type Logger } from '@patient-access/consent';
import { formBody } from '../interactions/form-body.js';
import { escapeHtml, noFraming, page } from '../interactions/views.js';

export interface EnrollDeps {
  config: AppConfig;
  db: Database;
  log: Logger;
  now: () => Date;
}

const PROBLEMS = {
  'invalid-link': 'This enrollment link is not valid any more. Ask for a new one.',
  'weak-password': `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters that does not contain your username.`,
  'wrong-code': 'That code does not match. Check the secret in your authenticator app and try again.',
} as const;

export function enrollRouter(deps: EnrollDeps): Router {
  const router = new Router();
  const base = new URL(deps.config.issuerUrl).pathname;
  const issuerName = new URL(deps.config.issuerUrl).host;

  const form = (ctx: Context, token: string, username: string, secret: string, error?: string, status = 200) => {
    const uri = `otpauth://totp/${encodeURIComponent(`${issuerName}:${username}`)}?secret=${secret}&issuer=${encodeURIComponent(issuerName)}`;
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    noFraming(ctx);
    ctx.body = page(
      'Set up your account',
      `<p>Username: <strong>${escapeHtml(username)}</strong></p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${base}/enroll">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="secret" value="${escapeHtml(secret)}">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required>
<p>Add this secret to your authenticator app: <code>${escapeHtml(secret)}</code> (<a href="${escapeHtml(uri)}">open in app</a>)</p>
<label for="code">Verification code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit">Finish</button>
</form>`,
    );
  };
  const invalid = (ctx: Context) => {
    ctx.status = 400;
    noFraming(ctx);
    ctx.type = 'html';
    ctx.body = page('Enrollment', `<p class="error" role="alert">${PROBLEMS['invalid-link']}</p>`);
  };

  router.get('/enroll', async (ctx) => {
    const token = String(ctx.query['token'] ?? '');
    const found = token ? await enrollmentAccount(deps.db, token, deps.now()) : undefined;
    if (!found) return invalid(ctx);
    form(ctx, token, found.username, generateTotpSecret());
  });

  router.post('/enroll', formBody('8kb'), async (ctx) => {
    const body = ctx.request.body as Record<string, string | undefined>;
    const token = String(body['token'] ?? '');
    const secret = String(body['secret'] ?? '');
    const found = token ? await enrollmentAccount(deps.db, token, deps.now()) : undefined;
    if (!found || !/^[A-Z2-7]{32}$/.test(secret)) return invalid(ctx);
    const result = await completeEnrollment(deps.db, { token, password: String(body['password'] ?? ''), totpSecret: secret, code: String(body['code'] ?? '') }, deps.now());
    if (!result.ok) return form(ctx, token, found.username, secret, PROBLEMS[result.problem], 400);
    deps.log.info({ event: 'account.enrolled', accountId: result.accountId }, 'account enrolled');
    ctx.type = 'html';
    noFraming(ctx);
    ctx.body = page('All set', `<p>Your account is ready. <a href="${base}/apps">Sign in</a></p>`);
  });

  return router;
}
