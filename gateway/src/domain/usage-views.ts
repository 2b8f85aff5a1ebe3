import { addMs, DAY_MS } from './time';

/** Flex's preset ranges of its usage reports, beside a custom one. */
export const USAGE_PRESETS = ['30d', '3m', '6m', '9m', '12m'] as const;
export type UsagePreset = (typeof USAGE_PRESETS)[number];

export const PRESET_LABEL: Record<UsagePreset, string> = {
  '30d': 'Past 30 days',
  '3m': 'Past 3 months',
  '6m': 'Past 6 months',
  '9m': 'Past 9 months',
  '12m': 'Past 12 months',
};

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The days (both included) a preset covers, ending today: 30 days, or N calendar months (the day
 * after the same date N months back, clamped to the month's end: 31 May less 3 months is 28 Feb).
 */
export function presetRange(preset: UsagePreset, today: string): { from: string; to: string } {
  const end = new Date(`${today}T00:00:00Z`);
  if (preset === '30d') return { from: isoDay(addMs(end, -29 * DAY_MS)), to: today };
  const months = Number(preset.slice(0, -1));
  const y = end.getUTCFullYear();
  const m = end.getUTCMonth() - months;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const back = new Date(Date.UTC(y, m, Math.min(end.getUTCDate(), last)));
  return { from: isoDay(addMs(back, DAY_MS)), to: today };
}

/** What a usage report reads: tokens consumed by one user on one product on one day (net of refunds). */
export interface UsageCell {
  day: string;
  autodeskId: string;
  product: string;
  tokens: number;
}

export interface ProductUsers {
  product: string;
  tokens: number;
  users: { autodeskId: string; tokens: number; days: number }[];
}

/**
 * Cells a stepped view reads between two pauses: the service lets other requests run between
 * steps (SQLite's driver is synchronous, a large team's year is some 100,000s of cells).
 */
export const VIEW_STEP = 5_000;

/** Runs a stepped view to its end, without pausing. */
function finish<T>(steps: Generator<void, T>): T {
  for (let next = steps.next(); ; next = steps.next()) if (next.done) return next.value;
}

/** R15, Flex's "by product" view: each product with the users who used it, most tokens first. */
export function productUsers(cells: readonly UsageCell[]): ProductUsers[] {
  return finish(productUsersSteps(cells));
}

/** `productUsers` in steps: it pauses (yields) every `VIEW_STEP` cells. */
export function* productUsersSteps(cells: readonly UsageCell[]): Generator<void, ProductUsers[]> {
  const byProduct = new Map<string, Map<string, { tokens: number; days: Set<string> }>>();
  for (let i = 0; i < cells.length; i++) {
    if (i > 0 && i % VIEW_STEP === 0) yield;
    const c = cells[i] as UsageCell;
    if (c.tokens <= 0) continue;
    const users = byProduct.get(c.product) ?? new Map();
    byProduct.set(c.product, users);
    const u = users.get(c.autodeskId) ?? { tokens: 0, days: new Set<string>() };
    users.set(c.autodeskId, u);
    u.tokens += c.tokens;
    u.days.add(c.day);
  }
  return [...byProduct]
    .map(([product, users]) => {
      const list = [...users]
        .map(([autodeskId, u]) => ({ autodeskId, tokens: u.tokens, days: u.days.size }))
        .sort((a, b) => b.tokens - a.tokens || a.autodeskId.localeCompare(b.autodeskId));
      return { product, tokens: list.reduce((s, u) => s + u.tokens, 0), users: list };
    })
    .sort((a, b) => b.tokens - a.tokens || a.product.localeCompare(b.product));
}

/** The Monday (UTC) of the week a day falls in: weeks run Monday to Sunday, as ISO 8601 has them. */
export function weekOf(day: string): string {
  const d = new Date(`${day.slice(0, 10)}T00:00:00Z`);
  return isoDay(addMs(d, -((d.getUTCDay() + 6) % 7) * DAY_MS));
}

/** Every week that meets [from, to] (days, both included), by its Monday. */
export function weeksBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const last = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${weekOf(from)}T00:00:00Z`); t <= last; t += 7 * DAY_MS) out.push(isoDay(new Date(t)));
  return out;
}

export interface UserWeeks {
  autodeskId: string;
  tokens: number;
  /** Days with any use, over the whole range. */
  daysUsed: number;
  /** Days used in each week of `weeksBetween(from, to)`, 0-7. */
  perWeek: number[];
}

/** Where a user stands in the per-user view: a page of it starts after one. */
export type UserRank = Pick<UserWeeks, 'autodeskId' | 'tokens' | 'daysUsed'>;

/**
 * The per-user view's order: most days used first, then most tokens, then by Autodesk ID. The last
 * tie-break (code units) only splits IDs `localeCompare` calls equal: no two users tie, so a page
 * can start exactly after the last user of the one before.
 */
export function byUse(a: UserRank, b: UserRank): number {
  return (
    b.daysUsed - a.daysUsed ||
    b.tokens - a.tokens ||
    a.autodeskId.localeCompare(b.autodeskId) ||
    (a.autodeskId < b.autodeskId ? -1 : a.autodeskId > b.autodeskId ? 1 : 0)
  );
}

/** A rank as a page's address writes it (`12.3400.ann@example.com`), and back; null for anything else. */
export const userRankCursor = (r: UserRank): string => `${r.daysUsed}.${r.tokens}.${r.autodeskId}`;
export function parseUserRankCursor(s: string): UserRank | null {
  const m = /^(\d{1,9})\.(\d{1,15})\.(.{1,254})$/.exec(s);
  return m ? { daysUsed: Number(m[1]), tokens: Number(m[2]), autodeskId: m[3] as string } : null;
}

export interface UserWeeksPage {
  /** Mondays of the weeks the range meets. */
  weeks: string[];
  /** The page's users, in `byUse` order, each with their days used per week. */
  users: UserWeeks[];
  /** Users with any use in the range, on every page; `before` of them rank above this page. */
  total: number;
  before: number;
  /** The last user of this page when another follows, else null. */
  next: UserRank | null;
}

/** R15, Flex's per-user view: the days each user used a product, week by week (every user: one page). */
export function daysUsedPerWeek(cells: readonly UsageCell[], from: string, to: string, page?: UserPage): UserWeeksPage {
  return finish(daysUsedPerWeekSteps(cells, from, to, page));
}

/** A page of the per-user view: `limit` users ranked after `after` (from the first without it). */
export interface UserPage {
  after?: UserRank | undefined;
  limit: number;
}

/**
 * `daysUsedPerWeek` in steps: it pauses (yields) every `VIEW_STEP` cells, and every `VIEW_STEP`
 * days of use. Every user is ranked (the order needs each one's days and tokens); only the page's
 * users get their weeks.
 */
export function* daysUsedPerWeekSteps(
  cells: readonly UsageCell[],
  from: string,
  to: string,
  page: UserPage = { limit: Number.POSITIVE_INFINITY },
): Generator<void, UserWeeksPage> {
  const weeks = weeksBetween(from, to);
  const index = new Map(weeks.map((w, i) => [w, i]));
  // A range has few days and many days of use: each day's week is found once.
  const weekIndex = new Map<string, number | undefined>();
  const weekOfDay = (d: string) => {
    if (!weekIndex.has(d)) weekIndex.set(d, index.get(weekOf(d)));
    return weekIndex.get(d);
  };
  const byUser = new Map<string, { tokens: number; days: Set<string> }>();
  for (let i = 0; i < cells.length; i++) {
    if (i > 0 && i % VIEW_STEP === 0) yield;
    const c = cells[i] as UsageCell;
    if (c.tokens <= 0) continue;
    const u = byUser.get(c.autodeskId) ?? { tokens: 0, days: new Set<string>() };
    byUser.set(c.autodeskId, u);
    u.tokens += c.tokens;
    u.days.add(c.day.slice(0, 10));
  }
  const ranked: UserRank[] = [...byUser].map(([autodeskId, u]) => ({ autodeskId, tokens: u.tokens, daysUsed: u.days.size }));
  ranked.sort(byUse);
  const { after } = page;
  const first = after === undefined ? 0 : ranked.findIndex((r) => byUse(r, after) > 0);
  const before = first === -1 ? ranked.length : first;
  const shown = ranked.slice(before, before + page.limit);
  const users: UserWeeks[] = [];
  let counted = 0;
  for (const r of shown) {
    if (counted >= VIEW_STEP) {
      counted = 0;
      yield;
    }
    const days = byUser.get(r.autodeskId)?.days ?? new Set<string>();
    counted += days.size;
    const perWeek = weeks.map(() => 0);
    for (const d of days) {
      const i = weekOfDay(d);
      if (i !== undefined) perWeek[i] = (perWeek[i] ?? 0) + 1;
    }
    users.push({ ...r, perWeek });
  }
  const last = shown.at(-1);
  const next = last !== undefined && before + shown.length < ranked.length ? last : null;
  return { weeks, users, total: ranked.length, before, next };
}
