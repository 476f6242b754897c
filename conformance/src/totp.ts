/**
 * RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps) and RFC 4648 base32, written here so the
 * suite shares no code with the server it tests. A code is accepted once per account, so the
 * clock hands out each (account, step) pair at most once and waits for the next step otherwise.
 */
import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(input: string): Buffer {
  const clean = input.replace(/[\s=-]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const index = BASE32.indexOf(ch);
    if (index < 0) throw new Error(`invalid base32 character "${ch}"`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** HOTP (RFC 4226) for a counter. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export const TOTP_STEP_SECONDS = 30;

export function totpStep(atMs: number, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(atMs / 1000 / stepSeconds);
}

/** The TOTP code of a base32 secret at a time (ms since the epoch). */
export function totp(secretBase32: string, atMs: number, options: { digits?: number; stepSeconds?: number } = {}): string {
  return hotp(base32Decode(secretBase32), totpStep(atMs, options.stepSeconds), options.digits ?? 6);
}

/**
 * Hands out codes so that no account gets the same step twice: when the current step was already
 * used for that account, waits until the next one begins.
 */
export class TotpClock {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** How long `nextCode` would wait for this account right now (ms). */
  waitFor(account: string): number {
    const last = this.used.get(account);
    const now = this.now();
    if (last === undefined || totpStep(now) > last) return 0;
    return (last + 1) * TOTP_STEP_SECONDS * 1000 - now + 250;
  }

  async nextCode(account: string, secretBase32: string): Promise<string> {
    const wait = this.waitFor(account);
    if (wait > 0) await this.sleep(wait);
    const at = this.now();
    this.used.set(account, totpStep(at));
    return totp(secretBase32, at);
  }
}
