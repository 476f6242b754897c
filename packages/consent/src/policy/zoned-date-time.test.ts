import { describe, expect, test } from '@jest/globals';
import { parseZonedDateTime } from './zoned-date-time.js';

describe('parseZonedDateTime', () => {
  test.each<[string, string]>([
    ['2027-07-01T00:00:00Z', '2027-07-01T00:00:00.000Z'],
    ['2027-07-01T00:00:00-07:00', '2027-07-01T07:00:00.000Z'],
    ['2027-07-01T00:00+05:30', '2027-06-30T18:30:00.000Z'],
    ['2027-07-01T12:34:56.789123456+00:00', '2027-07-01T12:34:56.789Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseZonedDateTime(text)?.toISOString()).toBe(iso);
  });

  test.each<[string, unknown]>([
    ['a bare date', '2027-07-01'],
    ['a zone-less date-time', '2027-07-01T00:00:00'],
    ['a space instead of T', '2027-07-01 00:00:00Z'],
    ['a day that does not exist', '2027-02-30T00:00:00Z'],
    ['29 February of a common year', '2027-02-29T00:00:00Z'],
    ['29 February 1900', '1900-02-29T00:00:00Z'],
    ['month 13', '2027-13-01T00:00:00Z'],
    ['day 0', '2027-07-00T00:00:00Z'],
    ['hour 24', '2027-07-01T24:00:00Z'],
    ['minute 60', '2027-07-01T23:60:00Z'],
    ['second 60', '2027-07-01T23:59:60Z'],
    ['offset 24:00', '2027-07-01T00:00:00+24:00'],
    ['an offset without a colon', '2027-07-01T00:00:00+0700'],
    ['a six-digit year', '+275760-09-13T00:00:00Z'],
    ['a number', 1_800_000_000_000],
    ['a date object', new Date('2027-07-01T00:00:00Z')],
    ['nothing', undefined],
    ['trailing text', '2027-07-01T00:00:00Z junk'],
  ])('refuses %s', (_name, value) => {
    expect(parseZonedDateTime(value)).toBeUndefined();
  });
});
