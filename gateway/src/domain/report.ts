import { csvLine, csvText } from './csv';
import { addMs, DAY_MS } from './time';

/** R15: the columns of Flex's own usage export, in its order. */
export const USAGE_CSV_COLUMNS = ['Day used', 'Email', 'First name', 'Last name', 'Product', 'Team', 'Tokens used'] as const;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A report's range [from, to): a bare day means the whole UTC day, and `to` as a day is
 * included ("from 2026-03-01 to 2026-03-31" is all of March). Without bounds: the last 30 whole
 * UTC days, today included, as the console's overview shows them. Whole days are what the daily
 * rollups answer; a range ending at this instant is answered from the ledger, a scan of every
 * charge in it (BENCHMARKS.md), and nothing is charged after now anyway.
 */
export function reportRange(from: string | undefined, to: string | undefined, now: Date): { from: string; to: string } {
  const today = new Date(`${now.toISOString().slice(0, 10)}T00:00:00Z`);
  const end = to === undefined ? addMs(today, DAY_MS) : DAY.test(to) ? addMs(new Date(`${to}T00:00:00Z`), DAY_MS) : new Date(to);
  const start = from === undefined ? addMs(end, -30 * DAY_MS) : new Date(DAY.test(from) ? `${from}T00:00:00Z` : from);
  // The day after 9999-12-31 has no four-digit year: its ISO text ("+010000-...") sorts before every
  // instant it should follow, and ranges are compared as text. The range's last instant stands for it.
  return { from: start.toISOString(), to: end.getUTCFullYear() > 9999 ? LAST_INSTANT : end.toISOString() };
}

const LAST_INSTANT = '9999-12-31T23:59:59.999Z';

/** The last day a range ending at `toIso` covers: `to` is exclusive, so a range ending at midnight ends the day before. */
export const lastDayOf = (toIso: string): string => new Date(Date.parse(toIso) - 1).toISOString().slice(0, 10);

/** Why a range (as `reportRange` makes it) holds nothing, in the days as asked; undefined when it holds some. */
export function emptyRange(r: { from: string; to: string }): string | undefined {
  return r.to <= r.from ? `The range is empty: from ${r.from.slice(0, 10)} is after its last day, ${lastDayOf(r.to)}.` : undefined;
}

/** "Ada King Lovelace" → first "Ada", last "King Lovelace": Flex's export has the two columns. */
export function splitName(name: string): { first: string; last: string } {
  const parts = name
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '');
  if (parts.length === 0) return { first: '', last: '' };
  return { first: parts[0] as string, last: parts.slice(1).join(' ') };
}

export interface UsageCsvRow {
  day: string;
  email: string;
  name: string;
  product: string;
  team: string;
  tokens: number;
}

/** The export's first line: its columns. */
export const usageCsvHeader = (): string => csvLine([...USAGE_CSV_COLUMNS]);

/** Lines of the export, one per row, without the header: a large export is written a day at a time. */
export function usageCsvLines(rows: readonly UsageCsvRow[]): string {
  let out = '';
  for (const r of rows) {
    const { first, last } = splitName(r.name);
    out += csvLine([r.day, csvText(r.email), csvText(first), csvText(last), csvText(r.product), csvText(r.team), String(r.tokens)]);
  }
  return out;
}

/** A report row (R15): a key's tokens consumed and sessions. */
export interface UsageSum {
  key: string;
  tokens: number;
  sessions: number;
}

/**
 * R15: a report read in parts (days, runs of days) added up by key. Tokens add up; so do sessions,
 * as all of a session's entries count on one day (its charge's, where R7a counts its refund too).
 */
export function addUsage(sums: Map<string, UsageSum>, part: readonly UsageSum[]): void {
  for (const r of part) {
    const s = sums.get(r.key);
    if (s) {
      s.tokens += r.tokens;
      s.sessions += r.sessions;
    } else sums.set(r.key, { key: r.key, tokens: r.tokens, sessions: r.sessions });
  }
}

/** The sums in key order: that of SQLite's binary collation and PostgreSQL's "C" (code points), which a single statement gave. */
export const usageRowsOf = (sums: Map<string, UsageSum>): UsageSum[] => [...sums.values()].sort((a, b) => byCodePoint(a.key, b.key));

/** Strings in code point order (UTF-8's byte order): UTF-16 code units order astral characters below U+E000-U+FFFF. */
export function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A code unit's place in code point order: surrogates (astral characters) above the rest of the BMP. */
const codePointRank = (u: number): number => (u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u);
