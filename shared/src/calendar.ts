/**
 * An ISO-8601 day or date-time that exists on the calendar as written: `Date.parse` rolls
 * 2026-02-30 over to 2 March and reads 24:00 as the next day, so a typo would silently move a
 * purchase or a report. The offset, if any, must be a real one (at most 18 hours).
 */
const FORM = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))?)?$/;

export function isCalendarInstant(s: string): boolean {
  const m = FORM.exec(s);
  if (!m) return false;
  const [, y, mo, d, h, mi, sec, , oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return false;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (sec !== undefined && Number(sec) > 59))) return false;
  if (oh !== undefined && (Number(oh) > 18 || Number(om) > 59)) return false;
  return !Number.isNaN(Date.parse(s));
}
