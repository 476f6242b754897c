/**
 * Server-rendered pages of the login, second factor, patient picker and consent steps. Plain
 * HTML forms with a label for every field (screen readers, and the conformance suite's browser
 * finds fields by label); no scripts, so the pages work under a strict CSP.
 */

import type { Context } from 'koa';

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Pages where a person types a password or code, or approves access, must not be framed by
 * another site (clickjacking): X-Frame-Options for older browsers, CSP frame-ancestors for the rest.
 */
export function noFraming(ctx: Pick<Context, 'set'>): void {
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Content-Security-Policy', "frame-ancestors 'none'");
}

/** The authorization server's HTML error page (browser steps): the OAuth error code and its description. */
export function errorPage(error: string, description: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head><body><main><h1>Authorization error</h1><p><code>${escapeHtml(error)}</code></p><p>${escapeHtml(description)}</p></main></body></html>`;
}

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1b1b1b}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.55rem 1.2rem;font-size:1rem}
fieldset{border:1px solid #ccc;margin:1rem 0;padding:.6rem 1rem}
fieldset label{font-weight:400;display:flex;gap:.5rem;align-items:flex-start}
.error{color:#a40000;font-weight:600}
.note{color:#555;font-size:.92rem}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

const errorLine = (error?: string) => (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '');

export function loginPage(action: string, clientName: string | undefined, error?: string, cancelAction = action.replace(/\/login$/, '/abort')): string {
  return page(
    'Sign in',
    `${clientName ? `<p><strong>${escapeHtml(clientName)}</strong> is asking to connect to your health record.</p>` : ''}
${errorLine(error)}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
${cancelAction ? `<form method="post" action="${escapeHtml(cancelAction)}"><button type="submit">Cancel</button></form>` : ''}`,
  );
}

export function mfaPage(action: string, error?: string): string {
  return page(
    'Verification code',
    `<p>Enter the 6-digit code from your authenticator app.</p>
${errorLine(error)}
<form method="post" action="${escapeHtml(action)}">
<label for="code">Verification code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
<button type="submit">Verify</button>
</form>`,
  );
}

export interface PickerOption {
  value: string;
  name: string;
  detail: string;
}

export function pickerPage(action: string, clientName: string, options: PickerOption[], error?: string): string {
  const radios = options
    .map(
      (o, i) =>
        `<label><input type="radio" name="subject" value="${escapeHtml(o.value)}"${i === 0 ? ' checked' : ''}> <span>${escapeHtml(o.name)} <span class="note">${escapeHtml(o.detail)}</span></span></label>`,
    )
    .join('\n');
  return page(
    'Whose record?',
    `<p>Choose whose health record <strong>${escapeHtml(clientName)}</strong> may read.</p>
${errorLine(error)}
<form method="post" action="${escapeHtml(action)}">
<fieldset><legend>Patient</legend>
${radios}
</fieldset>
<button type="submit">Continue</button>
</form>`,
  );
}

export interface ConsentModel {
  action: string;
  abortAction: string;
  client: { name: string; uri?: string; logoUri?: string; policyUri?: string; tosUri?: string };
  patientName: string;
  actingAs?: string;
  /**
   * A user-level authorization: the people whose records it may cover, each ticked (the person
   * may untick some). Replaces patientName and actingAs.
   */
  patients?: PickerOption[];
  error?: string;
  /** Resource scopes the person may untick. */
  /** With the category scopes the person may choose instead (granular selection). */
  resourceScopes: { scope: string; description: string; subScopes?: { scope: string; label: string }[] }[];
  offlineAccess: boolean;
  identity: string[];
}

export function consentPage(m: ConsentModel): string {
  const links = [
    m.client.uri && `<a href="${escapeHtml(m.client.uri)}">website</a>`,
    m.client.policyUri && `<a href="${escapeHtml(m.client.policyUri)}">privacy policy</a>`,
    m.client.tosUri && `<a href="${escapeHtml(m.client.tosUri)}">terms of service</a>`,
  ].filter(Boolean);
  const boxes = m.resourceScopes
    .map((s) => {
      const whole = `<label><input type="checkbox" name="scope" value="${escapeHtml(s.scope)}" checked> <span>${escapeHtml(s.description)} <span class="note">(${escapeHtml(s.scope)})</span></span></label>`;
      if (!s.subScopes?.length) return whole;
      const parts = s.subScopes
        .map((x) => `<label><input type="checkbox" name="scope" value="${escapeHtml(x.scope)}"> <span>${escapeHtml(x.label)}</span></label>`)
        .join('\n');
      return `${whole}\n<fieldset class="granular"><legend>Or share only some of it (untick the line above)</legend>\n${parts}\n</fieldset>`;
    })
    .join('\n');
  return page(
    'Allow access?',
    `${m.client.logoUri ? `<img src="${escapeHtml(m.client.logoUri)}" alt="" width="64" height="64">` : ''}
${
  m.patients
    ? `<p><strong>${escapeHtml(m.client.name)}</strong> wants to read the health records of everyone you may act for, with one authorization.</p>`
    : `<p><strong>${escapeHtml(m.client.name)}</strong> wants to read the health record of <strong>${escapeHtml(m.patientName)}</strong>${m.actingAs ? ` (you are acting as ${escapeHtml(m.actingAs)})` : ''}.</p>`
}
${links.length ? `<p class="note">App links: ${links.join(' · ')}</p>` : ''}
<p class="note">This app was not reviewed or endorsed by your health system. Only share your record with apps you trust.</p>
${errorLine(m.error)}
<form method="post" action="${escapeHtml(m.action)}">
${
  m.patients
    ? `<fieldset><legend>Whose records</legend>\n${m.patients
        .map((o) => `<label><input type="checkbox" name="patient" value="${escapeHtml(o.value)}" checked> <span>${escapeHtml(o.name)} <span class="note">${escapeHtml(o.detail)}</span></span></label>`)
        .join('\n')}\n</fieldset>`
    : ''
}
<fieldset><legend>Data the app may read</legend>
${boxes || '<p>No health data: only who you are.</p>'}
</fieldset>
${
  m.offlineAccess
    ? `<fieldset><legend>How long</legend><label><input type="checkbox" name="scope" value="offline_access" checked> <span>Keep access until I revoke it (up to the refresh limit), even when I am signed out</span></label></fieldset>`
    : ''
}
${m.identity.length ? `<p class="note">The app will also learn: ${escapeHtml(m.identity.join(', '))}.</p>` : ''}
<p class="note">Access is read-only: this server never lets apps create, change or delete your records, even if they ask to.</p>
<button type="submit" name="decision" value="allow">Allow</button>
</form>
<form method="post" action="${escapeHtml(m.abortAction)}"><button type="submit">Deny</button></form>`,
  );
}
