/**
 * An instant a person typed: an RFC 3339 date-time with its zone (Z or an offset). A bare date
 * ("2026-07-01") or a zone-less time would mean midnight somewhere else (UTC, or the server's
 * zone), so both are refused, as is a calendar date that does not exist (2026-02-30, which
 * `new Date` would silently read as 2 March). The one check for every end or expiry a person sets
 * (delegation endsAt, disclosure consent expiresAt).
 */

/** RFC 3339 date-time with a zone (Z or an offset); seconds and a fraction optional. */
export const ZONED_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** The instant, or undefined for anything that is not a valid zoned date-time (fractions past milliseconds are dropped). */
export function parseZonedDateTime(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ZONED_DATE_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = m.slice(1).map((p) => (p === undefined ? 0 : Number(p))) as [number, number, number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetHour > 23 || offsetMinute > 59) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
