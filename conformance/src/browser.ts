/**
 * The steps a person does in Inferno, driven in headless Chromium (Debian's, through
 * playwright-core): sign in, type the TOTP code, pick whose record, untick scopes, allow or deny,
 * sign in to the portal, launch an app, revoke an app. Fields are found by their accessible labels
 * and headings; the browser ends on the app's redirect or launch URL (served by app-server.ts).
 * One browser context per account, kept for the run, so a login session is reused like a person's.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AccountInput } from './config.js';
import type { TestContext } from './runner.js';
import type { TotpClock } from './totp.js';

export interface BrowserOptions {
  executablePath: string;
  headed: boolean;
  screenshots: boolean;
  totp: TotpClock;
}

export interface AuthorizeStepOptions {
  account: AccountInput;
  /** GET this URL, or POST these parameters as a form (authorize-post). */
  url: string;
  post?: Record<string, string>;
  /** Where the flow ends (the registered redirect URI). */
  redirectUri: string;
  /** Whose record to pick, when the server asks. */
  patientId?: string;
  /** Which offered scopes to keep ticked (default all). */
  keep?: (scope: string) => boolean;
  deny?: boolean;
  /** Sign in again even with a session (a fresh context). */
  freshSession?: boolean;
}

export interface AuthorizeOutcome {
  /** The redirect back to the app, with its query. */
  callback?: URL;
  /** The text of a page the flow stopped on (an error page instead of a redirect). */
  stoppedAt?: { heading: string; text: string };
  pickedLabel?: string;
  /** The options the patient picker offered. */
  pickerOptions?: string[];
  /** The people a user-level authorization's consent screen offered (their labels). */
  offeredPatients?: string[];
  offeredScopes: { scope: string; label: string }[];
  keptScopes: string[];
  signedIn: boolean;
}

const MAX_STEPS = 14;

export class BrowserDriver {
  private readonly contexts = new Map<string, BrowserContext>();
  private readonly learned = new Map<string, string>();
  private constructor(
    private readonly browser: Browser,
    private readonly options: BrowserOptions,
  ) {}

