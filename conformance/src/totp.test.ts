import { describe, expect, test } from '@jest/globals';
import { TotpClock, base32Decode, hotp, totp, totpStep } from './totp.js';

// RFC 6238 Appendix B (SHA-1 key "12345678901234567890"), 8 digits.
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('base32', () => {
  test('decodes RFC 4648 text, ignoring padding, spaces and case', () => {
    expect(base32Decode(SECRET).toString('ascii')).toBe('12345678901234567890');
    expect(base32Decode('MZXW6===').toString()).toBe('foo');
    expect(base32Decode('mzxw 6yq=').toString()).toBe('foob');
  });
  test('rejects characters outside the alphabet', () => {
    expect(() => base32Decode('ABC1')).toThrow(/invalid base32/);
  });
});

describe('TOTP (RFC 6238, SHA-1)', () => {
  test.each(VECTORS)('at %i s the 8-digit code is %s', (seconds, code) => {
    expect(totp(SECRET, seconds * 1000, { digits: 8 })).toBe(code);
  });
  test('six digits are the low six of the same value', () => {
    expect(totp(SECRET, 59_000)).toBe('287082');
  });
  test('HOTP counter 0 matches RFC 4226', () => {
    expect(hotp(Buffer.from('12345678901234567890'), 0)).toBe('755224');
    expect(hotp(Buffer.from('12345678901234567890'), 9)).toBe('520489');
  });
  test('steps are 30 seconds', () => {
    expect(totpStep(29_999)).toBe(0);
    expect(totpStep(30_000)).toBe(1);
  });
});

describe('TotpClock', () => {
  test('hands out each step once per account and waits for the next one', async () => {
    let now = 1_000_000_000_000;
    const waits: number[] = [];
    const clock = new TotpClock(
      () => now,
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    const first = await clock.nextCode('maria', SECRET);
    expect(waits).toEqual([]);
    // Another account is not held up.
    await clock.nextCode('mateo', SECRET);
    expect(waits).toEqual([]);
    now += 1000;
    expect(clock.waitFor('maria')).toBeGreaterThan(0);
    const second = await clock.nextCode('maria', SECRET);
    expect(waits).toHaveLength(1);
    expect(totpStep(now)).toBe(totpStep(1_000_000_000_000) + 1);
    expect(second).toBe(totp(SECRET, now));
    expect(first).toBe(totp(SECRET, 1_000_000_000_000));
  });
});
