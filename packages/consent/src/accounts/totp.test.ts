import { describe, expect, test } from '@jest/globals';
import { base32Decode, base32Encode, totpAt, verifyTotp } from './totp.js';
import { hashPassword, verifyPassword } from './password.js';

// RFC 6238 Appendix B test vectors (SHA-1 secret "12345678901234567890"), truncated to 6 digits.
const SECRET = base32Encode(Buffer.from('12345678901234567890'));

describe('TOTP', () => {
  test.each([
    [59, '287082'],
    [1111111109, '081804'],
    [1111111111, '050471'],
    [1234567890, '005924'],
    [2000000000, '279037'],
  ])('RFC 6238 vector at %i s', (seconds, code) => {
    expect(totpAt(SECRET, new Date(seconds * 1000))).toBe(code);
  });
  test('accepts one step of drift, rejects two and malformed codes', () => {
    const now = new Date(1111111111 * 1000);
    expect(verifyTotp(SECRET, totpAt(SECRET, new Date(now.getTime() - 30_000)), now)).toBe(true);
    expect(verifyTotp(SECRET, totpAt(SECRET, new Date(now.getTime() - 60_000)), now)).toBe(false);
    expect(verifyTotp(SECRET, '12345', now)).toBe(false);
    expect(verifyTotp(SECRET, 'abcdef', now)).toBe(false);
  });
  test('base32 round trip', () => {
    expect(base32Decode(base32Encode(Buffer.from('hello world'))).toString()).toBe('hello world');
  });
});

describe('password hashing', () => {
  test('verifies the right password only', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash.startsWith('scrypt$')).toBe(true);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('wrong horse', hash)).toBe(false);
    expect(await verifyPassword('correct horse', 'garbage')).toBe(false);
  });
});
