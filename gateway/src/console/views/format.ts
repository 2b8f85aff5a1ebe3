import { DAY_MS } from '../../domain/time';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `2026-03-15...` → `15 Mar 2026` (UTC: every instant the gateway stores is UTC). */
export function day(iso: string): string {
  const d = new Date(iso);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** `2026-03-15T10:00:00Z` → `15 Mar 2026, 10:00 UTC`. */
export function instant(iso: string): string {
  const d = new Date(iso);
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${day(iso)}, ${hh}:${mm} UTC`;
}

/** `2026-03-15` → `15 Mar`, for chart axes. */
export function shortDay(isoDay: string): string {
  const d = new Date(`${isoDay.slice(0, 10)}T00:00:00Z`);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

export const num = (n: number): string => n.toLocaleString('en-US');

/** `1 token`, `0 tokens`, `1,250 tokens`, `0.5 tokens` a day. */
export const tokenCount = (n: number): string => `${num(n)} ${n === 1 ? 'token' : 'tokens'}`;

/** Days from `now` until `iso`, a started day counting as one ("expires in 25 days" with 24.9 left). */
export function daysUntil(iso: string, now: string): number {
  return Math.ceil((Date.parse(iso) - Date.parse(now)) / DAY_MS);
}

export function relative(iso: string, now: string): string {
  const ms = Date.parse(iso) - Date.parse(now);
  const abs = Math.abs(ms);
  const unit =
    abs >= DAY_MS
      ? `${Math.floor(abs / DAY_MS)} d`
      : abs >= 3_600_000
        ? `${Math.floor(abs / 3_600_000)} h`
        : `${Math.max(1, Math.floor(abs / 60_000))} min`;
  return ms >= 0 ? `in ${unit}` : `${unit} ago`;
}

/** A wait a person reads: `1 second`, `45 seconds`, `2 minutes` (a started minute counts whole). */
export function waitWords(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** Path segment of a member: an Autodesk ID is an e-mail, always encoded. */
export const memberPath = (team: string, autodeskId: string): string =>
  `/console/teams/${encodeURIComponent(team)}/members/${encodeURIComponent(autodeskId)}`;
export const teamPath = (team: string, rest = ''): string => `/console/teams/${encodeURIComponent(team)}${rest}`;

/**
 * The rule that decided a refusal, as a person reads it: the API's `rule` field carries the rule
 * number (docs/rules.md), which a console reader cannot look up. A rule without a label shows nothing.
 */
const RULE_LABELS: Record<string, string> = {
  R4: 'not enough tokens',
  R9: 'subscription, then trial, then Flex',
  R11: 'invitation not accepted',
  R12: 'per-user access',
  R13: 'default products (never for guests)',
};
export const ruleLabel = (rule: string | undefined): string | undefined => (rule ? RULE_LABELS[rule] : undefined);

const ISO_INSTANT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z\b/g;
const API_ROUTE_HINT = / \((?:GET|POST|PUT|PATCH|DELETE) \/v1\/[^)]*\)/g;

/**
 * A text the gateway stored (a ledger entry's reason, an audit value) with its ISO instants as the
 * console writes instants: `valid until 2027-03-15T10:00:00.000Z` → `valid until 15 Mar 2027, 10:00 UTC`.
 */
export const withInstants = (text: string): string => text.replace(ISO_INSTANT, (iso) => instant(iso));

/**
 * A service's refusal as a console reader reads it: the API's wording names instants in ISO form
 * and sometimes the route to call next, which mean nothing on a page with its own buttons.
 */
export const readable = (message: string): string => withInstants(message.replace(API_ROUTE_HINT, ''));