  static async launch(options: BrowserOptions): Promise<BrowserDriver> {
    const browser = await chromium.launch({
      executablePath: options.executablePath,
      headless: !options.headed,
      args: [...(options.headed ? [] : ['--headless']), '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    return new BrowserDriver(browser, options);
  }

  async close(): Promise<void> {
    for (const c of this.contexts.values()) await c.close().catch(() => undefined);
    await this.browser.close();
  }

  /** Remember which picker label opened which patient (learned from the token's `patient`). */
  learn(account: AccountInput, label: string | undefined, patientId: string | undefined): void {
    if (label && patientId) this.learned.set(`${account.username}\u0000${label}`, patientId);
  }

  private async context(key: string, fresh = false): Promise<BrowserContext> {
    if (fresh) {
      await this.contexts.get(key)?.close();
      this.contexts.delete(key);
    }
    let context = this.contexts.get(key);
    if (!context) {
      context = await this.browser.newContext({ viewport: { width: 900, height: 900 } });
      this.contexts.set(key, context);
    }
    return context;
  }

  private async snap(t: TestContext | undefined, page: Page, label: string): Promise<void> {
    if (!t || !this.options.screenshots) return;
    try {
      await t.screenshot(label, await page.screenshot({ type: 'jpeg', quality: 55, fullPage: true }));
    } catch {
      // a screenshot is evidence, not a test step
    }
  }

  private async submit(page: Page, click: () => Promise<void>): Promise<void> {
    await Promise.all([page.waitForEvent('load', { timeout: 30_000 }), click()]);
  }

  private async heading(page: Page): Promise<string> {
    const h1 = page.locator('h1').first();
    return (await h1.count()) ? ((await h1.textContent()) ?? '').trim() : '';
  }

  private async fillLogin(page: Page, account: AccountInput, t?: TestContext): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill(account.username);
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    t?.step(`sign in as ${account.username}`);
    await this.submit(page, () => page.getByRole('button', { name: 'Sign in' }).click());
  }

  private async fillTotp(page: Page, account: AccountInput, t?: TestContext): Promise<void> {
    if (!account.totpSecret) throw new Error(`the server asks ${account.username} for a verification code, but the inputs give no TOTP secret`);
    const wait = this.options.totp.waitFor(account.username);
    if (wait > 0) t?.step(`wait ${Math.ceil(wait / 1000)} s for the next TOTP step (a code is accepted once per account)`);
    const code = await this.options.totp.nextCode(account.username, account.totpSecret);
    await page.getByLabel('Verification code', { exact: true }).fill(code);
    t?.step('enter the verification code');
    await this.submit(page, () => page.getByRole('button', { name: 'Verify' }).click());
  }

  /** Run an authorization in the account's browser session until the app's redirect URI is reached. */
  async authorize(o: AuthorizeStepOptions, t?: TestContext): Promise<AuthorizeOutcome> {
    const context = await this.context(o.account.username, o.freshSession);
    const page = await context.newPage();
    const outcome: AuthorizeOutcome = { offeredScopes: [], keptScopes: [], signedIn: false };
    try {
      if (o.post) {
        // Submit the form from a page of the server's own origin, as a same-site top-level POST.
        await page.goto(new URL('/', o.url).href).catch(() => undefined);
        const inputs = Object.entries(o.post)
          .map(([k, v]) => `<input type="hidden" name="${escapeAttr(k)}" value="${escapeAttr(v)}">`)
          .join('');
        await page.setContent(`<form method="post" action="${escapeAttr(o.url)}">${inputs}<button type="submit">Continue</button></form>`);
        t?.step(`POST the authorization request to ${o.url}`);
        await this.submit(page, () => page.getByRole('button', { name: 'Continue' }).click());
      } else {
        t?.step(`open the authorization URL ${o.url}`);
        await page.goto(o.url, { waitUntil: 'load' });
      }
      for (let i = 0; i < MAX_STEPS; i++) {
        if (page.url().startsWith(o.redirectUri)) {
          outcome.callback = new URL(page.url());
          t?.step(`redirected back to the app: ${redactCode(page.url())}`);
          return outcome;
        }
        const heading = await this.heading(page);
        await this.snap(t, page, heading || page.url());
        if (heading === 'Sign in') {
          await this.fillLogin(page, o.account, t);
          outcome.signedIn = true;
        } else if (heading === 'Verification code') {
          await this.fillTotp(page, o.account, t);
        } else if (heading === 'Whose record?') {
          const picked = await this.pick(page, o.account, o.patientId, t);
          outcome.pickedLabel = picked.choice;
          outcome.pickerOptions = picked.labels;
          await this.submit(page, () => page.getByRole('button', { name: 'Continue' }).click());
        } else if (heading === 'Allow access?') {
          const boxes = await page.getByRole('checkbox').all();
          for (const box of boxes) {
            // A user-level authorization also lists whose records: those boxes stand as offered.
            if ((await box.getAttribute('name')) === 'patient') {
              outcome.offeredPatients = [...(outcome.offeredPatients ?? []), await labelOf(box)];
              continue;
            }
            const scope = (await box.getAttribute('value')) ?? '';
            const label = await labelOf(box);
            outcome.offeredScopes.push({ scope, label });
            // Without a choice, the screen's defaults stand (e.g. category scopes offered unticked).
            const checked = await box.isChecked();
            const keep = o.keep ? o.keep(scope) : checked;
            if (keep) outcome.keptScopes.push(scope);
            if (keep && !checked) {
              await box.check();
              t?.step(`tick "${label}"`);
            } else if (!keep && checked) {
              await box.uncheck();
              t?.step(`untick "${label}"`);
            }
          }
          await this.snap(t, page, 'consent after unticking');
          t?.step(o.deny ? 'click Deny' : 'click Allow');
          await this.submit(page, () => page.getByRole('button', { name: o.deny ? 'Deny' : 'Allow' }).click());
        } else {
          outcome.stoppedAt = { heading, text: ((await page.locator('body').textContent()) ?? '').replace(/\s+/g, ' ').trim().slice(0, 2000) };
          t?.step(`the flow stopped on a page: "${heading}"`);
          return outcome;
        }
      }
      outcome.stoppedAt = { heading: await this.heading(page), text: 'too many steps' };
      return outcome;
    } finally {
      await page.close();
    }
  }

  private async pick(page: Page, account: AccountInput, patientId: string | undefined, t?: TestContext): Promise<{ choice: string; labels: string[] }> {
    const radios = await page.getByRole('radio').all();
    const labels: string[] = [];
    for (const r of radios) labels.push(await labelOf(r));
    const known = (label: string) => this.learned.get(`${account.username}\u0000${label}`);
    let choice: string | undefined;
    if (patientId && patientId === account.patientId) choice = labels.find((l) => /\(you\)/.test(l));
    choice ??= labels.find((l) => patientId !== undefined && known(l) === patientId);
    // Not learned yet: try an option that is not the account's own and not known to be someone else.
    choice ??= labels.find((l) => !/\(you\)/.test(l) && known(l) === undefined);
    choice ??= labels[0];
    if (!choice) throw new Error('the patient picker offers no option');
    await page.getByLabel(choice, { exact: true }).check();
    t?.step(`pick "${choice}"`);
    return { choice, labels };
  }

  /**
   * Sign in to the authorization server's pages (the management endpoint redirects to its login)
   * and return a page there. The caller closes it.
   */
  async portalPage(account: AccountInput, url: string, t?: TestContext): Promise<Page> {
    const context = await this.context(`${account.username}#portal`);
    const page = await context.newPage();
    await page.goto(url, { waitUntil: 'load' });
    for (let i = 0; i < 4; i++) {
      const heading = await this.heading(page);
      if (heading === 'Sign in') {
        await this.snap(t, page, 'portal sign in');
        await this.fillLogin(page, account, t);
      } else if (heading === 'Verification code') {
        await this.fillTotp(page, account, t);
      } else break;
    }
    return page;
  }

  /**
   * The EHR launch: from the management page follow "Launch an app", choose the patient (typed by
   * a clinician, picked by a patient), the encounter and the app; returns the launch URL the
   * browser was sent to.
   */
  async ehrLaunch(
    o: { account: AccountInput; managementUrl: string; appName: string; patientId?: string; encounterId?: string; launchUri: string },
    t?: TestContext,
  ): Promise<{ launchUrl?: URL; stoppedAt?: { heading: string; text: string } }> {
    const page = await this.portalPage(o.account, o.managementUrl, t);
    try {
      await this.snap(t, page, 'connected apps');
      if (!(await page.getByRole('link', { name: 'Launch an app' }).count())) {
        return { stoppedAt: { heading: await this.heading(page), text: 'no "Launch an app" link on the management page' } };
      }
      t?.step('follow "Launch an app"');
      await this.submit(page, () => page.getByRole('link', { name: 'Launch an app' }).click());
      const patientField = page.getByLabel('Patient id', { exact: true });
      if (await patientField.count()) {
        await patientField.fill(o.patientId ?? '');
        t?.step(`type patient id ${o.patientId}`);
        if (o.encounterId) {
          await page.getByLabel(/^Encounter id/).fill(o.encounterId);
          t?.step(`type encounter id ${o.encounterId}`);
        }
      }
      await page.getByLabel(o.appName, { exact: true }).check();
      t?.step(`choose the app "${o.appName}"`);
      await this.snap(t, page, 'launch page');
      await this.submit(page, () => page.getByRole('button', { name: 'Launch app' }).click());
      if (page.url().startsWith(o.launchUri)) {
        t?.step(`the browser was sent to the app's launch URL: ${page.url()}`);
        return { launchUrl: new URL(page.url()) };
      }
      return { stoppedAt: { heading: await this.heading(page), text: ((await page.locator('body').textContent()) ?? '').replace(/\s+/g, ' ').trim().slice(0, 1000) } };
    } finally {
      await page.close();
    }
  }

  /** Revoke an app on the management page (patient-directed revocation). */
  async revokeApp(o: { account: AccountInput; managementUrl: string; appName: string }, t?: TestContext): Promise<{ revoked: boolean; text: string }> {
    const page = await this.portalPage(o.account, o.managementUrl, t);
    try {
      await this.snap(t, page, 'connected apps before revoking');
      const button = page.getByRole('button', { name: `Revoke access for ${o.appName}` });
      if (!(await button.count())) return { revoked: false, text: `no "Revoke access for ${o.appName}" button on the page` };
      t?.step(`click "Revoke access for ${o.appName}"`);
      await this.submit(page, () => button.first().click());
      await this.snap(t, page, 'connected apps after revoking');
      const still = await page.getByRole('button', { name: `Revoke access for ${o.appName}` }).count();
      return { revoked: still === 0, text: ((await page.locator('main').textContent()) ?? '').replace(/\s+/g, ' ').trim().slice(0, 500) };
    } finally {
      await page.close();
    }
  }
}

async function labelOf(input: import('playwright-core').Locator): Promise<string> {
  return input.evaluate((el) => {
    type Labelled = { labels?: ArrayLike<{ textContent: string | null }> | null; closest(s: string): { textContent: string | null } | null };
    const e = el as unknown as Labelled;
    const label = e.labels?.[0] ?? e.closest('label');
    return (label?.textContent ?? '').replace(/\s+/g, ' ').trim();
  });
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function redactCode(url: string): string {
  return url.replace(/([?&]code=)([^&]{6})[^&]*/, '$1$2…');
}
