import type { BalanceAlerts, BalanceResponse, Product, UsageRow } from '@flexgate/shared';
import { adminNamesById } from '../db/repos/console';
import { balancesOf } from '../db/repos/lots';
import { findTeams } from '../db/repos/teams';
import { peopleOfTeam } from '../db/repos/usage';
import { addMs, DAY_MS } from '../domain/time';
import { balance, settleExpiries } from '../services/balance';
import { catalog } from '../services/catalog';
import type { ServiceContext } from '../services/context';
import { usage } from '../services/usage';

/** What the console reads besides the admin services: team names, people's names, the catalog. */

export async function teamNames(ctx: ServiceContext, ids: readonly string[]): Promise<{ id: string; name: string }[]> {
  const found = await findTeams(ctx.db, ids);
  return found.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export const productCatalog = (ctx: ServiceContext): Promise<Product[]> => catalog(ctx);

/**
 * People's display names (the team's member name, else the account's), and which of them are
 * members of the team now: only those have a member page to link to.
 */
export async function peopleOf(
  ctx: ServiceContext,
  teamId: string,
  ids: readonly string[],
): Promise<{ names: Map<string, string>; members: Set<string> }> {
  return ids.length === 0 ? { names: new Map(), members: new Set() } : peopleOfTeam(ctx.db, teamId, ids);
}

/** The names of the admins among audit actors (`admin:<id>`, `console:<id>`), by id. */
export function adminNames(ctx: ServiceContext, actors: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(actors.flatMap((a) => /^(?:admin|console):(.+)$/.exec(a)?.[1] ?? []))];
  return adminNamesById(ctx.db, ids);
}

/**
 * R3: where tokens for `teamId` can come from: the admin's other team with the most tokens
 * available (the first by name on a tie), or null when no other team of theirs has any to move.
 */
export async function moveSource(
  ctx: ServiceContext,
  teamId: string,
  teams: readonly { id: string; name: string }[],
): Promise<{ id: string; name: string; available: number } | null> {
  const others = teams.filter((t) => t.id !== teamId);
  if (others.length === 0) return null;
  const available = await balancesOf(
    ctx.db,
    others.map((t) => t.id),
    ctx.clock.now().toISOString(),
  );
  let best: { id: string; name: string; available: number } | null = null;
  for (const t of others) {
    const n = available.get(t.id) ?? 0;
    if (n > 0 && (best === null || n > best.available)) best = { id: t.id, name: t.name, available: n };
  }
  return best;
}

export const CHART_DAYS = 30;

export interface Overview {
  now: string;
  balance: BalanceResponse & { alerts: BalanceAlerts };
  /** One entry per day of the last 30 (today included), zero on days without use. */
  days: { day: string; tokens: number }[];
  /** `member`: still a member of the team, so their page can be linked to. */
  topUsers: (UsageRow & { name: string; member: boolean })[];
  topProducts: (UsageRow & { name: string })[];
  total: { tokens: number; sessions: number };
}

/** The team overview: balance and lots (R15, R19), and the last 30 days of use. */
export async function teamOverview(ctx: ServiceContext, teamId: string): Promise<Overview> {
  await settleExpiries(ctx, teamId);
  const now = ctx.clock.now();
  const today = now.toISOString().slice(0, 10);
  const first = addMs(now, -(CHART_DAYS - 1) * DAY_MS)
    .toISOString()
    .slice(0, 10);
  const range = { from: first, to: today };
  const [bal, perDay, byUser, byProduct, products] = await Promise.all([
    balance(ctx, teamId),
    usage(ctx, teamId, { ...range, by: 'day' }),
    usage(ctx, teamId, { ...range, by: 'user' }),
    usage(ctx, teamId, { ...range, by: 'product' }),
    catalog(ctx),
  ]);
  const tokensOn = new Map(perDay.rows.map((r) => [r.key, r.tokens]));
  const days = Array.from({ length: CHART_DAYS }, (_, i) => {
    const day = addMs(new Date(`${first}T00:00:00Z`), i * DAY_MS)
      .toISOString()
      .slice(0, 10);
    return { day, tokens: tokensOn.get(day) ?? 0 };
  });
  const top = (rows: UsageRow[]) => [...rows].sort((a, b) => b.tokens - a.tokens || a.key.localeCompare(b.key)).slice(0, 5);
  const users = top(byUser.rows);
  const people = await peopleOf(
    ctx,
    teamId,
    users.map((u) => u.key),
  );
  const productName = new Map(products.map((p) => [p.key, p.name]));
  return {
    now: now.toISOString(),
    balance: bal,
    days,
    topUsers: users.map((u) => ({ ...u, name: people.names.get(u.key) ?? '', member: people.members.has(u.key) })),
    topProducts: top(byProduct.rows).map((p) => ({ ...p, name: productName.get(p.key) ?? p.key })),
    total: perDay.total,
  };
}
