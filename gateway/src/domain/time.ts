export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const iso = (d: Date): string => d.toISOString();
export const addMs = (d: Date, ms: number): Date => new Date(d.getTime() + ms);

/**
 * [from, to) cut at each UTC midnight inside it, in order: the days of a range, the first and the
 * last possibly partial. Empty when the range is.
 */
export function utcDays(fromIso: string, toIso: string): { from: string; to: string }[] {
  const end = Date.parse(toIso);
  const out: { from: string; to: string }[] = [];
  for (let t = Date.parse(fromIso); t < end; ) {
    const midnight = (Math.floor(t / DAY_MS) + 1) * DAY_MS;
    const next = Math.min(midnight, end);
    out.push({ from: new Date(t).toISOString(), to: new Date(next).toISOString() });
    t = next;
  }
  return out;
}

/** One calendar year later, same UTC time (R1). 29 February rolls to 1 March, as Date does. */
export function addOneYear(d: Date): Date {
  const next = new Date(d.getTime());
  next.setUTCFullYear(next.getUTCFullYear() + 1);
  return next;
}

/** A period [startsAt, endsAt) is active at `now` when it has started and not yet ended. */
export function isActive(period: { startsAt: string; endsAt: string }, now: Date): boolean {
  // Compared as instants, not text: '...00Z' and '...00.000Z' are the same moment.
  const t = now.getTime();
  return Date.parse(period.startsAt) <= t && t < Date.parse(period.endsAt);
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** An instant as a person reads it in an e-mail: "Tuesday 22 December 2026 at 10:00 UTC" (never ISO). */
export function humanInstant(isoInstant: string): string {
  const d = new Date(isoInstant);
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} at ${hh}:${mm} UTC`;
}
