/**
 * Demo login credentials, derived from the username so they are the same on every machine and can
 * be printed in the README. Only ever used for the demo dataset, never for real accounts.
 */
import { createHmac } from 'node:crypto';
import { base32Encode } from '@patient-access/consent';

const DEMO_KEY = 'patient-access demo dataset (not a secret)';

export function demoPassword(username: string): string {
  const h = createHmac('sha256', DEMO_KEY).update(`password:${username}`).digest('base64url').replace(/[-_]/g, 'x');
  return `Demo-${h.slice(0, 10)}-7`;
}

export function demoTotpSecret(username: string): string {
  return base32Encode(createHmac('sha256', DEMO_KEY).update(`totp:${username}`).digest().subarray(0, 20));
}
