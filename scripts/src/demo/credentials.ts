/**
 * Demo login credentials, derived from the username so they are the same on every machine and can
 * be printed in the README. Only ever used for the demo dataset, never for real accounts.
 */
import { createHmac } from 'node:crypto';

const DEMO_KEY = 'patient-access demo dataset (not a secret)';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function demoPassword(username: string): string {
  const h = createHmac('sha256', DEMO_KEY).update(`password:${username}`).digest('base64url').replace(/[-_]/g, 'x');
  return `Demo-${h.slice(0, 10)}-7`;
}

export function demoTotpSecret(username: string): string {
  const bytes = createHmac('sha256', DEMO_KEY).update(`totp:${username}`).digest().subarray(0, 20);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
