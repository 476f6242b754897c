/**
 * The signed-in state of the authorization server's own pages (connected apps, EHR launch): a
 * small HMAC-signed cookie naming the account, SameSite=Strict (so cross-site form posts carry no
 * session: CSRF), HttpOnly, and idle-limited: it ends after 15 minutes without use (45 CFR
 * 164.312(a)(2)(iii) automatic logoff; the rule sets no number, we choose 15 minutes).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

export const PORTAL_IDLE_SECONDS = 15 * 60;

interface Payload {
  /** account id */
  a: string;
  /** expiry, epoch seconds */
  e: number;
  /** purpose: a full session, or a password-checked login waiting for its second factor */
  p: 'session' | 'mfa';
}

export class SignedCookie {
  constructor(
    private readonly name: string,
    private readonly secret: string,
    private readonly secure: boolean,
    private readonly path: string,
  ) {}

  read(ctx: Context, purpose: Payload['p'], now: Date): string | undefined {
    const raw = ctx.cookies.get(this.name);
    if (!raw) return undefined;
    const dot = raw.lastIndexOf('.');
    const body = raw.slice(0, dot);
    const mac = Buffer.from(raw.slice(dot + 1), 'base64url');
    const expected = this.mac(body);
    if (dot <= 0 || mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    try {
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
      if (payload.p !== purpose || payload.e * 1000 <= now.getTime()) return undefined;
      return payload.a;
    } catch {
      return undefined;
    }
  }

  write(ctx: Context, accountId: string, purpose: Payload['p'], ttlSeconds: number, now: Date): void {
    const body = Buffer.from(JSON.stringify({ a: accountId, e: Math.floor(now.getTime() / 1000) + ttlSeconds, p: purpose } satisfies Payload)).toString('base64url');
    ctx.cookies.set(this.name, `${body}.${this.mac(body).toString('base64url')}`, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.secure,
      path: this.path,
      maxAge: ttlSeconds * 1000,
      overwrite: true,
    });
  }

  clear(ctx: Context): void {
    ctx.cookies.set(this.name, '', { httpOnly: true, sameSite: 'strict', secure: this.secure, path: this.path, maxAge: 0, overwrite: true });
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.secret).update(`${this.name}:${body}`).digest();
  }
}

export interface PortalCookies {
  session: SignedCookie;
  pending: SignedCookie;
}

/** The portal's cookies, valid for the whole origin (the pages under the issuer and /v1/portal). */
export function portalCookies(secret: string, secure: boolean): PortalCookies {
  return { session: new SignedCookie('pa_portal', secret, secure, '/'), pending: new SignedCookie('pa_portal_mfa', secret, secure, '/') };
}
