/** Date arithmetic in UTC against the fixed reference date, so output never depends on the clock. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const YEAR_MS = 365.25 * DAY_MS;

/** FHIR dateTime/instant with second precision: 2026-10-01T14:30:00Z. */
export function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** FHIR date: 2026-10-01. */
export function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function parseDate(d: string): number {
  return Date.parse(`${d.slice(0, 10)}T00:00:00Z`);
}

/** Completed years of age on `at` (calendar arithmetic, as a clinic would count them). */
export function fullYears(birthDate: string, at: number): number {
  const b = new Date(parseDate(birthDate));
  const a = new Date(at);
  let years = a.getUTCFullYear() - b.getUTCFullYear();
  if (a.getUTCMonth() < b.getUTCMonth() || (a.getUTCMonth() === b.getUTCMonth() && a.getUTCDate() < b.getUTCDate())) years--;
  return years;
}

/** The birth date of someone who turned `years` old `daysSinceBirthday` days before `now`. */
export function birthDateForAge(now: number, years: number, daysSinceBirthday: number): string {
  const d = new Date(now - daysSinceBirthday * DAY_MS);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return date(d.getTime());
}

/** Start of the UTC day containing `ms`. */
export function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}
