/** Value normalization shared by index extraction (write time) and search parsing (query time). */

/** FHIR string search is case- and accent-insensitive. */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trim();
}

/**
 * Makes a reference to a resource on this server comparable: relative `Type/id`, no version, this
 * server's base URL stripped. Anything else is undefined: an absolute URL with another base names
 * a resource on another server whatever its last segments say, and read as ours it would file
 * another system's patient's data in our patient's compartment, or match her searches.
 */
export function normalizeReference(ref: string, fhirBaseUrl?: string): string | undefined {
  let r = ref.trim();
  if (fhirBaseUrl && r.startsWith(fhirBaseUrl + '/')) r = r.slice(fhirBaseUrl.length + 1);
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(r);
  if (!m) return undefined;
  return `${m[1]}/${m[2]}`;
}

/** An absolute URL (scheme://…): with normalizeReference undefined, another server's resource. */
export function isAbsoluteReference(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref.trim());
}

/**
 * The instants a search may name: FHIR's years 0001-9999. Year 0 and years past 9999 are out of
 * FHIR's grammar, and written out (toISOString) they are not timestamps PostgreSQL reads.
 */
export const MIN_INSTANT = utc(1, 0, 1);
export const MAX_INSTANT = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));

export interface DateRange {
  lo: Date;
  hi: Date;
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * dateRange for a value a client searches by: undefined also when the range reaches outside
 * MIN_INSTANT..MAX_INSTANT (year 0000, or 0001 or 9999 pushed over the edge by a zone offset),
 * which the SQL could not compare against.
 */
export function searchDateRange(value: string): DateRange | undefined {
  const range = dateRange(value);
  if (!range || range.lo < MIN_INSTANT || range.hi > MAX_INSTANT) return undefined;
  return range;
}

/**
 * The instant range a FHIR date, dateTime or instant covers at its precision: `2024-03` is the
 * whole of March. Times without a zone are read as UTC. Returns undefined for malformed values.
 */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : undefined;
  const day = d ? Number(d) : undefined;
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined && (day < 1 || day > 31)) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;
  const offsetMs = tz && tz !== 'Z' ? (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000 : 0;
  if (h === undefined) {
    if (month === undefined) return { lo: utc(year, 0, 1), hi: new Date(utc(year + 1, 0, 1).getTime() - 1) };
    if (day === undefined) return { lo: utc(year, month - 1, 1), hi: new Date(utc(year, month, 1).getTime() - 1) };
    const lo = utc(year, month - 1, day);
    if (lo.getUTCMonth() !== month - 1) return undefined;
    return { lo, hi: new Date(lo.getTime() + 86_400_000 - 1) };
  }
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const base = utc(year, (month ?? 1) - 1, day ?? 1, Number(h), Number(mi), s ? Number(s) : 0, ms).getTime() - offsetMs;
  // Precision: seconds given → that second (or that millisecond with fractions); minutes → that minute.
  const span = frac ? 1 : s !== undefined ? 1000 : 60_000;
  return { lo: new Date(base), hi: new Date(base + span - 1) };
}

/** Date.UTC, except that years 0-99 are those years (Date.UTC reads them as 1900-1999). */
function utc(y: number, m: number, d: number, h = 0, mi = 0, s = 0, ms = 0): Date {
  const dt = new Date(Date.UTC(y, m, d, h, mi, s, ms));
  dt.setUTCFullYear(y);
  return dt;
}

export const NEG_INFINITY = new Date(-8.64e15);
export const POS_INFINITY = new Date(8.64e15);
