import type { UsageResponse, UsageSummary } from '@flexgate/shared';
import { listProducts } from '../db/repos/catalog';
import { teamBalance } from '../db/repos/lots';
import {
  peopleNames,
  tokenEvents,
  type UsageGrouping,
  usageDetail,
  usageFromLedger,
  usageFromRollups,
  validLotTotals,
} from '../db/repos/usage';
import { foldUsage } from '../db/repos/usage-fold';
import { invalid } from '../domain/errors';
import { addUsage, emptyRange, lastDayOf, reportRange, type UsageSum, usageCsvHeader, usageCsvLines, usageRowsOf } from '../domain/report';
import { addMs, DAY_MS, utcDays } from '../domain/time';
import {
  daysUsedPerWeekSteps,
  type ProductUsers,
  productUsersSteps,
  type UsageCell,
  type UserRank,
  type UserWeeksPage,
} from '../domain/usage-views';
import { nextTurn, runInTurns } from '../lib/turns';
import { settleExpiries } from './balance';
import type { ServiceContext } from './context';
import { requireTeam } from './teams';

type Query = { from?: string | undefined; to?: string | undefined; by: 'user' | 'product' | 'day' };

/** R15: a report's range, checked: not empty, at most 3 years (the team report and a user's own). */
export function usageRange(ctx: ServiceContext, q: { from?: string | undefined; to?: string | undefined }) {
  const r = reportRange(q.from, q.to, ctx.clock.now());
  const empty = emptyRange(r);
  if (empty) throw invalid(empty);
  if (Date.parse(r.to) - Date.parse(r.from) > 3 * 366 * DAY_MS) throw invalid('A usage report covers at most 3 years.');
  return r;
}

/** R15: tokens consumed (charges net of refunds) and sessions, by user, product or day. */
export async function usage(ctx: ServiceContext, teamId: string, q: Query): Promise<UsageResponse> {
  await requireTeam(ctx, teamId);
  const r = usageRange(ctx, q);
  // A key whose only session was refunded in full (R7a) consumed nothing: no row.
  const rows = (await usageRows(ctx, teamId, r.from, r.to, q.by)).filter((x) => x.tokens !== 0 || x.sessions !== 0);
  const total = rows.reduce((t, x) => ({ tokens: t.tokens + x.tokens, sessions: t.sessions + x.sessions }), { tokens: 0, sessions: 0 });
  return { team: teamId, from: r.from, to: r.to, by: q.by, rows, total };
}

/** How long a rollup statement may hold the event loop (SQLite's driver is synchronous) before its runs of days shrink. */
const ROLLUP_STATEMENT_MS = 10;

const MIDNIGHT = 'T00:00:00.000Z';

/**
 * R15: a report's rows over [from, to), read in parts with a turn of the event loop between them:
 * each part day at an end from the ledger, the whole days between from the daily rollups (the same
 * figures from far fewer rows), a run of days a statement. A run starts at a day and doubles while
 * its statements stay well under `ROLLUP_STATEMENT_MS`, halves above it: a large team's half year
 * in one statement held every other request (SQLite), a small team's takes a few statements.
 */
async function* usageParts(
  ctx: ServiceContext,
  teamId: string,
  fromIso: string,
  toIso: string,
  by: UsageGrouping,
): AsyncGenerator<UsageSum[]> {
  const days = utcDays(fromIso, toIso);
  const whole = (i: number) => days[i]?.from.endsWith(MIDNIGHT) === true && days[i]?.to.endsWith(MIDNIGHT) === true;
  let run = 1;
  let folded = false;
  for (let i = 0; i < days.length; ) {
    if (i > 0) await nextTurn();
    const first = days[i] as { from: string; to: string };
    if (!whole(i)) {
      yield await usageFromLedger(ctx.db, teamId, first.from, first.to, by);
      i++;
      continue;
    }
    // The rollups folded up to the ledger once, before the first run of days is read from them.
    if (!folded) {
      await foldUsage(ctx.db, teamId);
      folded = true;
    }
    let end = i + 1;
    while (end < days.length && end - i < run && whole(end)) end++;
    const started = performance.now();
    const part = await usageFromRollups(ctx.db, teamId, first.from.slice(0, 10), (days[end - 1] as { to: string }).to.slice(0, 10), by);
    const took = performance.now() - started;
    if (took < ROLLUP_STATEMENT_MS / 2) run *= 2;
    else if (took > ROLLUP_STATEMENT_MS) run = Math.max(1, Math.floor(run / 2));
    i = end;
    yield part;
  }
}

/** R15: tokens consumed and sessions over [from, to) by user, product or day, in key order, read in parts (`usageParts`). */
async function usageRows(ctx: ServiceContext, teamId: string, fromIso: string, toIso: string, by: UsageGrouping): Promise<UsageSum[]> {
  const sums = new Map<string, UsageSum>();
  for await (const part of usageParts(ctx, teamId, fromIso, toIso, by)) addUsage(sums, part);
  return usageRowsOf(sums);
}

/**
 * R15: the export's grain, (day, user, product), over [from, to): a UTC day a statement, with a
 * turn of the event loop between days. SQLite's driver is synchronous, and a large team's year read
 * at once held every other request for seconds. A cell's day is the day it is grouped by, so the
 * days split the cells exactly; each day is read as it stands when its turn comes.
 */
async function* usageCellsByDay(ctx: ServiceContext, teamId: string, fromIso: string, toIso: string): AsyncGenerator<UsageCell[]> {
  for (const [i, day] of utcDays(fromIso, toIso).entries()) {
    if (i > 0) await nextTurn();
    yield await usageDetail(ctx.db, teamId, day.from, day.to);
  }
}

/** R15: the same figures at Flex's export grain (day, user, product) with Flex's columns, written a day at a time. */
export async function usageCsvExport(ctx: ServiceContext, teamId: string, q: Query): Promise<{ filename: string; csv: string }> {
  const team = await requireTeam(ctx, teamId);
  const r = usageRange(ctx, q);
  const productName = new Map((await listProducts(ctx.db)).map((p) => [p.key, p.name]));
  const names = new Map<string, string>();
  const asked = new Set<string>();
  const parts = [usageCsvHeader()];
  for await (const day of usageCellsByDay(ctx, teamId, r.from, r.to)) {
    const used = day.filter((d) => d.tokens !== 0);
    const unasked = [...new Set(used.map((d) => d.autodeskId))].filter((id) => !asked.has(id));
    for (const id of unasked) asked.add(id);
    if (unasked.length > 0) for (const [id, name] of await peopleNames(ctx.db, teamId, unasked)) names.set(id, name);
    parts.push(
      usageCsvLines(
        used.map((d) => ({
          day: d.day,
          email: d.autodeskId,
          name: names.get(d.autodeskId) ?? '',
          product: productName.get(d.product) ?? d.product,
          team: team.name,
          tokens: d.tokens,
        })),
      ),
    );
  }
  // Named by the first and the last day it covers.
  return { filename: `flex-usage-${teamId}-${r.from.slice(0, 10)}-${lastDayOf(r.to)}.csv`, csv: parts.join('') };
}

/** R15: what an admin's dashboard shows: available, used, bought, recent token events, use per day. */
export async function usageSummary(ctx: ServiceContext, teamId: string): Promise<UsageSummary> {
  await requireTeam(ctx, teamId);
  await settleExpiries(ctx, teamId);
  const now = ctx.clock.now();
  const nowIso = now.toISOString();
  const since = addMs(now, -90 * DAY_MS).toISOString();
  const [available, totals, events, perDay] = await Promise.all([
    teamBalance(ctx.db, teamId, nowIso),
    validLotTotals(ctx.db, teamId, nowIso),
    tokenEvents(ctx.db, teamId, since, 1000),
    usageRows(ctx, teamId, since, nowIso, 'day'),
  ]);
  return {
    team: teamId,
    at: nowIso,
    available,
    used: totals.used,
    bought: totals.bought,
    events,
    perDay: perDay.map((d) => ({ day: d.key, tokens: d.tokens, sessions: d.sessions })),
  };
}

/** Every (day, user, product) cell of a range of whole days, read a day at a time. */
async function rangeCells(ctx: ServiceContext, teamId: string, q: { from: string; to: string }) {
  await requireTeam(ctx, teamId);
  const r = usageRange(ctx, q);
  const cells: UsageCell[] = [];
  for await (const day of usageCellsByDay(ctx, teamId, r.from, r.to)) for (const c of day) cells.push(c);
  return { ...r, cells };
}

/** R15: each product with the users who used it (Flex's "by product" view), over a range of whole days. */
export async function productUsersOf(
  ctx: ServiceContext,
  teamId: string,
  q: { from: string; to: string },
): Promise<{ from: string; to: string; products: ProductUsers[] }> {
  const { from, to, cells } = await rangeCells(ctx, teamId, q);
  return { from, to, products: await runInTurns(productUsersSteps(cells)) };
}

/** The users a page of the per-user view holds, as the Members page holds members. */
export const USER_WEEKS_PAGE = 100;

export type UserWeeksOf = UserWeeksPage & { from: string; to: string };

/** R15: a page of Flex's per-user view (each user's days used, week by week), over a range of whole days. */
export async function userWeeksOf(
  ctx: ServiceContext,
  teamId: string,
  q: { from: string; to: string },
  after?: UserRank,
): Promise<UserWeeksOf> {
  const { from, to, cells } = await rangeCells(ctx, teamId, q);
  const page = await runInTurns(daysUsedPerWeekSteps(cells, from.slice(0, 10), lastDayOf(to), { after, limit: USER_WEEKS_PAGE }));
  return { from, to, ...page };
}
